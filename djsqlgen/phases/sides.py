"""The side files of a two-way plan (issue 24): sides/close_v1.sql, sides/reopen_v1.sql, sides/close_v2.sql,
sides/reopen_v2.sql. Closing a side makes its triggers refuse their clients' writes (W8, naming the other side's table
and since when) while the other side's writes keep syncing into it, so its remaining readers see new data; reopening
undoes it. `djsqlgen close|reopen v1|v2 PLAN` runs the same statements. No phase: they are applied by hand, between 60
and the cut-over, as often as the lab chooses (RUNBOOK: "Closing one side").

Each changes one row of the control table ``sides`` the way 70 closes v1 (engines/sides.py: an UPDATE retried 1 s at a
time until the transactions that wrote the side have ended, up to a bound, where the side stays as it was). No DDL.
"""

from __future__ import annotations

from djsqlgen.engines import guards, sides
from djsqlgen.phases.builder import FileBuilder
from djsqlgen.phases.shared import Phases
from djsqlgen.sqltext.statements import Check, PhaseFile

FOLDER = "sides"
ACTIONS = ("close", "reopen")


def other_side(side: str) -> str:
    return "v2" if side == "v1" else "v1"


def build(phases: Phases, action: str, side: str) -> FileBuilder:
    """The statements of sides/<action>_<side>.sql: refusals first (nothing changed when one fails), then the row
    change as a guarded step (done already: skipped, so the file is safe to run twice)."""
    ctx, other = phases.ctx, other_side(side)
    f = FileBuilder(ctx, action, side, folder=FOLDER)
    f.pin_session()
    fn = f.filename
    refusals = [Check(guards.applied(ctx, "70", same_plan=False),
                      f"djsqlgen refused {fn}: 70_cutover.sql is applied; after the cut-over only "
                      "rollback/70_cutover.sql reopens v1",
                      "the cut-over owns the sides from 70 on (its rollback checks v2's later writes)")]
    if action == "close":
        # one side always takes writes: closing the second would leave the lab nowhere to write
        refusals.append(Check(
            f"{sides.is_open_sql(ctx, side)} AND {sides.is_open_sql(ctx, other, is_open=False)}",
            f"djsqlgen refused {fn}: {other} is closed already, and one side must take writes; reopen {other} first "
            f"(djsqlgen reopen {other} PLAN, or sides/reopen_{other}.sql)",
            "never both sides read-only"))
    refusals += f.require([("UPDATE", ctx.control, None)])
    # close: from 60 on, when v2 takes writes (before, closing v1 leaves no side writable; v2 takes none to close).
    # reopen: whenever the sides table is there (20).
    phases.common_refusals(f, "60" if action == "close" else "20", refusals)
    if action == "close":
        f.steps([sides.close(ctx, side, fn, other_open=other), sides.still_open_refusal(ctx, side, other, fn)])
    else:
        f.steps([sides.reopen(ctx, side, fn)])
    return f


def side_files(phases: Phases) -> list[PhaseFile]:
    """The four files of a two-way plan, close then reopen per side; none for a one-way plan (its v1 closes by 70,
    whose safeguards a bare close would skip)."""
    if phases.reverse is None:
        return []
    out = []
    for side in ("v1", "v2"):
        other = other_side(side)
        for action in ACTIONS:
            f = build(phases, action, side)
            if action == "close":
                title = f"Close {side}: its clients' writes refused, {other}'s still synced into it"
                purpose = (f"{side}'s triggers refuse their own clients' writes (W8, naming the {other} table to write "
                           f"to and since when); writes to {other} keep reaching {side}, so its readers see them.")
                rerun = f"Safe to run again: a closed {side} stays closed (its first closing time kept)."
            else:
                title = f"Reopen {side}: it takes its clients' writes again"
                purpose = f"{side}'s clients write again; both sides sync both ways as before the close."
                rerun = f"Safe to run again: an open {side} stays open."
            undo = f"{FOLDER}/{ACTIONS[1 - ACTIONS.index(action)]}_{side}.sql"
            out.append(PhaseFile(action, side, title, purpose, rerun, tuple(f.statements), needs=tuple(f.needs),
                                 folder=FOLDER, undo=undo))
    return out
