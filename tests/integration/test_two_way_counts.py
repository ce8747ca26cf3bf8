"""Two-way sync (issue 24, item 5): `djsqlgen status` counts the rows each direction carried, exactly.

Only committed work counts (a rolled-back transaction, a killed connection's open one: nothing), a committed write
survives its connection, rows an ON DELETE CASCADE removes count with the table they were in, an UPDATE that changes
nothing and the echo of a carried write do not count, nor do the engine's own sessions (backfill, verify).
"""

from __future__ import annotations

import re

import pytest
from support.safety import FastScenario, applied

from djsqlgen.run.db import ServerError, connect

V1 = """
CREATE TABLE subject (
  subject_id int NOT NULL,
  nickname varchar(32) NOT NULL,
  PRIMARY KEY (subject_id)) ENGINE=InnoDB;
CREATE TABLE session (
  subject_id int NOT NULL,
  session_idx int NOT NULL,
  rig varchar(32) NOT NULL DEFAULT 'rig1',
  PRIMARY KEY (subject_id, session_idx),
  CONSTRAINT session_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE CASCADE) ENGINE=InnoDB;
CREATE TABLE session__trial (
  subject_id int NOT NULL,
  session_idx int NOT NULL,
  trial_idx int NOT NULL,
  start_time double NOT NULL,
  PRIMARY KEY (subject_id, session_idx, trial_idx),
  CONSTRAINT trial_session FOREIGN KEY (subject_id, session_idx) REFERENCES session (subject_id, session_idx)
    ON UPDATE CASCADE ON DELETE CASCADE) ENGINE=InnoDB;
INSERT INTO subject VALUES (1, 'Ana'), (2, 'Bo');
INSERT INTO session VALUES (1, 1, 'rig1'), (2, 1, 'rig2');
INSERT INTO session__trial VALUES (1, 1, 1, 0.5), (1, 1, 2, 1.5), (2, 1, 1, 2.5)
"""


def _status_counts(s: FastScenario) -> tuple[dict, dict]:
    """(totals per direction, rows per (direction, table)) as `djsqlgen status` prints them."""
    out = s.run("status", str(s.plan_path)).stdout
    totals = re.search(r"rows carried since 30 \(committed, cascades included\): v1>v2 (\d+); v2>v1 (\d+)", out)
    assert totals, out
    rows = {(m.group(1), m.group(2)): int(m.group(3))
            for m in re.finditer(r"^(v1>v2|v2>v1)\s+(\S+)\s+(\d+)\s*$", out, re.MULTILINE)}
    return {"v1>v2": int(totals.group(1)), "v2>v1": int(totals.group(2))}, rows


def test_status_counts_the_rows_each_direction_carried(db, prefix, dj_env, tmp_path, server_settings):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)

    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        s.tables(plan)["subject"] = {"rename": "animal", "columns": {"subject_id": "keep", "nickname": "keep"}}

    s.plan(edit)
    s.generate()
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    s1, s2 = s.sources[0], s.v2()
    s.forward("60_constraints")  # the backfill and verify (engine sessions) included: they count nothing
    assert _status_counts(s) == ({"v1>v2": 0, "v2>v1": 0}, {})

    a = connect(server_settings)
    a.execute(f"INSERT INTO {v1}.subject VALUES (10, 'Cy'), (11, 'Di')")  # 2 rows, one statement
    a.execute(f"INSERT INTO {v1}.session VALUES (10, 1, 'rig1'), (10, 2, 'rig1'), (11, 1, 'rig3')")
    a.execute(f"INSERT INTO {v1}.session__trial VALUES (10, 1, 1, 0.1), (10, 1, 2, 0.2), (10, 2, 1, 0.3), "
              "(11, 1, 1, 0.4)")
    a.execute(f"UPDATE {v1}.subject SET nickname = 'Cyd' WHERE subject_id = 10")
    a.execute(f"UPDATE {v1}.subject SET nickname = nickname WHERE subject_id = 11")  # changes nothing: no count
    a.execute(f"DELETE FROM {v1}.session__trial WHERE subject_id = 11")
    # v1's ON DELETE CASCADE: the subject, its 2 sessions and their 3 trials
    a.execute(f"DELETE FROM {v1}.subject WHERE subject_id = 10")
    a.execute("BEGIN")  # rolled back: nothing counts
    a.execute(f"INSERT INTO {v1}.subject VALUES (12, 'Ed')")
    a.execute(f"UPDATE {v1}.session SET rig = 'rigX' WHERE subject_id = 1")
    a.execute("ROLLBACK")
    a.close()  # its committed counts survive the connection

    # a connection killed with its transaction open: nothing of it counts; one killed after committing: all
    killer = connect(server_settings)
    for commit in (False, True):
        victim = connect(server_settings)
        victim.execute("BEGIN")
        victim.execute(f"INSERT INTO {v1}.subject VALUES ({20 + commit}, 'Fa')")
        if commit:
            victim.execute("COMMIT")
        killer.execute(f"KILL CONNECTION {victim.query('SELECT CONNECTION_ID() AS i')[0]['i']}")
        with pytest.raises(ServerError):
            victim.query("SELECT 1")
    killer.close()

    # the way back, from 60 on: a transaction of inserts, an update, a plain delete, v2's own cascade
    b = connect(server_settings)
    b.execute("BEGIN")
    b.execute(f"INSERT INTO {v2}.animal VALUES (30, 'Gu')")
    b.execute(f"INSERT INTO {v2}.session VALUES (30, 1, 'rig5')")
    b.execute(f"INSERT INTO {v2}.session__trial VALUES (30, 1, 1, 3.0), (30, 1, 2, 3.5)")
    b.execute("COMMIT")
    b.execute(f"UPDATE {v2}.session SET rig = 'rig6' WHERE subject_id IN (2, 30)")
    b.execute(f"DELETE FROM {v2}.session__trial WHERE subject_id = 2")
    b.execute("BEGIN")  # rolled back: nothing counts
    b.execute(f"DELETE FROM {v2}.animal WHERE subject_id = 1")
    b.execute("ROLLBACK")
    b.execute(f"DELETE FROM {v2}.animal WHERE subject_id = 30")  # v2's cascade: the session and its 2 trials
    b.close()

    s.verify()  # an engine session: counts nothing
    expected = {("v1>v2", f"{s1}.subject"): 2 + 1 + 1 + 1,  # inserted, updated, deleted; the killed one committed
                ("v1>v2", f"{s1}.session"): 3 + 2,  # inserted; cascaded
                ("v1>v2", f"{s1}.session__trial"): 4 + 1 + 3,  # inserted, deleted; cascaded
                ("v2>v1", f"{s2}.animal"): 1 + 1,  # inserted, deleted
                ("v2>v1", f"{s2}.session"): 1 + 2 + 1,  # inserted, updated, cascaded
                ("v2>v1", f"{s2}.session__trial"): 2 + 1 + 2}  # inserted, deleted, cascaded
    totals, rows = _status_counts(s)
    assert rows == expected
    assert totals == {"v1>v2": 18, "v2>v1": 11}
    # status folded the rows of the connections that are gone into one row per table: the same numbers again
    assert db.query(f"SELECT COUNT(*) AS n FROM `{s.control}`.carried WHERE connection_id <> 0")[0]["n"] == 0
    assert _status_counts(s) == (totals, expected)
    # both sides equal after it all
    assert db.query(f"SELECT COUNT(*) AS n FROM {v1}.session__trial")[0]["n"] == \
        db.query(f"SELECT COUNT(*) AS n FROM {v2}.session__trial")[0]["n"]

    applied(s, "rollback/60_constraints", "rollback/50_verify", "rollback/40_backfill", "rollback/30_dualwrite")
    assert not db.query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'carried'",
                        [s.control])


@pytest.mark.parametrize("isolation", ["REPEATABLE READ", "READ COMMITTED"])
def test_counting_makes_no_writer_wait(db, prefix, dj_env, tmp_path, server_settings, isolation):
    """New connections' first counted rows (each inserts its own counter row), open at once, and status folding the
    rows of gone connections meanwhile: nobody waits (a 1 s lock-wait timeout would fail the write), under both
    isolation levels; the counts are exact afterwards."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(lambda plan: plan.update(sync="two-way"))
    s.generate()
    v1 = f"`{s.sources[0]}`"
    s.forward("60_constraints")
    gone = connect(server_settings)
    gone.execute(f"INSERT INTO {v1}.subject VALUES (40, 'gone')")  # a row for status to fold
    gone.close()
    writers = [connect(server_settings) for _ in range(4)]
    try:
        for n, w in enumerate(writers):
            w.execute(f"SET SESSION TRANSACTION ISOLATION LEVEL {isolation}")
            w.execute("SET SESSION innodb_lock_wait_timeout = 1")
            w.execute("BEGIN")
            w.execute(f"INSERT INTO {v1}.subject VALUES ({50 + n}, 'w{n}')")
        totals, _ = _status_counts(s)  # folds the gone connection's row; skips the open transactions' rows
        assert totals == {"v1>v2": 1, "v2>v1": 0}
        for n, w in enumerate(writers):
            w.execute(f"UPDATE {v1}.session SET rig = 'w{n}' WHERE subject_id = {1 + n % 2} AND session_idx = 1")\
                if n < 2 else w.execute(f"INSERT INTO {v1}.session VALUES ({50 + n}, 1, 'r')")
            w.execute("COMMIT")
    finally:
        for w in writers:
            w.close()
    totals, rows = _status_counts(s)
    assert rows == {("v1>v2", f"{s.sources[0]}.subject"): 5, ("v1>v2", f"{s.sources[0]}.session"): 4}
    assert totals == {"v1>v2": 9, "v2>v1": 0}
