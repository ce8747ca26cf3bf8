"""A 1:1 part merged back into its master: the master's v2 rows read their part row through a join.

``session__notes: merge_into_master`` gives v2's ``session`` the part's secondary attributes, read for each
session through a LEFT JOIN on the part by the master's key, and leaves the part out of v2. The part must be
1:1 (its primary key is its master's, no more): otherwise several part rows would make one master row.
The merged attributes allow NULL in v2, since a master row may have no part row. A write to either v1 table
recomputes the merged row: the master's through the driving row, the part's through the join (a deleted
part row leaves NULLs). The part's own joins come along, read through the part's row (LEFT, under names of their
own): the ``~external_<store>`` row a 0.14 external attribute of the part is rebuilt from, for one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.catalog.heading import classify_table
from djsqlgen.model.expr import Expr
from djsqlgen.model.target import DRIVING, Join, Model
from djsqlgen.ops.base import Operation
from djsqlgen.sqltext.naming import fit


@dataclass(frozen=True)
class MergePart(Operation):
    target_id: str  # the part

    def _master(self, model: Model):
        part = model.target(self.target_id)
        master_name = classify_table(part.source.driving.name)[2]
        master_id = f"{part.source.driving.schema}.{master_name}" if master_name else ""
        return model.find(master_id)

    def alias(self, model: Model) -> str:
        return fit(f"part_{model.target(self.target_id).source.driving.name.split('__', 1)[-1]}", 60)

    def validate(self, model: Model) -> list[str]:
        part = model.target(self.target_id)
        master = self._master(model)
        if master is None:
            return [f"{self.plan_key}: {part.source.driving.label} is not a part table whose master is kept in v2"]
        problems = []
        part_key = model.v1_table(part.source.driving).primary_key
        master_key = model.v1_table(master.source.driving).primary_key
        if tuple(part_key) != tuple(master_key):
            problems.append(f"{self.plan_key}: {part.source.driving.label} is not 1:1 with {master.source.driving.label}"
                            f" (its key ({', '.join(part_key)}) is not its master's ({', '.join(master_key)})): several "
                            "part rows would make one master row")
        if part.source.filter is not None or part.source.distinct:
            problems.append(f"{self.plan_key}: {part.label} reads a part of its rows; merge it as v1 has it")
        taken = {j.alias for j in master.source.joins}
        carried = set(self._carried(model).values())
        if carried & taken or self.alias(model) in taken:
            problems.append(f"{self.plan_key}: {master.label} already reads a table under the alias "
                            f"{sorted((carried | {self.alias(model)}) & taken)[0]!r}; rename that join")
        children = sorted({child.label for child, _ in model.children(self.target_id)})
        if children:
            problems.append(f"{self.plan_key}: {', '.join(children)} refer(s) to {part.label}; drop those references "
                            "first (drop_references) or keep the part")
        for column in part.columns:
            if column.name not in part.primary_key and master.has_column(column.name):
                problems.append(f"{self.plan_key}: {master.label} already has a column {column.name!r}; rename the "
                                "part's column first")
        return problems

    def _carried(self, model: Model) -> dict[str, str]:
        """The part's aliases → the master's: its driving row under ``alias``, each of its joins under its own."""
        part, alias = model.target(self.target_id), self.alias(model)
        return {DRIVING: alias, **{j.alias: fit(f"{alias}_{j.alias}", 60) for j in part.source.joins}}

    def apply(self, model: Model) -> Model:
        part = model.target(self.target_id)
        master = self._master(model)
        alias = self.alias(model)
        key = model.v1_table(master.source.driving).primary_key
        join = Join(alias, part.source.driving, tuple((k, Expr.column(DRIVING, k)) for k in key), kind="left",
                    of_child=True)
        names = self._carried(model)

        def moved(expr: Expr) -> Expr:
            for old, new in names.items():
                expr = expr.rename_alias(old, f"\0{new}")  # in two steps: a new name may be an old one
            for new in names.values():
                expr = expr.rename_alias(f"\0{new}", new)
            return expr

        # the part's joins, read through the part's row: LEFT (a master row may have none), and like the part itself
        # not read when the master's row is inserted (no part row refers to it yet)
        joins = tuple(replace(j, alias=names[j.alias], kind="left", of_child=True,
                              on=tuple((c, moved(e)) for c, e in j.on)) for j in part.source.joins)
        merged = tuple(
            replace(c, expr=moved(c.expr), copied_from=None, follows=None,
                    decl=replace(c.decl, nullable=True, default="NULL" if not c.decl.nullable else c.decl.default))
            for c in part.columns if c.name not in part.primary_key)
        master = replace(master, source=replace(master.source, joins=master.source.joins + (join, *joins)),
                         columns=master.columns + merged)
        model = model.replace_target(master)
        return replace(model, targets=tuple(t for t in model.targets if t.id != part.id))

    @property
    def irreversible(self) -> str:
        return ""  # the merged attributes go back to the part's v1 row
