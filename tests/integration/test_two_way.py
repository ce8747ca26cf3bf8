"""Two-way sync, the first slice of issue 24: v1 and v2 both writable from 60 on, kept equal by the server.

A DataJoint-shaped v1 (a lookup, a latin1 manual table, a composite-key child with a part) and a plan that renames,
retypes (wider numbers, latin1 → utf8mb4), drops a column with a default and adds one: every table syncs both
ways. The files run with the stock client; writers on both sides at once; then every table compared row by row,
independently of verify, in both directions (v2 against forward(v1) and v1 against reverse(v2)), and verify clean.
"""

from __future__ import annotations

import threading

import pytest
from support.lock_waits import until_it_waits_for_a_row_lock
from support.safety import FastScenario, applied, error_of

from djsqlgen.run.db import ServerError, connect

V1 = """
CREATE TABLE `#kind` (
  kind varchar(16) NOT NULL,
  description varchar(255) NOT NULL DEFAULT '',
  PRIMARY KEY (kind)) ENGINE=InnoDB;
CREATE TABLE subject (
  subject_id int NOT NULL,
  kind varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL,
  nickname varchar(32) NOT NULL,
  weight float NULL,
  notes varchar(255) NULL DEFAULT NULL,
  PRIMARY KEY (subject_id),
  CONSTRAINT subject_kind FOREIGN KEY (kind) REFERENCES `#kind` (kind) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=latin1;
CREATE TABLE session (
  subject_id int NOT NULL,
  session_idx smallint unsigned NOT NULL,
  session_date date NOT NULL,
  rig varchar(32) NOT NULL DEFAULT 'rig1',
  PRIMARY KEY (subject_id, session_idx),
  CONSTRAINT session_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE session__trial (
  subject_id int NOT NULL,
  session_idx smallint unsigned NOT NULL,
  trial_idx int unsigned NOT NULL,
  start_time double NOT NULL,
  outcome enum('hit','miss') NULL,
  PRIMARY KEY (subject_id, session_idx, trial_idx),
  CONSTRAINT trial_session FOREIGN KEY (subject_id, session_idx) REFERENCES session (subject_id, session_idx)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO `#kind` VALUES ('mouse', 'Mus musculus'), ('rat', 'Rattus');
INSERT INTO subject VALUES (1, 'mouse', 'Ana', 21.5, 'first'), (2, 'rat', 'Bé', NULL, NULL);
INSERT INTO session VALUES (1, 1, '2024-01-02', 'rig1'), (2, 1, '2024-01-03', 'rig2');
INSERT INTO session__trial VALUES (1, 1, 1, 0.5, 'hit'), (1, 1, 2, 1.25, NULL)
"""

# v2 as projected from v1 (forward), and v1 as projected from v2 (reverse): full ordered SELECTs, no verify
FORWARD = {
    "#kind": ("SELECT kind, description FROM {v1}.`#kind` ORDER BY kind",
              "SELECT kind, description FROM {v2}.`#kind` ORDER BY kind"),
    "subject": ("SELECT subject_id, kind, CONVERT(nickname USING utf8mb4) AS name, CAST(weight AS DOUBLE) AS weight "
                "FROM {v1}.subject ORDER BY subject_id",
                "SELECT subject_id, kind, name, weight FROM {v2}.animal ORDER BY subject_id"),
    "session": ("SELECT subject_id, session_idx, session_date, rig FROM {v1}.session ORDER BY 1, 2",
                "SELECT subject_id, session_idx, recorded_on, rig FROM {v2}.session ORDER BY 1, 2"),
    "session__trial": ("SELECT * FROM {v1}.session__trial ORDER BY 1, 2, 3",
                       "SELECT * FROM {v2}.session__trial ORDER BY 1, 2, 3"),
}
REVERSE = {
    "subject": ("SELECT subject_id, kind, nickname, weight FROM {v1}.subject ORDER BY subject_id",
                "SELECT subject_id, kind, CONVERT(name USING latin1) AS nickname, CAST(weight AS FLOAT) AS weight "
                "FROM {v2}.animal ORDER BY subject_id"),
    "session": ("SELECT subject_id, session_idx, session_date, rig FROM {v1}.session ORDER BY 1, 2",
                "SELECT subject_id, CAST(session_idx AS UNSIGNED), recorded_on, rig FROM {v2}.session ORDER BY 1, 2"),
}


def _two_way(s: FastScenario):
    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        tables = s.tables(plan)
        tables["#kind"] = {"sync": "one-way"}  # v2 refuses its clients' writes to it (W7)
        tables["subject"] = {
            "rename": "animal",
            "columns": {"subject_id": "keep", "kind": "keep", "notes": "drop",
                        "nickname": {"rename": "name", "type": "varchar(64)", "charset": "utf8mb4",
                                     "collation": "utf8mb4_general_ci"},
                        "weight": {"type": "double"}},
            "add": {"tag": {"type": "varchar(10)", "default": "'none'"}}}
        tables["session"] = {"columns": {"subject_id": "keep", "session_idx": {"type": "int"},
                                         "session_date": {"rename": "recorded_on"}, "rig": "keep"}}
    return edit


def _same_both_ways(s: FastScenario) -> None:
    names = {"v1": f"`{s.sources[0]}`", "v2": f"`{s.v2()}`"}
    for checks in (FORWARD, REVERSE):
        for table, (v1_sql, v2_sql) in checks.items():
            v1_rows = [tuple(r.values()) for r in s.db.query(v1_sql.format(**names))]
            v2_rows = [tuple(r.values()) for r in s.db.query(v2_sql.format(**names))]
            assert v1_rows == v2_rows, (table, v1_rows, v2_rows)


def test_two_way_sync_through_60(db, prefix, dj_env, tmp_path, server_settings):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    checked = s.run("plan", "check", str(s.plan_path))
    assert f"sync: {s.v2()}.animal <-> {s.sources[0]}.subject: two-way" in checked.stderr, checked.stderr
    assert (f"sync: {s.v2()}.#kind <- {s.sources[0]}.#kind: one-way (schemas.{s.sources[0]}.tables.#kind.sync is "
            "one-way)") in checked.stderr, checked.stderr
    s.generate()
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")

    # before 60: v1 writes carried (no echo, no 1442); a v2 write that would change v1 refused (W6)
    db.execute(f"INSERT INTO {v1}.subject VALUES (3, 'mouse', 'Cy', 19.25, 'kept in v1')")
    refusal = error_of(db, f"UPDATE {v2}.animal SET name = 'Cyrus' WHERE subject_id = 3")
    assert refusal.errno == 1644 and "W6" in refusal.message and "animal" in refusal.message, refusal
    s.backfill()
    s.verify()
    applied(s, "60_constraints")
    _same_both_ways(s)

    # from 60: writers on both sides at once, each on subjects of its own
    errors: list[str] = []

    def writer(side: str, first: int) -> None:
        conn = connect(server_settings)
        try:
            for i in range(first, first + 15):
                if side == "v1":
                    conn.execute(f"INSERT INTO {v1}.subject VALUES ({i}, 'rat', 'w{i}', {i}.5, 'n{i}')")
                    conn.execute(f"INSERT INTO {v1}.session VALUES ({i}, 1, '2024-02-01', 'rig3')")
                    conn.execute(f"INSERT INTO {v1}.session__trial VALUES ({i}, 1, 1, 0.25, 'miss')")
                    conn.execute(f"UPDATE {v1}.subject SET nickname = 'é{i}', weight = NULL WHERE subject_id = {i}")
                    if i % 3 == 0:
                        conn.execute(f"DELETE FROM {v1}.session__trial WHERE subject_id = {i}")
                    if i % 4 == 0:  # a key move with a new value in one statement: v1's cascade moves the children
                        conn.execute(f"UPDATE {v1}.subject SET subject_id = {i + 300}, nickname = 'moved' "
                                     f"WHERE subject_id = {i}")
                else:
                    conn.execute("BEGIN")
                    conn.execute(f"INSERT INTO {v2}.animal (subject_id, kind, name, weight, tag) "
                                 f"VALUES ({i}, 'mouse', 'ü{i}', {i}.25, 'v2')")
                    conn.execute(f"INSERT INTO {v2}.session VALUES ({i}, 7, '2024-03-01', 'rig9')")
                    conn.execute(f"INSERT INTO {v2}.session__trial VALUES ({i}, 7, 1, 2.5, 'hit'), "
                                 f"({i}, 7, 2, 3.5, NULL)")
                    conn.execute("COMMIT")
                    conn.execute(f"UPDATE {v2}.session SET rig = 'rig8', recorded_on = '2024-03-02' "
                                 f"WHERE subject_id = {i}")
                    if i % 3 == 0:
                        conn.execute(f"DELETE FROM {v2}.session__trial WHERE subject_id = {i} AND trial_idx = 2")
                    if i % 5 == 0:  # a key move: v2's ON UPDATE CASCADE moves its children, v1's its own
                        conn.execute(f"UPDATE {v2}.animal SET subject_id = {i + 500}, name = 'moved' "
                                     f"WHERE subject_id = {i}")
        except ServerError as exc:
            errors.append(f"{side}: {exc}")
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=("v1", 100)), threading.Thread(target=writer, args=("v2", 200))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _same_both_ways(s)
    # what only one side has: v1's notes kept by v2 writes, v2's tag kept by v1 writes
    assert db.query(f"SELECT notes FROM {v1}.subject WHERE subject_id IN (1, 3, 105, 201) ORDER BY subject_id") == [
        {"notes": "first"}, {"notes": "kept in v1"}, {"notes": "n105"}, {"notes": None}]
    assert db.query(f"SELECT tag FROM {v2}.animal WHERE subject_id IN (105, 201, 710) ORDER BY 1") == [
        {"tag": "none"}, {"tag": "v2"}, {"tag": "v2"}]
    s.verify()

    # values v1 cannot hold: refused naming the column, nothing written on either side
    for sql, column in ((f"INSERT INTO {v2}.animal (subject_id, kind, name) VALUES (900, 'rat', 'x😀')", "name"),
                        (f"UPDATE {v2}.animal SET weight = 0.1 WHERE subject_id = 1", "weight"),
                        (f"UPDATE {v2}.animal SET name = REPEAT('x', 33) WHERE subject_id = 1", "name"),
                        (f"INSERT INTO {v2}.session VALUES (1, 70000, '2024-01-01', 'rig1')", "session_idx")):
        refusal = error_of(db, sql)
        assert refusal.errno == 1644 and "W5" in refusal.message and f"({column})" in refusal.message, refusal
        assert len(refusal.message) <= 128
    _same_both_ways(s)

    # a failure forced inside a reverse trigger (a lock-wait timeout on v1) fails the v2 statement; the next write
    # on the same connection still syncs
    holder, writer_db = connect(server_settings), connect(server_settings)
    try:
        holder.execute("BEGIN")
        holder.execute(f"SELECT * FROM {v1}.subject WHERE subject_id = 1 FOR UPDATE")
        writer_db.execute("SET SESSION innodb_lock_wait_timeout = 1")
        timeout = error_of(writer_db, f"UPDATE {v2}.animal SET name = 'Anna' WHERE subject_id = 1")
        assert timeout.errno == 1205, timeout
        holder.execute("ROLLBACK")
        writer_db.execute(f"UPDATE {v2}.animal SET name = 'Anne' WHERE subject_id = 1")
        # a one-way table: its v2 clients refused with the reason, v1's writes carried, on the same connection
        refusal = error_of(writer_db, f"INSERT INTO {v2}.`#kind` VALUES ('vole', 'Microtus')")
        assert refusal.errno == 1644 and "W7" in refusal.message and "sync is one-way" in refusal.message, refusal
        writer_db.execute(f"INSERT INTO {v1}.`#kind` VALUES ('vole', 'Microtus')")
        writer_db.execute(f"INSERT INTO {v2}.animal (subject_id, kind, name) VALUES (901, 'vole', 'Val')")
        assert error_of(writer_db, f"DELETE FROM {v2}.`#kind` WHERE kind = 'rat'").errno == 1644
    finally:
        holder.close()
        writer_db.close()
    assert db.query(f"SELECT nickname FROM {v1}.subject WHERE subject_id = 1") == [{"nickname": "Anne"}]
    _same_both_ways(s)
    s.verify()

    # the rollbacks before the cut-over leave v1 whole (70 of a two-way plan: test_two_way_cutover.py)
    before = {t: [tuple(r.values()) for r in db.query(FORWARD[t][0].format(v1=v1, v2=v2))] for t in FORWARD}
    applied(s, "rollback/60_constraints", "rollback/50_verify", "rollback/40_backfill", "rollback/30_dualwrite")
    after = {t: [tuple(r.values()) for r in db.query(FORWARD[t][0].format(v1=v1, v2=v2))] for t in FORWARD}
    assert after == before
    assert db.query(f"SELECT COUNT(*) AS n FROM {v2}.animal") == [{"n": 0}]
    assert db.query("SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN (%s, %s)",
                    [s.sources[0], s.v2()]) == [{"n": 0}]


# How a write a reverse trigger carries into v1 is ended, and the error the v2 client gets (as in
# test_two_way_guard.py, now inside the generated triggers)
ENDINGS = {"lock wait timeout": 1205, "deadlock": 1213, "kill query": 1317, "max_statement_time": 1969}


def _end_carried_write(server_settings, client, ending: str, v1: str, v2: str, subject: int) -> int:
    """The client updates v2's animal row ``subject``; the reverse trigger's write of v1's row waits for another
    transaction's lock and is ended by ``ending``. Returns the client's error number."""
    holder, watcher = connect(server_settings), connect(server_settings)
    errors: list[int] = []

    def write() -> None:
        try:
            client.execute(f"UPDATE {v2}.animal SET name = 'ended' WHERE subject_id = {subject}")
        except ServerError as exc:
            errors.append(exc.errno)

    try:
        holder.execute("BEGIN")
        if ending == "deadlock":  # the heavier transaction, so InnoDB rolls back the client's
            holder.execute(f"INSERT INTO {v1}.`#kind` SELECT CONCAT('ballast', seq), '' FROM mysql.seq_1_to_300")
        holder.execute(f"SELECT * FROM {v1}.subject WHERE subject_id = {subject} FOR UPDATE")
        client.execute(f"SET SESSION innodb_lock_wait_timeout = {1 if ending == 'lock wait timeout' else 30}")
        if ending == "max_statement_time":
            client.execute("SET SESSION max_statement_time = 0.5")
        thread = threading.Thread(target=write)
        thread.start()
        until_it_waits_for_a_row_lock(watcher, client.thread_id, thread.is_alive)
        if ending == "deadlock":  # the holder now wants the client's v2 row: a cycle
            holder.execute(f"SELECT * FROM {v2}.animal WHERE subject_id = {subject} FOR UPDATE")
        elif ending == "kill query":
            watcher.execute(f"KILL QUERY {client.thread_id}")
        thread.join(timeout=40)
        assert not thread.is_alive()
        holder.execute("ROLLBACK")
        client.execute("SET SESSION max_statement_time = 0")
    finally:
        holder.close()
        watcher.close()
    assert len(errors) == 1, errors
    return errors[0]


@pytest.mark.parametrize("in_transaction", [False, True], ids=["autocommit", "explicit transaction"])
def test_a_carried_write_ended_early_leaves_the_next_write_synced(db, prefix, dj_env, tmp_path, server_settings,
                                                                   in_transaction):
    """Each way a statement can end early, forced inside a reverse trigger: the v2 statement fails with it, nothing
    of it is left on either side, and the next write on the same connection is carried (no guard went stale)."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    s.generate()
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    s.open_at_60()
    client = connect(server_settings)
    try:
        for n, (ending, errno) in enumerate(ENDINGS.items()):
            if in_transaction:
                client.execute("BEGIN")
                client.execute(f"UPDATE {v2}.session SET rig = 'rig{n}' WHERE subject_id = 2")
            assert _end_carried_write(server_settings, client, ending, v1, v2, 1) == errno, ending
            if in_transaction:
                client.execute("ROLLBACK")  # whatever the ending left of the transaction
            client.execute(f"UPDATE {v2}.animal SET name = 'next{n}' WHERE subject_id = 2")
            client.execute(f"INSERT INTO {v1}.subject (subject_id, kind, nickname) VALUES ({10 + n}, 'rat', 'v{n}')")
            assert db.query(f"SELECT nickname FROM {v1}.subject WHERE subject_id IN (1, 2) ORDER BY 1") == [
                {"nickname": "Ana"}, {"nickname": f"next{n}"}], ending
            assert db.query(f"SELECT name FROM {v2}.animal WHERE subject_id = {10 + n}") == [{"name": f"v{n}"}]
            _same_both_ways(s)
    finally:
        client.close()
    s.verify()


def test_two_way_with_datajoint_014_clients_on_v1_and_sql_clients_on_v2(tmp_path, prefix, dj014_python, dj_env,
                                                                       server_settings, db):
    """DataJoint 0.14 users keep working on v1 (inserts with parts, update1, key moves that cascade, cascading
    deletes, auto_increment notes) while 2.x-era SQL clients write v2's subjects, sessions and tags, after 60 on a
    rename/retype plan: every table compared row by row in both directions, and verify clean."""
    from support.engine import build_v1, bulk_fill, dj014_writers, migration_files

    common, ephys = build_v1(dj014_python, prefix, tmp_path / "store", dj_env)
    bulk_fill(db, common, 200)

    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        tables = next(s for s in plan["schemas"] if s["source"] == common)["tables"]
        subject = tables["subject"]
        subject["columns"]["notes"] = {"rename": "remarks"}
        subject["columns"]["weight"] = {"type": "decimal(8,3)"}
        subject["add"] = {"cohort": {"type": "varchar(16)", "default": "'v1'"}}
        tables["lab_note"]["rename"] = "notebook"  # AUTO_INCREMENT: syncs one way

    plan_path, out = migration_files(tmp_path, prefix, [common, ephys], dj_env, edit)
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.out, s.plan_path = out, plan_path
    s.open_at_60(chunk_rows=97)
    v2c = f"`{common}_v2`"
    errors: list[str] = []

    def v2_client() -> None:
        conn = connect(server_settings)
        try:
            for i in range(40):
                sid = 30_000_000 + i
                conn.execute("BEGIN")
                conn.execute(f"INSERT INTO {v2c}.subject (subject_id, species, subject_uuid, remarks, weight, cohort) "
                             f"VALUES ({sid}, 'Mus musculus', UNHEX(MD5('v2 {sid}')), 'from v2', 12.25, 'v2')")
                conn.execute(f"INSERT INTO {v2c}.session (subject_id, session_id, session_start, operator) "
                             f"VALUES ({sid}, 1, '2025-02-01 10:00:00', 'alice')")
                conn.execute(f"INSERT INTO {v2c}.session__tag VALUES ({sid}, 1, 'v2a'), ({sid}, 1, 'v2b')")
                conn.execute("COMMIT")
                conn.execute(f"UPDATE {v2c}.subject SET remarks = 'edited in v2', weight = 13.5 WHERE subject_id = {sid}")
                if i % 4 == 1:  # a key move: each side's ON UPDATE CASCADE moves its sessions and tags
                    conn.execute(f"UPDATE {v2c}.subject SET subject_id = subject_id + 100 WHERE subject_id = {sid}")
                if i % 4 == 2:  # a delete as DataJoint does it: children first
                    conn.execute(f"DELETE FROM {v2c}.session__tag WHERE subject_id = {sid}")
                    conn.execute(f"DELETE FROM {v2c}.session WHERE subject_id = {sid}")
                    conn.execute(f"DELETE FROM {v2c}.subject WHERE subject_id = {sid}")
                if i % 5 == 0:  # a bulk row the v1 writers do not touch
                    conn.execute(f"UPDATE {v2c}.subject SET remarks = 'bulk edited in v2' WHERE subject_id = {1150 + i}")
        except ServerError as exc:
            errors.append(str(exc))
        finally:
            conn.close()

    thread = threading.Thread(target=v2_client)
    thread.start()
    dj014_writers(dj014_python, prefix, tmp_path / "store", dj_env, 1, ["1000-1049", "1050-1099"], iterations=20)
    thread.join()
    assert errors == []

    for source in (common, ephys):
        for table in db.query("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                              "AND TABLE_NAME NOT LIKE '~%%' ORDER BY 1", [source]):
            name = table["t"]
            if (source, name) in ((common, "subject"), (common, "lab_note")):
                continue
            s.same_rows(name, source=source)
    forward = ("SELECT subject_id, species, subject_uuid, sex, date_of_birth, CAST(weight AS DECIMAL(8,3)), notes, "
               f"entered FROM `{common}`.subject ORDER BY subject_id")
    v2_rows = ("SELECT subject_id, species, subject_uuid, sex, date_of_birth, weight, remarks, entered "
               f"FROM {v2c}.subject ORDER BY subject_id")
    back = ("SELECT subject_id, species, subject_uuid, sex, date_of_birth, CAST(weight AS DECIMAL(6,2)), remarks, "
            f"entered FROM {v2c}.subject ORDER BY subject_id")
    v1_rows = ("SELECT subject_id, species, subject_uuid, sex, date_of_birth, weight, notes, entered "
               f"FROM `{common}`.subject ORDER BY subject_id")
    for left, right in ((forward, v2_rows), (v1_rows, back)):
        assert [tuple(r.values()) for r in db.query(left)] == [tuple(r.values()) for r in db.query(right)]
    assert db.query(f"SELECT COUNT(*) AS n FROM `{common}`.subject WHERE notes = 'edited in v2'") == [{"n": 30}]
    assert db.query(f"SELECT COUNT(*) AS n FROM `{common}`.session__tag WHERE tag LIKE 'v2_'") == [{"n": 60}]
    s.verify()


def test_a_write_from_an_older_snapshot_is_still_carried(db, prefix, dj_env, tmp_path, server_settings):
    """A v1 client in a transaction whose snapshot predates a v2 client's committed change writes the row back to
    its old value: the forward trigger must see the v2 row as it is now (B), not as its snapshot shows it (the old
    value, "already equal"), or v1 and v2 would differ with no error."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    s.generate()
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    s.open_at_60()
    old_snapshot, v2_client = connect(server_settings), connect(server_settings)
    try:
        old_snapshot.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        v2_client.execute(f"UPDATE {v2}.animal SET name = 'Bea' WHERE subject_id = 1")  # carried to v1, committed
        old_snapshot.execute(f"UPDATE {v1}.subject SET nickname = 'Ana' WHERE subject_id = 1")  # back to the old value
        old_snapshot.execute("COMMIT")
    finally:
        old_snapshot.close()
        v2_client.close()
    assert db.query(f"SELECT name FROM {v2}.animal WHERE subject_id = 1") == [{"name": "Ana"}]
    _same_both_ways(s)


def test_a_fixed_clock_and_a_carried_write_ended_early_leave_the_next_write_synced(db, prefix, dj_env, tmp_path,
                                                                                   server_settings):
    """A client's own write is carried without comparing first; only a trigger inside a carried write compares, told
    by a token holding the statement's start time (NOW(6)). A session that fixes its clock (SET TIMESTAMP) gives every
    statement that time, so a token left by a carried write ended early (1205 here) still looks like this statement's:
    the next writes must then compare before writing, never skip. Each is checked on the other side."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    s.generate()
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    s.open_at_60()
    client = connect(server_settings)
    try:
        client.execute("SET timestamp = 1700000000.123456")
        assert _end_carried_write(server_settings, client, "lock wait timeout", v1, v2, 1) == 1205
        assert client.query("SELECT @djsqlgen_carry IS NOT NULL AS stale") == [{"stale": 1}]  # left by the ended write
        client.execute(f"UPDATE {v2}.animal SET name = 'fixed' WHERE subject_id = 1")
        client.execute(f"INSERT INTO {v2}.animal (subject_id, kind, name) VALUES (40, 'rat', 'clock')")
        client.execute(f"UPDATE {v1}.subject SET nickname = 'back' WHERE subject_id = 2")
        client.execute(f"INSERT INTO {v1}.session VALUES (40, 3, '2024-05-01', 'rig4')")
        client.execute(f"DELETE FROM {v2}.session__trial WHERE subject_id = 1 AND trial_idx = 2")
    finally:
        client.close()
    assert db.query(f"SELECT subject_id, nickname FROM {v1}.subject WHERE subject_id IN (1, 2, 40) ORDER BY 1") == [
        {"subject_id": 1, "nickname": "fixed"}, {"subject_id": 2, "nickname": "back"},
        {"subject_id": 40, "nickname": "clock"}]
    assert db.query(f"SELECT rig FROM {v2}.session WHERE subject_id = 40") == [{"rig": "rig4"}]
    assert db.query(f"SELECT COUNT(*) AS n FROM {v1}.session__trial WHERE subject_id = 1") == [{"n": 1}]
    _same_both_ways(s)
    s.verify()


def test_the_same_row_on_both_sides_at_once_rolls_the_loser_back_whole_on_both_sides(db, prefix, dj_env, tmp_path,
                                                                                    server_settings):
    """Two transactions, one on each side, each writing a row of its own first (carried to the other side) and then
    the same shared row, at the same instant: they take the shared row's two locks in opposite orders and can
    deadlock. The loser (1213) must leave nothing on either side, its own row included; the winner everything."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    s.generate()
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    s.open_at_60()
    sides = {"v1": (f"INSERT INTO {v1}.subject (subject_id, kind, nickname) VALUES ({{own}}, 'rat', 'own')",
                    f"UPDATE {v1}.subject SET nickname = 'one{{n}}' WHERE subject_id = 1"),
             "v2": (f"INSERT INTO {v2}.animal (subject_id, kind, name) VALUES ({{own}}, 'rat', 'own')",
                    f"UPDATE {v2}.animal SET name = 'two{{n}}' WHERE subject_id = 1")}
    outcomes: list[tuple[int, str, int | None]] = []  # (own subject, side, errno or None)
    n = 0
    while sum(1 for *_, e in outcomes if e == 1213) < 2 and n < 200:
        n += 1
        barrier = threading.Barrier(2)

        def write(side: str, own: int, n: int = n, barrier: threading.Barrier = barrier) -> None:
            conn = connect(server_settings)
            try:
                conn.execute("BEGIN")
                conn.execute(sides[side][0].format(own=own))
                barrier.wait()
                conn.execute(sides[side][1].format(n=n))
                conn.execute("COMMIT")
                outcomes.append((own, side, None))
            except ServerError as exc:
                outcomes.append((own, side, exc.errno))
            finally:
                conn.close()

        threads = [threading.Thread(target=write, args=(side, 1000 * n + k)) for k, side in enumerate(sides, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    losers = [own for own, _, errno in outcomes if errno == 1213]
    assert len(losers) >= 2, f"no deadlock in {n} tries: {outcomes}"
    assert all(errno in (None, 1213) for *_, errno in outcomes), outcomes
    winners = [own for own, _, errno in outcomes if errno is None]
    for own in losers + winners:
        expected = [] if own in losers else [{"n": 1}]
        for sql in (f"SELECT 1 AS n FROM {v1}.subject WHERE subject_id = {own}",
                    f"SELECT 1 AS n FROM {v2}.animal WHERE subject_id = {own}"):
            assert db.query(sql) == expected, (own, sql)
    _same_both_ways(s)
    s.verify()
