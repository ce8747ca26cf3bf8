"""The plan's ``inverse:`` (issue 24): parsed like every plan expression, refused with its plan key where it cannot
give v1 a value, and a dropped v1 column it computes makes the table two-way (said by plan check and generate)."""

from __future__ import annotations

from pathlib import Path

import pytest

from djsqlgen.catalog.heading import Catalog
from djsqlgen.errors import PlanError
from djsqlgen.model.reverse import reverse_model
from djsqlgen.output.generate import Migration
from djsqlgen.plan import load_plan, parse_plan

PLANS = Path(__file__).resolve().parents[1] / "plans"
TRIAL = ("    session__trial:\n      columns: {subject_id: keep, session_idx: keep, trial_idx: keep, "
         "start_time: drop, outcome: keep}\n")


def _migration(tmp_path, inverse: str, plan: str = "two_way") -> Migration:
    text = (PLANS / "valid" / f"{plan}.yaml").read_text()
    assert TRIAL in text
    path = tmp_path / "plan.yaml"
    path.write_text(text.replace(TRIAL, TRIAL + f"      inverse: {inverse}\n"))
    return Migration(load_plan(path), Catalog.from_json((PLANS / "heading.json").read_text()))


def _problems(tmp_path, inverse: str, plan: str = "two_way") -> list[str]:
    with pytest.raises(PlanError) as failed:
        _migration(tmp_path, inverse, plan)
    return failed.value.problems


def test_an_inverse_makes_a_dropped_column_without_default_two_way(tmp_path):
    migration = _migration(tmp_path, "{start_time: 'trial_idx * 0.5'}")
    (trial,) = [d for d in migration.directions if d.v2 == "lab_v2.session__trial"]
    assert trial.two_way and trial.line == ("lab_v2.session__trial <-> lab_v1.session__trial: two-way (`inverse:` "
                                            "gives start_time to a row inserted into v2)")
    back = reverse_model(migration.built.model, {d.target_id for d in migration.directions if d.two_way})
    column = back.target("lab_v1.session__trial").column("start_time")
    # insert-only: a v2 insert computes it, a v2 update leaves v1's value
    assert column.insert_only and column.expr.render() == "`src`.`trial_idx` * 0.5"
    assert column.plan_key == "schemas.lab_v1.tables.session__trial.inverse.start_time"
    # checked on v1's rows in 00 and 70
    assert "inverse_agrees.lab_v1.session__trial.start_time" in {c.id for c in migration.data_checks}


def test_without_an_inverse_the_reason_names_the_way_out(tmp_path):
    migration = _migration(tmp_path, "{}")
    (trial,) = [d for d in migration.directions if d.v2 == "lab_v2.session__trial"]
    assert not trial.two_way and "give it an `inverse:` in the plan or a default in v1" in trial.why


@pytest.mark.parametrize("inverse, problem", [
    ("{start_time: '1; DROP TABLE x'}", "inverse.start_time: write one SQL expression"),
    ("{start_time: 'nope + 1'}", "inverse.start_time: lab_v2.session__trial has no column 'nope'"),
    ("{start_time: 'src.trial_idx'}", "inverse.start_time: write trial_idx without src."),
    ("{start_time: '(SELECT 1)'}", "inverse.start_time: a subquery cannot be a transform"),
    ("{start_time: 'RAND()'}", "inverse.start_time: RAND() gives another value"),
    ("{start_time: '1 / trial_idx'}", "inverse.start_time: 1 / trial_idx fails every write where trial_idx is 0"),
    ("{ghost: '0'}", "inverse.ghost: lab_v1.session__trial has no column 'ghost'"),
    ("{outcome: \"'hit'\"}", "inverse.outcome: v2 keeps 'outcome' as 'outcome'"),
    ("{start_time: {next_for: [subject_id]}}", "inverse.start_time.next_for: 'start_time' is double; numbering"),
])
def test_a_wrong_inverse_is_refused_with_its_plan_key(tmp_path, inverse, problem):
    problems = _problems(tmp_path, inverse)
    assert any(p.startswith("schemas.lab_v1.tables.session__trial." + problem) for p in problems), problems


def test_an_inverse_in_a_one_way_plan_is_refused(tmp_path):
    text = (PLANS / "valid" / "two_way.yaml").read_text().replace("sync: two-way\n", "")
    path = tmp_path / "plan.yaml"
    path.write_text(text.replace(TRIAL, TRIAL + "      inverse: {start_time: '0'}\n"))
    with pytest.raises(PlanError) as failed:
        Migration(load_plan(path), Catalog.from_json((PLANS / "heading.json").read_text()))
    assert any(p.startswith("schemas.lab_v1.tables.session__trial.inverse.start_time: the table syncs one way")
               for p in failed.value.problems), failed.value.problems


def test_the_plan_file_refuses_an_inverse_of_another_shape():
    with pytest.raises(PlanError) as failed:
        parse_plan("name: p\nschemas: [{source: a, target: b, tables: {t: {inverse: {c: {next: [x]}}}}}]\n")
    assert any(p.startswith("schemas.a.tables.t.inverse.c") for p in failed.value.problems), failed.value.problems


def _rekey(tmp_path) -> Migration:
    key = "      key: [subject_id, session_date]\n"
    text = (PLANS / "valid" / "two_way_rekey.yaml").read_text().replace(key, key + (
        "      columns: {subject_id: keep, session_idx: drop, session_date: keep, rig: keep}\n"
        "      inverse: {session_idx: {next_for: [subject_id]}}\n"))
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return Migration(load_plan(path), Catalog.from_json((PLANS / "heading.json").read_text()))


def test_a_re_key_dropping_a_v1_key_column_goes_back_by_the_mapped_key_with_next_for(tmp_path):
    """v1 session keyed by (subject_id, session_idx), v2 by (subject_id, session_date) without session_idx: a v2
    insert numbers the v1 row per subject under a lock on v1's subject row; updates and deletes find the v1 row by the
    mapped key (proven unique on v1's rows by 00 and 70: key_unique); the part following the new key stays one-way,
    saying why."""
    migration = _rekey(tmp_path)
    lines = {d.v2: d for d in migration.directions}
    assert lines["lab_v2.session"].two_way and "`inverse:` gives session_idx" in lines["lab_v2.session"].line
    assert not lines["lab_v2.session__trial"].two_way
    assert "'session_idx' comes from lab_v2.session's `inverse:`" in lines["lab_v2.session__trial"].why
    assert "key_unique.lab_v1.session" in {c.id for c in migration.data_checks}
    back = reverse_model(migration.built.model, {d.target_id for d in migration.directions if d.two_way})
    session = back.target("lab_v1.session")
    assert session.primary_key == ("subject_id", "session_date")
    assert (session.key_map.aligned, session.key_map.proof) == (False, "structure")
    assert session.column("session_idx").insert_only
    from tests.unit.test_two_way import _file, _trigger

    text = _file(migration, "30_dualwrite.sql")
    insert = _trigger(text, "djsqlgen_lab_two_way_rekey_session_ins_to_v1")
    assert ("SELECT COUNT(*) INTO v_parent FROM `lab_v1`.`subject` WHERE `subject_id` = NEW.`subject_id` FOR UPDATE;"
            in insert)
    assert ("(SELECT `next` FROM (SELECT COALESCE(MAX(`n`.`session_idx`), 0) + 1 AS `next` FROM `lab_v1`.`session` "
            "AS `n` WHERE `n`.`subject_id` = NEW.`subject_id`) AS `numbered`)") in insert
    assert insert.index("FOR UPDATE") < insert.index("INSERT INTO `lab_v1`.`session`")
    delete = _trigger(text, "djsqlgen_lab_two_way_rekey_session_del_to_v1")
    assert "WHERE `subject_id` = OLD.`subject_id` AND `session_date` = OLD.`session_date`" in delete


def test_generate_says_it_and_the_runbook_names_the_parent_lock(tmp_path):
    """`generate` (from a heading, as a user runs it) prints the direction with the inverse, and RUNBOOK.md's Lock
    discipline names the v1 parent row a numbering locks."""
    import subprocess
    import sys

    _rekey(tmp_path)  # writes tmp_path/plan.yaml
    done = subprocess.run([sys.executable, "-m", "djsqlgen", "generate", "plan.yaml", "-o", "out", "--heading",
                           str(PLANS / "heading.json")], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert ("lab_v2.session <-> lab_v1.session: two-way (`inverse:` gives session_idx to a row inserted into v2)"
            in done.stderr + done.stdout), done.stderr
    runbook = (tmp_path / "out" / "RUNBOOK.md").read_text()
    lock = runbook[runbook.index("## Lock discipline"):]
    assert "numbered** (`inverse: {next_for: …}`, `lab_v1.session`) first\n  locks the v1 parent row " \
           "(`lab_v1.subject`) exclusively" in lock


@pytest.mark.parametrize("next_for, problem", [
    ("[subject_id]", "inverse.trial_idx.next_for: subject_id is not a foreign key of lab_v1.session__trial to a "
                     "parent"),
    ("[subject_id, nope]", "inverse.trial_idx.next_for: 'nope' is not a v2 column copied from v1"),
    ("[subject_id, session_idx]", ""),
])
def test_next_for_names_the_foreign_key_to_the_parent_it_numbers_for(tmp_path, next_for, problem):
    """trials re-keyed by their start time, trial_idx numbered per session: the columns must be one foreign key."""
    trial = TRIAL.replace("trial_idx: keep, start_time: drop", "trial_idx: drop, start_time: keep") + (
        f"      key: [subject_id, session_idx, start_time]\n      inverse: {{trial_idx: {{next_for: {next_for}}}}}\n")
    path = tmp_path / "plan.yaml"
    path.write_text((PLANS / "valid" / "two_way.yaml").read_text().replace(TRIAL, trial))
    catalog = Catalog.from_json((PLANS / "heading.json").read_text())
    if problem:
        with pytest.raises(PlanError) as failed:
            Migration(load_plan(path), catalog)
        assert any(p.startswith("schemas.lab_v1.tables.session__trial." + problem) for p in failed.value.problems), \
            failed.value.problems
        return
    migration = Migration(load_plan(path), catalog)
    (inverse,) = migration.built.model.target("lab_v1.session__trial").inverses
    assert (inverse.lock.label, inverse.lock_on) == ("lab_v1.session", (("subject_id", "subject_id"),
                                                                         ("session_idx", "session_idx")))
