"""Benchmark of a primary-key change: the re-keyed backfill, verify, and the cost of the recompute triggers.

v1 (schema ``bench_rk_v1``, DataJoint-shaped, plain SQL):

    subject        rows/1000 subjects
    session        -> subject, (subject_id, session_id), 10 per subject, a start time
    session__trial -> session, 100 per session, a double and a 64-byte payload

The plan re-keys session by (subject_id, session_start); session__trial follows through a join to v1's
session (its session_id becomes session_start). Measured on the same data, medians of ``--repeats``
interleaved rounds (the machine is shared and noisy; compare ratios, not seconds):

(a) djsqlgen's backfill of the whole plan (``djsqlgen backfill``, chunk ``--chunk``), triggers installed; also
    without the command's fixed cost, measured as a second run that finds nothing left to copy;
(b) the server's limit for the same transform: one ``INSERT … SELECT`` per table (the trial one joins
    session) into empty copies of the v2 tables: no chunks, no locks released, no resumability;
(c) ``djsqlgen verify`` of the whole plan after the backfill (target: at most 0.3 × (a));
(d) v1 writes with the recompute triggers over without, v2 full: single-row INSERTs into
    session__trial and UPDATEs that move a session in time (each moves its 100 trials' v2 keys),
    autocommit, as a client issues them (target: at least 0.5).

Run: ``.venv/bin/python bench/rekey_bench.py [--rows 1000000] [--repeats 3] [--keep]`` (DJ_HOST, DJ_USER,
DJ_PASS, else root on localhost). Every schema it makes starts with ``bench_rk_``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import connect, create_own, djsqlgen, drop_own, run

V1, CTL = "bench_rk_v1", "bench_rk_ctl"
V2, BULK = f"{V1}_v2", "bench_rk_bulk"


def build_v1(db, rows: int) -> int:
    subjects = max(rows // 1000, 1)
    drop_own(db, V1, V2, BULK, CTL)  # only what a bench made; someone else's stops it
    create_own(db, V1)
    run(db, f"USE `{V1}`")  # MariaDB's seq_1_to_N tables need a current database
    run(db, f"CREATE TABLE `{V1}`.subject (subject_id int NOT NULL, PRIMARY KEY (subject_id)) ENGINE=InnoDB")
    run(db, f"CREATE TABLE `{V1}`.session (subject_id int NOT NULL, session_id smallint NOT NULL, "
            "session_start datetime(3) NOT NULL, rig varchar(16) NOT NULL, PRIMARY KEY (subject_id, session_id), "
            f"FOREIGN KEY (subject_id) REFERENCES `{V1}`.subject (subject_id) ON UPDATE CASCADE) ENGINE=InnoDB")
    run(db, f"CREATE TABLE `{V1}`.session__trial (subject_id int NOT NULL, session_id smallint NOT NULL, "
            "trial int NOT NULL, t double NOT NULL, payload varbinary(64) NOT NULL, "
            "PRIMARY KEY (subject_id, session_id, trial), FOREIGN KEY (subject_id, session_id) REFERENCES "
            f"`{V1}`.session (subject_id, session_id) ON UPDATE CASCADE) ENGINE=InnoDB")
    run(db, f"INSERT INTO `{V1}`.subject SELECT seq FROM seq_1_to_{subjects}")
    run(db, f"INSERT INTO `{V1}`.session SELECT s.seq, k.seq, '2024-01-01' + INTERVAL (s.seq * 10 + k.seq) MINUTE, "
            f"'rig1' FROM seq_1_to_{subjects} AS s, seq_1_to_10 AS k")
    run(db, f"INSERT INTO `{V1}`.session__trial SELECT s.subject_id, s.session_id, k.seq, k.seq / 7, "
            f"UNHEX(SHA2(CONCAT(s.subject_id, '-', k.seq), 512)) FROM `{V1}`.session AS s, seq_1_to_100 AS k")
    return subjects * (1 + 10 + 1000)


def write_plan(work: Path) -> None:
    subprocess.run([sys.executable, "-m", "djsqlgen", "plan", "init", "--schema", f"{V1}={V2}", "--name", "bench_rk",
                    "-o", "plan.yaml"], cwd=work, check=True, capture_output=True)
    plan = yaml.safe_load((work / "plan.yaml").read_text())
    plan["control_schema"] = CTL
    session = plan["schemas"][0]["tables"]["session"]
    session["key"] = ["subject_id", "session_start"]
    session["columns"]["session_id"] = "drop"
    (work / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
    djsqlgen("generate", "plan.yaml", "-o", "out", work=work)


def setup(work: Path) -> None:
    djsqlgen("apply", "out/00_preflight.sql", "out/10_expand.sql", "out/20_routines.sql", "out/30_dualwrite.sql",
             work=work)


def teardown(work: Path) -> None:
    djsqlgen("apply", "out/rollback", work=work)


def bulk(db) -> float:
    create_own(db, BULK)
    for table in ("subject", "session", "session__trial"):
        run(db, f"CREATE TABLE `{BULK}`.`{table}` LIKE `{V2}`.`{table}`")
    started = time.monotonic()
    run(db, f"INSERT INTO `{BULK}`.subject SELECT * FROM `{V1}`.subject")
    run(db, f"INSERT INTO `{BULK}`.session (subject_id, session_start, rig) SELECT subject_id, session_start, rig "
            f"FROM `{V1}`.session")
    run(db, f"INSERT INTO `{BULK}`.session__trial (subject_id, session_start, trial, t, payload) SELECT t.subject_id, "
            f"s.session_start, t.trial, t.t, t.payload FROM `{V1}`.session__trial AS t JOIN `{V1}`.session AS s "
            "ON s.subject_id = t.subject_id AND s.session_id = t.session_id")
    elapsed = time.monotonic() - started
    drop_own(db, BULK)
    return elapsed


def writes(db, round_no: int, count: int) -> float:
    """``count`` single-row trial inserts and count/20 session moves, autocommit; returns seconds."""
    base = 1_000_000 + round_no * count
    started = time.monotonic()
    with db.cursor() as cur:
        for i in range(count):
            cur.execute(f"INSERT INTO `{V1}`.session__trial VALUES (1, 1, %s, 0.5, 'x')", (base + i,))
            if i % 20 == 0:
                cur.execute(f"UPDATE `{V1}`.session SET session_start = session_start + INTERVAL 1 SECOND "
                            "WHERE subject_id = %s AND session_id = 2", (2 + i // 20,))
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    db = connect()
    total = build_v1(db, args.rows)
    print(f"v1: {total:,} rows ({args.rows // 1000:,} subjects, 10 sessions each, 100 trials per session)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_plan(work)
        backfills, bulks, verifies, with_triggers, without, startups = [], [], [], [], [], []
        for r in range(args.repeats):
            without.append(writes(db, 2 * r + 1, args.writes))  # no triggers on v1 yet
            setup(work)
            bulks.append(bulk(db))
            backfills.append(djsqlgen("backfill", "plan.yaml", "--chunk-rows", str(args.chunk), work=work))
            startups.append(djsqlgen("backfill", "plan.yaml", work=work))  # nothing left: the command's own cost
            verifies.append(djsqlgen("verify", "plan.yaml", work=work))
            with_triggers.append(writes(db, 2 * r, args.writes))  # triggers on v1, v2 full
            teardown(work)
        a, b, c = statistics.median(backfills), statistics.median(bulks), statistics.median(verifies)
        w, wo = statistics.median(with_triggers), statistics.median(without)
        print(f"(b) bulk INSERT…SELECT of the same transform: {b:6.2f} s  {total / b:>10,.0f} rows/s")
        print(f"(a) djsqlgen backfill, chunk {args.chunk}:       {a:6.2f} s  {total / a:>10,.0f} rows/s  "
              f"(a)/(b) throughput = {b / a:.2f}  (target >= 0.8)")
        s0 = statistics.median(startups)
        print(f"    the same without the command's fixed cost (start-up, plan, checks: {s0:.2f} s, a run with nothing "
              f"to copy): (a)/(b) = {b / (a - s0):.2f}")
        print(f"(c) djsqlgen verify of both sides:           {c:6.2f} s  verify/backfill = {c / a:.2f}  (target <= 0.3)")
        print(f"(d) v1 writes ({args.writes} inserts, {args.writes // 20} session moves of 100 trials each): "
              f"{args.writes / wo:,.0f}/s without triggers, {args.writes / w:,.0f}/s with; with/without = "
              f"{wo / w:.2f}  (target >= 0.5)")
        print(f"    medians of {args.repeats} interleaved rounds; machine load at the end: {os.getloadavg()[0]:.1f}")
    if not args.keep:
        drop_own(db, V1, V2, BULK, CTL)  # only what a bench made; someone else's stops it
    return 0


if __name__ == "__main__":
    sys.exit(main())
