"""SQL for DataJoint 2.x's ``~lineage`` table in the v2 schemas (preset dj014-to-dj2).

The table is declared as 2.x declares it (``datajoint.lineage.ensure_lineage_table``) and filled with
the constant rows ``djsqlgen.presets.lineage`` computes from the model; when cut-over renames the
schemas, the rows are renamed with them, and back on its rollback.
"""

from __future__ import annotations

from djsqlgen.engines.context import Context
from djsqlgen.presets.lineage import LINEAGE_TABLE
from djsqlgen.sqltext.quoting import quote_literal, quote_qualified
from djsqlgen.sqltext.statements import Owned, Statement


def create(ctx: Context, schema: str) -> Statement:
    sql = (f"CREATE TABLE IF NOT EXISTS {quote_qualified((schema, LINEAGE_TABLE))} (\n"
           "  `table_name` varchar(64) NOT NULL COMMENT 'table name within the schema',\n"
           "  `attribute_name` varchar(64) NOT NULL COMMENT 'attribute name',\n"
           "  `lineage` varchar(255) NOT NULL COMMENT 'origin: schema.table.attribute',\n"
           "  PRIMARY KEY (`table_name`, `attribute_name`)\n"
           ") ENGINE=InnoDB")
    return Statement(f"lineage_create.{schema}", sql, "DataJoint 2.x's record of where each key attribute comes "
                     "from: 2.x joins on an attribute only when both sides trace it to the same origin",
                     creates=Owned("table", schema, LINEAGE_TABLE))


def fill(ctx: Context, schema: str, rows: list[tuple[str, str, str]]) -> Statement:
    values = ",\n  ".join(f"({quote_literal(t)}, {quote_literal(a)}, {quote_literal(origin)})" for t, a, origin in rows)
    return Statement(f"lineage_fill.{schema}",
                     f"REPLACE INTO {quote_qualified((schema, LINEAGE_TABLE))} (`table_name`, `attribute_name`, "
                     f"`lineage`) VALUES\n  {values}",
                     "the rows DataJoint 2.x's rebuild_lineage() computes for these tables (REPLACE: safe to run twice)")


def rename_origins(ctx: Context, schema: str, renamed: list[tuple[str, str]], why: str) -> list[Statement]:
    """Origins in ``schema``'s ~lineage that name a renamed schema, renamed too (a second run finds none)."""
    table = quote_qualified((schema, LINEAGE_TABLE))
    out = []
    for old, new in renamed:
        prefix = quote_literal(old + ".")
        out.append(Statement(f"lineage_rename.{schema}.{old}",
                             f"UPDATE {table} SET `lineage` = CONCAT({quote_literal(new + '.')}, "
                             f"SUBSTRING(`lineage`, {len(old) + 2})) WHERE LEFT(`lineage`, {len(old) + 1}) = BINARY {prefix}",
                             why))
    return out
