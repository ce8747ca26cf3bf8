"""DataJoint 2.x's ``~lineage`` rows for the v2 model, as its own ``rebuild_schema_lineage`` computes them.

2.x joins two tables on an attribute only when both sides trace it to the same origin, which it keeps per
schema in ``~lineage`` (one row per primary-key and foreign-key attribute, ``_`` names left out): a
foreign-key attribute has its parent attribute's origin, any other key attribute is its own origin,
``<schema>.<table>.<attribute>``. A schema without the table breaks joins in 2.3 (its lazy heading load
raises "lineage missing on one side"), so the preset writes it; the rows depend only on the model, so
they are computed here and written as constants (and rewritten when cut-over renames the schemas).
"""

from __future__ import annotations

from djsqlgen.model.target import Model, Target

LINEAGE_TABLE = "~lineage"


def lineage_rows(model: Model) -> dict[str, list[tuple[str, str, str]]]:
    """v2 schema → its ``(table_name, attribute_name, lineage)`` rows, sorted."""
    by_id = {t.id: t for t in model.targets}
    memo: dict[tuple[str, str], str] = {}

    def origin(target: Target, column: str, seen: frozenset = frozenset()) -> str:
        key = (target.id, column)
        if key not in memo:
            memo[key] = _origin(target, column, seen | {key})
        return memo[key]

    def _origin(target: Target, column: str, seen: frozenset) -> str:
        for fk in target.foreign_keys:
            if column in fk.columns:
                ref_column = fk.ref_columns[fk.columns.index(column)]
                parent = by_id.get(fk.parent) if fk.parent else None
                if parent is not None and (parent.id, ref_column) not in seen:
                    return origin(parent, ref_column, seen)
                if fk.outside is not None:  # a parent outside the plan: its column is the origin we can name
                    return f"{fk.outside.schema}.{fk.outside.name}.{ref_column}"
        return f"{target.schema}.{target.name}.{column}"

    rows: dict[str, list[tuple[str, str, str]]] = {}
    for target in model.targets:
        if target.name.startswith("~"):
            continue
        columns = list(target.primary_key) + [c for fk in target.foreign_keys for c in fk.columns]
        for column in dict.fromkeys(columns):
            if not column.startswith("_"):
                rows.setdefault(target.schema, []).append((target.name, column, origin(target, column)))
    return {schema: sorted(found) for schema, found in sorted(rows.items())}
