"""The reverse model of two-way sync: every v1 table that syncs both ways as a target computed from v2.

The same types as the forward model, the other way round: the "v1" catalog the engines read is v2 as the plan
declares it, and each target is a v1 table whose driving table is its v2 table. So the trigger engine that writes
v1 → v2 writes v2 → v1 from this model, with no second engine. Only tables ``directions`` found two-way are here;
each is one v2 row per v1 row under the same key (renames, retypes, character sets, added and dropped columns).
"""

from __future__ import annotations

from dataclasses import replace

from djsqlgen.catalog.heading import Attribute, Catalog, ForeignKey, Schema, Table, classify_table
from djsqlgen.catalog.sqltypes import normalise_type
from djsqlgen.model.expr import ColumnRef, Expr
from djsqlgen.model.identity import column_decl
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


def reverse_target(model: Model, target: Target, two_way: set[str]) -> Target:
    """The v1 table of ``target`` computed from its v2 table."""
    v1 = model.v1_table(target.source.driving)
    back = carried_back(target)
    columns = []
    for attr in v1.attributes:
        decl = column_decl(attr)
        if attr.name in back:
            v2_column = target.column(back[attr.name])
            same = _same_type(decl, v2_column.decl)
            columns.append(TargetColumn(decl, Expr.column(DRIVING, v2_column.name),
                                        ColumnRef(DRIVING, v2_column.name) if same else None,
                                        plan_key=v2_column.plan_key))
        else:  # v2 dropped it: a row inserted into v2 takes v1's default, an update keeps v1's value
            columns.append(TargetColumn(decl, Expr.text(attr.default if attr.default is not None else "NULL"),
                                        insert_only=True))
    keys = []
    for fk in v1.foreign_keys:
        parent_id = f"{fk.ref_schema}.{fk.ref_table}"
        if parent_id in two_way:
            keys.append(ForeignKeyDecl(fk.name, fk.columns, fk.ref_columns, fk.on_update, fk.on_delete,
                                       parent=parent_id))
    aligned = all(_same_type(column_decl(v1.attribute(k)), target.column(back[k]).decl) for k in v1.primary_key)
    return Target(id=target.id, schema=v1.schema, name=v1.name, columns=tuple(columns), primary_key=v1.primary_key,
                  source=Source(TableRef(target.schema, target.name)), key_map=KeyMap(aligned, "structure"),
                  plan_key=target.plan_key, foreign_keys=tuple(keys), comment=v1.comment, engine=v1.engine or "InnoDB",
                  charset=v1.charset, collation=v1.collation)


def reverse_model(model: Model, two_way: set[str]) -> Model:
    """The v1 tables of the ``two_way`` targets, computed from v2."""
    targets = tuple(reverse_target(model, t, two_way) for t in model.ordered() if t.id in two_way)
    schemas = tuple(SchemaMap(source=s.target, target=s.source) for s in model.schemas)
    return Model(v1=v2_catalog(model), schemas=schemas, targets=targets)


def forward_two_way(model: Model, two_way: set[str]) -> Model:
    """The forward model with the v2 columns v1 does not have marked insert-only on two-way targets: a write
    carried from v1 must not reset what a v2 client wrote there."""
    for target_id in sorted(two_way):
        target = model.target(target_id)
        columns = tuple(c if c.expr.is_column else replace(c, insert_only=True) for c in target.columns)
        model = model.replace_target(replace(target, columns=columns))
    return model
