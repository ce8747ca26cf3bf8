"""80 contract: djsqlgen's triggers and routines removed, v1 retired as the plan says; its rollback puts the
routines back (and refuses once v1 was dropped). A two-way plan with contract.v1: keep-synced keeps the closed v1 as
read-only tables v2 keeps filling: only the v1 → v2 triggers go (guards that let v2's carried writes through take
their place); 90_retire_v1.sql (phases/retire_v1.py) ends the sync and retires v1 later."""

from __future__ import annotations

from djsqlgen.engines import guards, triggers
from djsqlgen.phases.builder import FileBuilder, table_exists
from djsqlgen.phases import two_way
from djsqlgen.phases.cutover_steps import counters_to_v2, dualwrite_events, guard_statements, in_place
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
    if _drops_v1_here(phases):
        return ("nothing: once 80 has dropped v1 (contract.drop_v1) this file refuses, restore v1 from a backup; "
                f"before that it only puts back djsqlgen's routines in {control}")
    if phases.reverse is not None:
        kept = "the v1 → v2 triggers" if two_way.keeps_v1_synced(phases.ctx, phases.reverse) else "the two-way sync"
        return (f"nothing of v1 or v2; it puts back {kept} 80 removed and djsqlgen's routines and bookkeeping tables "
                f"in {control}. v1 stays closed (rollback/70_cutover.sql reopens it)")
    return (f"nothing of v1 or v2; it puts back djsqlgen's routines and bookkeeping tables in {control} "
            "(v2's write records were kept)")


def _drops_v1_here(phases: Phases) -> bool:
    """contract.drop_v1, unless v1 is kept synced: then 90_retire_v1.sql drops it."""
    return phases.plan.contract.drop_v1 and not two_way.keeps_v1_synced(phases.ctx, phases.reverse)


def drops_v1(phases: Phases) -> tuple[str, ...]:
    """The v1 schemas this file drops tables of (the files' header warns about them)."""
    return tuple(phases.v1_schemas()) if _drops_v1_here(phases) else ()


def forward(phases: Phases) -> FileBuilder:
    f, fn = phases.file("80"), "80_contract.sql"
    ctx = phases.ctx
    phases.common_refusals(f, "70", [guards.binlog_trust(ctx, fn)])
    drop_v1 = _drops_v1_here(phases)
    keep_synced = two_way.keeps_v1_synced(ctx, phases.reverse)
    # v2's write trackers and their records stay while v1 does (rollback/70 reads them: a write to v2 is never
    # given up silently); with drop_v1 they go, after v1 (a file stopped before v1 is gone still has them).
    trackers = []
    for t in phases.targets:
        schema, name = phases.v2_home(t)
        for event in EVENTS:
            trig = naming.tracker_trigger_name(phases.plan.name, t.name, event)
            trackers += f.dropping(Owned("trigger", schema, trig, name), f"DROP TRIGGER IF EXISTS "
                                   f"{quote_qualified((schema, trig))}", "v1 is gone: nothing to roll back to")
    if (in_place(phases) or phases.reverse is not None) and not drop_v1:
        # v1 stays, closed by its row: the writes its dual-write triggers refused until now get guards of their own
        # first (the same check of the same row), so none slips through once those triggers go. Kept synced, they
        # let through what v2's reverse triggers carry into v1.
        for guard in _guards(phases, keep_synced):
            f.add(*f.creating(guard, only_if_new=False))
    steps = []
    for r, _, n in phases.triggers:
        steps += f.dropping(Owned("trigger", r.schema, n, r.name), triggers.drop(ctx, r, n),
                            "v1 is read-only: nothing to carry from it" if keep_synced else "no sync is left")
    if phases.reverse is not None and not keep_synced:
        steps += two_way_ends(phases, f)
    for spec in phases.model.schemas:
        if drop_v1:
            steps += retire_v1(phases, f, spec)
        if phases.plan.cutover.rename_to_final and spec.final and spec.final != spec.target:
            steps += phases.drop_empty_schemas(f, [spec.target], f"empty: its tables now live in {spec.final}")
    f.steps(steps + (trackers if drop_v1 else []))
    # The control schema keeps its phase log and its record of what djsqlgen left (v1's guard triggers, v2's
    # write trackers and their records while v1 stays, the schemas cut-over made): status reads them, and the
    # rollbacks still drop only what is recorded. Kept synced, the reverse triggers still read progress.
    keep = () if drop_v1 else ("v2_writes", "sides") + (("progress",) if keep_synced else ())
    f.add(*phases.drop_bookkeeping(keep=keep))
    f.log()
    return f


def _guards(phases: Phases, carried_pass: bool) -> list[Statement]:
    """The guards 80 adds on a v1 it keeps: for the writes the dual-write triggers it drops refused once v1 closed."""
    carried = dualwrite_events(phases)
    where = {schema: schema for schema in phases.v1_schemas()}
    return guard_statements(phases, where, only=lambda pair: pair in carried, carried_pass=carried_pass)


def two_way_ends(phases: Phases, f: FileBuilder) -> list[Statement]:
    """Steps ending a two-way plan's sync back into v1 (80, or 90 when v1 was kept synced): v2's AUTO_INCREMENT
    counters first move above every id v1 issued (v2's inserts took their ids from v1's counter until now), then the
    triggers on v2 go (reverse triggers, and the one-way tables' refusals: v2 takes every write from here on)."""
    v1_home = {schema: schema for schema in phases.v1_schemas()}
    counters = counters_to_v2(phases, v1_home, {t.id: (t.schema, t.name) for t in phases.targets})
    return counters + two_way.v2_trigger_drops(f, phases.ctx, phases.reverse, "v2 no longer syncs into v1")


def retire_v1(phases: Phases, f: FileBuilder, spec) -> list[Statement]:
    """Steps dropping one v1 schema's tables and guards (contract.drop_v1), and the archive once empty."""
    steps = []
    v1_home = spec.archive if phases.moves_v1() and spec.archive else spec.source
    for table in _children_first(spec.source, phases.model.v1.schema(spec.source).tables):
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
    return steps


def _children_first(schema: str, tables) -> list:
    """``tables`` (of v1 ``schema``) ordered so that each comes before the tables it references: a DROP TABLE of a
    parent whose child is still there fails (1451). A cycle keeps its tables' order."""
    left, out = list(tables), []
    while left:
        referenced = {fk.ref_table for t in left for fk in t.foreign_keys
                      if fk.ref_schema == schema and fk.ref_table != t.name}
        ready = [t for t in left if t.name not in referenced] or left
        out += ready
        left = [t for t in left if t not in ready]
    return out


def refuse_once_v1_dropped(phases: Phases, f: FileBuilder, fn: str, number: str) -> list[Check]:
    """A rollback of the file that dropped v1 (``number``: 80, or 90 when kept synced) refuses once it has."""
    homes = [spec.archive if phases.moves_v1() and spec.archive else spec.source for spec in phases.model.schemas]
    gone = f"djsqlgen refused {fn}: contract.drop_v1 dropped v1; restore it from a backup"  # within 128 characters
    return [Check(guards.applied(phases.ctx, number, same_plan=False), f"{gone}, nothing can be rolled back",
                  "contract.drop_v1 removed v1 and the record of v2's later writes"),
            expected.missing("TABLES", [(home, t.name) for spec, home in zip(phases.model.schemas, homes)
                                        for t in phases.model.v1.schema(spec.source).tables],
                             f"{gone}, nothing can be rolled back", "contract.drop_v1 removed v1's data")]


def rollback(phases: Phases) -> FileBuilder:
    f, fn = phases.file("80", rollback=True), "rollback/80_contract.sql"
    ctx = phases.ctx
    # Not refused when 80 did not run: restoring the routines and bookkeeping tables then replaces them with
    # the same, and a newest-first run of rollback/ removes them again with rollback/20.
    refusals = refuse_once_v1_dropped(phases, f, fn, "80")
    phases.common_refusals(f, None, refusals if _drops_v1_here(phases) else refusals[1:])
    f.add(*routine_statements(phases))
    if phases.reverse is not None:
        # the sync 80 removed comes back (v1 stays closed: its forward triggers refuse its clients' writes), then
        # 80's guards go; rollback/70 reopens v1
        synced = triggers.create_all(ctx)
        if not two_way.keeps_v1_synced(ctx, phases.reverse):
            synced += two_way.v2_trigger_statements(ctx, phases.reverse)
        for statement in synced:
            f.add(*f.creating(statement, only_if_new=False))
        f.steps([s for g in _guards(phases, carried_pass=False)
                 for s in f.dropping_created(g, "80's guard: the dual-write trigger is back")])
    f.log()
    return f
