"""The way back of a part extraction (ops/extract_part.py) in two-way sync: v1's row is its v2 master row joined
with its v2 part row.

An extraction makes two v2 tables of one v1 table: the master keeps the key and the columns it was not asked to
move, the part (``<master>__<name>``) has the master's key and the moved columns, one row per master row that has
any of them not NULL. The way back is the reverse of that: v1's row reads the moved columns from the part row of its
key through a LEFT JOIN (no part row: NULLs), so a v2 write of the master or of the part rewrites the one v1 row.
DataJoint inserts a master and then its parts in one transaction: the master's v1 row is written with the moved
columns NULL, and the part's insert fills them in; its deletes take the parts first. The part itself is no target of
the reverse model (it has no v1 table): like a lookup, it goes back through its master's rows.

What has no v1 form is refused or kept one-way: a part row whose moved columns are all NULL (v1 cannot tell it from
no part row: refused at the write, W10); a moved column NOT NULL in v1 (a master without its part row, as DataJoint
writes it first, could not be written to v1: the tables sync one way).
"""

from __future__ import annotations

from djsqlgen.model.expr import Expr
from djsqlgen.model.target import DRIVING, Join, Model, Target


def extracted_parts(model: Model, master: Target) -> list[Target]:
    """The parts extracted from ``master``: made from the same v1 rows, by the same key, referring to it by its whole
    key, filtered to the rows with a moved column not NULL."""
    out = []
    for t in model.targets:
        s = t.source
        if t.id == master.id or s.driving != master.source.driving or s.filter is None or s.joins or s.distinct:
            continue
        if tuple(t.primary_key) == tuple(master.primary_key) and any(
                fk.parent == master.id and tuple(fk.columns) == tuple(master.primary_key) for fk in t.foreign_keys):
            out.append(t)
    return out


def master_of(model: Model, part: Target) -> Target | None:
    """The master ``part`` was extracted from, or None."""
    for fk in part.foreign_keys:
        master = model.find(fk.parent) if fk.parent else None
        if master is not None and part in extracted_parts(model, master):
            return master
    return None


def moved(part: Target) -> dict[str, str]:
    """v1 column -> the part's v2 column holding it (the moved columns: every one but the key)."""
    return {c.expr.refs[0].name: c.name for c in part.columns
            if c.name not in part.primary_key and c.expr.is_column and c.expr.refs[0].alias == DRIVING}


def part_reasons(model: Model, master: Target) -> list[str]:
    """What stops the master's v1 row from coming back from its v2 master and part rows."""
    reasons = []
    v1 = model.v1_table(master.source.driving)
    for part in extracted_parts(model, master):
        kept = moved(part)
        others = [c.name for c in part.columns if c.name not in part.primary_key and c.name not in kept.values()]
        if others:
            reasons.append(f"the part {part.label}'s {', '.join(others)} are computed: a v2 write cannot give them back")
        required = [name for name in kept if not v1.attribute(name).nullable]
        if required:
            reasons.append(f"v1's {', '.join(required)} moved to {part.label} and NOT NULL: a v2 master without its part "
                           "row (DataJoint inserts it first) has no v1 form")
    return reasons


def part_values(model: Model, master: Target) -> tuple[dict[str, Expr], dict[str, Join]]:
    """The v1 columns the parts took out of ``master``, read back from each v2 part row of the master row's key (LEFT,
    as of a child: a master row inserted has no part row yet)."""
    columns: dict[str, Expr] = {}
    joins: dict[str, Join] = {}
    for i, part in enumerate(extracted_parts(model, master), 1):
        alias = f"part_{i}"
        joins[alias] = Join(alias, part.ref, tuple((k, Expr.column(DRIVING, k)) for k in part.primary_key), "left",
                            of_child=True)
        for v1_name, v2_name in moved(part).items():
            columns.setdefault(v1_name, Expr.column(alias, v2_name))
    return columns, joins
