"""The phase modules (issue 24, item 6): each phase file is one module of djsqlgen/phases/, with its forward file
and its rollback side by side, listed once in PHASES in the order the files are applied."""

from __future__ import annotations

from pathlib import Path

import djsqlgen.phases as phases_package
from djsqlgen.phases import PHASES

HELPERS = {"__init__", "builder", "shared", "cutover_steps", "two_way", "sides"}  # modules that are no phase of their own
# (sides: the files that close or reopen one side of a two-way plan, outside the sequence)
INTERFACE = ("NUMBER", "NAME", "TITLE", "PURPOSE", "RERUN", "forward", "rollback", "removes")


def test_every_phase_module_is_listed_once_in_order():
    on_disk = {p.stem for p in Path(phases_package.__file__).parent.glob("*.py")} - HELPERS
    listed = [p.__name__.rsplit(".", 1)[1] for p in PHASES]
    assert sorted(listed) == sorted(on_disk), "a phase module is missing from PHASES (or listed but gone)"
    numbers = [p.NUMBER for p in PHASES]
    assert numbers == sorted(set(numbers)), f"phase numbers must rise and be unique: {numbers}"


def test_every_phase_has_its_forward_file_and_its_rollback():
    missing = [f"{p.__name__}.{name}" for p in PHASES for name in INTERFACE if not hasattr(p, name)]
    assert not missing, f"phase modules without their part: {missing}"
    assert all(p.NAME == p.__name__.rsplit(".", 1)[1] for p in PHASES), "a module is named after its file"
