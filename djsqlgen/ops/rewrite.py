"""Rewrites several operations share: a column renamed in every place that names it."""

from __future__ import annotations

from dataclasses import replace

from djsqlgen.catalog.heading import Index
from djsqlgen.model.target import Model, Target


def _rename_in(names: tuple[str, ...], old: str, new: str) -> tuple[str, ...]:
    return tuple(new if n == old else n for n in names)


def _rename_in_clause(clause: str, old: str, new: str) -> str:
    """A CHECK clause with the backticked column ``old`` replaced (MariaDB reports clauses backticked)."""
    quoted_old, quoted_new = "`" + old.replace("`", "``") + "`", "`" + new.replace("`", "``") + "`"
    return clause.replace(quoted_old, quoted_new)


def rename_column_everywhere(model: Model, target_id: str, old: str, new: str) -> Model:
    """Column ``old`` of ``target_id`` is now ``new``: its key, indexes, checks, foreign keys and the
    foreign keys of children that reference it follow."""

    def in_target(t: Target) -> Target:
        return replace(
            t,
            primary_key=_rename_in(t.primary_key, old, new),
            indexes=tuple(Index(i.name, _rename_in(i.columns, old, new), i.unique) for i in t.indexes),
            unique_indexes=tuple(Index(i.name, _rename_in(i.columns, old, new), i.unique) for i in t.unique_indexes),
            checks=tuple((name, _rename_in_clause(clause, old, new)) for name, clause in t.checks),
            foreign_keys=tuple(replace(fk, columns=_rename_in(fk.columns, old, new)) for fk in t.foreign_keys),
        )

    targets = []
    for t in model.targets:
        if t.id == target_id:
            t = in_target(t)
        if any(fk.parent == target_id for fk in t.foreign_keys):
            t = replace(t, foreign_keys=tuple(
                replace(fk, ref_columns=_rename_in(fk.ref_columns, old, new)) if fk.parent == target_id else fk
                for fk in t.foreign_keys))
        targets.append(t)
    return replace(model, targets=tuple(targets))
