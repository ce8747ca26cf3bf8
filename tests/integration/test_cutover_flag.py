"""70 closes v1 by a row, not by DDL (issue 21: never-idle writers lost 1213 deadlocks to 70's CREATE/DROP TRIGGER).

A writer holds an open transaction on a v1 table while 70 runs under `djsqlgen apply`. Before, 70 had to change that
table's triggers, so it retried its DDL until the writer's transaction ended, and another client's write to the table
meanwhile still went to v1 (or, once the DDL waited, waited behind it or lost a 1213). Now 70 closes v1 by its sides
row at once: the other client's write is refused with W8 without waiting, the open transaction (its snapshot older
than the close) still writes v1 and, carried, v2; 70 waits for it to end, then completes; no DDL waited for anyone.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time

from support.safety import FastScenario, applied, client, errno_and_message

from djsqlgen.run.db import connect

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, notes varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id))
  ENGINE=InnoDB;
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, PRIMARY KEY (subject_id, session_id),
  FOREIGN KEY (subject_id) REFERENCES subject (subject_id) ON UPDATE CASCADE ON DELETE CASCADE) ENGINE=InnoDB;
INSERT INTO subject (subject_id) SELECT seq FROM seq_1_to_10;
INSERT INTO session SELECT seq, 1 FROM seq_1_to_10
"""


def _through_60(db, prefix, dj_env, tmp_path) -> FastScenario:
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan()
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=5)
    applied(s, "50_verify", "60_constraints")
    return s


def _v1_closed(db, control: str) -> bool:
    return bool(db.query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'sides'",
                         [control])) and db.query(f"SELECT is_open FROM `{control}`.sides WHERE side = 'v1'") == \
        [{"is_open": 0}]


def _apply_in_background(s: FastScenario, name: str) -> tuple[subprocess.Popen, list[str], threading.Thread]:
    proc = subprocess.Popen([sys.executable, "-u", "-m", "djsqlgen", "apply", str(s.out / name)], env=s.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    return proc, said, reader


def test_70_closes_v1_at_once_while_a_writer_holds_a_transaction_and_waits_for_it(db, prefix, dj_env, tmp_path,
                                                                                  server_settings):
    """Before: the other client's write during 70 went into v1 (70 was still retrying its DDL on the table)."""
    s = _through_60(db, prefix, dj_env, tmp_path)
    v1, v2, control = f"`{s.sources[0]}`", f"`{s.v2()}`", f"`{s.control}`"
    writer, other = connect(server_settings), connect(server_settings)
    try:
        writer.execute("BEGIN")  # its snapshot is taken by its first write's trigger, before the close
        writer.execute(f"UPDATE {v1}.subject SET notes = 'open trx' WHERE subject_id = 3")
        cutover, said, reader = _apply_in_background(s, "70_cutover.sql")
        deadline = time.monotonic() + 60
        while not _v1_closed(db, s.control) and not any("waiting for writers" in line for line in said):
            assert time.monotonic() < deadline and cutover.poll() is None, said  # (before: 70 retrying its DDL)
            time.sleep(0.05)
        other.execute("SET SESSION lock_wait_timeout = 5, innodb_lock_wait_timeout = 5")
        started = time.monotonic()
        errno, message = errno_and_message(other, f"UPDATE {v1}.subject SET notes = 'other' WHERE subject_id = 5")
        took = time.monotonic() - started
        assert errno == 1644 and message.startswith(f"djsqlgen W8 {s.sources[0]}.subject is read-only since "), \
            (errno, message)
        assert message.endswith(f"; write to {s.v2()}.subject") and len(message) <= 128, message
        assert took < 2, f"the refused write waited {took:.1f} s"
        time.sleep(1)
        assert cutover.poll() is None, ("70 must wait for the transaction older than the close", said)
        # the open transaction writes on: its snapshot reads v1 open, and its writes are carried into v2
        writer.execute(f"INSERT INTO {v1}.subject (subject_id, notes) VALUES (11, 'late')")
        writer.execute(f"INSERT INTO {v1}.session VALUES (11, 1)")
        writer.execute("COMMIT")
    finally:
        writer.close()
        other.close()
    assert cutover.wait(timeout=120) == 0, said
    reader.join()
    assert not any("waiting for writers" in line for line in said), said  # no DDL had to wait for anyone
    for table, key in (("subject", "subject_id, notes"), ("session", "subject_id, session_id")):
        assert db.query(f"SELECT {key} FROM {v1}.{table} ORDER BY {key}") == \
            db.query(f"SELECT {key} FROM {v2}.{table} ORDER BY {key}"), table
    assert db.query(f"SELECT notes FROM {v2}.subject WHERE subject_id IN (3, 5, 11) ORDER BY subject_id") == \
        [{"notes": "open trx"}, {"notes": ""}, {"notes": "late"}]
    # carried v1 writes are not v2 writes made after the cut-over: rollback/70 has nothing to refuse for them
    assert db.query(f"SELECT COUNT(*) AS n FROM {control}.v2_writes") == [{"n": 0}]
    for sql in (f"INSERT INTO {v1}.subject (subject_id) VALUES (12)", f"DELETE FROM {v1}.session",
                f"UPDATE {v1}.session SET session_id = 2"):
        errno, message = errno_and_message(db, sql)
        assert errno == 1644 and message.startswith("djsqlgen W8 "), (sql, errno, message)
    db.execute(f"INSERT INTO {v2}.subject (subject_id) VALUES (20)")  # v2 is primary: its writes are recorded
    assert db.query(f"SELECT row_key FROM {control}.v2_writes") == [{"row_key": "[20]"}]
    status = s.run("status", str(s.plan_path))
    assert "v1: read-only since " in status.stdout and "(70_cutover.sql)" in status.stdout, status.stdout


def test_rollback_of_70_opens_v1_by_its_row_and_v1_writes_reach_v2_again(db, prefix, dj_env, tmp_path):
    s = _through_60(db, prefix, dj_env, tmp_path)
    v1, v2, control = f"`{s.sources[0]}`", f"`{s.v2()}`", f"`{s.control}`"
    applied(s, "70_cutover")
    assert errno_and_message(db, f"INSERT INTO {v1}.subject (subject_id) VALUES (30)")[0] == 1644
    applied(s, "rollback/70_cutover")
    assert db.query(f"SELECT is_open FROM {control}.sides WHERE side = 'v1'") == [{"is_open": 1}]
    db.execute(f"INSERT INTO {v1}.subject (subject_id, notes) VALUES (30, 'back')")
    assert db.query(f"SELECT notes FROM {v2}.subject WHERE subject_id = 30") == [{"notes": "back"}]
    assert db.query(f"SELECT COUNT(*) AS n FROM {control}.v2_writes") == [{"n": 0}]
    applied(s, "70_cutover")  # and cut over again: closed again
    assert errno_and_message(db, f"DELETE FROM {v1}.subject WHERE subject_id = 30")[0] == 1644


def test_70_stops_after_its_bounded_wait_leaving_v1_closed_and_goes_through_when_applied_again(db, prefix, dj_env,
                                                                                             tmp_path, server_settings):
    s = _through_60(db, prefix, dj_env, tmp_path)
    v1, control = f"`{s.sources[0]}`", f"`{s.control}`"
    writer = connect(server_settings)
    try:
        writer.execute("BEGIN")
        writer.execute(f"UPDATE {v1}.subject SET notes = 'slow' WHERE subject_id = 4")
        started = time.monotonic()
        stopped = client(s.db.settings, s.out / "70_cutover.sql", init_command="SET @djsqlgen_close_wait_s = 1")
        assert time.monotonic() - started < 30
        said = stopped.stdout + stopped.stderr  # (other clients of a shared server may be counted too)
        assert stopped.returncode != 0 and re.search(r"djsqlgen stopped 70_cutover.sql: \d+ transaction\(s\) older than "
                                                     r"v1's close still open at 1 s \(thread \d+\); v1 stays closed\n",
                                                     said), said
        assert db.query(f"SELECT is_open FROM {control}.sides WHERE side = 'v1'") == [{"is_open": 0}]
        assert db.query(f"SELECT COUNT(*) AS n FROM {control}.phase_log WHERE phase = '70'") == [{"n": 0}]
        writer.execute("COMMIT")
    finally:
        writer.close()
    applied(s, "70_cutover")
    assert db.query(f"SELECT notes FROM `{s.v2()}`.subject WHERE subject_id = 4") == [{"notes": "slow"}]
    assert errno_and_message(db, f"UPDATE {v1}.subject SET notes = 'x' WHERE subject_id = 4")[0] == 1644
