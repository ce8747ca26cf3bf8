"""The reverse model of two-way sync: every v1 table that syncs both ways as a target computed from v2.

The same types as the forward model, the other way round: the "v1" catalog the engines read is v2 as the plan
declares it, and each target is a v1 table whose driving table is its v2 table. So the trigger engine that writes
v1 → v2 writes v2 → v1 from this model, with no second engine. Only tables ``directions`` found two-way are here;
each is one v2 row per v1 row (renames, retypes, character sets, added and dropped columns, a new primary key).

A primary-key change goes back when v2 keeps every v1 key column, as a key or a plain column: the v1 row is found
by v1's key read from the v2 row (a key map that is not aligned). A child that follows a re-keyed parent's new key
no longer holds the parent's v1 key columns: it reads them from its v2 parent row, by a join on the parent's v2 key.
Where v2's key is not v1's, v1's key must be unique among v2 rows: ``checked``, and the reverse triggers refuse the
v2 write that would make two v2 rows one v1 row (W1).

A lookup (ops/extract_lookup.py) goes back as a join: the v1 columns it took are read from the v2 lookup row the
v2 row refers to (inner, by the reference's columns), so a write of the lookup row reaches every v1 row of its key.
The lookup itself is no target here (it has no v1 table). A split's sides (ops/split_table.py) go back as a union:
each side is a target of the one v1 table that owns the v1 rows its filter passes (``Target.owns``,
model/split_back.py). A merged part's v1 table is a target of the master's v2 table, filtered like an extraction's
part (model/part_back.py). A 2.x external blob (preset dj014-to-dj2) goes back to
0.14's reference computed from its JSON (model/external_back.py). An AUTO_INCREMENT key v2 keeps as its own
(``issued_column``) takes its v2 ids from v1's counter (engines/issued_ids.py). A v1 column v2 dropped takes, in a row
inserted into v2, its v1 default or the plan's ``inverse:`` (ops/inverse.py: an expression over the v2 row, or the
next number for a parent, ``next_number``). Where the dropped column is a v1 key column, v1's row is
found by the v1 columns v2's key copies (``located_by``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.catalog.cascades import cascades, children
from djsqlgen.catalog.heading import Attribute, Catalog, ForeignKey, Schema, Table, classify_table
from djsqlgen.catalog.sqltypes import normalise_type
from djsqlgen.model import external_back
from djsqlgen.model.expr import ColumnRef, Expr
from djsqlgen.model.identity import column_decl
from djsqlgen.model.part_back import master_of, merged_part_targets, part_values
from djsqlgen.model.split_back import owned
from djsqlgen.model.target import (
    DRIVING,
    ColumnDecl,
    ForeignKeyDecl,
    Inverse,
    Join,
    KeyMap,
    Model,
    SchemaMap,
    Source,
    TableRef,
    Target,
    TargetColumn,
)
from djsqlgen.sqltext.quoting import quote_identifier


def _attribute(decl: ColumnDecl, in_key: bool) -> Attribute:
    return Attribute(name=decl.name, sql_type=decl.sql_type, nullable=decl.nullable, default=decl.default,
                     auto_increment=decl.auto_increment, comment=decl.comment, dj_type=None, in_key=in_key,
                     charset=decl.charset, collation=decl.collation)


def _v2_table(model: Model, target: Target) -> Table:
    """``target`` as the catalog would describe it once 60 has added its foreign keys."""
    keys = []
    for fk in target.foreign_keys:
        parent = model.find(fk.parent) if fk.parent else None
        if parent is not None:
            keys.append(ForeignKey(fk.name, fk.columns, parent.schema, parent.name, fk.ref_columns, fk.on_update,
                                   fk.on_delete))
    tier, class_name, master = classify_table(target.name)
    return Table(schema=target.schema, name=target.name, tier=tier, class_name=class_name, master=master,
                 comment=target.comment, estimated_rows=0, engine=target.engine, charset=target.charset,
                 collation=target.collation,
                 attributes=tuple(_attribute(c.decl, c.name in target.primary_key) for c in target.columns),
                 primary_key=target.primary_key, foreign_keys=tuple(keys), indexes=target.indexes)


def v2_catalog(model: Model) -> Catalog:
    """v2 as the plan declares it: what the reverse triggers read."""
    schemas = []
    for spec in model.schemas:
        tables = tuple(_v2_table(model, t) for t in model.targets if t.schema == spec.target)
        v1 = model.v1.schema(spec.source)
        schemas.append(Schema(spec.target, v1.charset, v1.collation, tables))
    return Catalog(model.v1.server, tuple(schemas))


def carried_back(target: Target) -> dict[str, str]:
    """v1 column -> the v2 column that holds its value as a plain copy (renamed or retyped)."""
    return {c.expr.refs[0].name: c.name for c in target.columns
            if c.expr.is_column and c.expr.refs[0].alias == DRIVING}


def _same_type(a: ColumnDecl, b: ColumnDecl) -> bool:
    return (normalise_type(a.sql_type), a.charset, a.collation) == (normalise_type(b.sql_type), b.charset, b.collation)


@dataclass(frozen=True)
class WayBack:
    """How a target's v1 row is read from its v2 row: ``reasons`` say what stops it (empty when it goes back)."""

    columns: dict[str, Expr]  # v1 column -> its value over the v2 row and ``joins`` (v1 columns v2 keeps)
    joins: tuple[Join, ...]  # v2 parents read for the v1 columns a child gave up to follow their new key
    reasons: tuple[str, ...]


def _followed_parent(target: Target, v1_column: str, two_way: set[str]) -> tuple[ForeignKeyDecl, str] | None:
    """(the foreign key, the parent's v1 key column) through which ``v1_column`` of a child reached a parent that
    syncs both ways, when v2 gave it up to follow the parent's new key."""
    for fk in target.foreign_keys:
        if fk.parent in two_way and v1_column in fk.v1_columns and set(fk.ref_columns) and \
                any(c.follows == fk.name for c in target.columns):
            return fk, fk.v1_ref_columns[fk.v1_columns.index(v1_column)]
    return None


def lookups_of(model: Model, target: Target) -> list[tuple[Target, ForeignKeyDecl]]:
    """The lookups extracted from ``target`` (ops/extract_lookup.py), each with the foreign key that refers to it: a
    distinct target made from the same v1 rows, referred to by its whole key."""
    out = []
    for fk in target.foreign_keys:
        parent = model.find(fk.parent) if fk.parent else None
        if parent is not None and parent.source.distinct and parent.source.driving == target.source.driving \
                and not parent.source.joins and parent.source.filter is None \
                and tuple(fk.ref_columns) == tuple(parent.primary_key):
            out.append((parent, fk))
    return out


def _lookup_values(model: Model, target: Target) -> tuple[dict[str, Expr], dict[str, Join]]:
    """The v1 columns a lookup took out of ``target``, read back from its v2 lookup row (joined by the reference,
    inner: v2's foreign key makes every referring row find its lookup row)."""
    columns: dict[str, Expr] = {}
    joins: dict[str, Join] = {}
    for i, (lookup, fk) in enumerate(lookups_of(model, target), 1):
        alias = f"lookup_{i}"
        held = {v1_name: Expr.column(alias, v2_name) for v1_name, v2_name in carried_back(lookup).items()
                if v2_name not in lookup.primary_key}
        if not held:
            # a lookup of its key alone gives v1 nothing the v2 row lacks: no join. Joined, a trigger's locking read
            # of it is an X lock on the row every writer of that key shares (a statement whose triggers also write
            # the lookup prelocks it for writing), and two writers of different rows deadlock on it
            continue
        joins[alias] = Join(alias, lookup.ref, tuple((ref, Expr.column(DRIVING, col))
                                                     for col, ref in zip(fk.columns, fk.ref_columns)), "inner",
                            lookup=True)
        for v1_name, expr in held.items():
            columns.setdefault(v1_name, expr)
    return columns, joins


def issued_column(target: Target) -> tuple[str, str] | None:
    """(the target's AUTO_INCREMENT key column, the driving column it copies) when the other side's counter can
    issue its ids: a copy of an AUTO_INCREMENT key into an AUTO_INCREMENT key, the row read from the written row
    alone (no join, no filter). None when the target has no such column."""
    s = target.source
    if s.joins or s.filter is not None or s.distinct:
        return None
    for c in target.columns:
        if c.decl.auto_increment and c.name in target.primary_key and c.expr.is_column \
                and c.expr.refs[0].alias == DRIVING:
            return c.name, c.expr.refs[0].name
    return None


def way_back(model: Model, target: Target, two_way: set[str]) -> WayBack:
    """How ``target``'s v1 row comes back from its v2 row, or why it cannot (``two_way``: the targets already known to
    sync both ways, parents first)."""
    v1 = model.v1_table(target.source.driving)
    back = carried_back(target)
    columns: dict[str, Expr] = {v1_name: Expr.column(DRIVING, v2_name) for v1_name, v2_name in back.items()}
    # a lookup's columns: from the lookup row the v2 row refers to (the reverse of the extraction is a join)
    from_lookups, joins = _lookup_values(model, target)
    # an extracted part's columns: from the v2 part row of the key (the reverse of the extraction is a LEFT JOIN)
    from_parts, part_joins = part_values(model, target)
    from_lookups = {**from_parts, **from_lookups}
    joins.update(part_joins)
    columns.update(external_back.way_back_values(target))  # a 2.x external blob: 0.14's reference from its JSON
    reasons = []
    for attr in v1.attributes:
        if attr.name in columns:
            continue
        if attr.name in from_lookups:
            columns[attr.name] = from_lookups[attr.name]
            continue
        followed = _followed_parent(target, attr.name, two_way)
        parent = model.target(followed[0].parent) if followed else None
        held = None
        if parent is not None and set(followed[0].ref_columns) == set(parent.primary_key):
            alias = next((a for a, j in joins.items() if j.table == parent.ref), f"parent_{len(joins) + 1}")
            held = _parent_value(model, parent, followed[1], two_way, alias)
        if held is None:
            if attr.name in v1.primary_key and target.inverse(attr.name) is not None:
                if located_by(target) is None:
                    reasons.append(f"v1 key column {attr.name!r} comes from `inverse:`, so v1's row is found by v2's "
                                   "key, and a column of it is not a copy of a v1 column")
                continue
            if attr.name in v1.primary_key and parent is not None and parent.inverse(attr.name) is not None:
                reasons.append(f"v1 key column {attr.name!r} comes from {parent.label}'s `inverse:`: v2 holds no "
                               "copy of it for a child row to name its v1 row by (sync this table one-way)")
            elif attr.name in v1.primary_key:
                reasons.append(f"v1 key column {attr.name!r} is not in v2, so a v2 row cannot name its v1 row (keep "
                               "it as a column of v2, or give it an `inverse:`)")
            elif any(attr.name in fk.v1_columns and any(c.follows == fk.name for c in target.columns)
                     for fk in target.foreign_keys):
                reasons.append(f"v1 column {attr.name!r} gave way to a parent's new key, and that parent does not "
                               "sync back")
            continue
        fk = followed[0]
        # the parent's v2 row, by its whole v2 key: the child's columns of the foreign key that follows it. Inner: a
        # v2 row without its parent has no v1 row (v1's foreign key), and before 60 (no v2 foreign keys, no cascades)
        # a child row whose parent's key moved a moment ago is found at its new key when the move reaches it
        joins[alias] = Join(alias, parent.ref, tuple((ref, Expr.column(DRIVING, col))
                                                     for col, ref in zip(fk.columns, fk.ref_columns)), "inner")
        value, grandparents = held
        for j in grandparents:  # after the parent's join: their ON reads it
            joins.setdefault(j.alias, j)
        columns[attr.name] = value
    stuck = []  # key columns following a parent that does not sync back: one reason for them all
    for k in target.primary_key:
        c = target.column(k)
        plain = c.expr.is_column and c.expr.refs[0].alias == DRIVING
        follows = c.follows and any(fk.name == c.follows and fk.parent in two_way for fk in target.foreign_keys)
        if c.follows and not follows and not plain:
            # (a plain copy of the child's own v1 column, retyped as its parent's key was, goes back as any retyped
            # column does; below a one-way parent, v1's own ON UPDATE CASCADE moves it: cascade_repeats)
            stuck.append(k)
        elif not plain and not follows:
            reasons.append(f"v2 key column {k!r} is computed ({c.expr.render()}): a v2 row cannot give it back")
    if stuck:
        reasons.append(f"v2 key column{'s' if len(stuck) > 1 else ''} {', '.join(map(repr, stuck))} follow"
                       f"{'' if len(stuck) > 1 else 's'} its parent's key, and that parent does not sync back")
    return WayBack(columns, tuple(joins.values()), tuple(reasons))


def _parent_value(model: Model, parent: Target, v1_column: str, two_way: set[str],
                  alias: str) -> tuple[Expr, list[Join]] | None:
    """The parent's v1 column ``v1_column`` over its v2 row joined as ``alias``, and the joins that needs beyond it: a
    column of that row, or, when the parent gave it up to follow its own parent's new key (a grandchild of a re-keyed
    table), read from that parent in turn, through the parent's joins renamed under ``alias``."""
    found = way_back(model, parent, two_way)
    expr = found.columns.get(v1_column)
    if expr is None or found.reasons:
        return None
    ref = expr.refs[0]
    if ref.alias == DRIVING:
        return Expr.column(alias, ref.name), []
    names = {DRIVING: alias, **{j.alias: f"{alias}_{j.alias}" for j in found.joins}}
    # in the parent's order: each ON reads the parent's row or a join before it
    joins = [Join(names[j.alias], j.table, tuple((c, e.substitute({r: Expr.column(names[r.alias], r.name)
                                                                     for r in e.refs})) for c, e in j.on), "inner")
             for j in found.joins]
    return Expr.column(names[ref.alias], ref.name), joins


def located_by(target: Target) -> tuple[str, ...] | None:
    """The v1 columns that find a v2 row's v1 row when v2 dropped a v1 key column (the plan's ``inverse:`` gives it
    to a v2 insert): the v1 columns v2's key columns copy, in v2's key order. None when a v2 key column is no copy.

    v1 is looked up by the mapped key rather than keeping v1's key hidden in v2: v2 stays what 2.x users declared.
    One v1 row per value: the forward key map of such a re-key is ``checked``, so 00 and 70 prove it on v1's rows
    (key_unique), and the forward triggers refuse a v1 write that would give two v1 rows one v2 key (W1)."""
    v1_of = {v2_name: v1_name for v1_name, v2_name in carried_back(target).items()}
    found = tuple(v1_of.get(k) for k in target.primary_key)
    return None if None in found else found  # type: ignore[return-value]


def _reverse_key_map(v1: Table, target: Target, back: dict[str, str]) -> KeyMap:
    """v1's key read from v2's rows: aligned when v2's key is v1's (same columns, order and comparison); one to one by
    structure when every v2 key column is a v1 key column or follows a parent by v1 key columns (so v1's key decides
    the v2 row); else only the data can tell (W1 at the write)."""
    aligned = [back.get(k) for k in v1.primary_key] == list(target.primary_key) and all(
        _same_type(column_decl(v1.attribute(k)), target.column(back[k]).decl) for k in v1.primary_key)
    v1_key_of = {v2_name: v1_name for v1_name, v2_name in back.items()}
    follow_keys = {fk.name for fk in target.foreign_keys if set(fk.v1_columns) <= set(v1.primary_key)}
    covered = all(v1_key_of.get(k) in v1.primary_key or target.column(k).follows in follow_keys
                  for k in target.primary_key)
    if covered:
        return KeyMap(aligned, "structure")
    return KeyMap(False, "checked", f"v1's key ({', '.join(v1.primary_key)}) must name one v2 row of {target.label}")


def reverse_target(model: Model, target: Target, two_way: set[str]) -> Target:
    """The v1 table of ``target`` computed from its v2 table."""
    v1 = model.v1_table(target.source.driving)
    back = carried_back(target)
    found = way_back(model, target, two_way)
    columns = []
    for attr in v1.attributes:
        decl = column_decl(attr)
        expr = found.columns.get(attr.name)
        if expr is not None:
            ref = expr.refs[0]
            holder = target if ref.alias == DRIVING else next(  # the v2 table holding it: this one or a parent
                t for t in model.targets if t.ref == found.joins[[j.alias for j in found.joins].index(ref.alias)].table)
            v2_column = holder.column(ref.name)
            same = _same_type(decl, v2_column.decl)
            columns.append(TargetColumn(decl, expr, ref if same else None, plan_key=v2_column.plan_key))
        elif target.inverse(attr.name) is not None:  # v2 dropped it: a row inserted into v2 takes the plan's inverse
            inverse = target.inverse(attr.name)
            columns.append(TargetColumn(decl, inverse.expr or next_number(v1, inverse, back), insert_only=True,
                                        plan_key=inverse.plan_key))
        else:  # v2 dropped it: a row inserted into v2 takes v1's default, an update keeps v1's value
            columns.append(TargetColumn(decl, Expr.text(attr.default if attr.default is not None else "NULL"),
                                        insert_only=True))
    keys = []
    for fk in v1.foreign_keys:
        parent_id = f"{fk.ref_schema}.{fk.ref_table}"
        if parent_id in two_way:
            keys.append(ForeignKeyDecl(fk.name, fk.columns, fk.ref_columns, fk.on_update, fk.on_delete,
                                       parent=parent_id))
    key, key_map = v1.primary_key, _reverse_key_map(v1, target, back)
    if any(target.inverse(k) is not None for k in v1.primary_key):
        # v1's row is found by the v1 columns v2's key copies (``located_by``): they are this target's key for every
        # trigger and for verify; one to one by structure, since v2's own key holds them
        key, key_map = located_by(target), KeyMap(False, "structure")
    return Target(id=target.id, schema=v1.schema, name=v1.name, columns=tuple(columns), primary_key=key,
                  source=Source(TableRef(target.schema, target.name), joins=found.joins),
                  key_map=key_map, plan_key=target.plan_key, foreign_keys=tuple(keys),
                  comment=v1.comment, engine=v1.engine or "InnoDB", charset=v1.charset, collation=v1.collation,
                  inverses=tuple(i for i in target.inverses if i.next_for), owns=owned(model, target))


def next_number(v1: Table, inverse: Inverse, back: dict[str, str]) -> Expr:
    """One more than the largest ``inverse.column`` among v1's rows with the v2 row's values of ``next_for`` (0 + 1
    for the first). Read in the write itself, after the parent's lock (engines/written_row.py ``numbered_under_lock``):
    a subquery of an INSERT or UPDATE is a locking read under REPEATABLE READ, so it sees the rows other writers
    committed, not the transaction's snapshot. Read through a derived table: MySQL 8 refuses a subquery of the table
    an INSERT or UPDATE writes (error 1093) unless it is materialized first (MySQL manual, "UPDATE Statement");
    MariaDB reads both."""
    v1_of = {v2_name: v1_name for v1_name, v2_name in back.items()}
    q = quote_identifier
    parts = [f"(SELECT `next` FROM (SELECT COALESCE(MAX(`n`.{q(inverse.column)}), 0) + 1 AS `next` "
             f"FROM {q(v1.schema)}.{q(v1.name)} AS `n` WHERE "]
    for i, column in enumerate(inverse.next_for):
        parts[-1] += f"{' AND ' if i else ''}`n`.{q(v1_of[column])} = "
        parts.append("")
    parts[-1] += ") AS `numbered`)"
    return Expr(tuple(parts), tuple(ColumnRef(DRIVING, c) for c in inverse.next_for))


def cascade_repeats(model: Model) -> dict[tuple[TableRef, TableRef, tuple[tuple[str, str], ...]], bool]:
    """Every path of v2's ON UPDATE CASCADE (written v2 table, descendant, the descendant's columns -> the written
    table's), and whether v1's own ON UPDATE CASCADE repeats it: from the written table's v1 table to the
    descendant's, moving the v1 columns v2's copy exactly (the written table's key columns kept as plain copies, and
    the descendant's). Where it does, a v1 row moved by the reverse triggers takes its v1 descendants along itself,
    parents first, even through a table that syncs one way (model.repeated_cascades)."""
    if "cascade_repeats" in model.memo:
        return model.memo["cascade_repeats"]
    v2 = v2_catalog(model)
    v2_children = children([t for s in v2.schemas for t in s.tables])
    v1_children = children([t for s in model.v1.schemas for t in s.tables])
    by_ref = {t.ref: t for t in model.targets}
    out = {}
    for written in model.ordered():
        w_back = {v2_name: v1_name for v1_name, v2_name in carried_back(written).items()}
        v1_moves: dict[TableRef, set[frozenset]] = {}
        for d1, columns in cascades(v1_children, model.v1_table(written.source.driving), "on_update"):
            v1_moves.setdefault(TableRef(d1.schema, d1.name), set()).add(frozenset(columns))
        for d2, columns in cascades(v2_children, v2.table(written.schema, written.name), "on_update"):
            descendant = by_ref.get(TableRef(d2.schema, d2.name))
            if descendant is None:
                continue
            d_back = {v2_name: v1_name for v1_name, v2_name in carried_back(descendant).items()}
            mapped = frozenset((d_back.get(c), w_back.get(r)) for c, r in columns)
            repeated = all(None not in pair for pair in mapped) and \
                mapped in v1_moves.get(descendant.source.driving, ())
            out[(written.ref, descendant.ref, columns)] = repeated
    model.memo["cascade_repeats"] = out
    return out


def reverse_model(model: Model, two_way: set[str]) -> Model:
    """The v1 tables of the ``two_way`` targets, computed from v2."""
    targets: list[Target] = []
    for t in model.ordered():
        if t.id not in two_way or master_of(model, t) is not None:
            continue  # (an extracted part has no v1 table: it goes back in its master's rows)
        back = reverse_target(model, t, two_way)
        # a merged part's v1 rows, from the master's v2 rows (keyed as the master)
        targets += [back] + [replace(p, key_map=back.key_map) for p in merged_part_targets(model, t, two_way)]
    schemas = tuple(SchemaMap(source=s.target, target=s.source) for s in model.schemas)
    repeated = frozenset(path for path, repeated in cascade_repeats(model).items() if repeated)
    return Model(v1=v2_catalog(model), schemas=schemas, targets=tuple(targets), repeated_cascades=repeated)


def forward_two_way(model: Model, two_way: set[str]) -> Model:
    """The forward model with the v2 columns v1 does not have marked insert-only on two-way targets: a write
    carried from v1 must not reset what a v2 client wrote there."""
    for target_id in sorted(two_way):
        target = model.target(target_id)
        blobs = external_back.blob_columns(target)  # a 2.x external blob is v1's column, as JSON: carried both ways
        columns = tuple(c if c.expr.is_column or c.name in blobs else replace(c, insert_only=True)
                        for c in target.columns)
        model = model.replace_target(replace(target, columns=columns))
    return model
