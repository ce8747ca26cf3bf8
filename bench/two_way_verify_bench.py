"""What verifying both directions costs (issue 24 item 4): the way back (v1 against reverse(v2)) against the way
forward (v2 against transform(v1)), per table, in the same run, and the round-trip data check against a plain read
of the same v1 table.

two_way_bench.py's schema pair, filled with ``--subjects`` subjects (a session and 3 trials each), migrated by its
two-way plan (rename, retypes latin1 to utf8mb4 and float to double, a key column smallint to int, a dropped and
an added column) through 60. Then, in ``--rounds`` interleaved rounds, each table's verify_table call forward and
back (the same shared procedures 50_verify.sql and `djsqlgen verify` run), timed; medians and the ratio back /
forward. The round-trip check's query (00 and 70 run it) is timed against SELECT COUNT(*) of the same rows.

Run: ``.venv/bin/python bench/two_way_verify_bench.py [--subjects 50000] [--rounds 3]`` (DJ_HOST, DJ_USER, DJ_PASS,
else root on localhost). Its schemas start with ``djbtv``; dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from common import djsqlgen  # noqa: E402
from two_way_bench import V1, fill  # noqa: E402

from djsqlgen.run.db import connect  # noqa: E402
from djsqlgen.run.settings import ConnectionSettings  # noqa: E402


def timed(db, sql: str) -> float:
    started = time.monotonic()
    db.call_results(sql)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=50000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, default=5000)
    args = parser.parse_args()
    settings = ConnectionSettings(host=os.environ.get("DJ_HOST", "127.0.0.1"), port=int(os.environ.get("DJ_PORT", "3306")),
                                  user=os.environ.get("DJ_USER", "root"), password=os.environ.get("DJ_PASS", ""))
    os.environ.update(DJ_HOST=settings.host, DJ_PORT=str(settings.port), DJ_USER=settings.user,
                      DJ_PASS=settings.password)
    prefix = f"djbtv{uuid.uuid4().hex[:6]}"
    v1, v2, ctl = f"{prefix}_v1", f"{prefix}_v1_v2", f"{prefix}_ctl"
    db = connect(settings)
    try:
        db.execute(f"CREATE DATABASE `{v1}` CHARACTER SET latin1")
        db.execute(f"USE `{v1}`")
        for statement in (s.strip() for s in V1.split(";\n")):
            if statement:
                db.execute(statement)
        fill(db, v1, args.subjects)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            djsqlgen("plan", "init", "--schema", f"{v1}={v2}", "--name", prefix, "-o", "plan.yaml", work=work)
            plan = yaml.safe_load((work / "plan.yaml").read_text())
            plan["control_schema"], plan["sync"] = ctl, "two-way"
            tables = plan["schemas"][0]["tables"]
            tables["subject"] = {"rename": "animal", "columns": {
                "subject_id": "keep", "kind": "keep", "notes": "drop",
                "nickname": {"rename": "name", "type": "varchar(64)", "charset": "utf8mb4",
                             "collation": "utf8mb4_general_ci"},
                "weight": {"type": "double"}}, "add": {"tag": {"type": "varchar(10)", "default": "'none'"}}}
            tables["session"] = {"columns": {"subject_id": "keep", "session_idx": {"type": "int"},
                                             "session_date": {"rename": "recorded_on"}, "rig": "keep"}}
            (work / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
            djsqlgen("generate", "plan.yaml", "-o", "out", work=work)
            for name in ("00_preflight", "10_expand", "20_routines", "30_dualwrite", "40_backfill"):
                djsqlgen("apply", f"out/{name}.sql", work=work)
            preflight = (work / "out" / "00_preflight.sql").read_text()
        found = preflight.index("SET @djsqlgen_found = (\n") + len("SET @djsqlgen_found = (\n")
        round_trip = preflight[found:preflight.index("\n  );", found)]
        rows = db.query(f"SELECT target_id, verify_strategy FROM `{ctl}`.chunk_sql ORDER BY target_id")
        ways = {r["target_id"]: r["verify_strategy"] == "keyed" for r in rows}
        times: dict[str, list[float]] = {t: [] for t in ways}
        check, plain = [], []
        for _ in range(args.rounds):  # interleaved: forward and back of a table one after the other
            db.execute(f"INSERT INTO `{ctl}`.verify_run (plan_hash, started_at) VALUES ('bench', NOW(6))")
            run_id = db.query("SELECT LAST_INSERT_ID() AS id")[0]["id"]
            for target_id, keyed in ways.items():
                times[target_id].append(timed(db, f"CALL `{ctl}`.verify_table({run_id}, '{target_id}', {int(keyed)}, "
                                                  f"{args.chunk_rows})"))
            check.append(timed(db, f"SELECT ({round_trip}) AS first"))
            plain.append(timed(db, f"SELECT COUNT(*) FROM `{v1}`.subject"))
        print(f"{args.subjects:,} subjects, {3 * args.subjects:,} trials; medians of {args.rounds} interleaved rounds, "
              f"chunks of {args.chunk_rows:,} rows")
        forward_total = back_total = 0.0
        for target_id in (t for t in ways if not t.endswith(" <- v2")):
            forward = statistics.median(times[target_id])
            back_id = f"{target_id} <- v2"
            forward_total += forward
            if back_id not in ways:
                print(f"  {target_id}: forward {forward:.2f} s (one-way)")
                continue
            back = statistics.median(times[back_id])
            back_total += back
            kind = "keyed" if ways[back_id] else "aligned"
            print(f"  {target_id}: forward {forward:.2f} s, back ({kind}) {back:.2f} s: back / forward "
                  f"{back / forward:.2f}")
        print(f"  all tables: forward {forward_total:.2f} s, back {back_total:.2f} s: verify both ways takes "
              f"{(forward_total + back_total) / forward_total:.2f} x the forward verify")
        print(f"  round-trip check of subject (00, 70): {statistics.median(check):.3f} s; SELECT COUNT(*) of it "
              f"{statistics.median(plain):.3f} s")
    finally:
        for row in db.query("SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                            [prefix + "%"]):
            db.execute(f"DROP DATABASE `{row['s']}`")
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
