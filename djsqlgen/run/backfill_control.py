"""The control row of the backfill and verify: pause, resume and abort asked by the DBA, and what they last reported.

One row in ``<control>.backfill_run``: what the DBA asked (checked between chunks, by `djsqlgen backfill`,
`djsqlgen verify` and the loops of 40_backfill.sql and 50_verify.sql alike) and what the running job last
reported (read by `djsqlgen status`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from djsqlgen.errors import DjsqlgenError
from djsqlgen.run.db import Database, ServerError, query_each_schema
from djsqlgen.sqltext.naming import ACTIVE_STATES, run_lock
from djsqlgen.sqltext.quoting import quote_qualified

if TYPE_CHECKING:  # annotations only: a job reads the plan as plan.job.JobPlan (pydantic stays unloaded)
    from djsqlgen.plan import JobPlan, Plan

REQUESTS = {"pause": "the backfill or verify waits between two chunks until `djsqlgen resume`",
            "resume": "the backfill or verify goes on",
            "abort": "the backfill or verify stops after the chunk in flight; run it again to resume "
                     "(verify: with --resume)"}


class BackfillAborted(DjsqlgenError):
    """`djsqlgen abort` asked the backfill or verify to stop: nothing is lost, the next run resumes."""


def job_state(job: str, state: str) -> str:
    """The state the control row shows: the backfill's as it always was ("copying", "throttled" …), the
    verify's named as such ("verifying", "verify throttled" …)."""
    if job == "backfill":
        return "copying" if state == "working" else state
    return {"working": "verifying", "finished": "verified"}.get(state, f"verify {state}")


def request(db: Database, plan: Plan, what: str) -> str:
    """Record the DBA's request (pause, resume or abort); the running copy sees it before its next chunk."""
    value = "run" if what == "resume" else what
    try:
        db.query(f"SELECT 1 FROM {quote_qualified((plan.control, 'backfill_run'))} LIMIT 0")
    except ServerError as exc:
        if exc.errno in (1049, 1146):
            raise DjsqlgenError(f"control schema {plan.control} is not set up: apply 00_preflight.sql and "
                                "20_routines.sql first") from None
        raise
    db.execute(f"INSERT INTO {quote_qualified((plan.control, 'backfill_run'))} (id, requested, requested_at) "
               "VALUES (1, %s, NOW(6)) ON DUPLICATE KEY UPDATE requested = VALUES(requested), "
               "requested_at = VALUES(requested_at)", [value])
    return REQUESTS[what]


def requested_expression(plan: Plan) -> str:
    """The DBA's request as an expression, to read it in the same query as something else."""
    return f"COALESCE((SELECT requested FROM {quote_qualified((plan.control, 'backfill_run'))} WHERE id = 1), 'run')"


def requested_now(db: Database, plan: Plan) -> str:
    try:
        rows = db.query(f"SELECT {requested_expression(plan)} AS requested")
    except ServerError as exc:
        if exc.errno == 1146:  # routines applied by an older djsqlgen: no flag to read, the copy runs
            return "run"
        raise
    return rows[0]["requested"]


def report(db: Database, plan: Plan, state: str, why: str = "", rate: float | None = None,
            eta: float | None = None) -> None:
    """What the job is doing, for `djsqlgen status`; while it works, its session holds the run lock (taken
    here when another session of the run does not have it), released once it has finished or stopped."""
    lock = run_lock(plan.control)
    try:
        if state in ACTIVE_STATES:  # a job at work holds the run lock
            db.query("SELECT IF(IS_USED_LOCK(%s) IS NULL, GET_LOCK(%s, 0), 0) AS taken", [lock, lock])
        else:
            db.query("SELECT IF(IS_USED_LOCK(%s) <=> CONNECTION_ID(), RELEASE_LOCK(%s), 0) AS released", [lock, lock])
        db.execute(f"INSERT INTO {quote_qualified((plan.control, 'backfill_run'))} (id, state, why, rows_per_s, "
                   "eta_s, reported_at) VALUES (1, %s, %s, %s, %s, NOW(6)) ON DUPLICATE KEY UPDATE state = "
                   "VALUES(state), why = VALUES(why), rows_per_s = VALUES(rows_per_s), eta_s = VALUES(eta_s), "
                   "reported_at = VALUES(reported_at)", [state, why[:255], rate, eta])
    except ServerError as exc:
        # 1146: routines applied by an older djsqlgen, nowhere to report; 2006/2013: a connection idle for the
        # whole of a parallel run timed out. A report is a courtesy: the copy and its checkpoints go on.
        if exc.errno not in (1146, 2006, 2013):
            raise


def log_phase(db: Database, plan: Plan, phase: str, file: str) -> None:
    """Record ``phase`` as applied, as its file does at its end (`djsqlgen status` and the later files read it):
    the command line's backfill once every table is copied, its verify once a run is closed. From the same
    migration as the triggers it worked under (30's plan hash)."""
    phase_log = quote_qualified((plan.control, "phase_log"))
    db.execute(f"INSERT INTO {phase_log} (phase, file, plan_hash, applied_at) SELECT %s, %s, plan_hash, NOW(6) "
               f"FROM {phase_log} WHERE phase = '30' ON DUPLICATE KEY UPDATE plan_hash = VALUES(plan_hash), "
               "applied_at = VALUES(applied_at)", [phase, file])


def check_v1_unchanged(db: Database, plan: Plan, command: str, cut_over: bool | None = None) -> None:
    """Refuse (nothing done) when a v1 table the files read differs from the heading they were generated from, as
    20_routines.sql recorded it (``v1_columns``): columns, types, NULL, collations, primary key. What 40 and 50
    check as files, checked once at start-up (two queries). Not after the cut-over, which moves or guards v1
    (``cut_over``: whether phase 70 is logged, when the caller has read the phases already)."""
    control = quote_qualified((plan.control,))
    try:
        if cut_over is None:
            cut_over = bool(db.query(f"SELECT 1 FROM {control}.phase_log WHERE phase = '70'"))
        if cut_over:
            return
        expected = db.query(f"SELECT schema_name, table_name, column_name, column_type, is_nullable, collation_name, "
                            f"in_key FROM {control}.v1_columns")
    except ServerError as exc:
        if exc.errno in (1049, 1146):  # no control schema (refused later, clearly), or routines of an older djsqlgen
            return
        raise
    if not expected:
        return
    schemas = sorted({r["schema_name"] for r in expected})
    # information_schema read for constant schemas only: never a scan of every schema on a shared server
    found = query_each_schema(
        db, "SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS table_name, COLUMN_NAME AS column_name, "
            "COLUMN_TYPE AS column_type, IS_NULLABLE AS is_nullable, COALESCE(COLLATION_NAME, '') AS collation_name, "
            "COLUMN_KEY = 'PRI' AS in_key FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s", schemas)

    def by_table(rows: list[dict]) -> dict[tuple[str, str], set[tuple]]:
        out: dict[tuple[str, str], set[tuple]] = {}
        for r in rows:
            out.setdefault((r["schema_name"], r["table_name"]), set()).add(
                (r["column_name"], r["column_type"], r["is_nullable"], r["collation_name"], int(r["in_key"])))
        return out

    now = by_table(found)
    changed = [f"{s}.{t}" for (s, t), columns in sorted(by_table(expected).items()) if now.get((s, t)) != columns]
    if changed:
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        raise DjsqlgenError(
            f"{command} refused: v1 table {changed[0]}{more} differs from the heading the files came from "
            "(columns, types, NULL, collations or primary key): it was altered after generate. Nothing was done. "
            "Undo that ALTER, or roll back to before 30 (djsqlgen apply DIR/rollback), run inspect and generate "
            "again: the triggers and the copy were written for the old definition")


def between_chunks(db: Database, plan: Plan, say: Callable[[str], None], stop: threading.Event | None = None,
                   poll_s: float = 1.0, job: str = "backfill",
                   resume_hint: str = "run the same command again to resume from the checkpoint",
                   requested: str | None = None) -> None:
    """Wait while paused (saying so once; ``stop``, another job's failure, ends the wait); stop cleanly when
    aborted. ``requested``: the request just read with the last chunk's results (else it is read here)."""
    requested = requested_now(db, plan) if requested is None else requested
    if requested == "pause":
        report(db, plan, job_state(job, "paused"), "djsqlgen pause")
        say("paused by `djsqlgen pause`: waiting for `djsqlgen resume` (or `djsqlgen abort`)")
        while requested == "pause":
            if stop is not None and stop.wait(poll_s):
                return
            if stop is None:
                time.sleep(poll_s)
            requested = requested_now(db, plan)
        if requested == "run":
            say("resumed")
    if requested == "abort":
        report(db, plan, job_state(job, "aborted"), "djsqlgen abort")
        raise BackfillAborted(f"{job} aborted by `djsqlgen abort` after the last chunk; nothing is lost: {resume_hint}")
