"""The built wheel ships the SQL templates inside the package, where importlib.resources finds them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHIPPED_SUFFIXES = (".sql.j2", ".md.j2")  # pyproject's package-data for djsqlgen.sql_templates

LIST_TEMPLATES = (
    "import importlib.resources as r; "
    "print('\\n'.join(sorted(p.name for p in r.files('djsqlgen.sql_templates').iterdir())))"
)


def run(args: list, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
def test_wheel_ships_templates(tmp_path):
    # Build from a copy so the build leaves no build/ or *.egg-info in the checkout.
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for name in ("djsqlgen", "sql_templates"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)

    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source], cwd=tmp_path)
    (wheel,) = dist.glob("djsqlgen-*.whl")

    venv = tmp_path / "v"
    run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    run([venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "-q", wheel], cwd=tmp_path)
    # cwd is tmp_path, not the checkout: the import must come from the installed wheel.
    listed = set(run([venv / "bin" / "python", "-c", LIST_TEMPLATES], cwd=tmp_path).split())

    expected = {p.name for p in (REPO / "sql_templates").iterdir() if p.name.endswith(SHIPPED_SUFFIXES)}
    assert "__init__.py" in listed
    assert expected, "sql_templates/ holds no *.sql.j2 or *.md.j2 file"
    assert any(name.endswith(".sql.j2") for name in listed)
    assert expected <= listed, f"missing from the wheel: {sorted(expected - listed)}"
    origin = run([venv / "bin" / "python", "-c", "import djsqlgen; print(djsqlgen.__file__)"], cwd=tmp_path)
    assert str(venv) in origin
