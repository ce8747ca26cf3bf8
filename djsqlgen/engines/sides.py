"""Which side takes writes: one row per side (v1, v2) in the control table ``sides``, read by the triggers.

The cut-over closes v1 by a row, not by DDL (issue 21): CREATE/DROP TRIGGER on a table that never-idle writers
keep open waits for their metadata locks, and a DDL that waits makes a writer the 1213 victim.

Lock discipline (the RUNBOOK's "Lock discipline" says the same to the DBA):

- Every trigger that asks whether v1 is open (the dual-write triggers' first block, the guards, v2's write
  trackers) reads v1's row with a locking read, ``LOCK IN SHARE MODE`` (MySQL ``FOR SHARE``), by its primary key:
  a shared lock on that one record (no gap: a unique equality that finds its row). It lasts until the writer's
  transaction ends. Shared locks are compatible, so writers never wait for each other on it, and a transaction
  that holds it asks again for free.
- The close (70) and the reopen (rollback/70) update the row in a transaction of their own that waits at most
  1 s for the lock (session ``innodb_lock_wait_timeout`` = 1), retried every second up to a bound
  (``@djsqlgen_close_wait_s``, default CLOSE_WAIT_S). When the update commits, every transaction that read
  "open" has ended (it held its shared lock to its end) and every later one reads "closed" (a locking read
  reads the latest committed row, whatever its snapshot). So 70 waits for exactly the transactions that wrote
  v1 (or v2, through a tracker) since it began: an idle transaction on other tables does not hold it up. At the
  bound the update never committed: v1 is still open, and the file is safe to apply again.
- While the close's exclusive request waits, new shared requests queue behind it (InnoDB grants in order): a
  writer's first v1 write stalls up to the close's wait, 1 s, per attempt; between attempts (1 s) writers go on.
- Deadlock: writer T2's statement has locked its v1 row before its trigger reads the sides row (the dual-write
  triggers run AFTER the write; an UPDATE or DELETE locks its row before a BEFORE guard runs too), and that shared
  request queues behind the close; writer T1, holding the shared lock, waits for T2's row; the close waits for T1.
  InnoDB rolls back the lightest transaction (undo records plus locks; trx_weight 2 for the close against 5 for
  such a writer, probed on MariaDB 10.11): the close, which has changed nothing. It retries; no writer sees 1213
  (tests/integration/test_cutover_flag.py forces that cycle: the close was the victim 10 times of 10).
- A consistent read (the first design) let a transaction whose snapshot predates the close read "open", so 70
  had to wait for every transaction on the server (INNODB_TRX cannot tell which will write v1), and an idle one
  anywhere stopped it with v1 closed. v2's trackers read with a lock for the same reason: a v2 write of a
  transaction older than the close would read "open" and go untracked, and rollback/70 would lose it.

The v2 row is the same mechanism's other half (issue 24): in a two-way plan v2's reverse triggers read it the same
way, and `djsqlgen close|reopen v1|v2 PLAN` (sides/close_v1.sql …) closes either side while the other keeps syncing
into it. There a closed side's triggers refuse only their own clients' writes: a write the other side's trigger
carries into it, and the engine's own sessions, pass without reading the row (``refusal_block``).
"""

from __future__ import annotations

from djsqlgen.engines.context import Context
from djsqlgen.model.target import TableRef
from djsqlgen.sqltext.messages import SIGNAL_LIMIT, short_label
from djsqlgen.sqltext.quoting import quote_literal, quote_qualified
from djsqlgen.sqltext.statements import Owned, Statement

SIDES = ("v1", "v2")
REFUSAL_CODE = "W8"
# How long 70 (and rollback/70) tries, by default, to change a side's row while transactions that read it stay open
# (session variable @djsqlgen_close_wait_s overrides it); then it stops with the side unchanged, safe to apply again.
CLOSE_WAIT_S = 300
# Each attempt waits this long for the row (innodb_lock_wait_timeout: whole seconds, 1 the least MySQL takes), then
# rolls back and lets the writers queued behind it go on for RETRY_PAUSE_S.
ATTEMPT_WAIT_S = 1
RETRY_PAUSE_S = 1


def sides_table(ctx: Context) -> str:
    return ctx.control_table("sides")


def seed(ctx: Context) -> Statement:
    """One row per side, both open; a row already there keeps its state (20 runs again, rollback/80 too)."""
    rows = ", ".join(f"({quote_literal(s)}, 1)" for s in SIDES)
    return Statement("sides_rows", f"INSERT IGNORE INTO {sides_table(ctx)} (side, is_open)\nVALUES {rows}",
                     "both sides take writes until the cut-over closes v1")


def is_open_sql(ctx: Context, side: str, is_open: bool = True) -> str:
    """SQL: ``side`` takes writes (``is_open`` False: refuses them; a missing row reads as open). A locking read
    where it stands in a condition: for files and status only."""
    return (f"COALESCE((SELECT is_open FROM {sides_table(ctx)} WHERE side = {quote_literal(side)}), 1) = "
            f"{int(is_open)}")


def share_lock_clause(ctx: Context) -> str:
    """A shared record lock held to the transaction's end (MySQL 8 spells it FOR SHARE; MariaDB has only this)."""
    return "LOCK IN SHARE MODE" if ctx.dialect.is_mariadb else "FOR SHARE"


def read_side(ctx: Context, side: str, also: tuple[str, str] | None = None) -> str:
    """A trigger body block: v_open (TINYINT, default 1) and v_since (DATETIME(6), default NULL) from ``side``'s row
    by a locking read (a shared lock on that row to the end of the writer's transaction: see the module). A plain
    read of the row's columns by its key, formatted only in a refusal: it runs on every row a client writes (the
    aggregate it replaced, one row even where none is, cost 4-10 % more server CPU per writer iteration in
    bench/two_way_bench.py). A missing row reads as open: no row, no assignment (the handler's part is ``also``;
    the 'no data' warning 1329 it catches would be cleared by the trigger's next statement anyway). ``also``:
    (variable, scalar subquery) read in the same statement (one statement less on every row), and by the handler
    where the row is missing."""
    extra, into = (f", {also[1]}", f", {also[0]}") if also else ("", "")
    missing = f"SET {also[0]} = {also[1]}" if also else "BEGIN END"
    return (f"BEGIN\n  DECLARE CONTINUE HANDLER FOR NOT FOUND {missing};\n"
            f"  SELECT is_open, closed_at{extra}\n  INTO v_open, v_since{into}\n"
            f"  FROM {sides_table(ctx)} WHERE side = {quote_literal(side)}\n  {share_lock_clause(ctx)};\nEND")


def v2_home(ctx: Context, v1_table: TableRef) -> str | None:
    """Where a v1 table's writes go after the cut-over: the v2 table it drives, by its final name; None when no
    v2 table is made from it (it is retired). On the reverse model (``ctx.reverse``): where a v2 table's writes go
    while v2 is closed, the v1 table it drives."""
    for t in ctx.model.targets:
        if t.source.driving == v1_table:
            spec = ctx.model.schema_map(v1_table.schema)
            schema = spec.final if ctx.plan.cutover.rename_to_final and spec.final else spec.target
            return f"{schema}.{t.name}"
    return None


def refusal_message_sql(ctx: Context, v1_table: TableRef) -> str:
    """SQL of the W8 message (within 128 characters): the v1 table, since when, where to write instead; long names
    are shortened, their ends (the tables' own names) kept."""
    home = v2_home(ctx, v1_table)
    since = "YYYY-MM-DD HH:MM"  # what the DATE_FORMAT below gives
    head, middle = f"djsqlgen {REFUSAL_CODE} ", " is read-only since "
    tail = "; write to " if home else "; retired, v2 has no such table"
    room = SIGNAL_LIMIT - len(head + middle + since + tail)
    other = len(home) if home else 0
    v1_label = short_label(v1_table.label, min(len(v1_table.label), max(room // 2, room - other)))
    tail += short_label(home, room - len(v1_label)) if home else ""
    assert len(head + v1_label + middle + since + tail) <= SIGNAL_LIMIT, (head, v1_label, tail)
    since_sql = "COALESCE(DATE_FORMAT(v_since, '%Y-%m-%d %H:%i'), '')"
    return (f"LEFT(CONCAT({quote_literal(head + v1_label + middle)}, {since_sql}, {quote_literal(tail)}), "
            f"{SIGNAL_LIMIT})")


def refusal_block(ctx: Context, table: TableRef, side: str = "v1", clients_only: bool = False,
                  also: tuple[str, str] | None = None) -> str:
    """A trigger body block: fail the write with W8 once ``side`` is closed. Runs first in every trigger of the side.
    ``clients_only`` (two-way plans): a write the other side's trigger carries into this one (the trigger's carry
    token, engines/two_way.carry_token) and the engine's own sessions pass without reading the row, so a closed side
    still receives the other's writes, and closing it waits only for its own clients. ``also``: see read_side."""
    read = read_side(ctx, side, also).replace("\n", "\n  ")
    check = (f"BEGIN\n  DECLARE v_open TINYINT DEFAULT 1;\n  DECLARE v_since DATETIME(6) DEFAULT NULL;\n"
             f"  DECLARE v_refusal VARCHAR({SIGNAL_LIMIT}) DEFAULT '';\n  {read};\n"
             f"  IF v_open = 0 THEN\n    SET v_refusal = {refusal_message_sql(ctx, table)};\n"
             "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_refusal;\n  END IF;\nEND")
    if not clients_only:
        return check
    from djsqlgen.engines.two_way import ENGINE_SESSION, IN_CARRY

    return (f"IF NOT {IN_CARRY} AND {ENGINE_SESSION} IS NULL THEN\n  " + check.replace("\n", "\n  ")
            + ";\nEND IF")


def create_trigger_prefix(ctx: Context) -> str:
    """CREATE [OR REPLACE] TRIGGER [IF NOT EXISTS]: a re-run replaces (MariaDB) or keeps (MySQL 8.0.29+)."""
    return "CREATE OR REPLACE TRIGGER " if ctx.dialect.create_or_replace_trigger else "CREATE TRIGGER IF NOT EXISTS "


def guard_trigger(ctx: Context, v1_table: TableRef, schema: str, event: str, name: str,
                  carried_pass: bool = False) -> Statement:
    """A BEFORE trigger on a v1 table (standing in ``schema``) that refuses ``event`` while v1 is closed: for the
    writes no dual-write trigger sees, and for v1 kept read-only once those are gone (80). ``carried_pass`` (80 with
    contract.v1: keep-synced): the writes v2's reverse triggers carry into v1 pass (their statement's carry token),
    so v1 stays read-only for its clients and current for its readers."""
    body = refusal_block(ctx, v1_table, clients_only=carried_pass)
    if carried_pass:
        from djsqlgen.engines.two_way import CARRY, IN_CARRY

        body = (f"BEGIN\n  DECLARE {IN_CARRY} BOOLEAN DEFAULT {CARRY} <=> NOW(6);  -- set by a v2 trigger carrying "
                f"this write\n  {body.replace(chr(10), chr(10) + '  ')};\nEND")
    sql = (f"{create_trigger_prefix(ctx)}{quote_qualified((schema, name))}\nBEFORE {event} ON "
           f"{quote_qualified((schema, v1_table.name))}\nFOR EACH ROW\n{body}")
    why = f"every {event} on v1's {v1_table.name} fails once v1 is closed (sides row), naming v2"
    return Statement(f"guard_create.{schema}.{v1_table.name}.{event.lower()}", sql,
                     why + (" (but those v2's triggers carry)" if carried_pass else ""), compound=True,
                     creates=Owned("trigger", schema, name, v1_table.name))


def close(ctx: Context, side: str, filename: str, other_open: str | None = None) -> Statement:
    """Close ``side`` once every transaction that read it open has ended (bounded retry: ``_change``). Closed
    already, nothing is done (its first closing time stays). ``other_open``: only while that side is open, checked
    in the same statement (a multi-table UPDATE reads it with a shared lock), so two closes at once cannot both
    succeed (two-way plans: ``still_open_refusal`` then says so)."""
    by = quote_literal(filename)
    if other_open is None:
        sql = (f"UPDATE {sides_table(ctx)} SET is_open = 0, closed_at = NOW(6), closed_by = {by}\n"
               f"WHERE side = {quote_literal(side)} AND is_open = 1")
    else:
        sql = (f"UPDATE {sides_table(ctx)} AS s\nJOIN {sides_table(ctx)} AS o ON o.side = {quote_literal(other_open)} "
               f"AND o.is_open = 1\nSET s.is_open = 0, s.closed_at = NOW(6), s.closed_by = {by}\n"
               f"WHERE s.side = {quote_literal(side)} AND s.is_open = 1")
    return Statement(f"sides_close.{side}", _change(ctx, side, sql, filename, "wrote", "open"),
                     f"{side} refuses writes from the next transaction on: a row, no DDL; it waits (1 s at a time) "
                     f"only for the transactions that wrote {side}", compound=True,
                     done_when=is_open_sql(ctx, side, is_open=False))


def still_open_refusal(ctx: Context, side: str, other: str, filename: str) -> Statement:
    """After a close conditional on ``other`` being open: ``side`` still open means ``other`` closed meanwhile."""
    message = f"djsqlgen stopped {filename}: {other} was closed meanwhile; {side} stays open (one side takes writes)"
    assert len(message) <= SIGNAL_LIMIT, message
    return Statement(f"sides_still_open.{side}", f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {quote_literal(message)}",
                     f"{other} was closed by another session while this one waited: {side} stays open",
                     done_when=is_open_sql(ctx, side, is_open=False))


def reopen(ctx: Context, side: str, filename: str) -> Statement:
    sql = (f"UPDATE {sides_table(ctx)} SET is_open = 1, closed_at = NULL, closed_by = {quote_literal(filename)}\n"
           f"WHERE side = {quote_literal(side)}")
    return Statement(f"sides_reopen.{side}", _change(ctx, side, sql, filename, "read", "closed"),
                     f"{side} takes writes again (once the transactions that read it closed have ended)",
                     compound=True, done_when=is_open_sql(ctx, side))


def stop_message_parts(filename: str, side: str, verb: str, state: str) -> tuple[str, str, str]:
    """The message at the bound, as head, N (seconds), middle, [connection], tail: the worst case (a 5-digit bound, a
    10-digit connection id, MySQL only) fits SIGNAL's 128 characters."""
    head, middle = f"djsqlgen stopped {filename} at ", f" s: an open transaction {verb} {side}"
    tail = f"; {side} still {state}, safe to rerun"
    assert len(head + "99999" + middle + " (id 4294967295)" + tail) <= SIGNAL_LIMIT, head + middle + tail
    return head, middle, tail


def _blocker_sql(ctx: Context, side: str) -> str:
    """Body lines: v_holder = the connection holding ``side``'s row shared, where the server tells it once the wait
    is over. MySQL 8 lists every granted lock in performance_schema.data_locks (manual, "The data_locks Table";
    LOCK_DATA shows a string key quoted; untested here: MariaDB only). MariaDB lists a lock only while someone waits
    for it (INNODB_LOCKS), and this session's wait has ended: it names none."""
    if ctx.dialect.is_mariadb:
        return ""
    control, table = ctx.control, "sides"
    return ("    BEGIN\n      DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;  -- no SELECT on "
            "performance_schema: unnamed\n"
            "      SELECT t.PROCESSLIST_ID INTO v_holder\n        FROM performance_schema.data_locks l\n"
            "        JOIN performance_schema.threads t ON t.THREAD_ID = l.THREAD_ID\n"
            f"        WHERE l.OBJECT_SCHEMA = {quote_literal(control)} AND l.OBJECT_NAME = {quote_literal(table)}\n"
            "          AND l.LOCK_TYPE = 'RECORD' AND l.LOCK_MODE LIKE 'S%' AND l.LOCK_STATUS = 'GRANTED'\n"
            f"          AND l.LOCK_DATA = {quote_literal(quote_literal(side))}\n"
            "        LIMIT 1;\n    END;\n")


def _change(ctx: Context, side: str, update: str, filename: str, verb: str, state: str) -> str:
    """A block that runs ``update`` (of ``side``'s row) in a transaction of its own, waiting ATTEMPT_WAIT_S for the
    row: a transaction holding it shared (it read the row) makes the attempt give up (1205), or lose a deadlock
    (1213: the lightest transaction is rolled back, and this one has changed nothing); the next attempt follows
    RETRY_PAUSE_S later, until the bound (SYSDATE: NOW() stands still within a routine). At the bound it stops
    with ``side`` unchanged. The session's own lock wait is put back when it ends, either way (another error stops
    the file, and its session, with it)."""
    head, middle, tail = stop_message_parts(filename, side, verb, state)
    limit = f"COALESCE(@djsqlgen_close_wait_s, {CLOSE_WAIT_S})"
    holder = "" if ctx.dialect.is_mariadb else ", IF(v_holder > 0, CONCAT(' (id ', v_holder, ')'), '')"
    body = "\n".join("      " + line for line in update.splitlines())
    return (
        "BEGIN\n"
        "  DECLARE v_since DATETIME(6) DEFAULT SYSDATE(6);\n"
        "  DECLARE v_lock_wait BIGINT DEFAULT @@SESSION.innodb_lock_wait_timeout;\n"
        "  DECLARE v_busy TINYINT DEFAULT 0;\n"
        + ("" if ctx.dialect.is_mariadb else "  DECLARE v_holder BIGINT DEFAULT 0;\n") +
        "  DECLARE v_waited DOUBLE DEFAULT 0;\n"
        f"  DECLARE v_message VARCHAR({SIGNAL_LIMIT}) DEFAULT '';\n"
        f"  SET SESSION innodb_lock_wait_timeout = {ATTEMPT_WAIT_S};\n"
        "  attempts: LOOP\n"
        "    SET v_busy = 0;\n"
        "    BEGIN\n"
        "      -- a transaction holds the row shared (lock wait timeout), or this one is the deadlock's victim\n"
        "      DECLARE CONTINUE HANDLER FOR 1205, 1213 SET v_busy = 1;\n"
        "      START TRANSACTION;\n"
        f"{body};\n"
        "    END;\n"
        "    IF v_busy = 0 THEN\n      COMMIT;\n      LEAVE attempts;\n    END IF;\n"
        "    ROLLBACK;  -- a timeout rolls back the statement only; this attempt had nothing else\n"
        "    SET v_waited = TIMESTAMPDIFF(MICROSECOND, v_since, SYSDATE(6)) / 1e6;\n"
        f"    IF v_waited >= {limit} THEN\n"
        f"{_blocker_sql(ctx, side)}"
        "      SET SESSION innodb_lock_wait_timeout = v_lock_wait;\n"
        f"      SET v_message = LEFT(CONCAT({quote_literal(head)}, ROUND(v_waited), {quote_literal(middle)}{holder}, "
        f"{quote_literal(tail)}), {SIGNAL_LIMIT});\n"
        "      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_message;\n    END IF;\n"
        f"    DO SLEEP({RETRY_PAUSE_S});  -- the writers queued behind this attempt go on meanwhile\n"
        "  END LOOP attempts;\n"
        "  SET SESSION innodb_lock_wait_timeout = v_lock_wait;\n"
        "END")
