"""Every shipped example runs end to end as its README says, ends with a clean verify (run.sh exits non-zero
otherwise), and is a guest on the server: its databases carry a prefix of its own, it refuses to start when one
of its names is someone else's, and `run.sh cleanup` drops what it made and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted(p.parent for p in (Path(__file__).resolve().parents[2] / "examples").glob("*/run.sh"))


def _run_example(example: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(example / "run.sh"), *args], env=env, capture_output=True, text=True,
                          check=False, timeout=900)


def _example_env(dj_env: dict, prefix: str, tmp_path: Path) -> dict:
    return dict(dj_env, OUT=str(tmp_path / "generated"), DJSQLGEN_DEMO_PREFIX=f"{prefix}_",
                PATH=f"{Path(sys.executable).parent}{os.pathsep}{dj_env.get('PATH', '')}")


def _schemas(db, prefix: str) -> list[str]:
    like = prefix.replace("_", "\\_") + "%"
    return [r["SCHEMA_NAME"] for r in db.query(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s ORDER BY 1", [like])]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_to_a_clean_verify(example: Path, dj_env, prefix, db, tmp_path):
    env = _example_env(dj_env, prefix, tmp_path)
    result = _run_example(example, env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "every table equals transform(v1)" in result.stderr
    assert f"bash examples/{example.name}/run.sh cleanup" in result.stdout
    made = _schemas(db, prefix)
    assert made and all(name.startswith(f"{prefix}_") for name in made)

    cleaned = _run_example(example, env, "cleanup")
    assert cleaned.returncode == 0, cleaned.stdout[-3000:] + cleaned.stderr[-3000:]
    assert _schemas(db, prefix) == [], "run.sh cleanup left some of what the example made"


@pytest.mark.parametrize("taken", ["v1", "v2"])
def test_example_refuses_a_name_someone_else_holds(taken: str, dj_env, prefix, db, tmp_path):
    example = next(e for e in EXAMPLES if e.name == "probe_lookup")
    name = f"{prefix}_lookup_ephys" + ("_v2" if taken == "v2" else "")
    db.execute(f"CREATE DATABASE `{name}`")
    db.execute(f"CREATE TABLE `{name}`.`their_table` (id int PRIMARY KEY)")
    db.execute(f"INSERT INTO `{name}`.`their_table` VALUES (1), (2)")
    env = _example_env(dj_env, prefix, tmp_path)

    result = _run_example(example, env)
    assert result.returncode != 0
    assert f"refused: {name} exists already and examples/probe_lookup did not make it" in result.stderr
    cleaned = _run_example(example, env, "cleanup")
    assert cleaned.returncode == 0, cleaned.stderr[-3000:]

    assert _schemas(db, prefix) == [name], "the example made or dropped a database"
    assert [r["id"] for r in db.query(f"SELECT id FROM `{name}`.`their_table` ORDER BY id")] == [1, 2]
