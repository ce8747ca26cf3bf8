"""djsqlgen as users install it: the built wheel, in a fresh virtual environment, run from outside the source
tree. It ships every package and template, reports its version, and carries an example end to end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHIPPED_SUFFIXES = (".sql.j2", ".md.j2")  # pyproject's package-data for djsqlgen.sql_templates
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md")

LIST_TEMPLATES = (
    "import importlib.resources as r; "
    "print('\\n'.join(sorted(p.name for p in r.files('djsqlgen.sql_templates').iterdir())))"
)


def run(args: list, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    base = env if env is not None else os.environ
    env = {k: v for k, v in base.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False,
                            timeout=900)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding the wheel built from a copy of the sources (no build/ or *.egg-info left in the
    checkout). The wheel goes in with --no-deps; its dependencies are read from the test venv's site-packages,
    added after the venv's own by a .pth line (a plain path: the test venv's editable djsqlgen is not activated
    there, so `djsqlgen` can only come from the wheel)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in BUILD_INPUTS:
        shutil.copy2(REPO / name, source / name)
    for name in ("djsqlgen", "sql_templates"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    dist = tmp / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source], cwd=tmp)
    (wheel,) = dist.glob("djsqlgen-*.whl")

    venv = tmp / "v"
    run([sys.executable, "-m", "venv", venv], cwd=tmp)
    run([venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "-q", wheel], cwd=tmp)
    purelib = run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  cwd=tmp).stdout.strip()
    (Path(purelib) / "zz_test_venv_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.mark.slow
def test_wheel_ships_every_package_and_template(installed, tmp_path):
    python = installed / "bin" / "python"
    # cwd is tmp_path, not the checkout: every import must come from the installed wheel.
    listed = set(run([python, "-c", LIST_TEMPLATES], cwd=tmp_path).stdout.split())
    expected = {p.name for p in (REPO / "sql_templates").iterdir() if p.name.endswith(SHIPPED_SUFFIXES)}
    assert "__init__.py" in listed
    assert expected and expected <= listed, f"missing from the wheel: {sorted(expected - listed)}"

    packages = sorted(".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "djsqlgen").rglob("__init__.py"))
    origin = run([python, "-c", f"import importlib; [importlib.import_module(p) for p in {packages!r}]; "
                  "import djsqlgen; print(djsqlgen.__file__)"], cwd=tmp_path).stdout
    assert str(installed) in origin

    version = run([installed / "bin" / "djsqlgen", "--version"], cwd=tmp_path).stdout
    assert version.strip() == f"djsqlgen, version {_project_version()}"


def _project_version() -> str:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


@pytest.mark.slow
def test_wheel_runs_an_example_end_to_end(installed, dj_env, prefix, tmp_path):
    """examples/probe_lookup/run.sh with the wheel's djsqlgen first on PATH, from a copy of the example outside the
    checkout: plan check, generate, 00 to 70 with backfill and verify; then on a fresh v1 `plan init` with the
    preset, `plan check` and `generate` of that plan."""
    examples = tmp_path / "examples"
    examples.mkdir()
    shutil.copy2(REPO / "examples" / "common.sh", examples / "common.sh")
    shutil.copytree(REPO / "examples" / "probe_lookup", examples / "probe_lookup",
                    ignore=shutil.ignore_patterns("generated"))
    env = dict(dj_env, OUT=str(tmp_path / "generated"), DJSQLGEN_DEMO_PREFIX=f"{prefix}_",
               PATH=f"{installed / 'bin'}{os.pathsep}{dj_env.get('PATH', '')}")
    done = run(["bash", examples / "probe_lookup" / "run.sh"], cwd=tmp_path, env=env)
    assert "every table equals transform(v1)" in done.stderr

    run(["bash", examples / "probe_lookup" / "run.sh", "cleanup"], cwd=tmp_path, env=env)

    djsqlgen = installed / "bin" / "djsqlgen"
    run([djsqlgen, "apply", tmp_path / "generated" / "inputs" / "v1.sql"], cwd=tmp_path, env=env)  # a fresh v1
    run([djsqlgen, "plan", "init", "--preset", "dj014-to-dj2", "--schema", f"{prefix}_lookup_ephys={prefix}_dj2",
         "-o", tmp_path / "dj2.yaml"], cwd=tmp_path, env=env)
    assert "dj014-to-dj2" in (tmp_path / "dj2.yaml").read_text()
    run([djsqlgen, "plan", "check", tmp_path / "dj2.yaml"], cwd=tmp_path, env=env)
    run([djsqlgen, "generate", tmp_path / "dj2.yaml", "-o", tmp_path / "dj2"], cwd=tmp_path, env=env)
    assert (tmp_path / "dj2" / "10_expand.sql").is_file()
    run(["bash", examples / "probe_lookup" / "run.sh", "cleanup"], cwd=tmp_path, env=env)
