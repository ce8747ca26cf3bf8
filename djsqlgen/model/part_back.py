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

from djsqlgen.catalog.heading import Table, classify_table
from djsqlgen.model.expr import Expr
from djsqlgen.model.identity import column_decl
from djsqlgen.model.target import DRIVING, ForeignKeyDecl, Join, KeyMap, Model, Source, TableRef, Target, TargetColumn


def any_not_null(exprs: list[Expr]) -> Expr:
    """``(e1) IS NOT NULL OR (e2) IS NOT NULL …`` as one expression, its column references kept."""
    parts: list[str] = [""]
    refs = []
    for i, e in enumerate(exprs):
        parts[-1] += ("(" if i == 0 else ") IS NOT NULL OR (") + e.parts[0]
        parts.extend(e.parts[1:])
        refs.extend(e.refs)
    parts[-1] += ") IS NOT NULL"
    return Expr(tuple(parts), tuple(refs))


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


MERGED = "/"  # in a merged part's way back's id: the master's id, this, the part's name


# -- a merged part (ops/merge_part.py): v2's master row holds the part's columns; going back, a v1 part row where one
# of them is not NULL (the reverse of the merge is the extraction above)


def merged_parts(model: Model, master: Target) -> list[tuple[Join, Table]]:
    """The v1 parts merged into ``master``'s rows: each LEFT JOIN of a child by the master's whole key, and its table."""
    driving = master.source.driving
    out = []
    for j in master.source.joins:
        name = j.table.name
        if not j.of_child or j.table.schema != driving.schema or classify_table(name)[2] != driving.name:
            continue
        out.append((j, model.v1_table(j.table)))
    return out


def merged_columns(master: Target, join: Join) -> dict[str, str]:
    """The part's v1 column -> the master's v2 column holding it (a plain copy of the joined row's column)."""
    return {c.expr.refs[0].name: c.name for c in master.columns if c.expr.is_column and c.expr.refs[0].alias == join.alias}


def merge_reasons(model: Model, master: Target) -> list[str]:
    """What stops a merged part's v1 rows from coming back from the master's v2 rows; [] when the master merges none.
    (The master's other joins are the operation's own reason: directions.)"""
    reasons = []
    key = model.v1_table(master.source.driving).primary_key
    for join, part in merged_parts(model, master):
        held = merged_columns(master, join)
        lost = [a.name for a in part.attributes if a.name not in part.primary_key and a.name not in held]
        if lost or any(j.alias.startswith(f"{join.alias}_") for j in master.source.joins):
            reasons.append(f"the merged part {part.schema}.{part.name}'s {', '.join(lost) or 'own joins'} are not "
                           "plain columns of v2: a v2 write cannot give them back")
        elif all(a.nullable for a in part.attributes if a.name not in part.primary_key):
            reasons.append(f"every column of the merged part {part.schema}.{part.name} allows NULL: a part row of "
                           "NULLs and no part row are the same v2 row")
        elif tuple(part.primary_key) != tuple(key):
            reasons.append(f"the merged part {part.schema}.{part.name} is not keyed as its master")
    return reasons


def merged_part_id(master_id: str, part: str) -> str:
    """The id of a merged part's way back: it has no forward target (nor progress row) of its own, so verify checks it
    beside its master's (``merged_of``)."""
    return f"{master_id}{MERGED}{part}"


def merged_of(target_id: str) -> tuple[str, str] | None:
    """(the master's id, the v1 part table's name) of a merged part's way back, else None."""
    master, sep, part = target_id.partition(MERGED)
    return (master, part) if sep else None


def merged_part_targets(model: Model, master: Target, two_way: set[str]) -> list[Target]:
    """The way back of each part merged into ``master`` (two-way): the v1 part table as a target computed from v2's
    master rows, a row where one of the part's columns is not NULL."""
    from djsqlgen.model.reverse import carried_back  # (reverse.py imports this module)

    key_back = carried_back(master)  # v1 master column -> v2 column (the part's key columns are the master's)
    out = []
    for join, part in merged_parts(model, master):
        held = merged_columns(master, join)
        columns = []
        for attr in part.attributes:
            v2_name = key_back[attr.name] if attr.name in part.primary_key else held[attr.name]
            columns.append(TargetColumn(column_decl(attr), Expr.column(DRIVING, v2_name),
                                        plan_key=master.column(v2_name).plan_key))
        keys = tuple(ForeignKeyDecl(fk.name, fk.columns, fk.ref_columns, fk.on_update, fk.on_delete,
                                    parent=f"{fk.ref_schema}.{fk.ref_table}")
                     for fk in part.foreign_keys if f"{fk.ref_schema}.{fk.ref_table}" in two_way | {master.id})
        moved_exprs = [Expr.column(DRIVING, held[a.name]) for a in part.attributes if a.name not in part.primary_key]
        aligned = [key_back.get(k) for k in part.primary_key] == list(master.primary_key)
        out.append(Target(id=merged_part_id(master.id, part.name), schema=part.schema, name=part.name,
                          columns=tuple(columns), primary_key=part.primary_key,
                          source=Source(TableRef(master.schema, master.name), filter=any_not_null(moved_exprs)),
                          key_map=KeyMap(aligned, "structure"), plan_key=master.plan_key, foreign_keys=keys,
                          comment=part.comment, engine=part.engine or "InnoDB", charset=part.charset,
                          collation=part.collation))
    return out
