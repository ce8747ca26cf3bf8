"""The identity model of a plan's schemas: every v1 table copied as it is, before any operation."""

from __future__ import annotations

from djsqlgen.catalog.heading import Attribute, Catalog, Table
from djsqlgen.model.expr import ColumnRef, Expr, ExprError, parse
from djsqlgen.model.target import (
    DRIVING,
    ColumnDecl,
    ForeignKeyDecl,
    KeyMap,
    Model,
    SchemaMap,
    Source,
    TableRef,
    Target,
    TargetColumn,
)


def target_id(table: TableRef | Table) -> str:
    """A target's stable id: the v1 table it starts from, ``schema.table``."""
    return f"{table.schema}.{table.name}"


def column_decl(attr: Attribute) -> ColumnDecl:
    return ColumnDecl(
        name=attr.name, sql_type=attr.sql_type, nullable=attr.nullable, default=attr.default,
        auto_increment=attr.auto_increment, comment=attr.full_comment, charset=attr.charset,
        collation=attr.collation,
    )


def copied_column(attr: Attribute, alias: str = DRIVING) -> TargetColumn:
    """A v2 column that copies v1 column ``attr`` of ``alias`` unchanged."""
    return TargetColumn(column_decl(attr), Expr.column(alias, attr.name), ColumnRef(alias, attr.name))


def identity_target(table: Table, target_schema: str, in_plan: set[tuple[str, str]], plan_key: str) -> Target:
    foreign_keys = []
    for fk in table.foreign_keys:
        inside = (fk.ref_schema, fk.ref_table) in in_plan
        foreign_keys.append(ForeignKeyDecl(
            name=fk.name, columns=fk.columns, ref_columns=fk.ref_columns, on_update=fk.on_update,
            on_delete=fk.on_delete,
            parent=f"{fk.ref_schema}.{fk.ref_table}" if inside else None,
            outside=None if inside else TableRef(fk.ref_schema, fk.ref_table),
            v1_columns=fk.columns, v1_ref_columns=fk.ref_columns,
        ))
    return Target(
        id=target_id(table),
        schema=target_schema,
        name=table.name,
        columns=tuple(copied_column(a) for a in table.attributes),
        primary_key=table.primary_key,
        source=Source(TableRef.of(table)),
        key_map=KeyMap(aligned=True, proof="structure"),
        plan_key=plan_key,
        indexes=tuple(i for i in table.indexes if not i.unique),
        unique_indexes=tuple(i for i in table.indexes if i.unique),
        checks=tuple((c.name, c.clause) for c in table.checks),
        foreign_keys=tuple(foreign_keys),
        comment=table.comment,
        engine=table.engine or "InnoDB",
        charset=table.charset,
        collation=table.collation,
    )


def identity_model(catalog: Catalog, schemas: list[SchemaMap]) -> Model:
    """Every table of every source schema as its own target, in the target schema, unchanged."""
    in_plan = {(t.schema, t.name) for s in schemas for t in catalog.schema(s.source).tables}
    targets = tuple(
        identity_target(table, s.target, in_plan, f"schemas.{s.source}.tables.{table.name}")
        for s in schemas for table in catalog.schema(s.source).tables
    )
    return Model(v1=catalog, schemas=tuple(schemas), targets=targets)


def resolver(model: Model, target: Target):
    """``resolve(qualifier, name)`` for user expressions of ``target``: names are v1 columns of its source.

    An unqualified name is looked up in the driving table, then in the joined tables (it must be
    unique there); a qualifier is an alias (``src``, a join's alias) or a v1 table name of the source.
    """
    aliases = {DRIVING: target.source.driving, **{j.alias: j.table for j in target.source.joins}}
    columns = {alias: model.v1_table(ref).attribute_names for alias, ref in aliases.items()}

    def resolve(qualifier: str | None, name: str) -> ColumnRef:
        if qualifier is None:
            if name in columns[DRIVING]:
                return ColumnRef(DRIVING, name)
            found = [alias for alias, names in columns.items() if name in names]
            if len(found) == 1:
                return ColumnRef(found[0], name)
            if found:
                raise ExprError(f"{name!r} is a column of {', '.join(found)}; qualify it as alias.{name}")
            raise ExprError(f"{target.source.driving.label} has no column {name!r}; its columns are "
                            f"{', '.join(columns[DRIVING])}")
        alias = qualifier if qualifier in aliases else next(
            (a for a, ref in aliases.items() if ref.name == qualifier), None)
        if alias is None:
            raise ExprError(f"{qualifier!r} is not a table of this source; use one of {', '.join(aliases)}")
        if name not in columns[alias]:
            raise ExprError(f"{aliases[alias].label} has no column {name!r}")
        return ColumnRef(alias, name)

    return resolve


def parse_in(model: Model, target: Target, text: str) -> Expr:
    """A user expression of ``target``, its columns resolved in the target's source (raises ExprError, also for an
    expression that can fail on some row: ``model.hazards``)."""
    resolve = resolver(model, target)

    def type_of(qualifier: str | None, name: str) -> str | None:
        try:
            ref = resolve(qualifier, name)
        except ExprError:
            return None
        table = model.v1_table(target.source.table_of(ref.alias))
        return table.attribute(ref.name).sql_type

    return parse(text, resolve, type_of)
