"""Benchmark against percona-toolkit on one 1 KB-blob table: the backfill against pt-online-schema-change's copy,
`djsqlgen verify` against pt-table-checksum, both against one bulk copy, printed side by side in one run.

v1 (schema ``bench_vf_v1``): ``recording`` with an int key, two ints, a utf8mb4 varchar, a float, a double
and a 1 KB random longblob, ``--rows`` rows (default 300,000). The plan is the identity (aligned
comparison). Measured on the same data, medians of ``--repeats`` interleaved rounds (the machine is shared
and noisy; compare ratios, not seconds):

(a) one bulk ``INSERT … SELECT`` of the table into an empty copy: the server's copy limit;
(b) ``djsqlgen backfill`` (default chunk time 0.5 s, dual-write triggers installed);
(c) ``djsqlgen verify`` on the primary: both sides hashed (target: at most 0.3 × (b));
(d) ``pt-table-checksum`` (Debian's percona-toolkit) of v1 alone, ``--recursion-method none``: one side,
    CRC32 of the row text (skipped, and said so, when it is not installed);
(e) the floor: one bare scan of each side (``SELECT COUNT(*)`` of a column no index covers, both tables);
(f) ``pt-online-schema-change --alter ENGINE=InnoDB`` of a copy of the table (its own schema): pt-osc's chunked,
    trigger-guarded copy into a new table, then its swap; the same work as (b) plus a rename.

``djsqlgen verify --on-replica`` moves (c) off the primary entirely; it is not timed here (no replica).

Run: ``.venv/bin/python bench/percona_bench.py [--rows 300000] [--repeats 3] [--keep]`` (DJ_HOST, DJ_USER,
DJ_PASS, else root on localhost). Every schema it makes starts with ``bench_vf_``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import connect, create_own, djsqlgen, drop_own, mark_own, run

V1, CTL, BULK, PTOSC = "bench_vf_v1", "bench_vf_ctl", "bench_vf_bulk", "bench_vf_ptosc"
PERCONA = "bench_vf_percona"  # pt-table-checksum's --replicate database (its default, `percona`, may be a lab's)
V2 = f"{V1}_v2"


def build_v1(db, rows: int) -> None:
    drop_own(db, V1, V2, BULK, CTL, PTOSC, PERCONA)  # only what a bench made; someone else's stops it
    create_own(db, V1)
    run(db, f"USE `{V1}`")  # MariaDB's seq_1_to_N tables need a current database
    run(db, f"CREATE TABLE `{V1}`.recording (id int NOT NULL, subject int NOT NULL, session smallint NOT NULL, "
            "name varchar(64) CHARACTER SET utf8mb4 NOT NULL, x float NOT NULL, y double NULL, data longblob NOT NULL, "
            "PRIMARY KEY (id)) ENGINE=InnoDB")
    # 1 KB of pseudo-random bytes per row: 16 SHA-512 digests of the id, built server-side
    blob = "CONCAT(" + ", ".join(f"UNHEX(SHA2(CONCAT(seq, '-{i}'), 512))" for i in range(16)) + ")"
    run(db, f"INSERT INTO `{V1}`.recording SELECT seq, seq DIV 100, seq % 100, CONCAT('rec-', seq), seq / 7, "
            f"IF(seq % 10 = 0, NULL, seq / 3), {blob} FROM seq_1_to_{rows}")


def write_plan(work: Path) -> None:
    subprocess.run([sys.executable, "-m", "djsqlgen", "plan", "init", "--schema", f"{V1}={V2}", "--name", "bench_vf",
                    "-o", "plan.yaml"], cwd=work, check=True, capture_output=True)
    plan = yaml.safe_load((work / "plan.yaml").read_text())
    plan["control_schema"] = CTL
    (work / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
    djsqlgen("generate", "plan.yaml", "-o", "out", work=work)


def bulk(db) -> float:
    create_own(db, BULK)
    run(db, f"CREATE TABLE `{BULK}`.recording LIKE `{V1}`.recording")
    started = time.monotonic()
    run(db, f"INSERT INTO `{BULK}`.recording SELECT * FROM `{V1}`.recording")
    elapsed = time.monotonic() - started
    drop_own(db, BULK)
    return elapsed


def scans(db) -> float:
    started = time.monotonic()
    for schema in (V1, V2):
        run(db, f"SELECT COUNT(y) FROM `{schema}`.recording")
    return time.monotonic() - started


def _pt_connection() -> list[str]:
    out = [f"--host={os.environ.get('DJ_HOST', '127.0.0.1')}", f"--user={os.environ.get('DJ_USER', 'root')}",
           f"--port={os.environ.get('DJ_PORT', '3306')}"]
    if os.environ.get("DJ_PASS"):
        out.append(f"--password={os.environ['DJ_PASS']}")
    return out


def pt_online_schema_change(db) -> float | None:
    tool = shutil.which("pt-online-schema-change")
    if tool is None:
        return None
    create_own(db, PTOSC)
    run(db, f"CREATE TABLE `{PTOSC}`.recording LIKE `{V1}`.recording")
    run(db, f"INSERT INTO `{PTOSC}`.recording SELECT * FROM `{V1}`.recording")
    command = [tool, *_pt_connection(), "--alter=ENGINE=InnoDB", f"D={PTOSC},t=recording", "--execute",
               "--recursion-method=none", "--no-check-replication-filters"]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    drop_own(db, PTOSC)
    if result.returncode != 0:
        raise SystemExit(f"pt-online-schema-change failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return elapsed


def pt_table_checksum() -> float | None:
    tool = shutil.which("pt-table-checksum")
    if tool is None:
        return None
    command = [tool, *_pt_connection(), "--recursion-method=none", "--no-check-binlog-format",
               "--no-check-replication-filters", f"--databases={V1}", "--tables=recording", f"--replicate={PERCONA}.checksums"]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if result.returncode not in (0, 16):  # 16: no replicas found to check, expected with recursion none
        raise SystemExit(f"pt-table-checksum failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    db = connect()
    build_v1(db, args.rows)
    run(db, f"ANALYZE TABLE `{V1}`.recording")  # fresh statistics: the size below
    size = run(db, f"SELECT ROUND((DATA_LENGTH + INDEX_LENGTH) / 1048576) FROM information_schema.TABLES "
                   f"WHERE TABLE_SCHEMA = '{V1}' AND TABLE_NAME = 'recording'")[0][0]
    print(f"v1: {args.rows:,} rows of about 1.1 KB ({size} MiB)")
    times: dict[str, list[float]] = {k: [] for k in ("bulk", "backfill", "verify", "pt", "scan", "ptosc")}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_plan(work)
        for _ in range(args.repeats):
            djsqlgen("apply", "out/00_preflight.sql", "out/10_expand.sql", "out/20_routines.sql",
                     "out/30_dualwrite.sql", work=work)
            times["bulk"].append(bulk(db))
            times["backfill"].append(djsqlgen("backfill", "plan.yaml", work=work))
            times["verify"].append(djsqlgen("verify", "plan.yaml", work=work))
            times["scan"].append(scans(db))
            for key, measure in (("pt", pt_table_checksum), ("ptosc", lambda: pt_online_schema_change(db))):
                seconds = measure()
                if seconds is not None:
                    times[key].append(seconds)
            djsqlgen("apply", "out/rollback", work=work)
    m = {k: statistics.median(v) for k, v in times.items() if v}
    rate = lambda s: f"{args.rows / s:>10,.0f} rows/s"
    print(f"(a) bulk INSERT…SELECT:                  {m['bulk']:6.2f} s  {rate(m['bulk'])}")
    print(f"(b) djsqlgen backfill:                   {m['backfill']:6.2f} s  {rate(m['backfill'])}  "
          f"(a)/(b) = {m['bulk'] / m['backfill']:.2f}")
    if "ptosc" in m:
        print(f"(f) pt-online-schema-change copy+swap:   {m['ptosc']:6.2f} s  {rate(m['ptosc'])}  (a)/(f) = "
              f"{m['bulk'] / m['ptosc']:.2f}; djsqlgen backfill / pt-osc throughput = {m['ptosc'] / m['backfill']:.2f}")
    else:
        print("(f) pt-online-schema-change: not installed (apt-get install percona-toolkit), not measured")
    print(f"(c) djsqlgen verify, both sides:         {m['verify']:6.2f} s  {rate(m['verify'])}  "
          f"verify/backfill = {m['verify'] / m['backfill']:.2f} (target <= 0.3), verify/bulk = "
          f"{m['verify'] / m['bulk']:.2f}")
    if "pt" in m:
        print(f"(d) pt-table-checksum, v1 only:          {m['pt']:6.2f} s  {rate(m['pt'])}  pt/bulk = "
              f"{m['pt'] / m['bulk']:.2f}; djsqlgen verify / pt-table-checksum = {m['verify'] / m['pt']:.2f} "
              "(two sides against one)")
    else:
        print("(d) pt-table-checksum: not installed (apt-get install percona-toolkit), not measured")
    print(f"(e) bare scan of both sides (the floor): {m['scan']:6.2f} s  scan/backfill = "
          f"{m['scan'] / m['backfill']:.2f}")
    print(f"    medians of {args.repeats} interleaved rounds; machine load at the end: {os.getloadavg()[0]:.1f}")
    if "pt" in m:
        mark_own(db, PERCONA)  # made by pt-table-checksum in this run
    if not args.keep:
        drop_own(db, V1, V2, BULK, CTL, PTOSC, PERCONA)  # only what a bench made; someone else's stops it
    return 0


if __name__ == "__main__":
    sys.exit(main())
