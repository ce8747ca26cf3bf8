"""How a plan names another table: ``name`` in the same v1 schema, or ``schema.name``."""

from __future__ import annotations

from djsqlgen.model.target import Model, TableRef, Target


def resolve_table(model: Model, text: str, default_schema: str) -> TableRef | None:
    """The v1 table ``text`` names, when the heading has it."""
    if model.v1.find_table(default_schema, text):
        return TableRef(default_schema, text)
    schema, sep, name = text.partition(".")
    if sep and model.v1.find_table(schema, name):
        return TableRef(schema, name)
    return None


def target_of(model: Model, ref: TableRef | None) -> str | None:
    """The id of the target made from v1 table ``ref`` (its identity id), if it is still in the model."""
    if ref is None:
        return None
    tid = f"{ref.schema}.{ref.name}"
    return tid if model.find(tid) else None


def moved_column_problems(plan_key: str, target: Target, column: str, stays: str) -> list[str]:
    """Why ``column`` cannot leave ``target`` for another table (a lookup, a part): an index or a foreign key of
    ``target`` uses it. ``stays`` ends the index message: where the column must then stay."""
    problems = [f"{plan_key}.columns: index {index.name!r} of {target.label} uses {column!r}; keep the column in "
                f"{stays}" for index in (*target.indexes, *target.unique_indexes) if column in index.columns]
    problems += [f"{plan_key}.columns: foreign key {fk.name!r} of {target.label} uses {column!r}; drop that reference "
                 "first (drop_references)" for fk in target.foreign_keys if column in fk.columns]
    return problems
