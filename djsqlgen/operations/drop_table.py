"""Leave a v1 table out of v2. Its data stays in v1 (archived at cut-over) until contract drops v1."""

from __future__ import annotations

from dataclasses import dataclass

from djsqlgen.catalog.heading import Table
from djsqlgen.operations.base import MigrationContext, Operation


@dataclass
class DropTable(Operation):
    source: Table

    @property
    def id(self) -> str:
        return f"drop_table.{self.source.schema}.{self.source.name}"

    def validate(self, ctx: MigrationContext) -> list[str]:
        problems = []
        for child in ctx.mappings.values():
            for fk in child.source.foreign_keys:
                if (fk.ref_schema, fk.ref_table) == (self.source.schema, self.source.name):
                    problems.append(
                        f"schemas.{self.source.schema}.tables.{self.source.name}: dropped, but kept table "
                        f"{child.source.full_name} refers to it (foreign key {fk.name!r}); keep it, or drop "
                        f"{child.source.name} too"
                    )
        return problems
