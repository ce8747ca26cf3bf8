"""Benchmark of djsqlgen's backfill against the ways the same copy is done today, on the same data.

It declares a synthetic DataJoint-shaped v1 pipeline with plain SQL (schema ``bench_bf_v1``):

    #kind            lookup, 8 rows
    subject          -> #kind                       rows/1000
    session          -> subject      (composite key)  10 per subject
    session__trial   part table of session           65 per session   (small rows)
    __waveform       computed, -> session, 1 KB longblob ':<blob>:'  35 per session

(1,011,008 rows at the default --rows 1000000), filled server-side with INSERT…SELECT over MariaDB's
``seq_1_to_N`` tables. The blobs are valid DataJoint blobs (a packed uint8 array of random bytes), so
the DataJoint client baseline decodes and re-encodes them exactly as it would in a lab.

Measurements, all on the same v1 data, the v2 side dropped and recreated between them, each repeated
``--repeats`` times in interleaved rounds (the median is reported; the machine is shared and noisy):

(a) djsqlgen: ``djsqlgen plan init`` → ``generate`` → ``apply`` 00, 10, 20, 30 (the dual-write
    triggers are part of the real setup) → time ONLY the backfill → apply the rollback files.
    Driven two ways: ``djsqlgen.drive.backfill`` (what ``djsqlgen backfill`` runs: one CALL per chunk,
    in a child process so its peak RSS is its own) and the per-table procedures that 40_backfill.sql
    CALLs (the loop runs on the server). Chunk sizes from ``--chunks``.
(b) the server's own limit: one ``INSERT INTO v2.t SELECT * FROM v1.t`` per table into empty
    ``CREATE TABLE … LIKE`` copies, no triggers, no chunking, no resumability. Nothing can copy faster
    through SQL, so (a)/(b) is the fraction of the hardware limit djsqlgen reaches.
(c) a DataJoint 2.3 client copy, written the way a lab writes it: fetch the keys, then for every
    1000 keys ``(src & keys).to_dicts()`` and ``dst.insert(rows)``. Nothing is slowed down: one
    connection, no per-row round trips, DataJoint's own batched multi-row INSERT. It runs on the
    first ``--client-rows`` rows of each table (in key order); the time for all rows is extrapolated
    per table from its measured rate, and printed as such.
(d) ``datajoint.migrate.copy_table_data`` of DataJoint 2.3, per table, in dependency order, into
    empty LIKE copies: the package's own migration helper, called as documented.
(e) the write cost of the dual-write triggers: client-side multi-row INSERTs of 1000 rows each (the
    same pre-built statements both times) into v1's blob table, without and then with the triggers,
    alternating, median of the repeats; the rows are deleted again after every pass.

Then the peak RSS of the djsqlgen backfill process at --rows and at --rows/4: it must not grow with
the table (no row passes through Python).

Run: ``/work/main/.venv/bin/python bench/backfill_bench.py [--rows N] [--keep]``. Connection as the
command line without flags: DJ_HOST, DJ_PORT, DJ_USER, DJ_PASS, else root on localhost. Every schema
it makes starts with ``bench_bf_`` and is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pymysql
from common import create_own, drop_own

V1 = "bench_bf_v1"
V2 = "bench_bf_v2"  # djsqlgen's target
BULK = "bench_bf_bulk"  # (b) and (d)
CLIENT = "bench_bf_client"  # (c)
PLAN_NAME = "bench_bf"
CONTROL = f"djsqlgen_{PLAN_NAME}"
ALL_SCHEMAS = (V1, V2, BULK, CLIENT, CONTROL)

# Tables in dependency order (parents first).
TABLES = ("#kind", "subject", "session", "session__trial", "__waveform")
BLOB_TABLE = "__waveform"
BLOB_BYTES = 1024
SESSIONS_PER_SUBJECT = 10
TRIALS_PER_SESSION = 65
UNITS_PER_SESSION = 35
HERE = Path(__file__).resolve().parent


def q(name: str) -> str:
    """Backtick-quote an identifier (doubling embedded backticks)."""
    return "`" + name.replace("`", "``") + "`"


def qt(schema: str, table: str) -> str:
    return f"{q(schema)}.{q(table)}"


# ---------------------------------------------------------------------------------------------
# connection
# ---------------------------------------------------------------------------------------------
def settings() -> dict:
    from djsqlgen.run.settings import resolve_settings

    s = resolve_settings()
    return {"host": s.host, "port": s.port, "user": s.user, "password": s.password or ""}


def connect(database: str | None = None) -> pymysql.connections.Connection:
    return pymysql.connect(**settings(), database=database, autocommit=True, charset="utf8mb4")


def run(conn, sql: str, args=None) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        rows = list(cur.fetchall()) if cur.description else []
        while cur.nextset():
            pass
        return rows


def drop_schemas(conn, names=ALL_SCHEMAS) -> None:
    drop_own(conn, *names)  # only what a bench made; someone else's database of one of these names stops it


def count_rows(conn, schema: str) -> dict[str, int]:
    return {t: run(conn, f"SELECT COUNT(*) FROM {qt(schema, t)}")[0][0] for t in TABLES}


# ---------------------------------------------------------------------------------------------
# the v1 pipeline
# ---------------------------------------------------------------------------------------------
def _fk(name: str, cols: str, table: str) -> str:
    # DataJoint's foreign keys: ON UPDATE CASCADE ON DELETE RESTRICT.
    return (f"CONSTRAINT {q(name)} FOREIGN KEY ({cols}) REFERENCES {qt(V1, table)} ({cols}) "
            "ON UPDATE CASCADE ON DELETE RESTRICT")


DDL = {
    "#kind": [
        "`kind_name` varchar(16) NOT NULL COMMENT ':varchar(16):'",
        "`kind_description` varchar(255) NOT NULL DEFAULT '' COMMENT ':varchar(255):'",
        "PRIMARY KEY (`kind_name`)",
    ],
    "subject": [
        "`subject_id` int NOT NULL COMMENT ':int32:'",
        "`kind_name` varchar(16) NOT NULL COMMENT ':varchar(16):'",
        "`dob` date DEFAULT NULL COMMENT ':date:date of birth'",
        "`subject_notes` varchar(255) NOT NULL DEFAULT '' COMMENT ':varchar(255):'",
        "PRIMARY KEY (`subject_id`)",
        _fk("subject_ibfk_1", "`kind_name`", "#kind"),
    ],
    "session": [
        "`subject_id` int NOT NULL COMMENT ':int32:'",
        "`session_idx` smallint NOT NULL COMMENT ':int16:'",
        "`session_date` date NOT NULL COMMENT ':date:'",
        "`session_notes` varchar(255) NOT NULL DEFAULT '' COMMENT ':varchar(255):'",
        "PRIMARY KEY (`subject_id`,`session_idx`)",
        _fk("session_ibfk_1", "`subject_id`", "subject"),
    ],
    "session__trial": [
        "`subject_id` int NOT NULL COMMENT ':int32:'",
        "`session_idx` smallint NOT NULL COMMENT ':int16:'",
        "`trial_idx` int NOT NULL COMMENT ':int32:'",
        "`trial_start` float NOT NULL COMMENT ':float32:seconds'",
        "`trial_stop` float NOT NULL COMMENT ':float32:seconds'",
        "`outcome` enum('hit','miss','false_alarm','correct_reject') NOT NULL COMMENT ':enum:'",
        "PRIMARY KEY (`subject_id`,`session_idx`,`trial_idx`)",
        _fk("session__trial_ibfk_1", "`subject_id`, `session_idx`", "session"),
    ],
    "__waveform": [
        "`subject_id` int NOT NULL COMMENT ':int32:'",
        "`session_idx` smallint NOT NULL COMMENT ':int16:'",
        "`unit_id` smallint NOT NULL COMMENT ':int16:'",
        "`snr` float NOT NULL COMMENT ':float32:signal to noise'",
        "`waveform` longblob NOT NULL COMMENT ':<blob>:mean waveform'",
        "`waveform_ts` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT ':timestamp:'",
        "PRIMARY KEY (`subject_id`,`session_idx`,`unit_id`)",
        _fk("__waveform_ibfk_1", "`subject_id`, `session_idx`", "session"),
    ],
}
TABLE_COMMENTS = {"#kind": "subject kinds", "subject": "experimental subjects", "session": "recording sessions",
                  "session__trial": "trials of a session", "__waveform": "mean waveform per unit"}


def blob_header(payload: int) -> bytes:
    """The DataJoint blob header of a uint8 array of ``payload`` bytes (its bytes follow it)."""
    import numpy as np
    from datajoint import blob

    packed = blob.pack(np.zeros(payload, np.uint8), compress=False)
    return packed[: len(packed) - payload]


def build_v1(conn, rows: int) -> dict[str, int]:
    """Declare and fill v1; returns the row count per table."""
    drop_schemas(conn)
    create_own(conn, V1, "DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    for table in TABLES:
        body = ",\n  ".join(DDL[table])
        run(conn, f"CREATE TABLE {qt(V1, table)} (\n  {body}\n) ENGINE=InnoDB COMMENT='{TABLE_COMMENTS[table]}'")
    subjects = max(1, rows // 1000)
    header = blob_header(BLOB_BYTES - len(blob_header(1000)))  # header + payload = BLOB_BYTES
    payload = BLOB_BYTES - len(header)
    fill = connect(V1)  # the seq_1_to_N tables resolve in the default database
    try:
        run(fill, "INSERT INTO `#kind` SELECT CONCAT('kind', seq), CONCAT('kind number ', seq) FROM seq_1_to_8")
        run(fill, f"INSERT INTO subject SELECT seq, CONCAT('kind', 1 + seq % 8), '2020-01-01' + INTERVAL seq % 900 DAY, "
                  f"CONCAT('subject ', seq) FROM seq_1_to_{subjects}")
        run(fill, f"INSERT INTO session SELECT s.subject_id, x.seq, '2023-01-01' + INTERVAL (s.subject_id + x.seq) % 700 DAY, "
                  f"CONCAT('session ', x.seq, ' of ', s.subject_id) FROM subject AS s, seq_1_to_{SESSIONS_PER_SUBJECT} AS x")
        run(fill, f"INSERT INTO session__trial SELECT s.subject_id, s.session_idx, x.seq, x.seq * 4.0, x.seq * 4.0 + 2.5, "
                  f"1 + (x.seq + s.subject_id) % 4 FROM session AS s, seq_1_to_{TRIALS_PER_SESSION} AS x")
        run(fill, f"INSERT INTO __waveform (subject_id, session_idx, unit_id, snr, waveform) "
                  f"SELECT s.subject_id, s.session_idx, x.seq, x.seq / 7, CONCAT(%s, RANDOM_BYTES({payload})) "
                  f"FROM session AS s, seq_1_to_{UNITS_PER_SESSION} AS x", [header])
        run(fill, "ANALYZE TABLE " + ", ".join(q(t) for t in TABLES))
    finally:
        fill.close()
    return count_rows(conn, V1)


def like_copies(conn, schema: str) -> None:
    """Empty copies of the v1 tables (CREATE TABLE … LIKE: keys and indexes, no foreign keys)."""
    create_own(conn, schema, "DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    for table in TABLES:
        run(conn, f"CREATE TABLE {qt(schema, table)} LIKE {qt(V1, table)}")


# ---------------------------------------------------------------------------------------------
# (a) djsqlgen
# ---------------------------------------------------------------------------------------------
def djsqlgen_cli(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "djsqlgen", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


FORWARD = ("00_preflight.sql", "10_expand.sql", "20_routines.sql", "30_dualwrite.sql")


def djsqlgen_setup(work: Path) -> Path:
    """plan init → generate → apply 00..30, as a user does; returns the plan path."""
    plan = work / "plan.yaml"
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    djsqlgen_cli("plan", "init", "--schema", f"{V1}={V2}", "--name", PLAN_NAME, "-o", str(plan), cwd=work)
    djsqlgen_cli("generate", str(plan), "-o", str(out), cwd=work)
    djsqlgen_cli("apply", *(str(out / f) for f in FORWARD), cwd=work)
    return plan


def djsqlgen_teardown(work: Path) -> None:
    """Every rollback file, newest first (rollback/30 refuses while v2 holds copied rows: rollback/40 empties it)."""
    djsqlgen_cli("apply", str(work / "out" / "rollback"), cwd=work)


WORKER = """
import json, resource, sys, time
def hwm_kb():  # peak RSS of this address space (getrusage's ru_maxrss also counts the parent before exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
from djsqlgen.run.db import connect
from djsqlgen.run.driver import backfill
from djsqlgen.plan import load_plan
from djsqlgen.run.settings import resolve_settings
from pathlib import Path
plan = load_plan(Path(sys.argv[1]))
db = connect(resolve_settings())
before, hwm_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, hwm_kb()
t0 = time.perf_counter()
rows = backfill(db, plan, int(sys.argv[2]), 0, show_progress=False)
seconds = time.perf_counter() - t0
print(json.dumps({"rows": rows, "seconds": seconds, "rss_before_kb": before,
                  "rss_peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "hwm_before_kb": hwm_before, "hwm_peak_kb": hwm_kb(),
                  "round_trips": db.round_trips}))
"""


def measure_djsqlgen_drive(conn, work: Path, chunk_rows: int) -> dict:
    """(a) drive.backfill in a child process: only the backfill is timed (inside the child)."""
    plan = djsqlgen_setup(work)
    try:
        done = subprocess.run([sys.executable, "-c", WORKER, str(plan), str(chunk_rows)], cwd=work, check=True,
                              capture_output=True, text=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["copied"] = sum(count_rows(conn, V2).values())
        return result
    finally:
        djsqlgen_teardown(work)


def measure_djsqlgen_call(conn, work: Path, chunk_rows: int) -> dict:
    """(a) the CALLs of 40_backfill.sql: one per table, the chunk loop runs on the server."""
    djsqlgen_setup(work)
    try:
        procs = [r[0] for r in run(conn, "SELECT target_id FROM " + qt(CONTROL, "progress") + " ORDER BY ordinal")]
        calls = [line.split("(")[0] for line in (work / "out" / "40_backfill.sql").read_text().splitlines()
                 if line.startswith("CALL") and "_step_" not in line and "backfill_" in line]
        assert len(calls) == len(procs), (calls, procs)
        t0 = time.perf_counter()
        for call in calls:
            run(conn, f"{call}({int(chunk_rows)}, 0)")
        seconds = time.perf_counter() - t0
        return {"rows": sum(count_rows(conn, V2).values()), "seconds": seconds}
    finally:
        djsqlgen_teardown(work)


# ---------------------------------------------------------------------------------------------
# (b) bulk INSERT … SELECT and (d) datajoint.migrate.copy_table_data
# ---------------------------------------------------------------------------------------------
def measure_bulk(conn) -> dict:
    """(b) one INSERT INTO copy SELECT * FROM v1 per table, into empty LIKE copies."""
    like_copies(conn, BULK)
    t0 = time.perf_counter()
    rows = 0
    for table in TABLES:
        with conn.cursor() as cur:
            rows += cur.execute(f"INSERT INTO {qt(BULK, table)} SELECT * FROM {qt(V1, table)}")
    seconds = time.perf_counter() - t0
    drop_own(conn, BULK)
    return {"rows": rows, "seconds": seconds}


_dj_connection = None


def dj_connection():
    """One DataJoint 2.3 connection for (c) and (d) (its MariaDB warning silenced)."""
    global _dj_connection
    if _dj_connection is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import logging

            import datajoint as dj

            logging.getLogger("datajoint").setLevel(logging.WARNING)  # one INFO line per copied table
            s = settings()
            dj.config["database.host"] = s["host"]
            dj.config["database.port"] = s["port"]
            dj.config["database.user"] = s["user"]
            dj.config["database.password"] = s["password"]
            _dj_connection = dj.conn(reset=True)
    return _dj_connection


def measure_migrate(conn) -> dict:
    """(d) datajoint.migrate.copy_table_data per table, in dependency order."""
    from datajoint.migrate import copy_table_data

    dj_conn = dj_connection()
    like_copies(conn, BULK)
    t0 = time.perf_counter()
    rows = 0
    for table in TABLES:
        rows += copy_table_data(V1, BULK, table, connection=dj_conn)["rows_copied"]
    seconds = time.perf_counter() - t0
    drop_own(conn, BULK)
    return {"rows": rows, "seconds": seconds}


# ---------------------------------------------------------------------------------------------
# (c) DataJoint client copy
# ---------------------------------------------------------------------------------------------
def measure_client(conn, rows_per_table: int, full_counts: dict[str, int], batch: int = 1000) -> dict:
    """(c) fetch 1000 keys, fetch their rows, insert them; per table, first ``rows_per_table`` keys."""
    import datajoint as dj

    dj_conn = dj_connection()
    like_copies(conn, CLIENT)
    per_table = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for table in TABLES:
            src = dj.FreeTable(dj_conn, qt(V1, table))
            dst = dj.FreeTable(dj_conn, qt(CLIENT, table))
            t0 = time.perf_counter()
            keys = src.keys(order_by="KEY", limit=rows_per_table)
            copied = 0
            for i in range(0, len(keys), batch):
                rows = (src & keys[i:i + batch]).to_dicts()
                dst.insert(rows)
                copied += len(rows)
            per_table[table] = {"rows": copied, "seconds": time.perf_counter() - t0}
    drop_own(conn, CLIENT)
    measured_rows = sum(t["rows"] for t in per_table.values())
    measured_s = sum(t["seconds"] for t in per_table.values())
    # All rows at each table's own measured rate (tables differ: 1 KB blobs vs small rows).
    full_s = sum(full_counts[t] * r["seconds"] / max(r["rows"], 1) for t, r in per_table.items())
    return {"rows": measured_rows, "seconds": measured_s, "full_rows": sum(full_counts.values()),
            "full_seconds": full_s, "per_table": per_table}


# ---------------------------------------------------------------------------------------------
# (e) the write cost of the dual-write triggers
# ---------------------------------------------------------------------------------------------
def insert_statements(conn, rows: int, batch: int = 1000) -> list[str]:
    """Multi-row INSERTs of new waveform rows (unit_id above the existing ones), built once."""
    sessions = run(conn, f"SELECT subject_id, session_idx FROM {qt(V1, 'session')} ORDER BY 1, 2")
    header = blob_header(BLOB_BYTES - len(blob_header(1000)))
    payload = BLOB_BYTES - len(header)
    values = []
    unit = 1000
    while len(values) < rows:
        for subject_id, session_idx in sessions:
            values.append((subject_id, session_idx, unit, 1.5, header + os.urandom(payload)))
            if len(values) == rows:
                break
        unit += 1
    cols = "(subject_id, session_idx, unit_id, snr, waveform)"
    out = []
    with conn.cursor() as cur:
        for i in range(0, len(values), batch):
            chunk = values[i:i + batch]
            sql = f"INSERT INTO {qt(V1, BLOB_TABLE)} {cols} VALUES " + ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            # Rendered (escaped) once, so the timed part is the server's work, not the driver's escaping.
            out.append(cur.mogrify(sql, [v for row in chunk for v in row]))
    return out


def timed_inserts(conn, statements) -> float:
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
    seconds = time.perf_counter() - t0
    run(conn, f"DELETE FROM {qt(V1, BLOB_TABLE)} WHERE unit_id >= 1000")
    return seconds


def measure_triggers(conn, work: Path, rows: int, repeats: int) -> dict:
    """(e) insert throughput into v1's blob table without / with djsqlgen's triggers, alternating."""
    statements = insert_statements(conn, rows)
    out = work / "out"
    plain, triggered = [], []
    djsqlgen_setup(work)  # v2 tables, routines, triggers
    try:
        for _ in range(repeats):
            djsqlgen_cli("apply", str(out / "rollback/30_dualwrite.sql"), cwd=work)
            plain.append(timed_inserts(conn, statements))
            djsqlgen_cli("apply", str(out / "30_dualwrite.sql"), cwd=work)
            triggered.append(timed_inserts(conn, statements))
            run(conn, f"DELETE FROM {qt(V2, BLOB_TABLE)}")
    finally:
        djsqlgen_teardown(work)
    return {"rows": rows, "plain": plain, "triggered": triggered}


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
def line(label: str, rows: int, seconds: float, note: str = "") -> str:
    return f"  {label:<44} {rows:>10,} rows {seconds:>8.2f} s {rows / seconds:>10,.0f} rows/s  {note}"


def median_of(runs: list[dict]) -> dict:
    ordered = sorted(runs, key=lambda r: r["seconds"])
    mid = dict(ordered[len(ordered) // 2]) if len(ordered) % 2 else dict(ordered[len(ordered) // 2 - 1])
    mid["seconds"] = statistics.median(r["seconds"] for r in runs)
    mid["all"] = [round(r["seconds"], 2) for r in runs]
    return mid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="about this many v1 rows in all")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunks", default="5000,20000", help="djsqlgen chunk sizes to measure")
    parser.add_argument("--client-rows", type=int, default=100_000, help="(c): rows per table copied")
    parser.add_argument("--trigger-rows", type=int, default=50_000, help="(e): rows inserted per pass")
    parser.add_argument("--no-rss-small", action="store_true", help="skip the --rows/4 RSS comparison")
    parser.add_argument("--keep", action="store_true", help="leave the bench_bf_ schemas in place")
    args = parser.parse_args()
    chunks = [int(c) for c in args.chunks.split(",")]

    conn = connect()
    work = Path(tempfile.mkdtemp(prefix="bench_bf_"))
    version = run(conn, "SELECT VERSION()")[0][0]
    pool = run(conn, "SELECT @@innodb_buffer_pool_size")[0][0] // 2**20
    print(f"server {version}, buffer pool {pool} MiB, {os.cpu_count()} cpus; work dir {work}")
    try:
        t0 = time.perf_counter()
        counts = build_v1(conn, args.rows)
        total = sum(counts.values())
        size = run(conn, "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES "
                         "WHERE TABLE_SCHEMA = %s", [V1])[0][0] // 2**20
        print(f"v1 built in {time.perf_counter() - t0:.1f} s: {total:,} rows, ~{size} MiB: "
              + ", ".join(f"{t} {n:,}" for t, n in counts.items()))

        runs: dict[str, list[dict]] = {}
        for rnd in range(args.repeats):
            print(f"round {rnd + 1}/{args.repeats}", flush=True)
            plan = [("(b) bulk INSERT…SELECT", lambda: measure_bulk(conn))]
            for c in chunks:
                plan.append((f"(a) djsqlgen drive.backfill chunk {c}", lambda c=c: measure_djsqlgen_drive(conn, work, c)))
            for c in chunks:
                plan.append((f"(a) djsqlgen CALL procedures chunk {c}", lambda c=c: measure_djsqlgen_call(conn, work, c)))
            plan.append(("(d) datajoint.migrate.copy_table_data", lambda: measure_migrate(conn)))
            for label, fn in plan:
                r = fn()
                runs.setdefault(label, []).append(r)
                print(line(label, r["rows"], r["seconds"]), flush=True)

        print("client copy (c) …", flush=True)
        client = measure_client(conn, args.client_rows, counts)
        print("trigger write cost (e) …", flush=True)
        trig = measure_triggers(conn, work, args.trigger_rows, args.repeats)

        rss_small = None
        if not args.no_rss_small:
            small_rows = args.rows // 4
            print(f"rebuilding v1 at {small_rows:,} rows for the RSS comparison …", flush=True)
            small_counts = build_v1(conn, small_rows)
            rss_small = measure_djsqlgen_drive(conn, work, chunks[0])
            rss_small["total"] = sum(small_counts.values())

        # ---------------------------------------------------------------- summary
        med = {label: median_of(rs) for label, rs in runs.items()}
        print(f"\nSUMMARY  ({total:,} v1 rows; median of {args.repeats}; seconds of each run in brackets)")
        for label, m in med.items():
            print(line(label, m["rows"], m["seconds"], str(m["all"])))
        print(line("(c) DataJoint 2.3 client copy, measured", client["rows"], client["seconds"],
                   f"first {args.client_rows:,} rows per table"))
        print(line("(c) DataJoint 2.3 client copy, all rows (extrap.)", client["full_rows"], client["full_seconds"]))
        for t, r in client["per_table"].items():
            print(line(f"      {t}", r["rows"], r["seconds"]))
        tp = statistics.median(trig["plain"])
        tt = statistics.median(trig["triggered"])
        print(line("(e) v1 inserts without triggers", trig["rows"], tp, str([round(s, 2) for s in trig["plain"]])))
        print(line("(e) v1 inserts with dual-write triggers", trig["rows"], tt, str([round(s, 2) for s in trig["triggered"]])))

        bulk = med["(b) bulk INSERT…SELECT"]
        mig = med["(d) datajoint.migrate.copy_table_data"]
        rate = lambda m: m["rows"] / m["seconds"]
        print("\nRATIOS (throughput over throughput, same rows)")
        for label, m in med.items():
            if not label.startswith("(a)"):
                continue
            print(f"  {label:<44} (a)/(b) {rate(m) / rate(bulk):5.2f} [≥ 0.8]   "
                  f"(a)/(c) {rate(m) / (client['full_rows'] / client['full_seconds']):6.1f} [20; ≈11 ceiling]   "
                  f"(a)/(d) {rate(m) / rate(mig):5.2f}")
        print(f"  (d)/(b) {rate(mig) / rate(bulk):5.2f}   (c)/(b) {client['full_rows'] / client['full_seconds'] / rate(bulk):6.3f}")
        print(f"  trigger write ratio (with / without) {tp / tt:5.2f} [≥ 0.5]")

        print("\nPEAK RSS of the djsqlgen backfill process (drive.backfill in a child process; VmHWM of its own "
              "address space, and getrusage ru_maxrss, which Linux carries over from the forking parent)")
        for label, r in ((f"{total:,} rows", runs[f"(a) djsqlgen drive.backfill chunk {chunks[0]}"][0]),
                         (f"{rss_small['total']:,} rows" if rss_small else "", rss_small)):
            if not r:
                continue
            print(f"  {label:>14}: VmHWM before backfill {r['hwm_before_kb'] / 1024:6.1f} MiB, after "
                  f"{r['hwm_peak_kb'] / 1024:6.1f} MiB; ru_maxrss before {r['rss_before_kb'] / 1024:6.1f} MiB, "
                  f"after {r['rss_peak_kb'] / 1024:6.1f} MiB; {r['round_trips']:,} round trips, "
                  f"{r['rows'] / r['seconds']:,.0f} rows/s")
        print(f"  this benchmark process itself: peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB "
              "(includes the DataJoint client copy)")
    finally:
        if not args.keep:
            drop_schemas(conn)
            shutil.rmtree(work, ignore_errors=True)
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
