"""Leave out of v2 the foreign keys to one parent; the columns stay, as plain attributes."""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.model.target import Model, TableRef
from djsqlgen.ops.base import Operation
from djsqlgen.ops.tables import resolve_table


@dataclass(frozen=True)
class DropReference(Operation):
    target_id: str
    parent: str  # as the plan writes it

    def _matches(self, model: Model, fk) -> bool:
        ref = resolve_table(model, self.parent, model.target(self.target_id).source.driving.schema)
        if ref is None:
            return False
        return fk.parent == f"{ref.schema}.{ref.name}" or fk.outside == TableRef(ref.schema, ref.name)

    def validate(self, model: Model) -> list[str]:
        target = model.target(self.target_id)
        if not any(self._matches(model, fk) for fk in target.foreign_keys):
            parents = sorted({fk.parent or fk.outside.label for fk in target.foreign_keys})
            return [(f"{self.plan_key}: {target.label} has no foreign key to {self.parent!r}; its parents are "
                    f"{', '.join(parents) or 'none'}")]
        return []

    def apply(self, model: Model) -> Model:
        target = model.target(self.target_id)
        return model.replace_target(replace(
            target, foreign_keys=tuple(fk for fk in target.foreign_keys if not self._matches(model, fk))))

    @property
    def irreversible(self) -> str:
        return ""
