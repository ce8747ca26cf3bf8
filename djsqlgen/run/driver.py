"""Drive the server-side procedures from the command line: the backfill with a progress bar, and status.

No row ever passes through here: each call moves one chunk on the server and returns two numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from dataclasses import dataclass

from djsqlgen.engines.yielding import FIRST_PAUSE_S, LOCKED_FOR_S, MAX_PAUSE_S, QUIET_RETRIES
from djsqlgen.errors import DjsqlgenError, JobStopped
from djsqlgen.run.backfill_control import check_v1_unchanged, log_phase, request, requested_expression, requested_now
from djsqlgen.run.chunked import ChunkedRun
from djsqlgen.run.db import Database, ServerError, query_each_schema
from djsqlgen.run.throttle import ChunkSizer, Throttle, backfill_ceiling
from djsqlgen.sqltext.naming import BACK_DIRECTION, ENGINE_SESSION, FORWARD_DIRECTION, run_lock
from djsqlgen.sqltext.quoting import quote_qualified

if TYPE_CHECKING:  # annotations only: a job reads the plan as plan.job.JobPlan (pydantic stays unloaded)
    from djsqlgen.plan import JobPlan, Plan


def _control_rows(db: Database, plan: Plan, sql: str, args: list | None = None) -> list[dict]:
    try:
        return db.query(sql.format(control=quote_qualified((plan.control,))), args)
    except ServerError as exc:
        if exc.errno in (1049, 1146):  # unknown database / table
            raise DjsqlgenError(
                f"control schema {plan.control} is not set up: apply 00_preflight.sql and 20_routines.sql first"
            ) from None
        raise


@dataclass
class TableProgress:
    target_id: str
    label: str  # the v2 table
    source_schema: str
    source_table: str
    rows_copied: int
    done: bool
    estimated_rows: int
    row_bytes: int = 0  # the v1 table's average row length (information_schema; 0 when unknown)


def read_progress(db: Database, plan: Plan, with_sizes: bool = True) -> list[TableProgress]:
    """Each table's progress, with v1's size from information_schema (``with_sizes``: else 0, one query fewer)."""
    rows = _control_rows(db, plan,
                         "SELECT target_id, CONCAT(target_schema, '.', target_table) AS label, source_schema, "
                         "source_table, rows_copied, done FROM {control}.progress ORDER BY ordinal")
    sizes = {} if not with_sizes else {(r["s"], r["t"]): r for r in query_each_schema(
        db, "SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, COALESCE(TABLE_ROWS, 0) AS n, COALESCE(AVG_ROW_LENGTH, 0) AS b "
            "FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", {r["source_schema"] for r in rows})}
    out = []
    for r in rows:
        size = sizes.get((r["source_schema"], r["source_table"]), {"n": 0, "b": 0})
        out.append(TableProgress(r["target_id"], r["label"], r["source_schema"], r["source_table"],
                                 int(r["rows_copied"]), bool(r["done"]), int(size["n"]), int(size["b"])))
    return out


# The triggers of one schema. By EVENT_OBJECT_SCHEMA (a trigger lives in its table's schema): the server then reads
# that schema's trigger files alone ("Scanned 1 database"); by TRIGGER_SCHEMA it opens every database on the server
# ("Scanned all databases": 0.13-0.37 s on a shared test server, and it waits behind any DDL anywhere).
TRIGGERS_OF_SCHEMA = ("SELECT TRIGGER_SCHEMA AS s, TRIGGER_NAME AS n FROM information_schema.TRIGGERS "
                      "WHERE EVENT_OBJECT_SCHEMA = %s")
TRIGGER_EVENTS_OF_SCHEMA = ("SELECT TRIGGER_SCHEMA AS s, TRIGGER_NAME AS n, ACTION_TIMING AS timing, "
                            "EVENT_MANIPULATION AS event FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = %s")


@dataclass(frozen=True)
class ServerFacts:
    buffer_pool_bytes: int


def check_ready_for_backfill(db: Database, plan: Plan) -> ServerFacts:
    """What 40_backfill.sql refuses on, refused here too: no copy without the dual-write triggers. Each thing is
    read once: the phases, the names of this plan's triggers, then each of their schemas' triggers by name."""
    phases = {r["phase"]: r["plan_hash"] for r in _control_rows(db, plan, "SELECT phase, plan_hash FROM {control}.phase_log")}
    if "30" not in phases:
        raise DjsqlgenError("the dual-write triggers are not installed: apply 30_dualwrite.sql before the backfill "
                            "(writes made during the copy would never reach v2)")
    if "70" in phases:
        raise DjsqlgenError("the migration is cut over: v2 is primary, there is nothing to copy")
    recorded = {(r["schema_name"], r["object_name"]) for r in _control_rows(
        db, plan, "SELECT schema_name, object_name FROM {control}.objects WHERE kind = 'trigger' AND plan_hash = %s",
        [phases["30"]])}
    present = {(r["s"], r["n"]) for r in query_each_schema(db, TRIGGERS_OF_SCHEMA, {s for s, _ in recorded})}
    missing = sorted(recorded - present)
    if missing:
        names = ", ".join(f"{s}.{n}" for s, n in missing[:5])
        raise DjsqlgenError(f"dual-write triggers are missing ({names}); apply 30_dualwrite.sql again before the backfill")
    check_v1_unchanged(db, plan, "backfill", cut_over=False)  # (refused above when 70 is logged)
    server = db.query("SELECT @@log_bin AS log_bin, @@GLOBAL.binlog_format AS fmt, "
                      "@@GLOBAL.innodb_buffer_pool_size AS pool")[0]
    if int(server["log_bin"]) and server["fmt"] != "ROW":
        raise DjsqlgenError(f"binlog_format is {server['fmt']}, not ROW: replicas would replay the copies differently; "
                            "SET GLOBAL binlog_format = 'ROW' first")
    return ServerFacts(int(server["pool"]))


def backfill(db: Database, plan: Plan | JobPlan, chunk_rows: int, sleep_ms: int, show_progress: bool = True,
             on_chunk: Callable[[str, int], None] | None = None, throttle: Throttle | None = None,
             chunk_time_s: float = 0.0, jobs: int = 1) -> int:
    """Copy every unfinished table, chunk by chunk; returns rows copied now. Between chunks: pause and abort
    requests, then replica lag and load (``throttle``). With ``chunk_time_s``, each table's chunk size adapts
    so that a chunk takes about that long. With ``jobs`` > 1, that many tables are copied at once, each on its
    own connection (v2 has no foreign keys before 60, so no order is needed; alone, tables go parents first)."""
    facts = check_ready_for_backfill(db, plan)
    if requested_now(db, plan) == "abort":  # running it again is the decision to go on after an abort
        request(db, plan, "resume")
    everything = read_progress(db, plan)
    tables = [t for t in everything if not t.done]
    total = sum(max(t.estimated_rows, t.rows_copied) for t in everything)
    already = sum(t.rows_copied if not t.done else max(t.estimated_rows, t.rows_copied) for t in everything)
    run = ChunkedRun(db, plan, "backfill", total, already, throttle=throttle, show_progress=show_progress,
                     on_chunk=on_chunk, resume_hint="run the same command again to resume from the checkpoint")

    def copy(conn: Database, table: TableProgress) -> None:
        ceiling = backfill_ceiling(chunk_rows, table.row_bytes, facts.buffer_pool_bytes)
        _copy_table(conn, plan, table, ChunkSizer(chunk_rows, chunk_time_s, ceiling=ceiling), sleep_ms, run)

    run.run(tables, lambda t: t.label, jobs, copy)
    redone = f"; {run.redone} chunk(s) tried again: a writer held rows of them" if run.redone else ""
    if redone:
        run.say(redone[2:])
    run.finish(f"{run.rows:,} rows copied in this run{redone}")
    if not run.stop.is_set() and all(t.done for t in read_progress(db, plan, with_sizes=False)):
        log_phase(db, plan, "40", "40_backfill.sql")  # as 40_backfill.sql does at its end
    return run.rows


def _engine_session(db: Database, plan: Plan) -> None:
    """The backfill's copies are not v2 clients' writes: two-way sync carries none back to v1 (a one-way v2 table lets
    them in; djsqlgen.engines.two_way), and v2's write trackers (on from 30 when the cut-over renames nothing) skip
    them without reading anything."""
    db.execute(f"SET {ENGINE_SESSION} = 1")


def _copy_table(db: Database, plan: Plan, table: TableProgress, sizer: ChunkSizer, sleep_ms: int,
                run: ChunkedRun) -> None:
    """One table, chunk by chunk, on ``db``, until its procedure says done (or another job failed)."""
    proc = quote_qualified((plan.control, "backfill_chunk"))
    _engine_session(db, plan)
    done, requested = False, None
    while not done and not run.stop.is_set():
        run.before_chunk(db, requested)
        if run.stop.is_set():
            return
        copied = _call_chunk(db, plan, proc, table.target_id, sizer.size, table.label, run)
        if copied is None:  # another job failed while rows were locked
            return
        result, size, seconds = copied
        requested = result["requested"]  # read with the chunk's results: the next check between chunks
        sizer.observe(size, seconds)
        rows, done = int(result["n"] or 0), bool(result["done"])
        if result["warnings"]:
            run.warn(f"backfill of {table.label}: {_text(result['warnings'])}")
        run.done(db, table.label, rows)
        if not done and sleep_ms:
            time.sleep(sleep_ms / 1000)


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


# Writers win: backfill_chunk never waits for a row lock (InnoDB would break a deadlock by rolling back the
# lighter transaction, the writer's once the chunk has copied rows). A chunk that meets a writer's row fails at
# once, its whole transaction rolled back, checkpoint included; it is tried again after a pause, smaller. A deadlock
# (1213) is retried the same way; 3572 is MySQL's FOR SHARE NOWAIT.
RETRYABLE = {1205: "lock wait timeout", 1213: "deadlock", 3572: "row locked, NOWAIT"}


def _call_chunk(db: Database, plan: Plan, proc: str, target_id: str, chunk_rows: int, label: str,
                run: ChunkedRun) -> tuple[dict, int, float] | None:
    """One chunk, the size it was copied at and the seconds its copy took (the waits left out, so the chunk size
    adapts to the copy alone): retried with backoff, halving, while writers hold rows of it, for up to
    LOCKED_FOR_S seconds of retries (a `djsqlgen pause` in between does not count); None when another job's
    failure ends the wait; an abort raises; any other error stops with a clear one. The chunk's results come
    back with the DBA's request (run, pause or abort) in one round trip."""
    attempt, locked_s = 0, 0.0
    while True:
        began = time.monotonic()
        try:
            db.execute(f"CALL {proc}(%s, %s, @djsqlgen_rows, @djsqlgen_done, @djsqlgen_warnings)",
                       [target_id, chunk_rows])
            return _chunk_results(db, plan), chunk_rows, time.monotonic() - began
        except ServerError as exc:
            if exc.errno not in RETRYABLE:
                raise JobStopped(f"backfill of {label} stopped: server error {exc.errno}: {exc.message}. "
                                    "Nothing is lost: fix the cause and run the same command again to resume.") from None
            pause = min(FIRST_PAUSE_S * 2**attempt, MAX_PAUSE_S)
            if locked_s + pause > LOCKED_FOR_S:
                why = f"rows of {label} locked by writers for {LOCKED_FOR_S} s of retries"
                run.report(db, "stopped", why)
                raise JobStopped(
                    f"backfill of {label} stopped: writers kept rows of its next chunk locked for {LOCKED_FOR_S} s "
                    f"of retries (last: {RETRYABLE[exc.errno]}, {exc.errno}). Nothing is lost: run the same command "
                    "again to resume once the long transaction has ended (see SHOW ENGINE INNODB STATUS)."
                ) from None
        if attempt == 0:
            run.redo()
        if attempt == QUIET_RETRIES:
            why = f"rows of {label} are locked by a writer: the copy yields, and retries"
            run.say(f"waiting: {why}")
            run.report(db, "throttled", why)
        time.sleep(pause)
        locked_s += pause
        attempt, chunk_rows = attempt + 1, max(chunk_rows // 2, 1)
        run.before_chunk(db)  # a pause or abort is honoured while waiting too
        if run.stop.is_set():
            return None


def _chunk_results(db: Database, plan: Plan) -> dict:
    """The chunk's OUT parameters, and the DBA's request read in the same query."""
    results = "SELECT @djsqlgen_rows AS n, @djsqlgen_done AS done, @djsqlgen_warnings AS warnings"
    try:
        return db.query(f"{results}, {requested_expression(plan)} AS requested")[0]
    except ServerError as exc:
        if exc.errno != 1146:  # routines applied by an older djsqlgen: no request to read, the copy runs
            raise
    return {**db.query(results)[0], "requested": "run"}


@dataclass
class TableStatus:
    """One v2 table as `djsqlgen status` shows it: where it and its driving v1 table are now (after a renaming
    cut-over, under their final and archive names), the rows each holds, and its backfill."""

    v2_table: str
    from_v1: str
    v1_rows: int | None  # None: the table is not there
    v2_rows: int | None
    rows_copied: int
    done: bool


# Below this many rows (InnoDB's estimate) a table is counted exactly: the estimate of a small or young table is often
# 0 or far off (a lookup of three rows), and counting it costs little.
EXACT_BELOW = 10_000


def table_status(db: Database, plan: Plan, cut_over: bool) -> list[TableStatus]:
    """Each v2 table with its own rows (a lookup's are its own, not its source's) and its driving v1 table's,
    both found where they are: once a renaming cut-over has run, v2 under its final schema, v1 in its archive."""
    rows = _control_rows(db, plan, "SELECT target_schema, target_table, source_schema, source_table, rows_copied, "
                                   "done FROM {control}.progress ORDER BY ordinal")
    v2_now, v1_now = {}, {}
    if cut_over and plan.cutover.rename_to_final:
        moves_v1 = any(spec.archive for spec in plan.schemas)
        for spec in plan.schemas:
            if spec.final:
                v2_now[spec.target] = spec.final
            if moves_v1 and spec.archive:
                v1_now[spec.source] = spec.archive
    homes = [((v2_now.get(r["target_schema"], r["target_schema"]), r["target_table"]),
              (v1_now.get(r["source_schema"], r["source_schema"]), r["source_table"])) for r in rows]
    schemas = sorted({schema for pair in homes for schema, _ in pair})
    estimates = {(e["s"], e["t"]): int(e["n"] or 0) for e in query_each_schema(
        db, "SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, TABLE_ROWS AS n FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s", schemas)}

    def count(home: tuple[str, str]) -> int | None:
        estimate = estimates.get(home)
        if estimate is None or estimate >= EXACT_BELOW:
            return estimate
        return int(db.query(f"SELECT COUNT(*) AS n FROM {quote_qualified(home)}")[0]["n"])

    return [TableStatus(".".join(v2), ".".join(v1), count(v1), count(v2), int(r["rows_copied"]), bool(r["done"]))
            for r, (v2, v1) in zip(rows, homes)]


def status(db: Database, plan: Plan) -> dict:
    """Phase reached, triggers, each v2 table, the running job (and whether its session is still there) and the
    last verify; after contract: finished."""
    phases = _control_rows(db, plan, "SELECT phase, file, plan_hash, applied_at FROM {control}.phase_log ORDER BY phase")
    if any(p["phase"] == "80" for p in phases):
        out = {"finished": True, "phases": phases, "progress": [], "triggers": [], "last_verify": None,
               "carried": carried_counts(db, plan)}  # two-way: kept by 80, the record of what each way carried
        if plan.sync == "two-way" and plan.contract.v1 == "keep-synced" and not any(p["phase"] == "90" for p in phases):
            # v1 kept read-only, v2's reverse triggers still filling it (until 90_retire_v1.sql)
            out["kept_synced"] = _control_rows(db, plan, "SELECT closed_at, closed_by FROM {control}.sides "
                                                         "WHERE side = 'v1'")
        return out
    try:
        progress = table_status(db, plan, cut_over=any(p["phase"] == "70" for p in phases))
    except DjsqlgenError:
        progress = []
    recorded = _control_rows(db, plan, "SELECT schema_name AS trigger_schema, on_table, object_name AS name_ "
                                       "FROM {control}.objects WHERE kind = 'trigger' "
                                       "ORDER BY schema_name, on_table, object_name")
    # information_schema read one schema at a time (a join to it would open every database on the server)
    present = {(r["s"], r["n"]): r for r in query_each_schema(db, TRIGGER_EVENTS_OF_SCHEMA,
                                                              {r["trigger_schema"] for r in recorded})}
    triggers = [{**r, "timing": present[key]["timing"], "event": present[key]["event"]}
                for r in recorded if (key := (r["trigger_schema"], r["name_"])) in present]
    try:
        run = _control_rows(db, plan, "SELECT requested, state, why, rows_per_s, eta_s, reported_at, "
                                      "TIMESTAMPDIFF(SECOND, reported_at, NOW(6)) AS age_s FROM {control}.backfill_run")
    except DjsqlgenError:
        run = []
    if run:
        # A job at work holds this lock for as long as its session lasts: free, the process or connection is gone.
        holder = db.query("SELECT IS_USED_LOCK(%s) AS holder", [run_lock(plan.control)])[0]["holder"]
        run[0]["alive"] = holder is not None
    try:
        last_verify = _control_rows(db, plan, "SELECT run_id, started_at, finished_at, bad_chunks FROM "
                                              "{control}.verify_run ORDER BY run_id DESC LIMIT 1")
    except DjsqlgenError:
        last_verify = []
    if last_verify and last_verify[0]["finished_at"] is not None and (last_verify[0]["bad_chunks"] or 0) > 0:
        last_verify[0]["differences"] = verify_differences(db, plan, int(last_verify[0]["run_id"]))
    try:  # which side takes writes (the cut-over closes v1 by this row)
        sides = _control_rows(db, plan, "SELECT side, is_open, closed_at, closed_by FROM {control}.sides ORDER BY side")
    except DjsqlgenError:
        sides = []
    return {"finished": False, "phases": phases, "progress": progress, "triggers": triggers,
            "backfill": run[0] if run else None, "last_verify": last_verify[0] if last_verify else None,
            "sides": sides, "carried": carried_counts(db, plan)}


def carried_counts(db: Database, plan: Plan, compact: bool = True) -> list[dict] | None:
    """Two-way: the rows each direction has carried since 30 installed the triggers, per table the clients wrote (or
    their side's ON DELETE CASCADE removed rows of): committed work only, the triggers' count being part of each
    writer's transaction. None when the plan has no count (one-way, or before 30).

    ``compact`` first folds the rows of connections that are gone into one row per direction and table (connection
    0): the triggers add a row per connection, which would otherwise grow as long as the window lasts."""
    if plan.sync != "two-way":
        return None
    if compact:
        compact_carried(db, plan)
    try:
        return _control_rows(db, plan, "SELECT direction, table_name, CAST(SUM(rows_carried) AS UNSIGNED) AS rows_ "
                                       "FROM {control}.carried GROUP BY direction, table_name "
                                       "ORDER BY direction, table_name")
    except (DjsqlgenError, ServerError):  # not there (one-way, before 30, after rollback/30), or not readable
        return None


def compact_carried(db: Database, plan: Plan) -> int:
    """Fold the carried counts of connections no longer connected into connection 0's row of each direction and table;
    the number of rows folded (0 when it cannot: no privilege to write the control schema, another status folding).

    Writers never wait for it on a lock they hold: the rows are read FOR UPDATE SKIP LOCKED (a row whose writer's
    transaction is open is left for next time), under READ COMMITTED (record locks only, so no writer's first insert
    of its own row meets a gap lock), and one status folds at a time (a named lock). A connection that writes again
    after its row is folded inserts a new one: the sum is the same."""
    control = quote_qualified((plan.control,))
    lock = f"djsqlgen {plan.control} carried"
    try:
        if db.query("SELECT GET_LOCK(%s, 0) AS got", [lock])[0]["got"] != 1:
            return 0
    except ServerError:
        return 0
    try:
        db.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")  # the next transaction only
        db.execute("BEGIN")
        try:
            # connections this session can see (all of them with PROCESS; else its own: the others' rows are then
            # folded too, each one its writer's transaction does not hold)
            rows = db.query(f"SELECT connection_id, direction, table_name, rows_carried FROM {control}.carried "
                            "WHERE connection_id <> 0 AND connection_id NOT IN "
                            "(SELECT ID FROM information_schema.PROCESSLIST) FOR UPDATE SKIP LOCKED")
            folded: dict[tuple[str, str], int] = {}
            for r in rows:
                key = (r["direction"], r["table_name"])
                folded[key] = folded.get(key, 0) + int(r["rows_carried"])
            for (direction, table), n in folded.items():
                db.execute(f"INSERT INTO {control}.carried (connection_id, direction, table_name, rows_carried) "
                           "VALUES (0, %s, %s, %s) ON DUPLICATE KEY UPDATE rows_carried = rows_carried + %s",
                           [direction, table, n, n])
            for r in rows:
                db.execute(f"DELETE FROM {control}.carried WHERE connection_id = %s AND direction = %s "
                           "AND table_name = %s", [r["connection_id"], r["direction"], r["table_name"]])
            db.execute("COMMIT")
            return len(rows)
        except ServerError:
            db.execute("ROLLBACK")
            return 0
    finally:
        db.query("SELECT RELEASE_LOCK(%s) AS released", [lock])


def verify_differences(db: Database, plan: Plan, run_id: int) -> list[dict]:
    """Each table and direction that differed in verify run ``run_id``: the table on the side compared (v2 going
    forward, v1 on the way back of a two-way table), and the keys verify_report names there ([] when the report
    procedure is gone)."""
    try:
        results = db.call_results(f"CALL {quote_qualified((plan.control, 'verify_report'))}({run_id})")
    except ServerError:
        return []
    tables, diffs = results[0], results[1] if len(results) > 1 else []
    out = []
    for t in (t for t in tables if t["result"] != "OK"):
        back = t.get("direction") == BACK_DIRECTION
        keys = [f"{d['row_key']} ({d['problem']})" for d in diffs
                if d["v2_table"] == t["v2_table"] and d.get("direction") == t.get("direction")]
        out.append({"direction": t.get("direction", FORWARD_DIRECTION), "table": t["from_v1"] if back else t["v2_table"],
                    "result": t["result"], "keys": keys})
    return out
