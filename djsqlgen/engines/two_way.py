"""What the trigger engine adds for two-way sync (issue 24), on the reverse model (v2 → v1) only.

The reverse triggers are the engine's own (engines/triggers.py, over ``djsqlgen.model.reverse``): this module gives
them what only that direction needs.
- A value v1's column cannot hold exactly (an emoji in latin1, an int out of range, a double into a float) fails
  the v2 write, naming the column, before anything reaches v1: never a silent `?` or a cut value. The files'
  strict sql_mode (kept by the triggers) stops what these checks do not know, with the server's own error.
- v2 takes writes only from 60 on: before, a write that would change v1 is refused (W6). A write v1 already holds
  (the backfill's copy, a write the forward triggers carried) changes nothing there and passes.
- The engine's own sessions (rollback/40 empties v2) set ``ENGINE_SESSION``: their writes are not carried back.
"""

from __future__ import annotations

import hashlib

from djsqlgen.catalog.sqltypes import byte_length, int_range, lossy_reason, parse_sql_type
from djsqlgen.engines.context import Context
from djsqlgen.engines.guards import phase_log
from djsqlgen.model.identity import column_decl
from djsqlgen.model.target import DRIVING, ColumnDecl, TableRef, Target
from djsqlgen.sqltext.messages import one_way_message, writer_message
from djsqlgen.sqltext.naming import ENGINE_SESSION, one_way_trigger_name  # noqa: F401 - re-exported
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal
from djsqlgen.sqltext.render import render
from djsqlgen.sqltext.statements import Owned, Statement

# Set by a forward trigger to the start time of the statement that fired it (two-way plans with one-way tables).
CARRYING = "@djsqlgen_carrying"
# Two-way: the start time of the statement whose trigger is carrying a write to the other side, while it does (see
# carry_token). Its own variable: W7's token above is never cleared.
CARRY = "@djsqlgen_carry"
# A trigger's local: whether it runs inside a write another trigger of its statement carries (an echo is possible).
IN_CARRY = "v_in_carry"
# A reverse trigger's local: whether 60 is applied (sixty_read), read with the sides row.
SIXTY = "v_sixty"
# Set by a BEFORE DELETE trigger about to delete the other side's images of the rows its own side's ON DELETE CASCADE
# removes: the side ('v1 ' or 'v2 ') and the statement's start time.
CASCADING = "@djsqlgen_cascading"


def _indent(text: str, spaces: int) -> str:
    return text.replace("\n", "\n" + " " * spaces)


def carrying_token(written: TableRef) -> tuple[str, str, str]:
    """The first block of a forward trigger in a plan with one-way tables: the writes it carries are this
    statement's (a one-way v2 table lets them through, and refuses its own clients'). Tied to the statement's start
    time, so it never outlives the statement, however that ends."""
    return (written.label, "the v2 writes below are carried from v1 (the one-way v2 tables let them through)",
            f"SET {CARRYING} = NOW(6)")


def _side(ctx: Context, written: bool) -> str:
    """'v1' or 'v2': the side a trigger of ``ctx`` is on, or (``written``) the side it writes."""
    return "v2" if ctx.reverse != written else "v1"


def cascading_token(ctx: Context, written: TableRef) -> tuple[str, str, str]:
    """The first block of a two-way BEFORE DELETE trigger that deletes the other side's images of the rows its own
    side's ON DELETE CASCADE is about to remove: their echo must not delete those rows here first (this statement's
    cascade does, a moment later), since a trigger cannot write a table its statement's cascade writes (error 1442).
    The side whose statement it is wins: a nested trigger of the other side does not take the mark over (every delete
    carried back to the statement's own side is an echo). Tied to the statement's start time, so it never outlives
    the statement, however that ends."""
    now = "CAST(NOW(6) AS CHAR)"
    return (written.label, "the deletes below are of rows this side's own ON DELETE CASCADE removes next: their echo "
                           "leaves them to it",
            f"SET {CASCADING} = IF(SUBSTRING({CASCADING}, 4) <=> {now}, {CASCADING}, "
            f"CONCAT('{_side(ctx, False)} ', {now}))")


def unless_cascading(ctx: Context, sql: str) -> str:
    """``sql`` (carrying a DELETE to the side this trigger writes), skipped when that side's own cascade removes the
    rows in this statement (``cascading_token``)."""
    return (f"IF NOT ({CASCADING} <=> CONCAT('{_side(ctx, True)} ', CAST(NOW(6) AS CHAR))) THEN\n"
            f"  {_indent(sql, 2)};\nEND IF")


def one_way_refusals(ctx: Context) -> list[Statement]:
    """BEFORE INSERT/UPDATE/DELETE triggers on each one-way v2 table: a client's write is refused with the reason."""
    out = []
    for target_id, why, brief in ctx.one_way:
        t = ctx.model.target(target_id)
        message = one_way_message(t.label, brief or why)
        for event in ("INSERT", "UPDATE", "DELETE"):
            name = one_way_trigger_name(ctx.plan.name, t.name, event)
            sql = render("trigger_one_way_create.sql.j2", trigger=(t.schema, name), table=(t.schema, t.name),
                         event=event, plan_name=ctx.plan.name, plan_hash=ctx.migration_hash, dialect=ctx.dialect,
                         why=" ".join(why.split()), token=CARRYING, engine_session=ENGINE_SESSION,
                         message=message)
            out.append(Statement(f"trigger_create.{t.label}.one_way_{event.lower()}", sql,
                                 f"{t.label} syncs one way: its clients' {event}s are refused", compound=True,
                                 creates=Owned("trigger", t.schema, name, t.name)))
    return out


# The control table of the rows each direction carried (status sums it): a row per (connection, direction, table).
CARRIED_TABLE = "carried"
# The trigger events whose rows a client's statement writes itself (each counted once, in its AFTER trigger).
COUNTED_EVENTS = ("INSERT", "UPDATE", "DELETE")


def direction(ctx: Context) -> str:
    """'v1>v2' on the forward triggers, 'v2>v1' on the way back: the ``direction`` of a carried count."""
    return "v2>v1" if ctx.reverse else "v1>v2"


def carried_table(ctx: Context) -> Statement:
    """30 of a two-way plan: the control table the triggers count carried rows in (rollback/30 drops it)."""
    return Statement("carried_table_create", render("carried_table_create.sql.j2", control=ctx.plan.control),
                     "the rows each direction carries, counted per connection (djsqlgen status sums them)",
                     creates=Owned("table", ctx.plan.control, CARRIED_TABLE))


def count_carried(ctx: Context, table: TableRef, rows: str = "1") -> str:
    """SQL adding ``rows`` to this connection's count of ``table`` in the trigger's direction: an upsert by the whole
    primary key, so only this connection's own row is locked (a record lock, no gap: another connection's first
    insert never waits for it), in the writer's transaction: a rollback takes the count back with the write."""
    return (f"INSERT INTO {ctx.control_table(CARRIED_TABLE)} (connection_id, direction, table_name, rows_carried)\n"
            f"VALUES (CONNECTION_ID(), {quote_literal(direction(ctx))}, {quote_literal(table.label)}, {rows})\n"
            f"ON DUPLICATE KEY UPDATE rows_carried = rows_carried + {rows}")


def counted_row(ctx: Context, written: TableRef, changed: str | None) -> str:
    """The count of the client's row just carried (``changed``: SQL true when an UPDATE changed the row; an UPDATE
    that changes nothing carries nothing). Not for an echo nor for the engine's own sessions (backfill, verify,
    cut-over, rollbacks)."""
    count = count_carried(ctx, written)
    if changed:
        count = f"IF {changed} THEN\n  {_indent(count, 2)};\nEND IF"
    return f"IF {ENGINE_SESSION} IS NULL THEN\n  {_indent(count, 2)};\nEND IF"


def counted_cascade(ctx: Context, removed: list[tuple[TableRef, str]]) -> tuple[str, str, str]:
    """A BEFORE DELETE block of a client's own delete: the rows this side's ON DELETE CASCADE is about to remove,
    counted per table (``removed``: each table and a COUNT(*) query of its rows the cascade reaches, read while they
    are still there: an index lookup per table, only in tables whose children cascade)."""
    counts = []
    for table, query in removed:
        counts.append(f"SET v_cascaded = ({query});\nIF v_cascaded > 0 THEN\n"
                      f"  {_indent(count_carried(ctx, table, 'v_cascaded'), 2)};\nEND IF")
    body = ";\n".join(counts)
    return (removed[0][0].label, "count the rows this side's ON DELETE CASCADE removes next, as carried (their images "
                                 "on the other side go with them), for djsqlgen status",
            f"IF NOT {IN_CARRY} AND {ENGINE_SESSION} IS NULL THEN\n  BEGIN\n    DECLARE v_cascaded BIGINT DEFAULT 0;\n"
            f"    {_indent(body, 4)};\n  END;\nEND IF")


def carry_token(ctx: Context, written: TableRef, counted: str = "") -> tuple[str, str, str] | None:
    """(declaration, first statement, last statement) of every trigger of a two-way plan: the token that tells a
    trigger whether it runs inside a write its statement is carrying to the other side (None for a one-way plan).

    A trigger fired by a client's own write (the token is not this statement's: NOW(6) is the start of the statement,
    in a trigger the triggering one's) sets it for as long as it runs and carries without comparing first; a trigger
    fired by a carried write finds it set and compares before writing (_carried). The token only chooses between
    writing and comparing first, and it is never trusted to skip a write: left set by a statement ended early (1205,
    1213, KILL QUERY, max_statement_time, where no handler runs), it belongs to a statement that is over, and a
    later statement of the same session has another start time; within the same start time (a handler in a stored
    function, a session's fixed @@timestamp) writes only compare first, which is right in every case.

    The client's trigger also marks ``written`` as the table its statement writes (``statement_mark``), for the
    echoes that need no compare at all (``unless_statement_writes``). ``counted`` (counted_row): run at its end, when
    the client's row has been carried."""
    if not ctx.compare_before_write:
        return None
    return (f"DECLARE {IN_CARRY} BOOLEAN DEFAULT {CARRY} <=> NOW(6)",
            f"IF NOT {IN_CARRY} THEN\n  SET {CARRY} = NOW(6);\n  DO LAST_INSERT_ID({statement_mark(ctx, written)});\n"
            f"END IF",
            f"IF NOT {IN_CARRY} THEN\n  SET {CARRY} = NULL;" + (f"\n  {_indent(counted, 2)};" if counted else "")
            + "\nEND IF")


def statement_mark(ctx: Context, table: TableRef) -> int:
    """A number that, while LAST_INSERT_ID() returns it, says: this code runs inside a trigger of ``table``, hence
    inside a statement that writes ``table``.

    The server restores LAST_INSERT_ID() when a trigger ends, however it ends (an error, 1205, 1213, KILL QUERY,
    max_statement_time: probed on MariaDB 10.11; the MySQL 8 manual, "Information Functions", says the same of
    triggers), and the statement's client sees its own value, lastrowid included: so the mark cannot outlive the
    trigger that set it, and no client write is ever taken for a carried one. Above 2^63, where no AUTO_INCREMENT
    counter of a lab's table gets (an insert that generates an id replaces the mark: the echoes below it compare
    again, as without the mark)."""
    digest = hashlib.sha1(f"djsqlgen {ctx.migration_hash} {table.label}".encode()).hexdigest()
    return (1 << 63) + int(digest[:15], 16)


def unless_statement_writes(ctx: Context, target: Target, compared: str) -> str:
    """``compared`` (compare before write, in a trigger fired by a carried write), skipped where the statement writes
    ``target``'s own table (``statement_mark``): a trigger can never write the table of a statement it runs in (error
    1442), so there the compare could only find the echo already in place, or fail the write; it is not made (it cost
    a read by primary key, a locking one for UPDATE and DELETE, on every carried row: bench/two_way_bench.py)."""
    mark = statement_mark(ctx, TableRef(target.schema, target.name))
    return f"IF NOT (LAST_INSERT_ID() <=> {mark}) THEN\n  {_indent(compared, 2)};\nEND IF"


def unless_in_carry(ctx: Context, compared: str, carry: str, or_also: str = "") -> str:
    """``carry`` (the write) in a trigger fired by a client's own write, ``compared`` (compare before write) in one
    fired by a carried write: only there can the write be an echo, and the other side already hold it. ``or_also``:
    another condition under which the other side may hold it already."""
    condition = f"{IN_CARRY} OR {or_also}" if or_also else IN_CARRY
    return f"IF {condition} THEN\n  {_indent(compared, 2)};\nELSE\n  {_indent(carry, 2)};\nEND IF"


def outside_engine_sessions(ctx: Context, sql: str) -> str:
    if not ctx.reverse:
        return sql
    return f"IF {ENGINE_SESSION} IS NULL THEN\n  {_indent(sql, 2)};\nEND IF"


def _sixty_applied(ctx: Context) -> str:
    """SELECT … INTO v_open: whether 60 of this migration is applied, counted by primary key (as written_row.Lookup:
    it runs on every write a v2 client makes)."""
    return (f"SELECT COUNT(*) INTO v_open FROM {phase_log(ctx)} "
            f"WHERE phase = '60' AND plan_hash = {quote_literal(ctx.migration_hash)}")


def sixty_read(ctx: Context) -> tuple[str, str] | None:
    """(declaration, SQL expression) of ``SIXTY`` on the way back: whether 60 of this migration is applied, counted
    by primary key. Read once per v2 client's row, in the same statement as the sides row (the trigger's first
    block, sides.refusal_block, which runs under the same conditions as every use of it: a client's own write,
    outside the engine's sessions); None on the forward triggers."""
    if not ctx.reverse or not ctx.compare_before_write:
        return None
    return (f"{SIXTY} INT DEFAULT 0", f"(SELECT COUNT(*) FROM {phase_log(ctx)} "
                                      f"WHERE phase = '60' AND plan_hash = {quote_literal(ctx.migration_hash)})")


def open_before_carrying(ctx: Context, target: Target, event: str, write: str, compared: str) -> str:
    """A client's own write carried without comparing first: on the way back, ``write`` once 60 is applied, and
    until then ``compared`` (which refuses only a write that would change v1, W6)."""
    if not before_carrying(ctx, target, event):
        return write
    return f"IF {SIXTY} THEN\n  {_indent(write, 2)};\nELSE\n  {_indent(compared, 2)};\nEND IF"


def before_carrying(ctx: Context, target: Target, event: str) -> str:
    """SQL run just before a v2 write is carried into v1: the refusal until 60 (W6). A v1 table that v1's own ON
    DELETE CASCADE empties is exempt for deletes: the forward trigger deletes its v2 rows while their v1 rows are
    still there (BEFORE DELETE of the parent), and deleting those v1 rows first is what the cascade does anyway."""
    if not ctx.reverse:
        return ""
    if event in ("DELETE", "CASCADE_DELETE") and any(fk.on_delete.upper() == "CASCADE" for fk in target.foreign_keys):
        return ""
    message = writer_message("W6", target.source.driving.label, "", "v2 takes writes from 60 on; write to v1 "
                                                                    "until then")
    return (f"BEGIN\n  DECLARE v_open INT DEFAULT 0;\n  {_sixty_applied(ctx)};\n"
            f"  IF NOT v_open THEN\n    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {quote_literal(message)};\n"
            f"  END IF;\nEND")


def lookup_refusal(ctx: Context, written: TableRef, event: str) -> tuple[str, str, str] | None:
    """A v2 lookup whose values go back through its referring table's rows: its clients' writes refused until 60
    (W6), like every v2 write. Only there can one be told apart: an insert or a delete of a lookup row changes no v1
    row (a row no v2 row uses has no v1 form: v2 alone holds it), so the refusal of a carried write that would change
    v1 (before_carrying) never meets it. Carried writes (the forward triggers fill the lookup) and the engine's own
    sessions pass."""
    if not ctx.reverse or written not in ctx.lookup_tables or event == "CASCADE_DELETE":
        return None
    message = writer_message("W6", written.label, "", "v2 takes writes from 60 on; write to v1 until then")
    return (written.label, "a client's write of the lookup: refused until 60 (its own rows have no v1 table)",
            f"IF NOT {IN_CARRY} AND {ENGINE_SESSION} IS NULL AND NOT {SIXTY} THEN\n"
            f"  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {quote_literal(message)};\nEND IF")


def fits(value: str, v2: ColumnDecl, v1: ColumnDecl) -> list[str]:
    """SQL conditions that v1's column holds ``value`` (of v2's column) exactly; [] when every value fits."""
    t1, t2 = parse_sql_type(v1.sql_type), parse_sql_type(v2.sql_type)
    narrower = lossy_reason(v2.sql_type, v1.sql_type) is not None
    out = []
    if t1.family == "int" and narrower:
        low, high = int_range(v1.sql_type)
        out.append(f"{value} BETWEEN {low} AND {high}")
        if t2.family != "int":
            out.append(f"{value} = ROUND({value})")
    elif t1.family == "float" and narrower:
        out.append(f"CAST({value} AS {'FLOAT' if t1.base == 'float' else 'DOUBLE'}) = {value}")
    elif t1.family == "decimal" and narrower:
        precision, scale = (t1.params + (10, 0))[:2]
        out.append(f"CAST({value} AS DECIMAL({precision}, {scale})) = {value}")
    elif t1.family == "binary" and narrower:  # a 2.x <blob> (longblob) back into 0.14's mediumblob, say
        out.append(f"LENGTH({value}) <= {byte_length(v1.sql_type)}")
    elif t1.family == "string" and t1.base not in ("enum", "set"):
        if narrower and t1.base in ("char", "varchar") and t1.params:
            out.append(f"CHAR_LENGTH({value}) <= {t1.params[0]}")
        if v1.charset and v2.charset and v1.charset != v2.charset:
            out.append(f"CAST(CONVERT(CONVERT({value} USING {v1.charset}) USING {v2.charset}) AS BINARY) = "
                       f"CAST({value} AS BINARY)")
    if t1.family in ("decimal", "float") and t1.unsigned and not t2.unsigned:
        # 2.x's decimal and float core types are signed (the preset drops 0.14's unsigned): a negative value v1's
        # unsigned column would refuse with its own error, or clip to 0 outside strict mode
        out.append(f"{value} >= 0")
    return out


def value_refusals(ctx: Context, written: TableRef) -> list[tuple[str, str, str]]:
    """(v1 table, why, SQL) blocks refusing a v2 row whose values the v1 table it syncs into cannot hold."""
    blocks = []
    v2_table = ctx.model.v1_table(written)
    for target in ctx.model.targets:
        if target.source.driving != written:
            continue
        for c in target.columns:
            if c.copied_from is not None or not c.expr.is_column or c.expr.refs[0].alias != DRIVING:
                continue  # (a column read from a v2 parent is that parent's value, checked by its own trigger)
            v2_name = c.expr.refs[0].name
            value = f"NEW.{quote_identifier(v2_name)}"
            conditions = fits(value, column_decl(v2_table.attribute(v2_name)), c.decl)
            if not conditions:
                continue
            what = f"v1's {c.name} ({c.decl.sql_type}) cannot hold this value"
            message = writer_message("W5", written.label, v2_name, what)
            test = " AND ".join(conditions)
            refusal = (f"IF NOT ({value} IS NULL OR ({test})) THEN\n"
                       f"  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {quote_literal(message)};\nEND IF")
            blocks.append((target.label, f"v1's {c.name} is {c.decl.sql_type}: a value it cannot hold is refused here",
                           refusal))
    return blocks
