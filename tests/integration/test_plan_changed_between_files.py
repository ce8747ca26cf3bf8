"""A plan edited between two files (DESIGN: every file checks it builds on the files of its own plan).

A DBA tunes the copy's pace while a migration is under way: the chunk settings are passed to the routines by 40,
50 and 60 and read by the commands, never installed, so files generated after changing them build on the files
applied before. Anything else changed in the plan (or in v1) between two files is refused, naming the plan the
earlier file was applied from and this file's, and the two ways out, changing nothing.
"""

from __future__ import annotations

import pytest
from support.safety import FastScenario, applied, refused, state, state_difference

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, name varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id))
  ENGINE=InnoDB;
INSERT INTO subject SELECT seq, CONCAT('s', seq) FROM seq_1_to_30
"""


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan()
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    return s


def _edit(s: FastScenario, edit) -> None:
    s.plan(lambda plan: (plan.update(chunk={"rows": 2, "sleep_ms": 0, "verify_rows": 3}), edit(plan)))
    s.generate()


def test_chunk_settings_changed_after_30_are_taken_by_the_next_files(scenario):
    _edit(scenario, lambda plan: plan.update(chunk={"rows": 7, "sleep_ms": 1, "verify_rows": 11}))
    assert "CALL" in (scenario.out / "40_backfill.sql").read_text()
    assert f"backfill_table`('{scenario.sources[0]}.subject', 7, 1," in (scenario.out / "40_backfill.sql").read_text()
    applied(scenario, "40_backfill", "50_verify", "60_constraints")  # before: refused, "30 ... has not been applied"
    scenario.same_rows("subject")


@pytest.mark.parametrize("change", ["a v2 column renamed", "contract.drop_v1"])
def test_anything_else_changed_after_30_is_refused_naming_both_plans(change, scenario, server_settings):
    installed = scenario.db.query(f"SELECT plan_hash FROM `{scenario.control}`.phase_log WHERE phase = '30'")[0]
    if change == "contract.drop_v1":
        _edit(scenario, lambda plan: plan.update(contract={"drop_v1": True}))
    else:
        _edit(scenario, lambda plan: scenario.tables(plan)["subject"]["columns"].update(name={"rename": "nickname"}))
    before = state(server_settings, scenario.prefix)
    message = refused(scenario, "40_backfill")
    assert f"30_dualwrite.sql was applied from plan {installed['plan_hash']}, this file comes from plan " in message
    assert "roll back to before 30_dualwrite.sql" in message, message
    assert state_difference(before, state(server_settings, scenario.prefix)) == []
