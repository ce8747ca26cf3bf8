"""How one v1 table becomes one v2 table: target columns, each with the SQL that computes it from v1.

Every phase reads the same mapping: the CREATE TABLE, the backfill's SELECT list, the triggers'
upsert and both sides of the checksum, so transform(v1) is written once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from djsqlgen.catalog.heading import Attribute, Catalog, ForeignKey, Index, Table
from djsqlgen.catalog.sqltypes import lossy_reason, normalise_type, parse_sql_type
from djsqlgen.output.naming import MAX_IDENTIFIER
from djsqlgen.output.quoting import quote_identifier
from djsqlgen.plan import DROP, AddedColumn, ColumnChange, Plan, SchemaSpec, TableSpec


@dataclass(frozen=True)
class TargetColumn:
    """One v2 column and how to compute it from the v1 row (``source_sql``, over unqualified v1 names)."""

    name: str
    sql_type: str
    nullable: bool
    default: str | None
    auto_increment: bool
    comment: str  # the whole column comment, DataJoint marker included
    charset: str | None
    collation: str | None
    in_key: bool
    source_sql: str
    source_column: str | None  # the v1 column when the value is copied as is (keep or rename)
    changed_type: bool  # whether the value passes through a conversion (retype, expr or added)

    def verify_sql(self, value_sql: str) -> str:
        """``value_sql`` as the checksum compares it: cast to the v2 type when the value was converted,
        so both sides are compared in the form v2 stores."""
        if not self.changed_type:
            return value_sql
        return f"CAST({value_sql} AS {verify_cast_type(self.sql_type)})"


def verify_cast_type(sql_type: str) -> str:
    """The CAST target that reproduces what storing into ``sql_type`` does to a value."""
    t = parse_sql_type(sql_type)
    if t.family == "int":
        return "UNSIGNED" if t.unsigned else "SIGNED"
    if t.family == "decimal":
        precision, scale = (t.params + (10, 0))[:2]
        return f"DECIMAL({precision},{scale})"
    if t.family == "float":
        return "FLOAT" if t.base == "float" else "DOUBLE"
    if t.base in ("date",):
        return "DATE"
    if t.base in ("datetime", "timestamp"):
        return f"DATETIME({t.params[0]})" if t.params else "DATETIME"
    if t.base == "time":
        return f"TIME({t.params[0]})" if t.params else "TIME"
    if t.family == "binary":
        return "BINARY"
    return "CHAR"


@dataclass(frozen=True)
class TableMapping:
    """A kept v1 table and its v2 counterpart."""

    source: Table
    target_schema: str
    target_name: str
    columns: tuple[TargetColumn, ...]
    indexes: tuple[Index, ...]  # secondary, non-unique: created with the table
    unique_indexes: tuple[Index, ...]  # added in 60_constraints
    checks: tuple[tuple[str, str], ...]  # (name, clause) in v2 names

    @property
    def source_id(self) -> tuple[str, str]:
        return (self.source.schema, self.source.name)

    @property
    def key_columns(self) -> tuple[TargetColumn, ...]:
        by_source = {c.source_column: c for c in self.columns if c.in_key}
        return tuple(by_source[k] for k in self.source.primary_key)

    def target_for_source_column(self, source_column: str) -> TargetColumn | None:
        return next((c for c in self.columns if c.source_column == source_column), None)


def _check_identifier(name: str, key: str, problems: list[str]) -> None:
    if len(name) > MAX_IDENTIFIER:
        problems.append(f"{key}: {name!r} is {len(name)} characters; MySQL allows {MAX_IDENTIFIER}; choose a shorter name")
    if not name or name != name.strip():
        problems.append(f"{key}: {name!r} is not a usable name")


def build_mapping(
    plan: Plan, schema_spec: SchemaSpec, table: Table, spec: TableSpec, catalog: Catalog, problems: list[str]
) -> TableMapping:
    """The mapping of ``table`` under ``spec``; appends every problem found to ``problems``."""
    key = f"schemas.{schema_spec.source}.tables.{table.name}"
    target_name = spec.rename or table.name
    _check_identifier(target_name, f"{key}.rename", problems)
    columns: list[TargetColumn] = []
    renamed: dict[str, str] = {}

    unknown = sorted(set(spec.columns) - set(table.attribute_names))
    for name in unknown:
        problems.append(
            f"{key}.columns.{name}: {table.full_name} has no column {name!r}; "
            f"its columns are {', '.join(table.attribute_names)}"
        )
    for attr in table.attributes:
        column_key = f"{key}.columns.{attr.name}"
        change = spec.columns.get(attr.name)
        if change is None:
            problems.append(f"{column_key}: column missing from the plan; add `{attr.name}: keep` (or drop)")
            change = "keep"
        if change == DROP:
            if attr.in_key:
                problems.append(
                    f"{column_key}: {attr.name!r} is in the primary key; dropping a key column is a key change, "
                    "which this operation does not do; keep it"
                )
            renamed[attr.name] = ""
            continue
        columns.append(_kept_column(attr, change if isinstance(change, ColumnChange) else None, column_key, problems))
        renamed[attr.name] = columns[-1].name

    for name, added in spec.add.items():
        column_key = f"{key}.add.{name}"
        if name in renamed.values():
            problems.append(f"{column_key}: v2 already has a column {name!r} (from v1); choose another name")
        columns.append(_added_column(name, added, column_key, problems))

    names = [c.name for c in columns]
    clashing_adds = {n for n in spec.add if n in renamed.values()}
    for name in sorted({n for n in names if names.count(n) > 1} - clashing_adds):
        problems.append(f"{key}: two v2 columns are named {name!r}; rename one of them")
    for name in names:
        _check_identifier(name, f"{key}.columns", problems)

    def remap_index(index: Index) -> Index | None:
        if any(not renamed.get(c) for c in index.columns):
            dropped = [c for c in index.columns if not renamed.get(c)]
            problems.append(
                f"{key}.columns.{dropped[0]}: index {index.name!r} uses it; keep the column "
                "(removing an index is not part of this operation)"
            )
            return None
        return Index(index.name, tuple(renamed[c] for c in index.columns), index.unique)

    indexes = [remap_index(i) for i in table.indexes]
    checks = tuple((renamed.get(name, name) or name, _rename_in_clause(clause, renamed)) for name, clause in
                   ((c.name, c.clause) for c in table.checks) if renamed.get(name, name))
    return TableMapping(
        source=table,
        target_schema=schema_spec.target,
        target_name=target_name,
        columns=tuple(columns),
        indexes=tuple(i for i in indexes if i and not i.unique),
        unique_indexes=tuple(i for i in indexes if i and i.unique),
        checks=checks,
    )


def _rename_in_clause(clause: str, renamed: dict[str, str]) -> str:
    """A CHECK clause with backticked v1 column names replaced by their v2 names."""
    return re.sub(r"`((?:[^`]|``)+)`", lambda m: quote_identifier(renamed.get(m.group(1), m.group(1)) or m.group(1)), clause)


def _kept_column(attr: Attribute, change: ColumnChange | None, key: str, problems: list[str]) -> TargetColumn:
    quoted = quote_identifier(attr.name)
    if change is None:
        return TargetColumn(
            name=attr.name, sql_type=attr.sql_type, nullable=attr.nullable, default=attr.default,
            auto_increment=attr.auto_increment, comment=attr.full_comment, charset=attr.charset,
            collation=attr.collation, in_key=attr.in_key, source_sql=quoted, source_column=attr.name,
            changed_type=False,
        )
    new_type = change.type or attr.sql_type
    type_changed = change.type is not None and normalise_type(change.type) != normalise_type(attr.sql_type)
    if attr.in_key and change.expr:
        problems.append(
            f"{key}.expr: {attr.name!r} is in the primary key; computing a key column is a key change, "
            "which this operation does not do; remove expr (a plain retype is allowed)"
        )
    if type_changed and not change.expr and not change.allow_lossy:
        reason = lossy_reason(attr.sql_type, new_type)
        if reason:
            problems.append(f"{key}.type: {reason}; widen the type, or set allow_lossy: true to accept it")
    nullable = attr.nullable if change.nullable is None else change.nullable
    if attr.nullable and not nullable and not change.expr:
        problems.append(
            f"{key}.nullable: v1 allows NULL here but v2 would not; give an expr such as "
            f"COALESCE({quoted}, <value>), or keep nullable"
        )
    default = attr.default if change.default is None else change.default
    if not nullable and default == "NULL":
        default = None
    return TargetColumn(
        name=change.rename or attr.name,
        sql_type=new_type,
        nullable=nullable,
        default=default if not type_changed or change.default is not None else (
            "NULL" if nullable else None),
        auto_increment=attr.auto_increment and not type_changed,
        comment=attr.full_comment if change.comment is None else change.comment,
        charset=attr.charset if not type_changed else None,
        collation=attr.collation if not type_changed else None,
        in_key=attr.in_key,
        source_sql=f"({change.expr})" if change.expr else quoted,
        source_column=attr.name if not change.expr else None,
        changed_type=type_changed or bool(change.expr),
    )


def _added_column(name: str, added: AddedColumn, key: str, problems: list[str]) -> TargetColumn:
    if added.expr is None and added.default is None and not added.nullable:
        problems.append(
            f"{key}: a NOT NULL column needs a value for the rows of v1; give `default` or `expr`, "
            "or set nullable: true"
        )
    if added.expr is not None:
        source_sql = f"({added.expr})"
    elif added.default is not None:
        source_sql = added.default
    else:
        source_sql = "NULL"
    return TargetColumn(
        name=name, sql_type=added.type, nullable=added.nullable,
        default=added.default if added.default is not None else ("NULL" if added.nullable else None),
        auto_increment=False, comment=added.comment, charset=None, collation=None, in_key=False,
        source_sql=source_sql, source_column=None, changed_type=True,
    )


def remap_foreign_key(
    fk: ForeignKey, child: TableMapping, parents: dict[tuple[str, str], TableMapping], key: str, problems: list[str]
) -> ForeignKey | None:
    """The v2 form of a v1 foreign key: columns renamed, parent replaced by its v2 counterpart.

    A parent outside the plan stays where it is (a v2 table may refer to an unchanged schema).
    """
    columns = []
    for column in fk.columns:
        target = child.target_for_source_column(column)
        if target is None:
            problems.append(
                f"{key}.columns.{column}: foreign key {fk.name!r} to `{fk.ref_schema}`.`{fk.ref_table}` uses it; "
                "keep the column as is (computed or dropped key references are a later operation)"
            )
            return None
        columns.append(target.name)
    parent = parents.get((fk.ref_schema, fk.ref_table))
    if parent is None:
        return ForeignKey(fk.name, tuple(columns), fk.ref_schema, fk.ref_table, fk.ref_columns, fk.on_update, fk.on_delete)
    ref_columns = []
    for column in fk.ref_columns:
        target = parent.target_for_source_column(column)
        if target is None:
            return None  # reported on the parent's own column
        ref_columns.append(target.name)
    return ForeignKey(
        fk.name, tuple(columns), parent.target_schema, parent.target_name, tuple(ref_columns), fk.on_update, fk.on_delete
    )
