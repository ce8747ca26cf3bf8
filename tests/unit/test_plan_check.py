"""`djsqlgen plan check` against tests/plans/heading.json: each invalid plan fails with its stated error.

Every file in tests/plans/invalid/ opens with ``# expect: <part of the message>`` and
``# key: <the plan key (or place) the message must name>``. No server: ``--heading`` works offline.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PLANS = Path(__file__).resolve().parents[1] / "plans"
HEADING = PLANS / "heading.json"
INVALID = sorted((PLANS / "invalid").glob("*.yaml"))
VALID = sorted((PLANS / "valid").glob("*.yaml"))


def plan_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "djsqlgen", "plan", "check", str(path), "--heading", str(HEADING)],
        check=False, capture_output=True, text=True,
    )


def expectations(path: Path) -> dict[str, str]:
    """The ``# expect:`` and ``# key:`` lines at the top of a plan file."""
    found = {}
    for line in path.read_text().splitlines()[:2]:
        tag, _, value = line.removeprefix("# ").partition(": ")
        found[tag] = value
    return found


def test_every_invalid_plan_states_its_expectation():
    assert INVALID and all(set(expectations(p)) == {"expect", "key"} for p in INVALID)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_plan_is_refused_with_its_error(path: Path):
    result = plan_check(path)
    output = result.stdout + result.stderr
    wanted = expectations(path)
    assert (result.returncode, "Traceback" in output) == (2, False), output
    assert wanted["expect"] in output, output
    assert wanted["key"] in output, output


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_plan_passes(path: Path):
    result = plan_check(path)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


THREE_PROBLEMS = """\
version: 1
name: lab
schemas:
- source: lab_v1
  target: lab_v2
  tables:
    '#kind': keep
    subject:
      columns:
        subject_id: keep
        kind: keep
        nickname: {type: varchar(8)}
        weight: keep
        notes: keep
        mass: keep
    session:
      columns: {subject_id: keep, session_idx: keep, session_date: keep, rig: keep}
      add:
        room: {type: varchar(16)}
    session__trial: keep
"""


def test_all_problems_are_reported_together(tmp_path: Path):
    path = tmp_path / "plan.yaml"
    path.write_text(THREE_PROBLEMS)
    result = plan_check(path)
    keys = [
        "schemas.lab_v1.tables.subject.columns.mass:",
        "schemas.lab_v1.tables.subject.columns.nickname.type:",
        "schemas.lab_v1.tables.session.add.room:",
    ]
    assert result.returncode == 2
    assert "3 problem(s)" in result.stderr, result.stderr
    assert [k for k in keys if k not in result.stderr] == [], result.stderr


@pytest.mark.parametrize("name", ["drop_key_column", "expr_on_key_column"])
def test_key_change_that_may_merge_rows_is_checked_on_the_data(name: str):
    """Dropping or computing a key column is a key change: valid, with a data check named in the output."""
    result = plan_check(PLANS / "valid" / f"{name}.yaml")
    assert result.returncode == 0, result.stderr
    assert "1 data check(s)" in result.stdout, result.stdout


def test_problems_with_one_cause_are_grouped_into_one_line():
    from djsqlgen.errors import PlanError

    problems = [f"schemas.lab.tables.t{i}: `lab`.`t{i}` already has trigger 'old_{i}' (AFTER INSERT); drop it"
                for i in range(459)] + ["schemas.lab.tables.x.columns.y: something else"]
    text = str(PlanError(problems))
    assert "460 problem(s)" in text
    assert len(text.splitlines()) == 3, text
    assert "the same for 458 more: schemas.lab.tables.t1, schemas.lab.tables.t2, schemas.lab.tables.t3" in text


def test_two_way_plan_says_table_by_table_which_way_each_syncs_and_why():
    """Renames, a wider retype, an added column and a dropped column with a v1 default go both ways; a narrowing
    accepted as lossy, a dropped column without a default and the plan's own one-way do not, each with its reason."""
    result = plan_check(PLANS / "valid" / "two_way.yaml")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("sync: ")]
    assert lines == [
        "sync: lab_v2.#kind <- lab_v1.#kind: one-way (schemas.lab_v1.tables.#kind.sync is one-way)",
        "sync: lab_v2.animal <- lab_v1.subject: one-way (schemas.lab_v1.tables.subject.columns.nickname: nickname is "
        "narrowed; v2 values cannot restore the v1 values cut off)",
        "sync: lab_v2.session <-> lab_v1.session: two-way",
        "sync: lab_v2.session__trial <- lab_v1.session__trial: one-way (schemas.lab_v1.tables.session__trial.columns."
        "start_time: v1 column 'start_time' is not in v2 and has no default: a row written to v2 cannot give v1 its "
        "value (give it an `inverse:` in the plan or a default in v1, or keep the column))",
    ]


def test_a_one_way_plan_says_nothing_about_sync():
    result = plan_check(PLANS / "valid" / "renames_retype.yaml")
    assert result.returncode == 0 and "sync:" not in result.stderr, result.stderr
