"""00 preflight: the server, privileges, settings, v1 and the transform checked; the control schema created.
Its rollback drops the control schema when djsqlgen created it. `plan check` on a live server runs the same
checks (run/precheck.py)."""

from __future__ import annotations

from djsqlgen.engines import guards
from djsqlgen.engines.source import from_clause, where_clause
from djsqlgen.model.external_back import without_kept_json
from djsqlgen.model.target import Target
from djsqlgen.phases.builder import FileBuilder, schema_exists
from djsqlgen.phases.shared import EVENTS, Phases
from djsqlgen.sqltext import naming
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal, quote_qualified
from djsqlgen.sqltext.statements import Check, Owned, Statement

NUMBER, NAME, TITLE = "00", "preflight", "Preflight"
PURPOSE = "Check the server, privileges, settings, v1 and the transform; create the control schema."
RERUN = "Safe to run again: checks, then CREATE … IF NOT EXISTS."


def removes(phases: Phases) -> str:
    control = phases.ctx.control
    return f"the control schema {control} when djsqlgen created it (else only djsqlgen's tables in it)"


def forward(phases: Phases) -> FileBuilder:
    f = phases.file("00")
    checks, privileges = preflight_checks(phases)
    f.refuse(checks[:2] + f.require(privileges) + checks[2:], "refuse_server")
    # The transform and the data checks read v1 fully: after the cheap checks above.
    f.add(*transform_trial(phases))
    f.refuse(phases.data_refusals("00_preflight.sql"), "refuse_data")
    # Nothing changed so far. Now the control schema, recorded as ours only if it did not exist.
    f.add(*control_schema(phases))
    estimates = " UNION ALL\n".join(
        f"SELECT {quote_literal(t.label)} AS v2_table, {quote_literal(t.source.driving.label)} AS from_v1, "
        f"TABLE_ROWS AS estimated_rows FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
        f"{quote_literal(t.source.driving.schema)} AND TABLE_NAME = {quote_literal(t.source.driving.name)}"
        for t in phases.targets)
    if estimates:
        f.add(Statement("row_estimates", estimates, "the size of the work ahead (InnoDB estimates)"))
    f.log()
    return f


def preflight_checks(phases: Phases) -> tuple[list[Check], list[tuple[str, str, list[str] | None]]]:
    """What 00 (and `plan check` on a live server) refuses on before reading v1's data: the server's
    settings first, then v1's definitions, foreign triggers and objects; and the privileges needed."""
    ctx, fn = phases.ctx, "00_preflight.sql"
    server = [guards.binlog_trust(ctx, fn), guards.binlog_row(fn)]
    privileges = []
    for s in phases.v1_schemas():
        tables = [t.name for t in phases.model.v1.schema(s).tables]
        privileges += [("SELECT", s, tables), ("TRIGGER", s, tables)]
    for s in [*phases.v2_schemas(), ctx.control]:
        privileges += [("CREATE", s, None), ("DROP", s, None), ("INSERT", s, None)]
    privileges += [("CREATE ROUTINE", ctx.control, None), ("ALTER ROUTINE", ctx.control, None),
                   ("EXECUTE", ctx.control, None)]
    if transform_trial(phases):
        privileges += [("CREATE TEMPORARY TABLES", s, None) for s in phases.v1_schemas()]
    drift = phases.v1_drift(fn)
    foreign_triggers = []
    ours: dict[str, list[str]] = {}  # per v1 schema: its tables' triggers (listing all in each made 00 quadratic)
    for ref, _, name in phases.triggers:
        ours.setdefault(ref.schema, []).append(name)
    for r in phases.v1_tables():
        ours.setdefault(r.schema, []).extend(naming.guard_trigger_name(phases.plan.name, r.name, e) for e in EVENTS)
    for s in phases.v1_schemas():
        listed = ", ".join(quote_literal(n) for n in ours.get(s, [])) or "''"
        foreign_triggers.append(Check(
            f"EXISTS (SELECT 1 FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = {quote_literal(s)} AND "
            f"TRIGGER_NAME NOT IN ({listed}) AND EVENT_OBJECT_TABLE IN "
            f"({', '.join(quote_literal(t.name) for t in phases.model.v1.schema(s).tables)}))",
            f"djsqlgen refused {fn}: a table of {s} has a trigger djsqlgen did not make; drop or merge it first "
            "(SELECT TRIGGER_NAME FROM information_schema.TRIGGERS shows which)",
            "djsqlgen never overwrites or stacks on someone else's trigger"))
    return (server + drift + foreign_triggers + phases.foreign_objects(fn) + phases.v2_tables_foreign(fn)
            + phases.outside_references(fn)), privileges


def control_schema(phases: Phases) -> list[Statement]:
    """Create the control schema with its phase log and object record; record the schema as djsqlgen's only
    when this run created it (a schema the DBA made for the migration is never dropped)."""
    ctx = phases.ctx
    return [
        Statement("control_schema_seen", f"SET @djsqlgen_control_is_new = NOT {schema_exists(ctx.control)}",
                  "whether this run creates the control schema (then djsqlgen may drop it later)"),
        Statement("control_schema_create", f"CREATE DATABASE IF NOT EXISTS {quote_qualified((ctx.control,))} "
                                           "DEFAULT CHARACTER SET utf8mb4",
                  "the control schema: progress, checkpoints, verify results and djsqlgen's procedures (utf8mb4: "
                  "it holds keys and statements of every character set)"),
        *[s for s in phases.control_tables() if s.id.endswith(("phase_log", "objects"))],
        Statement("register.schema.control",
                  f"INSERT IGNORE INTO {ctx.control_table('objects')}\n  (kind, schema_name, object_name, "
                  f"on_table, plan_hash, created_by, created_at)\nSELECT 'schema', {quote_literal(ctx.control)}, "
                  f"{quote_literal(ctx.control)}, '', {quote_literal(ctx.migration_hash)}, 'control', "
                  "NOW(6) FROM DUAL WHERE @djsqlgen_control_is_new",
                  "record the control schema as djsqlgen's when this run created it"),
    ]


def transform_trial(phases: Phases) -> list[Statement]:
    """Try every computed column of every target on all of v1, into a temporary table typed as in v2, so that
    an expression that fails (a value that does not fit, a NULL for a NOT NULL column, a division by zero)
    fails here, naming its plan key, before any trigger exists, and not in a user's write later. One column
    at a time: the error then names the plan key that computes it."""
    out = []
    for i, t in enumerate(phases.targets, 1):
        for j, c in enumerate((c for c in t.columns if c.copied_from is None and c.expr.refs), 1):
            temp = quote_qualified((t.source.driving.schema, f"djsqlgen_trial_{i}_{j}"))
            decl = (f"{quote_identifier(c.name)} {c.decl.sql_type}"
                    + (f" CHARACTER SET {c.decl.charset}" if c.decl.charset else "")
                    + (f" COLLATE {c.decl.collation}" if c.decl.collation else "")
                    + (" NULL" if c.decl.nullable else " NOT NULL"))
            out += [
                Statement(f"trial_drop_stale.{t.label}.{c.name}", f"DROP TEMPORARY TABLE IF EXISTS {temp}",
                          "left over in this session by an interrupted run"),
                Statement(f"trial_create.{t.label}.{c.name}", f"CREATE TEMPORARY TABLE {temp} ({decl})",
                          f"{t.label}.{c.name} as v2 declares it (temporary: gone with the session)"),
                _trial_insert(phases, t, temp, c),
                Statement(f"trial_drop.{t.label}.{c.name}", f"DROP TEMPORARY TABLE {temp}", "done"),
            ]
    return out


def _trial_insert(phases: Phases, t: Target, temp: str, c) -> Statement:
    """Column ``c`` of ``t`` for every v1 row, into the temporary table. On MariaDB an error is turned into a
    refusal naming the plan key (in an anonymous block); MySQL shows the server's own error."""
    key = c.plan_key or t.plan_key
    insert = (f"INSERT INTO {temp} ({quote_identifier(c.name)})\n"
              f"SELECT /* djsqlgen {phases.plan.name} transform trial */ {without_kept_json(c.expr).render()}\n"
              f"{from_clause(t)}\n{where_clause(t)}").rstrip()
    why = f"{key}: compute it for every v1 row (fix the expr or the type in the plan if this fails)"
    if not phases.ctx.dialect.anonymous_blocks:
        return Statement(f"trial.{t.label}.{c.name}", insert, why)
    prefix = quote_literal(f"djsqlgen refused 00_preflight.sql: {key}: the plan's value of {t.label}.{c.name} "
                           "fails on v1's data: ")
    block = ("BEGIN NOT ATOMIC\n  DECLARE EXIT HANDLER FOR SQLEXCEPTION\n  BEGIN\n"
             "    DECLARE v_text TEXT DEFAULT '';\n    GET DIAGNOSTICS CONDITION 1 v_text = MESSAGE_TEXT;\n"
             f"    SET @djsqlgen_message = LEFT(CONCAT({prefix}, v_text), 400);\n"
             "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = @djsqlgen_message;\n  END;\n"
             f"  {insert.replace(chr(10), chr(10) + '  ')};\nEND")
    return Statement(f"trial.{t.label}.{c.name}", block, why, compound=True)


def rollback(phases: Phases) -> FileBuilder:
    f, fn = phases.file("00", rollback=True), "rollback/00_preflight.sql"
    f.add(Statement("control_schema_was_there", f"SET @djsqlgen_control_was_there = "
                                                f"{schema_exists(phases.ctx.control)}",
                    "a second run finds nothing to do"))
    f.refuse([Check(f"{guards.applied(phases.ctx, '10', same_plan=False)} OR "
                    f"{guards.applied(phases.ctx, '20', same_plan=False)}",
                    f"djsqlgen refused {fn}: later phases are still applied; roll them back first, newest first "
                    "(djsqlgen apply rollback/)", "the control schema records what they created",
                    only_if="@djsqlgen_control_was_there")])
    f.add(*control_schema(phases))  # again on a second run; dropped again at the end
    f.add(*_drop_control(phases, f))
    return f


def _drop_control(phases: Phases, f: FileBuilder) -> list[Statement]:
    """The control schema goes if djsqlgen created it; else only what djsqlgen put in it."""
    ctx = phases.ctx
    control = Owned("schema", ctx.control, ctx.control)
    out = [Statement("control_schema_ours", f"SET @djsqlgen_control_ours = {f.registered(control)}",
                     "whether djsqlgen created the control schema (else it keeps the schema itself)")]
    out += phases.drop_bookkeeping()
    out += [Statement("control_table_drop.objects", f"DROP TABLE IF EXISTS {ctx.control_table('objects')}",
                      "the record of what djsqlgen made: nothing of it is left"),
            Statement("control_table_drop.phase_log", f"DROP TABLE IF EXISTS {ctx.control_table('phase_log')}",
                      "phases: the migration is over")]
    # DROP DATABASE cannot be conditional outside a procedure: a prepared statement chooses.
    out += [Statement("control_schema_drop.choose",
                      f"SET @djsqlgen_drop = IF(@djsqlgen_control_ours AND NOT EXISTS (SELECT 1 FROM "
                      f"information_schema.TABLES WHERE TABLE_SCHEMA = {quote_literal(ctx.control)}), "
                      f"{quote_literal('DROP DATABASE IF EXISTS ' + quote_qualified((ctx.control,)))}, 'DO 0')",
                      "drop the control schema only if djsqlgen created it and it is empty now"),
            Statement("control_schema_drop.prepare", "PREPARE djsqlgen_drop FROM @djsqlgen_drop", "—"),
            Statement("control_schema_drop.run", "EXECUTE djsqlgen_drop", "—"),
            Statement("control_schema_drop.done", "DEALLOCATE PREPARE djsqlgen_drop", "—")]
    return out
