"""The backfill: per target, a chunk procedure that walks the driving table's key, and its undo."""

from __future__ import annotations

from djsqlgen.engines.context import Context
from djsqlgen.engines.source import driving_walk, from_clause, select_values, table_sql, where_clause
from djsqlgen.model.target import Target
from djsqlgen.output import naming
from djsqlgen.output.quoting import quote_literal, quote_qualified
from djsqlgen.output.render import render
from djsqlgen.output.statements import Statement

KINDS = ("backfill_chunk", "backfill")


def _copy(ctx: Context, target: Target, with_lower: bool) -> str:
    walk = driving_walk(ctx.model, target)
    return render(
        "backfill_copy.sql.j2", target_sql=table_sql(target.schema, target.name),
        columns=[c.name for c in target.columns], values=select_values(target), plan_name=ctx.plan.name,
        from_clause=from_clause(target), where=where_clause(target, walk.chunk_predicate(with_lower)),
        share_lock=ctx.dialect.share_lock_clause, key_column=target.primary_key[0],
    )


def routines(ctx: Context, target: Target) -> list[Statement]:
    """The chunk procedure and the whole-table loop of ``target`` (20_routines)."""
    common = {"control": ctx.control, "plan_name": ctx.plan.name, "plan_hash": ctx.migration_hash,
                  "source_label": target.source.driving.label, "target_label": target.label}
    chunk = naming.target_routine("backfill_chunk", target.id)
    bodies = {
        "backfill_chunk": render("backfill_chunk_proc_create.sql.j2", proc=chunk, walk=driving_walk(ctx.model, target),
                                 target_id=target.id, target_schema=target.schema, target_name=target.name,
                                 copy_first=_copy(ctx, target, False), copy_next=_copy(ctx, target, True), **common),
        "backfill": render("backfill_table_proc_create.sql.j2", proc=naming.target_routine("backfill", target.id),
                           chunk_proc=chunk, **common),
    }
    why = {"backfill_chunk": "one chunk: one short transaction, checkpoint written in it",
           "backfill": "the whole table, chunk after chunk (what 40_backfill calls)"}
    out = []
    for kind in KINDS:
        proc = quote_qualified((ctx.control, naming.target_routine(kind, target.id)))
        out += [Statement(f"procedure_drop.{target.id}.{kind}", f"DROP PROCEDURE IF EXISTS {proc}",
                          "replace an earlier version of the procedure"),
                Statement(f"procedure_create.{target.id}.{kind}", bodies[kind], why[kind], compound=True)]
    return out


def drop_routines(ctx: Context, target: Target) -> list[Statement]:
    return [Statement(f"procedure_drop.{target.id}.{kind}",
                      f"DROP PROCEDURE IF EXISTS {quote_qualified((ctx.control, naming.target_routine(kind, target.id)))}",
                      f"{kind} procedure of {target.label}") for kind in KINDS]


def run(ctx: Context, target: Target) -> Statement:
    """40_backfill: copy the whole target, resuming where it stopped."""
    proc = quote_qualified((ctx.control, naming.target_routine("backfill", target.id)))
    return Statement(f"backfill.{target.id}", f"CALL {proc}({ctx.plan.chunk.rows}, {ctx.plan.chunk.sleep_ms})",
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
