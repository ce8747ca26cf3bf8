"""Each v2 table's DataJoint 2.x definition: what the lab's 2.x code declares for the table the preset made.

RUNBOOK.md lists them and manifest.json carries them, so the 2.x code matches the tables it will find
(a class whose definition differs from its table is what DataJoint warns about). A foreign key is written
as ``-> Parent`` (``-> schema.Parent`` across schemas, ``.proj(new='old')`` when renamed, ``[nullable]``
when its columns are); an attribute as ``name = default : type  # comment`` with the 2.x type its marker
names; indexes InnoDB makes for a foreign key by itself are left out, as DataJoint leaves them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from djsqlgen.catalog.heading import classify_table
from djsqlgen.catalog.types import split_comment
from djsqlgen.model.target import ForeignKeyDecl, Model, Target, TargetColumn


@dataclass(frozen=True)
class Definition:
    schema: str
    table: str
    tier: str
    class_name: str  # Master.Part for a part table
    master: str | None
    definition: str


def _default(column: TargetColumn) -> str:
    decl = column.decl
    if decl.nullable:
        return " = null"
    if decl.default is None:
        return ""
    text = decl.default
    if text.lower() in ("current_timestamp()", "current_timestamp"):
        return " = CURRENT_TIMESTAMP"
    if text.startswith("'") and text.endswith("'"):
        inner = text[1:-1].replace("''", "'")
        return f' = "{inner}"' if '"' not in inner else f" = {text}"
    return f" = {text}"


def _attribute(column: TargetColumn) -> str:
    marker, comment = split_comment(column.decl.comment)
    dj_type = marker.marker if marker else column.decl.sql_type
    if column.decl.auto_increment:
        dj_type += " auto_increment"
    line = f"{column.name}{_default(column)} : {dj_type}"
    return line + (f"  # {comment}" if comment else "")


def _reference(model: Model, target: Target, fk: ForeignKeyDecl, nullable: bool) -> str:
    if fk.parent is not None:
        parent = model.target(fk.parent)
        schema, name = parent.schema, parent.name
    else:
        schema, name = fk.outside.schema, fk.outside.name
    _, class_name, _ = classify_table(name)
    if target.schema == schema and classify_table(target.name)[2] == name:
        ref = "master"
    else:
        ref = class_name if schema == target.schema else f"{schema}.{class_name}"
    renamed = [(c, r) for c, r in zip(fk.columns, fk.ref_columns) if c != r]
    if renamed:
        ref += ".proj(" + ", ".join(f"{c}='{r}'" for c, r in renamed) + ")"
    return f"-> {'[nullable] ' if nullable else ''}{ref}"


def _next_reference(fks: list[ForeignKeyDecl], names: list[str], at: int, declared: set[str]) -> ForeignKeyDecl | None:
    """The foreign key that declares ``names[at]`` where it stands: 2.x adds a reference's attributes not declared
    yet, in its parent's key order, so the reference whose new attributes are exactly the next ones; else the first
    that brings the attribute (its order then differs, which the heading test would show)."""
    bringing = [fk for fk in fks if names[at] in fk.columns]
    for fk in bringing:
        new = [c for c in fk.columns if c not in declared]
        if names[at:at + len(new)] == new:
            return fk
    return bringing[0] if bringing else None


def dj2_definition(model: Model, target: Target) -> Definition:
    tier, class_name, master = classify_table(target.name)
    lines = [f"# {target.comment}"] if target.comment else []
    pending = list(target.foreign_keys)
    declared: set[str] = set()
    names = [c.name for c in target.columns if c.name in target.primary_key]
    names += [c.name for c in target.columns if c.name not in target.primary_key]

    def reference(fk: ForeignKeyDecl) -> None:
        pending.remove(fk)
        declared.update(fk.columns)
        nullable = any(target.column(c).decl.nullable for c in fk.columns)
        lines.append(_reference(model, target, fk, nullable))

    for at, name in enumerate(names):
        if at == len(target.primary_key):
            lines.append("---")
        if name not in declared:
            fk = _next_reference(pending, names, at, declared)
            if fk is None:
                lines.append(_attribute(target.column(name)))
                declared.add(name)
            else:
                reference(fk)
        # a reference whose attributes are all declared by now adds only its foreign key: written where it is complete
        for fk in [fk for fk in pending if set(fk.columns) <= declared]:
            reference(fk)
    fk_columns = {fk.columns for fk in target.foreign_keys}
    for index in (*target.indexes, *target.unique_indexes):
        if index.columns in fk_columns and not index.unique:
            continue  # InnoDB's own index for a foreign key: DataJoint does not declare it
        lines.append(f"{'unique ' if index.unique else ''}index ({', '.join(index.columns)})")
    if lines and lines[-1] == "---":
        lines.pop()
    return Definition(target.schema, target.name, tier, class_name, master, "\n".join(lines))


def dj2_definitions(model: Model) -> list[Definition]:
    """Every v2 table's definition, parents first (computed once per model: RUNBOOK.md and manifest.json list them)."""
    if "dj2_definitions" not in model.memo:
        model.memo["dj2_definitions"] = [dj2_definition(model, t) for t in model.ordered() if not t.name.startswith("~")]
    return model.memo["dj2_definitions"]


def definitions_text(definitions: list[Definition]) -> str:
    """The definitions as ``plan check --definitions`` prints them: per table its name, class and tier, then the
    definition as the lab's 2.x code writes it (``definition = \"\"\" ... \"\"\"``)."""
    blocks = []
    for d in definitions:
        body = "\n".join(f"    {line}" if line else "" for line in d.definition.splitlines())
        blocks.append(f"# `{d.schema}`.`{d.table}`: {d.class_name} ({d.tier})\n{body}")
    return "\n\n".join(blocks) + "\n"
