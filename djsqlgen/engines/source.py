"""A target's source as SQL: the FROM clause over v1 and the column expressions, plain or bound to NEW/OLD."""

from __future__ import annotations

from collections.abc import Callable

from djsqlgen.catalog.sqltypes import parse_sql_type
from djsqlgen.engines.keyset import KeyColumn, Walk
from djsqlgen.model.expr import ColumnRef, Expr
from djsqlgen.model.target import DRIVING, ColumnDecl, Model, Target, TargetColumn
from djsqlgen.sqltext.quoting import quote_identifier, quote_qualified

Bind = Callable[[ColumnRef], str]


def table_sql(schema: str, name: str) -> str:
    return quote_qualified((schema, name))


def from_clause(target: Target, bind: Bind | None = None, hits: str | None = None, model: Model | None = None,
                driving_bound: bool = False, driving_hint: str = "") -> str:
    """``FROM v1 driving table AS src [LEFT] JOIN …``. With ``hits`` (a query of driving keys) the driving
    table is read only at those keys; with ``driving_bound`` the driving row is a trigger's OLD (``bind``
    writes its columns) and the joins hang off a one-row derived table. ``driving_hint``: an index hint on the
    driving table."""
    s = target.source
    driving = f"{table_sql(s.driving.schema, s.driving.name)} AS {quote_identifier(s.driving_alias)}"
    if driving_hint:
        driving = f"{driving} {driving_hint}"
    if driving_bound:
        lines = ["FROM (SELECT 1) AS djsqlgen_row"]
    elif hits is None:
        lines = [f"FROM {driving}"]
    else:
        key = model.v1_table(s.driving).primary_key
        on = " AND ".join(f"{quote_identifier(DRIVING)}.{quote_identifier(k)} = hit.{quote_identifier(k)}" for k in key)
        lines = [f"FROM (\n  {hits.replace(chr(10), chr(10) + '  ')}\n) AS hit", f"JOIN {driving} ON {on}"]
    for j in s.joins:
        on = " AND ".join(f"{quote_identifier(j.alias)}.{quote_identifier(col)} = {e.render(bind)}" for col, e in j.on)
        kind = "LEFT JOIN" if j.kind == "left" else "JOIN"
        lines.append(f"{kind} {table_sql(j.table.schema, j.table.name)} AS {quote_identifier(j.alias)} ON {on}")
    return "\n".join(lines)


def where_clause(target: Target, *conditions: str, bind: Bind | None = None) -> str:
    parts = [c for c in conditions if c]
    if target.source.filter is not None:
        parts.append(f"({target.source.filter.render(bind)})")
    return ("WHERE " + "\n  AND ".join(parts)) if parts else ""


def select_values(target: Target, bind: Bind | None = None) -> list[str]:
    """Each v2 column's value over the source, in column order."""
    return [c.expr.render(bind) for c in target.columns]


def driving_walk(model: Model, target: Target) -> Walk:
    """The walk over the driving table's primary key (the backfill's and the keyed verify's chunks)."""
    table = model.v1_table(target.source.driving)
    key = tuple(KeyColumn(a.name, a.sql_type, a.charset, a.collation)
                for a in (table.attribute(k) for k in table.primary_key))
    return Walk(table_sql(table.schema, table.name), DRIVING, key)


def target_walk(target: Target, alias: str = "dst") -> Walk:
    key = tuple(KeyColumn(c.name, c.decl.sql_type, c.decl.charset, c.decl.collation) for c in target.key_columns)
    return Walk(table_sql(target.schema, target.name), alias, key)


def is_text(decl: ColumnDecl) -> bool:
    return parse_sql_type(decl.sql_type).family == "string"


def same_bytes(a: str, b: str, decl: ColumnDecl) -> str:
    """``a`` and ``b`` hold the same value byte for byte (NULL-safe): a key compared through a _ci or PAD SPACE
    collation would call 'alpha' and 'ALPHA', or 'beta' and 'beta ', the same key (DESIGN.md)."""
    if is_text(decl):
        return f"CAST({a} AS BINARY) <=> CAST({b} AS BINARY)"
    return f"{a} <=> {b}"


def stored_same(stored: str, value: str, decl: ColumnDecl) -> str:
    """``value`` is what the column ``stored`` (declared ``decl``) already holds, byte for byte once converted to
    the column's character set (a latin1 'é' and its utf8mb4 copy are the same value in other bytes)."""
    if is_text(decl) and decl.charset:
        return f"CAST({stored} AS BINARY) <=> CAST(CONVERT({value} USING {decl.charset}) AS BINARY)"
    return same_bytes(stored, value, decl)


def key_exprs(target: Target) -> list[tuple[TargetColumn, Expr]]:
    return [(c, c.expr) for c in target.key_columns]


def driving_key_match(model: Model, target: Target, record: str, alias: str = DRIVING) -> str:
    """``alias``'s row is the trigger's ``record`` row of the driving table, by its primary key."""
    table = model.v1_table(target.source.table_of(alias))
    return " AND ".join(f"{quote_identifier(alias)}.{quote_identifier(k)} = {record}.{quote_identifier(k)}"
                        for k in table.primary_key)
