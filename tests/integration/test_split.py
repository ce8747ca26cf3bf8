"""One table split in two by a row filter while people write (issue 12, item 3).

`recording` becomes `ephys_recording` (modality 'ephys') and `imaging_recording` (modality 'imaging'). Writers
insert into both, move rows across (an UPDATE of the modality, with and without a key change), renumber a
subject (v1's cascade) and delete; after each phase each side equals v1's rows of its modality, compared
independently. Refusals: filters that overlap or leave rows out (plan check, 00, 70), a v1 write whose row
would go to no side, a split of a table that has children, a filter reading another table; each names the
plan key. The rollback leaves v1 byte-identical.
"""

from __future__ import annotations

import pytest
from support.safety import FastScenario, applied, refused, table_fingerprint

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, name varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id))
  ENGINE=InnoDB;
CREATE TABLE recording (subject_id int NOT NULL, rec int NOT NULL, modality varchar(16) NOT NULL,
  x float NULL, PRIMARY KEY (subject_id, rec),
  CONSTRAINT recording_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO subject (subject_id) SELECT seq FROM seq_1_to_30;
INSERT INTO recording SELECT s.seq, k.seq, IF((s.seq + k.seq) % 3 = 0, 'imaging', 'ephys'), s.seq / k.seq
  FROM seq_1_to_30 AS s, seq_1_to_4 AS k
"""
SIDES = [{"table": "ephys_recording", "where": "modality = 'ephys'"},
         {"table": "imaging_recording", "where": "modality = 'imaging'"}]


def _plan(scenario: FastScenario, sides: list | None = None):
    def edit(plan):
        scenario.tables(plan)["recording"] = {"split": sides or SIDES}
    return edit


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    return s


def _agree(scenario: FastScenario) -> None:
    src, dst = f"`{scenario.sources[0]}`", f"`{scenario.v2()}`"
    for modality in ("ephys", "imaging"):
        order = "ORDER BY subject_id, rec"
        assert scenario.db.query(f"SELECT * FROM {dst}.{modality}_recording {order}") == \
            scenario.db.query(f"SELECT * FROM {src}.recording WHERE modality = '{modality}' {order}"), modality


def _write(scenario: FastScenario, n: int) -> None:
    v1 = f"`{scenario.sources[0]}`"
    scenario.db.execute(f"INSERT INTO {v1}.recording VALUES (1, {10 + n}, 'ephys', 0.5), (1, {20 + n}, 'imaging', NULL)")
    scenario.db.execute(f"UPDATE {v1}.recording SET modality = 'imaging' WHERE subject_id = {n} AND rec = 1 "
                        "AND modality = 'ephys'")
    scenario.db.execute(f"UPDATE {v1}.recording SET modality = IF(modality = 'ephys', 'imaging', 'ephys'), "
                        f"rec = rec + 100 WHERE subject_id = {n + 1}")
    scenario.db.execute(f"DELETE FROM {v1}.recording WHERE subject_id = {n + 2} AND rec = 2")
    scenario.db.execute(f"UPDATE {v1}.subject SET subject_id = {500 + n} WHERE subject_id = {n + 3}")


def test_a_table_split_by_a_filter_while_users_write(scenario):
    scenario.plan(_plan(scenario))
    check = scenario.run("plan", "check", str(scenario.plan_path))
    assert "3 v2 table(s)" in check.stdout and "1 data check(s)" in check.stdout, check.stdout
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    _write(scenario, 1)
    scenario.backfill(chunk_rows=7)
    _write(scenario, 5)
    assert scenario.verify().returncode == 0
    _agree(scenario)
    applied(scenario, "60_constraints")
    assert scenario.references() == [("ephys_recording", "subject"), ("imaging_recording", "subject")]
    _write(scenario, 9)  # with v2's keys: the subject renumbered cascades into both sides
    assert scenario.verify().returncode == 0
    _agree(scenario)
    applied(scenario, "70_cutover")

    before = {t: table_fingerprint(scenario.db, scenario.sources[0], t) for t in ("subject", "recording")}
    result = scenario.run("apply", "--through", "70", str(scenario.out / "rollback"))
    assert result.returncode == 0, result.stderr
    assert {t: table_fingerprint(scenario.db, scenario.sources[0], t) for t in ("subject", "recording")} == before


def test_a_write_whose_row_would_go_to_no_side_fails(scenario):
    scenario.plan(_plan(scenario))
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    v1 = f"`{scenario.sources[0]}`"
    with pytest.raises(Exception, match="W2 .*recording: row fits no side or two sides of the split"):
        scenario.db.execute(f"INSERT INTO {v1}.recording VALUES (2, 50, 'widefield', 1)")
    with pytest.raises(Exception, match="W2 .*recording: row fits no side or two sides of the split"):
        scenario.db.execute(f"UPDATE {v1}.recording SET modality = 'widefield' WHERE subject_id = 2 AND rec = 1")
    scenario.backfill(chunk_rows=50)
    assert scenario.verify().returncode == 0
    _agree(scenario)


@pytest.mark.parametrize("sides", [
    [{"table": "ephys_recording", "where": "modality = 'ephys'"}, {"table": "imaging_recording", "where": "x > 1"}],
    [{"table": "ephys_recording", "where": "modality = 'ephys'"},
     {"table": "imaging_recording", "where": "modality = 'imaging' AND x > 2"}],
], ids=["overlap", "rows left out"])
def test_filters_that_overlap_or_leave_rows_out_are_refused(scenario, sides):
    scenario.plan(_plan(scenario, sides))
    check = scenario.run("plan", "check", str(scenario.plan_path), check=False)
    assert check.returncode != 0 and "recording.split" in check.stderr and "exactly one of the filters" in \
        check.stderr, check.stderr
    scenario.generate()
    message = refused(scenario, "00_preflight")
    assert "recording.split" in message, message


def test_70_refuses_when_v1_stopped_matching_the_filters(scenario):
    """A row that matches no side, written while the trigger was away (dropped by hand, then 30 applied again):
    verify cannot see it, 70's data check does."""
    scenario.plan(_plan(scenario))
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    scenario.backfill(chunk_rows=50)
    applied(scenario, "50_verify", "60_constraints")
    v1 = scenario.sources[0]
    trigger = scenario.db.query("SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s "
                                "AND EVENT_OBJECT_TABLE = 'recording' AND EVENT_MANIPULATION = 'INSERT'", [v1])[0]["n"]
    scenario.db.execute(f"DROP TRIGGER `{v1}`.`{trigger}`")
    scenario.db.execute(f"INSERT INTO `{v1}`.recording VALUES (3, 77, 'widefield', 1)")
    applied(scenario, "30_dualwrite")
    assert scenario.verify().returncode == 0  # each side equals its own filtered rows: the row is in neither
    message = refused(scenario, "70_cutover")
    assert "recording.split" in message and "exactly one of the filters" in message, message


@pytest.mark.parametrize("sides, joined, problem", [
    ([{"table": "ephys_recording", "where": "modality = 'ephys'"}], False, "two sides or more"),
    ([{"table": "ephys_recording", "where": "modality = 'ephys'"}, {"table": "subject", "where": "TRUE"}], False,
     "already a table"),
    ([{"table": "a", "where": "modality = 'ephys'"}, {"table": "a", "where": "modality = 'imaging'"}], False,
     "names two sides"),
    ([{"table": "ephys_recording", "where": "nope = 1"}, {"table": "b", "where": "modality = 'imaging'"}], False,
     "split[0].where"),
    ([{"table": "ephys_recording", "where": "modality = 'ephys'"}, {"table": "b", "where": "s.name = ''"}], True,
     "reads s"),
    ([{"table": "low", "where": "subject_id < 100"}, {"table": "high", "where": "subject_id >= 100"}], False,
     "changes by ON UPDATE CASCADE"),
], ids=["one side", "name taken", "same name twice", "unknown column", "reads a join", "reads a cascaded column"])
def test_a_split_that_cannot_work_is_refused_naming_its_plan_key(scenario, sides, joined, problem):
    def edit(plan):
        spec = {"split": sides}
        if joined:
            spec["joins"] = {"s": {"table": "subject", "by": {"subject_id": "subject_id"}}}
        scenario.tables(plan)["recording"] = spec
    scenario.plan(edit)
    check = scenario.run("plan", "check", str(scenario.plan_path), check=False)
    assert check.returncode != 0 and "recording.split" in check.stderr and problem in check.stderr, check.stderr


def test_a_table_with_children_cannot_be_split(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1 + """;
CREATE TABLE recording__channel (subject_id int NOT NULL, rec int NOT NULL, channel int NOT NULL,
  PRIMARY KEY (subject_id, rec, channel), CONSTRAINT channel_recording FOREIGN KEY (subject_id, rec)
  REFERENCES recording (subject_id, rec) ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB""")
    s.plan(_plan(s))
    check = s.run("plan", "check", str(s.plan_path), check=False)
    assert check.returncode != 0 and "recording__channel" in check.stderr and "choose a side" in check.stderr, \
        check.stderr


def test_the_stock_client_runs_every_file_of_a_split_plan(scenario):
    scenario.plan(_plan(scenario))
    scenario.generate()
    scenario.forward("80_contract")
    _agree(scenario)
