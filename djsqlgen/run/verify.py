"""`djsqlgen verify`: the verify procedures driven chunk by chunk from the command line.

Each chunk is one call of the shared checksum_chunk for the table (two checksums in one snapshot, reads
only); the result is recorded on the primary by ``verify_record``, where `status`, 70's refusal and a later
``--resume`` read it. Between chunks, as for the backfill: pause and abort, then the throttle; the chunk
size adapts to ``--chunk-time``; ``--jobs`` tables at once. With ``--on-replica`` the chunks are read on a
replica, so the primary only records results: a replica applies each v1 write and its trigger's v2 write
in one transaction, so its snapshot compares both sides as of one moment, as the primary's would.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import click

from djsqlgen.errors import DjsqlgenError, JobStopped
from djsqlgen.model.part_back import merged_of
from djsqlgen.plan import Plan
from djsqlgen.run.backfill_control import check_v1_unchanged, log_phase, request, requested_now
from djsqlgen.run.chunked import ChunkedRun
from djsqlgen.run.db import Database, ServerError, connect
from djsqlgen.run.driver import read_progress
from djsqlgen.run.settings import ConnectionSettings
from djsqlgen.run.throttle import ChunkSizer, Throttle
from djsqlgen.sqltext.naming import WAY_BACK, way_back_id
from djsqlgen.sqltext.quoting import quote_qualified

RESUME_HINT = "`djsqlgen verify --resume PLAN` goes on from the last chunk checked"
_OUTS = ("hi", "src_rows", "src_h1", "src_h2", "dst_rows", "dst_h1", "dst_h2", "diffs")


@dataclass
class VerifyResult:
    run_id: int
    tables: list[dict]
    diffs: list[dict]

    @property
    def ok(self) -> bool:
        return all(t["result"] == "OK" for t in self.tables) and not self.diffs


@dataclass
class TableToVerify:
    target_id: str
    label: str
    estimated_rows: int
    keyed: bool  # a keyed comparison ends with whole-table counts
    chunk_no: int = 0  # chunks recorded in this run
    lo: str | None = None  # where the next chunk starts
    chunks_done: bool = False
    total_done: bool = False
    rows_done: int = 0

    @property
    def finished(self) -> bool:
        return self.chunks_done and (self.total_done or not self.keyed)


def _q(plan: Plan, name: str) -> str:
    return quote_qualified((plan.control, name))


def _routines(db: Database, plan: Plan) -> set[str]:
    rows = db.query("SELECT ROUTINE_NAME AS name FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s "
                    "AND ROUTINE_TYPE = 'PROCEDURE'", [plan.control])
    return {r["name"] for r in rows}


def _installed_hash(db: Database, plan: Plan, where: str) -> str:
    try:
        rows = db.query(f"SELECT plan_hash FROM {_q(plan, 'phase_log')} WHERE phase = '20'")
    except ServerError as exc:
        if exc.errno in (1049, 1146):
            rows = []
        else:
            raise
    if not rows:
        raise DjsqlgenError(f"the verify procedures are missing on {where}: apply 00_preflight.sql and "
                            "20_routines.sql first")
    return rows[0]["plan_hash"]


def _backfill_active(db: Database, plan: Plan) -> bool:
    """A `djsqlgen backfill` reported copying, throttled or paused in the last minute (the control row is shared)."""
    rows = db.query(f"SELECT state, TIMESTAMPDIFF(SECOND, reported_at, NOW(6)) AS age_s FROM "
                    f"{_q(plan, 'backfill_run')} WHERE id = 1")
    return bool(rows) and rows[0]["state"] in ("copying", "throttled", "paused") and rows[0]["age_s"] is not None \
        and rows[0]["age_s"] < 60


def _start_run(db: Database, plan: Plan, plan_hash: str) -> int:
    db.execute(f"INSERT INTO {_q(plan, 'verify_run')} (plan_hash, started_at) VALUES (%s, NOW(6))", [plan_hash])
    return int(db.query("SELECT LAST_INSERT_ID() AS id")[0]["id"])


def _run_to_resume(db: Database, plan: Plan, plan_hash: str) -> int:
    """The newest run, if it stopped before the end and nothing changed since that would make its chunks
    describe another v2."""
    rows = db.query(f"SELECT run_id, plan_hash, started_at, finished_at FROM {_q(plan, 'verify_run')} "
                    "ORDER BY run_id DESC LIMIT 1")
    if not rows or rows[0]["finished_at"] is not None:
        raise DjsqlgenError("there is no unfinished verify run to resume: run `djsqlgen verify PLAN` without --resume")
    run = rows[0]
    if run["plan_hash"] != plan_hash:
        raise DjsqlgenError(f"verify run {run['run_id']} was started by another version of the plan: start a new "
                            "one (without --resume)")
    later = db.query(f"SELECT file FROM {_q(plan, 'phase_log')} WHERE applied_at > %s ORDER BY phase",
                     [run["started_at"]])
    if later:
        raise DjsqlgenError(f"{later[0]['file']} was applied after verify run {run['run_id']} started, so its "
                            "chunks may describe another v2: start a new run (without --resume)")
    return int(run["run_id"])


def _tables(db: Database, plan: Plan, plan_hash: str, run_id: int) -> list[TableToVerify]:
    """Every v2 table in the plan's order (each two-way table's way back right after it, the id ``WAY_BACK`` ends
    in: v1 against reverse(v2)), with what ``run_id`` has already checked of it."""
    done = db.query(f"SELECT target_id, chunk_no, is_total, hi_key, src_rows FROM {_q(plan, 'verify_chunk')} "
                    "WHERE run_id = %s ORDER BY target_id, is_total, chunk_no", [run_id])
    strategies = {r["target_id"]: r["verify_strategy"] for r in db.query(
        f"SELECT target_id, verify_strategy FROM {_q(plan, 'chunk_sql')} WHERE plan_hash = %s", [plan_hash])}
    tables = []
    for p in read_progress(db, plan):
        if p.target_id not in strategies:
            raise DjsqlgenError(f"the statements that verify {p.label} are missing in {plan.control}.chunk_sql: "
                                "apply this plan's 20_routines.sql again")
        back = way_back_id(p.target_id)
        ways = [(p.target_id, p.label)] + ([(back, f"{p.source_schema}.{p.source_table} <- {p.label}")]
                                           if back in strategies else [])
        # the ways back of the parts merged into it (model/part_back.py: they have no progress row of their own)
        for i in sorted(strategies):
            found = merged_of(i.removesuffix(WAY_BACK)) if i.endswith(WAY_BACK) else None
            if found is not None and found[0] == p.target_id:
                ways.append((i, f"{p.source_schema}.{found[1]} <- {p.label}"))
        for target_id, label in ways:
            table = TableToVerify(target_id, label, p.estimated_rows, strategies[target_id] == "keyed")
            for c in (c for c in done if c["target_id"] == table.target_id):
                if c["is_total"]:
                    table.total_done = True
                    continue
                table.chunk_no, table.lo = int(c["chunk_no"]), c["hi_key"]
                table.chunks_done = c["hi_key"] is None
                table.rows_done += int(c["src_rows"])
            tables.append(table)
    return tables


class _Readers:
    """Where the chunks are read: each job's own primary connection, or one replica connection per job."""

    def __init__(self, replica: ConnectionSettings | None):
        self.replica = replica
        self._by_thread: dict[int, Database] = {}
        self._lock = threading.Lock()

    def for_job(self, primary: Database) -> Database:
        if self.replica is None:
            return primary
        key = threading.get_ident()
        with self._lock:
            conn = self._by_thread.get(key)
        if conn is None:
            conn = connect(self.replica)
            with self._lock:
                self._by_thread[key] = conn
        return conn

    def close(self) -> None:
        for conn in self._by_thread.values():
            conn.close()
        self._by_thread.clear()


def _check_replica(primary: Database, replica: ConnectionSettings, plan: Plan, plan_hash: str,
                   say, timeout_s: float = 600.0) -> None:
    """The replica runs this plan's procedures and has applied everything the primary had when verify started (a
    heartbeat written now has reached it): its chunks then read data at least that new, as on the primary.
    A replica that stopped applying (a backup, a stopped SQL thread) is waited for, then refused."""
    where = f"the replica {replica.host}:{replica.port}"
    with connect(replica) as conn:
        if _installed_hash(conn, plan, where) != plan_hash:
            raise DjsqlgenError(f"{where} holds another version of the verify procedures than the primary: let it "
                                "catch up (is it replicating the control schema?) or verify without --on-replica")
        beat = Throttle(plan.control).beat(primary)
        deadline, said = time.monotonic() + timeout_s, False
        while True:
            rows = conn.query(f"SELECT ts FROM {_q(plan, 'heartbeat')} WHERE id = 1")
            if rows and rows[0]["ts"] is not None and rows[0]["ts"] >= beat:
                return
            if time.monotonic() > deadline:
                raise DjsqlgenError(f"{where} has not applied the primary's writes of {timeout_s:.0f} s ago: it is "
                                    "stopped or far behind; verify on the primary, or once it has caught up")
            if not said:
                say(f"waiting for {where} to apply the primary's writes up to now (verify reads it)")
                said = True
            time.sleep(0.2)


def verify(db: Database, plan: Plan, chunk_rows: int, *, chunk_time_s: float = 0.0, sleep_ms: int = 0, jobs: int = 1,
           throttle: Throttle | None = None, on_replica: ConnectionSettings | None = None, resume: bool = False,
           show_progress: bool = True) -> VerifyResult:
    """Checksum every v2 table against transform(v1), chunk by chunk, and close the run with its report.

    The run is clean only when every table was checked to its end (verify_finish); with ``resume`` the
    newest unfinished run goes on where it stopped."""
    routines = _routines(db, plan)
    plan_hash = _installed_hash(db, plan, "the server")
    if plan.contract.drop_v1 and db.query(f"SELECT 1 FROM {_q(plan, 'phase_log')} WHERE phase = '80'"):
        raise DjsqlgenError("80_contract.sql dropped v1 (contract.drop_v1): there is nothing left to verify v2 against")
    check_v1_unchanged(db, plan, "verify")
    if not {"verify_record", "checksum_chunk", "checksum_totals"} <= routines:
        raise DjsqlgenError(f"the verify procedures in {plan.control} come from an older djsqlgen: apply this plan's "
                            "20_routines.sql again")
    if requested_now(db, plan) == "abort":
        if _backfill_active(db, plan):
            raise DjsqlgenError("`djsqlgen abort` is pending for a backfill that is still running; let it stop "
                                "(or `djsqlgen resume PLAN`) before starting verify")
        request(db, plan, "resume")  # running it again is the decision to go on after an abort
    if on_replica is not None:
        _check_replica(db, on_replica, plan, plan_hash,
                       lambda text: show_progress and click.echo(text, err=True))
    run_id = _run_to_resume(db, plan, plan_hash) if resume else _start_run(db, plan, plan_hash)
    tables = _tables(db, plan, plan_hash, run_id)
    total = sum(max(t.estimated_rows, t.rows_done) for t in tables)
    already = sum(t.rows_done if not t.finished else max(t.estimated_rows, t.rows_done) for t in tables)
    run = ChunkedRun(db, plan, "verify", total, already, throttle=throttle, show_progress=show_progress,
                     resume_hint=RESUME_HINT)
    readers = _Readers(on_replica)

    def check(conn: Database, table: TableToVerify) -> None:
        _check_table(conn, readers.for_job(conn), plan, run_id, table, ChunkSizer(chunk_rows, chunk_time_s), sleep_ms,
                     run)

    try:
        run.run([t for t in tables if not t.finished], lambda t: t.label, jobs, check)
    finally:
        readers.close()
    run.finish(f"run {run_id}: {run.rows:,} rows checked in this run")
    try:
        results = db.call_results(f"CALL {_q(plan, 'verify_finish')}({run_id}, 0)")
    except ServerError as exc:
        raise JobStopped(f"verify run {run_id} could not be closed: server error {exc.errno}: {exc.message}") from None
    log_phase(db, plan, "50", "50_verify.sql")  # as 50_verify.sql does
    return VerifyResult(run_id, results[0] if results else [], results[1] if len(results) > 1 else [])


def _check_table(primary: Database, reader: Database, plan: Plan, run_id: int, table: TableToVerify,
                 sizer: ChunkSizer, sleep_ms: int, run: ChunkedRun) -> None:
    """One table, chunk after chunk: read (on ``reader``), then record (on ``primary``)."""
    chunk_proc = _q(plan, "checksum_chunk")
    record = _q(plan, "verify_record")
    while not table.chunks_done and not run.stop.is_set():
        run.before_chunk(primary)
        if run.stop.is_set():
            return
        size, began = sizer.size, time.monotonic()
        out = _read(reader, f"CALL {chunk_proc}(%s, %s, %s, {', '.join('@djsqlgen_' + o for o in _OUTS)})",
                    [table.target_id, table.lo, size], _OUTS, table.label)
        sizer.observe(size, time.monotonic() - began)
        table.chunk_no += 1
        primary.execute(f"CALL {record}(%s, %s, %s, 0, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        [run_id, table.target_id, table.chunk_no, table.lo, out["hi"], out["src_rows"], out["src_h1"],
                         out["src_h2"], out["dst_rows"], out["dst_h1"], out["dst_h2"], out["diffs"]])
        table.lo, table.chunks_done = out["hi"], out["hi"] is None
        run.done(primary, table.label, int(out["src_rows"]))
        if not table.chunks_done and sleep_ms:
            time.sleep(sleep_ms / 1000)
    if table.chunks_done and table.keyed and not table.total_done and not run.stop.is_set():
        outs = ("src_rows", "dst_rows", "diffs")
        out = _read(reader, f"CALL {_q(plan, 'checksum_totals')}(%s, {', '.join('@djsqlgen_' + o for o in outs)})",
                    [table.target_id], outs, table.label)
        primary.execute(f"CALL {record}(%s, %s, 0, 1, NULL, NULL, %s, 0, 0, %s, 0, 0, %s)",
                        [run_id, table.target_id, out["src_rows"], out["dst_rows"], out["diffs"]])
        table.total_done = True


def _read(reader: Database, call: str, args: list, outs: tuple[str, ...], label: str) -> dict:
    """One procedure call and its OUT parameters, or a clear error."""
    try:
        reader.execute(call, args)
        row = reader.query("SELECT " + ", ".join(f"@djsqlgen_{o} AS {o}" for o in outs))[0]
    except ServerError as exc:
        raise JobStopped(f"verify of {label} stopped: server error {exc.errno}: {exc.message}. Nothing is lost: "
                            f"{RESUME_HINT}") from None
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in row.items()}
