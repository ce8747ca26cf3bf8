"""Children follow their parents' new keys: the inherited attributes of a foreign key take the parent's key.

When a parent's key changes (a new key attribute, one dropped, reordered or retyped), each child's
columns of the foreign key to it become the parent's new key columns, computed from the child's v1
row: directly where the parent's key expression reads only the referenced v1 key columns, else
through a join to the parent's v1 table by the child's v1 foreign key (a key computed from the
parent's other attributes, such as a session re-keyed by its start time). The child's own primary
key changes the same way when the foreign key is part of it. Targets are visited parents first, so
grandchildren follow the children's new keys.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.catalog.sqltypes import normalise_type
from djsqlgen.model.expr import ColumnRef, Expr
from djsqlgen.model.target import DRIVING, ForeignKeyDecl, Join, Model, Target, TargetColumn
from djsqlgen.ops.base import Operation
from djsqlgen.ops.key_map import derive_key_map


def _reads_only(expr: Expr, alias: str, names) -> str | None:
    """The one column of ``alias`` (among ``names``) that ``expr`` reads when that is all it reads."""
    columns = {(r.alias, r.name) for r in expr.refs}
    if len(columns) == 1:
        (a, n), = columns
        if a == alias and n in names:
            return n
    return None


def _column_for(target: Target, v1_column: str) -> TargetColumn | None:
    """The target column that carries the driving table's ``v1_column`` (a copy, or a conversion of it)."""
    return next((c for c in target.columns if _reads_only(c.expr, DRIVING, {v1_column}) and
                 (c.expr.is_column or c.follows)), None)


@dataclass(frozen=True)
class _Follow:
    target: Target
    problems: tuple[str, ...]


def follow_parents(model: Model, target: Target, plan_key: str) -> _Follow:
    problems: list[str] = []
    columns = list(target.columns)
    joins = list(target.source.joins)
    foreign_keys: list[ForeignKeyDecl] = []
    primary_key = list(target.primary_key)
    changed = False

    def index_of(name: str) -> int:
        return next(i for i, c in enumerate(columns) if c.name == name)

    for fk in target.foreign_keys:
        parent = model.find(fk.parent) if fk.parent else None
        if parent is None or not fk.v1_columns:
            foreign_keys.append(fk)
            continue
        pairs = dict(zip(fk.v1_ref_columns, fk.v1_columns))  # parent v1 key column -> child v1 column
        parent_v1_key = model.v1_table(parent.source.driving).primary_key
        join_alias: str | None = None
        new_names: list[str] = []
        claimed: set[str] = set()

        def through_join(ref: ColumnRef, parent=parent, pairs=pairs, parent_v1_key=parent_v1_key) -> Expr:
            """A reference of the parent's source, read from this child's row or from a join."""
            nonlocal join_alias
            if ref.alias == DRIVING and ref.name in pairs:
                return Expr.column(DRIVING, pairs[ref.name])
            if join_alias is None:
                join_alias = f"parent_{len(joins) + 1}"
                joins.append(Join(join_alias, parent.source.driving,
                                  tuple((k, Expr.column(DRIVING, pairs[k])) for k in parent_v1_key)))
            if ref.alias == DRIVING:
                return Expr.column(join_alias, ref.name)
            # the parent reads a table of its own source: join it here too, under a new alias
            carried = f"{join_alias}_{ref.alias}"
            if not any(j.alias == carried for j in joins):
                original = next(j for j in parent.source.joins if j.alias == ref.alias)
                joins.append(Join(carried, original.table, tuple(
                    (col, e.substitute({r: through_join(r) for r in e.refs})) for col, e in original.on), "left"))
            return Expr.column(carried, ref.name)

        for key_column in parent.key_columns:
            expr = key_column.expr.substitute({r: through_join(r) for r in key_column.expr.refs})
            same = _reads_only(key_column.expr, DRIVING, pairs)
            existing = _column_for(target, pairs[same]) if same else None
            if existing is not None:
                name = existing.name
                decl = replace(existing.decl, sql_type=key_column.decl.sql_type, charset=key_column.decl.charset,
                               collation=key_column.decl.collation)
                # a plain copy only while it is stored as v1 stores it: a new type or character set converts it
                # (verify must then compare the value as v2 stores it, not v1's bytes)
                stored_alike = (normalise_type(decl.sql_type), decl.charset, decl.collation) == (
                    normalise_type(existing.decl.sql_type), existing.decl.charset, existing.decl.collation)
                new = replace(existing, decl=decl, expr=expr,
                              copied_from=existing.copied_from if expr.is_column and stored_alike else None,
                              follows=None if expr.is_column and decl == existing.decl else fk.name)
                if new != existing:
                    changed = True
                    columns[index_of(name)] = new
            else:
                name = key_column.name
                if fk.v1_columns != fk.v1_ref_columns:
                    problems.append(f"{plan_key}: foreign key {fk.name!r} renames {parent.label}'s key columns; "
                                    f"its new key column {name!r} has no name here yet: this plan cannot re-key "
                                    "a parent referenced under other names")
                    continue
                if any(c.name == name and c.follows != fk.name for c in columns):
                    problems.append(f"{plan_key}: takes {name!r} from {parent.label}'s new key through foreign key "
                                    f"{fk.name!r}, but already has a column {name!r}; rename it")
                    continue
                nullable = any(model.v1_table(target.source.driving).attribute(c).nullable for c in fk.v1_columns)
                decl = replace(key_column.decl, nullable=nullable, default="NULL" if nullable else None,
                               auto_increment=False)
                columns.append(TargetColumn(decl, expr, None, follows=fk.name))
                changed = True
            new_names.append(name)
            claimed.add(name)

        # Columns of this foreign key that no longer reach the parent's key go, unless another key uses them.
        for v1_column in fk.v1_columns:
            column = _column_for(target, v1_column)
            if column is None or column.name in claimed:
                continue
            if any(v1_column in other.v1_columns for other in target.foreign_keys if other.name != fk.name):
                continue
            columns = [c for c in columns if c.name != column.name]
            changed = True
        old_names = fk.columns
        if tuple(new_names) != tuple(old_names) or fk.ref_columns != parent.primary_key:
            changed = True
            # The inherited attributes stand together, in the parent's key order, where the foreign key's
            # first column stood (DataJoint declares them so).
            at = next((i for i, c in enumerate(columns) if c.name in old_names or c.name in new_names), len(columns))
            moving = {c.name: c for c in columns if c.name in new_names}
            kept = [c for c in columns if c.name not in moving]
            at = sum(1 for c in columns[:at] if c.name not in moving)
            columns = kept[:at] + [moving[n] for n in new_names if n in moving] + kept[at:]
        # The key moves only when this foreign key's attributes change: one that keeps them (a retype) leaves the
        # key in v1's order, which is DataJoint's declaration order; re-placing the attributes it shares with
        # another foreign key would put them after that key's own (`... trial_id, block_id`).
        if tuple(new_names) != tuple(old_names) and any(n in primary_key for n in old_names):
            first = min((primary_key.index(n) for n in old_names if n in primary_key), default=len(primary_key))
            rest = [k for k in primary_key if k not in old_names and k not in new_names]
            primary_key = rest[:first] + new_names + rest[first:] if first <= len(rest) else rest + new_names
        foreign_keys.append(replace(fk, columns=tuple(new_names), ref_columns=parent.primary_key))

    if not changed:
        return _Follow(target, tuple(problems))
    followed = replace(target, columns=tuple(columns), primary_key=tuple(primary_key),
                       foreign_keys=tuple(foreign_keys), source=replace(target.source, joins=tuple(joins)))
    if followed.primary_key != target.primary_key or any(c.follows and c.name in followed.primary_key
                                                         for c in followed.columns):
        followed = replace(followed, key_map=derive_key_map(model, followed, "follows a parent's new key"))
    return _Follow(followed, tuple(problems))


@dataclass(frozen=True)
class FollowParents(Operation):
    target_id: str

    def validate(self, model: Model) -> list[str]:
        return list(follow_parents(model, model.target(self.target_id), self.plan_key).problems)

    def apply(self, model: Model) -> Model:
        return model.replace_target(follow_parents(model, model.target(self.target_id), self.plan_key).target)

    @property
    def irreversible(self) -> str:
        return ""
