"""Which privileges this session holds, from SHOW GRANTS: the one view that includes those granted through
roles (MariaDB's information_schema privilege views show none of a role's grants to the user)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from djsqlgen.run.db import Database

_GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<object>\S+) TO ", re.IGNORECASE)
_NEEDS = re.compile(r"^(?P<privilege>[A-Z ]+?) ON `(?P<schema>(?:[^`]|``)*)`\.\*$")


@dataclass(frozen=True)
class Grant:
    privileges: frozenset[str]  # upper case; "ALL PRIVILEGES" stands for every privilege
    schema: str | None  # None: global (*.*); else a LIKE pattern as written in the grant
    table: str | None  # a table-level grant


def _unquote(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def parse_grants(lines: list[str]) -> list[Grant]:
    """The grants of SHOW GRANTS lines (role membership lines are skipped: the role's own grants follow)."""
    out = []
    for line in lines:
        found = _GRANT.match(line)
        if not found:
            continue
        privileges = frozenset(re.sub(r"\s*\([^)]*\)", "", p).strip().upper()
                               for p in found["privileges"].split(","))
        schema, _, table = found["object"].partition(".")
        out.append(Grant(privileges, None if schema == "*" else _unquote(schema),
                         None if table in ("*", "") else _unquote(table)))
    return out


def _like(pattern: str, name: str) -> bool:
    """MySQL's LIKE for grant patterns: % and _ wildcards, backslash escapes."""
    parts = []
    for token in re.findall(r"\\.|.", pattern, re.DOTALL):
        if token.startswith("\\") and len(token) == 2:
            parts.append(re.escape(token[1]))
        elif token == "%":
            parts.append(".*")
        elif token == "_":
            parts.append(".")
        else:
            parts.append(re.escape(token))
    return re.fullmatch("".join(parts), name, re.DOTALL) is not None


def holds(grants: list[Grant], privilege: str, schema: str) -> bool:
    """Whether ``grants`` give ``privilege`` on every table of ``schema`` (global or schema-level)."""
    for g in grants:
        if g.table is not None:
            continue
        if not ({privilege.upper(), "ALL PRIVILEGES", "ALL"} & g.privileges):
            continue
        if g.schema is None or _like(g.schema, schema):
            return True
    return False


def read_grants(db: Database) -> list[Grant]:
    rows = db.query("SHOW GRANTS")
    return parse_grants([next(iter(r.values())) for r in rows])


def parse_needs(header: str) -> list[tuple[str, str]]:
    """(privilege, schema) pairs of a file's ``-- Needs:`` header line."""
    out = []
    for item in header.split(";"):
        found = _NEEDS.match(item.strip())
        if found:
            out.append((found["privilege"], found["schema"].replace("``", "`")))
    return out


def missing(db: Database, needs: list[tuple[str, str]]) -> list[str]:
    """What of ``needs`` this session does not hold, as GRANT statements to ask for."""
    grants = read_grants(db)
    return [f"GRANT {p} ON `{s}`.*" for p, s in needs if not holds(grants, p, s)]
