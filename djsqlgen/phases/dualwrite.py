"""30 dual write: the triggers that carry every v1 write into v2; its rollback drops them."""

from __future__ import annotations

from djsqlgen.engines import external_rows, guards, trial, triggers
from djsqlgen.engines import two_way as two_way_engine
from djsqlgen.engines.source import table_sql
from djsqlgen.model.target import TableRef
from djsqlgen.phases import two_way
from djsqlgen.phases.builder import FileBuilder
from djsqlgen.phases.cutover_steps import (
    dualwrite_events,
    guard_statements,
    in_place,
    in_place_events,
    tracker_statements,
)
from djsqlgen.phases.shared import Phases
from djsqlgen.sqltext.quoting import quote_literal
from djsqlgen.sqltext.statements import Check, Owned, Statement

NUMBER, NAME, TITLE = "30", "dualwrite", "Dual write"
PURPOSE = "Triggers that carry every v1 insert, update and delete into v2."
RERUN = "Safe to run again: the triggers are replaced in one step each."


def removes(phases: Phases) -> str:
    v1 = ", ".join(phases.v1_schemas())
    return f"the dual-write triggers on v1 ({v1}); v1's rows are untouched"


def forward(phases: Phases) -> FileBuilder:
    f, fn = phases.file("30"), "30_dualwrite.sql"
    ctx = phases.ctx
    privileges = [("TRIGGER", s, [t.name for t in phases.model.v1.schema(s).tables]) for s in phases.v1_schemas()]
    if phases.reverse is not None or in_place(phases):  # two-way, or v2's UPDATE/DELETE trackers: triggers on v2
        privileges += [("TRIGGER", s, None) for s in phases.v2_schemas()]
    refusals = [guards.binlog_trust(ctx, fn), guards.binlog_row(fn)] + f.require(privileges)
    refusals += _triggers_of_other_plan(phases, fn) + phases.v1_drift(fn)
    refusals.append(guards.not_after(ctx, "70", "70_cutover.sql", fn, "after cut-over v2 is primary; "
                                     "apply rollback/70_cutover.sql first"))
    phases.common_refusals(f, "20", refusals)
    if phases.reverse is not None:  # two-way: where the triggers count the rows they carry (before the trial reads it)
        f.add(*f.creating(two_way_engine.carried_table(ctx)))
        for statement in external_rows.kept_json_table(ctx):  # a 2.x filepath's JSON, for the way forward
            f.add(*f.creating(statement))
    f.add(*trial.trial_statements(ctx, fn))
    if not ctx.dialect.create_or_replace_trigger:
        # MySQL: no CREATE OR REPLACE TRIGGER. A trigger of another version of this plan is dropped first;
        # the refusal above made sure v2 is still empty, so a write in between is copied by the backfill.
        f.steps([Statement(f"trigger_drop_other_plan.{ref.label}.{e.lower()}", triggers.drop(ctx, ref, n),
                           "a trigger of another version of this plan",
                           done_when=f"NOT EXISTS (SELECT 1 FROM {ctx.control_table('objects')} WHERE kind = "
                                     f"'trigger' AND schema_name = {quote_literal(ref.schema)} AND object_name = "
                                     f"{quote_literal(n)} AND plan_hash <> {quote_literal(ctx.migration_hash)})")
                 for ref, e, n in phases.triggers + [(TableRef(m.creates.schema, m.creates.on_table), m.creates.name, m.creates.name)
                                                     for m in _cutover_ready(phases)]])
    for statement in _cutover_ready(phases) + triggers.create_all(ctx) + two_way.v2_trigger_statements(ctx, phases.reverse):
        f.add(*f.creating(statement, only_if_new=False))
    f.log()
    return f


def _cutover_ready(phases: Phases) -> list[Statement]:
    """A cut-over that renames nothing closes v1 by its sides row alone (no DDL under writers): the guards for the v1
    writes no dual-write trigger sees (a table no v2 table reads, an event with nothing to carry), idle until v1
    closes, are installed here while nobody depends on them (a two-way plan, whose v1 `djsqlgen close v1` closes,
    gets them too). The dual-write triggers check the same row first. Before them, v2's UPDATE and DELETE write
    trackers (they record nothing until v1 closes; which ones: cutover_steps.in_place_events)."""
    if phases.reverse is None and not in_place(phases):
        return []
    # two-way: v1 may be closed from 60 on (sides/close_v1.sql); the guards then refuse v1's clients, but let through
    # what v2's reverse triggers carry (a 2.x external value's `~external_<store>` row: no v2 table is made from it,
    # so no dual-write trigger stands there) and the engine's sessions (`djsqlgen files --reverse` naming its rows)
    seen = dualwrite_events(phases)
    guards_ = guard_statements(phases, {s: s for s in phases.v1_schemas()}, only=lambda pair: pair not in seen,
                               carried_pass=phases.reverse is not None)
    if phases.reverse is not None:
        return guards_
    return [s for _, s in tracker_statements(phases, {t.id: (t.schema, t.name) for t in phases.targets},
                                             in_place_events)] + guards_


def _triggers_of_other_plan(phases: Phases, filename: str) -> list[Check]:
    """Triggers from another version of the plan may be replaced only while v2 holds nothing they wrote."""
    objects, progress = phases.ctx.control_table("objects"), phases.ctx.control_table("progress")
    v2_has_rows = " OR ".join(f"EXISTS (SELECT 1 FROM {table_sql(t.schema, t.name)} LIMIT 1)" for t in phases.targets)
    return [Check(
        f"EXISTS (SELECT 1 FROM {objects} WHERE kind = 'trigger' AND plan_hash <> "
        f"{quote_literal(phases.ctx.migration_hash)}) AND (EXISTS (SELECT 1 FROM {progress} WHERE rows_copied > 0) "
        f"OR {v2_has_rows or 'FALSE'})",
        f"djsqlgen refused {filename}: the dual-write triggers installed come from another version of this plan "
        "and v2 already holds rows they or the backfill wrote; apply rollback/40_backfill.sql, then this file",
        "new triggers over rows written by the old ones would leave v2 mixed")]


def rollback(phases: Phases) -> FileBuilder:
    f, fn = phases.file("30", rollback=True), "rollback/30_dualwrite.sql"
    ctx = phases.ctx
    phases.common_refusals(f, None, [
        guards.binlog_trust(phases.ctx, fn),
        guards.not_after(phases.ctx, "70", "70_cutover.sql", fn, "apply rollback/70_cutover.sql first")])
    f.steps([s for r, _, n in phases.triggers
             for s in f.dropping(Owned("trigger", r.schema, n, r.name), triggers.drop(phases.ctx, r, n),
                                 f"stop carrying writes to {r.label} into v2")]
            + [s for owned, sql, why in two_way.v2_trigger_owned(phases.ctx, phases.reverse)
               for s in f.dropping(owned, sql, why)]
            + [s for made in _cutover_ready(phases)
               for s in f.dropping_created(made, "installed by 30 for the cut-over")]
            + (f.dropping(Owned("table", ctx.control, two_way_engine.CARRIED_TABLE),
                          f"DROP TABLE IF EXISTS {ctx.control_table(two_way_engine.CARRIED_TABLE)}",
                          "the counts of rows carried (no trigger writes them any more)")
               if phases.reverse is not None else [])
            + [s for made in external_rows.kept_json_table(ctx) for s in f.dropping(
                made.creates, f"DROP TABLE IF EXISTS {ctx.control_table(made.creates.name)}",
                "the JSON of 2.x's filepaths (no trigger writes it any more)")])
    f.log()
    return f
