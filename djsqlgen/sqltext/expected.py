"""Refusals over many objects as one set query: the expected objects as a table, compared with information_schema.

A file that depends on 450 triggers or 150 tables lists them once, one per line, as a table
(``JSON_TABLE`` over one literal: MariaDB 10.6+, MySQL 8.0.4+), instead of a condition per object joined by
OR; the refusal names the first missing ones. information_schema is read one schema at a time with
equality on the schema column the server looks up by (MariaDB then scans that schema's directory alone, EXPLAIN:
"Scanned 1 database"; an IN list, a correlated lookup or another column scans every database on the server, each
time, and waits behind DDL anywhere). For TRIGGERS that column is EVENT_OBJECT_SCHEMA, the schema of the trigger's
table, which is always the trigger's own: by TRIGGER_SCHEMA it scans every database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from djsqlgen.sqltext.quoting import quote_literal
from djsqlgen.sqltext.statements import FOUND, Check

# information_schema view -> its schema and name columns, and the schema column the server looks up by
_VIEWS = {"TABLES": ("TABLE_SCHEMA", "TABLE_NAME", "TABLE_SCHEMA"),
          "TRIGGERS": ("TRIGGER_SCHEMA", "TRIGGER_NAME", "EVENT_OBJECT_SCHEMA")}
_SHOWN = 5  # missing objects named in a refusal


def expected_table(objects: Sequence[tuple[str, str]]) -> str:
    """``objects`` (schema, name) as a derived table ``expected (schema_name, object_name)``."""
    rows = ",\n".join(json.dumps(list(pair), ensure_ascii=False) for pair in objects)
    return (f"JSON_TABLE({quote_literal('[' + rows + ']')}, '$[*]' COLUMNS (\n"
            "  schema_name VARCHAR(64) PATH '$[0]', object_name VARCHAR(64) PATH '$[1]')) AS expected")


def present_objects(view: str, schemas: Sequence[str]) -> str:
    """The objects of ``view`` in ``schemas``, as (schema_name, object_name), each schema read alone."""
    schema_col, name_col, lookup_col = _VIEWS[view]
    return "\n  UNION ALL ".join(
        f"SELECT {schema_col} AS schema_name, {name_col} AS object_name FROM information_schema.{view} "
        f"WHERE {lookup_col} = {quote_literal(s)}" for s in sorted(set(schemas)))


def _matched(view: str, objects: Sequence[tuple[str, str]], present: bool) -> str:
    """SELECT of the expected objects that information_schema shows (``present``) or does not show, as text."""
    if not objects:
        return "SELECT NULL AS name FROM DUAL WHERE FALSE"
    return (f"SELECT CONCAT(expected.schema_name, '.', expected.object_name) AS name\n"
            f"FROM {expected_table(objects)}\n"
            f"LEFT JOIN (\n  {present_objects(view, [s for s, _ in objects])}\n) AS present\n"
            "  ON present.schema_name = expected.schema_name AND present.object_name = expected.object_name\n"
            f"WHERE present.object_name IS {'NOT ' if present else ''}NULL")


def _names(query: str) -> str:
    return (f"  SELECT GROUP_CONCAT(m.name ORDER BY m.name SEPARATOR ', ') FROM (\n{query}\n  LIMIT {_SHOWN}) AS m")


def _check(query: str, message: str, said: str, why: str) -> Check:
    # The names are found once (FOUND, NULL when there are none); the condition and the message read them.
    return Check(f"{FOUND} IS NOT NULL", message, why, found=_names(query),
                 message_sql=f"CONCAT({quote_literal(f'{message} ({said}: ')}, {FOUND}, ')')")


def missing(view: str, objects: Sequence[tuple[str, str]], message: str, why: str) -> Check:
    """Refuse when any of ``objects`` is not in ``view`` (TABLES, TRIGGERS); the message names the first few
    missing after ``message``."""
    return _check(_matched(view, objects, present=False), message, "missing", why)


def any_present(view: str, objects: Sequence[tuple[str, str]], message: str, why: str) -> Check:
    """Refuse when any of ``objects`` is in ``view``; the message names the first few found."""
    return _check(_matched(view, objects, present=True), message, "found", why)
