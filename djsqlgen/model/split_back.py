"""The way back of a split (ops/split_table.py) in two-way sync: each side's v2 rows go back to the one v1 table.

A split side syncs both ways as any table does, with one more rule: its v2 rows are only those of the v1 table that
its filter passes and no other side's does. So the way back of a side owns that part of the v1 table (``owned``):
the reverse triggers refuse a v2 row that, as v1 would hold it, belongs to another side, to none or to two (W9),
and verify compares the side with the v1 rows it owns, not the whole table. A v2 UPDATE that moves a row across
the filter is refused too: a trigger cannot move the row out of the table its statement writes (error 1442), and a
v2 client deletes it here and inserts it into the other side instead (each side's table is its own, as in DataJoint).
"""

from __future__ import annotations

from djsqlgen.model.expr import ColumnRef, Expr
from djsqlgen.model.target import DRIVING, Model, Target

# The alias of the v1 row in an ``owned`` expression (verify's name for the compared table's row).
OWN_ROW = "dst"


def split_group(model: Model, target: Target) -> tuple[Target, ...]:
    """The sides of the split ``target`` is a side of (itself included, in the plan's order), or ()."""
    for group in model.splits:
        if target.id in group:
            return tuple(model.target(i) for i in group)
    return ()


def split_reasons(model: Model, target: Target, kept: dict[str, str]) -> list[str]:
    """What stops a split side's v2 row from telling which side it belongs to (``kept``: v1 column -> the v2 column
    that copies it plainly)."""
    read = sorted({name for side in split_group(model, target) for name in side.source.filter.reads(DRIVING)})
    lost = [name for name in read if name not in kept]
    if not lost:
        return []
    return [f"the split's filters read {', '.join(lost)}, which {target.label} does not keep: a v2 row cannot tell "
            "which side it belongs to"]


def owned(model: Model, target: Target) -> Expr | None:
    """Over the v1 row (alias ``OWN_ROW``): whether it belongs to ``target``, a split side (its filter holds, no
    other side's does); None when ``target`` is no split side."""
    group = split_group(model, target)
    if not group:
        return None
    parts = []
    for i, side in enumerate(group):
        test = "IS TRUE" if side.id == target.id else "IS NOT TRUE"
        parts += [Expr.text((" AND " if i else "") + "(("), side.source.filter, Expr.text(f") {test})")]
    return _concat(parts).rename_alias(DRIVING, OWN_ROW)


def _concat(exprs: list[Expr]) -> Expr:
    """One expression: the texts and references of ``exprs`` in a row."""
    parts: list[str] = [""]
    refs: list[ColumnRef] = []
    for e in exprs:
        parts[-1] += e.parts[0]
        parts.extend(e.parts[1:])
        refs.extend(e.refs)
    return Expr(tuple(parts), tuple(refs))
