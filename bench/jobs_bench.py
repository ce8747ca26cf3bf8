"""Benchmark of the parallel backfill: `djsqlgen backfill --jobs 2` on a 5-table pipeline against one bulk
INSERT … SELECT per table, run one after the other (the way a copy without djsqlgen is done).

v1 (schema ``bench_jobs_v1``): five independent tables of ``--rows`` rows each, an int key, a double and a
1 KB blob. The plan is the identity. Measured on the same data, medians of ``--repeats`` interleaved rounds
(the machine is shared and noisy; compare ratios, not seconds):

(b) sequential bulk copy: one INSERT … SELECT per table into empty copies of the v2 tables;
(a1) ``djsqlgen backfill --jobs 1`` and (a2) ``--jobs 2``, chunk ``--chunk`` rows, triggers installed.

Target (issue 14): (a2) faster than (b) on this 2-core machine.

Run: ``.venv/bin/python bench/jobs_bench.py [--rows 100000] [--repeats 3]`` (DJ_HOST, DJ_USER, DJ_PASS, else
root on localhost). Every schema it makes starts with ``bench_jobs_``.
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

V1, CTL, BULK = "bench_jobs_v1", "bench_jobs_ctl", "bench_jobs_bulk"
V2 = f"{V1}_v2"
TABLES = [f"t{i}" for i in range(1, 6)]


def build_v1(db, rows: int) -> None:
    drop_own(db, V1, V2, BULK, CTL)  # only what a bench made; someone else's stops it
    create_own(db, V1)
    run(db, f"USE `{V1}`")  # MariaDB's seq_1_to_N tables need a current database
    for t in TABLES:
        run(db, f"CREATE TABLE `{V1}`.`{t}` (id int NOT NULL, x double NOT NULL, payload blob NOT NULL, "
                "PRIMARY KEY (id)) ENGINE=InnoDB")
        run(db, f"INSERT INTO `{V1}`.`{t}` SELECT seq, seq / 3, REPEAT(UNHEX(SHA2(seq, 256)), 32) "
                f"FROM seq_1_to_{rows}")


def bulk(db) -> float:
    create_own(db, BULK)
    for t in TABLES:
        run(db, f"CREATE TABLE `{BULK}`.`{t}` LIKE `{V2}`.`{t}`")
    started = time.monotonic()
    for t in TABLES:
        run(db, f"INSERT INTO `{BULK}`.`{t}` SELECT * FROM `{V1}`.`{t}`")
    elapsed = time.monotonic() - started
    drop_own(db, BULK)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per table")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=5000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    db = connect()
    build_v1(db, args.rows)
    total = args.rows * len(TABLES)
    print(f"v1: {len(TABLES)} tables x {args.rows:,} rows (1 KB blob each), {total:,} rows")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-m", "djsqlgen", "plan", "init", "--schema", f"{V1}={V2}", "--name",
                        "bench_jobs", "-o", "plan.yaml"], cwd=work, check=True, capture_output=True)
        plan = yaml.safe_load((work / "plan.yaml").read_text())
        plan["control_schema"] = CTL
        (work / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
        djsqlgen("generate", "plan.yaml", "-o", "out", work=work)
        times = {"bulk": [], 1: [], 2: []}
        for _ in range(args.repeats):
            for jobs in (1, 2):
                djsqlgen("apply", *(f"out/{f}.sql" for f in ("00_preflight", "10_expand", "20_routines",
                                                             "30_dualwrite")), work=work)
                if jobs == 1:
                    times["bulk"].append(bulk(db))
                times[jobs].append(djsqlgen("backfill", "plan.yaml", "--chunk-rows", str(args.chunk), "--jobs",
                                            str(jobs), work=work))
                djsqlgen("apply", "out/rollback", work=work)
        b, a1, a2 = (statistics.median(times[k]) for k in ("bulk", 1, 2))
        print(f"(b)  sequential bulk INSERT…SELECT per table: {b:6.2f} s  {total / b:>10,.0f} rows/s")
        print(f"(a1) djsqlgen backfill --jobs 1:              {a1:6.2f} s  {total / a1:>10,.0f} rows/s  (a1)/(b) "
              f"throughput = {b / a1:.2f}")
        print(f"(a2) djsqlgen backfill --jobs 2:              {a2:6.2f} s  {total / a2:>10,.0f} rows/s  (a2)/(b) "
              f"throughput = {b / a2:.2f}  (target > 1)")
        print(f"    medians of {args.repeats} interleaved rounds, chunk {args.chunk}; machine load at the end: "
              f"{os.getloadavg()[0]:.1f}")
    if not args.keep:
        drop_own(db, V1, V2, BULK, CTL)  # only what a bench made; someone else's stops it
    return 0


if __name__ == "__main__":
    sys.exit(main())
