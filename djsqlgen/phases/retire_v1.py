"""90 retire v1: the end of a v1 kept synced by 80 (contract.v1: keep-synced, two-way plans only). Applied by hand
when the lab says v1's last user is done: v2's reverse triggers go (v1 stops receiving v2's writes), and v1 is
retired as the plan says (contract.drop_v1: its tables dropped; else kept, read-only, by the guards 80 put on it).
Its rollback puts the reverse triggers back (and refuses once v1 was dropped). No file for other plans.
"""

from __future__ import annotations

from djsqlgen.engines import guards
from djsqlgen.phases import two_way
from djsqlgen.phases.builder import FileBuilder
from djsqlgen.phases.contract import refuse_once_v1_dropped, retire_v1, two_way_ends
from djsqlgen.phases.shared import Phases

NUMBER, NAME, TITLE = "90", "retire_v1", "Retire v1"
PURPOSE = ("End the sync that kept v1 current after the contract (contract.v1: keep-synced); retire v1 as the plan "
           "says. Once v1's last user is done.")
RERUN = "Safe to run again: each drop runs only when its object is still there."


def applies(phases: Phases) -> bool:
    """Only a two-way plan whose contract keeps v1 synced has this file."""
    return two_way.keeps_v1_synced(phases.ctx, phases.reverse)


def removes(phases: Phases) -> str:
    if phases.plan.contract.drop_v1:
        return ("nothing: once 90 has dropped v1 (contract.drop_v1) this file refuses, restore v1 from a backup; "
                "before that it puts back v2's reverse triggers")
    return ("nothing; it puts back v2's reverse triggers, so v1 receives v2's writes again (those made between 90 "
            "and this file are not in v1: RUNBOOK, \"Two-way sync\")")


def drops_v1(phases: Phases) -> tuple[str, ...]:
    return tuple(phases.v1_schemas()) if phases.plan.contract.drop_v1 else ()


def forward(phases: Phases) -> FileBuilder:
    f, fn = phases.file(NUMBER), f"{NUMBER}_{NAME}.sql"
    phases.common_refusals(f, "80", [guards.binlog_trust(phases.ctx, fn)])
    steps = two_way_ends(phases, f)
    if phases.plan.contract.drop_v1:
        for spec in phases.model.schemas:
            steps += retire_v1(phases, f, spec)
    # v1 kept: 80's guards stay and refuse every write (no v2 trigger carries into v1 any more), reading the sides
    # table; what 80 kept of the control schema stays with it (rollback/90 needs the progress rows back)
    f.steps(steps)
    if phases.plan.contract.drop_v1:
        f.add(*phases.drop_bookkeeping())
    f.log()
    return f


def rollback(phases: Phases) -> FileBuilder:
    f, fn = phases.file(NUMBER, rollback=True), f"rollback/{NUMBER}_{NAME}.sql"
    refusals = refuse_once_v1_dropped(phases, f, fn, NUMBER)
    phases.common_refusals(f, None, refusals if phases.plan.contract.drop_v1 else refusals[1:])
    for statement in two_way.v2_trigger_statements(phases.ctx, phases.reverse):
        f.add(*f.creating(statement, only_if_new=False))
    f.log()
    return f
