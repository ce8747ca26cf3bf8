"""Change a v2 column: rename, retype, compute it with an expression, change comment, nullability, default."""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.catalog.sqltypes import (
    MAY_MERGE,
    SAME,
    kept_default,
    key_comparison,
    lossy_reason,
    normalise_type,
    parse_sql_type,
)
from djsqlgen.model.checks import DataCheck
from djsqlgen.model.convert import explicit_narrowing
from djsqlgen.model.expr import ExprError, parse_constant
from djsqlgen.model.identity import column_decl, parse_in
from djsqlgen.model.target import KeyMap, Model, Target
from djsqlgen.ops.base import Operation
from djsqlgen.ops.naming_rules import identifier_problems, text_charset
from djsqlgen.ops.rewrite import rename_column_everywhere
from djsqlgen.ops.unique_key import key_unique_check


@dataclass(frozen=True)
class AlterColumn(Operation):
    target_id: str
    column: str  # its name when this operation runs
    rename: str | None = None
    type: str | None = None
    expr: str | None = None
    comment: str | None = None
    nullable: bool | None = None
    default: str | None = None
    charset: str | None = None
    collation: str | None = None
    allow_lossy: bool = False

    def _current(self, model: Model) -> tuple[Target, object]:
        target = model.target(self.target_id)
        return target, target.column(self.column)

    def validate(self, model: Model) -> list[str]:
        target, column = self._current(model)
        decl = column.decl
        problems: list[str] = []
        if self.rename:
            problems += identifier_problems(self.rename, f"{self.plan_key}.rename")
        if self.expr is not None:
            try:
                parse_in(model, target, self.expr)
            except ExprError as exc:
                problems.append(f"{self.plan_key}.expr: {exc}")
        if self.default is not None:
            try:
                parse_constant(self.default, volatile_ok=True)
            except ExprError as exc:
                problems.append(f"{self.plan_key}.default: {exc}")
        new_type = self.type or decl.sql_type
        changed = self.type is not None and normalise_type(self.type) != normalise_type(decl.sql_type)
        if changed and self.expr is None:
            reason = lossy_reason(decl.sql_type, new_type)
            if reason and not self.allow_lossy:
                problems.append(f"{self.plan_key}.type: {reason}; widen the type, or set allow_lossy: true to accept it")
            elif reason:
                narrowed = explicit_narrowing(column.expr, decl.sql_type, new_type, self._nullable(decl))
                if isinstance(narrowed, str):
                    problems.append(f"{self.plan_key}.allow_lossy: {narrowed}")
        if changed and self.default is None and decl.default is not None:
            why = kept_default(decl.default, new_type)[1]
            if why:
                problems.append(f"{self.plan_key}.default: v1's default {decl.default} cannot be kept in {new_type} "
                                f"({why}); give default: a value of {new_type}, or default: NULL for none")
        if decl.nullable and not self._nullable(decl) and self.expr is None:
            problems.append(f"{self.plan_key}.nullable: v1 allows NULL here but v2 would not; give an expr such as "
                            f"COALESCE({self.column}, <value>), or keep nullable")
        if self.column in target.primary_key and self._nullable(decl):
            problems.append(f"{self.plan_key}.nullable: {self.column!r} is in the primary key, which cannot hold NULL")
        return problems

    def _nullable(self, decl) -> bool:
        return decl.nullable if self.nullable is None else self.nullable

    def apply(self, model: Model) -> Model:
        target, column = self._current(model)
        decl = column.decl
        new_type = self.type or decl.sql_type
        changed = self.type is not None and normalise_type(self.type) != normalise_type(decl.sql_type)
        nullable = self._nullable(decl)
        expr, copied_from = column.expr, column.copied_from
        if self.expr is not None:
            expr, copied_from = parse_in(model, target, self.expr), None
        elif changed:
            expr = explicit_narrowing(column.expr, decl.sql_type, new_type, nullable) if self.allow_lossy else expr
            copied_from = None
        same_family = parse_sql_type(new_type).family == parse_sql_type(decl.sql_type).family
        # A retype keeps the character set and collation (a key's comparison must not change by accident),
        # unless the plan names new ones or the type leaves the string family.
        charset = self.charset or (decl.charset if same_family else None)
        collation = self.collation or (decl.collation if same_family and not self.charset else None)
        charset, collation = text_charset(new_type, charset, collation, target)
        if self.charset or self.collation:
            copied_from = None
        default = decl.default if self.default is None else parse_constant(self.default, volatile_ok=True)
        if changed and self.default is None:
            # v1's default, as the new type spells it (validate refused one that cannot be kept): an INSERT that
            # leaves the column out must work on v2 as it does on v1
            default = kept_default(default, new_type)[0] if default is not None else None
            if default is None and nullable:
                default = "NULL"
        if not nullable and default == "NULL":
            default = None
        new_decl = replace(decl, name=self.rename or decl.name, sql_type=new_type, nullable=nullable, default=default,
                           auto_increment=decl.auto_increment and not changed and self.expr is None,
                           comment=decl.comment if self.comment is None else self.comment,
                           charset=charset, collation=collation)
        columns = tuple(replace(c, decl=new_decl, expr=expr, copied_from=copied_from, plan_key=self.plan_key)
                        if c.name == self.column else c
                        for c in target.columns)
        target = replace(target, columns=columns)
        if self.column in target.primary_key:
            target = replace(target, key_map=self._key_map(target, decl, new_decl))
        model = model.replace_target(target)
        if self.rename and self.rename != self.column:
            model = rename_column_everywhere(model, self.target_id, self.column, self.rename)
        return model

    def _key_map(self, target: Target, old, new) -> KeyMap:
        if self.expr is not None:
            return KeyMap(False, "checked", f"key column {new.name!r} is computed by an expression")
        comparison = key_comparison(old.sql_type, old.collation, new.sql_type, new.collation)
        if comparison == SAME:
            return target.key_map
        if comparison == MAY_MERGE:
            return KeyMap(False, "checked", f"key column {new.name!r} changes from {old.sql_type} "
                                            f"{old.collation or ''} to {new.sql_type} {new.collation or ''}, "
                                            "which can make two v1 keys equal")
        return KeyMap(False, target.key_map.proof, target.key_map.why)

    def data_checks(self, model: Model) -> list[DataCheck]:
        target = model.find(self.target_id)
        if target is None:  # merged into its master (merge_into_master), whose own key keeps its checks
            return []
        name = self.rename or self.column
        checks = []
        if name in target.primary_key and target.key_map.proof == "checked":
            checks.append(key_unique_check(model, target, self.plan_key))
        # (asked only where an index uses it: a column moved into a lookup is no longer in the target)
        indexes = [i for i in target.unique_indexes if name in i.columns]
        why = self._may_merge(model, target, name) if indexes else ""
        for index in (i for i in indexes if why):
            checks.append(DataCheck(
                kind="index_unique", target_id=target.id, plan_key=self.plan_key, detail=index.name,
                what=f"the unique index {index.name} ({', '.join(index.columns)}) of {target.label} stays unique over "
                     f"{target.source.driving.label}: {why}",
                fix="change the data in v1 so no two rows share the index's values, or keep the column as it is "
                    "(a collation such as utf8mb4_bin keeps 'a' and 'A' apart)"))
        return checks

    def _may_merge(self, model: Model, target: Target, name: str) -> str:
        """Why two v1 values of this column can be one in v2 ('' when they cannot), as for a key column."""
        if self.expr is not None:
            return f"column {name!r} is computed by an expression"
        v1 = model.v1_table(target.source.driving)
        if self.column not in v1.attribute_names:
            return ""
        old, new = column_decl(v1.attribute(self.column)), target.column(name).decl
        if key_comparison(old.sql_type, old.collation, new.sql_type, new.collation) == MAY_MERGE:
            return (f"column {name!r} changes from {old.sql_type} {old.collation or ''} to {new.sql_type} "
                    f"{new.collation or ''}, which can make two v1 values equal")
        return ""

    def reverse(self) -> Operation | None:
        if self.expr is not None or self.allow_lossy:
            return None
        return AlterColumn(self.plan_key, self.target_id, self.rename or self.column, rename=self.column
                           if self.rename else None)

    @property
    def irreversible(self) -> str:
        if self.expr is not None:
            return f"{self.column} is computed by an expression with no inverse"
        if self.allow_lossy:
            return f"{self.column} is narrowed; v2 values cannot restore the v1 values cut off"
        return ""
