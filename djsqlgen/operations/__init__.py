"""Operations: one module per kind of change, each contributing SQL to every phase and its rollback.

``build_operations`` turns a plan and the headings into the operation list, in dependency order
(parents before children, parts after their masters), and collects every problem first.
The registry below is the one place that maps a plan's table entry to an operation.
"""

from __future__ import annotations

from djsqlgen.catalog.heading import Catalog, Table
from djsqlgen.errors import PlanError
from djsqlgen.operations.base import PHASES, MigrationContext, Operation
from djsqlgen.operations.copy_table import CopyTable
from djsqlgen.operations.drop_table import DropTable
from djsqlgen.operations.mapping import TableMapping, build_mapping
from djsqlgen.output import naming
from djsqlgen.output.dialect import Dialect
from djsqlgen.plan import DROP, Plan, TableSpec

__all__ = ["PHASES", "CopyTable", "DropTable", "MigrationContext", "Operation", "build_operations"]


def dependency_order(tables: list[Table]) -> list[Table]:
    """Tables sorted so each comes after the tables it refers to (stable: name order otherwise)."""
    by_id = {(t.schema, t.name): t for t in tables}
    ordered: list[Table] = []
    state: dict[tuple[str, str], str] = {}

    def visit(t: Table) -> None:
        key = (t.schema, t.name)
        if state.get(key) == "done":
            return
        if state.get(key) == "visiting":
            return  # a cycle (not possible in DataJoint); keep going in name order
        state[key] = "visiting"
        for fk in t.foreign_keys:
            parent = by_id.get((fk.ref_schema, fk.ref_table))
            if parent is not None and parent is not t:
                visit(parent)
        state[key] = "done"
        ordered.append(t)

    for t in sorted(tables, key=lambda t: (t.schema, t.name)):
        visit(t)
    return ordered


def build_operations(plan: Plan, catalog: Catalog, dialect: Dialect) -> tuple[MigrationContext, list[Operation]]:
    """Operations for ``plan`` in dependency order; raises PlanError listing every problem found."""
    problems: list[str] = []
    ctx = MigrationContext(plan=plan, catalog=catalog, dialect=dialect)
    specs: dict[tuple[str, str], object] = {}
    sources = [s.source for s in plan.schemas]
    targets = [s.target for s in plan.schemas]
    for i, schema_spec in enumerate(plan.schemas):
        key = f"schemas.{schema_spec.source}"
        if sources.count(schema_spec.source) > 1:
            problems.append(f"{key}: this source schema appears twice in the plan; merge the entries")
        if schema_spec.target in sources or targets.count(schema_spec.target) > 1 or schema_spec.target == plan.control:
            problems.append(f"{key}.target: {schema_spec.target!r} is already used by the plan; choose a new name")
        if len(schema_spec.target) > 64:
            problems.append(f"{key}.target: longer than 64 characters; choose a shorter name")
        if plan.cutover.rename_to_final and not schema_spec.final:
            problems.append(f"{key}.final: cutover.rename_to_final is on; name the schema v2 becomes")
        if schema_spec.final == schema_spec.source and not schema_spec.archive:
            problems.append(f"{key}.archive: v2 takes v1's name at cut-over; name the schema v1 moves to")
        try:
            schema = catalog.schema(schema_spec.source)
        except KeyError:
            problems.append(f"{key}: not in the heading; run `djsqlgen inspect` with this schema, or remove it")
            continue
        for name in schema_spec.tables:
            if name not in {t.name for t in schema.tables}:
                problems.append(f"{key}.tables.{name}: {schema.name} has no table {name!r}; check the name")
        for table in schema.tables:
            spec = schema_spec.tables.get(table.name)
            if spec is None:
                problems.append(f"{key}.tables.{table.name}: table missing from the plan; add `{table.name}: keep` (or drop)")
                continue
            specs[(table.schema, table.name)] = (schema_spec, table, spec)

    tables = [table for (_, table, _) in specs.values()]
    operations: list[Operation] = []
    for table in dependency_order(tables):
        schema_spec, _, spec = specs[(table.schema, table.name)]
        if spec == DROP:
            operations.append(DropTable(table))
            continue
        table_spec = TableSpec() if spec == "keep" else spec
        if spec == "keep":
            table_spec = TableSpec(columns={a.name: "keep" for a in table.attributes})
        mapping: TableMapping = build_mapping(plan, schema_spec, table, table_spec, catalog, problems)
        ctx.mappings[mapping.source_id] = mapping
        operations.append(CopyTable(mapping))

    target_names: dict[tuple[str, str], str] = {}
    for m in ctx.mappings.values():
        where = (m.target_schema, m.target_name)
        if where in target_names:
            problems.append(
                f"schemas.{m.source.schema}.tables.{m.source.name}.rename: {m.target_name!r} is also the v2 name of "
                f"{target_names[where]}; choose another"
            )
        target_names[where] = m.source.full_name
    seen_names: dict[tuple[str, str], str] = {}
    for m in ctx.mappings.values():
        for event in ("INSERT", "UPDATE", "DELETE"):
            name = (m.source.schema, naming.trigger_name(plan.name, m.source.name, event))
            if name in seen_names and seen_names[name] != m.source.name:
                problems.append(f"schemas.{m.source.schema}.tables.{m.source.name}: its trigger name {name[1]!r} is "
                                f"also that of {seen_names[name]!r}; rename the plan (name:)")
            seen_names[name] = m.source.name
    for op in operations:
        problems.extend(op.validate(ctx))
    if problems:
        raise PlanError(problems)
    return ctx, operations
