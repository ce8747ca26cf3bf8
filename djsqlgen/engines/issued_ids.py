"""Two-way sync of a table with an AUTO_INCREMENT key (issue 24): one counter hands out the ids of both sides, v1's.

A v1 insert takes its id from v1's counter and is carried into v2 with it (an explicit id also raises v2's counter).
A v2 insert without an id (the column holds 0 or NULL in a BEFORE INSERT trigger) must not take one from v2's
counter: its BEFORE INSERT trigger (``ISSUE``) inserts the row into v1 first, with a NULL id, and stores the id
v1 handed out (LAST_INSERT_ID(), the one this trigger's insert generated) in the v2 row. Then
- v1's forward INSERT trigger, fired by that insert, cannot carry the row into v2: v2's row is the one being
  inserted, and a write there fails with error 1442. That error passes while ``ISSUING`` says v2's trigger is
  inserting the row (set for the time of that one insert).
- v2's AFTER INSERT trigger finds the row already in v1: ``ISSUED`` (the statement and the id) makes it compare
  before writing rather than insert it again.
Everything runs in the v2 statement: a v2 insert that then fails (a duplicate on another unique key) takes the v1
row with it. A duplicate that v1 finds first (another unique key) leaves the id to v2: the v2 statement then fails,
skips or updates as its own client asked (INSERT IGNORE, ON DUPLICATE KEY UPDATE, REPLACE), as it would without
v1. A v2 insert with an id is carried as any other row (v1's counter rises past it).
"""

from __future__ import annotations

from djsqlgen.engines.context import Context
from djsqlgen.engines.source import table_sql
from djsqlgen.model.expr import bound
from djsqlgen.model.reverse import issued_column
from djsqlgen.model.target import DRIVING, TableRef, Target
from djsqlgen.sqltext.quoting import quote_identifier

ISSUE = "ISSUE"  # the trigger kind: BEFORE INSERT on a v2 table
# Set by v2's BEFORE INSERT trigger to the statement's start time for as long as its one v1 insert runs.
ISSUING = "@djsqlgen_issuing"
# Set by the same trigger to the statement's start time and the id v1 handed out: that row is in v1 already.
ISSUED = "@djsqlgen_issued"


def _q(name: str) -> str:
    return quote_identifier(name)


def issuing_target(ctx: Context, written: TableRef) -> Target | None:
    """The reverse target (v1 table) whose ids v1 issues for the v2 table ``written`` (reverse model only)."""
    if not ctx.reverse:
        return None
    for t in ctx.model.targets:
        if t.source.driving == written and t.id in ctx.compare_before_write and issued_column(t) is not None:
            v2 = ctx.model.v1_table(written).attribute(issued_column(t)[1])
            if v2.auto_increment:
                return t
    return None


def issue_block(ctx: Context, written: TableRef) -> tuple[str, str, str] | None:
    """The block of v2's BEFORE INSERT trigger: a row without an id is inserted into v1 first and takes v1's id."""
    from djsqlgen.engines import two_way

    t = issuing_target(ctx, written)
    if t is None:
        return None
    v1_col, v2_col = issued_column(t)
    bind = bound(DRIVING, "NEW")
    values = [("NULL" if c.name == v1_col else c.expr.render(bind)) for c in t.columns]
    insert = (f"INSERT INTO {table_sql(t.schema, t.name)}\n  ({', '.join(_q(c.name) for c in t.columns)})\n"
              f"VALUES\n  ({', '.join(values)})")
    new_id = f"NEW.{_q(v2_col)}"
    refusal = two_way.before_carrying(ctx, t, "INSERT")
    # (a NULL id for v1: the files' NO_AUTO_VALUE_ON_ZERO, kept by the triggers, would store a 0 as 0)
    body = (f"{refusal};\n" if refusal else "") + (
        "BEGIN\n"
        "  -- v1 finds a duplicate on another unique key: the id is left to v2, whose statement then does what its\n"
        "  -- client asked of a duplicate (fail, skip, update)\n"
        "  DECLARE v_taken BOOLEAN DEFAULT FALSE;\n"
        f"  DECLARE CONTINUE HANDLER FOR 1062 BEGIN SET v_taken = TRUE; SET {ISSUING} = NULL; END;\n"
        f"  SET {ISSUING} = NOW(6);\n"
        f"  {insert.replace(chr(10), chr(10) + '  ')};\n"
        f"  SET {ISSUING} = NULL;\n"
        "  IF NOT v_taken THEN\n"
        f"    SET {new_id} = LAST_INSERT_ID();\n"
        f"    SET {ISSUED} = CONCAT(NOW(6), ' ', {new_id});\n"
        "  END IF;\n"
        "END")
    sql = (f"IF ({new_id} IS NULL OR {new_id} = 0) AND NOT {two_way.IN_CARRY} AND {two_way.ENGINE_SESSION} IS NULL "
           f"THEN\n  {body.replace(chr(10), chr(10) + '  ')};\nEND IF")
    return (t.label, f"a row without an id takes it from {t.label}'s counter: inserted there first (one counter "
                     "for both sides)", sql)


def issued_here(ctx: Context, target: Target, event: str) -> str:
    """SQL (reverse AFTER INSERT): the row was inserted into v1 by this statement's BEFORE INSERT trigger ('' when
    ``target`` takes no ids from v1)."""
    if not ctx.reverse or event != "INSERT" or issuing_target(ctx, target.source.driving) != target:
        return ""
    return f"{ISSUED} <=> CONCAT(NOW(6), ' ', NEW.{_q(issued_column(target)[1])})"


def unless_issuing(ctx: Context, target: Target, event: str, carried: str) -> str:
    """``carried`` (the forward INSERT trigger's write into v2), letting pass the one error that says v2's BEFORE
    INSERT trigger is inserting this row into v2 itself: the v2 table is in use by the statement that fired this
    trigger (error 1442). The token alone never skips a write: a statement that ended early (1205, KILL QUERY) may
    leave it set, and under a session's fixed @@timestamp a later statement would find it equal."""
    if ctx.reverse or event != "INSERT" or target.id not in ctx.compare_before_write \
            or issued_column(target) is None:
        return carried
    return (f"BEGIN\n  DECLARE CONTINUE HANDLER FOR 1442\n    BEGIN\n      IF NOT ({ISSUING} <=> NOW(6)) THEN\n"
            f"        RESIGNAL;\n      END IF;\n    END;\n  {carried.replace(chr(10), chr(10) + '  ')};\nEND")
