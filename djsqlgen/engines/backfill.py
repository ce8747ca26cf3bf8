"""The backfill: per target, a chunk procedure that walks the driving table's key (the loop over the chunks is
the shared backfill_table), and its undo."""

from __future__ import annotations

from djsqlgen.engines.context import Context
from djsqlgen.engines.source import driving_walk, from_clause, select_values, table_sql, where_clause
from djsqlgen.model.target import Target
from djsqlgen.output import naming
from djsqlgen.output.quoting import quote_literal, quote_qualified
from djsqlgen.output.render import render
from djsqlgen.output.statements import Statement

KINDS = ("backfill_chunk",)
# Writers win: a chunk never waits for a row lock, it gives up and is tried again after a pause, by the command
# line (run/driver.py) and by 40_backfill.sql's backfill_table alike. Rows of one chunk locked by writers for
# longer than this stop the backfill (resumable); after QUIET_RETRIES tries in a row (about 1.5 s) the wait is said.
LOCKED_FOR_S = 300
QUIET_RETRIES = 5
EARLIER_KINDS = ("backfill",)  # per-table loops of earlier versions, now the shared backfill_table


def _copy(ctx: Context, target: Target, with_lower: bool) -> str:
    walk = driving_walk(ctx.model, target)
    return render(
        "backfill_copy.sql.j2", target_sql=table_sql(target.schema, target.name),
        columns=[c.name for c in target.columns], values=select_values(target), plan_name=ctx.plan.name,
        from_clause=from_clause(target), where=where_clause(target, walk.chunk_predicate(with_lower)),
        share_lock=ctx.dialect.share_lock_clause, key_column=target.primary_key[0],
        distinct=target.source.distinct,
    )


def routines(ctx: Context, target: Target) -> list[Statement]:
    """The chunk procedure of ``target`` (20_routines); the loop over its chunks is the shared backfill_table."""
    chunk = naming.target_routine("backfill_chunk", target.id)
    body = render("backfill_chunk_proc_create.sql.j2", control=ctx.control, plan_name=ctx.plan.name,
                  plan_hash=ctx.migration_hash, source_label=target.source.driving.label, target_label=target.label,
                  proc=chunk, walk=driving_walk(ctx.model, target), target_id=target.id, target_schema=target.schema,
                  target_name=target.name, copy_first=_copy(ctx, target, False), copy_next=_copy(ctx, target, True))
    q = quote_qualified((ctx.control, chunk))
    return [Statement(f"procedure_drop.{target.id}.backfill_chunk", f"DROP PROCEDURE IF EXISTS {q}",
                      "replace an earlier version of the procedure"),
            Statement(f"procedure_create.{target.id}.backfill_chunk", body,
                      "one chunk: one short transaction, checkpoint written in it", compound=True)]


def drop_routines(ctx: Context, target: Target) -> list[Statement]:
    return [Statement(f"procedure_drop.{target.id}.{kind}",
                      f"DROP PROCEDURE IF EXISTS {quote_qualified((ctx.control, naming.target_routine(kind, target.id)))}",
                      f"{kind} procedure of {target.label}") for kind in KINDS + EARLIER_KINDS]


def run(ctx: Context, target: Target) -> Statement:
    """40_backfill: copy the whole target, resuming where it stopped."""
    chunk = naming.target_routine("backfill_chunk", target.id)
    return Statement(f"backfill.{target.id}",
                     f"CALL {ctx.control_table('backfill_table')}({quote_literal(target.id)}, {quote_literal(chunk)}, "
                     f"{ctx.plan.chunk.rows}, {ctx.plan.chunk.sleep_ms})",
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
