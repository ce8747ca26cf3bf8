"""Every shipped example runs end to end as its README says, and ends with a clean verify (run.sh exits
non-zero otherwise)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted(p.parent for p in (Path(__file__).resolve().parents[2] / "examples").glob("*/run.sh"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_to_a_clean_verify(example: Path, dj_env, tmp_path):
    env = dict(dj_env, OUT=str(tmp_path / "generated"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{dj_env.get('PATH', '')}")
    result = subprocess.run(["bash", str(example / "run.sh")], env=env, capture_output=True, text=True, check=False,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "every table equals transform(v1)" in result.stderr
