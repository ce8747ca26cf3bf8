"""What every operation offers: validation and its statements for each phase, with their undo."""

from __future__ import annotations

from dataclasses import dataclass, field

from djsqlgen.catalog.heading import Catalog
from djsqlgen.operations.mapping import TableMapping
from djsqlgen.output.dialect import Dialect
from djsqlgen.output.quoting import quote_literal
from djsqlgen.output.statements import Statement
from djsqlgen.plan import Plan


def exists_in(view: str, where: dict[str, str]) -> str:
    """An SQL test that information_schema.``view`` has a row matching ``where`` (values quoted)."""
    conditions = " AND ".join(f"{column} = {quote_literal(value)}" for column, value in where.items())
    return f"EXISTS (SELECT 1 FROM information_schema.{view} WHERE {conditions})"


# The phases of DESIGN.md, in order; each names the file it fills.
PHASES = ("preflight", "expand", "routines", "dualwrite", "backfill", "verify", "constraints", "cutover", "contract")


@dataclass(frozen=True)
class Cascade:
    """A table whose rows v1 changes through ON UPDATE/DELETE CASCADE from an ancestor's key.

    ``columns`` pairs each of its v2 columns with the ancestor's v1 key column it follows;
    ``source_columns`` does the same with its own v1 columns.
    """

    mapping: TableMapping
    columns: tuple[tuple[str, str], ...]
    source_columns: tuple[tuple[str, str], ...]
    depth: int


@dataclass
class MigrationContext:
    """What operations may read while contributing: the plan, headings, server and all mappings."""

    plan: Plan
    catalog: Catalog
    dialect: Dialect
    mappings: dict[tuple[str, str], TableMapping] = field(default_factory=dict)

    @property
    def control(self) -> str:
        return self.plan.control

    def cascades(self, parent: TableMapping, rule: str) -> list[Cascade]:
        """Tables of the plan that v1 changes behind the triggers' back when ``parent``'s key is
        updated (``rule="on_update"``) or its row deleted (``"on_delete"``), shallowest first."""
        found: list[Cascade] = []
        # frontier: (table, {its v1 column: the parent's v1 key column it follows})
        frontier = [(parent, {k: k for k in parent.source.primary_key}, 0)]
        seen = {parent.source_id}
        while frontier:
            table, follows, depth = frontier.pop(0)
            for child in self.mappings.values():
                for fk in child.source.foreign_keys:
                    if (fk.ref_schema, fk.ref_table) != table.source_id:
                        continue
                    if getattr(fk, rule).upper() != "CASCADE" or child.source_id in seen:
                        continue
                    child_follows = {
                        col: follows[ref] for col, ref in zip(fk.columns, fk.ref_columns) if ref in follows
                    }
                    if not child_follows:
                        continue
                    seen.add(child.source_id)
                    targets = tuple(
                        (child.target_for_source_column(col).name, parent_col) for col, parent_col in child_follows.items()
                    )
                    found.append(Cascade(child, targets, tuple(child_follows.items()), depth + 1))
                    frontier.append((child, child_follows, depth + 1))
        return sorted(found, key=lambda c: c.depth)


class Operation:
    """Base of the operations. Subclasses override the phases they take part in."""

    id: str

    def validate(self, ctx: MigrationContext) -> list[str]:
        return []

    def forward(self, phase: str, ctx: MigrationContext) -> list[Statement]:
        return []

    def rollback(self, phase: str, ctx: MigrationContext) -> list[Statement]:
        return []
