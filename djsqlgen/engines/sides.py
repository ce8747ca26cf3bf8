"""Which side takes writes: one row per side (v1, v2) in the control table ``sides``, read by the triggers.

The cut-over closes v1 by a row, not by DDL (issue 21): CREATE/DROP TRIGGER on a table that never-idle writers
keep open waits for their metadata locks, and a DDL that waits makes a writer the 1213 victim. An UPDATE of one
row waits for no writer, because every trigger reads the row with a consistent read (``SELECT … INTO`` in a trigger
takes no lock with binary logging off or ROW, which 30 requires; ``IF EXISTS (…)`` and ``SET x = (SELECT …)`` would
be locking reads there, and the UPDATE would then wait for every open writer transaction). A transaction whose
snapshot is older than the UPDATE still reads "open": its v1 write lands in v1 and is carried into v2 by the
dual-write trigger it runs, so nothing is lost; 70 waits until every such transaction has ended
(``wait_for_older_transactions``). The v2 row is the same mechanism's other half, for closing v2 (issue 24); only
v1's row is read today.
"""

from __future__ import annotations

from djsqlgen.engines.context import Context
from djsqlgen.model.target import TableRef
from djsqlgen.sqltext.messages import SIGNAL_LIMIT, short_label
from djsqlgen.sqltext.quoting import quote_literal, quote_qualified
from djsqlgen.sqltext.statements import Owned, Statement

SIDES = ("v1", "v2")
REFUSAL_CODE = "W8"
# How long 70 waits, by default, for the transactions that began before v1 closed (session variable
# @djsqlgen_close_wait_s overrides it); then it stops, v1 left closed, and applying it again waits again.
CLOSE_WAIT_S = 300


def sides_table(ctx: Context) -> str:
    return ctx.control_table("sides")


def seed(ctx: Context) -> Statement:
    """One row per side, both open; a row already there keeps its state (20 runs again, rollback/80 too)."""
    rows = ", ".join(f"({quote_literal(s)}, 1)" for s in SIDES)
    return Statement("sides_rows", f"INSERT IGNORE INTO {sides_table(ctx)} (side, is_open)\nVALUES {rows}",
                     "both sides take writes until the cut-over closes v1")


def is_open_sql(ctx: Context, side: str) -> str:
    """SQL: ``side`` takes writes (a locking read where it stands in a condition: for files and status only)."""
    return (f"COALESCE((SELECT is_open FROM {sides_table(ctx)} WHERE side = {quote_literal(side)}), 1) = 1")


def read_side(ctx: Context, side: str) -> str:
    """Trigger body lines: v_open, v_since from ``side``'s row by a consistent read (no lock: see the module).
    An aggregate always returns one row, so a missing row reads as open without a 'no data' warning."""
    return (f"SELECT COALESCE(MIN(is_open), 1), COALESCE(DATE_FORMAT(MIN(closed_at), '%Y-%m-%d %H:%i'), '')\n"
            f"  INTO v_open, v_since\n  FROM {sides_table(ctx)} WHERE side = {quote_literal(side)}")


def v2_home(ctx: Context, v1_table: TableRef) -> str | None:
    """Where a v1 table's writes go after the cut-over: the v2 table it drives, by its final name; None when no
    v2 table is made from it (it is retired)."""
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
    since = "YYYY-MM-DD HH:MM"  # what DATE_FORMAT gives (read_side)
    head, middle = f"djsqlgen {REFUSAL_CODE} ", " is read-only since "
    tail = "; write to " if home else "; retired, v2 has no such table"
    room = SIGNAL_LIMIT - len(head + middle + since + tail)
    other = len(home) if home else 0
    v1_label = short_label(v1_table.label, min(len(v1_table.label), max(room // 2, room - other)))
    tail += short_label(home, room - len(v1_label)) if home else ""
    assert len(head + v1_label + middle + since + tail) <= SIGNAL_LIMIT, (head, v1_label, tail)
    return f"LEFT(CONCAT({quote_literal(head + v1_label + middle)}, v_since, {quote_literal(tail)}), {SIGNAL_LIMIT})"


def refusal_block(ctx: Context, v1_table: TableRef) -> str:
    """A trigger body block: fail the write with W8 once v1 is closed. Runs first in every v1 trigger."""
    return (f"BEGIN\n  DECLARE v_open TINYINT DEFAULT 1;\n  DECLARE v_since VARCHAR(20) DEFAULT '';\n"
            f"  DECLARE v_refusal VARCHAR({SIGNAL_LIMIT}) DEFAULT '';\n  {read_side(ctx, 'v1')};\n"
            f"  IF v_open = 0 THEN\n    SET v_refusal = {refusal_message_sql(ctx, v1_table)};\n"
            "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_refusal;\n  END IF;\nEND")


def create_trigger_prefix(ctx: Context) -> str:
    """CREATE [OR REPLACE] TRIGGER [IF NOT EXISTS]: a re-run replaces (MariaDB) or keeps (MySQL 8.0.29+)."""
    return "CREATE OR REPLACE TRIGGER " if ctx.dialect.create_or_replace_trigger else "CREATE TRIGGER IF NOT EXISTS "


def guard_trigger(ctx: Context, v1_table: TableRef, schema: str, event: str, name: str) -> Statement:
    """A BEFORE trigger on a v1 table (standing in ``schema``) that refuses ``event`` while v1 is closed: for the
    writes no dual-write trigger sees, and for v1 kept read-only once those are gone (80)."""
    sql = (f"{create_trigger_prefix(ctx)}{quote_qualified((schema, name))}\nBEFORE {event} ON "
           f"{quote_qualified((schema, v1_table.name))}\nFOR EACH ROW\n{refusal_block(ctx, v1_table)}")
    return Statement(f"guard_create.{schema}.{v1_table.name}.{event.lower()}", sql,
                     f"every {event} on v1's {v1_table.name} fails once v1 is closed (sides row), naming v2", compound=True,
                     creates=Owned("trigger", schema, name, v1_table.name))


def close(ctx: Context, side: str, by: str) -> Statement:
    """Close ``side``: one row updated, no lock waited for (the triggers read it without locking). Closed again, it
    keeps its first closing time."""
    return Statement(f"sides_close.{side}",
                     f"UPDATE {sides_table(ctx)} SET is_open = 0, closed_at = NOW(6), closed_by = {quote_literal(by)}\n"
                     f"WHERE side = {quote_literal(side)} AND is_open = 1",
                     f"{side} refuses writes from the next transaction on (a row, not DDL: no writer waits for it)")


def reopen(ctx: Context, side: str, by: str) -> Statement:
    return Statement(f"sides_reopen.{side}",
                     f"UPDATE {sides_table(ctx)} SET is_open = 1, closed_at = NULL, closed_by = {quote_literal(by)}\n"
                     f"WHERE side = {quote_literal(side)}",
                     f"{side} takes writes again")


def wait_for_older_transactions(ctx: Context, filename: str, done_when: str | None = None) -> Statement:
    """Wait until every transaction that began before the close (which has committed: a step of its own) has ended:
    its snapshot may still read "open". INNODB_TRX (PROCESS privilege) lists them with their start, to the second:
    one that began in the same second after the close is waited for too, harmlessly. It cannot tell which of them
    will write v1, so it waits for every one on the server. Bounded by the clock (SYSDATE: NOW() may stand still
    within a routine): it stops with a message naming the oldest one's connection (@djsqlgen_close_wait_s, default
    CLOSE_WAIT_S); v1 stays closed, and the file applied again waits again. A poll every 0.25 s: each is a read of
    INNODB_TRX, which the server builds for the query."""
    limit = f"COALESCE(@djsqlgen_close_wait_s, {CLOSE_WAIT_S})"
    stopped = f"djsqlgen stopped {filename}: "
    sql = (
        "BEGIN\n"
        "  DECLARE v_since DATETIME(6) DEFAULT SYSDATE(6);\n"
        "  DECLARE v_left INT DEFAULT 0;\n"
        "  DECLARE v_oldest BIGINT DEFAULT 0;\n"
        "  DECLARE v_waited DOUBLE DEFAULT 0;\n"
        f"  DECLARE v_message VARCHAR({SIGNAL_LIMIT}) DEFAULT '';\n"
        "  older: LOOP\n"
        "    SELECT COUNT(*), COALESCE(MIN(trx_mysql_thread_id), 0) INTO v_left, v_oldest\n"
        "      FROM information_schema.INNODB_TRX\n"
        "      WHERE trx_started <= v_since AND trx_mysql_thread_id <> CONNECTION_ID();\n"
        "    IF v_left = 0 THEN\n      LEAVE older;\n    END IF;\n"
        "    SET v_waited = TIMESTAMPDIFF(MICROSECOND, v_since, SYSDATE(6)) / 1e6;\n"
        f"    IF v_waited >= {limit} THEN\n"
        f"      SET v_message = LEFT(CONCAT({quote_literal(stopped)}, v_left, ' transaction(s) older than v1''s close "
        "still open at ', ROUND(v_waited), ' s (thread ', v_oldest, '); v1 stays closed'), "
        f"{SIGNAL_LIMIT});\n"
        "      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_message;\n    END IF;\n"
        "    DO SLEEP(0.25);\n  END LOOP older;\nEND")
    return Statement("sides_wait.v1", sql, "wait for the transactions that began while v1 was open: their writes "
                                          "still reach v1 and, carried by the dual-write triggers, v2",
                     done_when=done_when)
