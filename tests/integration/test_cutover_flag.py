"""70 closes v1 by a row, not by DDL (issue 21: never-idle writers lost 1213 deadlocks to 70's CREATE/DROP TRIGGER),
and waits for exactly the transactions that wrote v1 (engines/sides.py: every v1 trigger reads v1's row with a shared
lock held to its transaction's end; the close's UPDATE waits 1 s at a time for it, retried up to a bound).

Before (the first design, reverted in 8a3aac5): the triggers read the row without a lock, so 70 waited for every
transaction on the server older than the close, and an idle one anywhere stopped it with v1 closed.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import threading
import time

from support.safety import FastScenario, applied, client, errno_and_message, refused

from djsqlgen.run.db import ServerError, connect

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, notes varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id))
  ENGINE=InnoDB;
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, PRIMARY KEY (subject_id, session_id),
  FOREIGN KEY (subject_id) REFERENCES subject (subject_id) ON UPDATE CASCADE ON DELETE CASCADE) ENGINE=InnoDB;
INSERT INTO subject (subject_id) SELECT seq FROM seq_1_to_10;
INSERT INTO session SELECT seq, 1 FROM seq_1_to_10
"""
STOPPED = re.compile(r"djsqlgen stopped 70_cutover.sql at \d+ s: an open transaction wrote v1; v1 still open, safe to "
                     r"rerun\n")


def _through_60(db, prefix, dj_env, tmp_path) -> FastScenario:
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan()
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=5)
    applied(s, "50_verify", "60_constraints")
    return s


def _v1_open(db, control: str) -> bool:
    return db.query(f"SELECT is_open FROM `{control}`.sides WHERE side = 'v1'") == [{"is_open": 1}]


def _apply_in_background(s: FastScenario, name: str, bound_s: int | None = None) -> tuple[subprocess.Popen, list[str]]:
    """``djsqlgen apply`` of ``name`` in the background; with ``bound_s``, the stock client with that bound instead."""
    command = [sys.executable, "-u", "-m", "djsqlgen", "apply", str(s.out / name)]
    if bound_s is not None:
        settings = s.db.settings
        command = ["mariadb", f"--host={settings.host}", f"--port={settings.port}", f"--user={settings.user}",
                   "--batch", f"--init-command=SET @djsqlgen_close_wait_s = {bound_s}"]
    proc = subprocess.Popen(command, env=s.env, stdin=subprocess.PIPE if bound_s is not None else None,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said: list[str] = []
    threading.Thread(target=lambda: said.extend(iter(proc.stderr.readline, "")), daemon=True).start()
    if bound_s is not None:
        proc.stdin.write((s.out / name).read_text(encoding="utf-8"))
        proc.stdin.close()
    return proc, said


def _close_waiting(db, control: str) -> bool:
    """The close's UPDATE of the sides row is waiting for a lock now (it waits 1 s an attempt)."""
    return bool(db.query("SELECT 1 FROM information_schema.PROCESSLIST WHERE STATE = 'Updating' AND INFO LIKE %s",
                         [f"UPDATE `{control}`.`sides` SET is_open = 0%"]))


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_70_waits_for_the_transaction_that_wrote_v1_and_other_writers_go_on(db, prefix, dj_env, tmp_path,
                                                                           server_settings):
    """A transaction that wrote v1 holds v1's row shared: 70 waits for it (1 s attempts); meanwhile another client's
    write still goes to v1 and v2 (stalled at most an attempt); once the transaction commits, 70 closes v1."""
    s = _through_60(db, prefix, dj_env, tmp_path)
    v1, v2, control = f"`{s.sources[0]}`", f"`{s.v2()}`", f"`{s.control}`"
    writer, other = connect(server_settings), connect(server_settings)
    try:
        writer.execute("BEGIN")
        writer.execute(f"UPDATE {v1}.subject SET notes = 'open trx' WHERE subject_id = 3")
        cutover, said = _apply_in_background(s, "70_cutover.sql")
        _wait_until(lambda: _close_waiting(db, s.control) or cutover.poll() is not None, 60, said)
        started = time.monotonic()
        other.execute(f"UPDATE {v1}.subject SET notes = 'other' WHERE subject_id = 5")  # v1 is still open
        took = time.monotonic() - started
        assert took < 1.6, f"the other client's write waited {took:.2f} s (at most one 1 s attempt)"
        time.sleep(2.5)
        assert cutover.poll() is None, ("70 must wait for the transaction that wrote v1", said)
        assert _v1_open(db, s.control)
        # the open transaction writes on: v1 is open for it until it ends, its writes carried into v2
        writer.execute(f"INSERT INTO {v1}.subject (subject_id, notes) VALUES (11, 'late')")
        writer.execute(f"INSERT INTO {v1}.session VALUES (11, 1)")
        writer.execute("COMMIT")
        committed = time.monotonic()
    finally:
        writer.close()
        other.close()
    assert cutover.wait(timeout=60) == 0, said
    assert time.monotonic() - committed < 5, "70 goes through within an attempt of the commit"
    assert not any("waiting for writers" in line for line in said), said  # no DDL had to wait for anyone
    for table, key in (("subject", "subject_id, notes"), ("session", "subject_id, session_id")):
        assert db.query(f"SELECT {key} FROM {v1}.{table} ORDER BY {key}") == \
            db.query(f"SELECT {key} FROM {v2}.{table} ORDER BY {key}"), table
    assert db.query(f"SELECT notes FROM {v2}.subject WHERE subject_id IN (3, 5, 11) ORDER BY subject_id") == \
        [{"notes": "open trx"}, {"notes": "other"}, {"notes": "late"}]
    # carried v1 writes are not v2 writes made after the cut-over: rollback/70 has nothing to refuse for them
    assert db.query(f"SELECT COUNT(*) AS n FROM {control}.v2_writes") == [{"n": 0}]
    for sql in (f"INSERT INTO {v1}.subject (subject_id) VALUES (12)", f"DELETE FROM {v1}.session",
                f"UPDATE {v1}.session SET session_id = 2"):
        errno, message = errno_and_message(db, sql)
        assert errno == 1644 and message.startswith(f"djsqlgen W8 {s.sources[0]}."), (sql, errno, message)
        assert " is read-only since " in message and len(message) <= 128, message
    # v2 is primary: its updates and deletes are recorded as they happen; its inserts are found by rollback/70
    # (v2 rows no v1 row maps to: test_rollback_finds_v2_inserts), no trigger fires for them
    db.execute(f"INSERT INTO {v2}.subject (subject_id) VALUES (20)")
    db.execute(f"UPDATE {v2}.subject SET notes = 'in v2' WHERE subject_id = 11")
    assert db.query(f"SELECT row_key FROM {control}.v2_writes") == [{"row_key": "[11]"}]
    status = s.run("status", str(s.plan_path))
    assert "v1: read-only since " in status.stdout and "(70_cutover.sql); v2: writable" in status.stdout, status.stdout


def test_an_idle_transaction_that_wrote_no_v1_table_does_not_hold_70_up(db, prefix, dj_env, tmp_path,
                                                                        server_settings):
    """Before (consistent read, INNODB_TRX wait): 70 stopped after its bound with v1 closed ('1 transaction(s) older
    than v1's close still open'), for a transaction that never touched v1 but a read."""
    s = _through_60(db, prefix, dj_env, tmp_path)
    v1, other_schema = f"`{s.sources[0]}`", f"`{prefix}_elsewhere`"
    db.execute(f"CREATE DATABASE {other_schema}")
    db.execute(f"CREATE TABLE {other_schema}.notes (id int PRIMARY KEY, note varchar(16)) ENGINE=InnoDB")
    idle = connect(server_settings)
    try:
        idle.execute("SET autocommit = 0")
        idle.query(f"SELECT COUNT(*) AS n FROM {v1}.subject")  # a read of v1: a snapshot, no lock
        idle.execute(f"INSERT INTO {other_schema}.notes VALUES (1, 'idle')")  # and a write elsewhere, left open
        started = time.monotonic()
        result = client(s.db.settings, s.out / "70_cutover.sql", init_command="SET @djsqlgen_close_wait_s = 20")
        took = time.monotonic() - started
        assert result.returncode == 0, result.stderr
        assert took < 5, f"70 took {took:.1f} s beside an idle transaction that wrote no v1 table"
        assert not _v1_open(db, s.control)
        assert db.query(f"SELECT COUNT(*) AS n FROM {other_schema}.notes") == [{"n": 0}]  # still open meanwhile
        idle.execute("COMMIT")
        assert db.query(f"SELECT COUNT(*) AS n FROM {other_schema}.notes") == [{"n": 1}]
    finally:
        idle.close()


def test_70_stops_at_its_bound_with_v1_still_open_and_goes_through_once_the_writer_commits(db, prefix, dj_env,
                                                                                          tmp_path, server_settings):
    s = _through_60(db, prefix, dj_env, tmp_path)
    v1, v2, control = f"`{s.sources[0]}`", f"`{s.v2()}`", f"`{s.control}`"
    writer = connect(server_settings)
    try:
        writer.execute("SET autocommit = 0")
        writer.execute(f"UPDATE {v1}.subject SET notes = 'slow' WHERE subject_id = 4")  # then idle
        started = time.monotonic()
        stopped = client(s.db.settings, s.out / "70_cutover.sql", init_command="SET @djsqlgen_close_wait_s = 3")
        took = time.monotonic() - started
        said = stopped.stdout + stopped.stderr
        assert stopped.returncode != 0 and STOPPED.search(said), said
        assert 3 <= took < 15, took
        message = STOPPED.search(said).group(0).strip()
        assert len(message) <= 128, message
        assert _v1_open(db, s.control)  # the close never committed
        assert db.query(f"SELECT COUNT(*) AS n FROM {control}.phase_log WHERE phase = '70'") == [{"n": 0}]
        assert "v1: writable; v2: writable" in s.run("status", str(s.plan_path)).stdout
        # v1 is open and writable for everyone, its writes carried into v2 as before 70
        db.execute(f"UPDATE {v1}.subject SET notes = 'meanwhile' WHERE subject_id = 6")
        assert db.query(f"SELECT notes FROM {v2}.subject WHERE subject_id = 6") == [{"notes": "meanwhile"}]
        writer.execute("COMMIT")
    finally:
        writer.close()
    applied(s, "70_cutover")
    assert db.query(f"SELECT notes FROM {v2}.subject WHERE subject_id IN (4, 6) ORDER BY subject_id") == \
        [{"notes": "slow"}, {"notes": "meanwhile"}]
    assert errno_and_message(db, f"UPDATE {v1}.subject SET notes = 'x' WHERE subject_id = 4")[0] == 1644


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
    # v2 took users' writes until v1 reopened: 70 wants a verify made since (a row inserted into v2 then is
    # recorded by no trigger)
    assert "run `djsqlgen verify PLAN`" in refused(s, "70_cutover")
    assert s.verify().returncode == 0
    applied(s, "70_cutover")  # and cut over again: closed again
    assert errno_and_message(db, f"DELETE FROM {v1}.subject WHERE subject_id = 30")[0] == 1644


def _run(conn, sql: str, out: dict, key: str) -> threading.Thread:
    def go():
        try:
            conn.execute(sql)
            out[key] = 0
        except ServerError as exc:
            out[key] = exc.errno

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread


def _blocked(db, connection_id: int, statement_start: str) -> bool:
    """The connection runs a statement starting so (a trigger's statement too) for 300 ms already: it waits for a
    lock (the processlist: INNODB_TRX did not always list a waiting transaction here)."""
    return bool(db.query("SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = %s AND INFO LIKE %s AND "
                         "TIME_MS > 300", [connection_id, statement_start + "%"]))


def test_the_deadlock_of_two_writers_and_the_close_rolls_back_the_close(db, prefix, dj_env, tmp_path,
                                                                        server_settings):
    """The cycle (engines/sides.py): T1 holds v1's row shared (it wrote v1); the close asks for it exclusively and
    waits; T2 locks a v1 row, and its trigger's shared request queues behind the close; T1 then waits for T2's row.
    InnoDB rolls back the lightest transaction: it must be the close (which retries), never a writer. Rounds: 10."""
    s = _through_60(db, prefix, dj_env, tmp_path)
    v1, control = f"`{s.sources[0]}`", f"`{s.control}`"
    victims = {"close": 0, "t1": 0, "t2": 0}
    for round_ in range(10):
        t1, t2, closing = (connect(server_settings) for _ in range(3))
        try:
            ids = {name: c.query("SELECT CONNECTION_ID() AS id")[0]["id"]
                   for name, c in (("t2", t2), ("close", closing))}
            closing.execute("SET SESSION innodb_lock_wait_timeout = 20")  # the close's statement, waiting long here
            for c in (t1, t2, closing):
                c.execute("BEGIN")
            t1.execute(f"UPDATE {v1}.subject SET notes = 't1 {round_}' WHERE subject_id = 1")
            out: dict = {}
            threads = [_run(closing, f"UPDATE {control}.`sides` SET is_open = 0, closed_at = NOW(6), closed_by = "
                                     "'test' WHERE side = 'v1' AND is_open = 1", out, "close")]
            _wait_until(lambda: _blocked(db, ids["close"], "UPDATE"), 10, "the close waits for T1")
            threads.append(_run(t2, f"UPDATE {v1}.subject SET notes = 't2 {round_}' WHERE subject_id = 2", out, "t2"))
            _wait_until(lambda: _blocked(db, ids["t2"], "SELECT is_open, closed_at"), 10,
                        "T2's trigger waits behind the close")
            threads.append(_run(t1, f"UPDATE {v1}.subject SET notes = 't1 again' WHERE subject_id = 2", out, "t1"))
            # the close's own outcome, or a writer's 1213: T2 ends its statement once the close is the victim, and
            # under load its thread can record that before the close's thread records the 1213
            _wait_until(lambda: "close" in out or 1213 in (out.get("t1"), out.get("t2")), 10,
                        "the deadlock is found")
            for name, errno in list(out.items()):
                if errno == 1213:
                    victims[name] += 1
            if out.get("close") == 1213:
                threads[1].join(10)  # T2 gets its shared lock and finishes its statement
                assert out.get("t2") == 0, out
                t2.execute("COMMIT")
                threads[2].join(10)
                assert out.get("t1") == 0, out
                t1.execute("COMMIT")
            else:
                break  # a writer was the victim: counted; closing the connections rolls the rest back
        finally:
            for c in (t1, t2, closing):
                c.close()
    assert victims == {"close": 10, "t1": 0, "t2": 0}, victims
    assert _v1_open(db, s.control)
    assert db.query(f"SELECT notes FROM {v1}.subject WHERE subject_id IN (1, 2) ORDER BY subject_id") == \
        [{"notes": "t1 9"}, {"notes": "t1 again"}]


def test_a_writer_stalls_at_most_one_attempt_while_the_close_waits(db, prefix, dj_env, tmp_path, server_settings):
    """While 70's close waits (for an open transaction that wrote v1), a new writer's first v1 write queues behind it,
    at most one attempt (1 s); between attempts (1 s) writes go at once. Figures printed (pytest -s)."""
    s = _through_60(db, prefix, dj_env, tmp_path)
    v1 = f"`{s.sources[0]}`"
    holder, writer = connect(server_settings), connect(server_settings)
    try:
        holder.execute("BEGIN")
        holder.execute(f"UPDATE {v1}.subject SET notes = 'held' WHERE subject_id = 1")
        baseline = []
        for i in range(50):
            started = time.monotonic()
            writer.execute(f"UPDATE {v1}.subject SET notes = %s WHERE subject_id = 2", [f"b{i}"])
            baseline.append(time.monotonic() - started)
        cutover, said = _apply_in_background(s, "70_cutover.sql", bound_s=6)
        _wait_until(lambda: _close_waiting(db, s.control), 30, said)
        stalls, i = [], 0
        until = time.monotonic() + 5
        while time.monotonic() < until:
            started = time.monotonic()
            writer.execute(f"UPDATE {v1}.subject SET notes = %s WHERE subject_id = 2", [f"w{i}"])
            stalls.append(time.monotonic() - started)
            i += 1
        assert cutover.wait(timeout=30) != 0 and any("an open transaction wrote v1" in line for line in said), said
        holder.execute("COMMIT")
    finally:
        holder.close()
        writer.close()
    slow = [x for x in stalls if x > 0.1]
    print(f"\nwriter alone: median {statistics.median(baseline) * 1e3:.1f} ms, max {max(baseline) * 1e3:.1f} ms; "
          f"while the close waits: {len(stalls)} writes in 5 s, median {statistics.median(stalls) * 1e3:.1f} ms, "
          f"{len(slow)} over 100 ms, max {max(stalls) * 1e3:.0f} ms")
    assert max(stalls) < 1.3, stalls  # at most one attempt's wait
    assert 1 <= len(slow) <= 4, slow  # each attempt (one a 2 s cycle) stalls the writer once
    assert len(stalls) > 2 * len(slow), "between attempts the writer goes at once"
