"""A v2 table's default character set and collation (what its new text columns take)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.model.target import Model
from djsqlgen.ops.base import Operation


@dataclass(frozen=True)
class TableCharset(Operation):
    target_id: str
    charset: str
    collation: str

    def validate(self, model: Model) -> list[str]:
        if not self.collation.startswith(self.charset + "_"):
            return [f"{self.plan_key}: collation {self.collation!r} is not one of character set {self.charset!r}"]
        return []

    def apply(self, model: Model) -> Model:
        target = model.target(self.target_id)
        return model.replace_target(replace(target, charset=self.charset, collation=self.collation))

    def reverse(self) -> Operation | None:
        return self  # the table default changes no stored value

    @property
    def irreversible(self) -> str:
        return ""
