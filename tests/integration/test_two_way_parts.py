"""Two-way sync of a part extraction (issue 24 items 1 and 3): v1's row comes back as its v2 master row joined with
its v2 part row.

`session (…, start, notes, rating)` gives `notes` and `rating` to a new part `session__notes` (a row only where one
of them is not NULL). From 60 on, v2 writes of the master and of the part reach v1's one `session` row: a master
and then its part inserted in one transaction (DataJoint's order: v1's row is written with the moved columns NULL,
the part's insert fills them in), a part row updated, added to a master without one, deleted (v1's columns become
NULL), the master deleted after its part, a master's key moved (v2's ON UPDATE CASCADE moves the part, v1's row
moves whole), a subject renumbered in v2. A part row of NULLs is refused at the write (W10); v1 writes keep working.
A moved column that v1 declares NOT NULL keeps both tables one-way, with the reason. Every table is compared both
ways by full ordered SELECTs, independently of verify, and verify is clean in both directions.
"""

from __future__ import annotations

import pytest
from support.safety import FastScenario, applied
from support.two_way import (BACK, FORWARD, datajoint_on_both_sides, refused_at_write,
                              two_way_at_60, verified_both_ways, verify_report)

from djsqlgen.run.db import ServerError, connect

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, name varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id))
  ENGINE=InnoDB;
CREATE TABLE session (subject_id int NOT NULL, session_id smallint NOT NULL, start datetime NOT NULL,
  notes varchar(64) NULL, rating tinyint NULL, PRIMARY KEY (subject_id, session_id),
  CONSTRAINT session_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO subject (subject_id) SELECT seq FROM seq_1_to_10;
INSERT INTO session SELECT s.seq, k.seq, '2024-01-01' + INTERVAL (s.seq * 10 + k.seq) HOUR,
  IF(k.seq = 1, NULL, CONCAT('note ', s.seq, '/', k.seq)), IF(k.seq = 3, s.seq, NULL)
  FROM seq_1_to_10 AS s, seq_1_to_3 AS k
"""
PART = {"name": "notes", "columns": ["notes", "rating"]}
ORDER = "ORDER BY subject_id, session_id"


def _two_way(s: FastScenario):
    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        s.tables(plan)["session"] = {"parts": [PART]}
    return edit


def _same_both_ways(s: FastScenario) -> None:
    """Independently of verify: v2's master and part are forward(v1) (a part row where a moved column is not NULL),
    and v1's session is their LEFT JOIN (reverse)."""
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    q = s.db.query
    assert q(f"SELECT subject_id, session_id, start FROM {v1}.session {ORDER}") == \
        q(f"SELECT * FROM {v2}.session {ORDER}")
    assert q(f"SELECT subject_id, session_id, notes, rating FROM {v1}.session WHERE notes IS NOT NULL OR rating IS "
             f"NOT NULL {ORDER}") == q(f"SELECT * FROM {v2}.session__notes {ORDER}")
    assert q(f"SELECT * FROM {v1}.session {ORDER}") == \
        q(f"SELECT m.subject_id, m.session_id, m.start, p.notes, p.rating FROM {v2}.session AS m LEFT JOIN "
          f"{v2}.session__notes AS p USING (subject_id, session_id) ORDER BY m.subject_id, m.session_id")
    assert q(f"SELECT * FROM {v1}.subject ORDER BY subject_id") == q(f"SELECT * FROM {v2}.subject ORDER BY subject_id")


def _clean_both_ways(s: FastScenario) -> None:
    verified_both_ways(s, {("session", BACK), ("session", FORWARD), ("session__notes", FORWARD)})

def test_part_extraction_syncs_both_ways_from_60(db, prefix, dj_env, tmp_path, server_settings):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    checked = s.run("plan", "check", str(s.plan_path))
    src, dst = s.sources[0], s.v2()
    assert f"sync: {dst}.session <-> {src}.session: two-way" in checked.stderr, checked.stderr
    assert f"sync: {dst}.session__notes <-> {src}.session: two-way through {dst}.session" in checked.stderr
    s.generate()
    v1, v2 = f"`{src}`", f"`{dst}`"
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")

    # before 60: v1 writes carried as before; a v2 part write refused (W6)
    db.execute(f"INSERT INTO {v1}.session VALUES (1, 9, '2024-02-02', 'before 60', NULL)")
    refused_at_write(db, f"UPDATE {v2}.session__notes SET rating = 5 WHERE subject_id = 1 AND session_id = 9", "W6",
             "session")
    s.backfill()
    applied(s, "60_constraints")
    _same_both_ways(s)
    _clean_both_ways(s)

    # from 60: a master and its part in one transaction, as DataJoint inserts them; a master without a part
    client = connect(server_settings)
    try:
        client.execute("BEGIN")
        client.execute(f"INSERT INTO {v2}.session VALUES (2, 7, '2024-03-03 10:00:00')")
        client.execute(f"INSERT INTO {v2}.session__notes VALUES (2, 7, 'from v2', NULL)")
        client.execute("COMMIT")
    finally:
        client.close()
    db.execute(f"INSERT INTO {v2}.session VALUES (2, 8, '2024-03-03 11:00:00')")
    assert db.query(f"SELECT notes, rating FROM {v1}.session WHERE subject_id = 2 AND session_id IN (7, 8) "
                    "ORDER BY session_id") == [{"notes": "from v2", "rating": None}, {"notes": None, "rating": None}]
    # a part row updated; added to a master without one; deleted; a master's non-key column
    db.execute(f"UPDATE {v2}.session__notes SET rating = 4, notes = NULL WHERE subject_id = 3 AND session_id = 3")
    db.execute(f"INSERT INTO {v2}.session__notes VALUES (3, 1, NULL, 1)")
    db.execute(f"DELETE FROM {v2}.session__notes WHERE subject_id = 4 AND session_id = 2")
    db.execute(f"UPDATE {v2}.session SET start = '2025-01-01' WHERE subject_id = 5")
    # deleted as DataJoint deletes: the part first, then the master
    db.execute(f"DELETE FROM {v2}.session__notes WHERE subject_id = 6")
    db.execute(f"DELETE FROM {v2}.session WHERE subject_id = 6")
    # key moves: a session renumbered (v2's ON UPDATE CASCADE moves its part row), a subject renumbered
    db.execute(f"UPDATE {v2}.session SET session_id = 30 WHERE subject_id = 7 AND session_id = 3")
    db.execute(f"UPDATE {v2}.subject SET subject_id = 80 WHERE subject_id = 8")
    assert db.query(f"SELECT notes, rating FROM {v1}.session WHERE subject_id = 7 AND session_id = 30") == \
        [{"notes": "note 7/3", "rating": 7}]
    _same_both_ways(s)

    # a part row of NULLs has no v1 form: refused, inserted or updated to it; nothing changed
    before = db.query(f"SELECT * FROM {v1}.session {ORDER}")
    refused_at_write(db, f"INSERT INTO {v2}.session__notes VALUES (2, 8, NULL, NULL)", "W10", "session__notes")
    refused_at_write(db, f"UPDATE {v2}.session__notes SET notes = NULL, rating = NULL WHERE subject_id = 9 AND "
             "session_id = 2", "W10", "session__notes")
    assert db.query(f"SELECT * FROM {v1}.session {ORDER}") == before

    # v1 writes keep working: moved columns set to NULL (the part row goes) and back, a key move, a delete
    db.execute(f"UPDATE {v1}.session SET notes = NULL, rating = NULL WHERE subject_id = 9")
    db.execute(f"UPDATE {v1}.session SET rating = 2 WHERE subject_id = 9 AND session_id = 1")
    db.execute(f"UPDATE {v1}.session SET session_id = session_id + 10 WHERE subject_id = 10")
    db.execute(f"DELETE FROM {v1}.session WHERE subject_id = 5 AND session_id = 2")
    db.execute(f"UPDATE {v1}.subject SET subject_id = 100 WHERE subject_id = 10")
    _same_both_ways(s)
    _clean_both_ways(s)


def test_a_moved_column_v1_declares_not_null_keeps_the_tables_one_way(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1 + ";\nUPDATE session SET notes = COALESCE(notes, '');\n"
                "ALTER TABLE session MODIFY notes varchar(64) NOT NULL DEFAULT ''")
    s.plan(_two_way(s))
    checked = s.run("plan", "check", str(s.plan_path)).stderr
    src, dst = s.sources[0], s.v2()
    assert f"sync: {dst}.session <- {src}.session: one-way (v1's notes moved to {dst}.session__notes and NOT NULL: " \
           "a v2 master without its part row (DataJoint inserts it first) has no v1 form)" in checked, checked
    assert f"sync: {dst}.session__notes <- {src}.session: one-way (an extracted part goes back through its " \
           f"master's rows, and {dst}.session syncs one way)" in checked, checked


MERGE_V1 = """
CREATE TABLE subject (subject_id int NOT NULL, name varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id))
  ENGINE=InnoDB;
CREATE TABLE scan (subject_id int NOT NULL, scan_id int NOT NULL, depth float NOT NULL,
  PRIMARY KEY (subject_id, scan_id),
  CONSTRAINT scan_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE scan__quality (subject_id int NOT NULL, scan_id int NOT NULL, snr double NOT NULL,
  verdict varchar(8) NOT NULL DEFAULT '', ok tinyint NULL, PRIMARY KEY (subject_id, scan_id),
  CONSTRAINT quality_scan FOREIGN KEY (subject_id, scan_id) REFERENCES scan (subject_id, scan_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO subject (subject_id) SELECT seq FROM seq_1_to_10;
INSERT INTO scan SELECT s.seq, k.seq, s.seq + k.seq / 10 FROM seq_1_to_10 AS s, seq_1_to_3 AS k;
INSERT INTO scan__quality SELECT subject_id, scan_id, depth * 3, IF(scan_id = 2, 'good', ''), IF(scan_id = 1, 1, NULL)
  FROM scan WHERE subject_id % 4 <> 0
"""
SCAN = "ORDER BY subject_id, scan_id"


def _merged(s: FastScenario):
    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        s.tables(plan)["scan__quality"] = {"merge_into_master": True}
    return edit


def _merge_same_both_ways(s: FastScenario) -> None:
    """Independently of verify: v2's scan is v1's scan LEFT JOIN its quality row (forward), and v1's scan and
    scan__quality are v2's scan and its rows with a quality column set (reverse)."""
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    q = s.db.query
    assert q(f"SELECT m.*, p.snr, p.verdict, p.ok FROM {v1}.scan AS m LEFT JOIN {v1}.scan__quality AS p "
             f"USING (subject_id, scan_id) ORDER BY m.subject_id, m.scan_id") == q(f"SELECT * FROM {v2}.scan {SCAN}")
    assert q(f"SELECT * FROM {v1}.scan__quality {SCAN}") == \
        q(f"SELECT subject_id, scan_id, snr, verdict, ok FROM {v2}.scan WHERE snr IS NOT NULL OR verdict IS NOT NULL "
          f"OR ok IS NOT NULL {SCAN}")
    assert q(f"SELECT * FROM {v1}.scan {SCAN}") == q(f"SELECT subject_id, scan_id, depth FROM {v2}.scan {SCAN}")


def test_part_merge_syncs_both_ways_from_60(db, prefix, dj_env, tmp_path, server_settings):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(MERGE_V1)
    s.plan(_merged(s))
    checked = s.run("plan", "check", str(s.plan_path))
    src, dst = s.sources[0], s.v2()
    assert f"sync: {dst}.scan <-> {src}.scan: two-way" in checked.stderr, checked.stderr
    s.generate()
    v1, v2 = f"`{src}`", f"`{dst}`"
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    db.execute(f"INSERT INTO {v1}.scan__quality VALUES (4, 1, 0.5, 'late', NULL)")  # before 60: v1 as before
    refused_at_write(db, f"UPDATE {v2}.scan SET snr = 1 WHERE subject_id = 4 AND scan_id = 1", "W6", "scan")
    s.backfill()
    applied(s, "60_constraints")
    _merge_same_both_ways(s)
    verified_both_ways(s, {("scan", BACK), ("scan", FORWARD)})
    # the part's v1 rows are checked against reverse(v2) too, beside the master's
    _, tables, _ = verify_report(s)
    back = [t for t in tables if t["direction"] == BACK and t["from_v1"] == f"{src}.scan__quality"]
    assert len(back) == 1 and back[0]["result"] == "OK" and back[0]["v1_rows"] == 25, tables
    status = s.run("status", str(s.plan_path)).stdout
    assert "scan__quality" not in status or "differs" not in status, status

    # from 60: a v2 row with quality values makes v1's scan and scan__quality rows; one without makes a scan alone
    db.execute(f"INSERT INTO {v2}.scan VALUES (1, 7, 1.5, 2.5, 'ok', 1), (1, 8, 1.5, NULL, NULL, NULL)")
    assert db.query(f"SELECT scan_id, snr FROM {v1}.scan__quality WHERE subject_id = 1 AND scan_id > 6") == \
        [{"scan_id": 7, "snr": 2.5}]
    # quality values changed, added to a scan without, cleared (v1's part row goes), a scan's depth
    db.execute(f"UPDATE {v2}.scan SET snr = snr * 2, ok = NULL WHERE subject_id = 2")
    db.execute(f"UPDATE {v2}.scan SET snr = 9, verdict = 'new' WHERE subject_id = 8 AND scan_id = 1")
    db.execute(f"UPDATE {v2}.scan SET snr = NULL, verdict = NULL, ok = NULL WHERE subject_id = 3 AND scan_id = 3")
    db.execute(f"UPDATE {v2}.scan SET depth = 0 WHERE subject_id = 5")
    # deletes (v1's part row first, then its scan), a scan renumbered, a subject renumbered (both sides' cascades)
    db.execute(f"DELETE FROM {v2}.scan WHERE subject_id = 6")
    db.execute(f"UPDATE {v2}.scan SET scan_id = 30 WHERE subject_id = 7 AND scan_id = 3")
    db.execute(f"UPDATE {v2}.subject SET subject_id = 90 WHERE subject_id = 9")
    _merge_same_both_ways(s)

    # no v1 form: quality values without the snr v1's part row needs (W10, naming the column); nothing changed
    before = db.query(f"SELECT * FROM {v1}.scan__quality {SCAN}")
    with pytest.raises(ServerError) as failed:
        db.execute(f"UPDATE {v2}.scan SET snr = NULL WHERE subject_id = 1 AND scan_id = 1")
    e = failed.value
    assert e.errno == 1644 and "djsqlgen W10" in e.message and "(snr)" in e.message and "scan" in e.message, e
    assert len(e.message) <= 128, e.message
    refused_at_write(db, f"INSERT INTO {v2}.scan VALUES (1, 9, 1, NULL, 'bad', NULL)", "W10", "scan")
    assert db.query(f"SELECT * FROM {v1}.scan__quality {SCAN}") == before

    # v1 writes keep working: a scan then its quality row, as DataJoint 0.14 inserts them; a quality row changed,
    # deleted; a scan deleted after its part
    client = connect(server_settings)
    try:
        client.execute("BEGIN")
        client.execute(f"INSERT INTO {v1}.scan VALUES (10, 9, 10.9)")
        client.execute(f"INSERT INTO {v1}.scan__quality VALUES (10, 9, 32.7, 'v1', 1)")
        client.execute("COMMIT")
    finally:
        client.close()
    db.execute(f"UPDATE {v1}.scan__quality SET verdict = 'changed' WHERE subject_id = 10")
    db.execute(f"DELETE FROM {v1}.scan__quality WHERE subject_id = 5 AND scan_id = 2")
    db.execute(f"DELETE FROM {v1}.scan__quality WHERE subject_id = 10 AND scan_id = 1")
    db.execute(f"DELETE FROM {v1}.scan WHERE subject_id = 10 AND scan_id = 1")
    db.execute(f"UPDATE {v1}.subject SET subject_id = 100 WHERE subject_id = 10")
    _merge_same_both_ways(s)
    verified_both_ways(s, {("scan", BACK), ("scan", FORWARD)})


def test_a_merged_part_of_nullable_columns_keeps_its_master_one_way(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(MERGE_V1.replace("snr double NOT NULL", "snr double NULL")
                .replace("verdict varchar(8) NOT NULL DEFAULT ''", "verdict varchar(8) NULL"))
    s.plan(_merged(s))
    checked = s.run("plan", "check", str(s.plan_path)).stderr
    src, dst = s.sources[0], s.v2()
    assert f"sync: {dst}.scan <- {src}.scan: one-way (every column of the merged part {src}.scan__quality allows " \
           "NULL: a part row of NULLs and no part row are the same v2 row)" in checked, checked


def test_the_round_trip_check_covers_an_extracted_part(db, prefix, dj_env, tmp_path):
    """A moved value that would not come back from the v2 part (a CHAR drops trailing spaces) refuses two-way,
    naming the column and v1's key."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1 + ";\nUPDATE session SET notes = 'padded  ' WHERE subject_id = 2 AND session_id = 2")

    def edit(plan: dict) -> None:
        _two_way(s)(plan)
        s.tables(plan)["session"]["columns"] = {"subject_id": "keep", "session_id": "keep", "start": "keep",
                                                "notes": {"type": "char(64)"}, "rating": "keep"}
    s.plan(edit)
    checked = s.run("plan", "check", str(s.plan_path), check=False)
    expected = f"{s.sources[0]}.session.notes at key [\"2\", \"2\"] does not come back from v2 byte for byte"
    assert checked.returncode != 0 and expected in checked.stdout + checked.stderr, checked
    s.db.execute(f"UPDATE `{s.sources[0]}`.session SET notes = 'padded' WHERE subject_id = 2 AND session_id = 2")
    assert s.run("plan", "check", str(s.plan_path)).returncode == 0


@pytest.mark.parametrize("shape", ["extract", "merge"])
def test_datajoint_2_on_v2_and_datajoint_014_on_v1_with_parts(db, prefix, dj_env, tmp_path, dj014_python, shape):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    two_way_at_60(s, V1 if shape == "extract" else MERGE_V1, _two_way if shape == "extract" else _merged)
    datajoint_on_both_sides(s, dj014_python, shape)
    (_same_both_ways if shape == "extract" else _merge_same_both_ways)(s)
    v1 = f"`{s.sources[0]}`"
    master = "session" if shape == "extract" else "scan"
    # 2 x 12 rows a side, a third of them deleted
    assert db.query(f"SELECT COUNT(*) AS n FROM {v1}.{master} WHERE {master}_id >= 600") == [{"n": 32}]
    verified_both_ways(s, {(master, BACK), (master, FORWARD)})
