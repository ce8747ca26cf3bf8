"""Server facts for two-way sync (issue 24, item 2): which echo guard can go stale, and one that cannot.

Two tables, each with a trigger that carries its writes to the other, are the smallest two-way sync. Without a
guard, the carried write fires the other table's trigger, which writes back into the table of the statement
that started it: error 1442. The usual guard is a session variable set around the carried write; when that
write ends by a lock-wait timeout (1205), a deadlock (1213), KILL QUERY or max_statement_time, no handler
resets it, and every later write on that connection is silently not carried.

The guard that cannot go stale holds no state at all: a trigger writes the other side only where the other side
does not already hold what it would write (compare before write). The echo then finds its own row already in
place and stops; a write that failed leaves nothing behind. Each ending below is forced inside the carried
write, in autocommit and inside an explicit transaction; the connection's next write must still be carried.
In generated triggers the comparison is by bytes (BINARY, as for key changes): under a _ci collation 'r2' and
'R2' compare equal, and a case-only change would not be carried.
"""

from __future__ import annotations

import threading

import pymysql
import pytest
from support.lock_waits import until_it_waits_for_a_row_lock

from djsqlgen.run.db import ServerError, connect

# The classic guard: a session variable around the carried write.
SESSION_GUARD = """
CREATE TRIGGER `{db}`.`{me}_ai` AFTER INSERT ON `{db}`.`{me}` FOR EACH ROW
BEGIN
    IF @two_way_guard IS NULL THEN
        SET @two_way_guard = 1;
        INSERT INTO `{db}`.`{other}` (id, v) VALUES (NEW.id, NEW.v);
        SET @two_way_guard = NULL;
    END IF;
END"""

# Compare before write: carried only where the other side differs; the echo finds its row and stops.
COMPARE_GUARD = """
CREATE TRIGGER `{db}`.`{me}_ai` AFTER INSERT ON `{db}`.`{me}` FOR EACH ROW
BEGIN
    IF NOT EXISTS (SELECT 1 FROM `{db}`.`{other}` WHERE id = NEW.id AND v <=> NEW.v) THEN
        INSERT INTO `{db}`.`{other}` (id, v) VALUES (NEW.id, NEW.v) ON DUPLICATE KEY UPDATE v = NEW.v;
    END IF;
END"""

# The statement's mark (engines/two_way.statement_mark): a trigger sets LAST_INSERT_ID to its table's number before
# it carries; the other side's trigger finds it there only inside that carried write (the server restores the value
# when a trigger ends, however it ends), and skips its echo without comparing.
MARK = {"v1": (1 << 63) + 1, "v2": (1 << 63) + 2}
STATEMENT_MARK_GUARD = """
CREATE TRIGGER `{db}`.`{me}_ai` AFTER INSERT ON `{db}`.`{me}` FOR EACH ROW
BEGIN
    IF NOT (LAST_INSERT_ID() <=> {other_mark}) THEN
        DO LAST_INSERT_ID({my_mark});
        INSERT INTO `{db}`.`{other}` (id, v) VALUES (NEW.id, NEW.v);
    END IF;
END"""

# How the carried write is ended, and the error the client gets.
ENDINGS = {"lock wait timeout": 1205, "deadlock": 1213, "kill query": 1317, "max_statement_time": 1969}


def _setup(db, name: str, guard: str) -> None:
    """v1 and v2 hold rows 1 and 3 (written before the triggers), so a gap lock on v2 can stop an insert of 2."""
    db.execute(f"CREATE DATABASE `{name}`")
    for t in ("v1", "v2"):
        db.execute(f"CREATE TABLE `{name}`.`{t}` (id int PRIMARY KEY, v int) ENGINE=InnoDB")
        db.execute(f"INSERT INTO `{name}`.`{t}` VALUES (1, 1), (3, 3)")
    db.execute(f"CREATE TABLE `{name}`.ballast (id int PRIMARY KEY) ENGINE=InnoDB")
    for me, other in (("v1", "v2"), ("v2", "v1")):
        db.execute(guard.format(db=name, me=me, other=other, my_mark=MARK[me], other_mark=MARK[other]))


def _in_background(db, sql: str, errors: list[int]) -> threading.Thread:
    def run():
        try:
            db.execute(sql)
        except ServerError as exc:
            errors.append(exc.errno)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _end_a_carried_write(server_settings, name: str, client, ending: str) -> list[int]:
    """The client writes v1 row 2; its trigger's write of v2 row 2 waits for another transaction's gap lock on v2
    and is ended by ``ending``. Returns the errors the client got."""
    holder, watcher = connect(server_settings), connect(server_settings)
    errors: list[int] = []
    try:
        holder.execute("BEGIN")
        if ending == "deadlock":  # the heavier transaction, so InnoDB rolls back the client's
            holder.execute(f"INSERT INTO `{name}`.ballast SELECT seq FROM `{name}`.seq_1_to_2000")
        holder.execute(f"SELECT * FROM `{name}`.v2 WHERE id BETWEEN 1 AND 3 FOR UPDATE")  # a gap lock, no write
        wait = {"lock wait timeout": 1}.get(ending, 30)
        client.execute(f"SET SESSION innodb_lock_wait_timeout = {wait}")
        if ending == "max_statement_time":
            client.execute("SET SESSION max_statement_time = 0.5")
        writer = _in_background(client, f"INSERT INTO `{name}`.v1 (id, v) VALUES (2, 2)", errors)
        until_it_waits_for_a_row_lock(watcher, client.thread_id, writer.is_alive)
        if ending == "deadlock":  # the holder now wants the client's new v1 row: a cycle
            holder_errors: list[int] = []
            _in_background(holder, f"SELECT * FROM `{name}`.v1 WHERE id = 2 FOR UPDATE", holder_errors).join()
            assert holder_errors == [], holder_errors
        elif ending == "kill query":
            watcher.execute(f"KILL QUERY {client.thread_id}")
        writer.join(timeout=20)
        assert not writer.is_alive()
        holder.execute("ROLLBACK")
        client.execute("SET SESSION max_statement_time = 0")
    finally:
        holder.close()
        watcher.close()
    return errors


def _carried_after(server_settings, name: str, guard: str, ending: str, in_transaction: bool) -> dict:
    """End a carried write by ``ending``, then write once to each side on the same connection: what arrived."""
    with connect(server_settings) as db:
        _setup(db, name, guard)
    client = connect(server_settings)
    try:
        if in_transaction:
            client.execute("BEGIN")
            client.execute(f"INSERT INTO `{name}`.ballast VALUES (-1)")  # the transaction has done work before
        errors = _end_a_carried_write(server_settings, name, client, ending)
        client.execute(f"INSERT INTO `{name}`.v1 (id, v) VALUES (5, 5)")
        client.execute(f"INSERT INTO `{name}`.v2 (id, v) VALUES (6, 6)")
        if in_transaction:
            client.execute("COMMIT")
        last_insert_id = client.query("SELECT LAST_INSERT_ID() AS i")[0]["i"]
    finally:
        client.close()
    with connect(server_settings) as db:
        rows = {t: db.query(f"SELECT id, v FROM `{name}`.`{t}` ORDER BY id") for t in ("v1", "v2")}
    return {"errors": errors, "v1 to v2": {"id": 5, "v": 5} in rows["v2"], "v2 to v1": {"id": 6, "v": 6} in rows["v1"],
            "equal": rows["v1"] == rows["v2"], "client's LAST_INSERT_ID()": last_insert_id}


@pytest.mark.parametrize("in_transaction", [False, True], ids=["autocommit", "explicit transaction"])
@pytest.mark.parametrize("ending", list(ENDINGS))
def test_a_session_variable_guard_goes_stale_when_the_carried_write_ends_early(
        server_settings, prefix, ending, in_transaction):
    """The fact: no handler runs for these endings, so the guard stays set and the next writes are not carried."""
    seen = _carried_after(server_settings, f"{prefix}_g", SESSION_GUARD, ending, in_transaction)
    assert seen["errors"] == [ENDINGS[ending]], seen
    assert not seen["v1 to v2"] and not seen["v2 to v1"], seen


@pytest.mark.parametrize("in_transaction", [False, True], ids=["autocommit", "explicit transaction"])
@pytest.mark.parametrize("ending", list(ENDINGS))
def test_compare_before_write_cannot_go_stale(server_settings, prefix, ending, in_transaction):
    """No state, so nothing to go stale: after each ending the next write on the connection is carried, both ways,
    and nothing echoes (no 1442; each side holds the same rows)."""
    seen = _carried_after(server_settings, f"{prefix}_c", COMPARE_GUARD, ending, in_transaction)
    assert seen["errors"] == [ENDINGS[ending]], seen
    assert seen["v1 to v2"] and seen["v2 to v1"] and seen["equal"], seen


@pytest.mark.parametrize("in_transaction", [False, True], ids=["autocommit", "explicit transaction"])
@pytest.mark.parametrize("ending", list(ENDINGS))
def test_the_statements_mark_cannot_go_stale(server_settings, prefix, ending, in_transaction):
    """The mark lives in LAST_INSERT_ID(), which the server gives back when the trigger that set it ends, whichever
    way: after each ending the next writes are carried both ways, nothing echoes, and the client's own
    LAST_INSERT_ID() never shows a mark."""
    seen = _carried_after(server_settings, f"{prefix}_m", STATEMENT_MARK_GUARD, ending, in_transaction)
    assert seen["errors"] == [ENDINGS[ending]], seen
    assert seen["v1 to v2"] and seen["v2 to v1"] and seen["equal"], seen
    assert seen["client's LAST_INSERT_ID()"] == 0, seen


def test_the_statements_mark_leaves_the_clients_insert_ids_alone(server_settings, prefix):
    """A trigger's LAST_INSERT_ID(mark) is not what its client reads: LAST_INSERT_ID() and the insert id of the OK
    packet (DataJoint's and pymysql's lastrowid) stay the statement's own, with and without an AUTO_INCREMENT key."""
    name = f"{prefix}_ids"
    with connect(server_settings) as db:
        _setup(db, name, STATEMENT_MARK_GUARD)
        db.execute(f"CREATE TABLE `{name}`.counted (id int AUTO_INCREMENT PRIMARY KEY, v int) ENGINE=InnoDB "
                   "AUTO_INCREMENT=100")  # (v1 and v2 hold 1 and 3)
        db.execute(STATEMENT_MARK_GUARD.format(db=name, me="counted", other="v1", my_mark=(1 << 63) + 3,
                                               other_mark=MARK["v1"]))
    raw = pymysql.connect(host=server_settings.host, port=server_settings.port, user=server_settings.user,
                          password=server_settings.password, autocommit=True)
    try:
        with raw.cursor() as cur:
            cur.execute(f"INSERT INTO `{name}`.counted (v) VALUES (7)")
            generated = cur.lastrowid
            cur.execute("SELECT LAST_INSERT_ID()")
            assert cur.fetchone()[0] == generated > 0
            cur.execute(f"INSERT INTO `{name}`.v1 (id, v) VALUES (8, 8)")  # no AUTO_INCREMENT: its trigger marks
            assert cur.lastrowid == 0
            cur.execute("SELECT LAST_INSERT_ID()")
            assert cur.fetchone()[0] == generated
            cur.execute(f"SELECT id, v FROM `{name}`.v2 WHERE id IN ({generated}, 8) ORDER BY id")
            assert cur.fetchall() == ((8, 8), (generated, 7))  # each carried through v1, no echo
    finally:
        raw.close()


def test_without_a_guard_the_echo_fails_with_1442(server_settings, prefix):
    """Why a guard at all: the carried write fires the other side's trigger, which writes back into the table of
    the statement that started it."""
    name = f"{prefix}_n"
    unguarded = COMPARE_GUARD.replace("IF NOT EXISTS", "IF 1 OR NOT EXISTS")
    with connect(server_settings) as db:
        _setup(db, name, unguarded)
        with pytest.raises(ServerError) as failed:
            db.execute(f"INSERT INTO `{name}`.v1 (id, v) VALUES (5, 5)")
    assert failed.value.errno == 1442


# A closed side (issue 24, item 5) takes only what the open side already holds: stateless like the guard above.
CLOSED_GUARD = """
CREATE TRIGGER `{db}`.`{me}_bi_closed` BEFORE INSERT ON `{db}`.`{me}` FOR EACH ROW
BEGIN
    IF NOT EXISTS (SELECT 1 FROM `{db}`.`{other}` WHERE id = NEW.id AND v <=> NEW.v) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{me} is closed for writes: write to {other}';
    END IF;
END"""


def test_a_closed_side_refuses_its_own_clients_and_takes_what_the_other_side_carries(server_settings, prefix):
    """No session state tells a carried write from a client's: the closed side's check asks the open side."""
    name = f"{prefix}_closed"
    with connect(server_settings) as db:
        _setup(db, name, COMPARE_GUARD)
        db.execute(CLOSED_GUARD.format(db=name, me="v1", other="v2"))
        with pytest.raises(ServerError) as refused:
            db.execute(f"INSERT INTO `{name}`.v1 (id, v) VALUES (5, 5)")
        db.execute(f"INSERT INTO `{name}`.v2 (id, v) VALUES (6, 6)")
        rows = {t: db.query(f"SELECT id, v FROM `{name}`.`{t}` ORDER BY id") for t in ("v1", "v2")}
    assert refused.value.errno == 1644 and "v1 is closed" in refused.value.message
    assert rows["v1"] == rows["v2"] == [{"id": 1, "v": 1}, {"id": 3, "v": 3}, {"id": 6, "v": 6}], rows
