"""A cached virtual environment with DataJoint 0.14.6, for tests that build a "v1" pipeline.

DataJoint 0.14 and 2.x cannot live in one environment, so the tests run the 0.14 side as a
subprocess (``dj014_pipeline.py``) under the Python of a separate venv. Creating that venv takes
a pip install, so it is made once and reused:

* location: ``$DJSQLGEN_DJ014_VENV`` if set, else ``~/.cache/djsqlgen/venv-dj014-0.14.6``;
* it is built in a temporary sibling directory and renamed into place only after
  ``import datajoint`` reports the right version, and a marker file is written last, so an
  interrupted build never leaves a half-made venv that looks usable;
* an exclusive ``fcntl`` lock next to the venv keeps concurrent pytest processes (xdist workers,
  two terminals) from building it twice.

Venvs are not relocatable (scripts carry absolute shebangs), but ``bin/python -m pip`` and
``bin/python`` itself work after a rename of the directory, which is all this module relies on.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DJ014_VERSION = "0.14.6"
ENV_VAR = "DJSQLGEN_DJ014_VENV"
MARKER_NAME = ".djsqlgen-dj014-ok"
PIP_TIMEOUT_S = 900
OUTPUT_TAIL_CHARS = 4000

# Run by the new venv's Python: proves the install is importable and is the right version.
_CHECK_SCRIPT = f"import datajoint; assert datajoint.__version__ == {DJ014_VERSION!r}, datajoint.__version__"


def venv_dir() -> Path:
    """Where the cached venv lives (it may not exist yet)."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).expanduser().resolve()
    return Path.home() / ".cache" / "djsqlgen" / f"venv-dj014-{DJ014_VERSION}"


def _python_of(venv: Path) -> Path:
    if os.name == "nt":  # not a supported platform for the tests, but keep the path right
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def _is_ready(venv: Path) -> bool:
    """A venv counts as ready only if its marker says so and its Python still starts."""
    marker = venv / MARKER_NAME
    python = _python_of(venv)
    if not (marker.is_file() and marker.read_text().strip() == DJ014_VERSION and python.exists()):
        return False
    # A rebuilt base interpreter (pyenv upgrade) can leave a dangling venv: check it runs.
    probe = subprocess.run([str(python), "-c", _CHECK_SCRIPT], capture_output=True, text=True, check=False)
    return probe.returncode == 0


def _tail(text: str) -> str:
    return text if len(text) <= OUTPUT_TAIL_CHARS else "…" + text[-OUTPUT_TAIL_CHARS:]


def _run(cmd: list[str], what: str) -> None:
    """Run one build step; on failure raise RuntimeError with the tail of its output."""
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or "") + (exc.stderr or "")
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        raise RuntimeError(f"{what} timed out after {PIP_TIMEOUT_S}s:\n{_tail(out)}") from exc
    if result.returncode != 0:
        raise RuntimeError(
            f"{what} failed (exit {result.returncode}): {' '.join(cmd)}\n{_tail(result.stdout + result.stderr)}"
        )


def _base_python() -> str:
    """The interpreter to build the venv from: the base one, even when running inside a venv."""
    return getattr(sys, "_base_executable", None) or sys.executable


def _build(target: Path) -> None:
    """Create the venv in a temporary sibling of ``target`` and rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a venv is normally world-readable
    try:
        _run([_base_python(), "-m", "venv", str(staging)], "creating the DataJoint 0.14 venv")
        python = str(_python_of(staging))
        _run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                f"datajoint=={DJ014_VERSION}",
            ],
            f"pip install datajoint=={DJ014_VERSION}",
        )
        _run([python, "-c", _CHECK_SCRIPT], f"checking the datajoint {DJ014_VERSION} install")
        (staging / MARKER_NAME).write_text(DJ014_VERSION + "\n")
        if target.exists():  # a broken leftover (no marker, or dead interpreter): replace it
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def ensure_dj014_python() -> Path:
    """Return the Python executable of a venv with ``datajoint==0.14.6``, creating it if needed.

    Safe to call from several processes at once. Raises RuntimeError (with pip's output tail)
    if the venv cannot be built.
    """
    target = venv_dir()
    if _is_ready(target):
        return _python_of(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f"{target.name}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while another process builds
        try:
            if not _is_ready(target):  # someone else may have finished while we waited
                _build(target)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return _python_of(target)


if __name__ == "__main__":  # handy for warming the cache by hand: python tests/support/dj014_venv.py
    print(ensure_dj014_python())
