"""The backfill: per target, the statements that walk the driving table's key and copy one chunk, kept as the
target's row of the control table chunk_sql; the shared procedures backfill_chunk (one chunk) and backfill_table
(the loop) run them as dynamic SQL. A DBA reviews one table's copy as one statement, and the files stay small
however many tables there are. And its undo."""

from __future__ import annotations

from dataclasses import replace

from djsqlgen.engines.context import Context
from djsqlgen.engines.source import driving_walk, from_clause, select_values, table_sql, where_clause
from djsqlgen.model.target import Target
from djsqlgen.output import naming
from djsqlgen.output.quoting import quote_literal, quote_qualified
from djsqlgen.output.render import render
from djsqlgen.output.statements import Statement

# Per-table procedures of earlier versions: the loop (now backfill_table) and the chunk (now backfill_chunk).
EARLIER_KINDS = ("backfill", "backfill_chunk")


CHUNK_RANGE = "{chunk range}"  # where backfill_chunk puts the chunk's key range into the copy


def _copy(ctx: Context, target: Target) -> str:
    return render(
        "backfill_copy.sql.j2", target_sql=table_sql(target.schema, target.name),
        columns=[c.name for c in target.columns], values=select_values(target), plan_name=ctx.plan.name,
        from_clause=from_clause(target), where=where_clause(target, CHUNK_RANGE),
        share_lock=ctx.dialect.share_lock_clause, key_column=target.primary_key[0],
        distinct=target.source.distinct,
    )


def chunk_sql(ctx: Context, target: Target) -> dict[str, str]:
    """The statements of ``target``'s walk and copy, as its row of chunk_sql holds them."""
    walk = replace(driving_walk(ctx.model, target), session=True)
    variables = walk.variables
    return {
        "walk_from": walk.source,
        "key_select": f"SELECT {walk.select_list}, 1 INTO {walk.hi_list}, @djsqlgen_found",
        "key_order": walk.key_list,
        "key_order_desc": walk.key_desc,
        "after_lo": walk.after_lo,
        "upto_hi": walk.upto_hi,
        "lo_from_checkpoint": ", ".join(f"{v.lo} = {v.decode}" for v in variables),
        "hi_checkpoint": walk.encode_hi,
        "copy_chunk": _copy(ctx, target),
    }


def routines(ctx: Context, target: Target) -> list[Statement]:
    """``target``'s row of chunk_sql (20_routines): the shared backfill_chunk copies it with these statements."""
    row = {"target_id": target.id, "plan_hash": ctx.migration_hash, **chunk_sql(ctx, target)}
    columns = ", ".join(row)
    values = ",\n  ".join(quote_literal(v) for v in row.values())
    return [Statement(f"chunk_sql.{target.id}",
                      f"REPLACE INTO {ctx.control_table('chunk_sql')}\n  ({columns})\nVALUES (\n  {values})",
                      f"how {target.source.driving.label} is walked and copied into {target.label}, chunk by chunk "
                      f"(the copy's {CHUNK_RANGE}: the chunk's key range)")]


def drop_routines(ctx: Context, target: Target) -> list[Statement]:
    """Per-target procedures of earlier versions (the statements are now rows of chunk_sql)."""
    return [Statement(f"procedure_drop.{target.id}.{kind}",
                      f"DROP PROCEDURE IF EXISTS {quote_qualified((ctx.control, naming.target_routine(kind, target.id)))}",
                      f"{kind} procedure of {target.label} (earlier versions)") for kind in EARLIER_KINDS]


def run(ctx: Context, target: Target) -> Statement:
    """40_backfill: copy the whole target, resuming where it stopped."""
    return Statement(f"backfill.{target.id}",
                     f"CALL {ctx.control_table('backfill_table')}({quote_literal(target.id)}, {ctx.plan.chunk.rows}, "
                     f"{ctx.plan.chunk.sleep_ms})",
                     f"copy {target.source.driving.label} into {target.label}; resumes where it stopped")


def undo(ctx: Context, target: Target) -> list[Statement]:
    """rollback/40: empty the target by re-creating it (TRUNCATE: one quick DDL, no row-by-row delete for
    replicas to replay) and forget its progress."""
    return [
        Statement(f"backfill_undo.{target.id}", f"TRUNCATE TABLE {table_sql(target.schema, target.name)}",
                  f"empty {target.label} (it only holds copies); the next backfill copies it again",
                  done_when=f"NOT EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                            f"{quote_literal(target.schema)} AND TABLE_NAME = {quote_literal(target.name)})"),
        Statement(f"progress_reset.{target.id}",
                  f"UPDATE {ctx.control_table('progress')} SET checkpoint = NULL, rows_copied = 0, chunks = 0, done = 0, "
                  f"started_at = NULL, updated_at = NULL, finished_at = NULL WHERE target_id = "
                  f"{quote_literal(target.id)}", "start its backfill from the beginning next time",
                  done_when=f"NOT EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                            f"{quote_literal(ctx.control)} AND TABLE_NAME = 'progress')"),
    ]
