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


def stored_key(column, sql: str | None = None) -> str:
    """A key column's source expression as v2 compares it: the bare expression for a plain copy (its type
    and collation are v1's own, and an index on it stays usable), else converted (``as_stored_key``)."""
    text = sql if sql is not None else column.expr.render()
    return text if column.copied_from is not None else as_stored_key(text, column.decl)
