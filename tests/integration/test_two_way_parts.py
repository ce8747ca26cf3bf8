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
from integration.test_two_way_verify import BACK, FORWARD, _report
from support.safety import FastScenario, applied

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


def _refused(db, sql: str, code: str, table: str) -> None:
    with pytest.raises(ServerError) as failed:
        db.execute(sql)
    e = failed.value
    assert e.errno == 1644 and f"djsqlgen {code}" in e.message and table in e.message, (sql, e)
    assert len(e.message) <= 128, e.message


def _clean_both_ways(s: FastScenario) -> None:
    code, tables, diffs = _report(s)
    assert code == 0 and diffs == [], (tables, diffs)
    ways = {(t["v2_table"].split(".")[1], t["direction"]) for t in tables}
    assert {("session", BACK), ("session", FORWARD), ("session__notes", FORWARD)} <= ways, ways


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
    _refused(db, f"UPDATE {v2}.session__notes SET rating = 5 WHERE subject_id = 1 AND session_id = 9", "W6",
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
    _refused(db, f"INSERT INTO {v2}.session__notes VALUES (2, 8, NULL, NULL)", "W10", "session__notes")
    _refused(db, f"UPDATE {v2}.session__notes SET notes = NULL, rating = NULL WHERE subject_id = 9 AND "
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
