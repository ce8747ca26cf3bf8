"""One v1 table split in two (or more) v2 tables by row filters: each row goes to exactly one side.

``recording: {split: [{table: ephys_recording, where: "modality = 'ephys'"}, {table: imaging_recording,
where: "modality <> 'ephys'"}]}`` makes two targets reading the same v1 table, each with its filter (the
first keeps the table's id, so its progress and routines keep their names). The backfill copies each side
with its filter; an UPDATE that moves a row across (its filter no longer holds) deletes it from the side it
leaves and inserts it into the other; verify compares each side with its filtered rows. That the filters
cover every row exactly once is a data check (plan check, 00, 70), and the triggers refuse a v1 write whose
row would match no side or two: such a row would be missing from v2 (or doubled) without verify seeing it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.catalog.heading import classify_table
from djsqlgen.model.checks import DataCheck
from djsqlgen.model.expr import ExprError
from djsqlgen.model.identity import parse_in
from djsqlgen.model.target import DRIVING, Model
from djsqlgen.ops.base import Operation
from djsqlgen.ops.naming_rules import identifier_problems
from djsqlgen.sqltext.naming import fit


@dataclass(frozen=True)
class SplitTable(Operation):
    target_id: str
    sides: tuple[tuple[str, str], ...]  # (v2 table name, filter over the v1 row)

    def side_ids(self, model: Model) -> list[str]:
        schema = model.target(self.target_id).source.driving.schema
        return [self.target_id] + [f"{schema}.{name}" for name, _ in self.sides[1:]]

    def validate(self, model: Model) -> list[str]:
        target = model.target(self.target_id)
        problems = []
        if len(self.sides) < 2:
            problems.append(f"{self.plan_key}: a split needs two sides or more; rename the table instead")
        names = [name for name, _ in self.sides]
        for i, (name, where) in enumerate(self.sides):
            key = f"{self.plan_key}[{i}]"
            problems += identifier_problems(name, f"{key}.table")
            if names.count(name) > 1:
                problems.append(f"{key}.table: {name!r} names two sides; give each side its own table")
            if classify_table(name)[0] in ("part", "hidden"):
                problems.append(f"{key}.table: {name!r} is a {classify_table(name)[0]} table name; a side is a table "
                                "of its own")
            taken = any(t.schema == target.schema and t.name == name and t.id != target.id for t in model.targets)
            if taken or (i > 0 and (model.find(self.side_ids(model)[i])
                                    or model.v1.find_table(target.source.driving.schema, name))):
                problems.append(f"{key}.table: {name!r} is already a table of {target.source.driving.schema} or "
                                f"{target.schema}; choose a new name")
            try:
                expr = parse_in(model, target, where)
            except ExprError as exc:
                problems.append(f"{key}.where: {exc}")
                continue
            if expr.aliases - {DRIVING}:
                problems.append(f"{key}.where: reads {', '.join(sorted(expr.aliases - {DRIVING}))}; a split filter "
                                f"reads only the columns of {target.source.driving.label}")
            # v1's ON UPDATE CASCADE changes these columns without firing this table's triggers: a row could move
            # to another side (or none) unseen
            for fk in model.v1_table(target.source.driving).foreign_keys:
                read = sorted(set(expr.reads(DRIVING)) & set(fk.columns))
                if read and fk.on_update.upper() == "CASCADE":
                    problems.append(f"{key}.where: reads {', '.join(read)}, which v1's foreign key {fk.name!r} "
                                    "changes by ON UPDATE CASCADE (no trigger of this table sees that); filter on "
                                    "other columns")
        if target.source.filter is not None or target.source.distinct:
            problems.append(f"{self.plan_key}: {target.label} is already made from part of its rows; split the v1 "
                            "table once")
        return problems

    def apply(self, model: Model) -> Model:
        target = model.target(self.target_id)
        sides = []
        for i, ((name, where), side_id) in enumerate(zip(self.sides, self.side_ids(model), strict=True)):
            source = replace(target.source, filter=parse_in(model, target, where))
            # a foreign key's name is unique in its schema (InnoDB): the other sides' keys get their table's name
            keys = target.foreign_keys if i == 0 else tuple(
                replace(fk, name=fit(f"{name}_{fk.name}".replace("#", "").lstrip("_"))) for fk in target.foreign_keys)
            sides.append(replace(target, id=side_id, name=name, source=source, plan_key=f"{self.plan_key}[{i}]",
                                 foreign_keys=keys))
        model = model.replace_target(sides[0])
        return replace(model, targets=model.targets + tuple(sides[1:]),
                       splits=model.splits + (tuple(s.id for s in sides),))

    def data_checks(self, model: Model) -> list[DataCheck]:
        ids = self.side_ids(model)
        first = model.target(ids[0])
        return [DataCheck(
            kind="split_partition", target_id=ids[0], plan_key=self.plan_key, detail=",".join(ids[1:]),
            what=f"every row of {first.source.driving.label} matches exactly one of the filters of "
                 + ", ".join(model.target(i).label for i in ids),
            fix="make the filters cover every row once (no row left out, none in two sides), or change the data")]

    @property
    def irreversible(self) -> str:
        return ""  # each side's rows go back to the one v1 table they came from
