"""The control row of the backfill and verify: pause, resume and abort asked by the DBA, and what they last reported.

One row in ``<control>.backfill_run``: what the DBA asked (checked between chunks, by `djsqlgen backfill`,
`djsqlgen verify` and the loops of 40_backfill.sql and 50_verify.sql alike) and what the running job last
reported (read by `djsqlgen status`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from djsqlgen.errors import DjsqlgenError
from djsqlgen.output.quoting import quote_qualified
from djsqlgen.plan import Plan
from djsqlgen.run.db import Database, ServerError

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
    try:
        db.execute(f"INSERT INTO {quote_qualified((plan.control, 'backfill_run'))} (id, state, why, rows_per_s, "
                   "eta_s, reported_at) VALUES (1, %s, %s, %s, %s, NOW(6)) ON DUPLICATE KEY UPDATE state = "
                   "VALUES(state), why = VALUES(why), rows_per_s = VALUES(rows_per_s), eta_s = VALUES(eta_s), "
                   "reported_at = VALUES(reported_at)", [state, why[:255], rate, eta])
    except ServerError as exc:
        # 1146: routines applied by an older djsqlgen, nowhere to report; 2006/2013: a connection idle for the
        # whole of a parallel run timed out. A report is a courtesy: the copy and its checkpoints go on.
        if exc.errno not in (1146, 2006, 2013):
            raise


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
