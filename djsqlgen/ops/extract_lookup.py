"""Columns moved into a new lookup table: one lookup row per distinct key value, which the table then refers to.

``probe_insertion (…, probe, vendor, channels)`` with ``lookups: [{table: '#probe', key: [probe],
columns: [vendor, channels]}]`` becomes ``#probe (probe) → vendor, channels`` and ``probe_insertion (…,
probe)`` with a foreign key to it. The lookup is a target of its own whose source is the same v1 table,
read ``distinct``: the backfill fills it with the distinct values, a v1 write adds the lookup row of the
value it writes, or updates it where it changes (before the referring row: parents first; engines/triggers.py
``_lookup_write`` locks the shared row only then), and no sync ever deletes a lookup row (another v1
row may still use it, and a value nobody uses any more is harmless). Verify compares, for every v1 row,
its lookup row's values with its own. That the moved values agree for each key is a data check (plan
check, 00 and 70): two v1 rows with one key and different values would lose one of them.

Two-way (ops/directions.py, model/reverse.py): the reverse is a join. The table's v1 rows read the moved columns back
from the v2 lookup row their v2 row refers to, so an UPDATE of a v2 lookup row rewrites every v1 row of its key (the
reverse triggers of a joined table). A v2 lookup row no v2 row uses has no v1 form and stays in v2 alone. Only when
the moved columns keep v1's type: else the table stays one-way with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.catalog.heading import Index, classify_table
from djsqlgen.model.checks import DataCheck
from djsqlgen.model.target import ForeignKeyDecl, KeyMap, Model, Target
from djsqlgen.ops.base import Operation
from djsqlgen.ops.naming_rules import identifier_problems
from djsqlgen.ops.tables import moved_column_problems
from djsqlgen.sqltext.naming import fit


@dataclass(frozen=True)
class ExtractLookup(Operation):
    target_id: str
    table: str  # the new v2 table's name
    key: tuple[str, ...]  # v2 columns of the target: the lookup's key, kept in the target as the reference
    columns: tuple[str, ...] = ()  # v2 columns of the target moved into the lookup
    comment: str = ""

    def lookup_id(self, model: Model) -> str:
        """Stable, like every target id: the v1 schema and the lookup's own name (it has no v1 table)."""
        return f"{model.target(self.target_id).source.driving.schema}.{self.table}"

    def validate(self, model: Model) -> list[str]:
        target = model.target(self.target_id)
        problems = identifier_problems(self.table, f"{self.plan_key}.table")
        tier = classify_table(self.table)[0]
        if tier in ("hidden", "part"):
            problems.append(f"{self.plan_key}.table: {self.table!r} is a {tier} table name; a lookup is a table of its "
                            "own (DataJoint: a name starting with #)")
        if model.find(self.lookup_id(model)) or any(t.schema == target.schema and t.name == self.table
                                                    for t in model.targets) \
                or model.v1.find_table(target.source.driving.schema, self.table):
            problems.append(f"{self.plan_key}.table: {self.table!r} is already a table of "
                            f"{target.source.driving.schema} or {target.schema}; choose a new name")
        if not self.key:
            problems.append(f"{self.plan_key}.key: name the column(s) of {target.label} that make the lookup's key")
        for column in (*self.key, *self.columns):
            if not target.has_column(column):
                problems.append(f"{self.plan_key}: {target.label} has no column {column!r} (v2 names, after "
                                "renames); its columns are " + ", ".join(c.name for c in target.columns))
        for column in self.key:
            if target.has_column(column) and target.column(column).decl.nullable:
                problems.append(f"{self.plan_key}.key: {column!r} allows NULL in {target.label}; a lookup key cannot "
                                "(a nullable reference to a new lookup is not supported yet)")
        for column in self.columns:
            if column in self.key:
                problems.append(f"{self.plan_key}.columns: {column!r} is also in key; a key column stays in "
                                f"{target.label} and is the lookup's key")
            elif column in target.primary_key:
                problems.append(f"{self.plan_key}.columns: {column!r} is in {target.label}'s primary key; moving it "
                                "out would change that key (change the key first with `key:`)")
            problems += moved_column_problems(self.plan_key, target, column, "the table")
        problems += identifier_problems(self.constraint_name(model), f"{self.plan_key}.table")
        return problems

    def constraint_name(self, model: Model) -> str:
        return fit(f"{model.target(self.target_id).name}_{self.table}_fk".replace("#", "").lstrip("_"))

    def apply(self, model: Model) -> Model:
        target = model.target(self.target_id)
        lookup = Target(
            id=self.lookup_id(model), schema=target.schema, name=self.table,
            columns=tuple(replace(target.column(c), follows=None) for c in (*self.key, *self.columns)),
            primary_key=self.key,
            source=replace(target.source, distinct=True),
            key_map=KeyMap(aligned=False, proof="checked",
                           why=f"several rows of {target.source.driving.label} make one row of {self.table}"),
            plan_key=self.plan_key, comment=self.comment or f"{', '.join(self.key)} of {target.name}",
            engine=target.engine, charset=target.charset, collation=target.collation)
        reference = ForeignKeyDecl(name=self.constraint_name(model), columns=self.key, ref_columns=self.key,
                                   on_update="CASCADE", on_delete="RESTRICT", parent=lookup.id)
        # the reference indexed from the start (10, not 60): the triggers find a lookup key's rows through it
        indexed = any(i.columns[:len(self.key)] == self.key for i in (*target.indexes, *target.unique_indexes)) \
            or target.primary_key[:len(self.key)] == self.key
        indexes = target.indexes if indexed else target.indexes + (Index(reference.name, self.key, False),)
        kept = replace(target, columns=tuple(c for c in target.columns if c.name not in self.columns),
                       foreign_keys=target.foreign_keys + (reference,), indexes=indexes)
        model = model.replace_target(kept)
        return replace(model, targets=model.targets + (lookup,))

    def data_checks(self, model: Model) -> list[DataCheck]:
        lookup = model.target(self.lookup_id(model))
        return [DataCheck(
            kind="lookup_agrees", target_id=lookup.id, plan_key=self.plan_key,
            what=f"the rows of {lookup.source.driving.label} with one ({', '.join(self.key)}) agree on "
                 f"{', '.join(self.columns) + ' and ' if self.columns else ''}the key's bytes (case, trailing "
                 f"spaces), which {lookup.label} holds once per key",
            fix="make the values agree in v1 (each key has one set of values), or move fewer columns")]

    @property
    def irreversible(self) -> str:
        return (f"{self.table} is filled from v1's rows: a lookup row written to v2 alone has no v1 row to go to, "
                f"and v1 keeps {', '.join(self.columns) or 'the key'} in every row")
