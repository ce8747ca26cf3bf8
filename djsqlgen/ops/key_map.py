"""Whether a target's key still maps v1 rows one to one, and in the same order, after a change."""

from __future__ import annotations

from djsqlgen.catalog.sqltypes import SAME, key_comparison
from djsqlgen.model.target import DRIVING, KeyMap, Model, Target


def derive_key_map(model: Model, target: Target, why: str) -> KeyMap:
    """The key map of ``target`` from its columns: ``why`` explains a ``checked`` result.

    Each driving key column must be covered by the new key: by a key column that is a bare copy of it
    (a retype that keeps distinct values distinct), or by the columns that follow a parent's key through
    a foreign key that uses it (the parent's own check covers them). Aligned when the key is exactly
    the driving key, in order, compared the same way.
    """
    driving = model.v1_table(target.source.driving)
    by_name = {c.name: c for c in target.columns}
    key = [by_name[k] for k in target.primary_key if k in by_name]
    comparisons = {}
    for column in key:
        if column.expr.is_column and column.expr.refs[0].alias == DRIVING:
            attr = driving.attribute(column.expr.refs[0].name)
            comparisons[attr.name] = key_comparison(attr.sql_type, attr.collation, column.decl.sql_type,
                                                    column.decl.collation)
    followed = {c.follows for c in key if c.follows}
    followed_v1 = {col for fk in target.foreign_keys if fk.name in followed for col in fk.v1_columns}
    covered = all(comparisons.get(k) in (SAME, "injective") or k in followed_v1 for k in driving.primary_key)
    aligned = (len(key) == len(driving.primary_key)
               and all(c.expr.is_column and c.expr.refs[0].name == k and comparisons.get(k) == SAME and not c.follows
                       for c, k in zip(key, driving.primary_key)))
    if target.source.filter is not None or target.source.distinct:
        aligned = aligned and not target.source.distinct
    return KeyMap(aligned=aligned, proof="structure" if covered else "checked", why="" if covered else why)
