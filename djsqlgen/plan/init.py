"""``plan init``: an identity plan from the live headings, listing every table and column to edit."""

from __future__ import annotations

from djsqlgen.catalog.heading import Catalog
from djsqlgen.plan import ChunkSpec, ContractSpec, CutoverSpec, Plan, SchemaSpec, TableSpec, dump_plan

HEADER = """\
# djsqlgen plan: how v2 differs from v1. Generated as an identity plan; edit it, then run
#   djsqlgen plan check {path}
# Per table:  NAME: keep | drop | {{rename: NEW, columns: {{...}}, add: {{...}}}}
# Per column: NAME: keep | drop | {{rename: NEW, type: SQLTYPE, expr: SQL over the v1 row,
#                                  comment: ..., nullable: BOOL, default: SQL, allow_lossy: BOOL}}
# New column: add: {{NAME: {{type: SQLTYPE, default: SQL | expr: SQL, nullable: BOOL, comment: TEXT}}}}
# Cut-over:   cutover.rename_to_final with per schema `final` (and `archive` when final is v1's name).
"""


def identity_plan(catalog: Catalog, pairs: list[tuple[str, str]], name: str | None) -> str:
    schemas = []
    for source, target in pairs:
        schema = catalog.schema(source)
        tables = {t.name: TableSpec(columns={a.name: "keep" for a in t.attributes}) for t in schema.tables}
        schemas.append(SchemaSpec(source=source, target=target, tables=tables))
    plan_name = name or "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in pairs[0][1])[:40]
    plan = Plan(name=plan_name, chunk=ChunkSpec(), cutover=CutoverSpec(), contract=ContractSpec(), schemas=schemas)
    return HEADER.format(path="plan.yaml") + dump_plan(plan)
