"""Values as v2 stores them, for comparing v1-side expressions with v2 columns."""

from __future__ import annotations

from djsqlgen.catalog.sqltypes import parse_sql_type
from djsqlgen.model.target import ColumnDecl


def as_stored_key(sql: str, decl: ColumnDecl) -> str:
    """``sql`` in the v2 column's character set and collation, so that ``dst.k = <this>`` compares as v2
    compares its keys (a v1 latin1 key against a utf8mb4 v2 key converts explicitly, never by coercion)."""
    if parse_sql_type(decl.sql_type).family == "string" and decl.charset and decl.collation:
        return f"CONVERT({sql} USING {decl.charset}) COLLATE {decl.collation}"
    return sql
