"""Golden files: `djsqlgen generate` of each tests/golden/<case>/plan.yaml equals <case>/expected/, byte for byte.

The heading is tests/plans/heading.json, so no server is needed. After an intended change to
the output, rewrite the expected files and review their diff in git:

    DJSQLGEN_UPDATE_GOLDEN=1 python -m pytest tests/unit/test_golden.py
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
HEADING = TESTS / "plans" / "heading.json"
CASES = sorted(p.parent for p in (TESTS / "golden").glob("*/plan.yaml"))
UPDATE = os.environ.get("DJSQLGEN_UPDATE_GOLDEN") == "1"


def generate(case: Path, out: Path) -> dict[str, bytes]:
    """Run the command as a user would (from the case directory, so RUNBOOK.md names `plan.yaml`)."""
    subprocess.run(
        [sys.executable, "-m", "djsqlgen", "generate", "plan.yaml", "-o", str(out), "--heading", str(HEADING)],
        cwd=case, check=True, capture_output=True,
    )
    return read_tree(out)


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def unified_diff(name: str, expected: bytes, actual: bytes) -> str:
    return "".join(difflib.unified_diff(
        expected.decode().splitlines(keepends=True), actual.decode().splitlines(keepends=True),
        fromfile=f"expected/{name}", tofile=f"generated/{name}",
    ))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_generate_matches_golden_files(case: Path, tmp_path: Path):
    actual = generate(case, tmp_path / "out")
    expected_dir = case / "expected"
    if UPDATE:
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(tmp_path / "out", expected_dir)
        return
    expected = read_tree(expected_dir)
    assert sorted(actual) == sorted(expected), "the set of generated files changed"
    diffs = [unified_diff(name, expected[name], actual[name]) for name in expected if expected[name] != actual[name]]
    if diffs:
        pytest.fail("generated files differ from the golden files (DJSQLGEN_UPDATE_GOLDEN=1 rewrites them):\n"
                    + "\n".join(diffs), pytrace=False)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_generate_twice_gives_the_same_bytes(case: Path, tmp_path: Path):
    assert generate(case, tmp_path / "first") == generate(case, tmp_path / "second")


def test_there_are_golden_cases():
    assert {c.name for c in CASES} >= {"identity", "transform"}


def _mysql_heading(tmp_path: Path, version: str) -> Path:
    import json

    heading = json.loads(HEADING.read_text(encoding="utf-8"))
    heading["server"].update(flavour="mysql", version=version)
    path = tmp_path / "heading.json"
    path.write_text(json.dumps(heading), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_mysql_files_create_every_trigger_safely_twice(case: Path, tmp_path: Path):
    """MySQL has no CREATE OR REPLACE TRIGGER: every trigger a file creates says IF NOT EXISTS, or the file
    could not be run again after stopping half-way (error 1359)."""
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "djsqlgen", "generate", "plan.yaml", "-o", str(out), "--heading",
                    str(_mysql_heading(tmp_path, "8.0.36"))], cwd=case, check=True, capture_output=True)
    creates = [line for text in read_tree(out).values() for line in text.decode().splitlines()
               if line.startswith("CREATE") and " TRIGGER " in line]
    assert creates, "no trigger created at all"
    assert [c for c in creates if "TRIGGER IF NOT EXISTS" not in c] == []


def test_mysql_before_8_0_29_is_refused_by_name(tmp_path: Path):
    case = CASES[0]
    run = subprocess.run([sys.executable, "-m", "djsqlgen", "generate", "plan.yaml", "-o", str(tmp_path / "out"),
                          "--heading", str(_mysql_heading(tmp_path, "8.0.25"))], cwd=case, capture_output=True, check=False,
                         text=True)
    assert run.returncode != 0 and "8.0.29" in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_mysql_copies_never_wait_for_a_row_lock(tmp_path: Path):
    """MySQL's least innodb_lock_wait_timeout is 1 s, and a chunk that waits can make a writer lose a deadlock:
    its copies read FOR SHARE NOWAIT, and 40's loop retries the error that gives (3572) like a lock wait."""
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "djsqlgen", "generate", "plan.yaml", "-o", str(out), "--heading",
                    str(_mysql_heading(tmp_path, "8.0.36"))], cwd=CASES[0], check=True, capture_output=True)
    routines = (out / "20_routines.sql").read_text(encoding="utf-8")
    assert "FOR SHARE NOWAIT" in routines and "LOCK IN SHARE MODE" not in routines
    assert "HANDLER FOR 1205, 1213, 3572" in routines
    # MySQL deprecates assignments inside expressions (8.0.13+): its copies take the chunk's end from the walk
    assert ":=" not in routines and "LIMIT {chunk rows}" not in routines and "{chunk range}" in routines


def test_the_constraints_and_cutover_ddl_never_wait_for_a_writer(tmp_path: Path):
    """Under `djsqlgen apply` (which retries it), 60's and 70's DDL gives up at once on a busy table: one that waits
    makes the writer the victim of any metadata-lock deadlock. MySQL's least lock_wait_timeout is 1 s; MariaDB takes
    0; another client keeps the usual wait (it cannot retry)."""
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "djsqlgen", "generate", "plan.yaml", "-o", str(out), "--heading",
                    str(_mysql_heading(tmp_path, "8.0.36"))], cwd=CASES[0], check=True, capture_output=True)
    for name in ("60_constraints.sql", "70_cutover.sql"):
        assert "lock_wait_timeout = IF(@djsqlgen_ddl_retries = 'yes', 1, 10);" in (out / name).read_text(encoding="utf-8")
        assert "lock_wait_timeout = IF(@djsqlgen_ddl_retries = 'yes', 0, 10);" in \
            (CASES[0] / "expected" / name).read_text(encoding="utf-8")
