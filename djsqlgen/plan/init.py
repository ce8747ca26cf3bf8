"""``plan init``: an identity plan from the live headings, listing every table and column to edit."""

from __future__ import annotations

from djsqlgen.catalog.heading import Catalog
from djsqlgen.plan import (
    DROP,
    ChunkSpec,
    ContractSpec,
    CutoverSpec,
    Plan,
    PresetSpec,
    SchemaSpec,
    TableSpec,
    dump_plan,
)
from djsqlgen.presets.dj2 import left_in_v1, preset_notes

HEADER = """\
# djsqlgen plan: how v2 differs from v1. Generated as an identity plan; edit it, then run
#   djsqlgen plan check {path}
# Per table:  NAME: keep | drop | {{rename: NEW, columns: {{...}}, add: {{...}}}}
# Per column: NAME: keep | drop | {{rename: NEW, type: SQLTYPE, expr: SQL over the v1 row,
#                                  comment: ..., nullable: BOOL, default: SQL, allow_lossy: BOOL}}
# New column: add: {{NAME: {{type: SQLTYPE, default: SQL | expr: SQL, nullable: BOOL, comment: TEXT}}}}
# Cut-over:   cutover.rename_to_final with per schema `final` (and `archive` when final is v1's name).
"""


PRESET_HEADER = """\
# Preset dj014-to-dj2: every column kept (or changed) here is first declared as DataJoint 2.x declares
# it (core types, <blob>/<attach>, external values as 2.x JSON, text in the preset's character set);
# DataJoint 0.14's ~log, ~jobs and ~external_* tables stay in v1. RUNBOOK.md lists each v2 table's
# 2.x definition. What the preset does not make a 2.x core type:
"""

# The utf8mb4 collation each server flavour gives a table by default.
DEFAULT_UTF8MB4_COLLATION = {"mysql": "utf8mb4_0900_ai_ci", "mariadb": "utf8mb4_general_ci"}


def identity_plan(catalog: Catalog, pairs: list[tuple[str, str]], name: str | None, preset: str | None = None) -> str:
    schemas = []
    for source, target in pairs:
        schema = catalog.schema(source)
        tables = {t.name: TableSpec(columns={a.name: "keep" for a in t.attributes}) for t in schema.tables}
        if preset:
            tables = {name: DROP if left_in_v1(name) else spec for name, spec in tables.items()}
        schemas.append(SchemaSpec(source=source, target=target, tables=tables))
    plan_name = name or "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in pairs[0][1])[:40]
    preset_spec = None
    if preset:
        preset_spec = PresetSpec(name=preset, collation=DEFAULT_UTF8MB4_COLLATION[catalog.server.flavour])
    plan = Plan(name=plan_name, preset=preset_spec, chunk=ChunkSpec(), cutover=CutoverSpec(), contract=ContractSpec(),
                schemas=schemas)
    header = HEADER.format(path="plan.yaml")
    if preset_spec:
        header += PRESET_HEADER + "".join(f"#   {line}\n" for line in preset_notes(catalog, [s for s, _ in pairs],
                                                                                    preset_spec))
    return header + dump_plan(plan)


