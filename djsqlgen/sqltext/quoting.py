"""The only quoting rules: identifiers in backticks, literals in single quotes."""

from __future__ import annotations


def quote_identifier(name: str) -> str:
    """`name` with embedded backticks doubled (the one identifier quoting rule of MySQL)."""
    return "`" + name.replace("`", "``") + "`"


def quote_literal(value: object) -> str:
    """An SQL literal: NULL, a number as is, text in single quotes with quotes and backslashes doubled."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "''")
    return f"'{text}'"


def quote_qualified(parts: tuple[str, ...] | list[str]) -> str:
    """`schema`.`table` (or any dotted path) from its parts."""
    return ".".join(quote_identifier(p) for p in parts)
