"""Writers on a v2 table not copied yet (issue 21, item 1): errors per transaction with the dual-write triggers, and
on a copy of v1 without them, in the same run.

v1 ``bench_sg_v1.trial (subject_id, trial_id, score)``: 6 subjects x 3000 trials; an identity plan, 00-30 applied,
no backfill (v2 empty: the sparsest it gets). Each of ``--writers`` clients works on its own subject only; each
transaction deletes one of its old trials, inserts a new one and updates another (a populate that replaces
results). In v1 the writers never touch each other's rows or gaps. The same workload runs on ``bench_sg_plain.trial``
(a copy without triggers) and on v1, in ``--rounds`` interleaved rounds (each on rows no earlier round touched: v2
stays as sparse), and the ratio of their throughputs is printed per round and as the median (a shared machine's load
changes between runs by more than the triggers cost: one pair alone is noise).

Run: ``.venv/bin/python bench/sparse_gaps_bench.py [--transactions N] [--rounds R]`` (the ``djsqlgen`` of the
interpreter that runs it generates the triggers: run it with another checkout's interpreter, or with PYTHONPATH set to
another checkout's source (``git archive``), to measure that one). Connection:
DJ_HOST, DJ_PORT, DJ_USER, DJ_PASS, else root on localhost. Its schemas start with ``bench_sg_`` and are dropped at
the end.
"""

from __future__ import annotations

import argparse
import collections
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import pymysql
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from common import connect, create_own, djsqlgen, drop_own, mark_own, run  # noqa: E402

V1, PLAIN, V2, CONTROL = "bench_sg_v1", "bench_sg_plain", "bench_sg_v1_v2", "bench_sg_ctl"
TABLE = "(subject_id int NOT NULL, trial_id int NOT NULL, score int NOT NULL, PRIMARY KEY (subject_id, trial_id))"


ROWS = 3000  # trials per subject: every round deletes and updates rows of its own


def workload(schema: str, writers: int, transactions: int, round_: int = 0) -> tuple[collections.Counter, float]:
    errors: collections.Counter = collections.Counter()
    lock = threading.Lock()

    def writer(w: int) -> None:
        rng = random.Random(w)
        old = list(range(1, ROWS + 1))
        rng.shuffle(old)
        old = old[2 * transactions * round_:]
        db = connect()
        run(db, "SET SESSION innodb_lock_wait_timeout = 5")
        for i in range(transactions):
            try:
                run(db, "START TRANSACTION")
                run(db, f"DELETE FROM `{schema}`.trial WHERE subject_id = {w} AND trial_id = {old[2 * i]}")
                run(db, f"INSERT INTO `{schema}`.trial VALUES ({w}, {10000 + 1000 * round_ + i}, {i})")
                run(db, f"UPDATE `{schema}`.trial SET score = score + 1 WHERE subject_id = {w} AND trial_id = "
                        f"{old[2 * i + 1]}")
                run(db, "COMMIT")
            except pymysql.err.MySQLError as exc:
                with lock:
                    errors[exc.args[0]] += 1
                run(db, "ROLLBACK")
        db.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(1, writers + 1)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, default=6)
    parser.add_argument("--transactions", type=int, default=300, help="per writer and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if 2 * args.transactions * args.rounds > ROWS or args.transactions > 1000:
        parser.error(f"2 x transactions x rounds must be at most {ROWS}, transactions at most 1000")
    db = connect()
    drop_own(db, V2, CONTROL)
    for schema in (V1, PLAIN):
        create_own(db, schema, "CHARACTER SET utf8mb4")
        run(db, f"USE `{schema}`")
        run(db, f"CREATE TABLE trial {TABLE} ENGINE=InnoDB")
        run(db, f"INSERT INTO trial SELECT s.seq, t.seq, 0 FROM seq_1_to_{args.writers} AS s, seq_1_to_{ROWS} AS t")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            plan_path, out = work / "plan.yaml", work / "out"
            djsqlgen("plan", "init", "--schema", f"{V1}={V2}", "--name", "bench_sg", "-o", str(plan_path), work=work)
            plan = yaml.safe_load(plan_path.read_text())
            plan["control_schema"] = CONTROL
            plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
            djsqlgen("generate", str(plan_path), "-o", str(out), work=work)
            djsqlgen("apply", *(str(out / f"{n}.sql") for n in ("00_preflight", "10_expand", "20_routines",
                                                                "30_dualwrite")), work=work)
            mark_own(db, V2)
            total = args.writers * args.transactions
            ratios = []
            for round_ in range(args.rounds):
                rates = []
                for label, schema in (("without triggers", PLAIN), ("with triggers, v2 not copied", V1)):
                    errors, seconds = workload(schema, args.writers, args.transactions, round_)
                    failed = sum(errors.values())
                    rates.append(total / seconds)
                    print(f"round {round_ + 1} {label:30s} {failed:5d} of {total} transactions failed "
                          f"({100 * failed / total:.1f} %) {dict(errors)}  {total / seconds:,.0f} transactions/s")
                ratios.append(rates[1] / rates[0])
                print(f"round {round_ + 1} throughput with / without: {ratios[-1]:.2f}", flush=True)
            print(f"median throughput with / without over {args.rounds} rounds: {statistics.median(ratios):.2f}")
    finally:
        drop_own(db, V1, PLAIN, V2, CONTROL)


if __name__ == "__main__":
    main()
