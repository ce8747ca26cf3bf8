"""Two-way sync of a lookup (issue 24): what writers on v1 and on v2 notice of the triggers, on a lookup plan.

`probe_insertion (…, probe, vendor, channels, depth)` with `#probe (probe) → vendor, channels` extracted, applied
through 60 with `sync: two-way`, beside a trigger-free copy of the same v1 and v2 tables (foreign keys included). In
interleaved rounds of ``--seconds``, ``--writers`` clients per side write at once, each on subjects and probes of its
own, all also using one shared probe (as people on v1 code and v2 code do): v1 inserts a subject with two insertions
(its own probe, the shared one) in one transaction, changes its own probe's vendor in every row, changes a depth,
deletes a row; v2 does the same as a 2.x user would (its lookup row first, then the insertions; the vendor changed
in the lookup row, which rewrites the v1 rows of that key). Completed iterations with the triggers over without (target
>= 0.5 each side), and the deadlocks (1213) and lock-wait timeouts (1205) each got (target: no more with them).

Run: ``.venv/bin/python bench/two_way_lookup_bench.py [--subjects 5000] [--writers 2] [--seconds 3] [--rounds 2]``
(DJ_HOST, DJ_PORT, DJ_USER, DJ_PASS, else root on localhost). Its schemas start with ``djbtl``; dropped at the end.

Then ``--same-rows`` times, a v2 client updates a lookup row's vendor (rewriting the 50 v1 rows of its key) while a
v1 client updates one of those rows, both from a barrier: the same rows written from both sides in opposite orders.

Last measured (2 cores shared with other helpers' tests, the shared MariaDB 10.11; defaults; three runs): v1 0.58,
0.58, 0.58; v2 0.37, 0.41, 0.36; no deadlock or lock-wait timeout with or without the triggers; both sides equal after.
A fourth run under a load average of 11 from other work: v1 0.69, v2 0.37; the same rows at once: 49 deadlocks in 100
tries, no lock-wait timeout, none left unequal (each loser's transaction rolled back whole on both sides).
(Before the written-row forms with lookup rows, commit 7d47249: v1 0.50, v2 0.34.) Per statement with one writer
per side (with / without the triggers): v2 INSERT of a lookup row 0.53 / 0.32 ms, of an insertion 0.85 / 0.27, UPDATE
of a lookup row's vendor (a v1 row rewritten) 1.65 / 0.69, of a depth 1.35 / 0.60; v1 INSERT of an insertion 1.04 /
0.22 (the forward lookup write, then the echo's compares on v2). The v2 side misses 0.5: its trigger-free iteration is
cheap (every statement by key), and each v2 write costs about two statements' work more (the carried write, the
echo's compare by key); two_way_bench.py's plan without a lookup measured 0.40 / 0.39 on its own shape.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from common import djsqlgen  # noqa: E402
from two_way_bench import copy_schema  # noqa: E402

from djsqlgen.run.db import ServerError, connect  # noqa: E402
from djsqlgen.run.settings import ConnectionSettings  # noqa: E402

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, name varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id));
CREATE TABLE probe_insertion (subject_id int NOT NULL, insertion_number tinyint NOT NULL,
  probe varchar(32) NOT NULL, vendor varchar(32) NOT NULL, channels smallint NULL, depth float NOT NULL,
  PRIMARY KEY (subject_id, insertion_number),
  FOREIGN KEY (subject_id) REFERENCES subject (subject_id) ON UPDATE CASCADE ON DELETE RESTRICT)
"""


def fill(db, schema: str, subjects: int) -> None:
    db.execute(f"INSERT INTO `{schema}`.subject (subject_id) SELECT seq FROM seq_1_to_{subjects}")
    # a probe per 50 subjects, and the shared one
    db.execute(f"INSERT INTO `{schema}`.probe_insertion SELECT s.seq, k.seq, IF(k.seq = 1, CONCAT('p', s.seq DIV 50), "
               f"'shared'), IF(k.seq = 1, 'imec', 'neuralynx'), 384, k.seq / 4 FROM seq_1_to_{subjects} AS s, "
               "seq_1_to_2 AS k")


def writer(settings, schema: str, side: str, first: int, stop: threading.Event, out: dict) -> None:
    conn = connect(settings)
    i = 0
    try:
        while not stop.is_set():
            sid, probe = first + i, f"{side}-{first + i}"
            try:
                conn.execute("BEGIN")
                conn.execute(f"INSERT INTO `{schema}`.subject (subject_id) VALUES ({sid})")
                if side == "v1":
                    conn.execute(f"INSERT INTO `{schema}`.probe_insertion VALUES "
                                 f"({sid}, 1, '{probe}', 'atlas', 32, 1), ({sid}, 2, 'shared', 'neuralynx', 384, 2)")
                    conn.execute("COMMIT")
                    conn.execute(f"UPDATE `{schema}`.probe_insertion SET vendor = 'Atlas' WHERE probe = '{probe}'")
                else:
                    conn.execute(f"INSERT INTO `{schema}`.`#probe` VALUES ('{probe}', 'atlas', 32)")
                    conn.execute(f"INSERT INTO `{schema}`.probe_insertion VALUES ({sid}, 1, '{probe}', 1), "
                                 f"({sid}, 2, 'shared', 2)")
                    conn.execute("COMMIT")
                    conn.execute(f"UPDATE `{schema}`.`#probe` SET vendor = 'Atlas' WHERE probe = '{probe}'")
                conn.execute(f"UPDATE `{schema}`.probe_insertion SET depth = 3 WHERE subject_id = {sid} "
                             "AND insertion_number = 1")
                if i % 2:
                    conn.execute(f"DELETE FROM `{schema}`.probe_insertion WHERE subject_id = {sid} "
                                 "AND insertion_number = 2")
                out["done"] += 1
            except ServerError as exc:
                out[exc.errno] = out.get(exc.errno, 0) + 1
                conn.execute("ROLLBACK")
            i += 1
    finally:
        conn.close()


def round_of(settings, schemas: dict[str, str], writers: int, seconds: float, first: int) -> dict:
    stop = threading.Event()
    results = {side: [{"done": 0} for _ in range(writers)] for side in schemas}
    threads = [threading.Thread(target=writer, args=(settings, schemas[side], side, first + (k + 1) * 1_000_000,
                                                     stop, results[side][n]))
               for k, (side, n) in enumerate((s, n) for s in schemas for n in range(writers))]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    out = {}
    for side, parts in results.items():
        total: dict = {}
        for part in parts:
            for key, value in part.items():
                total[key] = total.get(key, 0) + value
        out[side] = total
    return out


def same_rows(settings, v1: str, v2: str, tries: int) -> tuple[int, int, int]:
    """A v2 client updates a lookup row's vendor (rewriting the v1 rows of its key) while a v1 client updates one of
    those rows' depth, at the same instant, ``tries`` times: (deadlocks, lock-wait timeouts, rounds left unequal)."""
    deadlocks = timeouts = unequal = 0
    check = connect(settings)
    for n in range(tries):
        probe = f"p{n % 20}"  # 50 rows each
        barrier = threading.Barrier(2)
        errors: list[int] = []

        def write(sql: str, barrier=barrier, errors=errors) -> None:
            conn = connect(settings)
            try:
                conn.execute("BEGIN")
                barrier.wait()
                conn.execute(sql)
                conn.execute("COMMIT")
            except ServerError as exc:
                errors.append(exc.errno)
            finally:
                conn.close()

        one = f"UPDATE `{v2}`.`#probe` SET vendor = 'v2 {n}' WHERE probe = '{probe}'"
        sid = check.query(f"SELECT MIN(subject_id) AS s FROM `{v1}`.probe_insertion WHERE probe = '{probe}'")[0]["s"]
        two = f"UPDATE `{v1}`.probe_insertion SET depth = {n} WHERE subject_id = {sid} AND insertion_number = 1"
        threads = [threading.Thread(target=write, args=(one,)), threading.Thread(target=write, args=(two,))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadlocks += errors.count(1213)
        timeouts += errors.count(1205)
        key = "ORDER BY subject_id, insertion_number"
        unequal += check.query(f"SELECT subject_id, insertion_number, vendor, depth FROM `{v1}`.probe_insertion "
                               f"WHERE probe = '{probe}' {key}") != check.query(
            f"SELECT i.subject_id, i.insertion_number, p.vendor, i.depth FROM `{v2}`.probe_insertion AS i JOIN "
            f"`{v2}`.`#probe` AS p ON p.probe = i.probe WHERE i.probe = '{probe}' {key}")
    check.close()
    return deadlocks, timeouts, unequal


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=5000)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--same-rows", type=int, default=50)
    args = parser.parse_args()
    settings = ConnectionSettings(host=os.environ.get("DJ_HOST", "127.0.0.1"),
                                  port=int(os.environ.get("DJ_PORT", "3306")), user=os.environ.get("DJ_USER", "root"),
                                  password=os.environ.get("DJ_PASS", ""))
    os.environ.update(DJ_HOST=settings.host, DJ_PORT=str(settings.port), DJ_USER=settings.user,
                      DJ_PASS=settings.password)
    prefix = f"djbtl{uuid.uuid4().hex[:6]}"
    v1, v2, ctl = f"{prefix}_v1", f"{prefix}_v1_v2", f"{prefix}_ctl"
    bare1, bare2 = f"{prefix}_bare_v1", f"{prefix}_bare_v2"
    db = connect(settings)
    met = False
    try:
        db.execute(f"CREATE DATABASE `{v1}` CHARACTER SET utf8mb4")
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
            plan["schemas"][0]["tables"]["probe_insertion"] = {"lookups": [
                {"table": "#probe", "key": ["probe"], "columns": ["vendor", "channels"]}]}
            (work / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
            djsqlgen("generate", "plan.yaml", "-o", "out", work=work)
            djsqlgen("apply", "out", work=work)  # 00 to 60, the backfill and verify included
        copy_schema(db, v1, bare1)
        copy_schema(db, v2, bare2)
        with_triggers = {"v1": {"done": 0}, "v2": {"done": 0}}
        without = {"v1": {"done": 0}, "v2": {"done": 0}}
        for r in range(args.rounds):  # interleaved: the server's state drifts alike for both
            for schemas, total in (({"v1": v1, "v2": v2}, with_triggers), ({"v1": bare1, "v2": bare2}, without)):
                got = round_of(settings, schemas, args.writers, args.seconds, first=10_000_000 * (r + 1))
                for side, counts in got.items():
                    for key, value in counts.items():
                        total[side][key] = total[side].get(key, 0) + value
        print(f"{args.writers} writer(s) per side, {args.rounds} rounds of {args.seconds:g} s, "
              f"{args.subjects:,} subjects on each side")
        met = True
        for side in ("v1", "v2"):
            ratio = with_triggers[side]["done"] / max(without[side]["done"], 1)
            errors_with = {k: v for k, v in with_triggers[side].items() if k != "done"}
            errors_without = {k: v for k, v in without[side].items() if k != "done"}
            print(f"  {side} writes: {with_triggers[side]['done']} iterations with the two-way triggers, "
                  f"{without[side]['done']} without: ratio {ratio:.2f} (target >= 0.5); "
                  f"errors with {errors_with or 0}, without {errors_without or 0}")
            met &= ratio >= 0.5 and sum(errors_with.values()) <= sum(errors_without.values())
        key = "ORDER BY subject_id, insertion_number"
        same = db.query(f"SELECT subject_id, insertion_number, probe, vendor, channels, depth "
                        f"FROM `{v1}`.probe_insertion {key}") == db.query(
            f"SELECT i.subject_id, i.insertion_number, i.probe, p.vendor, p.channels, i.depth FROM "
            f"`{v2}`.probe_insertion AS i JOIN `{v2}`.`#probe` AS p ON p.probe = i.probe {key}")
        print(f"  both sides equal after the writers: {same}")
        met &= same
        deadlocks, timeouts, unequal = same_rows(settings, v1, v2, args.same_rows)
        print(f"  a lookup row updated in v2 while v1 updates one of its rows, at once: {deadlocks} deadlock(s), "
              f"{timeouts} lock-wait timeout(s) in {args.same_rows} tries, {unequal} left unequal (target 0)")
        met &= unequal == 0
    finally:
        for row in db.query("SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                            [prefix + "%"]):
            db.execute(f"DROP DATABASE `{row['s']}`")
        db.close()
    print("targets met" if met else "targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
