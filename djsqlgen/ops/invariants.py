"""What every model must satisfy after all operations, whatever they were (each problem names a plan key)."""

from __future__ import annotations

from collections import Counter

from djsqlgen.catalog.sqltypes import (
    KEY_LIMIT,
    PAGE_RECORD_LIMIT,
    RECORD_OVERHEAD,
    ROW_LIMIT,
    in_page_bytes,
    max_bytes,
)
from djsqlgen.model.target import Model, Target
from djsqlgen.plan import Plan
from djsqlgen.sqltext import naming

EVENTS = ("INSERT", "UPDATE", "DELETE")


def model_problems(model: Model, plan: Plan) -> list[str]:
    problems: list[str] = []
    kept = {t.id for t in model.targets}
    names = Counter((t.schema, t.name) for t in model.targets)
    # InnoDB names foreign keys per schema: two with one name make 60_constraints fail (error 1823)
    fk_names = Counter((t.schema, fk.name.lower()) for t in model.targets for fk in t.foreign_keys)
    for t in model.targets:
        for fk in t.foreign_keys:
            if fk_names[(t.schema, fk.name.lower())] > 1:
                problems.append(f"{t.plan_key}: foreign key name {fk.name!r} is used twice in {t.schema}; name one of "
                                "them (add_parents name:)")
    first_of = {}
    for t in model.ordered():
        first_of.setdefault((t.schema, t.name), t)
        if names[(t.schema, t.name)] > 1 and first_of[(t.schema, t.name)] is not t:
            problems.append(f"{t.plan_key}.rename: {t.name!r} is also the v2 name of "
                            f"{first_of[(t.schema, t.name)].source.driving.label}; choose another")
        columns = Counter(c.name for c in t.columns)
        for name, count in columns.items():
            if count > 1:
                problems.append(f"{t.plan_key}: two v2 columns are named {name!r}; rename one of them")
        if not t.primary_key:
            problems.append(f"{t.plan_key}: {t.source.driving.label} has no primary key; DataJoint tables always "
                            "have one")
        problems += size_problems(t, model.v1_table(t.source.driving))
        for k in t.primary_key:
            if t.has_column(k) and t.column(k).decl.nullable:
                problems.append(f"{t.plan_key}: key column {k!r} allows NULL; a key column cannot")
        for fk in t.foreign_keys:
            parent = model.find(fk.parent) if fk.parent else None
            if parent is not None and fk.ref_columns != parent.primary_key:
                problems.append(f"{t.plan_key}: foreign key {fk.name!r} refers to ({', '.join(fk.ref_columns)}) of "
                                f"{parent.label}, whose key is ({', '.join(parent.primary_key)}) in v2; map its columns "
                                "to the new key (add_parents columns:)")
            if fk.parent and fk.parent not in kept:
                parent_key = next((s for s in _plan_keys(plan) if s.endswith("." + fk.parent.split(".", 1)[1])
                                   and s.split(".")[1] == fk.parent.split(".", 1)[0]), fk.parent)
                problems.append(f"{parent_key}: dropped, but kept table {model.v1_table(t.source.driving).full_name} refers to it "
                                f"(foreign key {fk.name!r}); keep it, or drop {t.source.driving.name} too")
            for rule in (fk.on_update, fk.on_delete):
                if rule.upper() == "SET NULL":
                    problems.append(f"{t.plan_key}: foreign key {fk.name!r} uses SET NULL, whose changes fire no "
                                    "trigger and cannot be followed; this operation supports CASCADE, RESTRICT and "
                                    "NO ACTION")
                    break
    for group in model.splits:  # after every operation: a child's drop_references comes after its parent's split
        sides = [model.target(i) for i in group]
        children = sorted({child.label for side in sides for child, _ in model.children(side.id)})
        if children:
            plan_key = sides[0].plan_key.rsplit("[", 1)[0]
            problems.append(f"{plan_key}: {', '.join(children)} refer(s) to {sides[0].source.driving.label}; a child "
                            "of a split table would have to choose a side (drop that reference first: "
                            "drop_references)")
    for ref in {t.source.driving for t in model.targets}:
        table = model.v1_table(ref)
        key = next(t.plan_key for t in model.targets if t.source.driving == ref)
        for trig in table.triggers:
            if not trig.name.startswith(naming.own_trigger_prefix(plan.name)):
                problems.append(f"{key}: {table.full_name} already has trigger {trig.name!r} ({trig.timing} "
                                f"{trig.event}); djsqlgen never overwrites a trigger: drop or merge it first")
    seen: dict[tuple[str, str], str] = {}
    for ref in sorted({r for t in model.targets for r in t.reads}):
        for event in EVENTS:
            name = (ref.schema, naming.trigger_name(plan.name, ref.name, event))
            if name in seen and seen[name] != ref.name:
                problems.append(f"schemas.{ref.schema}.tables.{ref.name}: its trigger name {name[1]!r} is also that "
                                f"of {seen[name]!r}; rename the plan (name:)")
            seen[name] = ref.name
    return problems


def _in_page(columns, table_charset) -> int:
    return RECORD_OVERHEAD + (sum(c.nullable for c in columns) + 7) // 8 + sum(
        in_page_bytes(c.sql_type, c.charset or table_charset) for c in columns)


def size_problems(t: Target, v1=None) -> list[str]:
    """A v2 table the server would refuse to create: its row, or one of its index keys, too long (a character set
    with wider characters, latin1 → utf8mb4, multiplies what each string column reserves)."""
    def size(name: str, in_key: bool) -> int:
        decl = t.column(name).decl
        return max_bytes(decl.sql_type, decl.charset or t.charset, in_key) or 0

    problems = []
    row = sum(size(c.name, False) for c in t.columns) + (sum(c.decl.nullable for c in t.columns) + 7) // 8
    if row > ROW_LIMIT:
        widest = ", ".join(f"{c.name} {c.decl.sql_type} {c.decl.charset or t.charset or ''}".rstrip()
                           for c in sorted(t.columns, key=lambda c: -size(c.name, False))[:3])
        problems.append(f"{t.plan_key}: {t.label}'s row would take up to {row:,} bytes, over the server's "
                        f"{ROW_LIMIT:,} (widest: {widest}); make a long column text (type: text), or keep its character "
                        "set (charset:)")
    in_page = _in_page([c.decl for c in t.columns], t.charset)
    # only what the plan makes bigger: a v1 table the estimate puts over the limit exists, so the estimate is off there
    fits_in_v1 = v1 is None or _in_page(v1.attributes, v1.charset) <= PAGE_RECORD_LIMIT
    if row <= ROW_LIMIT and in_page > PAGE_RECORD_LIMIT and fits_in_v1:
        widest = ", ".join(f"{c.name} {c.decl.sql_type}" for c in sorted(
            t.columns, key=lambda c: -in_page_bytes(c.decl.sql_type, c.decl.charset or t.charset))[:3])
        problems.append(f"{t.plan_key}: {t.label}'s record would take up to {in_page:,} bytes of an InnoDB page, over "
                        f"its {PAGE_RECORD_LIMIT:,} (strict mode refuses the table: 1118; widest: {widest}); keep the "
                        "short strings' character set (charset:), or make some of them text")
    keys = [("primary key", t.primary_key)]
    keys += [(f"index {i.name!r}", i.columns) for i in (*t.indexes, *t.unique_indexes)]
    for label, columns in keys:
        if all(t.has_column(c) for c in columns):
            length = sum(size(c, True) for c in columns)
            if length > KEY_LIMIT:
                problems.append(f"{t.plan_key}: {t.label}'s {label} ({', '.join(columns)}) would take {length:,} "
                                f"bytes, over InnoDB's {KEY_LIMIT:,}; shorten a column (type:) or keep its character "
                                "set (charset:, collation:)")
    return problems


def _plan_keys(plan: Plan) -> list[str]:
    return [f"schemas.{s.source}.tables.{name}" for s in plan.schemas for name in s.tables]
