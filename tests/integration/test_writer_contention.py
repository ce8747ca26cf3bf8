"""Concurrent v1 writers under the dual-write triggers of every relationship change: no deadlock, no lock wait
timeout, and v2 exact afterwards.

The triggers read v1 and write v2 inside each user's statement, so writers that never met before meet on v2's rows
(a lookup row shared by many v1 rows, a master row recomputed from its merged part). Found when closing the stop:
a lookup's insert check took a shared lock before its upsert's exclusive one, and two inserts of one key deadlocked
on the upgrade (398 of 2,400 writes failed with 1213 under six writers). Six writers each insert, update and delete
rows of their own, all sharing the same few lookup keys and split sides; then verify is clean.
"""

from __future__ import annotations

import random
import threading

import pytest
from support.safety import FastScenario, applied, steps

from djsqlgen.run.db import ServerError, connect

V1 = """
CREATE TABLE probe_insertion (id int NOT NULL, probe varchar(16) NOT NULL, vendor varchar(16) NOT NULL,
  modality varchar(8) NOT NULL, notes varchar(16) NULL, PRIMARY KEY (id)) ENGINE=InnoDB;
CREATE TABLE probe_insertion__qc (id int NOT NULL, score int NOT NULL, PRIMARY KEY (id),
  CONSTRAINT qc_insertion FOREIGN KEY (id) REFERENCES probe_insertion (id) ON UPDATE CASCADE ON DELETE RESTRICT)
  ENGINE=InnoDB;
INSERT INTO probe_insertion SELECT seq, ELT(1 + seq % 2, 'np1', 'np2'), 'imec', ELT(1 + seq % 2, 'ephys', 'imaging'),
  NULL FROM seq_1_to_20
"""
SHAPES = {
    "lookup": {"probe_insertion": {"lookups": [{"table": "#probe", "key": ["probe"], "columns": ["vendor"]}]}},
    "split": {"probe_insertion": {"split": [{"table": "ephys_insertion", "where": "modality = 'ephys'"},
                                            {"table": "imaging_insertion", "where": "modality = 'imaging'"}]},
              # a split table's children would have to choose a side: qc keeps no reference to it
              "probe_insertion__qc": {"drop_references": ["probe_insertion"]}},
    "part and merge": {"probe_insertion": {"parts": [{"name": "notes", "columns": ["notes"]}]},
                       "probe_insertion__qc": {"merge_into_master": True}},
}
WRITERS, WRITES = 6, 80


def _write(settings, schema: str, worker: int, failures: list) -> None:
    rng = random.Random(worker)
    with connect(settings) as db:
        for i in range(WRITES):
            rid = 1000 + worker * 1000 + i
            probe = rng.choice(["np1", "np2"])
            try:
                db.execute(f"INSERT INTO `{schema}`.probe_insertion VALUES (%s, %s, 'imec', %s, NULL)",
                           [rid, probe, rng.choice(["ephys", "imaging"])])
                db.execute(f"INSERT INTO `{schema}`.probe_insertion__qc VALUES (%s, %s)", [rid, i])
                db.execute(f"UPDATE `{schema}`.probe_insertion SET notes = %s, modality = %s WHERE id = %s",
                           [rng.choice([None, "ok"]), rng.choice(["ephys", "imaging"]), rid])
                if i % 3 == 2:
                    db.execute(f"DELETE FROM `{schema}`.probe_insertion__qc WHERE id = %s", [rid - 1])
                    db.execute(f"DELETE FROM `{schema}`.probe_insertion WHERE id = %s", [rid - 1])
            except ServerError as exc:
                failures.append((exc.errno, exc.message))


@pytest.mark.parametrize("shape", SHAPES)
def test_concurrent_writers_never_deadlock_on_the_triggers(shape, db, prefix, dj_env, tmp_path, server_settings):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(lambda plan: s.tables(plan).update(SHAPES[shape]))
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=5)
    applied(s, "60_constraints")  # with v2's foreign keys: the order the triggers write in matters most
    failures: list = []
    threads = [threading.Thread(target=_write, args=(server_settings, s.sources[0], w, failures))
               for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [], failures[:5]
    assert s.verify().returncode == 0


REKEY_V1 = """
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, start datetime NOT NULL,
  PRIMARY KEY (subject_id, session_id)) ENGINE=InnoDB;
CREATE TABLE session__tag (subject_id int NOT NULL, session_id int NOT NULL, tag varchar(8) NOT NULL,
  PRIMARY KEY (subject_id, session_id, tag),
  CONSTRAINT tag_session FOREIGN KEY (subject_id, session_id) REFERENCES session (subject_id, session_id)
  ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO session SELECT seq, 1, '2024-01-01' + INTERVAL seq HOUR FROM seq_1_to_10;
INSERT INTO session__tag SELECT seq, 1, 'x' FROM seq_1_to_10
"""


def test_two_clients_inserting_a_parent_then_its_parts_do_not_deadlock(db, prefix, dj_env, tmp_path, server_settings):
    """Found by CI (1213 between two DataJoint 0.14 clients, about one run in four): with the child following its
    parent's new key through a join, a parent's INSERT trigger looked for the children that read it, which took a
    shared lock on the children's gap; two clients each inserting a session and then its tags both held it, and
    each tag insert waited for the other. Interleaved here step by step, so it deadlocked every time."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(REKEY_V1)
    s.plan(lambda plan: s.tables(plan)["session"].update({"key": ["subject_id", "start"],
                                                          "columns": {"subject_id": "keep", "session_id": "drop",
                                                                      "start": "keep"}}))
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=5)
    schema = s.sources[0]
    first, second = connect(server_settings), connect(server_settings)
    try:
        for i, c in enumerate((first, second)):  # each inserts a session, in its own open transaction
            c.execute("BEGIN")
            c.execute(f"INSERT INTO `{schema}`.session VALUES (%s, 1, '2025-01-01')", [100 + i])
        failures: list = []
        tags = f"INSERT INTO `{schema}`.session__tag VALUES (%s, 1, 'a'), (%s, 1, 'b')"
        waiting = threading.Thread(target=steps, args=(first, [(tags, [100, 100]), ("COMMIT", None)], failures))
        waiting.start()
        waiting.join(timeout=1)  # before the fix it waits here for the second client's gap lock
        steps(second, [(tags, [101, 101]), ("COMMIT", None)], failures)
        waiting.join()
        assert failures == [], failures
    finally:
        first.close()
        second.close()
    assert s.verify().returncode == 0
    assert db.query(f"SELECT COUNT(*) AS n FROM `{schema}_v2`.session__tag WHERE subject_id >= 100") == [{"n": 4}]


MOVES_V1 = """
CREATE TABLE subject (subject_id int NOT NULL, name varchar(16) NOT NULL, PRIMARY KEY (subject_id)) ENGINE=InnoDB;
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, PRIMARY KEY (subject_id, session_id),
  CONSTRAINT session_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
  ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO subject SELECT seq, CONCAT('s', seq) FROM seq_1_to_10;
INSERT INTO session SELECT seq, 1 FROM seq_1_to_5
"""


@pytest.mark.parametrize("after", ["backfill", "60_constraints"])
def test_two_clients_moving_keys_to_the_end_of_the_index_do_not_deadlock(after, db, prefix, dj_env, tmp_path,
                                                                           server_settings):
    """Found by CI (1213 between two DataJoint 0.14 clients renumbering subjects past the last one, about one run in
    six): before moving a v2 key, each trigger looked for a v2 row already at the new key, which took a shared lock
    on the gap where the key was about to go; two clients both held it and each insert waited for the other. A key
    that maps v1 rows one to one by its structure cannot merge, so nothing is looked up there any more. Interleaved
    here step by step, so it deadlocked every time before."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(MOVES_V1)
    s.plan()
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=5)
    if after == "60_constraints":  # v2's own ON UPDATE CASCADE then moves v2's sessions
        applied(s, "60_constraints")
    schema = s.sources[0]
    first, second = connect(server_settings), connect(server_settings)
    move = f"UPDATE `{schema}`.subject SET subject_id = %s WHERE subject_id = %s"
    failures: list = []
    try:
        for c in (first, second):
            c.execute("BEGIN")
        steps(first, [(move, [1001, 1])], failures)  # a subject with a session, then ones without (no v1 cascade)
        waiting = threading.Thread(target=steps, args=(second, [(move, [1006, 6])], failures))
        waiting.start()
        waiting.join(timeout=1)  # before the fix it waits here for the first client's gap lock
        steps(first, [(move, [1007, 7])], failures)
        if not failures:
            first.execute("COMMIT")
        waiting.join()  # (the second connection is the thread's until its statement returns)
        assert failures == [], failures
        second.execute("COMMIT")
    finally:
        first.close()
        second.close()
    assert s.verify().returncode == 0
    assert db.query(f"SELECT subject_id FROM `{schema}_v2`.subject WHERE subject_id > 1000 ORDER BY 1") == [
        {"subject_id": 1001}, {"subject_id": 1006}, {"subject_id": 1007}]
    assert db.query(f"SELECT subject_id FROM `{schema}_v2`.session WHERE subject_id > 1000") == [{"subject_id": 1001}]
    for table in ("subject", "session"):  # and every row, compared independently of verify
        assert s.rows(s.v2(), table) == s.rows(schema, table)
