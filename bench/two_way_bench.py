"""Two-way sync bench (issue 24): what writers on v1 and on v2 notice of the triggers that keep both sides equal.

Two copies of one DataJoint-shaped schema pair, filled alike (``--subjects`` subjects with a session and trials
each): on the first, a two-way plan (rename, retypes, a dropped and an added column) applied through 60, so every
write on either side is carried to the other; the second is the same v1 and v2 tables, foreign keys included,
with no trigger at all. In interleaved rounds of ``--seconds`` each, ``--writers`` clients per side write at once,
each on subjects of its own (insert with a session and trials in one transaction, an update, a delete, the way
people on v1 code and on v2 code work): completed iterations per side with the triggers over without (target
>= 0.5 each), and the deadlocks (1213) and lock-wait timeouts (1205) each got (target: no more with the triggers).
Then the same row written on both sides at the same instant, which takes its two locks in opposite orders and can
deadlock whatever the triggers do: how often, and whether both sides are still equal after each loser's rollback.

Run: ``.venv/bin/python bench/two_way_bench.py [--subjects 20000] [--writers 2] [--seconds 5] [--rounds 3]
[--baseline DIR]`` (DJ_HOST, DJ_PORT, DJ_USER, DJ_PASS, else root on localhost). Its schemas start
with ``djbtw``; dropped at the end. ``--baseline DIR`` (another djsqlgen's source: ``git archive COMMIT | tar -x -C
DIR`` and ``ln -s ../sql_templates DIR/djsqlgen/sql_templates``): that version's triggers on a third pair, in the
same rounds, before and after side by side. On a server of this machine,
each configuration's server CPU time per iteration too (the writers' own server threads, from /proc: what other
work on the server does not touch).

Last measured (2 cores shared with three other engineers' test runs, the shared MariaDB 10.11,
innodb_flush_log_at_trx_commit=1, no binary log; ``--subjects 20000 --seconds 5 --rounds 4 --same-row 100 --baseline
<commit 3506c88> --counter-probe``, ratios of one run): v1 0.25, v2 0.24 (the triggers of 3506c88 in the same rounds:
0.21, 0.21; with the counter probe 0.20, 0.19), so the target of 0.5 is not met. Server CPU per writer iteration:
0.54 ms without triggers, 2.59 / 2.78 ms (v1 / v2) with them, 2.98 / 3.13 ms with 3506c88's, 2.98 / 3.25 ms with the
counter probe.
The carried counts (issue 24 item 5, built since: the triggers of every two-way plan count), against the triggers of
562bbfa without them as ``--baseline``, four runs of ``--seconds 4 --rounds 4 --same-row 50`` (one with ``--subjects
5000``, three with 2000), the machine shared with other helpers' tests (two runs beside my own tests): v1 ratio with
the counts / without them 0.17 / 0.23, 0.31 / 0.38, 0.28 / 0.34, 0.24 / 0.22 (v2 0.17 / 0.22, 0.29 / 0.36, 0.27 / 0.32,
0.23 / 0.21); server CPU per iteration (about six counted rows) 2.25 / 2.10, 2.01 / 1.83, 2.04 / 1.60, 2.19 / 2.03 ms
on v1 (2.37 / 2.24, 2.13 / 1.97, 2.15 / 1.71, 2.30 / 2.18 on v2): +6 to +10 % in three runs, +26 % in one. The counts
printed matched the iterations exactly (v1>v2 6677 for 1113 iterations). No errors with or without. No deadlock or lock-wait timeout on different rows in any configuration; the same row on both sides
at once 17 % deadlocks, none left unequal. (The previous measurement, on a MariaDB of its own: 0.40 / 0.39; the
ratios depend on the load: compare configurations of one run.) Where the time goes in a one-row insert (a private
MariaDB 10.11 beside the shared one, so that no other session's tables evict these from the table definition cache:
on the shared server, table_definition_cache 400 and several helpers' schemas, every statement that prelocks the
trigger graph kept re-reading and re-parsing the triggers, 10-35 ms of server CPU an iteration): server CPU per
row, v1 / v2 insert, 41 / 41 us without triggers, 176 / 182 us with them; of that, the sides row's read 31 / 56 us
(v2's includes 60's subquery on phase_log), the carried count 15 / 15 us, the other side's trigger (fired by the
carried write, which it does not carry back) 34 us on v1's insert, the rest the carried write and the trigger's
own run (statement-level ablation: each part cut from the triggers in turn, interleaved, 7 rounds of 300 rows).
The sides row is read plainly by key since (no aggregate, its closing time formatted only in a refusal): against
the triggers before (``--baseline 8291dd7``), ``--subjects 5000 --seconds 4 --rounds 5 --same-row 50``, private
server, load average 13-15 from the other helpers: v1 0.23 / 0.20, v2 0.22 / 0.20 (iterations +15 % / +11 %),
server CPU 2.34 / 2.46 and 2.46 / 2.57 ms an iteration (0.48 without); an earlier run of 3 rounds: v1 0.27 / 0.24,
v2 0.26 / 0.24, CPU 2.44 / 2.72 and 2.58 / 2.76 ms. With a forward UPDATE's read of 60 moved to where a key moves
too, the same command beside integration tests on that server (load 22-40): v1 0.29 / 0.28, v2 0.29 / 0.27, server
CPU 2.33 / 2.44 and 2.48 / 2.58 ms (0.53 without); and alone on that server once the load fell (load 9 to 5): v1
0.43 / 0.41, v2 0.40 / 0.38 (iterations +5 % / +4 %), server CPU 1.53 / 1.64 and 1.70 / 1.76 ms (0.44 without);
the same row on both sides at once 50 % deadlocks there (8-16 % under load), none left unequal. The target of 0.5
is not met for single-row raw SQL: the triggers still add ~1.1-1.9 ms of server CPU an iteration to 0.44-0.53.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
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

from djsqlgen.run.db import ServerError, connect  # noqa: E402
from djsqlgen.run.settings import ConnectionSettings  # noqa: E402

V1 = """
CREATE TABLE `#kind` (kind varchar(16) NOT NULL, description varchar(255) NOT NULL DEFAULT '', PRIMARY KEY (kind));
CREATE TABLE subject (subject_id int NOT NULL, kind varchar(16) NOT NULL, nickname varchar(32) NOT NULL,
  weight float NULL, notes varchar(255) NULL DEFAULT NULL, PRIMARY KEY (subject_id),
  FOREIGN KEY (kind) REFERENCES `#kind` (kind) ON UPDATE CASCADE ON DELETE RESTRICT);
CREATE TABLE session (subject_id int NOT NULL, session_idx smallint unsigned NOT NULL, session_date date NOT NULL,
  rig varchar(32) NOT NULL DEFAULT 'rig1', PRIMARY KEY (subject_id, session_idx),
  FOREIGN KEY (subject_id) REFERENCES subject (subject_id) ON UPDATE CASCADE ON DELETE RESTRICT);
CREATE TABLE session__trial (subject_id int NOT NULL, session_idx smallint unsigned NOT NULL,
  trial_idx int unsigned NOT NULL, start_time double NOT NULL, PRIMARY KEY (subject_id, session_idx, trial_idx),
  FOREIGN KEY (subject_id, session_idx) REFERENCES session (subject_id, session_idx)
  ON UPDATE CASCADE ON DELETE RESTRICT);
INSERT INTO `#kind` VALUES ('mouse', ''), ('rat', '')
"""

# each side's statements, in its own column names (v2: subject is animal, nickname is name, session_date recorded_on)
SIDES = {
    "v1": {"subject": "subject", "name": "nickname", "date": "session_date", "extra": ""},
    "v2": {"subject": "animal", "name": "name", "date": "recorded_on", "extra": ""},
}


def fill(db, schema: str, subjects: int) -> None:
    db.execute(f"INSERT INTO `{schema}`.subject SELECT seq, 'mouse', CONCAT('s', seq), 20.5, NULL "
               f"FROM seq_1_to_{subjects}")
    db.execute(f"INSERT INTO `{schema}`.session SELECT seq, 1, '2024-01-01', 'rig1' FROM seq_1_to_{subjects}")
    db.execute(f"INSERT INTO `{schema}`.session__trial SELECT s.seq, 1, t.seq, 0.5 FROM seq_1_to_{subjects} AS s, "
               "seq_1_to_3 AS t")


def copy_schema(db, source: str, target: str) -> None:
    """``target``: the tables of ``source`` (foreign keys included, triggers not) and their rows."""
    db.execute(f"CREATE DATABASE `{target}`")
    tables = [r["t"] for r in db.query("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                                       [source])]
    db.execute("SET SESSION foreign_key_checks = 0")
    for t in tables:
        create = db.query(f"SHOW CREATE TABLE `{source}`.`{t}`")[0]["Create Table"]
        db.execute(f"USE `{target}`")
        db.execute(create)
        db.execute(f"INSERT INTO `{target}`.`{t}` SELECT * FROM `{source}`.`{t}`")
    db.execute("SET SESSION foreign_key_checks = 1")


def _server_cpu_ns(conn) -> int | None:
    """CPU time the server has spent on ``conn`` so far (its thread's, from /proc: a server on this machine only)."""
    try:
        tid = conn.query("SELECT TID FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()")[0]["TID"]
        row = conn.query("SELECT @@pid_file AS f, @@datadir AS d")[0]
        pid_file = Path(row["d"]) / row["f"]  # (an absolute pid_file stays as it is)
        pid = (pid_file.read_text().split()[0] if pid_file.exists() else  # the server of DJ_PORT, of several here
               subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True, text=True).stdout.split()[0])
        return int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
    except (ServerError, IndexError, KeyError, OSError, ValueError):
        return None


def writer(settings, schema: str, side: str, first: int, stop: threading.Event, out: dict) -> None:
    names = SIDES[side]
    conn = connect(settings)
    i = 0
    started = _server_cpu_ns(conn)
    try:
        while not stop.is_set():
            sid = first + i
            try:
                conn.execute("BEGIN")
                conn.execute(f"INSERT INTO `{schema}`.`{names['subject']}` (subject_id, kind, {names['name']}, weight) "
                             f"VALUES ({sid}, 'rat', 'w{sid}', 21.5)")
                conn.execute(f"INSERT INTO `{schema}`.session (subject_id, session_idx, {names['date']}, rig) "
                             f"VALUES ({sid}, 1, '2024-02-01', 'rig2')")
                conn.execute(f"INSERT INTO `{schema}`.session__trial (subject_id, session_idx, trial_idx, start_time) "
                             f"VALUES ({sid}, 1, 1, 0.25), ({sid}, 1, 2, 0.75)")
                conn.execute("COMMIT")
                conn.execute(f"UPDATE `{schema}`.`{names['subject']}` SET {names['name']} = 'u{sid}' "
                             f"WHERE subject_id = {sid}")
                if i % 2:
                    conn.execute(f"DELETE FROM `{schema}`.session__trial WHERE subject_id = {sid}")
                out["done"] += 1
            except ServerError as exc:
                out[exc.errno] = out.get(exc.errno, 0) + 1
                conn.execute("ROLLBACK")
            i += 1
        ended = _server_cpu_ns(conn)
        if started is not None and ended is not None:
            out["cpu_ns"] = ended - started
    finally:
        conn.close()


def round_of(settings, schemas: dict[str, str], writers: int, seconds: float, first: int) -> dict:
    stop = threading.Event()
    results = {side: [{"done": 0} for _ in range(writers)] for side in schemas}
    threads = [threading.Thread(target=writer, args=(settings, schemas[side], side, first + (k + 1) * 1_000_000
                                                     + (0 if side == "v1" else 500_000), stop, results[side][n]))
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


def same_row(settings, v1: str, v2: str, tries: int) -> tuple[int, int]:
    """Both sides update the same subject at the same instant, ``tries`` times: (deadlocks, rounds left unequal)."""
    deadlocks = unequal = 0
    check = connect(settings)
    for n in range(tries):
        sid = 1 + n
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

        one = f"UPDATE `{v1}`.subject SET nickname = 'one' WHERE subject_id = {sid}"
        two = f"UPDATE `{v2}`.animal SET name = 'two' WHERE subject_id = {sid}"
        threads = [threading.Thread(target=write, args=(one,)), threading.Thread(target=write, args=(two,))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadlocks += errors.count(1213)
        a = check.query(f"SELECT nickname FROM `{v1}`.subject WHERE subject_id = {sid}")
        b = check.query(f"SELECT name FROM `{v2}`.animal WHERE subject_id = {sid}")
        unequal += a[0]["nickname"] != b[0]["name"]
    check.close()
    return deadlocks, unequal


def two_way_pair(db, prefix: str, subjects: int, sync: str, code: str | None = None, keep: Path | None = None
                 ) -> tuple[str, str]:
    """v1 ``{prefix}_v1`` filled, and its v2 ``{prefix}_v1_v2`` through 60 of the bench's plan (``code``: another
    djsqlgen's source generates and applies it, for a baseline in the same run)."""
    v1, v2 = f"{prefix}_v1", f"{prefix}_v1_v2"
    db.execute(f"CREATE DATABASE `{v1}` CHARACTER SET utf8mb4")
    db.execute(f"USE `{v1}`")
    for statement in (s.strip() for s in V1.split(";\n")):
        if statement:
            db.execute(statement)
    fill(db, v1, subjects)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        djsqlgen("plan", "init", "--schema", f"{v1}={v2}", "--name", prefix, "-o", "plan.yaml", work=work, code=code)
        plan = yaml.safe_load((work / "plan.yaml").read_text())
        plan["control_schema"], plan["sync"] = f"{prefix}_ctl", sync
        tables = plan["schemas"][0]["tables"]
        tables["subject"] = {"rename": "animal", "columns": {
            "subject_id": "keep", "kind": "keep", "notes": "drop", "nickname": {"rename": "name",
                                                                              "type": "varchar(64)"},
            "weight": {"type": "double"}}, "add": {"tag": {"type": "varchar(10)", "default": "'none'"}}}
        tables["session"] = {"columns": {"subject_id": "keep", "session_idx": {"type": "int"},
                                         "session_date": {"rename": "recorded_on"}, "rig": "keep"}}
        (work / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
        djsqlgen("generate", "plan.yaml", "-o", "out", work=work, code=code)
        djsqlgen("apply", "out", work=work, code=code)  # 00 to 60, the backfill and verify included
        if keep:
            shutil.copytree(work / "out", keep, dirs_exist_ok=True)
    return v1, v2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=20000)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--same-row", type=int, default=200)
    parser.add_argument("--sync", choices=("two-way", "one-way"), default="two-way",
                        help="one-way: the same plan without the way back, for what the forward triggers alone cost")
    parser.add_argument("--baseline", help="a directory holding another djsqlgen's source (git archive COMMIT | tar -x "
                                           "-C DIR; ln -s ../sql_templates DIR/djsqlgen/sql_templates): its triggers "
                                           "on a third pair of schemas, in the same rounds")
    parser.add_argument("--keep", type=Path, help="copy the generated directory here (to read the triggers)")
    args = parser.parse_args()
    settings = ConnectionSettings(host=os.environ.get("DJ_HOST", "127.0.0.1"), port=int(os.environ.get("DJ_PORT", "3306")),
                                  user=os.environ.get("DJ_USER", "root"), password=os.environ.get("DJ_PASS", ""))
    os.environ.update(DJ_HOST=settings.host, DJ_PORT=str(settings.port), DJ_USER=settings.user,
                      DJ_PASS=settings.password)
    prefix = f"djbtw{uuid.uuid4().hex[:6]}"
    bare1, bare2 = f"{prefix}_bare_v1", f"{prefix}_bare_v2"
    baseline = str(Path(args.baseline).resolve()) if args.baseline else None
    db = connect(settings)
    try:
        v1, v2 = two_way_pair(db, prefix, args.subjects, args.sync, keep=args.keep)
        configs = {"with the triggers": {"v1": v1, "v2": v2}}
        if baseline:
            b1, b2 = two_way_pair(db, f"{prefix}b", args.subjects, args.sync, code=baseline)
            configs["with the baseline's triggers"] = {"v1": b1, "v2": b2}
        copy_schema(db, v1, bare1)
        copy_schema(db, v2, bare2)
        configs["without"] = {"v1": bare1, "v2": bare2}
        totals = {name: {"v1": {"done": 0}, "v2": {"done": 0}} for name in configs}
        for r in range(args.rounds):  # interleaved: the server's state drifts alike for all
            order = list(configs) if r % 2 == 0 else list(reversed(configs))
            for name in order:
                got = round_of(settings, configs[name], args.writers, args.seconds, first=10_000_000 * (r + 1))
                for side, counts in got.items():
                    for key, value in counts.items():
                        totals[name][side][key] = totals[name][side].get(key, 0) + value
        print(f"{args.writers} writer(s) per side, {args.rounds} rounds of {args.seconds:g} s, "
              f"{args.subjects:,} subjects on each side, {args.sync} plan")
        met = True
        without = totals["without"]
        for side in ("v1", "v2"):
            errors_without = sum(v for k, v in without[side].items() if k not in ("done", "cpu_ns"))
            for name, total in totals.items():
                errors = {k: v for k, v in total[side].items() if k not in ("done", "cpu_ns")}
                ratio = total[side]["done"] / max(without[side]["done"], 1)
                cpu = (f", server CPU {total[side]['cpu_ns'] / 1e6 / max(total[side]['done'], 1):.2f} ms an iteration"
                       if "cpu_ns" in total[side] else "")
                print(f"  {side} writes {name}: {total[side]['done']} iterations, ratio {ratio:.2f}"
                      f"{' (target >= 0.5)' if name == 'with the triggers' else ''}{cpu}; errors {errors or 0}")
            ratio = totals["with the triggers"][side]["done"] / max(without[side]["done"], 1)
            errors_with = sum(v for k, v in totals["with the triggers"][side].items() if k not in ("done", "cpu_ns"))
            met &= ratio >= 0.5 and errors_with <= errors_without
        if args.sync == "two-way":  # what status shows (the triggers count every row they carry, issue 24 item 5)
            counted = db.query(f"SELECT direction, SUM(rows_carried) AS n, COUNT(*) AS c FROM `{prefix}_ctl`.carried "
                               "GROUP BY direction ORDER BY direction")
            print("  rows carried, as status counts them: " + ", ".join(
                f"{r['direction']} {r['n']} ({r['c']} counter rows)" for r in counted))
        if args.sync == "one-way":  # v2's writes stay in v2: nothing to compare
            print("targets met" if met else "targets NOT met")
            return 0 if met else 1
        deadlocks, unequal = same_row(settings, v1, v2, args.same_row)
        print(f"  the same row on both sides at once: {deadlocks} deadlock(s) in {args.same_row} tries "
              f"({100 * deadlocks / args.same_row:.0f} %), {unequal} left unequal (target 0)")
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
