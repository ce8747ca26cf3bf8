"""A foreign key v1 does not have: the target's rows refer to a parent table of the plan (checked on the data)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.catalog.sqltypes import normalise_type
from djsqlgen.model.checks import DataCheck
from djsqlgen.model.target import ForeignKeyDecl, Model
from djsqlgen.ops.base import Operation
from djsqlgen.ops.naming_rules import identifier_problems
from djsqlgen.ops.tables import resolve_table, target_of
from djsqlgen.sqltext.naming import fit


@dataclass(frozen=True)
class AddParent(Operation):
    target_id: str
    parent: str  # as the plan writes it
    columns: tuple[tuple[str, str], ...] = ()  # this target's column -> the parent's key column
    name: str | None = None
    on_update: str = "CASCADE"
    on_delete: str = "RESTRICT"

    def _parent_id(self, model: Model) -> str | None:
        ref = resolve_table(model, self.parent, model.target(self.target_id).source.driving.schema)
        return target_of(model, ref) if ref else None

    def _pairs(self, model: Model) -> list[tuple[str, str]]:
        parent = model.target(self._parent_id(model))
        by_ref = {ref: col for col, ref in self.columns}
        return [(by_ref.get(k, k), k) for k in parent.primary_key]

    def constraint_name(self, model: Model) -> str:
        target = model.target(self.target_id)
        parent = model.target(self._parent_id(model))
        return self.name or fit(f"{target.name}_{parent.name}_fk".replace("#", "").lstrip("_"))

    def validate(self, model: Model) -> list[str]:
        target = model.target(self.target_id)
        parent_id = self._parent_id(model)
        if parent_id is None:
            return [(f"{self.plan_key}.parent: {self.parent!r} is not a kept table of the plan; name a v1 table "
                    "(table or schema.table) that has a v2 table")]
        parent = model.target(parent_id)
        problems = []
        unknown = [ref for _, ref in self.columns if ref not in parent.primary_key]
        if unknown:
            problems.append(f"{self.plan_key}.columns: {', '.join(unknown)} not in {parent.label}'s key "
                            f"({', '.join(parent.primary_key)})")
        for column, ref in self._pairs(model):
            if not target.has_column(column):
                problems.append(f"{self.plan_key}.columns: {target.label} has no column {column!r} for {parent.label}."
                                f"{ref}; add it (add:, with an expr) or map another column to it")
                continue
            mine, theirs = target.column(column).decl, parent.column(ref).decl
            # a text column without its own collation takes its table's
            mine_collation = mine.collation or (target.collation if mine.charset is None else None)
            theirs_collation = theirs.collation or (parent.collation if theirs.charset is None else None)
            if normalise_type(mine.sql_type) != normalise_type(theirs.sql_type) or (
                    "char" in mine.sql_type.lower() and mine_collation != theirs_collation):
                problems.append(f"{self.plan_key}.columns: {column!r} is {mine.sql_type} {mine.collation or ''} but "
                                f"{parent.label}.{ref} is {theirs.sql_type} {theirs.collation or ''}; retype it to match")
        name = self.constraint_name(model)
        problems += identifier_problems(name, f"{self.plan_key}.name")
        if any(fk.name == name for fk in target.foreign_keys):
            problems.append(f"{self.plan_key}.name: {target.label} already has a foreign key {name!r}")
        return problems

    def apply(self, model: Model) -> Model:
        target = model.target(self.target_id)
        pairs = self._pairs(model)
        fk = ForeignKeyDecl(name=self.constraint_name(model), columns=tuple(c for c, _ in pairs),
                            ref_columns=tuple(r for _, r in pairs), on_update=self.on_update,
                            on_delete=self.on_delete, parent=self._parent_id(model))
        return model.replace_target(replace(target, foreign_keys=target.foreign_keys + (fk,)))

    def data_checks(self, model: Model) -> list[DataCheck]:
        target = model.target(self.target_id)
        name = next((fk.name for fk in reversed(target.foreign_keys) if fk.parent == self._parent_id(model)), "")
        parent = model.find(self._parent_id(model) or "")
        return [DataCheck(kind="parent_found", target_id=self.target_id, plan_key=self.plan_key, detail=name,
                          what=f"every row of {target.label} finds its new parent in "
                               f"{parent.label if parent else self.parent} (foreign key {name})",
                          fix="add the missing parent rows in v1, or correct the expression of the reference")]

    @property
    def irreversible(self) -> str:
        return ""
