"""What two-way sync (issue 24) adds to the phase files: a helper of the phases that change for it, no phase.

- 30 installs the reverse triggers (v2 → v1) next to the forward ones (until 60 they refuse every v2 write that
  would change v1, W6; from 60 on they carry it), and on each one-way v2 table the triggers refusing its clients (W7).
- 40 and rollback/40 write v2 as an engine session (nothing carried back); rollback/30 drops what 30 added.
- 70 refuses a two-way plan for now: the cut-over of a plan whose v2 already takes writes is the follow-up of issue
  24; meanwhile sides/close_v1.sql (`djsqlgen close v1 PLAN`, phases/sides.py) makes v1 read-only while v2 keeps
  syncing into it. RUNBOOK: "Two-way sync".
"""

from __future__ import annotations

from djsqlgen.engines import triggers
from djsqlgen.engines.context import Context
from djsqlgen.engines.two_way import ENGINE_SESSION, one_way_refusals
from djsqlgen.model.target import TableRef
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


def engine_session(on: bool) -> Statement:
    """This session's own writes to v2 are not carried back to v1 (set at the start of the file, unset at its end)."""
    return Statement(f"session.engine_{'on' if on else 'off'}", f"SET {ENGINE_SESSION} = {'1' if on else 'NULL'}",
                     "this file's own writes to v2 are not carried back to v1 (two-way sync) nor recorded as v2 "
                     "writes (its trackers)" if on else
                     "writes on this session are carried both ways again")


def cutover_refusal(ctx: Context, pending: str, filename: str) -> Check:
    """70 refuses a two-way plan: its v2 already takes writes, and that cut-over is not built yet."""
    return Check(pending,
                 f"djsqlgen refused {filename}: this plan syncs two-way, whose cut-over is not built yet (issue 24); "
                 "to stop v1's writes while v2 keeps syncing into it: djsqlgen close v1 PLAN (sides/close_v1.sql); "
                 "else roll back to 20, set sync: one-way, generate and apply again",
                 "a cut-over must not silently drop the sync that carries v2's writes to v1")
