"""Operations: one module per kind of change, each a pure rewrite of the target model.

``build_model`` turns a plan into operations (the plan's keys are shorthand for them; ``REGISTRY``
names which module each key becomes), applies them to the identity model of the plan's schemas,
and collects every problem first: nothing is generated from a plan with a problem.
"""

from __future__ import annotations

from dataclasses import dataclass

from djsqlgen.catalog.heading import Catalog, Table
from djsqlgen.errors import PlanError
from djsqlgen.model.checks import DataCheck
from djsqlgen.model.identity import identity_model, target_id
from djsqlgen.model.target import Model, SchemaMap
from djsqlgen.ops.add_column import AddColumn
from djsqlgen.ops.add_join import AddJoin
from djsqlgen.ops.add_parent import AddParent
from djsqlgen.ops.alter_column import AlterColumn
from djsqlgen.ops.base import Operation
from djsqlgen.ops.change_key import ChangeKey
from djsqlgen.ops.convert_external import ConvertExternal
from djsqlgen.ops.drop_column import DropColumn
from djsqlgen.ops.drop_reference import DropReference
from djsqlgen.ops.drop_table import DropTable
from djsqlgen.ops.extract_lookup import ExtractLookup
from djsqlgen.ops.extract_part import ExtractPart
from djsqlgen.ops.follow import FollowParents
from djsqlgen.ops.inverse import SetInverse
from djsqlgen.ops.invariants import model_problems
from djsqlgen.ops.merge_part import MergePart
from djsqlgen.ops.move_part import MovePart
from djsqlgen.ops.rename_table import RenameTable
from djsqlgen.ops.split_table import SplitTable
from djsqlgen.plan import DROP, KEEP, ColumnChange, Plan, TableSpec

# Plan key -> the operation it becomes. Unknown keys never get here: the plan file refuses them.
REGISTRY: dict[str, type[Operation]] = {
    "tables.<t>: drop": DropTable,
    "tables.<t>.rename": RenameTable,
    "tables.<t>.columns.<c>: drop": DropColumn,
    "tables.<t>.columns.<c>: {rename, type, expr, ...}": AlterColumn,
    "tables.<t>.add.<c>": AddColumn,
    "tables.<t>.key": ChangeKey,
    "tables.<t>.joins.<alias>": AddJoin,
    "tables.<t>.add_parents[]": AddParent,
    "tables.<t>.drop_references[]": DropReference,
    "tables.<t>.move_to": MovePart,
    "tables.<t>.lookups[]": ExtractLookup,
    "tables.<t>.split[]": SplitTable,
    "tables.<t>.parts[]": ExtractPart,
    "tables.<t>.merge_into_master": MergePart,
    "tables.<t>.inverse.<c>": SetInverse,
    "(every kept table, first)": FollowParents,
    # preset: dj014-to-dj2 also makes AlterColumn, TableCharset and DropReference operations (djsqlgen.presets.dj2)
    "preset: dj014-to-dj2, an external attribute (before its own entry)": ConvertExternal,
}

__all__ = ["REGISTRY", "Built", "Operation", "build_model"]


@dataclass(frozen=True)
class Built:
    """A plan made into a model: the operations in the order applied, the model, and its data checks."""

    model: Model
    operations: tuple[Operation, ...]
    data_checks: tuple[DataCheck, ...]

    @property
    def notes(self) -> list[str]:
        """What cannot be carried back from v2 to v1 (for plan check and the runbook)."""
        return [f"{op.plan_key}: cannot be reversed: {op.irreversible}" for op in self.operations if op.irreversible]


def v1_dependency_order(tables: list[Table]) -> list[Table]:
    """Tables parents first (v1 foreign keys), ties in (schema, name) order."""
    from graphlib import TopologicalSorter

    by_id = {(t.schema, t.name): t for t in tables}
    graph = {key: {(fk.ref_schema, fk.ref_table) for fk in t.foreign_keys
                   if (fk.ref_schema, fk.ref_table) in by_id and (fk.ref_schema, fk.ref_table) != key}
             for key, t in by_id.items()}
    sorter = TopologicalSorter(graph)
    sorter.prepare()
    order = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return [by_id[k] for k in order]


def _schema_problems(plan: Plan, catalog: Catalog) -> list[str]:
    problems = []
    sources = [s.source for s in plan.schemas]
    targets = [s.target for s in plan.schemas]
    for spec in plan.schemas:
        key = f"schemas.{spec.source}"
        if sources.count(spec.source) > 1:
            problems.append(f"{key}: this source schema appears twice in the plan; merge the entries")
        if spec.target in sources or targets.count(spec.target) > 1 or spec.target == plan.control:
            problems.append(f"{key}.target: {spec.target!r} is already used by the plan; choose a new name")
        if len(spec.target) > 64:
            problems.append(f"{key}.target: longer than 64 characters; choose a shorter name")
        if plan.cutover.rename_to_final and not spec.final:
            problems.append(f"{key}.final: cutover.rename_to_final is on; name the schema v2 becomes")
        if spec.final == spec.source and not spec.archive:
            problems.append(f"{key}.archive: v2 takes v1's name at cut-over; name the schema v1 moves to")
        try:
            schema = catalog.schema(spec.source)
        except KeyError:
            problems.append(f"{key}: not in the heading; run `djsqlgen inspect` with this schema, or remove it")
            continue
        names = {t.name for t in schema.tables}
        for name in spec.tables:
            if name not in names:
                problems.append(f"{key}.tables.{name}: {schema.name} has no table {name!r}; check the name")
        for table in schema.tables:
            if table.name not in spec.tables:
                problems.append(f"{key}.tables.{table.name}: table missing from the plan; add `{table.name}: keep` "
                                "(or drop)")
    if plan.preset is not None and plan.cutover.rename_to_final:  # one ~lineage per final schema, renamed once
        finals = [s.final for s in plan.schemas if s.final]
        for spec in plan.schemas:
            if spec.final and (finals.count(spec.final) > 1 or spec.final in [t for t in targets if t != spec.target]):
                problems.append(f"schemas.{spec.source}.final: {spec.final!r} is also another v2 schema's final or "
                                f"versioned name; with preset {plan.preset.name} each v2 schema keeps a ~lineage of "
                                "its own: give it a name of its own")
    if plan.control in sources:
        problems.append(f"control_schema: {plan.control!r} is a source schema of the plan; djsqlgen must own its "
                        "control schema: choose a new name")
    return problems


def _table_operations(plan_key: str, table: Table, spec: TableSpec, plan: Plan) -> tuple[list[Operation], list[str]]:
    """The operations of one kept table, in the order they apply; problems with its column list."""
    tid = target_id(table)
    ops: list[Operation] = [FollowParents(plan_key, tid)]
    if plan.preset is not None:  # first: the plan's own entries start from the preset's columns
        from djsqlgen.presets.dj2 import preset_operations

        dropped = {name for name, change in spec.columns.items() if change == DROP}
        ops += [op for op in preset_operations(plan_key, table, plan.preset)
                if getattr(op, "column", None) not in dropped]
    ops += [DropReference(f"{plan_key}.drop_references", tid, parent) for parent in spec.drop_references]
    ops += [AddJoin(f"{plan_key}.joins.{alias}", tid, alias, join.table, tuple(join.by.items()), join.kind)
            for alias, join in spec.joins.items()]
    problems = []
    for name in spec.columns:
        if name not in table.attribute_names:
            problems.append(f"{plan_key}.columns.{name}: {table.full_name} has no column {name!r}; its columns are "
                            f"{', '.join(table.attribute_names)}")
    for attr in table.attributes:
        change = spec.columns.get(attr.name)
        column_key = f"{plan_key}.columns.{attr.name}"
        if change is None:
            problems.append(f"{column_key}: column missing from the plan; add `{attr.name}: keep` (or drop)")
        elif change == DROP:
            ops.append(DropColumn(column_key, tid, attr.name))
        elif isinstance(change, ColumnChange):
            entry = change.model_dump(exclude_none=True)
            if plan.preset is not None:  # type and comment in the preset's terms: the 2.x marker follows the type
                from djsqlgen.presets.dj2 import json_columns, plan_entry

                entry, found = plan_entry(column_key, attr, entry, plan.preset, attr.name in json_columns(table))
                problems += found
            ops.append(AlterColumn(column_key, tid, attr.name, **entry))
    for name, added in spec.add.items():
        ops.append(AddColumn(f"{plan_key}.add.{name}", tid, name, **added.model_dump(exclude_none=True)))
    # after the columns took their v2 names and types, before a new key: a lookup is made of v2 columns
    ops += [ExtractLookup(f"{plan_key}.lookups[{i}]", tid, lookup.table, tuple(lookup.key), tuple(lookup.columns),
                          lookup.comment) for i, lookup in enumerate(spec.lookups)]
    ops += [ExtractPart(f"{plan_key}.parts[{i}]", tid, part.name, tuple(part.columns))
            for i, part in enumerate(spec.parts)]
    if spec.key is not None:
        ops.append(ChangeKey(f"{plan_key}.key", tid, tuple(spec.key)))
    ops += [AddParent(f"{plan_key}.add_parents[{i}]", tid, p.parent, tuple(p.columns.items()), p.name, p.on_update,
                      p.on_delete) for i, p in enumerate(spec.add_parents)]
    # after the columns and the key took their v2 form: an inverse reads the v2 row
    two_way = plan.sync == "two-way" and spec.sync != "one-way"
    ops += [SetInverse(f"{plan_key}.inverse", tid, column, expr=value if isinstance(value, str) else None,
                       next_for=() if isinstance(value, str) else tuple(value.next_for), two_way=two_way)
            for column, value in spec.inverse.items()]
    if spec.rename:
        ops.append(RenameTable(plan_key, tid, spec.rename))
    if spec.split:  # last: each side takes the table as its other changes made it, under a name of its own
        ops.append(SplitTable(f"{plan_key}.split", tid, tuple((side.table, side.where) for side in spec.split)))
    if spec.merge_into_master:  # last: the master reads the part as its own changes made it
        ops.append(MergePart(f"{plan_key}.merge_into_master", tid))
    return ops, problems


def desugar(plan: Plan, catalog: Catalog) -> tuple[list[Operation], list[str]]:
    """The plan's entries as operations: kept tables parents first (so children follow new keys), drops last."""
    entries = {}
    for spec in plan.schemas:
        for name, table_spec in spec.tables.items():
            table = catalog.find_table(spec.source, name)
            if table is not None:
                entries[(table.schema, table.name)] = (f"schemas.{spec.source}.tables.{name}", table_spec)
    tables = [catalog.table(s, n) for s, n in entries]
    ops: list[Operation] = []
    moves: list[Operation] = []
    drops: list[Operation] = []
    problems: list[str] = []
    for table in v1_dependency_order(tables):
        plan_key, spec = entries[(table.schema, table.name)]
        if spec == DROP:
            drops.append(DropTable(plan_key, target_id(table)))
            continue
        if spec == KEEP or "columns" not in spec.model_fields_set:  # no column list: every column kept
            columns = {a.name: KEEP for a in table.attributes}
            spec = TableSpec(columns=columns) if spec == KEEP else spec.model_copy(update={"columns": columns})
        table_ops, table_problems = _table_operations(plan_key, table, spec, plan)
        ops += table_ops
        problems += table_problems
        if spec.move_to:  # after every table's own changes: the new master has its final name and key
            moves.append(MovePart(plan_key, target_id(table), spec.move_to))
    return ops + moves + drops, problems


def build_model(plan: Plan, catalog: Catalog) -> Built:
    """The model of ``plan``; raises PlanError listing every problem found."""
    from djsqlgen.ops.directions import sync_problems

    problems = _schema_problems(plan, catalog) + sync_problems(plan)
    if problems:
        raise PlanError(problems)
    model = identity_model(catalog, [SchemaMap(s.source, s.target, s.final, s.archive) for s in plan.schemas])
    operations, problems = desugar(plan, catalog)
    applied = []
    for op in operations:
        moot = _moot(op, model)
        if moot:
            problems.append(moot)
            continue
        found = op.validate(model)
        if found:
            problems += found
            continue
        model = op.apply(model)
        applied.append(op)
    if plan.preset is not None and not problems:  # after every operation: which columns a foreign key brings
        from djsqlgen.presets.dj2 import mark_references

        model = mark_references(model)
    problems += model_problems(model, plan)
    if problems:
        raise PlanError(list(dict.fromkeys(problems)))
    checks = {}
    for op in applied:
        for check in op.data_checks(model):
            target = model.find(check.target_id)
            if target is not None and (check.kind != "key_unique" or target.key_map.proof == "checked"):
                checks.setdefault(check.id, check)
    for target in model.targets:  # a key that only became checked by following keeps its own check
        if target.key_map.proof == "checked" and not target.source.distinct and f"key_unique.{target.id}" not in checks:
            from djsqlgen.ops.unique_key import key_unique_check

            checks[f"key_unique.{target.id}"] = key_unique_check(model, target, target.plan_key)
    return Built(model, tuple(applied), tuple(checks.values()))


def _moot(op: Operation, model: Model) -> str:
    """Why ``op`` cannot run any more: its column went with a parent's key attribute ('' when it can)."""
    column = getattr(op, "column", None)
    target = model.find(getattr(op, "target_id", ""))
    if column is not None and target is not None and not target.has_column(column):
        return (f"{op.plan_key}: {target.label} no longer has {column!r}: it came from a parent whose new key "
                f"drops it, so it goes too; write `{column}: keep` (or drop)")
    return ""
