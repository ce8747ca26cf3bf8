"""A column that exists only in v2: filled with a constant default, or computed by an expression over v1."""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.model.expr import Expr, ExprError, parse_constant
from djsqlgen.model.identity import parse_in
from djsqlgen.model.target import ColumnDecl, Model, TargetColumn
from djsqlgen.ops.base import Operation
from djsqlgen.ops.naming_rules import identifier_problems, text_charset


@dataclass(frozen=True)
class AddColumn(Operation):
    target_id: str
    name: str
    type: str
    expr: str | None = None
    default: str | None = None
    nullable: bool = False
    comment: str = ""
    charset: str | None = None
    collation: str | None = None

    def validate(self, model: Model) -> list[str]:
        target = model.target(self.target_id)
        problems = identifier_problems(self.name, self.plan_key)
        if target.has_column(self.name):
            problems.append(f"{self.plan_key}: v2 already has a column {self.name!r} (from v1); choose another name")
        if self.expr is None and self.default is None and not self.nullable:
            problems.append(f"{self.plan_key}: a NOT NULL column needs a value for the rows of v1; give `default` or "
                            "`expr`, or set nullable: true")
        if self.expr is not None:
            try:
                parse_in(model, target, self.expr)
            except ExprError as exc:
                problems.append(f"{self.plan_key}.expr: {exc}")
        elif self.default is not None:
            try:
                parse_constant(self.default)
            except ExprError as exc:
                problems.append(f"{self.plan_key}.default: {exc}; rows copied from v1 need one value: give `expr`")
        if self.expr is not None and self.default is not None:  # the column's DDL default only
            try:
                parse_constant(self.default, volatile_ok=True)
            except ExprError as exc:
                problems.append(f"{self.plan_key}.default: {exc}")
        return problems

    def _value(self, model: Model, target) -> Expr:
        if self.expr is not None:
            return parse_in(model, target, self.expr)
        return Expr.text(parse_constant(self.default) if self.default is not None else "NULL")

    def apply(self, model: Model) -> Model:
        target = model.target(self.target_id)
        charset, collation = text_charset(self.type, self.charset, self.collation, target)
        decl = ColumnDecl(
            name=self.name, sql_type=self.type, nullable=self.nullable,
            default=parse_constant(self.default, volatile_ok=self.expr is not None) if self.default is not None
            else ("NULL" if self.nullable else None),
            auto_increment=False, comment=self.comment, charset=charset, collation=collation,
        )
        column = TargetColumn(decl, self._value(model, target), plan_key=self.plan_key)
        return model.replace_target(replace(target, columns=target.columns + (column,)))

    def reverse(self) -> Operation | None:
        from djsqlgen.ops.drop_column import DropColumn

        return DropColumn(self.plan_key, self.target_id, self.name)
