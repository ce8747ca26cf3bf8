"""What the backfill's merge check costs (issue 21, item 4), on one re-keyed table.

v1 ``bench_mc_v1.session (subject_id, session_id, session_start, note)`` becomes ``visit`` keyed by
(subject_id, session_start): one to one only on the data, so backfill_chunk looks for two v1 rows that one v2 row
would hold before the table's first chunk and after its last (chunk_sql.merge_check). Measured in the same run, in
interleaved rounds (median): the backfill as shipped (``djsqlgen backfill``), the same backfill with the table's
merge_check emptied (what an identity or rename copy runs: no check), the same with the check's first half in its
earlier form (GROUP BY the v2 key HAVING COUNT(*) > 1, as 00's data check), and each statement alone. Between rounds
the v2 table is emptied by rollback/40 (TRUNCATE, progress reset).

Run: ``.venv/bin/python bench/merge_check_bench.py [--rows N] [--repeats R]``. Connection: DJ_HOST, DJ_PORT, DJ_USER,
DJ_PASS, else root on localhost. Its schemas start with ``bench_mc_`` and are dropped at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from common import connect, create_own, djsqlgen, drop_own, mark_own, run  # noqa: E402

V1, V2, CONTROL = "bench_mc_v1", "bench_mc_v1_v2", "bench_mc_ctl"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, default=5000)
    args = parser.parse_args()
    db = connect()
    drop_own(db, V2, CONTROL)
    create_own(db, V1, "CHARACTER SET utf8mb4")
    subjects = max(args.rows // 100, 1)
    run(db, f"USE `{V1}`")  # the seq_ tables of the SEQUENCE engine need a current database
    run(db, f"CREATE TABLE `{V1}`.session (subject_id int NOT NULL, session_id int NOT NULL, session_start datetime "
            "NOT NULL, note varchar(200) NOT NULL, PRIMARY KEY (subject_id, session_id)) ENGINE=InnoDB")
    run(db, f"INSERT INTO `{V1}`.session SELECT s.seq, k.seq, TIMESTAMP('2024-01-01') + INTERVAL k.seq HOUR, "
            f"REPEAT('n', 100) FROM seq_1_to_{subjects} AS s, seq_1_to_100 AS k")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plan_path, out = work / "plan.yaml", work / "out"
        djsqlgen("plan", "init", "--schema", f"{V1}={V2}", "--name", "bench_mc", "-o", str(plan_path), work=work)
        plan = yaml.safe_load(plan_path.read_text())
        plan["control_schema"] = CONTROL
        plan["schemas"][0]["tables"]["session"].update(rename="visit", key=["subject_id", "session_start"])
        plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
        djsqlgen("generate", str(plan_path), "-o", str(out), work=work)
        djsqlgen("apply", *(str(out / f"{n}.sql") for n in ("00_preflight", "10_expand", "20_routines",
                                                            "30_dualwrite")), work=work)
        mark_own(db, V2)
        check = run(db, f"SELECT merge_check FROM `{CONTROL}`.chunk_sql")[0][0]
        assert check, "the re-keyed table has no merge check"
        backfill = ("backfill", str(plan_path), "--chunk-rows", str(args.chunk_rows))
        undo = ("apply", str(out / "rollback" / "40_backfill.sql"))
        # whether there is a merge at all (the check's first half: distinct v2 keys counted against rows), and the
        # same asked as 00's data check asks it (GROUP BY the v2 key HAVING COUNT(*) > 1: the check's earlier form)
        first_half = check.split("IF(\n", 1)[1].split(",\n  COALESCE(", 1)[0]
        exists = "SELECT " + first_half
        grouping = (f"EXISTS (SELECT 1 FROM `{V1}`.`session` AS `src` GROUP BY `src`.`subject_id`, "
                    "`src`.`session_start` HAVING COUNT(*) > 1)")
        grouped_check = check.replace(first_half, grouping)
        timings: dict[str, list[float]] = {"with check": [], "with grouped check": [], "without check": [],
                                           "check alone": [], "grouped check": [], "first half": [],
                                           "00's grouping": []}
        try:
            for _ in range(args.repeats):
                timings["with check"].append(djsqlgen(*backfill, work=work))
                djsqlgen(*undo, work=work)
                run(db, f"UPDATE `{CONTROL}`.chunk_sql SET merge_check = ''")
                try:
                    timings["without check"].append(djsqlgen(*backfill, work=work))
                finally:
                    run(db, f"UPDATE `{CONTROL}`.chunk_sql SET merge_check = {db.escape(check)}")
                djsqlgen(*undo, work=work)
                run(db, f"UPDATE `{CONTROL}`.chunk_sql SET merge_check = {db.escape(grouped_check)}")
                try:
                    timings["with grouped check"].append(djsqlgen(*backfill, work=work))
                finally:
                    run(db, f"UPDATE `{CONTROL}`.chunk_sql SET merge_check = {db.escape(check)}")
                djsqlgen(*undo, work=work)
                for name, sql in (("check alone", check), ("grouped check", grouped_check), ("first half", exists),
                                  ("00's grouping", "SELECT " + grouping)):
                    started = time.monotonic()
                    run(db, sql)
                    timings[name].append(time.monotonic() - started)
        finally:
            drop_own(db, V1, V2, CONTROL)
    med = {k: statistics.median(v) for k, v in timings.items()}
    print(f"rows {args.rows:,}, chunk rows {args.chunk_rows}, median of {args.repeats} interleaved rounds")
    for name, seconds in med.items():
        print(f"  {name:14s} {seconds:7.2f} s")
    print(f"backfill with / without the merge check: {med['with check'] / med['without check']:.2f} (with the "
          f"grouped form of its first half: {med['with grouped check'] / med['without check']:.2f})")
    print(f"the two checks / the backfill without them: {2 * med['check alone'] / med['without check']:.2f} (grouped: "
          f"{2 * med['grouped check'] / med['without check']:.2f})")
    grouped = med["00's grouping"]
    print(f"is there a merge: counted distinct {med['first half']:.3f} s, grouped {grouped:.3f} s")


if __name__ == "__main__":
    main()
