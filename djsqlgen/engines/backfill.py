"""The backfill: per target, the copy of one chunk (kept in the target's row of chunk_sql, which the shared
backfill_chunk runs, chunk after chunk, under the shared loop backfill_table), 40's call, and its undo."""

from __future__ import annotations

from djsqlgen.engines.chunk_sizing import CHUNK_TIME_S, MAX_CHUNK_ROWS, POOL_SHARE
from djsqlgen.engines.context import Context
from djsqlgen.engines.keyset import CHUNK_RANGE, CHUNK_ROWS
from djsqlgen.engines.source import driving_walk, from_clause, select_values, table_sql, where_clause
from djsqlgen.engines.yielding import FIRST_PAUSE_S, LOCKED_FOR_S, MAX_PAUSE_S, QUIET_RETRIES  # noqa: F401
from djsqlgen.model.target import Target
from djsqlgen.sqltext import naming
from djsqlgen.sqltext.quoting import quote_literal, quote_qualified
from djsqlgen.sqltext.render import render
from djsqlgen.sqltext.statements import Statement

# (The retry pauses and limits, shared with the command line: engines/yielding.py.)
# Per-table procedures of earlier versions: the loop (now backfill_table) and the chunk (now backfill_chunk).
EARLIER_KINDS = ("backfill", "backfill_chunk")


def finds_chunk_end(ctx: Context, target: Target) -> bool:
    """Whether ``target``'s copy finds its chunk's end itself (one read per row), rather than after a walk.
    Not for a lookup (DISTINCT): its LIMIT would count values, not driving rows. Every join is by the joined
    table's whole primary key, so a driving row makes at most one row and the LIMIT counts driving rows."""
    return ctx.dialect.copy_finds_chunk_end and not target.source.distinct


def copy_chunk(ctx: Context, target: Target) -> str:
    """The copy of one chunk of ``target``: INSERT … SELECT of transform(v1) over ``{chunk range}``; when it
    finds its chunk's end itself, the next ``{chunk rows}`` driving rows after the lower bound (``{chunk range}``
    then stands for the keys after the lower bound alone), their last key left in the walk's hi variables."""
    one_pass = finds_chunk_end(ctx, target)
    walk = driving_walk(ctx.model, target)
    where = where_clause(target, CHUNK_RANGE)
    return render(
        "backfill_copy.sql.j2", target_sql=table_sql(target.schema, target.name),
        columns=[c.name for c in target.columns], values=select_values(target), plan_name=ctx.plan.name,
        from_clause=from_clause(target, driving_hint="FORCE INDEX (PRIMARY)" if one_pass else ""),
        where=where, share_lock=ctx.dialect.share_lock_clause, key_column=target.primary_key[0],
        distinct=target.source.distinct, one_pass=one_pass, joins=bool(target.source.joins),
        capture=walk.capture_hi, key_order=walk.key_list, chunk_rows=CHUNK_ROWS,
    )


def drop_routines(ctx: Context, target: Target) -> list[Statement]:
    """Per-target procedures of earlier versions (the statements are now rows of chunk_sql)."""
    return [Statement(f"procedure_drop.{target.id}.{kind}",
                      f"DROP PROCEDURE IF EXISTS {quote_qualified((ctx.control, naming.target_routine(kind, target.id)))}",
                      f"{kind} procedure of {target.label} (earlier versions)") for kind in EARLIER_KINDS]


def run(ctx: Context, target: Target) -> Statement:
    """40_backfill: copy the whole target, resuming where it stopped, its chunks sized as the command line's."""
    return Statement(f"backfill.{target.id}",
                     f"CALL {ctx.control_table('backfill_table')}({quote_literal(target.id)}, {ctx.plan.chunk.rows}, "
                     f"{ctx.plan.chunk.sleep_ms}, {CHUNK_TIME_S}, {MAX_CHUNK_ROWS}, {POOL_SHARE})",
                     f"copy {target.source.driving.label} into {target.label}; resumes where it stopped (chunks of "
                     f"{ctx.plan.chunk.rows} rows first, then of about {CHUNK_TIME_S} s each, at most {MAX_CHUNK_ROWS} "
                     f"rows or 1/{POOL_SHARE} of the buffer pool)")


def undo(ctx: Context, target: Target) -> list[Statement]:
    """rollback/40: empty the target by re-creating it (TRUNCATE: one quick DDL, no row-by-row delete for
    replicas to replay) and forget its progress."""
    return [
        Statement(f"backfill_undo.{target.id}", f"TRUNCATE TABLE {table_sql(target.schema, target.name)}",
                  f"empty {target.label} (it only holds copies); the next backfill copies it again",
                  done_when=f"NOT EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                            f"{quote_literal(target.schema)} AND TABLE_NAME = {quote_literal(target.name)})"),
        Statement(f"progress_reset.{target.id}",
                  f"UPDATE {ctx.control_table('progress')} SET checkpoint = NULL, end_key = NULL, rows_copied = 0, "
                  f"chunks = 0, done = 0, started_at = NULL, updated_at = NULL, finished_at = NULL WHERE target_id = "
                  f"{quote_literal(target.id)}", "start its backfill from the beginning next time",
                  done_when=f"NOT EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                            f"{quote_literal(ctx.control)} AND TABLE_NAME = 'progress')"),
    ]
