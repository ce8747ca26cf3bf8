"""rollback/70 never gives up a row inserted into v2 after the cut-over silently, whatever the table's shape
(issue 21: no trigger on v2 that the backfill's inserts fire; DESIGN invariant 4).

v2's UPDATE and DELETE trackers record from 30 on; there is no INSERT tracker (it would fire for every row the
backfill copies, and installing it later meant DDL on v2 under writers): 70 proves v2 equal to transform(v1) and v1
takes no write after it, so rollback/70 finds v2's new rows by an anti-join against transform(v1). A lookup keeps
rows no v1 row uses any more, which an anti-join cannot tell from new ones, so it keeps an INSERT tracker.
For each shape: an insert into v2 after 70 makes rollback/70 refuse, changing nothing; given up, every v2 table is
transform(v1) again (compared by the scenario's own SELECTs and by verify). And rows v2 rightly holds that v1 does
not (a lookup row whose last v1 row went) are no reason to refuse.
"""

from __future__ import annotations

import re

import pytest
from support.safety import FastScenario, applied, client, refused, state, state_difference

from djsqlgen.sqltext.naming import v2_parking_name

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, name varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id))
  ENGINE=InnoDB;
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, session_start datetime NOT NULL,
  notes varchar(64) NULL, PRIMARY KEY (subject_id, session_id),
  CONSTRAINT session_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE recording (subject_id int NOT NULL, rec int NOT NULL, modality varchar(16) NOT NULL,
  probe varchar(32) NOT NULL, vendor varchar(32) NOT NULL, PRIMARY KEY (subject_id, rec),
  CONSTRAINT recording_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO subject (subject_id) SELECT seq FROM seq_1_to_6;
INSERT INTO session SELECT s.seq, k.seq, TIMESTAMP('2024-01-01') + INTERVAL s.seq * 5 + k.seq DAY,
  IF(k.seq = 1, 'first', NULL) FROM seq_1_to_6 AS s, seq_1_to_3 AS k;
INSERT INTO recording SELECT s.seq, k.seq, IF(k.seq % 2 = 0, 'imaging', 'ephys'), IF(k.seq = 1, 'np1', 'np2'),
  'imec' FROM seq_1_to_6 AS s, seq_1_to_2 AS k
"""

# Per shape: the plan's edit of the tables, then a v2 insert after the cut-over (in the v2 schema).
SHAPES = {
    "re-key": ({"session": {"key": ["subject_id", "session_start"]}},
               "INSERT INTO session (subject_id, session_start, session_id) VALUES (1, '2030-01-01', 7)"),
    "part extraction": ({"session": {"parts": [{"name": "notes", "columns": ["notes"]}]}},
                        "INSERT INTO session__notes (subject_id, session_id, notes) VALUES (2, 3, 'written in v2')"),
    "split": ({"recording": {"split": [{"table": "ephys_recording", "where": "modality = 'ephys'"},
                                       {"table": "imaging_recording", "where": "modality = 'imaging'"}]}},
              "INSERT INTO imaging_recording (subject_id, rec, modality, probe, vendor) "
              "VALUES (3, 9, 'imaging', 'np1', 'imec')"),
    "lookup": ({"recording": {"lookups": [{"table": "#probe", "key": ["probe"], "columns": ["vendor"]}]}},
               "INSERT INTO `#probe` (probe, vendor) VALUES ('np9', 'cambridge')"),
    "plain copy": ({}, "INSERT INTO subject (subject_id, name) VALUES (77, 'v2 only')"),
}


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    return s


def _migrated(scenario: FastScenario, shape: str) -> None:
    edits, _ = SHAPES[shape]
    scenario.plan(lambda plan: scenario.tables(plan).update({k: dict(v) for k, v in edits.items()}))
    scenario.generate()
    scenario.forward("70_cutover")


def _v2_tables(scenario: FastScenario) -> dict[str, list]:
    v2 = scenario.v2()
    names = [r["TABLE_NAME"] for r in scenario.db.query(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME", [v2])]
    return {n: sorted(map(repr, scenario.db.query(f"SELECT * FROM `{v2}`.`{n}`"))) for n in names}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_row_inserted_into_v2_after_the_cutover_is_never_given_up_silently(shape, scenario, server_settings):
    _migrated(scenario, shape)
    before_insert = _v2_tables(scenario)
    scenario.db.execute(f"USE `{scenario.v2()}`")
    scenario.db.execute(SHAPES[shape][1])
    before = state(server_settings, scenario.prefix)
    message = refused(scenario, "rollback/70_cutover")
    assert "v2 holds writes made after cut-over" in message, message
    assert state_difference(before, state(server_settings, scenario.prefix)) == [], "a refused rollback changed things"
    applied(scenario, "rollback/70_cutover", variables="SET @djsqlgen_discard_v2_writes = 'yes';")
    assert _v2_tables(scenario) == before_insert, "the v2 insert given up is not gone, or other rows went with it"
    verify = client(scenario.db.settings, scenario.out / "50_verify.sql")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_lookup_row_no_v1_row_uses_any_more_is_no_reason_to_refuse(scenario):
    """The lookup keeps np2's row after every v1 row moved off it (the sync never deletes one): rollback/70 goes
    through, and v1 takes writes again."""
    _migrated(scenario, "lookup")
    v1 = scenario.sources[0]
    applied(scenario, "rollback/70_cutover")
    scenario.db.execute(f"UPDATE `{v1}`.recording SET probe = 'np3' WHERE probe = 'np2'")  # v1 open again
    assert scenario.verify().returncode == 0  # after a rollback of the cut-over 70 wants a new verify
    applied(scenario, "70_cutover")  # np2's lookup row stays in v2, used by no v1 row
    assert scenario.db.query(f"SELECT vendor FROM `{scenario.v2()}`.`#probe` WHERE probe = 'np2'") == [
        {"vendor": "imec"}]
    applied(scenario, "rollback/70_cutover")


def test_a_rollback_stopped_after_parking_v2_runs_again(scenario):
    """rollback/70 parks v2 under other names before it looks for v2's new rows there (users' writes to v2 stop):
    stopped then (killed, a lock wait timed out), it runs again, its refusal reading v2 where it is."""
    _migrated(scenario, "split")
    v2 = scenario.v2()
    scenario.db.execute(f"INSERT INTO `{v2}`.ephys_recording (subject_id, rec, modality, probe, vendor) "
                        "VALUES (4, 9, 'ephys', 'np1', 'imec')")
    tables = [r["TABLE_NAME"] for r in scenario.db.query(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", [v2])]
    scenario.db.execute("RENAME TABLE " + ", ".join(  # where the file's first step leaves them
        f"`{v2}`.`{t}` TO `{v2}`.`{v2_parking_name(t, 'rollback')}`" for t in tables))
    # before: 1146 in the refusal at the top, which read v2 by its own names; now the file goes on from the park,
    # records the new row there, and refuses with v2 given back its names (its refusal after the park)
    result = client(scenario.db.settings, scenario.out / "rollback/70_cutover.sql")
    assert result.returncode != 0 and "v2 holds writes made after cut-over" in result.stderr, result.stderr
    assert {r["TABLE_NAME"] for r in scenario.db.query(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", [v2])} == set(tables)
    applied(scenario, "rollback/70_cutover", variables="SET @djsqlgen_discard_v2_writes = 'yes';")
    assert not scenario.db.query(f"SELECT 1 FROM `{v2}`.ephys_recording WHERE subject_id = 4 AND rec = 9")


def test_the_search_for_new_v2_rows_reads_each_table_once_where_the_key_is_converted(db, prefix, dj_env, tmp_path):
    """A key converted on its way to v2 (latin1 to utf8mb4: most of a 0.14 lab's keys under the preset) is served by
    no index of v1: merged into the join, the search for v2's new rows scanned v1 once per v2 row (the server's plan:
    a block nested loop). It must read transform(v1)'s keys once, into a derived table it looks up by key."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1("CREATE TABLE t (k varchar(16) CHARACTER SET latin1 NOT NULL, v int, PRIMARY KEY (k)) ENGINE=InnoDB;\n"
                "INSERT INTO t SELECT CONCAT('k', seq), seq FROM seq_1_to_2000")
    s.plan(lambda plan: s.tables(plan)["t"]["columns"].update(
        k={"type": "varchar(16)", "charset": "utf8mb4", "collation": "utf8mb4_general_ci"}))
    s.generate()
    s.forward("70_cutover")
    s.db.execute(f"INSERT INTO `{s.v2()}`.t (k, v) VALUES ('new in v2', 0)")
    # the search as rollback/70's refusal writes it
    found = re.search(r"EXISTS \(SELECT 1 (FROM `[^`]+`\.`t` AS dst LEFT JOIN .*? WHERE m\.`k_0` IS NULL)\)",
                      (s.out / "rollback/70_cutover.sql").read_text())
    assert found, "rollback/70 has no search for v2's new rows of t"
    plan = s.db.query(f"EXPLAIN SELECT dst.k {found.group(1)}")
    assert any(str(row["table"]).startswith("<derived") and row["type"] == "ref" for row in plan), plan
    assert not any("join buffer" in (row["Extra"] or "") for row in plan), plan
    assert s.db.query(f"SELECT dst.k {found.group(1)}") == [{"k": "new in v2"}]


def test_a_v2_insert_is_found_in_a_child_across_schemas_whose_composite_key_is_converted(db, prefix, dj_env, tmp_path):
    """The search compares every column of a composite key as verify does, converted where the plan converts it
    (latin1 to utf8mb4), in a child whose parent lives in another schema: a new v2 row of that child, whose first key
    column matches v1 rows, refuses rollback/70; the search reads it alone, by key (no block nested loop); given
    up, v2 is transform(v1) again."""
    s = FastScenario(db, prefix, dj_env, tmp_path, schemas=("lab", "ephys"))
    lab, ephys = s.sources
    s.create_v1({
        lab: "CREATE TABLE subject (subject varchar(16) CHARACTER SET latin1 NOT NULL, PRIMARY KEY (subject)) "
             "ENGINE=InnoDB;\nINSERT INTO subject SELECT CONCAT('mouse', seq) FROM seq_1_to_40",
        ephys: f"CREATE TABLE session (subject varchar(16) CHARACTER SET latin1 NOT NULL, session_id int NOT NULL, "
               f"note varchar(16) NULL, PRIMARY KEY (subject, session_id), CONSTRAINT session_subject FOREIGN KEY "
               f"(subject) REFERENCES `{lab}`.subject (subject) ON UPDATE CASCADE) ENGINE=InnoDB;\n"
               "INSERT INTO session SELECT CONCAT('mouse', s.seq), k.seq, NULL FROM seq_1_to_40 AS s, seq_1_to_5 AS k",
    })
    utf8 = {"type": "varchar(16)", "charset": "utf8mb4", "collation": "utf8mb4_general_ci"}

    def edit(plan: dict) -> None:
        s.tables(plan, lab)["subject"]["columns"].update(subject=dict(utf8))
        s.tables(plan, ephys)["session"]["columns"].update(subject=dict(utf8))

    s.plan(edit)
    s.generate()
    s.forward("70_cutover")
    v2 = s.v2(ephys)
    before_insert = sorted(map(repr, s.db.query(f"SELECT * FROM `{v2}`.session")))
    # a session number v1 never had for a subject it has (the key's first column matches a v1 row)
    s.db.execute(f"INSERT INTO `{v2}`.session (subject, session_id) VALUES ('mouse7', 6)")
    message = refused(s, "rollback/70_cutover")
    assert "v2 holds writes made after cut-over" in message, message
    assert f"; rows v1 never had in {v2}.session); v1 never saw them" in message, message  # that table alone
    found = re.search(r"EXISTS \(SELECT 1 (FROM `[^`]+`\.`session` AS dst LEFT JOIN .*? WHERE m\.`k_0` IS NULL)\)",
                      (s.out / "rollback/70_cutover.sql").read_text())
    assert found, "rollback/70 has no search for v2's new rows of session"
    assert s.db.query(f"SELECT dst.subject, dst.session_id {found.group(1)}") == [
        {"subject": "mouse7", "session_id": 6}]
    assert not any("join buffer" in (row["Extra"] or "") for row in s.db.query(
        f"EXPLAIN SELECT dst.subject {found.group(1)}"))
    applied(s, "rollback/70_cutover", variables="SET @djsqlgen_discard_v2_writes = 'yes';")
    assert sorted(map(repr, s.db.query(f"SELECT * FROM `{v2}`.session"))) == before_insert
    verify = client(s.db.settings, s.out / "50_verify.sql")
    assert verify.returncode == 0, verify.stdout + verify.stderr
