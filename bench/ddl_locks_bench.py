"""Cut-over DDL against never-idle writers (issue 21 item 1): what each way of running 60's and 70's DDL costs them.

Six writer threads (pymysql, short transactions back to back, the statement shapes DataJoint 0.14 uses: a master
and its parts inserted in one transaction; a cascading delete that first tries the parent (1451), then deletes the
children and the parent; update1's read then write) work on v1 tables (subject -> session -> tag, ON UPDATE/DELETE
CASCADE) whose AFTER triggers copy every write into v2 tables, as 30's do. Meanwhile the DDL of 60 (ADD FOREIGN
KEY on the v2 tables, foreign_key_checks=0, INPLACE: its
locks, see ddl_round) and of 70 (on each v1 table: CREATE guard triggers, replace the
dual-write triggers, as DROP TRIGGER would need; guards and keys go again for the next round) runs in rounds, each way:

- ``nowait``: lock_wait_timeout 0, a busy table's 1205 retried after a pause (what `djsqlgen apply` does first);
- ``nowait-fast``: the same, pauses of 5 ms doubling to 20 ms;
- ``wait1``: lock_wait_timeout 1, retried;
- ``wait10``: lock_wait_timeout 10, as the stock client runs the files.

Printed per way: DDL statements, attempts, seconds per round (median, max), and the writers' errors by code a minute
while the DDL runs, beside the same writers' rate in a window without DDL after each round (the run's baseline).

Run: ``.venv/bin/python bench/ddl_locks_bench.py [--rounds 5] [--writers 6] [--think-ms 2]`` (root on 127.0.0.1).
Its database is ``djbddl_<hex>``, dropped at the end.
"""

from __future__ import annotations

import argparse
import collections
import random
import statistics
import threading
import time
import uuid

import pymysql

V1 = """
CREATE TABLE {v1}.subject (subject_id int NOT NULL, notes varchar(40) NOT NULL DEFAULT '',
  PRIMARY KEY (subject_id)) ENGINE=InnoDB;
CREATE TABLE {v1}.session (subject_id int NOT NULL, session_id int NOT NULL, operator varchar(16) NOT NULL,
  PRIMARY KEY (subject_id, session_id),
  FOREIGN KEY (subject_id) REFERENCES {v1}.subject (subject_id) ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE {v1}.tag (subject_id int NOT NULL, session_id int NOT NULL, tag varchar(8) NOT NULL,
  PRIMARY KEY (subject_id, session_id, tag),
  FOREIGN KEY (subject_id, session_id) REFERENCES {v1}.session (subject_id, session_id)
  ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB
"""
V2 = """
CREATE TABLE {v2}.subject (subject_id int NOT NULL, notes varchar(40) NOT NULL DEFAULT '',
  PRIMARY KEY (subject_id)) ENGINE=InnoDB;
CREATE TABLE {v2}.session (subject_id int NOT NULL, session_id int NOT NULL, operator varchar(16) NOT NULL,
  PRIMARY KEY (subject_id, session_id)) ENGINE=InnoDB;
CREATE TABLE {v2}.tag (subject_id int NOT NULL, session_id int NOT NULL, tag varchar(8) NOT NULL,
  PRIMARY KEY (subject_id, session_id, tag)) ENGINE=InnoDB
"""  # foreign keys come in 60
TABLES = {"subject": ["subject_id", "notes"], "session": ["subject_id", "session_id", "operator"],
          "tag": ["subject_id", "session_id", "tag"]}
KEYS = {"subject": ["subject_id"], "session": ["subject_id", "session_id"], "tag": ["subject_id", "session_id", "tag"]}
FKS = [("session", "fk_session_subject", "subject_id", "subject", "subject_id"),
       ("tag", "fk_tag_session", "subject_id, session_id", "session", "subject_id, session_id")]


def connect(db: str | None = None):
    return pymysql.connect(host="127.0.0.1", user="root", autocommit=True, database=db)


def _dualwrite(v1: str, v2: str, table: str, event: str) -> str:
    cols, keys = TABLES[table], KEYS[table]
    match = " AND ".join(f"{c} = OLD.{c}" for c in keys)
    body = {"INSERT": f"REPLACE INTO {v2}.{table} ({', '.join(cols)}) VALUES ({', '.join('NEW.' + c for c in cols)})",
            "UPDATE": f"UPDATE {v2}.{table} SET {', '.join(f'{c} = NEW.{c}' for c in cols)} WHERE {match}",
            "DELETE": f"DELETE FROM {v2}.{table} WHERE {match}"}[event]
    return (f"CREATE OR REPLACE TRIGGER {v1}.dw_{table}_{event.lower()} AFTER {event} ON {v1}.{table} "
            f"FOR EACH ROW {body}")


def _guard(v1: str, table: str, event: str) -> str:
    # the bench's guard does nothing (the writers must go on for the next round): only its DDL matters here
    return (f"CREATE OR REPLACE TRIGGER {v1}.guard_{table}_{event.lower()} BEFORE {event} ON {v1}.{table} "
            "FOR EACH ROW SET @djsqlgen_bench_guard = 1")


class Writers:
    """``n`` threads of DataJoint-shaped transactions; errors counted by code with the time they came."""

    def __init__(self, v1: str, n: int, think_s: float):
        self.v1, self.n, self.think_s = v1, n, think_s
        self.stop = threading.Event()
        self.errors: list[tuple[float, int]] = []
        self.iterations = 0
        self.threads = [threading.Thread(target=self._run, args=(w,), daemon=True) for w in range(n)]

    def _run(self, w: int) -> None:
        c = connect(self.v1)
        cur = c.cursor()
        rng = random.Random(w)
        sid = 1_000_000 * (w + 1)

        def step(sql: str, args=()) -> None:
            cur.execute(sql, args)
            if self.think_s:
                time.sleep(rng.uniform(0, self.think_s))  # the client's own work between statements

        while not self.stop.is_set():
            sid += 1
            try:
                step("BEGIN")
                step("INSERT INTO subject (subject_id) VALUES (%s)", (sid,))
                step("INSERT INTO session VALUES (%s, 1, 'alice')", (sid,))
                step("INSERT INTO tag VALUES (%s, 1, 'a'), (%s, 1, 'b')", (sid, sid))
                step("COMMIT")
                step("SELECT COUNT(*) FROM subject WHERE subject_id = %s", (sid,))  # update1: check, then update
                step("UPDATE subject SET notes = 'updated' WHERE subject_id = %s", (sid,))
                if sid % 3 == 0:
                    step("UPDATE subject SET subject_id = subject_id + 500000 WHERE subject_id = %s", (sid,))
                    sid_now = sid + 500000
                else:
                    sid_now = sid
                if sid % 2 == 0:  # DataJoint 0.14's cascading delete: the parent first, children on 1451
                    step("BEGIN")
                    try:
                        step("DELETE FROM subject WHERE subject_id = %s", (sid_now,))
                    except pymysql.err.IntegrityError:
                        step("SELECT COUNT(*) FROM session WHERE subject_id = %s", (sid_now,))
                        step("DELETE FROM tag WHERE (subject_id, session_id) IN (SELECT subject_id, session_id "
                             "FROM session WHERE subject_id = %s)", (sid_now,))
                        step("DELETE FROM session WHERE subject_id = %s", (sid_now,))
                        step("DELETE FROM subject WHERE subject_id = %s", (sid_now,))
                    step("COMMIT")
                self.iterations += 1
            except pymysql.MySQLError as exc:
                self.errors.append((time.time(), exc.args[0] if exc.args else 0))
                try:
                    cur.execute("ROLLBACK")
                except pymysql.MySQLError:
                    pass
        c.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()

    def between(self, start: float, end: float) -> collections.Counter:
        return collections.Counter(code for at, code in self.errors if start <= at < end)


GIVE_UP_S = 10.0  # a statement still not through after this long counts as starved


def run_ddl(cur, sql: str, wait_s: int, retry: bool, pauses: tuple[float, float]) -> int:
    """Run ``sql`` with lock_wait_timeout ``wait_s``; a 1205 retried after a pause (first, most; doubling) when
    ``retry``, for at most GIVE_UP_S. Attempts made."""
    cur.execute(f"SET SESSION lock_wait_timeout = {wait_s}")
    attempts, pause, start = 0, pauses[0], time.monotonic()
    while True:
        attempts += 1
        try:
            cur.execute(sql)
            return attempts
        except pymysql.MySQLError as exc:
            if not (retry and exc.args[0] == 1205) or time.monotonic() - start > GIVE_UP_S:
                raise
            time.sleep(random.uniform(pause / 2, pause))
            pause = min(pause * 2, pauses[1])


def ddl_round(cur, v1: str, v2: str, wait_s: int, retry: bool, pauses: tuple[float, float]) -> tuple[int, int, int]:
    """60 then 70 once (and put back what 70 changed); returns (statements, attempts, failures)."""
    statements = attempts = failures = 0
    sql = ["SET SESSION foreign_key_checks = 0"]
    # 60's ADD FOREIGN KEY (foreign_key_checks=0, INPLACE) takes SHARED_UPGRADABLE on the child, then EXCLUSIVE, and
    # nothing on the parent that a writer holds (measured); an in-place comment change takes the same locks without
    # leaving keys behind whose own row locks would blur the count (InnoDB deadlocks of writes checked against v2)
    ddl = [f"ALTER TABLE {v2}.{t} COMMENT = 'round {time.time():.0f}', ALGORITHM=INPLACE, LOCK=NONE"
           for t, *_ in FKS]
    ddl += [_guard(v1, t, e) for t in TABLES for e in ("INSERT", "UPDATE", "DELETE")]
    # 70 drops the dual-write triggers; here each is replaced by itself (the same metadata lock; v2 stays in sync)
    ddl += [_dualwrite(v1, v2, t, e) for t in TABLES for e in ("INSERT", "UPDATE", "DELETE")]
    for s in sql:
        cur.execute(s)
    for s in ddl:
        statements += 1
        try:
            attempts += run_ddl(cur, s, wait_s, retry, pauses)
        except pymysql.MySQLError:
            failures += 1
    # put back (not counted): the dual-write triggers, no guards, no foreign keys
    cur.execute("SET SESSION lock_wait_timeout = 600")
    for t in TABLES:
        for e in ("INSERT", "UPDATE", "DELETE"):
            cur.execute(_dualwrite(v1, v2, t, e))
            cur.execute(f"DROP TRIGGER IF EXISTS {v1}.guard_{t}_{e.lower()}")
    return statements, attempts, failures


WAYS = {"nowait": (0, True, (0.05, 0.2)), "nowait-fast": (0, True, (0.005, 0.02)), "wait1": (1, True, (0.05, 0.2)),
        "wait10": (10, False, (0, 0))}


def _per_minute(errors: collections.Counter, seconds: float) -> str:
    return ", ".join(f"{code}: {n * 60 / seconds:.0f}" for code, n in sorted(errors.items())) or "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writers", type=int, default=6)
    parser.add_argument("--think-ms", type=float, default=2.0, help="client work between statements, at most")
    parser.add_argument("--ways", default=",".join(WAYS))
    args = parser.parse_args()
    db = f"djbddl_{uuid.uuid4().hex[:8]}"
    v1, v2 = f"{db}_v1", f"{db}_v2"
    admin = connect()
    cur = admin.cursor()
    try:
        for schema in (v1, v2):
            cur.execute(f"CREATE DATABASE {schema}")
        for statement in V1.format(v1=v1).split(";"):
            cur.execute(statement)
        for statement in V2.format(v2=v2).split(";"):
            cur.execute(statement)
        for t in TABLES:
            for e in ("INSERT", "UPDATE", "DELETE"):
                cur.execute(_dualwrite(v1, v2, t, e))
        with Writers(v1, args.writers, args.think_ms / 1000) as writers:
            time.sleep(2)
            print(f"{args.writers} writers, think time up to {args.think_ms} ms between statements")
            for way in args.ways.split(","):
                wait_s, retry, pauses = WAYS[way]
                times, during, quiet = [], collections.Counter(), collections.Counter()
                statements = attempts = failures = 0
                quiet_s = 0.0
                for _ in range(args.rounds):
                    t0 = time.time()
                    s, a, f = ddl_round(cur, v1, v2, wait_s, retry, pauses)
                    t1 = time.time()
                    statements, attempts, failures = statements + s, attempts + a, failures + f
                    times.append(t1 - t0)
                    during += writers.between(t0, t1)
                    time.sleep(min(t1 - t0, 20) + 0.5)  # a window without DDL (the put-back settles first)
                    quiet += writers.between(t1 + 0.5, time.time())
                    quiet_s += time.time() - t1 - 0.5
                ddl_s = sum(times)
                print(f"  {way:11} {statements} DDL, {attempts} attempts, {failures} not through (1205 after "
                      f"{GIVE_UP_S:.0f} s of tries, or the wait); round median {statistics.median(times):.1f} s, max "
                      f"{max(times):.1f} s; writers' lock errors a minute: {_per_minute(during, ddl_s)} during DDL "
                      f"({ddl_s:.0f} s), {_per_minute(quiet, quiet_s)} without ({quiet_s:.0f} s)")
            print(f"  writer iterations: {writers.iterations}")
    finally:
        for schema in (v1, v2):
            cur.execute(f"DROP DATABASE IF EXISTS {schema}")
        admin.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
