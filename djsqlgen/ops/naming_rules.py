"""Rules every name in v2 must follow, shared by the operations that give names."""

from __future__ import annotations

from djsqlgen.catalog.sqltypes import parse_sql_type
from djsqlgen.sqltext.naming import MAX_IDENTIFIER


def identifier_problems(name: str, plan_key: str) -> list[str]:
    """Why ``name`` cannot name a schema, table or column on MySQL/MariaDB ([] when it can)."""
    problems = []
    if len(name) > MAX_IDENTIFIER:
        problems.append(f"{plan_key}: {name!r} is {len(name)} characters; MySQL allows {MAX_IDENTIFIER}; "
                        "choose a shorter name")
    if not name or name != name.strip():
        problems.append(f"{plan_key}: {name!r} is not a usable name")
    return problems


def text_charset(sql_type: str, charset: str | None, collation: str | None, target) -> tuple[str | None, str | None]:
    """A text column's character set and collation, written out: the plan's, else its table's. Explicit, so
    that what v2 stores (and verify compares) never depends on a default."""
    if parse_sql_type(sql_type).family != "string":
        return None, None
    if charset is None and collation is None:
        return target.charset, target.collation
    if collation is None:
        return charset, None if charset != target.charset else target.collation
    return charset or (collation.split("_")[0] if collation else None), collation
