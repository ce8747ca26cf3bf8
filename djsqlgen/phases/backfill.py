"""40 backfill: v1's history copied into v2 in chunks (`djsqlgen backfill` runs the same procedures); its rollback
empties the v2 tables."""

from __future__ import annotations

from djsqlgen.engines import backfill, guards
from djsqlgen.phases import two_way
from djsqlgen.phases.builder import FileBuilder
from djsqlgen.phases.cutover_steps import in_place
from djsqlgen.phases.shared import Phases
from djsqlgen.sqltext import expected

NUMBER, NAME, TITLE = "40", "backfill", "Backfill"
PURPOSE = "Copy v1's history into v2 in chunks, in dependency order; resumable."
RERUN = "Safe to run again: resumes from the checkpoints; finished tables are skipped."


def removes(phases: Phases) -> str:
    v2 = ", ".join(phases.v2_schemas())
    return f"every row of the v2 tables ({v2}; copies of v1) and the backfill's progress"


def forward(phases: Phases) -> FileBuilder:
    f, fn = phases.file("40"), "40_backfill.sql"
    phases.common_refusals(f, "30", [
        guards.binlog_row(fn), *phases.v1_drift_until_cutover(fn),
        expected.missing("TRIGGERS", [(r.schema, n) for r, _, n in phases.triggers],
                         f"djsqlgen refused {fn}: dual-write triggers are missing; apply 30_dualwrite.sql before "
                         "the backfill", "without the triggers, writes made during the copy would never reach v2"),
        guards.not_after(phases.ctx, "70", "70_cutover.sql", fn, "v2 is primary; nothing to copy")])
    engine = phases.reverse is not None or in_place(phases)  # its copies are neither carried back nor tracked
    if engine:
        f.add(two_way.engine_session(True))
    for t in phases.targets:
        f.add(backfill.run(phases.ctx, t))
    if engine:
        f.add(two_way.engine_session(False))
    f.log()
    return f


def rollback(phases: Phases) -> FileBuilder:
    f, fn = phases.file("40", rollback=True), "rollback/40_backfill.sql"
    phases.common_refusals(f, None, [
        guards.not_after(phases.ctx, "60", "60_constraints.sql", fn,
                         "emptying v2 tables under foreign keys fails; apply rollback/60_constraints.sql first")])
    engine = phases.reverse is not None or in_place(phases)
    if engine:
        f.add(two_way.engine_session(True))
    f.steps([s for t in reversed(phases.targets) for s in backfill.undo(phases.ctx, t)])
    if engine:
        f.add(two_way.engine_session(False))
    f.log()
    return f
