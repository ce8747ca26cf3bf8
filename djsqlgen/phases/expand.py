"""10 expand: the v2 schemas and tables (keys and indexes; foreign keys come in 60); its rollback drops them."""

from __future__ import annotations

from djsqlgen.engines import expand, guards, lineage
from djsqlgen.engines.source import table_sql
from djsqlgen.phases.builder import FileBuilder, definition_md5, table_exists
from djsqlgen.phases.shared import Phases
from djsqlgen.presets.lineage import LINEAGE_TABLE
from djsqlgen.sqltext.quoting import quote_literal
from djsqlgen.sqltext.statements import Check, Owned

NUMBER, NAME, TITLE = "10", "expand", "Expand"
PURPOSE = "Create the v2 schemas and tables (keys and indexes; foreign keys come in 60)."
RERUN = "Safe to run again: existing v2 tables of this plan are kept."


def removes(phases: Phases) -> str:
    v2 = ", ".join(phases.v2_schemas())
    return f"the v2 tables ({v2}) and the v2 schemas djsqlgen created, when nothing else is in them"


def forward(phases: Phases) -> FileBuilder:
    f, fn = phases.file("10"), "10_expand.sql"
    privileges = [(p, s, None) for s in phases.v2_schemas() for p in ("CREATE", "INSERT", "SELECT")]
    phases.common_refusals(f, "00", f.require(privileges) + phases.foreign_objects(fn)
                          + phases.v2_tables_foreign(fn) + _v2_tables_other_plan(phases, fn))
    for spec in phases.model.schemas:
        f.add(*f.creating(expand.create_schema(phases.ctx, spec.target, *phases.v2_charset(spec.source),
                                               spec.source)))
    for t in phases.targets:
        f.add(*f.creating(expand.create_table(phases.ctx, t)))
    for schema, rows in phases.lineage.items():
        f.add(*f.creating(lineage.create(phases.ctx, schema)), lineage.fill(phases.ctx, schema, rows))
    f.log()
    return f


def _v2_tables_other_plan(phases: Phases, filename: str) -> list[Check]:
    objects = phases.ctx.control_table("objects")
    out = []
    for t in phases.targets:
        out.append(Check(
            f"EXISTS (SELECT 1 FROM {objects} WHERE kind = 'table' AND schema_name = {quote_literal(t.schema)} AND "
            f"object_name = {quote_literal(t.name)} AND definition_md5 <> "
            f"{quote_literal(definition_md5(expand.create_table(phases.ctx, t).sql))}) AND "
            f"{table_exists(t.schema, t.name)}",
            f"djsqlgen refused {filename}: {t.label} was created from another version of this plan and is declared "
            "differently; apply rollback/10_expand.sql (after rolling back later phases), then this file",
            "v2 tables must be declared as this plan says"))
    return out


def rollback(phases: Phases) -> FileBuilder:
    f, fn = phases.file("10", rollback=True), "rollback/10_expand.sql"
    phases.common_refusals(f, None, [
        guards.not_after(phases.ctx, "30", "30_dualwrite.sql", fn, "its triggers write into v2; apply "
                         "rollback/30_dualwrite.sql first"),
        guards.not_after(phases.ctx, "70", "70_cutover.sql", fn, "v2 holds live data; apply rollback/70 first")])
    steps = []
    for schema in phases.lineage:
        steps += f.dropping(Owned("table", schema, LINEAGE_TABLE),
                            f"DROP TABLE IF EXISTS {table_sql(schema, LINEAGE_TABLE)}",
                            "DataJoint 2.x's lineage of the v2 tables")
    for t in reversed(phases.targets):
        steps += f.dropping(Owned("table", t.schema, t.name), f"DROP TABLE IF EXISTS {table_sql(t.schema, t.name)}",
                            f"{t.label}: copies only, v1 is untouched")
    steps += phases.drop_empty_schemas(f, phases.v2_schemas(), "djsqlgen created it and nothing else is in it")
    f.steps(steps)
    f.log()
    return f
