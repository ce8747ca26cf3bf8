"""What the cut-over flag's read costs a v1 write: v1's row of the control table ``sides`` read by every v1 trigger
with a shared lock (engines/sides.py, ``LOCK IN SHARE MODE``) against the consistent read of the first design.

A scratch schema holds a copy of ``sides`` and a table with an AFTER UPDATE trigger whose body is the refusal block
alone (the read, then IF closed SIGNAL), in the two forms, and a copy without a trigger. One connection runs single-
row UPDATEs: autocommit (each write a transaction: the lock is taken once per write), and transactions of 10
(taken once, then asked again by a transaction that holds it), then N writers at once. Rounds alternate the forms;
the medians of each round's mean are printed, in microseconds per write (wall, and the server thread's CPU).

    python bench/sides_read_bench.py [--writes 2000] [--rounds 5]

Measured on MariaDB 10.11 (the shared test server, 2 cores; 3,000 writes, 7 rounds): the server thread's CPU time a
write, no trigger / consistent read / locking read, 140 / 197 / 200 us autocommit and 80 / 140 / 143 us in
transactions of 10: the lock adds about 3 us (1.5 %); wall times differ by less than their noise (-15 to +41 us).
Six writers at once (all locking the one sides row shared), writes in 2 s: consistent 4,475 / locking 4,255 in one
run, 7,244 / 8,840 in the next (a loaded machine): no difference above the noise.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from common import ServerCpu, connect, create_own, drop_own, run

SCHEMA = "djsqlgen_bench_sides"
READ = ("SELECT COALESCE(MIN(is_open), 1), COALESCE(DATE_FORMAT(MIN(closed_at), '%Y-%m-%d %H:%i'), '') "
        "INTO v_open, v_since FROM `{s}`.sides WHERE side = 'v1'{lock}")


def _trigger(db, table: str, lock: str) -> None:
    run(db, f"DROP TRIGGER IF EXISTS `{SCHEMA}`.`{table}_upd`")
    run(db, f"CREATE TRIGGER `{SCHEMA}`.`{table}_upd` AFTER UPDATE ON `{SCHEMA}`.`{table}` FOR EACH ROW BEGIN "
            "DECLARE v_open TINYINT DEFAULT 1; DECLARE v_since VARCHAR(20) DEFAULT ''; "
            f"{READ.format(s=SCHEMA, lock=lock)}; "
            "IF v_open = 0 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'closed'; END IF; END")


def _round(db, table: str, writes: int, per_transaction: int) -> tuple[float, float | None]:
    """Microseconds per single-row UPDATE of ``table``: wall time, and the server thread's CPU time (steadier on a
    shared machine; None when the server is not on this one)."""
    started = time.perf_counter()
    with ServerCpu() as cpu, db.cursor() as cur:
        for i in range(writes):
            if per_transaction > 1 and i % per_transaction == 0:
                cur.execute("BEGIN")
            cur.execute(f"UPDATE `{SCHEMA}`.`{table}` SET n = n + 1 WHERE id = {i % 100}")
            if per_transaction > 1 and i % per_transaction == per_transaction - 1:
                cur.execute("COMMIT")
    wall = (time.perf_counter() - started) / writes * 1e6
    return wall, (cpu.seconds / writes * 1e6 if cpu.seconds is not None else None)


def _together(table: str, threads: int, seconds: float) -> int:
    """Writes done in ``seconds`` by ``threads`` connections at once, each on rows of its own, autocommit: all of
    them take the shared lock on the same sides row."""
    done = [0] * threads
    stop = time.monotonic() + seconds

    def write(k: int) -> None:
        own = connect()
        with own.cursor() as cur:
            while time.monotonic() < stop:
                cur.execute(f"UPDATE `{SCHEMA}`.`{table}` SET n = n + 1 WHERE id = {k * 10 + done[k] % 10}")
                done[k] += 1
        own.close()

    workers = [threading.Thread(target=write, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=6, help="writers at once, in the last part")
    args = parser.parse_args()
    db = connect()
    create_own(db, SCHEMA)
    try:
        run(db, f"CREATE TABLE `{SCHEMA}`.sides (side CHAR(2) CHARACTER SET ascii NOT NULL, is_open TINYINT NOT NULL "
                "DEFAULT 1, closed_at DATETIME(6) NULL, PRIMARY KEY (side)) ENGINE=InnoDB")
        run(db, f"INSERT INTO `{SCHEMA}`.sides (side) VALUES ('v1'), ('v2')")
        forms = {"no trigger": None, "consistent read": "", "locking read": " LOCK IN SHARE MODE"}
        for name, lock in forms.items():
            table = name.replace(" ", "_")
            run(db, f"CREATE TABLE `{SCHEMA}`.`{table}` (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB")
            run(db, f"INSERT INTO `{SCHEMA}`.`{table}` SELECT seq, 0 FROM `{SCHEMA}`.seq_0_to_99")
            if lock is not None:
                _trigger(db, table, lock)
        for per_transaction in (1, 10):
            means: dict[str, list[tuple[float, float | None]]] = {name: [] for name in forms}
            for _ in range(args.rounds):
                for name in forms:
                    means[name].append(_round(db, name.replace(" ", "_"), args.writes, per_transaction))
            label = "autocommit" if per_transaction == 1 else f"{per_transaction} writes a transaction"
            for i, kind in enumerate(("wall", "server CPU")):
                if any(m[i] is None for ms in means.values() for m in ms):
                    continue
                median = {name: statistics.median(m[i] for m in ms) for name, ms in means.items()}
                print(f"{label}, {kind}: " + "; ".join(f"{name} {v:.0f} us" for name, v in median.items())
                      + f" (locking minus consistent {median['locking read'] - median['consistent read']:+.0f} us)")
        counts: dict[str, list[int]] = {name: [] for name in forms}
        for _ in range(args.rounds):
            for name in forms:
                counts[name].append(_together(name.replace(" ", "_"), args.threads, 2.0))
        print(f"{args.threads} writers at once, writes in 2 s (median of {args.rounds}): "
              + "; ".join(f"{name} {statistics.median(c):.0f}" for name, c in counts.items()))
    finally:
        drop_own(db, SCHEMA)


if __name__ == "__main__":
    main()
