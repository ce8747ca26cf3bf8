"""60 constraints: v2's references checked, then its foreign keys and unique indexes added; its rollback removes
them."""

from __future__ import annotations

from djsqlgen.engines import constraints, guards, sides
from djsqlgen.phases.builder import FileBuilder, table_exists
from djsqlgen.phases.shared import Phases
from djsqlgen.sqltext.statements import Check, Statement

NUMBER, NAME, TITLE = "60", "constraints", "Constraints"
PURPOSE = "Check v2's references, then add its foreign keys and unique indexes without a table copy."
RERUN = "Safe to run again: each constraint is added only when missing."


def removes(phases: Phases) -> str:
    v2 = ", ".join(phases.v2_schemas())
    return f"the foreign keys and unique indexes 60 added to the v2 tables ({v2})"


def forward(phases: Phases) -> FileBuilder:
    f, fn = phases.file("60"), "60_constraints.sql"
    f.no_wait_ddl("ADD FOREIGN KEY and ADD UNIQUE")
    privileges = [(p, s, None) for s in phases.v2_schemas() for p in ("ALTER", "REFERENCES", "INDEX")]
    phases.common_refusals(f, "30", [guards.backfill_done(phases.ctx, fn), *phases.v1_drift_until_cutover(fn)]
                          + f.require(privileges))
    for t in phases.targets:
        f.add(*constraints.check_calls(phases.ctx, t))
    f.add(Statement("session.foreign_key_checks_off", "SET SESSION foreign_key_checks = 0",
                    "with the references checked above, ADD FOREIGN KEY becomes a metadata-only change "
                    "(ALGORITHM=INPLACE, LOCK=NONE) instead of a table copy under a shared lock"))
    f.steps([s for t in phases.targets for s in constraints.add(phases.ctx, t)])
    f.add(Statement("session.foreign_key_checks_on", "SET SESSION foreign_key_checks = 1", "back to normal"))
    f.log()
    return f


def rollback(phases: Phases) -> FileBuilder:
    f, fn = phases.file("60", rollback=True), "rollback/60_constraints.sql"
    phases.common_refusals(f, None, [guards.not_after(phases.ctx, "70", "70_cutover.sql", fn,
                                                     "v2 is primary; apply rollback/70_cutover.sql first"),
                                     *_v1_closed(phases, fn)])
    # First: v1's UPDATE triggers move the children v2's ON UPDATE CASCADE moved since 60 (engines/triggers.py
    # v2_cascades) as soon as 60 is unrecorded, before its foreign keys go. Their key moves confirm 60 by a locking
    # read: this waits for the writers that saw it applied. (Unrecorded again at the end, as every rollback is.)
    unlog = f.log_statement()
    f.add(Statement("phase_unlog_first.60", unlog.sql, "v1's triggers move the children themselves again from here"))
    f.steps([s for t in reversed(phases.targets) for s in constraints.remove(phases.ctx, t)])
    f.log()
    return f


def _v1_closed(phases: Phases, filename: str) -> list[Check]:
    """Two-way: v2 takes no writes before 60 (W6), so undoing 60 while v1 is closed (sides/close_v1.sql) would leave
    the lab no side to write to."""
    if phases.reverse is None:
        return []
    ctx = phases.ctx
    return [Check(sides.is_open_sql(ctx, 'v1', is_open=False),
                  f"djsqlgen refused {filename}: v1 is closed (sides/close_v1.sql) and v2 takes no writes before 60; "
                  "reopen v1 first (djsqlgen reopen v1 PLAN, or sides/reopen_v1.sql)",
                  "one side always takes writes", only_if=table_exists(ctx.control, "sides"))]
