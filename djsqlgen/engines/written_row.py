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
from djsqlgen.engines.source import is_text, same_bytes, stored_same, table_sql
from djsqlgen.engines.values import as_stored_key
from djsqlgen.model.expr import bound
from djsqlgen.model.target import DRIVING, Target
from djsqlgen.sqltext.quoting import quote_identifier, quote_qualified


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


def at_old_key(target: Target, exact: bool = False) -> Lookup:
    """The row at OLD's key (a move or a delete has a row to write). ``exact`` (a move): its key byte for byte OLD's,
    where v2 compares keys through a _ci or PAD SPACE collation. A case- or space-only move ('ann' → 'Ann') that the
    other side has made already (v1's own ON UPDATE CASCADE, say) leaves there a row its collation calls equal to OLD's
    key: the move it would take for still to be done (refused before 60 as a write that changes the other side)."""
    at = _at_key(target, "OLD")
    if exact:
        bind = bound(DRIVING, "OLD")
        at += "".join(f"\n  AND {stored_same(f'dst.{_q(c.name)}', c.expr.render(bind), c.decl)}"
                      for c in target.key_columns if is_text(c.decl))
    return Lookup(f"FROM {table_sql(target.schema, target.name)} AS dst\nWHERE {at}", False)


def _indented(text: str) -> str:
    return text.replace("\n", "\n  ")


def _same_parent(next_for: tuple[str, ...]) -> str:
    """SQL: the written row refers to the same parent as before (``next_for``: the v2 columns naming it)."""
    return " AND ".join(f"NEW.{_q(c)} <=> OLD.{_q(c)}" for c in next_for)


def _numbered(target: Target) -> list:
    """The ``inverse: {next_for: …}`` columns ``target`` computes: on a v1 table of the way back, the column the
    inverse made (a forward target's ``inverses`` name v1 columns it does not compute)."""
    return [i for i in target.inverses if i.next_for and target.has_column(i.column)
            and target.column(i.column).plan_key == i.plan_key]


def numbered_under_lock(target: Target, write: str, moved: bool = False) -> str:
    """``write`` (a v2 row carried into v1) after an exclusive lock on each v1 parent row whose children an
    ``inverse: {next_for: …}`` numbers (ops/inverse.py), NEW's parent: two writers numbering children of one parent
    take turns, the second reading the largest number after the first committed (the number is read in the write,
    a locking read). A record lock on the parent, not on the children's range: the first two children of a parent
    would each hold a gap lock there, and each one's insert would wait for the other's (1213). With ``moved`` (a key
    move), only where the row changes parent."""
    locks = []
    for inverse in _numbered(target):
        on = " AND ".join(f"{_q(c)} = NEW.{_q(v2)}" for c, v2 in inverse.lock_on)
        lock = (f"SELECT COUNT(*) INTO v_parent FROM {quote_qualified((inverse.lock.schema, inverse.lock.name))} "
                f"WHERE {on} FOR UPDATE")
        locks.append(f"IF NOT ({_same_parent(inverse.next_for)}) THEN\n    {lock};\n  END IF" if moved else lock)
    if not locks:
        return write
    return ("BEGIN\n  DECLARE v_parent INT DEFAULT 0;\n  -- the parent's v1 row: numbering its children takes turns\n  "
            + ";\n  ".join(locks) + f";\n  {_indented(write)};\nEND")


def move(target: Target) -> str:
    """UPDATE the row at OLD's key to NEW's key and values in one statement (moved first and changed after, it would
    show the other side's trigger a row that is neither the old nor the new one, which it would carry back). A row
    that moves to another parent takes the next number there for a column ``inverse: {next_for: …}`` numbers (its
    old number may be taken there); else v1's value stays."""
    bind = bound(DRIVING, "NEW")
    sets = [f"dst.{_q(c.name)} = {c.expr.render(bind)}" for c in target.columns if not c.insert_only]
    numbered = _numbered(target)
    sets += [f"dst.{_q(i.column)} = IF({_same_parent(i.next_for)}, dst.{_q(i.column)}, "
             f"{target.column(i.column).expr.render(bind)})" for i in numbered]
    tables, found = _lookups(target)
    joined = ",\n  ".join(sets)
    update = (f"UPDATE {table_sql(target.schema, target.name)} AS dst{tables}\nSET {joined}\n"
              f"WHERE {' AND '.join([_at_key(target, 'OLD'), *found])}")
    return numbered_under_lock(target, update, moved=True) if numbered else update


def delete(target: Target) -> str:
    """DELETE the row at OLD's key (the single-table form: no join to plan)."""
    return f"DELETE FROM {table_sql(target.schema, target.name)}\nWHERE {_at_key(target, 'OLD', alias='')}"
