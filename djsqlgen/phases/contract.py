"""80 contract: djsqlgen's triggers and routines removed, v1 retired as the plan says; its rollback puts the
routines back (and refuses once v1 was dropped)."""

from __future__ import annotations

from djsqlgen.engines import guards, triggers
from djsqlgen.phases.builder import FileBuilder, table_exists
from djsqlgen.phases.cutover_steps import dualwrite_events, guard_statements, in_place
from djsqlgen.phases.routines import routine_statements
from djsqlgen.phases.shared import EVENTS, Phases
from djsqlgen.sqltext import expected, naming
from djsqlgen.sqltext.quoting import quote_qualified
from djsqlgen.sqltext.statements import Check, Owned, Statement

NUMBER, NAME, TITLE = "80", "contract", "Contract"
PURPOSE = "Remove djsqlgen's triggers and routines; retire v1 as the plan says."
RERUN = "Safe to run again: each drop runs only when its object is still there."


def removes(phases: Phases) -> str:
    control = phases.ctx.control
    if phases.plan.contract.drop_v1:
        return ("nothing: once 80 has dropped v1 (contract.drop_v1) this file refuses, restore v1 from a backup; "
                f"before that it only puts back djsqlgen's routines in {control}")
    return (f"nothing of v1 or v2; it puts back djsqlgen's routines and bookkeeping tables in {control} "
            "(v2's write records were kept)")


def drops_v1(phases: Phases) -> tuple[str, ...]:
    """The v1 schemas this file drops tables of (the files' header warns about them)."""
    return tuple(phases.v1_schemas()) if phases.plan.contract.drop_v1 else ()


def forward(phases: Phases) -> FileBuilder:
    f, fn = phases.file("80"), "80_contract.sql"
    ctx = phases.ctx
    phases.common_refusals(f, "70", [guards.binlog_trust(ctx, fn)])
    drop_v1 = phases.plan.contract.drop_v1
    # v2's write trackers and their records stay while v1 does (rollback/70 reads them: a write to v2 is never
    # given up silently); with drop_v1 they go, after v1 (a file stopped before v1 is gone still has them).
    trackers = []
    for t in phases.targets:
        schema, name = phases.v2_home(t)
        for event in EVENTS:
            trig = naming.tracker_trigger_name(phases.plan.name, t.name, event)
            trackers += f.dropping(Owned("trigger", schema, trig, name), f"DROP TRIGGER IF EXISTS "
                                   f"{quote_qualified((schema, trig))}", "v1 is gone: nothing to roll back to")
    if in_place(phases) and not drop_v1:
        # v1 stays, closed by its row: the writes its dual-write triggers refused until now get guards of their own
        # first (the same check of the same row), so none slips through once those triggers go
        carried = dualwrite_events(phases)
        where = {schema: schema for schema in phases.v1_schemas()}
        for guard in guard_statements(phases, where, only=lambda pair: pair in carried):
            f.add(*f.creating(guard, only_if_new=False))
    steps = []
    for r, _, n in phases.triggers:
        steps += f.dropping(Owned("trigger", r.schema, n, r.name), triggers.drop(ctx, r, n), "no sync is left")
    for spec in phases.model.schemas:
        v1_home = spec.archive if phases.moves_v1() and spec.archive else spec.source
        if phases.plan.contract.drop_v1:
            for table in phases.model.v1.schema(spec.source).tables:
                for event in EVENTS:
                    g = naming.guard_trigger_name(phases.plan.name, table.name, event)
                    steps += f.dropping(Owned("trigger", v1_home, g, table.name),
                                        f"DROP TRIGGER IF EXISTS {quote_qualified((v1_home, g))}", "v1 goes")
                if v1_home != phases.final(spec):
                    steps.append(Statement(
                        f"v1_drop.{v1_home}.{table.name}",
                        f"DROP TABLE IF EXISTS {quote_qualified((v1_home, table.name))}",
                        f"retire v1 ({spec.source}) as the plan says (contract.drop_v1)",
                        done_when=f"NOT {table_exists(v1_home, table.name)}"))
            if v1_home != spec.source:
                steps += phases.drop_empty_schemas(f, [v1_home], "the archive is empty")
        if phases.plan.cutover.rename_to_final and spec.final and spec.final != spec.target:
            steps += phases.drop_empty_schemas(f, [spec.target], f"empty: its tables now live in {spec.final}")
    f.steps(steps + (trackers if drop_v1 else []))
    # The control schema keeps its phase log and its record of what djsqlgen left (v1's guard triggers, v2's
    # write trackers and their records while v1 stays, the schemas cut-over made): status reads them, and the
    # rollbacks still drop only what is recorded.
    f.add(*phases.drop_bookkeeping(keep=() if drop_v1 else ("v2_writes", "sides")))
    f.log()
    return f


def rollback(phases: Phases) -> FileBuilder:
    f, fn = phases.file("80", rollback=True), "rollback/80_contract.sql"
    homes = [spec.archive if phases.moves_v1() and spec.archive else spec.source for spec in phases.model.schemas]
    # Not refused when 80 did not run: restoring the routines and bookkeeping tables then replaces them with
    # the same, and a newest-first run of rollback/ removes them again with rollback/20.
    gone = f"djsqlgen refused {fn}: contract.drop_v1 dropped v1; restore it from a backup"  # within 128 characters
    dropped = [Check(guards.applied(phases.ctx, "80", same_plan=False), f"{gone}, nothing can be rolled back",
                     "contract.drop_v1 removed v1 and the record of v2's later writes")
               ] if phases.plan.contract.drop_v1 else []
    phases.common_refusals(f, None, [
        *dropped,
        expected.missing("TABLES", [(home, t.name) for spec, home in zip(phases.model.schemas, homes)
                                    for t in phases.model.v1.schema(spec.source).tables],
                         f"{gone}, nothing can be rolled back", "contract.drop_v1 removed v1's data")])
    f.add(*routine_statements(phases))
    f.log()
    return f
