"""The phase files of DESIGN.md, one module per phase: its forward file and its rollback side by side.

Each module says its NUMBER, NAME, TITLE, PURPOSE and RERUN note (and ``applies(phases)`` when only some plans
have its file: 90) and builds ``forward(phases)``,
``rollback(phases)`` and ``removes(phases)`` (what its rollback removes, for the file's first lines) from
the engines; shared.py holds what several phases use, builder.py one file as it is built. A new phase is a
new module, listed here in its place.
"""

from __future__ import annotations

from djsqlgen.engines.context import Context
from djsqlgen.phases import (
    backfill,
    constraints,
    contract,
    cutover,
    dualwrite,
    expand,
    preflight,
    retire_v1,
    routines,
    verify,
)
from djsqlgen.phases.shared import Phases
from djsqlgen.sqltext.statements import PhaseFile

# in the order they are applied; rollbacks go the other way
PHASES = (preflight, expand, routines, dualwrite, backfill, verify, constraints, cutover, contract, retire_v1)

__all__ = ["PHASES", "Phases", "phase_files", "side_files"]


def phase_files(ctx: Context, data_checks: tuple = (), attachments: tuple = (),
                reverse: Context | None = None, attachments_back: tuple = ()) -> list[PhaseFile]:
    """Every forward file of the migration in order, then every rollback, newest first (``reverse``: the context of
    a two-way plan's reverse model, whose triggers 30 adds)."""
    phases = Phases(ctx, data_checks, attachments, reverse, attachments_back)
    present = [p for p in PHASES if phases.has_file(p)]
    forward = [(p, p.forward(phases)) for p in present]
    rollbacks = [(p, p.rollback(phases)) for p in reversed(present)]
    out = []
    for p, b in forward:
        drops_v1 = p.drops_v1(phases) if hasattr(p, "drops_v1") else ()  # only 80 (or 90) may drop v1
        out.append(PhaseFile(p.NUMBER, p.NAME, p.TITLE, p.PURPOSE, p.RERUN, tuple(b.statements),
                             needs=tuple(b.needs), drops_v1=drops_v1))
    for p, b in rollbacks:
        out.append(PhaseFile(b.number, b.name, f"Rollback of {p.TITLE.lower()}",
                             f"Undo {b.number}_{b.name}.sql; drops only what djsqlgen recorded creating.",
                             "Safe to run again: each undo step checks first.", tuple(b.statements),
                             rollback_of=f"{b.number}_{b.name}.sql", needs=tuple(b.needs),
                             removes=p.removes(phases)))
    return out


def side_files(ctx: Context, reverse: Context | None = None) -> list[PhaseFile]:
    """A two-way plan's sides/ files (close or reopen one side: phases/sides.py); none for a one-way plan."""
    from djsqlgen.phases import sides

    return sides.side_files(Phases(ctx, reverse=reverse))
