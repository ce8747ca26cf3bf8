"""Read another v1 table for each row: its values become available to the target's expressions."""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.model.expr import ExprError
from djsqlgen.model.identity import parse_in
from djsqlgen.model.target import DRIVING, Join, Model
from djsqlgen.ops.base import Operation
from djsqlgen.ops.tables import resolve_table


@dataclass(frozen=True)
class AddJoin(Operation):
    target_id: str
    alias: str
    table: str  # as the plan writes it
    on: tuple[tuple[str, str], ...]  # joined table's key column -> expression text
    kind: str = "left"

    def validate(self, model: Model) -> list[str]:
        target = model.target(self.target_id)
        problems = []
        if self.alias == DRIVING or any(j.alias == self.alias for j in target.source.joins):
            problems.append(f"{self.plan_key}: alias {self.alias!r} is taken; choose another")
        ref = resolve_table(model, self.table, target.source.driving.schema)
        if ref is None:
            return problems + [(f"{self.plan_key}.table: no v1 table {self.table!r} in the plan's schemas; name it as "
                               "table or schema.table (its schema must be inspected with the plan's)")]
        key = model.v1_table(ref).primary_key
        if set(dict(self.on)) != set(key):
            problems.append(f"{self.plan_key}.by: give an expression for each primary-key column of {ref.label} "
                            f"({', '.join(key)}) and nothing else: a join must find at most one row")
        for column, text in self.on:
            try:
                parse_in(model, target, text)
            except ExprError as exc:
                problems.append(f"{self.plan_key}.by.{column}: {exc}")
        return problems

    def apply(self, model: Model) -> Model:
        target = model.target(self.target_id)
        ref = resolve_table(model, self.table, target.source.driving.schema)
        key = model.v1_table(ref).primary_key
        on = dict(self.on)
        join = Join(self.alias, ref, tuple((k, parse_in(model, target, on[k])) for k in key),
                    "inner" if self.kind == "inner" else "left")
        return model.replace_target(replace(target, source=replace(target.source, joins=target.source.joins + (join,))))

    @property
    def irreversible(self) -> str:
        return ""
