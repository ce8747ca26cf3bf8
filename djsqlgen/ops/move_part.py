"""A part table moved to another master: its reference to the old master goes, one to the new comes, and
its name follows DataJoint's ``<master>__<part>``."""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.catalog.heading import classify_table
from djsqlgen.model.checks import DataCheck
from djsqlgen.model.target import Model
from djsqlgen.ops.add_parent import AddParent
from djsqlgen.ops.base import Operation
from djsqlgen.ops.tables import resolve_table, target_of


@dataclass(frozen=True)
class MovePart(Operation):
    target_id: str
    new_master: str  # as the plan writes it

    def _ids(self, model: Model) -> tuple[str | None, str | None]:
        target = model.target(self.target_id)
        v1 = model.v1_table(target.source.driving)
        old = target_of(model, resolve_table(model, v1.master, v1.schema)) if v1.master else None
        ref = resolve_table(model, self.new_master, v1.schema)
        return old, (target_of(model, ref) if ref else None)

    def _add(self, model: Model) -> AddParent:
        return AddParent(self.plan_key, self.target_id, self.new_master)

    def validate(self, model: Model) -> list[str]:
        target = model.target(self.target_id)
        old, new = self._ids(model)
        if classify_table(model.v1_table(target.source.driving).name)[0] != "part":
            return [f"{self.plan_key}.move_to: {target.source.driving.label} is not a part table"]
        if new is None:
            return [f"{self.plan_key}.move_to: {self.new_master!r} is not a kept table of the plan"]
        without_old = model.replace_target(replace(target, foreign_keys=tuple(
            fk for fk in target.foreign_keys if fk.parent != old)))
        return [p.replace(".columns:", ".move_to:") for p in self._add(without_old).validate(without_old)]

    def apply(self, model: Model) -> Model:
        target = model.target(self.target_id)
        old, new = self._ids(model)
        model = model.replace_target(replace(target, foreign_keys=tuple(
            fk for fk in target.foreign_keys if fk.parent != old)))
        model = self._add(model).apply(model)
        part = model.v1_table(target.source.driving).name.rpartition("__")[2]
        return model.replace_target(replace(model.target(self.target_id), name=f"{model.target(new).name}__{part}"))

    def data_checks(self, model: Model) -> list[DataCheck]:
        return self._add(model).data_checks(model)

    @property
    def irreversible(self) -> str:
        return ""
