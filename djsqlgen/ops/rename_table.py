"""A v2 table under a new name (a DataJoint tier change included). A master's parts are renamed with it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.catalog.heading import classify_table
from djsqlgen.model.target import Model
from djsqlgen.ops.base import Operation
from djsqlgen.ops.naming_rules import identifier_problems

PART_SEPARATOR = "__"


@dataclass(frozen=True)
class RenameTable(Operation):
    target_id: str
    new_name: str

    def validate(self, model: Model) -> list[str]:
        problems = identifier_problems(self.new_name, f"{self.plan_key}.rename")
        tier, _, master = classify_table(self.new_name)
        target = model.target(self.target_id)
        if tier == "hidden":
            problems.append(f"{self.plan_key}.rename: names starting with ~ are DataJoint's own tables; choose another")
        if master and not any(t.schema == target.schema and t.name == master for t in model.targets):
            old_tier = classify_table(target.name)[0]
            if old_tier != "part":
                problems.append(f"{self.plan_key}.rename: {self.new_name!r} is a part-table name but v2 has no master "
                                f"{master!r} in {target.schema}; choose a name without '__'")
        return problems

    def apply(self, model: Model) -> Model:
        target = model.target(self.target_id)
        old = target.name
        renamed = [replace(target, name=self.new_name)]
        # DataJoint names a part <master>__<part>: a renamed master takes its parts along (a tier change of
        # the master, e.g. session → _session, becomes _session__trial for its part).
        for part in model.targets:
            if part.schema == target.schema and part.id != target.id and part.name.startswith(old + PART_SEPARATOR) \
                    and classify_table(part.name)[2] == old:
                renamed.append(replace(part, name=self.new_name + part.name[len(old):]))
        for t in renamed:
            model = model.replace_target(t)
        return model

    @property
    def irreversible(self) -> str:
        return ""  # a target keeps its v1 table as its id: a reverse sync writes there under the old name
