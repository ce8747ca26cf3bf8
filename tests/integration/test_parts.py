"""Secondary attributes moved into a new part, and a 1:1 part merged back into its master, while people write
(issue 12, item 2).

`session (…, notes, rating)` gives `notes` and `rating` to a new part `session__notes` (a row only where either
is not NULL); `scan__quality`, 1:1 with `scan`, is merged into v2's `scan` (NULLs where a scan has none).
Writers set the moved attributes to NULL and back, insert and delete part rows, update both v1 tables, and
renumber a subject (v1's cascade through all of them); after each phase v2 is compared with hand-written
queries over v1. Refusals name their plan key; the rollback leaves v1 byte-identical.
"""

from __future__ import annotations

import subprocess

import pytest
from support.engine import (
    SUPPORT,
    build_v1,
    bulk_fill,
    dj014_writers,
    dj2_graph,
    migrate_while_writing,
    migration_files,
    run_dj014,
)
from support.safety import FastScenario, applied, table_fingerprint

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, name varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id))
  ENGINE=InnoDB;
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, start datetime NOT NULL,
  notes varchar(64) NULL, rating tinyint NULL, PRIMARY KEY (subject_id, session_id),
  CONSTRAINT session_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE scan (subject_id int NOT NULL, scan_id int NOT NULL, depth float NOT NULL,
  PRIMARY KEY (subject_id, scan_id),
  CONSTRAINT scan_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE scan__quality (subject_id int NOT NULL, scan_id int NOT NULL, snr float NOT NULL, ok tinyint NULL,
  PRIMARY KEY (subject_id, scan_id),
  CONSTRAINT quality_scan FOREIGN KEY (subject_id, scan_id) REFERENCES scan (subject_id, scan_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO subject (subject_id) SELECT seq FROM seq_1_to_30;
INSERT INTO session SELECT s.seq, k.seq, '2024-01-01' + INTERVAL s.seq * 3 + k.seq DAY,
  IF(k.seq = 1, CONCAT('note ', s.seq), NULL), IF(k.seq = 3, NULL, s.seq % 5) FROM seq_1_to_30 AS s, seq_1_to_3 AS k;
INSERT INTO scan SELECT s.seq, k.seq, s.seq + k.seq / 10 FROM seq_1_to_30 AS s, seq_1_to_2 AS k;
INSERT INTO scan__quality SELECT subject_id, scan_id, depth * 3, IF(scan_id = 1, 1, NULL) FROM scan
  WHERE subject_id % 4 <> 0
"""


def _plan(scenario: FastScenario, edits: dict | None = None):
    def edit(plan):
        tables = scenario.tables(plan)
        tables["session"] = {"parts": [{"name": "notes", "columns": ["notes", "rating"]}]}
        tables["scan__quality"] = {"merge_into_master": True}
        tables.update(edits or {})
    return edit


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    return s


def _agree(scenario: FastScenario) -> None:
    src, dst = f"`{scenario.sources[0]}`", f"`{scenario.v2()}`"
    key = "ORDER BY subject_id, session_id"
    assert scenario.db.query(f"SELECT subject_id, session_id, start FROM {dst}.session {key}") == \
        scenario.db.query(f"SELECT subject_id, session_id, start FROM {src}.session {key}")
    assert scenario.db.query(f"SELECT * FROM {dst}.session__notes {key}") == scenario.db.query(
        f"SELECT subject_id, session_id, notes, rating FROM {src}.session "
        f"WHERE notes IS NOT NULL OR rating IS NOT NULL {key}")
    key = "ORDER BY subject_id, scan_id"
    assert scenario.db.query(f"SELECT * FROM {dst}.scan {key}") == scenario.db.query(
        f"SELECT s.subject_id, s.scan_id, s.depth, q.snr, q.ok FROM {src}.scan AS s "
        f"LEFT JOIN {src}.scan__quality AS q USING (subject_id, scan_id) {key}")


WITHOUT_QUALITY = {1: 4, 8: 12, 15: 16}  # subjects whose scans have no quality row yet, for each round


def _write(scenario: FastScenario, n: int) -> None:
    v1 = f"`{scenario.sources[0]}`"
    for sql in (
        f"UPDATE {v1}.session SET notes = NULL, rating = NULL WHERE subject_id = {n}",  # part rows go
        f"UPDATE {v1}.session SET rating = 9 WHERE subject_id = {n + 1} AND session_id = 3",  # a part row comes
        f"INSERT INTO {v1}.session VALUES ({n + 2}, {10 + n}, '2025-05-05', 'new', NULL)",
        f"DELETE FROM {v1}.session WHERE subject_id = {n + 3} AND session_id = 2",
        f"INSERT INTO {v1}.scan__quality VALUES ({WITHOUT_QUALITY[n]}, 1, 0.5, 0)",  # a scan gets its quality
        f"DELETE FROM {v1}.scan__quality WHERE subject_id = {n + 1} AND scan_id = 2",  # NULLs in v2's scan
        f"UPDATE {v1}.scan__quality SET snr = snr + 1 WHERE subject_id = {n + 2}",
        f"UPDATE {v1}.scan SET depth = depth * 2 WHERE subject_id = {n + 2}",
        f"UPDATE {v1}.subject SET subject_id = {700 + n} WHERE subject_id = {n + 5}",  # cascades through all four
    ):
        scenario.db.execute(sql)


def test_a_part_made_and_a_part_merged_while_users_write(scenario):
    scenario.plan(_plan(scenario))
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    _write(scenario, 1)
    scenario.backfill(chunk_rows=7)
    _write(scenario, 8)
    assert scenario.verify().returncode == 0
    _agree(scenario)
    applied(scenario, "60_constraints")
    tables = {r["TABLE_NAME"] for r in scenario.db.query(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", [scenario.v2()])}
    assert tables == {"subject", "session", "session__notes", "scan"}
    assert scenario.references() == [("scan", "subject"), ("session", "subject"), ("session__notes", "session")]
    nullable = scenario.db.query("SELECT COLUMN_NAME, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                                 "AND TABLE_NAME = 'scan' AND COLUMN_NAME IN ('snr', 'ok') ORDER BY COLUMN_NAME",
                                 [scenario.v2()])
    assert [r["IS_NULLABLE"] for r in nullable] == ["YES", "YES"]
    _write(scenario, 15)  # with v2's foreign keys: the part row goes before its master row
    assert scenario.verify().returncode == 0
    _agree(scenario)
    applied(scenario, "70_cutover")
    before = {t: table_fingerprint(scenario.db, scenario.sources[0], t) for t in ("session", "scan", "scan__quality")}
    result = scenario.run("apply", "--through", "70", str(scenario.out / "rollback"))
    assert result.returncode == 0, result.stderr
    assert {t: table_fingerprint(scenario.db, scenario.sources[0], t) for t in before} == before


@pytest.mark.parametrize("edits, problem", [
    ({"session": {"parts": [{"name": "notes", "columns": ["session_id"]}]}}, "secondary attributes only"),
    ({"session": {"parts": [{"name": "notes", "columns": ["mood"]}]}}, "no column 'mood'"),
    ({"session": {"parts": [{"name": "a__b", "columns": ["notes"]}]}}, "without '__'"),
    ({"scan__quality": {"parts": [{"name": "x", "columns": ["ok"]}]}}, "no parts of parts"),
    ({"subject": {"merge_into_master": True}}, "not a part table"),
], ids=["key column", "unknown column", "name with __", "part of a part", "not a part"])
def test_a_part_change_that_cannot_work_is_refused_naming_its_plan_key(scenario, edits, problem):
    scenario.plan(_plan(scenario, edits))
    check = scenario.run("plan", "check", str(scenario.plan_path), check=False)
    assert check.returncode != 0 and problem in check.stderr, check.stderr
    table = next(iter(edits))
    assert f"tables.{table}." in check.stderr, check.stderr


def test_a_part_that_is_not_1_to_1_is_not_merged(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1("""
CREATE TABLE scan (scan_id int NOT NULL, PRIMARY KEY (scan_id)) ENGINE=InnoDB;
CREATE TABLE scan__field (scan_id int NOT NULL, field int NOT NULL, depth float NOT NULL, PRIMARY KEY (scan_id, field),
  CONSTRAINT field_scan FOREIGN KEY (scan_id) REFERENCES scan (scan_id) ON UPDATE CASCADE ON DELETE RESTRICT)
  ENGINE=InnoDB""")
    s.plan(lambda plan: s.tables(plan).update({"scan__field": {"merge_into_master": True}}))
    check = s.run("plan", "check", str(s.plan_path), check=False)
    assert check.returncode != 0 and "scan__field.merge_into_master" in check.stderr and "not 1:1" in check.stderr, \
        check.stderr


def test_the_stock_client_runs_every_file_of_a_parts_plan(scenario):
    scenario.plan(_plan(scenario))
    scenario.generate()
    scenario.forward("80_contract")
    _agree(scenario)


def test_a_datajoint_014_pipeline_gets_a_part_and_a_split_while_014_clients_write(tmp_path, prefix, dj014_python,
                                                                                 dj_env, db):
    """On the 0.14 pipeline: subject's weight and notes move into a new part `subject__body`, and lab_note (an
    auto_increment key) is split by the parity of its id, while 0.14 clients insert subjects with sessions and
    tags, update1 weight and notes, renumber subjects (cascades), delete, and write lab notes, during the
    backfill and after 60. Verify is clean, hand-written queries over v1 agree, and DataJoint 2.3 reads
    subject__body as a part of subject."""
    common, ephys = build_v1(dj014_python, prefix, tmp_path / "store", dj_env)
    bulk_fill(db, common, 1500)

    def part_and_split(plan):
        tables = next(s for s in plan["schemas"] if s["source"] == common)["tables"]
        tables["subject"] = {"parts": [{"name": "body", "columns": ["weight", "notes"]}]}
        tables["lab_note"] = {"split": [{"table": "lab_note_even", "where": "note_id % 2 = 0"},
                                        {"table": "lab_note_odd", "where": "note_id % 2 = 1"}]}
    plan_path, out = migration_files(tmp_path, prefix, [common, ephys], dj_env, part_and_split)
    store = tmp_path / "store"
    migrate_while_writing(plan_path, out, dj_env,
                          lambda: dj014_writers(dj014_python, prefix, store, dj_env, 0, ["1000-1700", "1701-2400"]),
                          lambda: dj014_writers(dj014_python, prefix, store, dj_env, 5, ["2401-2499"]))

    v1, v2 = f"`{common}`", f"`{common}_v2`"
    assert db.query(f"SELECT * FROM {v2}.subject__body ORDER BY subject_id") == db.query(
        f"SELECT subject_id, weight, notes FROM {v1}.subject WHERE weight IS NOT NULL OR notes IS NOT NULL "
        "ORDER BY subject_id")
    for side, parity in (("lab_note_even", 0), ("lab_note_odd", 1)):
        assert db.query(f"SELECT * FROM {v2}.{side} ORDER BY note_id") == \
            db.query(f"SELECT * FROM {v1}.lab_note WHERE note_id % 2 = {parity} ORDER BY note_id")
    graph = dj2_graph([f"{common}_v2", f"{ephys}_v2"], dj_env)
    assert graph[f"`{common}_v2`.`subject__body`"][f"`{common}_v2`.`subject`"] == {"subject_id": "subject_id"}


def test_a_merged_part_moved_to_another_master_and_a_part_emptied_with_a_key_change(scenario):
    """Found in review: an UPDATE of a merged part's own key went unseen (its master rows kept or lacked it), and
    after 60 a master key change that also empties the part left the part row at its new key."""
    scenario.plan(_plan(scenario))
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    scenario.backfill(chunk_rows=50)
    v1 = f"`{scenario.sources[0]}`"
    scenario.db.execute(f"INSERT INTO {v1}.scan VALUES (1, 3, 0.25)")
    scenario.db.execute(f"UPDATE {v1}.scan__quality SET scan_id = 3 WHERE subject_id = 1 AND scan_id = 1")
    _agree(scenario)
    applied(scenario, "60_constraints")
    scenario.db.execute(f"UPDATE {v1}.scan__quality SET scan_id = 1 WHERE subject_id = 1 AND scan_id = 3")
    scenario.db.execute(f"UPDATE {v1}.session SET session_id = 50, notes = NULL, rating = NULL "
                        "WHERE subject_id = 2 AND session_id = 1")
    _agree(scenario)
    assert scenario.verify().returncode == 0


def test_a_datajoint_014_part_merged_into_its_master_while_014_clients_write(tmp_path, prefix, dj014_python, dj_env,
                                                                            db):
    """A 0.14 pipeline whose Scan.Quality is 1:1 with Scan: the part is merged into v2's scan while 0.14 clients
    insert scans with and without their part, update1 scans, delete part rows alone, renumber subjects (v1's
    cascade) and delete subjects (DataJoint's cascading delete), during the backfill and after 60. Verify is
    clean, a hand-written LEFT JOIN over v1 agrees, and DataJoint 2.3 reads v2's scan with no part."""
    schema = f"{prefix}_scans"
    run_dj014(dj014_python, "dj014_scans.py", ["build", "--schema", schema, "--subjects", "2000"], dj_env)
    plan_path, out = migration_files(tmp_path, prefix, [schema], dj_env, lambda plan: plan["schemas"][0]["tables"]
                                     .update({"scan__quality": {"merge_into_master": True}}))

    def writers(first: int, count: int) -> None:  # 0.14 clients at once, each run to the end
        running = [subprocess.Popen([str(dj014_python), str(SUPPORT / "dj014_scans.py"), "write", "--schema", schema,
                                     "--worker", str(w), "--iterations", "25"], env=dj_env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for w in range(first, first + count)]
        for w in running:
            _, stderr = w.communicate(timeout=600)
            assert w.returncode == 0, stderr[-3000:]

    migrate_while_writing(plan_path, out, dj_env, lambda: writers(0, 2), lambda: writers(5, 1), chunk_rows=100)

    key = "ORDER BY subject_id, scan_id"
    assert db.query(f"SELECT * FROM `{schema}_v2`.scan {key}") == db.query(
        f"SELECT s.subject_id, s.scan_id, s.depth, q.snr, q.ok FROM `{schema}`.scan AS s "
        f"LEFT JOIN `{schema}`.scan__quality AS q USING (subject_id, scan_id) {key}")
    graph = dj2_graph([f"{schema}_v2"], dj_env)
    assert {t for t in graph if "`~" not in t} == {f"`{schema}_v2`.`subject`", f"`{schema}_v2`.`scan`"}
    assert graph[f"`{schema}_v2`.`scan`"] == {f"`{schema}_v2`.`subject`": {"subject_id": "subject_id"}}
