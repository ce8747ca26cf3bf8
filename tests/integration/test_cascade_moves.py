"""A v1 key move whose children v2's own ON UPDATE CASCADE moves locks no gap v1's write does not (issues 21, 24).

`subject` → `session` (ON UPDATE CASCADE in v1, and in v2 once 60 has added the foreign keys). Moving a subject's key
in v1 fires the forward trigger, which moves v2's subject; from 60 on, v2's cascade then moves its sessions. The
trigger's own "move the v2 keys that changed" of the sessions v1's cascade reached then found nothing at their old
keys, and under REPEATABLE READ locked the next record: a session another client had just inserted next to them (its
own trigger writing it into v2). The mover waited for it (1205 here, 1213 under load: a different-row deadlock the
same statements without triggers never have; v1's own cascade takes only a gap lock there). Before 60 (no v2 foreign
keys) the trigger still moves them itself; rollback/60 gives that back before it drops the keys.
"""

from __future__ import annotations

import time

import pytest
from support.safety import FastScenario, applied, steps

from djsqlgen.run.db import connect

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, note varchar(8) NOT NULL DEFAULT '', PRIMARY KEY (subject_id))
  ENGINE=InnoDB;
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, PRIMARY KEY (subject_id, session_id),
  CONSTRAINT session_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
  ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO subject (subject_id) VALUES (1), (2), (3);
INSERT INTO session VALUES (1, 1), (1, 2), (3, 1)
"""


def _backfilled(s: FastScenario, sync: str = "one-way") -> FastScenario:
    s.create_v1(V1)
    s.plan(lambda plan: plan.update({"sync": sync}))
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=5)
    return s


@pytest.fixture(params=["one-way", "two-way"])
def sync(request) -> str:
    return request.param


@pytest.fixture(params=["backfill", "60_constraints", "rollback_60"])
def scenario(request, sync, db, prefix, dj_env, tmp_path):
    """Dual-writing, before 60, after 60, or after 60 and its rollback; ``s.param`` says which."""
    s = _backfilled(FastScenario(db, prefix, dj_env, tmp_path), sync)
    if request.param != "backfill":
        applied(s, "60_constraints")
    if request.param == "rollback_60":  # the foreign keys gone: the trigger moves the sessions itself again
        applied(s, "rollback/60_constraints")
    s.param = request.param
    return s


def _same(s: FastScenario) -> None:
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    for table in ("subject", "session"):
        assert s.db.query(f"SELECT * FROM {v2}.{table} ORDER BY 1, 2") == \
            s.db.query(f"SELECT * FROM {v1}.{table} ORDER BY 1, 2"), table


def _mover_waits(s: FastScenario, server_settings, v1: str, hold: bool = True, into: str = "") -> tuple[list, float]:
    """Client B inserts session (2, 1) into ``into`` (v1 by default), right after subject 1's sessions, and holds it
    (unless not ``hold``: then it commits first); client A moves subject 1 to 10 in v1. Returns A's failures and how
    long A's UPDATE took."""
    inserter, mover = connect(server_settings), connect(server_settings)
    failures: list = []
    try:
        for c in (inserter, mover):
            c.execute("SET SESSION innodb_lock_wait_timeout = 2")
            c.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            c.execute("BEGIN")
        steps(inserter, [(f"INSERT INTO `{into or v1}`.session VALUES (2, 1)", None)], failures)
        assert failures == [], failures
        if not hold:
            inserter.execute("COMMIT")
        started = time.monotonic()
        steps(mover, [(f"UPDATE `{v1}`.subject SET subject_id = 10 WHERE subject_id = 1", None)], failures)
        took = time.monotonic() - started
        for c in (mover, inserter):
            c.execute("ROLLBACK" if failures else "COMMIT")
    finally:
        inserter.close()
        mover.close()
    return failures, took


def test_a_key_move_waits_for_no_row_inserted_next_to_its_cascaded_children(scenario, sync, server_settings):
    s = scenario
    # The same two statements on a copy of v1 without triggers: they do not meet.
    copy = f"{s.prefix}_copy"
    s.db.execute(f"CREATE DATABASE `{copy}`")
    try:
        for statement in V1.split(";"):
            s.db.execute(statement.replace("REFERENCES subject", f"REFERENCES `{copy}`.subject")
                         .replace("TABLE ", f"TABLE `{copy}`.", 1).replace("INTO ", f"INTO `{copy}`.", 1))
        failures, took = _mover_waits(s, server_settings, copy)
        assert failures == [] and took < 1, (failures, took)
    finally:
        s.db.execute(f"DROP DATABASE `{copy}`")
    # Before 60 (and after its rollback) the trigger's own move still finds the sessions at their old keys: its
    # index range there still reaches the next row (known, left as it is), so the inserter commits first.
    # Two-way from 60 on, a v2 client's insert there too (the bench's deadlock: issue 24).
    after = s.param == "60_constraints"
    failures, took = _mover_waits(s, server_settings, s.sources[0], hold=after)
    assert failures == [] and took < 1, (failures, took)
    if after and sync == "two-way":
        s.db.execute(f"UPDATE `{s.sources[0]}`.subject SET subject_id = 1 WHERE subject_id = 10")
        s.db.execute(f"DELETE FROM `{s.sources[0]}`.session WHERE subject_id = 2")
        _same(s)
        failures, took = _mover_waits(s, server_settings, s.sources[0], into=s.v2())
        assert failures == [] and took < 1, ("a v2 client's insert", failures, took)
    _same(s)
    assert s.db.query(f"SELECT * FROM `{s.v2()}`.session ORDER BY 1, 2") == [
        {"subject_id": 2, "session_id": 1}, {"subject_id": 3, "session_id": 1},
        {"subject_id": 10, "session_id": 1}, {"subject_id": 10, "session_id": 2}]
    assert s.verify().returncode == 0


def test_a_transaction_older_than_rollback_60_still_moves_the_children(db, prefix, dj_env, tmp_path, server_settings):
    """Its snapshot still holds 60's row of phase_log after rollback/60 dropped v2's foreign keys: the trigger's
    locking read sees it gone, and the trigger moves the sessions itself (else they stayed at subject 1 in v2)."""
    s = _backfilled(FastScenario(db, prefix, dj_env, tmp_path))
    applied(s, "60_constraints")
    older = connect(server_settings)
    try:
        older.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        older.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        assert older.query(f"SELECT COUNT(*) AS n FROM `{s.control}`.phase_log WHERE phase = '60'")[0]["n"] == 1
        applied(s, "rollback/60_constraints")
        older.execute(f"UPDATE `{s.sources[0]}`.subject SET subject_id = 10 WHERE subject_id = 1")
        older.execute("COMMIT")
    finally:
        older.close()
    _same(s)
    assert s.db.query(f"SELECT * FROM `{s.v2()}`.session ORDER BY 1, 2") == [
        {"subject_id": 3, "session_id": 1}, {"subject_id": 10, "session_id": 1}, {"subject_id": 10, "session_id": 2}]
