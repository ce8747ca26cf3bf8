"""70's DDL never makes a writer the victim of a metadata-lock deadlock (issue 21, item 1).

A DataJoint transaction reads a table, then writes it (a cascading delete reads, then deletes; populate reads, then
inserts). If 70's CREATE/DROP TRIGGER on that table waits for the transaction's metadata lock in between, the
writer's write waits behind the DDL: a metadata-lock deadlock, and the server always chooses the DML as its victim
(1213, the whole transaction rolled back; DataJoint 0.14 does not retry). 70's DDL does not wait (lock_wait_timeout
0 on MariaDB, MySQL's least 1 s): it fails with 1205 before changing anything, and `djsqlgen apply` runs it again
until the writer's transaction is over.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from support.safety import FastScenario, applied, errno_and_message

from djsqlgen.run.db import connect

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, notes varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id))
  ENGINE=InnoDB;
INSERT INTO subject (subject_id) SELECT seq FROM seq_1_to_10
"""


def test_a_writer_that_read_a_table_writes_it_while_70_waits_to_change_its_triggers(db, prefix, dj_env, tmp_path,
                                                                                      server_settings):
    """Before: the writer's UPDATE got 1213 every time (70 waited 10 s for the writer's lock, the writer then
    waited for 70's). Then 70 retried its DDL without waiting until the writer's transaction was over. Now 70 (in
    place) changes no trigger: it closes v1 by its sides row, waiting only for transactions that wrote v1; this one
    has only read it, so 70 goes through at once, and its write afterwards is refused like any v1 write after the
    close (W8, the statement only: no deadlock, no wait, the transaction goes on)."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan()
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=5)
    applied(s, "50_verify", "60_constraints")
    v1 = f"`{s.sources[0]}`"
    writer = connect(server_settings)
    try:
        writer.execute("BEGIN")
        writer.query(f"SELECT * FROM {v1}.subject WHERE subject_id = 3")
        cutover = subprocess.Popen([sys.executable, "-u", "-m", "djsqlgen", "apply", str(s.out / "70_cutover.sql")],
                                   env=s.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        said: list[str] = []
        reader = threading.Thread(target=lambda: said.extend(iter(cutover.stderr.readline, "")), daemon=True)
        reader.start()
        assert cutover.wait(timeout=30) == 0, said  # while the writer's transaction is open
        started = time.monotonic()
        errno, message = errno_and_message(writer, f"UPDATE {v1}.subject SET notes = 'edited' WHERE subject_id = 3")
        assert time.monotonic() - started < 0.5
        assert errno == 1644 and message.startswith("djsqlgen W8 "), (errno, message)
        writer.execute("COMMIT")
    finally:
        writer.close()
    reader.join()
    assert not any("waiting for writers' transactions" in line for line in said), said
    assert db.query(f"SELECT notes FROM `{s.v2()}`.subject WHERE subject_id = 3") == [{"notes": ""}]


def test_70_outlasts_writers_that_hold_its_table_in_a_chain_of_waits(db, prefix, dj_env, tmp_path, server_settings,
                                                                     monkeypatch):
    """Writers that never leave 70's table free make apply (--wait) wait for it at last; a waiting DDL holds every writer's next
    request on the table behind it, and when one of those held writers holds a row another writer of the table waits
    for, the three wait on each other in two lock systems, which no deadlock check sees: the DDL's wait times out.
    Before: one wait of lock_wait_timeout (10 s), the writers held all that time, then 70 failed with 1205. Now: waits
    of 1 s with tries without waiting between, and 70 goes through once the writers' transactions are over."""
    import djsqlgen.run.apply as apply_module

    monkeypatch.setattr(apply_module, "DDL_NO_WAIT_S", 1.0)  # the no-wait window is not what this is about
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)

    def to_final_names(plan):  # a renaming cut-over still changes v1's triggers (70 in place closes v1 by a row)
        plan["schemas"][0]["final"] = f"{prefix}_final"
        plan["cutover"] = {"rename_to_final": True}
    s.plan(to_final_names)
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=5)
    applied(s, "50_verify", "60_constraints")
    v1, side = f"`{s.sources[0]}`", f"`{prefix}_side`"
    db.execute(f"CREATE DATABASE {side}")
    db.execute(f"CREATE TABLE {side}.counter (id int PRIMARY KEY, n int) ENGINE=InnoDB")
    db.execute(f"INSERT INTO {side}.counter VALUES (1, 0), (2, 0)")
    reader, locker, holder = connect(server_settings), connect(server_settings), connect(server_settings)
    said: list[str] = []
    outcome: dict = {}

    def cutover() -> None:
        with connect(server_settings) as session:
            try:
                outcome["statements"] = apply_module.apply_files(session, [s.out / "70_cutover.sql"],
                                                                 echo=said.append, wait_for_tables=True)
            except Exception as exc:  # noqa: BLE001 - the test reports it
                outcome["error"] = exc

    def held_reader() -> None:  # holds subject (read), then waits for the locker's row
        reader.execute(f"UPDATE {side}.counter SET n = n + 1 WHERE id = 1")
        reader.execute("COMMIT")

    try:
        # 70 first closes v1, waiting for the transactions that wrote v1: the holder (it wrote v1) keeps it there
        # until the reader and the locker hold their locks; then its DDL meets them
        holder.execute("BEGIN")
        holder.execute(f"UPDATE {v1}.subject SET notes = 'holder' WHERE subject_id = 2")
        cut = threading.Thread(target=cutover)
        cut.start()
        deadline = time.monotonic() + 30
        while not db.query("SELECT 1 FROM information_schema.PROCESSLIST WHERE INFO LIKE %s",
                           [f"UPDATE `{s.control}`.`sides` SET is_open = 0%"]):
            assert time.monotonic() < deadline and cut.is_alive(), (said, outcome)
            time.sleep(0.02)
        reader.execute("BEGIN")
        reader.query(f"SELECT * FROM {v1}.subject WHERE subject_id = 3")
        locker.execute("BEGIN")
        locker.execute(f"UPDATE {side}.counter SET n = n + 1 WHERE id = 1")
        holder.execute("COMMIT")
        waiter = threading.Thread(target=held_reader)
        waiter.start()
        deadline = time.monotonic() + 30  # until apply waits for the table (after its tries without waiting)
        while not db.query("SELECT 1 FROM information_schema.PROCESSLIST WHERE STATE = 'Waiting for table metadata "
                           "lock' AND INFO LIKE %s AND INFO NOT LIKE 'SELECT%%'", [f"%{s.sources[0]}%"]):
            assert time.monotonic() < deadline and cut.is_alive(), (said, outcome)
            time.sleep(0.02)
        started = time.monotonic()
        locker.query(f"SELECT * FROM {v1}.subject WHERE subject_id = 4")  # behind the waiting DDL
        held_s = time.monotonic() - started
        locker.execute("COMMIT")
        waiter.join(timeout=60)
        cut.join(timeout=120)
    finally:
        reader.close()
        locker.close()
        holder.close()
    assert "error" not in outcome, (outcome, said)
    assert held_s < 3, f"a writer was held {held_s:.1f} s behind 70's wait"
    assert db.query(f"SELECT n FROM {side}.counter ORDER BY id") == [{"n": 2}, {"n": 0}]


def test_the_runbooks_loop_retries_70_by_hand_without_making_a_writer_wait(db, prefix, dj_env, tmp_path,
                                                                           server_settings):
    """RUNBOOK, Lock discipline: with the stock client, `--init-command="SET @djsqlgen_ddl_retries = 'yes'"` makes the
    file's DDL give up at once on a busy table (1205), and the shell loop runs the file again until it goes through; a
    writer that reads, then writes its table meanwhile is never made to wait (a renaming 70: one in place runs no DDL
    on v1). v1 is closed by then (the writer had not written it): its write is refused (W8), not held or deadlocked."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)

    def to_final_names(plan):
        plan["schemas"][0]["final"] = f"{prefix}_final"
        plan["cutover"] = {"rename_to_final": True}
    s.plan(to_final_names)
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=5)
    applied(s, "50_verify", "60_constraints")
    v1 = f"`{s.sources[0]}`"
    settings = server_settings
    mariadb = (f"mariadb --host={settings.host} --port={settings.port} --user={settings.user}"
               + (f" --password={settings.password}" if settings.password else ""))
    loop = (f"until {mariadb} --init-command=\"SET @djsqlgen_ddl_retries = 'yes'\" < {s.out / '70_cutover.sql'} "
            f"2> {tmp_path / 'err.txt'}; do grep -q 'ERROR 1205' {tmp_path / 'err.txt'} || "
            f"{{ cat {tmp_path / 'err.txt'}; exit 1; }}; sleep 0.05; done")
    writer = connect(server_settings)
    try:
        writer.execute("BEGIN")
        writer.query(f"SELECT * FROM {v1}.subject WHERE subject_id = 3")
        by_hand = subprocess.Popen(["bash", "-c", loop], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(2)  # the loop meets the writer's table busy, again and again
        assert by_hand.poll() is None, by_hand.communicate()[0]
        started = time.monotonic()
        errno, message = errno_and_message(writer, f"UPDATE {v1}.subject SET notes = 'edited' WHERE subject_id = 3")
        assert time.monotonic() - started < 0.5
        assert errno == 1644 and message.startswith("djsqlgen W8 "), (errno, message)
        writer.execute("COMMIT")
    finally:
        writer.close()
    output, _ = by_hand.communicate(timeout=120)
    assert by_hand.returncode == 0, output
    assert db.query(f"SELECT notes FROM `{prefix}_final`.subject WHERE subject_id = 3") == [{"notes": ""}]
    assert db.query(f"SELECT COUNT(*) AS n FROM `{s.control}`.phase_log WHERE phase = '70'") == [{"n": 1}]


PARENT_CHILD = """
CREATE TABLE subject (subject_id int NOT NULL, PRIMARY KEY (subject_id)) ENGINE=InnoDB;
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, notes varchar(16) NOT NULL DEFAULT '',
  PRIMARY KEY (subject_id, session_id),
  FOREIGN KEY (subject_id) REFERENCES subject (subject_id) ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO subject SELECT seq FROM seq_1_to_5;
INSERT INTO session (subject_id, session_id) SELECT s.seq, t.seq FROM seq_1_to_5 s, seq_1_to_3 t
"""


def test_60_never_waits_for_a_writer_that_holds_its_table_for_read_then_writes_it(db, prefix, dj_env, tmp_path,
                                                                                  server_settings, monkeypatch):
    """A writer's transaction holds v2.session for read (as a trigger that only reads a v2 table makes it), then
    writes it (its next v1 write's trigger), while 60's ADD FOREIGN KEY on v2.session has found the table busy for
    longer than the no-wait window. Before: apply then waited for the table, the writer's write queued behind it,
    and the server chose the writer as the victim of the metadata-lock deadlock (1213, its transaction rolled back).
    Now apply never waits unless --wait: the write goes through at once, and 60 goes through after the commit."""
    import djsqlgen.run.apply as apply_module

    monkeypatch.setattr(apply_module, "DDL_NO_WAIT_S", 0.5)  # past it, apply waited before (not without --wait now)
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(PARENT_CHILD)
    s.plan()
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=5)
    applied(s, "50_verify")
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    said: list[str] = []
    outcome: dict = {}

    def constraints() -> None:
        with connect(server_settings) as session:
            try:
                outcome["statements"] = apply_module.apply_files(session, [s.out / "60_constraints.sql"],
                                                                 echo=said.append)
            except Exception as exc:  # noqa: BLE001 - the test reports it
                outcome["error"] = exc

    writer = connect(server_settings)
    try:
        writer.execute("BEGIN")
        writer.query(f"SELECT * FROM {v2}.session WHERE subject_id = 2")
        run = threading.Thread(target=constraints)
        run.start()
        deadline = time.monotonic() + 60
        while not any("waiting for writers' transactions" in line for line in said):
            assert time.monotonic() < deadline and run.is_alive(), (said, outcome)
            time.sleep(0.02)
        deadline = time.monotonic() + 3  # well past the no-wait window: before, apply was waiting for the table
        while time.monotonic() < deadline and not db.query(
                "SELECT 1 FROM information_schema.PROCESSLIST WHERE STATE = 'Waiting for table metadata lock' AND "
                "INFO LIKE 'ALTER TABLE%%' AND INFO LIKE %s", [f"%{s.v2()}%"]):
            time.sleep(0.01)
        started = time.monotonic()
        errno, message = errno_and_message(writer, f"UPDATE {v1}.session SET notes = 'edited' "
                                                   "WHERE subject_id = 2 AND session_id = 1")
        held_s = time.monotonic() - started
        writer.execute("COMMIT")
        run.join(timeout=120)
    finally:
        writer.close()
    assert (errno, message) == (0, ""), (errno, message, said)
    assert held_s < 0.5, f"the writer was held {held_s:.1f} s"
    assert "error" not in outcome, (outcome, said)
    assert not any("waiting for it, " in line for line in said), said
    assert db.query(f"SELECT notes FROM {v2}.session WHERE subject_id = 2 AND session_id = 1") == [{"notes": "edited"}]
    assert db.query("SELECT COUNT(*) AS n FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s "
                    "AND TABLE_NAME = 'session'", [s.v2()]) == [{"n": 1}]


TWO_PARENTS = """
CREATE TABLE subject (subject_id int NOT NULL, PRIMARY KEY (subject_id)) ENGINE=InnoDB;
CREATE TABLE rig (rig varchar(8) NOT NULL, PRIMARY KEY (rig)) ENGINE=InnoDB;
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, rig varchar(8) NOT NULL,
  PRIMARY KEY (subject_id, session_id),
  FOREIGN KEY (subject_id) REFERENCES subject (subject_id) ON UPDATE CASCADE ON DELETE RESTRICT,
  FOREIGN KEY (rig) REFERENCES rig (rig) ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO subject SELECT seq FROM seq_1_to_5;
INSERT INTO rig VALUES ('r1'), ('r2');
INSERT INTO session SELECT s.seq, t.seq, IF(t.seq = 1, 'r1', 'r2') FROM seq_1_to_5 s, seq_1_to_3 t
"""


def test_60_adds_a_tables_foreign_keys_in_one_statement(db, prefix, dj_env, tmp_path, server_settings):
    """60 never waits for a table (apply), so each of its ALTERs needs its table free of writers' transactions for a
    moment, and writers that never pause seldom leave one: one ALTER per table, not per key. Before: one ALTER a
    key (the combined plan's _recording: 4). The server takes them in one in-place statement; a run stopped after
    one key still adds the other (the per-key statements)."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(TWO_PARENTS)
    s.plan()
    s.generate()
    sql = (s.out / "60_constraints.sql").read_text()
    session = f"ALTER TABLE `{s.v2()}`.`session`\n"
    merged = [block for block in sql.split(session)[1:] if block.count("ADD CONSTRAINT") == 2]
    assert len(merged) == 1, sql
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=5)
    applied(s, "50_verify", "60_constraints")
    fks = "SELECT COUNT(*) AS n FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s " \
          "AND TABLE_NAME = 'session'"
    assert db.query(fks, [s.v2()]) == [{"n": 2}]
    name = db.query("SELECT CONSTRAINT_NAME AS c FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE "
                    "CONSTRAINT_SCHEMA = %s AND TABLE_NAME = 'session' ORDER BY c LIMIT 1", [s.v2()])[0]["c"]
    db.execute(f"ALTER TABLE `{s.v2()}`.session DROP FOREIGN KEY `{name}`")  # as if stopped after the other
    applied(s, "60_constraints")
    assert db.query(fks, [s.v2()]) == [{"n": 2}]
