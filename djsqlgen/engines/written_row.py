"""A two-way target whose row is the written row itself (no join, no filter, reached directly by the driving row):
its carried writes and their compare-before-write probes, from the trigger's NEW or OLD alone.

The general forms (engines/triggers.py) find the reached rows through the source (``INSERT … SELECT * FROM (SELECT
… FROM v1 WHERE key = NEW.key) AS dt``, the probe a LEFT JOIN from a derived table): right for joins, cascades and
filters, but each derived table is a temporary table built per row. Here the row is NEW (OLD for a delete), so
every value is an expression of it and every statement finds its one row by primary key (bench/two_way_bench.py:
the server's CPU time per writer iteration went down by about a third with these forms and the carried INSERTs and
UPDATEs below).

Same semantics as the general forms: the probe compares what the write would store with what the row holds, byte
for byte (``stored_same``), its own lock (LOCK IN SHARE MODE) added by the caller for UPDATE and DELETE.
"""

from __future__ import annotations

from dataclasses import dataclass

from djsqlgen.engines.impacts import Impact
from djsqlgen.engines.split_back import owned_condition
from djsqlgen.engines.source import same_bytes, stored_same, table_sql
from djsqlgen.engines.values import as_stored_key
from djsqlgen.model.expr import bound
from djsqlgen.model.target import DRIVING, Target
from djsqlgen.sqltext.quoting import quote_identifier


def _q(name: str) -> str:
    return quote_identifier(name)


@dataclass(frozen=True)
class Lookup:
    """The rows of one table a compare-before-write looks for, by primary key: ``FROM … WHERE …``, counted
    (``SELECT COUNT(*) … INTO``, one row always, so no NOT FOUND warning reaches the client) rather than asked with
    EXISTS (…): no subquery for the optimizer to rework on every execution."""
    rows: str
    write_where_none: bool  # the write is needed where no such row is found (else where one is)

    def found(self, variable: str, lock: bool) -> str:
        """SELECT … INTO ``variable``: 1 where the write is needed, a consistent read unless ``lock``."""
        test = "= 0" if self.write_where_none else "> 0"
        return f"SELECT COUNT(*) {test} INTO {variable}\n{self.rows}" + ("\nLOCK IN SHARE MODE" if lock else "")


def is_written_row(target: Target, impact: Impact) -> bool:
    """Whether the only row ``impact`` reaches in ``target`` is made from the written row alone (and the lookup rows
    it refers to, read by its own columns: a v1 row that reads back a lookup's columns)."""
    s = target.source
    return (all(j.lookup for j in s.joins) and s.filter is None and not s.distinct
            and bool(impact.paths) and all(p.alias == DRIVING and p.direct for p in impact.paths))


def _lookups(target: Target) -> tuple[str, list[str]]:
    """(``, table AS alias`` for each lookup row the written row refers to, the conditions that find them by NEW's
    columns): an inner join, as the general forms read them (a row whose lookup row is missing is not written)."""
    bind = bound(DRIVING, "NEW")
    tables = "".join(f", {table_sql(j.table.schema, j.table.name)} AS {_q(j.alias)}" for j in target.source.joins)
    return tables, [f"{_q(j.alias)}.{_q(c)} = {e.render(bind)}" for j in target.source.joins for c, e in j.on]


def _at_key(target: Target, record: str, alias: str = "dst.") -> str:
    """WHERE condition: ``dst`` is the row whose key ``record``'s row makes (compared as v2 compares its keys), and
    the target's own (a split side's)."""
    bind = bound(DRIVING, record)
    at = " AND ".join(f"{alias}{_q(c.name)} = {as_stored_key(c.expr.render(bind), c.decl)}" for c in target.key_columns)
    if target.owns is None:
        return at
    # a split side's v1 row (engines/split_back.py): only while it is this side's
    return f"{at} AND ({owned_condition(target, alias)})"


def upsert(target: Target, plain_insert: bool) -> str:
    """INSERT NEW's row; unless ``plain_insert``, a row already at its key takes its values (insert-only columns,
    the other side's own, keep theirs)."""
    bind = bound(DRIVING, "NEW")
    values = {c.name: c.expr.render(bind) for c in target.columns}
    if target.source.joins:  # with the values of the lookup rows it refers to (a plain INSERT only)
        assert plain_insert, "an upsert of a row that reads lookup rows has no written-row form"
        tables, found = _lookups(target)
        return (f"INSERT INTO {table_sql(target.schema, target.name)}\n"
                f"  ({', '.join(_q(c.name) for c in target.columns)})\n"
                f"SELECT\n  {', '.join(values.values())}\nFROM {tables.removeprefix(', ')}\n"
                f"WHERE {' AND '.join(found)}")
    body = (f"INSERT INTO {table_sql(target.schema, target.name)}\n"
            f"  ({', '.join(_q(c.name) for c in target.columns)})\n"
            f"VALUES\n  ({', '.join(values.values())})")
    if plain_insert:
        return body
    updated = [c.name for c in target.columns if c.name not in target.primary_key and not c.insert_only] \
        or [target.primary_key[0]]
    updates = ",\n  ".join(f"{_q(n)} = {values[n]}" for n in updated)
    return f"{body}\nON DUPLICATE KEY UPDATE\n  {updates}"


def update(target: Target) -> str:
    """UPDATE the row at NEW's key to NEW's values (insert-only columns keep theirs). No row there, nothing is
    written: while both sides are equal the other side holds every row, and before the backfill has copied this
    one it copies it later as this write leaves it (its chunk reads v1 under shared locks). An upsert would make
    every UPDATE statement open and lock the tables the other side's INSERT triggers write (MariaDB prelocks what
    a statement's triggers may write, transitively)."""
    bind = bound(DRIVING, "NEW")
    sets = ",\n  ".join(f"dst.{_q(c.name)} = {c.expr.render(bind)}" for c in target.columns
                        if c.name not in target.primary_key and not c.insert_only)
    if not sets:  # every column is the key: the row at the key is the row
        return ""
    tables, found = _lookups(target)
    return (f"UPDATE {table_sql(target.schema, target.name)} AS dst{tables}\nSET {sets}\n"
            f"WHERE {' AND '.join([_at_key(target, 'NEW'), *found])}")


def row_as_written(target: Target) -> Lookup:
    """The row at NEW's key already holding what the write would leave there (the write is needed where there is
    none)."""
    bind = bound(DRIVING, "NEW")
    same = "\n  AND ".join(stored_same(f"dst.{_q(c.name)}", c.expr.render(bind), c.decl)
                           for c in target.columns if not c.insert_only and c.name not in target.primary_key)
    tables, found = _lookups(target)
    return Lookup(f"FROM {table_sql(target.schema, target.name)} AS dst{tables}\n"
                  f"WHERE {' AND '.join([_at_key(target, 'NEW'), *found])}"
                  + (f"\n  AND {same}" if same else ""), True)


def key_moved(target: Target) -> str:
    """SQL: the written row's v2 key changed, byte for byte."""
    parts = []
    for c in target.key_columns:
        old, new = (as_stored_key(c.expr.render(bound(DRIVING, r)), c.decl) for r in ("OLD", "NEW"))
        parts.append(same_bytes(old, new, c.decl))
    return f"NOT ({' AND '.join(parts)})"


def at_old_key(target: Target) -> Lookup:
    """The row at OLD's key (a move or a delete has a row to write)."""
    return Lookup(f"FROM {table_sql(target.schema, target.name)} AS dst\nWHERE {_at_key(target, 'OLD')}", False)


def move(target: Target) -> str:
    """UPDATE the row at OLD's key to NEW's key and values in one statement (moved first and changed after, it would
    show the other side's trigger a row that is neither the old nor the new one, which it would carry back)."""
    bind = bound(DRIVING, "NEW")
    sets = ",\n  ".join(f"dst.{_q(c.name)} = {c.expr.render(bind)}" for c in target.columns if not c.insert_only)
    tables, found = _lookups(target)
    return (f"UPDATE {table_sql(target.schema, target.name)} AS dst{tables}\nSET {sets}\n"
            f"WHERE {' AND '.join([_at_key(target, 'OLD'), *found])}")


def delete(target: Target) -> str:
    """DELETE the row at OLD's key (the single-table form: no join to plan)."""
    return f"DELETE FROM {table_sql(target.schema, target.name)}\nWHERE {_at_key(target, 'OLD', alias='')}"
