"""Secondary attributes moved into a new part table: one part row per master row that has any of them.

``session: {parts: [{name: notes, columns: [notes, rating]}]}`` makes ``session__notes (session's key) →
notes, rating`` and takes those columns out of ``session``. The part is a target of its own made from the same
v1 rows, filtered to those where a moved attribute is not NULL (a master row without any has no part row, as
DataJoint would store it). An UPDATE that sets them all to NULL removes the part row; one that sets one again
makes it. The part refers to its master like every DataJoint part (ON UPDATE CASCADE, ON DELETE RESTRICT).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.catalog.heading import classify_table
from djsqlgen.model.part_back import any_not_null
from djsqlgen.model.target import ForeignKeyDecl, Model, Target
from djsqlgen.ops.base import Operation
from djsqlgen.ops.naming_rules import identifier_problems
from djsqlgen.ops.tables import moved_column_problems
from djsqlgen.sqltext.naming import fit

PART_SEPARATOR = "__"


@dataclass(frozen=True)
class ExtractPart(Operation):
    target_id: str
    name: str  # the part's own name: the table is <master>__<name>
    columns: tuple[str, ...]  # v2 columns of the master moved into the part

    def part_id(self, model: Model) -> str:
        driving = model.target(self.target_id).source.driving
        return f"{driving.schema}.{driving.name}{PART_SEPARATOR}{self.name}"

    def validate(self, model: Model) -> list[str]:
        target = model.target(self.target_id)
        table = f"{target.name}{PART_SEPARATOR}{self.name}"
        problems = identifier_problems(table, f"{self.plan_key}.name")
        if PART_SEPARATOR in self.name or not self.name:
            problems.append(f"{self.plan_key}.name: {self.name!r}: the part's own name, without '__' (the table is "
                            f"{target.name}__<name>)")
        if classify_table(target.name)[0] == "part":
            problems.append(f"{self.plan_key}: {target.label} is a part table itself; DataJoint has no parts of parts")
        if model.find(self.part_id(model)) or any(t.schema == target.schema and t.name == table for t in model.targets) \
                or model.v1.find_table(target.source.driving.schema, table):
            problems.append(f"{self.plan_key}.name: {table!r} is already a table; choose another name")
        if target.source.filter is not None or target.source.distinct:
            problems.append(f"{self.plan_key}: {target.label} is made from part of its v1 rows; move the columns "
                            "before splitting the table")
        if not self.columns:
            problems.append(f"{self.plan_key}.columns: name the columns of {target.label} the part takes")
        for column in self.columns:
            if not target.has_column(column):
                problems.append(f"{self.plan_key}.columns: {target.label} has no column {column!r} (v2 names, after "
                                "renames)")
            elif column in target.primary_key:
                problems.append(f"{self.plan_key}.columns: {column!r} is in {target.label}'s primary key; the part "
                                "has the master's key and takes secondary attributes only")
            problems += moved_column_problems(self.plan_key, target, column, "the master")
        return problems

    def apply(self, model: Model) -> Model:
        master = model.target(self.target_id)
        moved = [master.column(c) for c in self.columns]
        key = [replace(c, follows=None) for c in master.key_columns]
        table = f"{master.name}{PART_SEPARATOR}{self.name}"
        part = Target(
            id=self.part_id(model), schema=master.schema, name=table, columns=tuple(key + moved),
            primary_key=master.primary_key,
            source=replace(master.source, filter=any_not_null([c.expr for c in moved])),
            key_map=master.key_map, plan_key=self.plan_key, comment="",
            foreign_keys=(ForeignKeyDecl(name=fit(f"{table}_master".lstrip("_").replace("#", "")),
                                         columns=master.primary_key, ref_columns=master.primary_key,
                                         on_update="CASCADE", on_delete="RESTRICT", parent=master.id),),
            engine=master.engine, charset=master.charset, collation=master.collation)
        kept = replace(master, columns=tuple(c for c in master.columns if c.name not in self.columns))
        model = model.replace_target(kept)
        return replace(model, targets=model.targets + (part,))

    @property
    def irreversible(self) -> str:
        return ""  # a part row's values go back to the columns of its master's v1 row
