"""Imports run one way: catalog/model/ops -> sqltext -> engines -> phases/output -> run/cli (issue 24, item 6).

Every import of every module is read with ast (lazy ones inside functions too), so a layer that reaches up
fails here before it becomes an import cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "djsqlgen"

# layer -> the packages it must not import
FORBIDDEN = {
    "catalog": ("model", "ops", "plan", "presets", "sqltext", "engines", "phases", "output", "run", "cli"),
    "plan": ("engines", "phases", "output", "run", "cli"),
    "presets": ("engines", "phases", "output", "run", "cli"),
    "model": ("engines", "phases", "output", "run", "cli"),
    "ops": ("engines", "phases", "output", "run", "cli"),
    "sqltext": ("engines", "phases", "output", "run", "cli"),
    "engines": ("phases", "output", "run", "cli"),
    "phases": ("output", "run", "cli"),
    "output": ("run", "cli"),
}


def imported_modules(source: str) -> list[str]:
    """Every djsqlgen module ``source`` imports, by its dotted name (and each imported name below it); imports under
    ``if TYPE_CHECKING:`` are for annotations only and never run."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            node.body = []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return [name for name in found if name.startswith("djsqlgen.")]


def layer_of(module: str) -> str:
    return module.split(".")[1]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str):
    wrong = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in imported_modules(path.read_text(encoding="utf-8"))
        if layer_of(name) in FORBIDDEN[layer]
    ]
    assert not wrong, "imports that run upwards:\n" + "\n".join(wrong)


def test_the_walk_leaves_out_imports_for_annotations_only():
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from djsqlgen.run.db import Database\n"
    assert imported_modules(source) == []


def test_the_walk_sees_lazy_imports():
    """A guard on the test itself: an import inside a function counts too."""
    source = "def f():\n    from djsqlgen.output.generate import Migration\n"
    assert "djsqlgen.output.generate" in imported_modules(source)
