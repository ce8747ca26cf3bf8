"""Expand: the v2 schemas and tables (keys and indexes; foreign keys and unique indexes come in 60)."""

from __future__ import annotations

from djsqlgen.catalog.heading import Index
from djsqlgen.engines.context import Context
from djsqlgen.model.target import Target
from djsqlgen.sqltext.quoting import quote_qualified
from djsqlgen.sqltext.render import render
from djsqlgen.sqltext.statements import Owned, Statement


def _key_indexes(target: Target) -> tuple[Index, ...]:
    """Secondary indexes, minus any that only repeat a prefix of the new primary key (a key change can
    make DataJoint's foreign-key index redundant; MySQL would keep both)."""
    return tuple(i for i in target.indexes if i.columns and i.columns != target.primary_key[: len(i.columns)])


def create_table(ctx: Context, target: Target) -> Statement:
    from dataclasses import replace

    sql = render("table_create.sql.j2", t=replace(target, indexes=_key_indexes(target)))
    return Statement(f"table_create.{target.label}", sql,
                     f"v2 table made from {target.source.driving.label}: columns, primary key, indexes; "
                     "foreign keys come in 60", creates=Owned("table", target.schema, target.name))


def create_schema(ctx: Context, schema: str, charset: str, collation: str, source: str) -> Statement:
    return Statement(f"schema_create.{schema}",
                     f"CREATE DATABASE IF NOT EXISTS {quote_qualified((schema,))} DEFAULT CHARACTER SET {charset} "
                     f"COLLATE {collation}", f"v2 of {source}, with its character set",
                     creates=Owned("schema", schema, schema))
