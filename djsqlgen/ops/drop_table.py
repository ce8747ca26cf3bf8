"""Leave a v1 table out of v2. It stays in v1 (archived at cut-over) until contract drops v1."""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.model.target import Model
from djsqlgen.ops.base import Operation


@dataclass(frozen=True)
class DropTable(Operation):
    target_id: str

    def apply(self, model: Model) -> Model:
        return replace(model, targets=tuple(t for t in model.targets if t.id != self.target_id))

    @property
    def irreversible(self) -> str:
        return "the table is absent from v2: writes to v2 cannot reach it"
