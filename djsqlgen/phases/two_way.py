"""What two-way sync (issue 24) adds to the phase files: a helper of the phases that change for it, no phase.

- 30 installs the reverse triggers (v2 → v1) next to the forward ones (until 60 they refuse every v2 write that
  would change v1, W6; from 60 on they carry it), and on each one-way v2 table the triggers refusing its clients (W7).
- 40 and rollback/40 write v2 as an engine session (nothing carried back); rollback/30 drops what 30 added.
- 70 closes v1 by its sides row, as sides/close_v1.sql does (either may come first), and changes nothing else: v2
  keeps syncing into v1. Its rollback reopens v1: nothing v2 took is lost (two-way tables are in v1 already, one-way
  ones refuse v2's clients), so no write tracking, no refusal. A renaming cut-over, or one while v2 is closed, is
  refused (``cutover_refusals``).
- 80 drops the sync (or, with contract.v1: keep-synced, only the v1 → v2 half: phases/contract.py), and 90
  (phases/retire_v1.py) the rest. RUNBOOK: "Two-way sync".
"""

from __future__ import annotations

from djsqlgen.engines import sides, triggers
from djsqlgen.engines.context import Context
from djsqlgen.engines.two_way import ENGINE_SESSION, one_way_refusals
from djsqlgen.model.target import TableRef
from djsqlgen.phases.builder import FileBuilder
from djsqlgen.sqltext.statements import Check, Owned, Statement


def v2_trigger_statements(ctx: Context, reverse: Context | None) -> list[Statement]:
    """CREATE TRIGGER of every trigger two-way sync puts on v2: the reverse ones, the one-way refusals (none for a
    one-way plan)."""
    if reverse is None:
        return []
    return triggers.create_all(reverse) + one_way_refusals(ctx)


def v2_trigger_owned(ctx: Context, reverse: Context | None) -> list[tuple[Owned, str, str]]:
    """(object, DROP statement, why) of every trigger two-way sync puts on v2, for rollback/30."""
    if reverse is None:
        return []
    out = [(Owned("trigger", ref.schema, name, ref.name), triggers.drop(reverse, ref, name),
            f"stop carrying writes to {ref.label} back into v1")
           for ref, _, name in triggers.trigger_names(reverse)]
    for statement in one_way_refusals(ctx):
        owned = statement.creates
        out.append((owned, triggers.drop(ctx, TableRef(owned.schema, owned.on_table), owned.name),
                    f"{owned.schema}.{owned.on_table} takes its clients' writes again (v2 has no sync any more)"))
    return out


def keeps_v1_synced(ctx: Context, reverse: Context | None) -> bool:
    """contract.v1: keep-synced on a two-way plan: 80 keeps the reverse triggers (90 removes them)."""
    return reverse is not None and ctx.plan.contract.v1 == "keep-synced"


def v2_trigger_drops(f: FileBuilder, ctx: Context, reverse: Context | None, why: str) -> list[Statement]:
    """Guarded steps dropping every trigger two-way sync put on v2 (80, or 90 with keep-synced)."""
    return [s for owned, sql, _ in v2_trigger_owned(ctx, reverse) for s in f.dropping(owned, sql, why)]


def engine_session(on: bool) -> Statement:
    """This session's own writes to v2 are not carried back to v1 (set at the start of the file, unset at its end)."""
    return Statement(f"session.engine_{'on' if on else 'off'}", f"SET {ENGINE_SESSION} = {'1' if on else 'NULL'}",
                     "this file's own writes to v2 are not carried back to v1 (two-way sync) nor recorded as v2 "
                     "writes (its trackers)" if on else
                     "writes on this session are carried both ways again")


def cutover_refusals(ctx: Context, pending: str, filename: str) -> list[Check]:
    """70 on a two-way plan: a renaming cut-over is refused (the reverse triggers could not follow v2's tables to
    their final schema: a table with triggers cannot move to another schema, error 1435, and dropping them there
    would stop carrying v2's writes to v1's readers), and so is a closed v2 (the cut-over makes v2 the side that
    takes writes; reopening it is the lab's choice, `djsqlgen reopen v2 PLAN`, not a side effect of 70)."""
    out = [Check(f"{pending} AND {sides.is_open_sql(ctx, 'v2', is_open=False)}",
                 f"djsqlgen refused {filename}: v2 is closed (djsqlgen close v2), and after the cut-over v2 is where "
                 "the lab writes; reopen it first: djsqlgen reopen v2 PLAN (sides/reopen_v2.sql)",
                 "a cut-over never leaves both sides read-only")]
    if ctx.plan.cutover.rename_to_final:
        out.insert(0, Check(pending,
                            f"djsqlgen refused {filename}: a two-way plan cannot rename at cut-over "
                            "(cutover.rename_to_final): its reverse triggers cannot follow v2 to another schema "
                            "(error 1435); set rename_to_final: false, generate and apply again",
                            "the sync that carries v2's writes to v1 must stay on through the cut-over"))
    return out


def closing_v1(ctx: Context, filename: str) -> list[Statement]:
    """70's one change on a two-way plan: v1's sides row, closed the way sides/close_v1.sql closes it (only while v2
    is open, in the same statement). No DDL: v1's forward triggers already refuse their clients' writes once it is
    closed (W8) and let through what v2's triggers carry, which keep v1 current for its readers."""
    return [sides.close(ctx, "v1", filename, other_open="v2"), sides.still_open_refusal(ctx, "v1", "v2", filename)]
