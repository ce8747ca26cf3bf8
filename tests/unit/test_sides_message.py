"""The W8 refusal of a closed v1 (engines/sides.py) fits 128 characters with long schema and table names, and keeps
the way out: the v2 table's own name at its end. Before: an assertion failed in generate on the stress pipeline's
`<prefix>_ephys.__clustering__unit` (the message was 147 characters)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from djsqlgen.engines import sides
from djsqlgen.model.target import TableRef


def _ctx(v1: TableRef, v2_schema: str | None) -> SimpleNamespace:
    targets = [SimpleNamespace(source=SimpleNamespace(driving=v1), name=v1.name)] if v2_schema else []
    spec = SimpleNamespace(source=v1.schema, target=v2_schema, final=None)
    return SimpleNamespace(model=SimpleNamespace(targets=targets, schema_map=lambda s: spec),
                           plan=SimpleNamespace(cutover=SimpleNamespace(rename_to_final=False)))


@pytest.mark.parametrize("schema, table, v2_schema", [
    ("djtfb55e65e_ephys", "__clustering__unit", "djtfb55e65e_ephys_v2"),
    ("a" * 64, "b" * 64, "c" * 64),
    ("lab_v1", "subject", "lab_v2"),
    ("lab_v1", "x" * 64, None),
])
def test_the_w8_message_fits_and_ends_with_where_to_write(schema, table, v2_schema):
    v1 = TableRef(schema, table)
    sql = sides.refusal_message_sql(_ctx(v1, v2_schema), v1)
    literals = re.findall(r"'((?:[^'\\]|\\.)*)'", sql)
    # the head, the closing time (the date format's own literals between), the tail
    message = literals[0] + "2026-12-07 09:30" + literals[-1]
    assert len(message) <= 128, message
    assert message.startswith("djsqlgen W8 ") and " is read-only since 2026-12-07 09:30" in message
    assert message.endswith(f"; write to {v2_schema}.{table}"[-20:] if v2_schema else "; retired, v2 has no such table")


def _close_ctx(mariadb: bool) -> SimpleNamespace:
    return SimpleNamespace(dialect=SimpleNamespace(is_mariadb=mariadb), control="djsqlgen_" + "c" * 55,
                           control_table=lambda name: f"`djsqlgen_{'c' * 55}`.`{name}`")


@pytest.mark.parametrize("mariadb", [True, False])
@pytest.mark.parametrize("change, filename", [(sides.close, "70_cutover.sql"), (sides.reopen, "rollback/70_cutover.sql")])
def test_the_stop_at_the_bound_fits_and_says_the_side_is_unchanged(mariadb, change, filename):
    """The message when the close (or reopen) gives up: with the largest bound (5 digits) and, on MySQL, the largest
    connection id (10 digits) it fits SIGNAL's 128 characters, and it says the side is as it was and the file safe."""
    sql = change(_close_ctx(mariadb), "v1", filename).sql
    head, middle, tail = re.search(r"CONCAT\('([^']*)', ROUND\(v_waited\), '([^']*)'.*, '([^']*)'\), 128\)", sql).groups()
    holder = "" if mariadb else " (id 4294967295)"
    message = head + "99999" + middle + holder + tail
    assert len(message) <= 128, message
    assert message.startswith(f"djsqlgen stopped {filename} at 99999 s: an open transaction ")
    assert message.endswith(f"v1 still {'open' if change is sides.close else 'closed'}, safe to rerun")
    assert ("performance_schema.data_locks" in sql) is not mariadb  # MySQL names the holder; MariaDB cannot
    assert "SET SESSION innodb_lock_wait_timeout = 1;" in sql and "DECLARE CONTINUE HANDLER FOR 1205, 1213" in sql


@pytest.mark.parametrize("mariadb, clause", [(True, "LOCK IN SHARE MODE"), (False, "FOR SHARE")])
def test_the_triggers_read_v1s_row_with_a_shared_lock(mariadb, clause):
    """Before (first design): a consistent read, which let a transaction older than the close read "open"."""
    read = sides.read_side(_close_ctx(mariadb), "v1")
    assert read.endswith(f"WHERE side = 'v1'\n  {clause};\nEND")
    # a plain read by key (it runs on every row a client writes), the closing time formatted only in a refusal
    assert "SELECT is_open, closed_at\n" in read and "MIN(" not in read and "DATE_FORMAT" not in read
