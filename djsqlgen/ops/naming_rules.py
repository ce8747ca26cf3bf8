"""Rules every name in v2 must follow, shared by the operations that give names."""

from __future__ import annotations

from djsqlgen.output.naming import MAX_IDENTIFIER


def identifier_problems(name: str, plan_key: str) -> list[str]:
    """Why ``name`` cannot name a schema, table or column on MySQL/MariaDB ([] when it can)."""
    problems = []
    if len(name) > MAX_IDENTIFIER:
        problems.append(f"{plan_key}: {name!r} is {len(name)} characters; MySQL allows {MAX_IDENTIFIER}; "
                        "choose a shorter name")
    if not name or name != name.strip():
        problems.append(f"{plan_key}: {name!r} is not a usable name")
    return problems
