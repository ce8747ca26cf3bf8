"""The target model: one ``Target`` per v2 table, each saying how its rows come from v1.

Every engine derives its SQL from targets alone: the CREATE TABLE from the declaration, the backfill
from the source and column expressions, the triggers from which v1 tables a target reads, verify
from the key map. Operations (``djsqlgen.ops``) are pure rewrites of a ``Model``.

Vocabulary
----------
driving table : the v1 table whose rows, one by one, make the target's rows (alias ``src``).
join          : another v1 table read for each driving row, by its whole primary key (at most one row).
key map       : the target's primary-key columns as expressions of the source. ``aligned`` when they
                are the driving key's columns, in its order, compared the same way (verify can then
                compare the same key ranges on both sides); ``structure`` when one-to-one follows
                from the definitions, ``checked`` when only the data can show it (a dropped key
                attribute, a new key from other columns, a key collation change).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from graphlib import CycleError, TopologicalSorter
from typing import Literal

from djsqlgen.catalog.heading import Catalog, Index, Table
from djsqlgen.model.expr import ColumnRef, Expr

DRIVING = "src"


@dataclass(frozen=True, order=True)
class TableRef:
    schema: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"

    @classmethod
    def of(cls, table: Table) -> TableRef:
        return cls(table.schema, table.name)


@dataclass(frozen=True)
class ColumnDecl:
    """How a v2 column is declared."""

    name: str
    sql_type: str
    nullable: bool
    default: str | None  # SQL after DEFAULT, None for none
    auto_increment: bool
    comment: str  # the whole comment, DataJoint marker included
    charset: str | None = None
    collation: str | None = None


@dataclass(frozen=True)
class TargetColumn:
    """A v2 column and the expression over the source that computes it."""

    decl: ColumnDecl
    expr: Expr
    # The v1 column this is a plain copy of (same type and comparison), else None: verify then
    # compares the value as v2 stores it.
    copied_from: ColumnRef | None = None
    # The foreign key through which this column takes its parent's (changed) key, when it does.
    follows: str | None = None
    plan_key: str = ""  # where the plan computes this column (empty for a plain copy)
    # Two-way sync: a column the other side does not have (an added v2 column; a v1 column v2 dropped). A new row
    # takes this value; a write carried from the other side leaves a row's own value as it is.
    insert_only: bool = False

    @property
    def name(self) -> str:
        return self.decl.name


@dataclass(frozen=True)
class Join:
    """Another v1 table read for each driving row, found by its whole primary key.

    ``on`` pairs each primary-key column of the joined table with an expression over earlier aliases.
    ``kind`` is ``inner`` (a driving row without a match makes no target row) or ``left``.
    """

    alias: str
    table: TableRef
    on: tuple[tuple[str, Expr], ...]
    kind: Literal["inner", "left"] = "left"
    # The joined rows refer to the driving row (a merged part): none can exist yet when the driving row is
    # inserted, so an insert's trigger does not read that table (a probe there would lock its gap).
    of_child: bool = False
    # Two-way: the lookup row the driving row refers to (model/reverse.py), found by the driving row's columns alone:
    # its values are read beside the driving row's, so the written-row forms apply (engines/written_row.py).
    lookup: bool = False


@dataclass(frozen=True)
class Source:
    driving: TableRef
    joins: tuple[Join, ...] = ()
    filter: Expr | None = None  # rows of the driving table that make target rows
    distinct: bool = False  # several driving rows may make one target row (a lookup)
    driving_alias: str = DRIVING  # renamed only to read a target inside another's query (data checks)

    def alias_of(self, table: TableRef) -> list[str]:
        """Every alias under which ``table`` is read (a table can be joined twice)."""
        out = [DRIVING] if self.driving == table else []
        return out + [j.alias for j in self.joins if j.table == table]

    def table_of(self, alias: str) -> TableRef:
        if alias == DRIVING:
            return self.driving
        return next(j.table for j in self.joins if j.alias == alias)

    @property
    def tables(self) -> tuple[TableRef, ...]:
        return tuple(dict.fromkeys([self.driving, *(j.table for j in self.joins)]))


@dataclass(frozen=True)
class KeyMap:
    aligned: bool
    proof: Literal["structure", "checked"]
    why: str = ""  # what makes it need a data check, for messages


@dataclass(frozen=True)
class ForeignKeyDecl:
    """A v2 foreign key: to another target (by its id) or to a table outside the plan."""

    name: str
    columns: tuple[str, ...]
    ref_columns: tuple[str, ...]
    on_update: str
    on_delete: str
    parent: str | None = None  # target id
    outside: TableRef | None = None
    # The v1 foreign key it comes from: the driving table's columns and the parent's v1 key columns they
    # reference. How a child follows its parent's new key (djsqlgen.ops.follow) is computed from these.
    v1_columns: tuple[str, ...] = ()
    v1_ref_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Inverse:
    """Two-way: how a row inserted into v2 gives v1 a column v2 dropped (the plan's ``inverse:``, ops/inverse.py).
    ``expr`` is over the v2 row (``src``, v2 names); with ``next_for`` (v2 columns: a foreign key to the parent
    ``lock``, the v1 table whose row is locked first) it is the next number among v1's rows of those values."""

    column: str  # the v1 column
    expr: Expr | None
    plan_key: str
    next_for: tuple[str, ...] = ()
    lock: TableRef | None = None
    lock_on: tuple[tuple[str, str], ...] = ()  # (the parent's v1 key column, the v2 column holding its value)


@dataclass(frozen=True)
class Target:
    """One v2 table."""

    id: str  # stable across renames: names progress rows and generated routines
    schema: str  # v2 schema (versioned name)
    name: str
    columns: tuple[TargetColumn, ...]
    primary_key: tuple[str, ...]
    source: Source
    key_map: KeyMap
    plan_key: str  # where in the plan this target is described, for messages
    indexes: tuple[Index, ...] = ()  # non-unique, created with the table
    unique_indexes: tuple[Index, ...] = ()  # added in 60
    checks: tuple[tuple[str, str], ...] = ()
    foreign_keys: tuple[ForeignKeyDecl, ...] = ()
    comment: str = ""
    engine: str = "InnoDB"
    charset: str | None = None
    collation: str | None = None
    # Two-way, the way back of a split side (model/split_back.py): the rows of this table that are this target's,
    # over the table's own row (alias ``dst``); None: every row
    owns: Expr | None = None
    inverses: tuple[Inverse, ...] = ()  # two-way: the plan's ``inverse:`` for v1 columns v2 dropped

    def inverse(self, v1_column: str) -> Inverse | None:
        return next((i for i in self.inverses if i.column == v1_column), None)

    @property
    def ref(self) -> TableRef:
        return TableRef(self.schema, self.name)

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> TargetColumn:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.label} has no column {name!r}")

    def has_column(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)

    @property
    def key_columns(self) -> tuple[TargetColumn, ...]:
        return tuple(self.column(k) for k in self.primary_key)

    @property
    def reads(self) -> tuple[TableRef, ...]:
        """The v1 tables whose writes change this target's rows."""
        return self.source.tables

    def with_columns(self, columns: tuple[TargetColumn, ...]) -> Target:
        return replace(self, columns=columns)


@dataclass(frozen=True)
class SchemaMap:
    source: str
    target: str
    final: str | None = None
    archive: str | None = None


@dataclass(frozen=True)
class Model:
    """Every v2 table of a plan, plus what the plan leaves behind in v1."""

    v1: Catalog
    schemas: tuple[SchemaMap, ...]
    targets: tuple[Target, ...]
    retired: tuple[TableRef, ...] = ()  # v1 tables with no v2 counterpart (kept in v1 until contract)
    notes: tuple[str, ...] = field(default=())  # irreversibility and other remarks for plan check
    # groups of target ids made from one v1 table by row filters that must cover each row exactly once
    splits: tuple[tuple[str, ...], ...] = ()
    # The reverse model only: the cascades of its catalog (v2's ON UPDATE CASCADE, as (written table, descendant,
    # descendant's columns -> written table's)) that v1's own ON UPDATE CASCADE repeats when the written table's v1
    # row moves. The reverse triggers leave those v1 rows to it (model/reverse.py ``cascade_repeats``).
    repeated_cascades: frozenset = frozenset()

    def _positions(self) -> dict[str, int]:
        """Target id -> its position in ``targets``, built once per model and handed on by ``replace_target``
        (which keeps every position): every operation looks targets up, and a scan each time made building
        the model of a few thousand tables quadratic."""
        if "positions" not in self.memo:
            self.memo["positions"] = {t.id: i for i, t in enumerate(self.targets)}
        return self.memo["positions"]

    def target(self, target_id: str) -> Target:
        position = self._positions().get(target_id)
        if position is None:
            raise KeyError(f"no target {target_id!r}")
        return self.targets[position]

    def find(self, target_id: str) -> Target | None:
        position = self._positions().get(target_id)
        return None if position is None else self.targets[position]

    def replace_target(self, target: Target) -> Model:
        positions = self._positions()
        at = positions.get(target.id)
        if at is None:
            return self
        model = replace(self, targets=self.targets[:at] + (target,) + self.targets[at + 1:])
        model.memo["positions"] = positions  # same ids at the same places
        return model

    def v1_table(self, ref: TableRef) -> Table:
        return self.v1.table(ref.schema, ref.name)

    def schema_map(self, source: str) -> SchemaMap:
        return next(s for s in self.schemas if s.source == source)

    def children(self, target_id: str) -> list[tuple[Target, ForeignKeyDecl]]:
        """Targets with a foreign key to ``target_id``, with that key (one entry per key)."""
        return [(t, fk) for t in self.targets for fk in t.foreign_keys if fk.parent == target_id]

    def ordered(self) -> list[Target]:
        """Targets parents first (v2 foreign keys), ties in id order."""
        return list(self._order)

    @cached_property
    def memo(self) -> dict:
        """Indexes the engines derive from this model, computed once (a model never changes)."""
        return {}

    @cached_property
    def _order(self) -> tuple[Target, ...]:
        # computed once per model (a model never changes; every rewrite makes a new one): the triggers ask for it
        # once per v1 table and event, which made generate quadratic in the number of tables
        ids = {t.id for t in self.targets}
        graph = {t.id: {fk.parent for fk in t.foreign_keys if fk.parent in ids and fk.parent != t.id}
                 for t in self.targets}
        sorter = TopologicalSorter(graph)
        try:
            sorter.prepare()
        except CycleError as exc:
            raise ValueError(f"the v2 foreign keys form a cycle: {' -> '.join(exc.args[1])}") from None
        order: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            order.extend(ready)
            sorter.done(*ready)
        by_id = {t.id: t for t in self.targets}
        return tuple(by_id[i] for i in order)

    def readers(self, table: TableRef) -> list[Target]:
        """Targets that read the v1 ``table`` (as driving table or join), in dependency order."""
        return [t for t in self.ordered() if table in t.reads]
