"""The backfill yields to the lab's writers: a chunk never makes a writer's transaction fail.

A chunk reads v1 with shared locks (so that a writer to those rows waits for its commit and its trigger then writes
the newer values). InnoDB breaks a deadlock by rolling back the lighter transaction, and a chunk that has copied
rows is the heavier one: if a chunk ever waited for a writer's lock while holding locks the writer needs next, the
writer lost. Found by CI (1213 in a DataJoint 0.14 client, about one run in ten of test_rekey_datajoint): 0.14's
cascading delete first tries the parent's DELETE, which fails on the foreign key but keeps its lock on the parent
row and a shared one on its children; a chunk of the children then held a child and waited for the parent, and
the client's DELETE of the children closed the cycle. A chunk now never waits for a row lock: it gives up at once,
its transaction rolled back, and is tried again after a pause.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from support.lock_waits import POLL_S
from support.safety import FastScenario, applied, steps

from djsqlgen.errors import DjsqlgenError
from djsqlgen.plan.file import load_plan
from djsqlgen.run import driver
from djsqlgen.run.backfill_control import BackfillAborted, request
from djsqlgen.run.db import ServerError, connect

V1 = """
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, start datetime NOT NULL,
  PRIMARY KEY (subject_id, session_id)) ENGINE=InnoDB;
CREATE TABLE session__tag (subject_id int NOT NULL, session_id int NOT NULL, tag varchar(8) NOT NULL,
  PRIMARY KEY (subject_id, session_id, tag),
  CONSTRAINT tag_session FOREIGN KEY (subject_id, session_id) REFERENCES session (subject_id, session_id)
  ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO session SELECT seq, 1, '2024-01-01' + INTERVAL seq HOUR FROM seq_1_to_10;
INSERT INTO session__tag SELECT s.seq, 1, CONCAT('t', t.seq) FROM seq_1_to_10 AS s, seq_1_to_20 AS t
"""


def _rekeyed(s: FastScenario) -> None:
    """Sessions re-keyed by their start time; their tags follow through a join to v1's session. One chunk holds
    every tag, so a chunk that meets session 5 has copied 80 tags before: it is the heavier transaction."""

    def edit(plan: dict) -> None:
        plan["chunk"]["rows"] = 1000
        s.tables(plan)["session"].update({"key": ["subject_id", "start"],
                                          "columns": {"subject_id": "keep", "session_id": "drop", "start": "keep"}})

    s.create_v1(V1)
    s.plan(edit)
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")


def _sessions_only(s: FastScenario, server_settings) -> None:
    """Copy v2's sessions and stop there (an abort after their chunk), so that the tags' chunk is the next."""
    plan = load_plan(s.plan_path)

    def abort_after_sessions(label: str, _rows: int) -> None:
        if label.endswith(".session"):
            request(s.db, plan, "abort")

    with connect(server_settings) as conn, pytest.raises(BackfillAborted):
        driver.backfill(conn, plan, chunk_rows=1000, sleep_ms=0, show_progress=False, on_chunk=abort_after_sessions)
    request(s.db, plan, "resume")


def _when_the_copy_met_the_lock(server_settings, schema: str, gave_up: threading.Event, then) -> None:
    """Run ``then`` once the copy has met the writer's lock: waiting for it (as chunks did before), or given up
    and pausing before its retry (the command line's pause is ``gave_up``; 40_backfill.sql's loop sleeps on the
    server). Never before: a writer that finished before the chunk came would prove nothing."""
    with connect(server_settings) as probe:
        for _ in range(int(20 / POLL_S)):  # INNODB_TRX read every POLL_S: each read sees the server now (lock_waits)
            if gave_up.is_set() or probe.query(
                    "SELECT 1 FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT' AND trx_query LIKE %s "
                    "UNION ALL SELECT 1 FROM information_schema.PROCESSLIST WHERE STATE = 'User sleep' "
                    "AND INFO LIKE '%%v_pause_s%%'", [f"%{schema}%"]):
                return then()
            gave_up.wait(POLL_S)
    raise AssertionError("the copy never met the writer's lock")


@pytest.mark.parametrize("copy", ["djsqlgen backfill", "40_backfill.sql"])
def test_a_datajoint_cascading_delete_during_a_chunk_of_the_children_does_not_fail(copy, db, prefix, dj_env,
                                                                                    tmp_path, server_settings,
                                                                                    monkeypatch):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    _rekeyed(s)
    _sessions_only(s, server_settings)
    schema = s.sources[0]
    gave_up = threading.Event()

    def pause(seconds: float) -> None:  # the command line's pause before it tries a chunk again
        gave_up.set()
        time.sleep(seconds)

    monkeypatch.setattr(driver, "time", SimpleNamespace(monotonic=time.monotonic, sleep=pause))
    writer = connect(server_settings)
    failures: list = []
    # The client deletes a session as 0.14 does: the parent first, which fails on the foreign key (1451) and keeps
    # its locks. The tags' chunk comes next and meets them; then the client deletes the tags, and the session.
    writer.execute("BEGIN")
    with pytest.raises(ServerError, match="foreign key constraint fails"):
        writer.execute(f"DELETE FROM `{schema}`.session WHERE subject_id = 5")
    second_step = threading.Thread(target=_when_the_copy_met_the_lock, args=(
        server_settings, schema, gave_up, lambda: steps(writer, [
            (f"DELETE FROM `{schema}`.session__tag WHERE subject_id = 5", None),
            (f"DELETE FROM `{schema}`.session WHERE subject_id = 5", None),
            ("COMMIT", None)], failures)))
    second_step.start()
    try:
        if copy == "40_backfill.sql":
            s.apply("40_backfill", client=True)
        else:
            with connect(server_settings) as conn:
                driver.backfill(conn, load_plan(s.plan_path), chunk_rows=1000, sleep_ms=0, show_progress=False)
        second_step.join()
        assert failures == [], failures  # before: [(1213, 'Deadlock found when trying to get lock; …')]
    finally:
        writer.close()
    assert s.verify().returncode == 0
    v1 = db.query(f"SELECT s.subject_id, s.start, t.tag FROM `{schema}`.session__tag AS t JOIN `{schema}`.session "
                  "AS s USING (subject_id, session_id) ORDER BY 1, 2, 3")
    assert db.query(f"SELECT subject_id, start, tag FROM `{s.v2()}`.session__tag ORDER BY 1, 2, 3") == v1
    assert len(v1) == 180


def test_rows_locked_for_too_long_stop_the_copy_clearly_and_it_resumes(db, prefix, dj_env, tmp_path,
                                                                        server_settings, monkeypatch):
    """A writer's transaction left open on rows the copy needs (a populate's long make()): the copy says it
    waits, then stops with a clear error instead of waiting forever; run again after, it finishes."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    _rekeyed(s)
    monkeypatch.setattr(driver, "LOCKED_FOR_S", 5)
    plan = load_plan(s.plan_path)
    with connect(server_settings) as writer:
        writer.execute("BEGIN")
        writer.execute(f"UPDATE `{s.sources[0]}`.session__tag SET tag = 'y' WHERE subject_id = 7 AND tag = 't1'")
        with connect(server_settings) as conn, pytest.raises(DjsqlgenError, match="kept rows of its next chunk locked"):
            driver.backfill(conn, plan, chunk_rows=100, sleep_ms=0, show_progress=False)
        state = db.query(f"SELECT state, why FROM `{s.control}`.backfill_run")[0]
        assert state["state"] == "stopped" and "locked by writers" in state["why"], state
        writer.execute("COMMIT")
    with connect(server_settings) as conn:
        driver.backfill(conn, plan, chunk_rows=100, sleep_ms=0, show_progress=False)
    assert s.verify().returncode == 0
    assert db.query(f"SELECT COUNT(*) AS n FROM `{s.v2()}`.session__tag WHERE tag = 'y'") == [{"n": 1}]


def test_a_transaction_that_does_not_wait_gives_up_even_where_it_would_close_a_deadlock(db, server_settings, prefix):
    """The server fact the above relies on (MariaDB 10.11): with innodb_lock_wait_timeout 0 a lock request that
    would close a cycle fails at once with 1205, without the deadlock check that would roll back the lighter
    transaction; with any wait at all, the lighter one, here the writer, is rolled back (1213)."""
    outcomes = {}
    probe = f"{prefix}_nowait_probe"  # the test's own name; the prefix fixture drops what is left
    for wait in (0, 1):
        db.execute(f"CREATE DATABASE {probe}")
        for t in ("parent", "child"):
            db.execute(f"CREATE TABLE {probe}.{t} (id int PRIMARY KEY, v int) ENGINE=InnoDB")
            db.execute(f"INSERT INTO {probe}.{t} VALUES (1, 0)")
        db.execute(f"CREATE TABLE {probe}.copied (id int PRIMARY KEY) ENGINE=InnoDB")
        chunk, writer = connect(server_settings), connect(server_settings)
        failures: list = []
        try:
            chunk.execute("BEGIN")  # a chunk that has copied rows, and holds a child
            chunk.execute(f"INSERT INTO {probe}.copied SELECT seq FROM {probe}.seq_1_to_1000")
            chunk.execute(f"SELECT * FROM {probe}.child WHERE id = 1 LOCK IN SHARE MODE")
            writer.execute("BEGIN")  # a writer that holds the parent, then waits for the child
            writer.execute(f"UPDATE {probe}.parent SET v = 1 WHERE id = 1")
            waiting = threading.Thread(target=steps, args=(writer, [
                (f"UPDATE {probe}.child SET v = 1 WHERE id = 1", None)], failures))
            waiting.start()
            waiting.join(timeout=0.5)
            chunk.execute(f"SET SESSION innodb_lock_wait_timeout = {wait}")
            steps(chunk, [(f"SELECT * FROM {probe}.parent WHERE id = 1 LOCK IN SHARE MODE", None)],
                  failures)
            chunk.execute("ROLLBACK")
            waiting.join()
            writer.execute("ROLLBACK")
        finally:
            chunk.close()
            writer.close()
        outcomes[wait] = [errno for errno, _ in failures]
        db.execute(f"DROP DATABASE {probe}")
    assert outcomes == {0: [1205], 1: [1213]}, outcomes
