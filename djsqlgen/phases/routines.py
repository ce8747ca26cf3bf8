"""20 routines: the control tables of the window and the procedures that backfill and verify; its rollback drops
them (rollback/80 puts them back, with routine_statements)."""

from __future__ import annotations

from djsqlgen.engines import backfill, chunk_sql, constraints, sides, verify
from djsqlgen.phases.builder import FileBuilder
from djsqlgen.phases.shared import Phases
from djsqlgen.sqltext import naming
from djsqlgen.sqltext.quoting import quote_literal, quote_qualified
from djsqlgen.sqltext.render import render
from djsqlgen.sqltext.statements import Statement

NUMBER, NAME, TITLE = "20", "routines", "Routines"
PURPOSE = ("Progress and verify tables, each v2 table's statements (chunk_sql), and the shared procedures that run "
           "them.")
RERUN = "Safe to run again: procedures are replaced, progress and verify results kept."


def removes(phases: Phases) -> str:
    return f"djsqlgen's routines and bookkeeping tables in {phases.ctx.control}"


def forward(phases: Phases) -> FileBuilder:
    f = phases.file("20")
    privileges = [(p, phases.ctx.control, None) for p in ("CREATE ROUTINE", "ALTER ROUTINE", "CREATE")]
    phases.common_refusals(f, "10", f.require(privileges))
    f.add(*routine_statements(phases))
    f.log()
    return f


def routine_statements(phases: Phases) -> list[Statement]:
    ctx = phases.ctx
    out = list(phases.control_tables())
    out.append(sides.seed(ctx))
    ids = ", ".join(quote_literal(t.id) for t in phases.targets) or "''"
    out.append(Statement("progress_obsolete", f"DELETE FROM {ctx.control_table('progress')} WHERE target_id NOT "
                                              f"IN ({ids})", "targets that an earlier version of the plan had"))
    rows = ",\n".join(
        f"({quote_literal(t.id)}, {quote_literal(t.source.driving.schema)}, {quote_literal(t.source.driving.name)}, "
        f"{quote_literal(t.schema)}, {quote_literal(t.name)}, {i})" for i, t in enumerate(phases.targets, 1))
    if rows:
        out.append(Statement(
            "progress_rows",
            f"INSERT INTO {ctx.control_table('progress')}\n  (target_id, source_schema, source_table, "
            f"target_schema, target_table, ordinal)\nVALUES\n{rows}\nON DUPLICATE KEY UPDATE ordinal = ordinal",
            "one progress row per v2 table; an existing row keeps its checkpoint"))
    v1_rows = ",\n".join(f"({quote_literal(t.schema)}, {quote_literal(t.name)}, "
                          f"{', '.join(quote_literal(v) for v in c[:4])}, {c[4]})"
                          for t, columns in phases.v1_columns() for c in columns)
    out.append(Statement("v1_columns_clear", f"DELETE FROM {ctx.control_table('v1_columns')}",
                         "v1 as an earlier generate saw it"))
    if v1_rows:
        out.append(Statement("v1_columns_rows", f"INSERT INTO {ctx.control_table('v1_columns')}\n  (schema_name, "
                                                "table_name, column_name, column_type, is_nullable, "
                                                f"collation_name, in_key)\nVALUES\n{v1_rows}",
                             "v1 as these files were generated from it: `djsqlgen backfill` and `verify` check it "
                             "at start-up"))
    for t in phases.targets:
        out += [chunk_sql.row_statement(ctx, t)] + constraints.references_check(ctx, t)
    # two-way sync: each v1 table that syncs both ways is also verified against reverse(v2) (its way back)
    ways_back = list(phases.reverse.model.targets) if phases.reverse is not None else []
    out += [chunk_sql.way_back_row_statement(phases.reverse, t) for t in ways_back]
    calls = [verify.verify_table_call(t) for t in phases.targets] + [verify.way_back_call(t) for t in ways_back]
    keyed_ids = [target_id for target_id, keyed in calls if keyed]
    words = {"way_back": naming.WAY_BACK, "checked": verify.checked_tables(ctx, [t.id for t in ways_back]),
             "forward_direction": naming.FORWARD_DIRECTION, "back_direction": naming.BACK_DIRECTION}
    for name, template, extra, why in (
        ("run_report", "run_report_proc_create.sql.j2",
         {"lock": naming.run_lock(ctx.control), "active": naming.ACTIVE_STATES},
         "what the loops of 40 and 50 are doing, for djsqlgen status"),
        ("backfill_chunk", "backfill_chunk_proc_create.sql.j2", {"no_wait_s": ctx.dialect.chunk_lock_wait_s},
         "one chunk of one table's backfill"),
        ("backfill_table", "backfill_table_proc_create.sql.j2",
         {"locked_for_s": backfill.LOCKED_FOR_S, "quiet_retries": backfill.QUIET_RETRIES,
          "first_pause_s": backfill.FIRST_PAUSE_S, "max_pause_s": backfill.MAX_PAUSE_S},
         "one table's backfill, chunk after chunk"),
        ("checksum_chunk", "checksum_chunk_proc_create.sql.j2", {"aggregate": verify.aggregate(), **words},
         "checksums of one chunk of one table, both sides"),
        ("check_references", "references_check_proc_create.sql.j2", {},
         "every row of one v2 table finds its parents (60, before adding its foreign keys)"),
        ("checksum_totals", "checksum_totals_proc_create.sql.j2", words,
         "whole-table counts of one keyed comparison, both sides"),
        ("verify_record", "verify_record_proc_create.sql.j2", {}, "keep one chunk's result"),
        ("verify_table", "verify_table_proc_create.sql.j2", {}, "one table's verify, chunk after chunk"),
        ("verify_report", "verify_report_proc_create.sql.j2", words, "the result of a verify run, per direction"),
        ("verify_finish", "verify_finish_proc_create.sql.j2", {"keyed_ids": keyed_ids, **words},
         "close a run (clean only if every table was checked to its end), then the report"),
        ("verify_all", "verify_all_proc_create.sql.j2", {"tables": calls},
         "every table (and each two-way table's way back), then the report"),
    ):
        q = quote_qualified((ctx.control, name))
        out += [Statement(f"procedure_drop.{name}", f"DROP PROCEDURE IF EXISTS {q}", "replace an earlier version"),
                Statement(f"procedure_create.{name}", render(template, control=ctx.control, plan_name=phases.plan.name,
                                                             plan_hash=ctx.migration_hash, **extra),
                          f"{name}: {why}", compound=True)]
    return out


def rollback(phases: Phases) -> FileBuilder:
    f = phases.file("20", rollback=True)
    phases.common_refusals(f, None)
    f.add(*phases.drop_bookkeeping())
    f.log()
    return f
