"""Leave a v1 column out of v2. A key column may go when the rest of the key is still unique (checked)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.model.checks import DataCheck
from djsqlgen.model.target import Model
from djsqlgen.ops.base import Operation
from djsqlgen.ops.key_map import derive_key_map
from djsqlgen.ops.unique_key import key_unique_check


@dataclass(frozen=True)
class DropColumn(Operation):
    target_id: str
    column: str

    def validate(self, model: Model) -> list[str]:
        target = model.target(self.target_id)
        problems = []
        for index in (*target.indexes, *target.unique_indexes):
            if self.column in index.columns and not set(index.columns) <= set(target.primary_key) | {self.column}:
                problems.append(f"{self.plan_key}: index {index.name!r} uses it; keep the column "
                                "(removing an index is not part of this operation)")
        for fk in target.foreign_keys:
            if self.column in fk.columns:
                parent = fk.parent or (fk.outside.label if fk.outside else "?")
                problems.append(f"{self.plan_key}: foreign key {fk.name!r} to {parent} uses it; drop that reference "
                                "first (drop_references), or keep the column")
        for name, clause in target.checks:
            if f"`{self.column}`" in clause:
                problems.append(f"{self.plan_key}: CHECK constraint {name!r} uses it; keep the column")
        if self.column in target.primary_key and len(target.primary_key) == 1:
            problems.append(f"{self.plan_key}: {self.column!r} is the whole primary key; a table needs a key "
                            "(give the table a new key with `key:` first)")
        return problems

    def apply(self, model: Model) -> Model:
        target = model.target(self.target_id)
        in_key = self.column in target.primary_key
        target = replace(
            target,
            columns=tuple(c for c in target.columns if c.name != self.column),
            primary_key=tuple(k for k in target.primary_key if k != self.column),
            # an index made of key columns only (DataJoint's FK indexes) just loses the column
            indexes=tuple(replace(i, columns=tuple(c for c in i.columns if c != self.column))
                          for i in target.indexes if set(i.columns) != {self.column}),
            unique_indexes=tuple(i for i in target.unique_indexes if self.column not in i.columns),
        )
        if in_key:
            target = replace(target, key_map=derive_key_map(
                model, target, f"key column {self.column!r} is dropped"))
        return model.replace_target(target)

    def data_checks(self, model: Model) -> list[DataCheck]:
        target = model.target(self.target_id)
        if target.key_map.proof == "checked":
            return [key_unique_check(model, target, self.plan_key)]
        return []

    @property
    def irreversible(self) -> str:
        return f"v2 has no {self.column!r}: a row written to v2 cannot give v1 its value"
