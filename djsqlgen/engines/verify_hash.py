"""Row checksums for verify (provisional form; see djsqlgen.engines.rowhash when present).

Each value is hashed on its own as v2 stores it (text in v2's character set, FLOAT at full precision),
prefixed with its length, NULL marked apart from any value; the row hash is the MD5 of those pieces,
and rows combine by summing the hash's two 64-bit halves (pairs do not cancel, order does not matter).
"""

from __future__ import annotations

from dataclasses import dataclass

from djsqlgen.catalog.sqltypes import parse_sql_type
from djsqlgen.model.target import ColumnDecl


@dataclass(frozen=True)
class HashedValue:
    sql: str  # the value: a v1-side expression, or a v2 column
    decl: ColumnDecl  # the v2 column it is (or becomes)
    converted: bool  # v1 side and not a plain copy: convert into the v2 type first


def stored(value: HashedValue) -> str:
    """The value as v2 stores it, in a form whose bytes are the same on both sides."""
    t = parse_sql_type(value.decl.sql_type)
    sql = value.sql
    if value.converted:
        if t.family == "int":
            sql = f"CAST({sql} AS {'UNSIGNED' if t.unsigned else 'SIGNED'})"
        elif t.family == "decimal":
            precision, scale = (t.params + (10, 0))[:2]
            sql = f"CAST({sql} AS DECIMAL({precision},{scale}))"
        elif t.base == "float":
            sql = f"CAST({sql} AS FLOAT)"
        elif t.family == "float":
            sql = f"CAST({sql} AS DOUBLE)"
        elif t.base == "date":
            sql = f"CAST({sql} AS DATE)"
        elif t.base in ("datetime", "timestamp"):
            sql = f"CAST({sql} AS DATETIME({t.params[0] if t.params else 0}))"
        elif t.base == "time":
            sql = f"CAST({sql} AS TIME({t.params[0] if t.params else 0}))"
    if t.family == "float":
        return f"CAST({sql} AS DOUBLE)"
    if t.family in ("string", "json") and t.base not in ("enum", "set"):
        return f"CONVERT({sql} USING utf8mb4)"
    if t.base in ("enum", "set"):
        return f"CONVERT({sql} USING utf8mb4)"
    if t.family == "binary":
        return sql
    return f"CAST({sql} AS CHAR)"


def row_hash(values: list[HashedValue]) -> str:
    """A 128-bit hex hash of the row: never NULL, unambiguous, no string near max_allowed_packet."""
    pieces = ", ".join(f"IF({v.sql} IS NULL, 'N', CONCAT(LENGTH({stored(v)}), ':', MD5({stored(v)})))" for v in values)
    return f"MD5(CONCAT_WS(',', {pieces}))"


def aggregate(hash_sql: str) -> tuple[str, str, str]:
    """COUNT and the two 64-bit-half sums of a chunk's row hashes (exact DECIMAL sums)."""
    return ("COUNT(*)",
            f"COALESCE(SUM(CAST(CONV(SUBSTRING({hash_sql}, 1, 16), 16, 10) AS UNSIGNED)), 0)",
            f"COALESCE(SUM(CAST(CONV(SUBSTRING({hash_sql}, 17, 16), 16, 10) AS UNSIGNED)), 0)")
