"""Benchmark of relationship changes: a lookup extraction and a part merge, backfill and v1 writes.

v1 (schema ``bench_rel_v1``, DataJoint-shaped, plain SQL), ``--rows`` rows in each big table:

    insertion       (subject_id, insertion) → probe_model, probe_vendor, channel_count, depth   (8 probe models)
    scan            (subject_id, scan_id) → depth
    scan__quality   (subject_id, scan_id) → snr, ok        1:1 part of scan

Plan: probe_model, probe_vendor and channel_count of ``insertion`` move into a lookup ``#probe_model``; the part
``scan__quality`` is merged into ``scan``. Measured on the same data, medians of ``--repeats`` interleaved rounds
(the machine is shared and noisy; compare ratios, not seconds):

(a) ``djsqlgen backfill`` of the lookup and the reduced insertion table, against (b) the same transform by bulk
    ``INSERT … SELECT`` (``SELECT DISTINCT`` for the lookup) into empty copies (target (b)/(a) >= 0.8);
(c) ``djsqlgen backfill`` of the merged scan, against (d) one bulk ``INSERT … SELECT … LEFT JOIN`` (target >= 0.8);
(e) v1 writes with the dual-write triggers over without (target >= 0.5): single-row INSERTs into insertion (each
    upserts its lookup row first) and single-row UPDATEs of scan__quality (each recomputes the merged scan row),
    autocommit, as a client issues them.

Run: ``.venv/bin/python bench/relationships_bench.py [--rows 500000] [--repeats 3] [--keep]`` (DJ_HOST, DJ_USER,
DJ_PASS, else root on localhost). Every schema it makes starts with ``bench_rel_``.
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

V1, CTL, BULK = "bench_rel_v1", "bench_rel_ctl", "bench_rel_bulk"
V2 = f"{V1}_v2"


def build_v1(db, rows: int) -> None:
    subjects = max(rows // 100, 1)
    drop_own(db, V1, V2, BULK, CTL)  # only what a bench made; someone else's stops it
    create_own(db, V1)
    run(db, f"USE `{V1}`")  # MariaDB's seq_1_to_N tables need a current database
    run(db, f"CREATE TABLE `{V1}`.subject (subject_id int NOT NULL, PRIMARY KEY (subject_id)) ENGINE=InnoDB")
    run(db, f"CREATE TABLE `{V1}`.insertion (subject_id int NOT NULL, insertion int NOT NULL, "
            "probe_model varchar(32) NOT NULL, probe_vendor varchar(32) NOT NULL, channel_count smallint NOT NULL, "
            "depth float NULL, PRIMARY KEY (subject_id, insertion), FOREIGN KEY (subject_id) REFERENCES "
            f"`{V1}`.subject (subject_id) ON UPDATE CASCADE) ENGINE=InnoDB")
    run(db, f"CREATE TABLE `{V1}`.scan (subject_id int NOT NULL, scan_id int NOT NULL, depth float NOT NULL, "
            f"PRIMARY KEY (subject_id, scan_id), FOREIGN KEY (subject_id) REFERENCES `{V1}`.subject (subject_id) "
            "ON UPDATE CASCADE) ENGINE=InnoDB")
    run(db, f"CREATE TABLE `{V1}`.scan__quality (subject_id int NOT NULL, scan_id int NOT NULL, snr double NOT NULL, "
            "ok tinyint NULL, PRIMARY KEY (subject_id, scan_id), FOREIGN KEY (subject_id, scan_id) REFERENCES "
            f"`{V1}`.scan (subject_id, scan_id) ON UPDATE CASCADE) ENGINE=InnoDB")
    run(db, f"INSERT INTO `{V1}`.subject SELECT seq FROM seq_1_to_{subjects}")
    run(db, f"INSERT INTO `{V1}`.insertion SELECT s.seq, k.seq, CONCAT('model ', k.seq % 8), "
            f"CONCAT('vendor ', k.seq % 8 DIV 3), 64 * (1 + k.seq % 8), k.seq / 3 "
            f"FROM seq_1_to_{subjects} AS s, seq_1_to_100 AS k")
    run(db, f"INSERT INTO `{V1}`.scan SELECT s.seq, k.seq, k.seq / 7 FROM seq_1_to_{subjects} AS s, seq_1_to_100 AS k")
    run(db, f"INSERT INTO `{V1}`.scan__quality SELECT subject_id, scan_id, depth * 3, IF(scan_id % 2, 1, NULL) "
            f"FROM `{V1}`.scan")


def write_plan(work: Path) -> None:
    subprocess.run([sys.executable, "-m", "djsqlgen", "plan", "init", "--schema", f"{V1}={V2}", "--name", "bench_rel",
                    "-o", "plan.yaml"], cwd=work, check=True, capture_output=True)
    plan = yaml.safe_load((work / "plan.yaml").read_text())
    plan["control_schema"] = CTL
    tables = plan["schemas"][0]["tables"]
    tables["insertion"] = {"lookups": [{"table": "#probe_model", "key": ["probe_model"],
                                        "columns": ["probe_vendor", "channel_count"]}]}
    tables["scan__quality"] = {"merge_into_master": True}
    (work / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
    djsqlgen("generate", "plan.yaml", "-o", "out", work=work)


def bulk(db) -> tuple[float, float]:
    """(lookup extraction, part merge): the same transforms by one INSERT … SELECT per table."""
    create_own(db, BULK)
    for table in ("#probe_model", "insertion", "scan"):
        run(db, f"CREATE TABLE `{BULK}`.`{table}` LIKE `{V2}`.`{table}`")
    started = time.monotonic()
    run(db, f"INSERT INTO `{BULK}`.`#probe_model` SELECT DISTINCT probe_model, probe_vendor, channel_count "
            f"FROM `{V1}`.insertion")
    run(db, f"INSERT INTO `{BULK}`.insertion SELECT subject_id, insertion, probe_model, depth FROM `{V1}`.insertion")
    lookup = time.monotonic() - started
    started = time.monotonic()
    run(db, f"INSERT INTO `{BULK}`.scan SELECT s.subject_id, s.scan_id, s.depth, q.snr, q.ok FROM `{V1}`.scan AS s "
            f"LEFT JOIN `{V1}`.scan__quality AS q ON q.subject_id = s.subject_id AND q.scan_id = s.scan_id")
    merge = time.monotonic() - started
    drop_own(db, BULK)
    return lookup, merge


def backfill_parts(db, work: Path, chunk: int) -> tuple[float, float]:
    """The backfill of the lookup + insertion targets, then of the merged scan (the shared chunk procedure, as
    `djsqlgen backfill` calls it, timed per group)."""
    times = []
    for group in (("#probe_model", "insertion"), ("scan",)):
        started = time.monotonic()
        for table in group:
            with db.cursor() as cur:
                cur.execute(f"SELECT target_id FROM `{CTL}`.progress WHERE target_table = %s", (table,))
                (target_id,) = cur.fetchone()
                cur.execute(f"CALL `{CTL}`.backfill_table(%s, %s, 0, 0, %s, 4)", (target_id, chunk, chunk))
        times.append(time.monotonic() - started)
    return times[0], times[1]


def writes(db, round_no: int, count: int) -> float:
    """``count`` single-row insertion INSERTs (a new model now and then) and ``count`` scan__quality UPDATEs."""
    base = 1_000_000 + round_no * count
    started = time.monotonic()
    with db.cursor() as cur:
        for i in range(count):
            cur.execute(f"INSERT INTO `{V1}`.insertion VALUES (1, %s, %s, 'vendor x', 32, 1.0)",
                        (base + i, f"model w{i // 100}"))
            cur.execute(f"UPDATE `{V1}`.scan__quality SET snr = snr + 1 WHERE subject_id = %s AND scan_id = %s",
                        (1 + i % 50, 1 + i % 100))
    elapsed = time.monotonic() - started
    run(db, f"DELETE FROM `{V1}`.insertion WHERE insertion >= 1000000")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    db = connect()
    build_v1(db, args.rows)
    print(f"v1: {args.rows:,} insertions (8 probe models), {args.rows:,} scans each with its quality part row")
    m: dict[str, list[float]] = {k: [] for k in ("lookup", "merge", "bulk_lookup", "bulk_merge", "with", "without")}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_plan(work)
        for r in range(args.repeats):
            m["without"].append(writes(db, 2 * r + 1, args.writes))  # no triggers on v1 yet
            djsqlgen("apply", "out/00_preflight.sql", "out/10_expand.sql", "out/20_routines.sql",
                     "out/30_dualwrite.sql", work=work)
            lookup, merge = bulk(db)
            m["bulk_lookup"].append(lookup)
            m["bulk_merge"].append(merge)
            lookup, merge = backfill_parts(db, work, args.chunk)
            m["lookup"].append(lookup)
            m["merge"].append(merge)
            m["with"].append(writes(db, 2 * r, args.writes))  # triggers on v1, v2 full
            djsqlgen("apply", "out/rollback", work=work)
    med = {k: statistics.median(v) for k, v in m.items()}
    print(f"(b) bulk lookup extraction (DISTINCT + copy): {med['bulk_lookup']:6.2f} s")
    print(f"(a) djsqlgen backfill, chunk {args.chunk}:        {med['lookup']:6.2f} s  (b)/(a) = "
          f"{med['bulk_lookup'] / med['lookup']:.2f}  (target >= 0.8)")
    print(f"(d) bulk part merge (LEFT JOIN):              {med['bulk_merge']:6.2f} s")
    print(f"(c) djsqlgen backfill, chunk {args.chunk}:        {med['merge']:6.2f} s  (d)/(c) = "
          f"{med['bulk_merge'] / med['merge']:.2f}  (target >= 0.8)")
    print(f"(e) v1 writes ({args.writes} insertion INSERTs + {args.writes} quality UPDATEs): "
          f"{2 * args.writes / med['without']:,.0f}/s without triggers, {2 * args.writes / med['with']:,.0f}/s with; "
          f"with/without = {med['without'] / med['with']:.2f}  (target >= 0.5)")
    print(f"    medians of {args.repeats} interleaved rounds; machine load at the end: {os.getloadavg()[0]:.1f}")
    if not args.keep:
        drop_own(db, V1, V2, BULK, CTL)  # only what a bench made; someone else's stops it
    return 0


if __name__ == "__main__":
    sys.exit(main())
