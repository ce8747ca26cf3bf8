"""Drive the server-side procedures from the command line: backfill with a progress bar, verify, status.

No row ever passes through here: each call moves one chunk on the server and returns two numbers.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import click

from djsqlgen.errors import DjsqlgenError
from djsqlgen.output.naming import routine_name, trigger_name
from djsqlgen.output.render import quote_qualified
from djsqlgen.plan import Plan
from djsqlgen.run.db import Database, ServerError


def _control_rows(db: Database, plan: Plan, sql: str) -> list[dict]:
    try:
        return db.query(sql.format(control=quote_qualified((plan.control,))))
    except ServerError as exc:
        if exc.errno in (1049, 1146):  # unknown database / table
            raise DjsqlgenError(
                f"control schema {plan.control} is not set up: apply 00_preflight.sql and 20_routines.sql first"
            ) from None
        raise


@dataclass
class TableProgress:
    table_id: str
    source_schema: str
    source_table: str
    rows_copied: int
    done: bool
    estimated_rows: int


def read_progress(db: Database, plan: Plan) -> list[TableProgress]:
    rows = _control_rows(db, plan,
                         "SELECT p.table_id, p.source_schema, p.source_table, p.rows_copied, p.done, "
                         "COALESCE(t.TABLE_ROWS, 0) AS estimated_rows FROM {control}.progress AS p "
                         "LEFT JOIN information_schema.TABLES AS t ON t.TABLE_SCHEMA = p.source_schema "
                         "AND t.TABLE_NAME = p.source_table ORDER BY p.ordinal")
    return [TableProgress(r["table_id"], r["source_schema"], r["source_table"], int(r["rows_copied"]),
                          bool(r["done"]), int(r["estimated_rows"])) for r in rows]


def backfill(db: Database, plan: Plan, chunk_rows: int, sleep_ms: int, show_progress: bool = True,
             on_chunk: Callable[[str, int], None] | None = None) -> int:
    """Copy every unfinished table, chunk by chunk, in dependency order; returns rows copied now."""
    tables = read_progress(db, plan)
    total = sum(max(t.estimated_rows, t.rows_copied) for t in tables)
    already = sum(t.rows_copied if not t.done else max(t.estimated_rows, t.rows_copied) for t in tables)
    copied_now = 0
    started = time.monotonic()
    state = {"label": ""}

    def show(_item) -> str:
        elapsed = max(time.monotonic() - started, 1e-6)
        return f"{state['label']}  {copied_now:,} rows  {copied_now / elapsed:,.0f} rows/s"

    bar = click.progressbar(length=max(total, 1), label="backfill", show_eta=True, show_percent=True,
                            item_show_func=show, file=sys.stderr if show_progress else io.StringIO())
    with bar:
        bar.update(already)
        for table in tables:
            if table.done:
                continue
            proc = quote_qualified((plan.control, routine_name("backfill_chunk", table.source_schema, table.source_table)))
            state["label"] = table.table_id
            done = False
            while not done:
                result = _call_chunk(db, proc, chunk_rows, table.table_id)
                rows, done = int(result["n"] or 0), bool(result["done"])
                copied_now += rows
                bar.update(rows, table.table_id)
                if on_chunk:
                    on_chunk(table.table_id, rows)
                if not done and sleep_ms:
                    time.sleep(sleep_ms / 1000)
    return copied_now


# Lock-wait timeout and deadlock: the chunk procedure rolled back its whole transaction, checkpoint
# included, so trying the same chunk again is safe. Writers win; the copy waits and retries.
RETRYABLE = {1205: "lock wait timeout", 1213: "deadlock"}
RETRIES = 8


def _call_chunk(db: Database, proc: str, chunk_rows: int, label: str) -> dict:
    """One chunk; retried with backoff on a lock-wait timeout or deadlock, else a clear error."""
    for attempt in range(RETRIES + 1):
        try:
            db.execute(f"CALL {proc}(%s, @djsqlgen_rows, @djsqlgen_done)", [chunk_rows])
            return db.query("SELECT @djsqlgen_rows AS n, @djsqlgen_done AS done")[0]
        except ServerError as exc:
            if exc.errno in RETRYABLE and attempt < RETRIES:
                time.sleep(min(0.05 * 2**attempt, 2.0))
                continue
            raise DjsqlgenError(
                f"backfill of {label} stopped: server error {exc.errno}: {exc.message}. "
                "Nothing is lost: fix the cause and run the same command again to resume."
            ) from None
    raise AssertionError("unreachable")


@dataclass
class VerifyResult:
    tables: list[dict]
    diffs: list[dict]

    @property
    def ok(self) -> bool:
        return all(t["result"] == "OK" for t in self.tables) and not self.diffs


def verify(db: Database, plan: Plan, chunk_rows: int) -> VerifyResult:
    proc = quote_qualified((plan.control, "verify_all"))
    try:
        results = db.call_results(f"CALL {proc}({int(chunk_rows)})")
    except ServerError as exc:
        if exc.errno in (1049, 1305):
            raise DjsqlgenError(f"verify procedures are missing in {plan.control}: apply 20_routines.sql first") from None
        raise DjsqlgenError(f"verify failed: server error {exc.errno}: {exc.message}") from None
    tables = results[0] if results else []
    diffs = results[1] if len(results) > 1 else []
    return VerifyResult(tables, diffs)


def status(db: Database, plan: Plan) -> dict:
    phases = _control_rows(db, plan, "SELECT phase, file, applied_at FROM {control}.phase_log ORDER BY phase")
    try:
        progress = read_progress(db, plan)
    except DjsqlgenError:
        progress = []
    names = [trigger_name(plan.name, t.source_table, e) for t in progress for e in ("INSERT", "UPDATE", "DELETE")]
    triggers = []
    if names:
        marks = ", ".join(["%s"] * len(names))
        triggers = db.query(
            "SELECT EVENT_OBJECT_SCHEMA AS v1_schema, EVENT_OBJECT_TABLE AS v1_table, TRIGGER_NAME AS name_, "
            f"EVENT_MANIPULATION AS event FROM information_schema.TRIGGERS WHERE TRIGGER_NAME IN ({marks}) "
            "ORDER BY EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE, EVENT_MANIPULATION", names)
    try:
        last_verify = _control_rows(db, plan, "SELECT run_id, started_at, finished_at, bad_chunks FROM "
                                              "{control}.verify_run ORDER BY run_id DESC LIMIT 1")
    except DjsqlgenError:
        last_verify = []
    return {"phases": phases, "progress": progress, "triggers": triggers,
            "last_verify": last_verify[0] if last_verify else None}
