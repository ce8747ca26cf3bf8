"""What a dual-write trigger runs for one v1 write (issue 21, target: v1 write throughput with the triggers at least
half of without). Every statement of a trigger body costs the writer, and so does every line of it: each open of the
v1 table parses its triggers again. Counted here statement by statement (SHOW PROFILES lists each statement a
trigger runs) on the server:

- an UPDATE that changes no key column (DataJoint's update1 cannot change one) rewrites the row and nothing else:
  no progress read, no row written first, no key move;
- a key move that reaches a child table only through v1's ON UPDATE CASCADE moves the child's v2 rows (their key
  is all that changed) and does not read and rewrite each of them again.

v2 must still equal v1 afterwards (verify), before and after the backfill.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from support.safety import FastScenario, applied

from djsqlgen.run.db import connect

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, note varchar(20) NOT NULL, PRIMARY KEY (subject_id)) ENGINE=InnoDB;
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, session_note varchar(20) NOT NULL,
  PRIMARY KEY (subject_id, session_id),
  CONSTRAINT session_ibfk_1 FOREIGN KEY (subject_id) REFERENCES subject (subject_id) ON UPDATE CASCADE) ENGINE=InnoDB;
INSERT INTO subject SELECT seq, CONCAT('s', seq) FROM seq_1_to_6;
INSERT INTO session SELECT s.seq, k.seq, CONCAT('n', s.seq, '.', k.seq) FROM seq_1_to_6 AS s, seq_1_to_3 AS k
"""


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan()
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    return s


def _trigger_statements(settings, sql: str) -> list[str]:
    """The statements the triggers ran for ``sql`` (one v1 write, in a session of its own), in order. v2's write
    trackers (installed by 30, recording only once v1 is closed) are off meanwhile: SHOW PROFILES lists a statement
    that fires a trigger as that trigger's statements only, so each v2 write would hide behind its tracker's."""
    with connect(settings) as db, _without_v2_trackers(db, sql):
        db.execute("SET SESSION profiling_history_size = 100")
        db.execute("SET SESSION profiling = 1")
        db.execute(sql)
        listed = [" ".join(r["Query"].split()) for r in db.query("SHOW PROFILES")]
    # each trigger's first statement reads whether v1 is closed (the cut-over's sides row): a read of one row by its
    # key, the same for every write, left out here
    return [q for q in listed if q != " ".join(sql.split()) and not q.startswith("SET SESSION profiling")
            and "`.`sides` WHERE side = " not in q]


@contextmanager
def _without_v2_trackers(db, sql: str):
    v2 = sql.split("`")[1] + "_v2"
    trackers = db.query(f"SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = "
                        f"'{v2}' AND TRIGGER_NAME LIKE '%\\_track\\_%'")
    assert trackers, v2
    created = [db.query(f"SHOW CREATE TRIGGER `{v2}`.`{t['name']}`")[0]["SQL Original Statement"] for t in trackers]
    for t in trackers:
        db.execute(f"DROP TRIGGER `{v2}`.`{t['name']}`")
    try:
        yield
    finally:
        db.execute(f"USE `{v2}`")
        for statement in created:
            db.execute(statement)


@pytest.mark.parametrize("copied", [False, True], ids=["before the backfill", "after the backfill"])
def test_an_update_of_no_key_column_only_rewrites_its_row(scenario, server_settings, copied):
    v1, v2 = scenario.sources[0], scenario.v2()
    if copied:
        assert scenario.backfill(chunk_rows=4).returncode == 0
    ran = _trigger_statements(server_settings, f"UPDATE `{v1}`.subject SET note = 'changed' WHERE subject_id = 2")
    assert len(ran) == 1 and ran[0].startswith(f"INSERT INTO `{v2}`.`subject`"), ran
    if not copied:
        assert scenario.backfill(chunk_rows=4).returncode == 0
    assert scenario.verify().returncode == 0


def test_a_key_move_moves_its_cascaded_children_without_rewriting_them(scenario, server_settings):
    v1, v2 = scenario.sources[0], scenario.v2()
    assert scenario.backfill(chunk_rows=4).returncode == 0
    ran = _trigger_statements(server_settings, f"UPDATE `{v1}`.subject SET subject_id = 60 WHERE subject_id = 3")
    on_sessions = [q for q in ran if f"`{v2}`.`session`" in q]
    assert len(on_sessions) == 1 and on_sessions[0].startswith(f"UPDATE `{v2}`.`session` AS dst"), ran
    rows = scenario.sql(f"SELECT subject_id, session_id, session_note FROM `{v2}`.session WHERE subject_id IN (3, 60) "
                        "ORDER BY session_id")
    assert [tuple(r.values()) for r in rows] == [(60, k, f"n3.{k}") for k in (1, 2, 3)]
    assert scenario.verify().returncode == 0


def test_a_key_move_before_the_backfill_still_carries_rows_not_copied_yet(scenario):
    v1, v2 = scenario.sources[0], scenario.v2()
    scenario.sql(f"UPDATE `{v1}`.subject SET subject_id = 70, note = 'moved' WHERE subject_id = 4")
    rows = scenario.sql(f"SELECT subject_id, session_id, session_note FROM `{v2}`.session ORDER BY session_id")
    assert [tuple(r.values()) for r in rows] == [(70, k, f"n4.{k}") for k in (1, 2, 3)]
    assert scenario.backfill(chunk_rows=4).returncode == 0
    assert scenario.verify().returncode == 0
