"""A new primary key for a target: reordered, extended by added columns, or reduced (checked on the data)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.model.checks import DataCheck
from djsqlgen.model.target import Model
from djsqlgen.ops.base import Operation
from djsqlgen.ops.key_map import derive_key_map
from djsqlgen.ops.unique_key import key_unique_check


@dataclass(frozen=True)
class ChangeKey(Operation):
    target_id: str
    key: tuple[str, ...]  # v2 column names, in order

    def validate(self, model: Model) -> list[str]:
        target = model.target(self.target_id)
        problems = []
        if not self.key:
            problems.append(f"{self.plan_key}: a primary key needs at least one column")
        for name in self.key:
            if not target.has_column(name):
                problems.append(f"{self.plan_key}: {target.label} has no column {name!r}; its columns are "
                                f"{', '.join(c.name for c in target.columns)}")
            elif target.column(name).decl.nullable:
                problems.append(f"{self.plan_key}: {name!r} allows NULL; a key column cannot (set nullable: false "
                                "with an expr that never gives NULL)")
        if len(set(self.key)) != len(self.key):
            problems.append(f"{self.plan_key}: a column appears twice in the key")
        return problems

    def apply(self, model: Model) -> Model:
        target = model.target(self.target_id)
        old = target.primary_key
        target = replace(target, primary_key=self.key)
        dropped = [k for k in old if k not in self.key]
        why = (f"the key drops {', '.join(dropped)}" if dropped else
               f"the key ({', '.join(self.key)}) is computed from other columns than v1's")
        return model.replace_target(replace(target, key_map=derive_key_map(model, target, why)))

    def data_checks(self, model: Model) -> list[DataCheck]:
        target = model.target(self.target_id)
        return [key_unique_check(model, target, self.plan_key)] if target.key_map.proof == "checked" else []

    @property
    def irreversible(self) -> str:
        return ""
