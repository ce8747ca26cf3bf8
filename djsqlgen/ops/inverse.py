"""Two-way sync: the value a row inserted into v2 gives a v1 column v2 dropped (the plan's ``inverse:``).

Two forms. An SQL expression over the v2 row (its columns by their v2 names), parsed and checked as every plan
expression is (model/expr.py: one expression, no subquery, nothing volatile, nothing that fails on some value of
the v2 column types). Or ``{next_for: [columns]}``: one more than the largest value v1 holds among its rows with the
same values of those columns, which must be a foreign key of v1's table to a parent (``session_idx`` numbered per
subject). The reverse trigger takes an exclusive lock on that parent's v1 row before it reads the largest value, so
two writers numbering rows of one parent take turns (RUNBOOK, Lock discipline).

Only an insert uses it: a v2 update leaves v1's value as it is (model/reverse.py). The expression form is also
checked on v1's rows in plan check, 00 and 70 (model/checks.py ``inverse_checks``): computed from forward(v1), it
must give each row's own value back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.catalog.sqltypes import parse_sql_type
from djsqlgen.model.expr import ColumnRef, Expr, ExprError, parse
from djsqlgen.model.reverse import carried_back
from djsqlgen.model.target import DRIVING, Inverse, Model, Target, TableRef
from djsqlgen.ops.base import Operation


def parse_over_v2(target: Target, text: str) -> Expr:
    """An ``inverse:`` expression: its columns are the v2 row's, by their v2 names (raises ExprError)."""
    names = [c.name for c in target.columns]

    def resolve(qualifier: str | None, name: str) -> ColumnRef:
        if qualifier is not None:
            raise ExprError(f"write {name} without {qualifier}.: an inverse reads the v2 row's own columns")
        if name not in names:
            raise ExprError(f"{target.label} has no column {name!r}; its columns are {', '.join(names)}")
        return ColumnRef(DRIVING, name)

    def type_of(qualifier: str | None, name: str) -> str | None:
        return target.column(name).decl.sql_type if name in names and qualifier is None else None

    return parse(text, resolve, type_of)


@dataclass(frozen=True)
class SetInverse(Operation):
    target_id: str
    v1_column: str
    expr: str | None = None
    next_for: tuple[str, ...] = ()
    two_way: bool = True  # whether the plan syncs this table both ways

    def _lock(self, model: Model, target: Target) -> tuple[TableRef, tuple[tuple[str, str], ...]] | str:
        """The v1 parent whose row a ``next_for`` numbering locks, with its key columns and the v2 columns holding
        them; or the problem."""
        v1 = model.v1_table(target.source.driving)
        v1_of = {v2: v1_name for v1_name, v2 in carried_back(target).items()}
        missing = [c for c in self.next_for if c not in v1_of]
        if missing:
            what = "is not a v2 column" if len(missing) == 1 else "are not v2 columns"
            return (f"{', '.join(map(repr, missing))} {what} copied from v1; name the v2 columns of the foreign key "
                    "to the parent the numbers are per")
        wanted = {v1_of[c] for c in self.next_for}
        for fk in v1.foreign_keys:
            if set(fk.columns) == wanted:
                by_v1 = {v1_of[c]: c for c in self.next_for}
                return TableRef(fk.ref_schema, fk.ref_table), tuple((r, by_v1[c]) for c, r in zip(fk.columns,
                                                                                                   fk.ref_columns))
        return (f"{', '.join(self.next_for)} {'is' if len(self.next_for) == 1 else 'are'} not a foreign key of "
                f"{v1.schema}.{v1.name} to a parent: numbering takes turns on the parent's v1 row (its lock); name "
                "the columns of one foreign key")

    def validate(self, model: Model) -> list[str]:
        target = model.target(self.target_id)
        v1 = model.v1_table(target.source.driving)
        key = f"{self.plan_key}.{self.v1_column}"
        if not self.two_way:
            return [f"{key}: the table syncs one way, so nothing is carried back to compute; remove it, or sync the "
                    "table two-way"]
        if self.v1_column not in v1.attribute_names:
            return [f"{key}: {v1.schema}.{v1.name} has no column {self.v1_column!r}; its columns are "
                    f"{', '.join(v1.attribute_names)}"]
        kept = carried_back(target).get(self.v1_column)
        if kept is not None:
            return [f"{key}: v2 keeps {self.v1_column!r} as {kept!r}, which gives v1 its value; `inverse:` is for a "
                    "column v2 dropped: remove this entry"]
        computed = [c.name for c in target.columns if ColumnRef(DRIVING, self.v1_column) in c.expr.refs]
        if computed:
            return [f"{key}: v2 computes {', '.join(computed)} from {self.v1_column!r}; `inverse:` gives a value "
                    "only to a column v2 dropped (sync this table one-way)"]
        if self.next_for:
            attr = v1.attribute(self.v1_column)
            if parse_sql_type(attr.sql_type).family != "int":
                return [f"{key}.next_for: {self.v1_column!r} is {attr.sql_type}; numbering needs an integer column"]
            lock = self._lock(model, target)
            return [f"{key}.next_for: {lock}"] if isinstance(lock, str) else []
        try:
            parse_over_v2(target, self.expr or "")
        except ExprError as exc:
            return [f"{key}: {exc}"]
        return []

    def apply(self, model: Model) -> Model:
        target = model.target(self.target_id)
        key = f"{self.plan_key}.{self.v1_column}"
        if self.next_for:
            lock, lock_on = self._lock(model, target)
            inverse = Inverse(self.v1_column, None, key, self.next_for, lock, lock_on)
        else:
            inverse = Inverse(self.v1_column, parse_over_v2(target, self.expr or ""), key)
        return model.replace_target(replace(target, inverses=target.inverses + (inverse,)))

    def reverse(self) -> Operation | None:
        return self  # (it is the way back itself: nothing v1 → v2 changes)
