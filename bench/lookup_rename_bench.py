"""One UPDATE that renames a lookup value's vendor in every row that uses it (issue 21: what v1 accepts, the migration
accepts, without making the writer wait out the triggers).

`probe_insertion (…, probe, vendor, channels, depth)` with `#probe (probe) → vendor, channels` extracted (one-way),
applied through 60; ``--rows`` rows share one probe. Each round times ``UPDATE probe_insertion SET vendor = … WHERE
probe = 'shared'`` with the triggers and on a trigger-free copy of v1, for each size: the ratio, and how the time
grows with the rows (linear: doubling the rows doubles the time). Each row's trigger asks whether another v1 row of
that probe still holds other values (the lookup row is rewritten only when none does): searched from the low keys up,
as before commit "lookup rename", each row read every row the statement had already changed: 8,001 rows 40 s in
examples/probe_lookup.

Run: ``.venv/bin/python bench/lookup_rename_bench.py [--rows 2000,4000,8000] [--rounds 3]`` (DJ_HOST, DJ_PORT,
DJ_USER, DJ_PASS, else root on localhost). Its schemas start with ``djblr``; dropped at the end.

Last measured (2 shared cores under other test runs, MariaDB 10.11; ``--rows 2000,4000,8000 --rounds 3``, medians),
the same bench run with the code before this change (``PYTHONPATH`` an unpacked ``git archive`` of it) and after:
before 2.16 / 8.96 / 43.0 s (time per row x1.00 / x2.08 / x4.98: quadratic), after 0.21 / 0.59 / 1.07 s (x1.00 /
x1.43 / x1.29); without the triggers 0.01-0.04 s.
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
from two_way_bench import copy_schema  # noqa: E402

from djsqlgen.run.db import connect  # noqa: E402
from djsqlgen.run.settings import ConnectionSettings  # noqa: E402

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, PRIMARY KEY (subject_id));
CREATE TABLE probe_insertion (subject_id int NOT NULL, insertion_number tinyint NOT NULL,
  probe varchar(32) NOT NULL, vendor varchar(32) NOT NULL, channels smallint NULL, depth float NOT NULL,
  PRIMARY KEY (subject_id, insertion_number),
  FOREIGN KEY (subject_id) REFERENCES subject (subject_id) ON UPDATE CASCADE ON DELETE RESTRICT)
"""


def migrated(db, prefix: str, rows: int) -> tuple[str, str]:
    """(v1 with the triggers, a trigger-free copy of v1), ``rows`` rows on the shared probe and as many on others."""
    v1, bare = f"{prefix}_v1", f"{prefix}_bare"
    db.execute(f"CREATE DATABASE `{v1}` CHARACTER SET utf8mb4")
    db.execute(f"USE `{v1}`")
    for statement in (s.strip() for s in V1.split(";\n")):
        if statement:
            db.execute(statement)
    db.execute(f"INSERT INTO subject SELECT seq FROM seq_1_to_{rows}")
    db.execute(f"INSERT INTO probe_insertion SELECT s.seq, k.seq, IF(k.seq = 1, 'shared', CONCAT('p', s.seq DIV 50)), "
               f"'imec', 384, k.seq / 4 FROM seq_1_to_{rows} AS s, seq_1_to_2 AS k")
    copy_schema(db, v1, bare)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        djsqlgen("plan", "init", "--schema", f"{v1}={v1}_v2", "--name", prefix, "-o", "plan.yaml", work=work)
        plan = yaml.safe_load((work / "plan.yaml").read_text())
        plan["control_schema"] = f"{prefix}_ctl"
        plan["schemas"][0]["tables"]["probe_insertion"] = {"lookups": [
            {"table": "#probe", "key": ["probe"], "columns": ["vendor", "channels"]}]}
        (work / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
        djsqlgen("generate", "plan.yaml", "-o", "out", work=work)
        for name in ("00_preflight", "10_expand", "20_routines", "30_dualwrite"):
            djsqlgen("apply", f"out/{name}.sql", work=work)
        djsqlgen("backfill", "plan.yaml", work=work)
        djsqlgen("apply", "out/60_constraints.sql", work=work)
    return v1, bare


def rename(db, schema: str, vendor: str) -> float:
    started = time.monotonic()
    db.execute(f"UPDATE `{schema}`.probe_insertion SET vendor = '{vendor}' WHERE probe = 'shared'")
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="2000,4000,8000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = ConnectionSettings(host=os.environ.get("DJ_HOST", "127.0.0.1"),
                                  port=int(os.environ.get("DJ_PORT", "3306")), user=os.environ.get("DJ_USER", "root"),
                                  password=os.environ.get("DJ_PASS", ""))
    os.environ.update(DJ_HOST=settings.host, DJ_PORT=str(settings.port), DJ_USER=settings.user,
                      DJ_PASS=settings.password)
    db = connect(settings)
    prefix = f"djblr{uuid.uuid4().hex[:6]}"
    sizes = [int(n) for n in args.rows.split(",")]
    try:
        pairs = {n: migrated(db, f"{prefix}{i}", n) for i, n in enumerate(sizes)}
        timings = {n: {"with": [], "without": []} for n in sizes}
        for r in range(args.rounds):  # interleaved: the server's state drifts alike for both
            for n, (v1, bare) in pairs.items():
                timings[n]["with"].append(rename(db, v1, f"vendor {r}"))
                timings[n]["without"].append(rename(db, bare, f"vendor {r}"))
        first = None
        for n in sizes:
            w, wo = statistics.median(timings[n]["with"]), statistics.median(timings[n]["without"])
            first = first or (n, w)
            growth = (w / first[1]) / (n / first[0])
            print(f"{n:>7,} rows in one UPDATE: {w:7.3f} s with the triggers, {wo:6.3f} s without "
                  f"(x{w / max(wo, 1e-6):.1f}); time per row against the smallest size: x{growth:.2f} (1: linear)")
    finally:
        for row in db.query("SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                            [prefix + "%"]):
            db.execute(f"DROP DATABASE `{row['s']}`")
        db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
