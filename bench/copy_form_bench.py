"""What a chunked copy costs beside one bulk INSERT…SELECT, form by form (issue 25, narrow rows).

One v1 table (``--rows`` narrow rows by default, ``--wide`` for 1 KB rows) in schema ``bench_cf_v1``; each form
copies all of it into an empty ``LIKE`` copy, in the same round as the bulk copy it is compared to, ``--rounds``
interleaved rounds, medians printed as bulk seconds / form seconds (1.0 is as fast as bulk):

- ``bulk``: one ``INSERT … SELECT *`` (autocommit);
- ``bulk_nonempty``: the same into a table that already holds one row (MariaDB's bulk load of an empty table, one
  undo record for the whole statement, does not apply);
- ``chunks``: ``--chunk`` rows a transaction, ``ORDER BY key LIMIT n`` after the last key, shared locks,
  ON DUPLICATE KEY: the backfill's copy without its key capture;
- ``chunks_capture``: the same, each row's key kept in a session variable (the backfill's copy as generated);
- ``chunks_prepared``: chunks_capture prepared once, the limit a parameter;
- ``key_only``: chunks_prepared keeping each row's key but not counting the rows (the table's end is a chunk that
  reads none);
- ``last_key``: chunks_prepared counting the rows but keeping the key of the chunk's last row alone (measured with
  5 rounds on a loaded machine: the server's CPU against bulk 0.91, as chunks_prepared's 0.91; on a 200,000-row
  composite key, read only, the per-row capture of both key columns cost 0.024 s against 0.017 s for last_key:
  about 0.5 % of the copy, so the backfill keeps each row's key);
- ``no_upsert``, ``no_share_lock``: chunks_prepared without ON DUPLICATE KEY, without the shared locks (what each
  costs; the backfill needs both).

Run: ``.venv/bin/python bench/copy_form_bench.py [--rows 1000000] [--chunk 100000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from common import ServerCpu, connect, run

V1, COPY = "bench_cf_v1", "bench_cf_copy"
NARROW = ("id int NOT NULL, a int NOT NULL, b smallint NOT NULL, PRIMARY KEY (id)", "seq, seq DIV 3, seq % 1000")
BLOB = "CONCAT(" + ", ".join(f"UNHEX(SHA2(CONCAT(seq, '-{i}'), 512))" for i in range(16)) + ")"
WIDE = ("id int NOT NULL, a int NOT NULL, data longblob NOT NULL, PRIMARY KEY (id)", f"seq, seq DIV 3, {BLOB}")


def fresh(db) -> None:
    run(db, f"DROP DATABASE IF EXISTS {COPY}")
    run(db, f"CREATE DATABASE {COPY}")
    run(db, f"CREATE TABLE {COPY}.t LIKE {V1}.t")


def timed(db, statements) -> float:
    started = time.monotonic()
    for sql in statements:
        run(db, sql)
    return time.monotonic() - started


def chunked(db, chunk: int, capture: bool, prepared: bool, upsert: bool = True, share: bool = True,
            count: bool = True, last_only: bool = False) -> float:
    keep = ("AND (@hi := id) IS NOT NULL" + (" AND (@n := @n + 1) > 0" if count else "")) if capture else ""
    if last_only:  # the rows counted, the key kept of the chunk's last row alone
        keep = "AND IF((@n := @n + 1) < @limit, TRUE, (@hi := id) IS NOT NULL)"  # (@n read again: stale)
    copy = (f"INSERT INTO {COPY}.t SELECT STRAIGHT_JOIN * FROM {V1}.t FORCE INDEX (PRIMARY) WHERE id > @lo {keep} "
            f"ORDER BY id LIMIT {{limit}}" + (" LOCK IN SHARE MODE" if share else "")
            + (f" ON DUPLICATE KEY UPDATE {COPY}.t.id = {COPY}.t.id" if upsert else ""))
    started = time.monotonic()
    run(db, "SET @lo = -1, @limit = %d" % chunk)
    if prepared:
        run(db, "SET @copy = %s" % db.escape(copy.format(limit="?")))
        run(db, "PREPARE copy_chunk FROM @copy")
    while True:
        run(db, "SET @n = 0, @hi = NULL")
        run(db, "START TRANSACTION")
        if prepared:
            run(db, "EXECUTE copy_chunk USING @limit")
        else:
            run(db, copy.format(limit=chunk))
        if capture and not count:  # the end: a chunk that reads no row
            hi = run(db, "SELECT @hi")[0][0]
            n = 0 if hi is None else chunk
        elif capture:
            n, hi = run(db, "SELECT @n, @hi")[0]
        else:
            n, hi = run(db, f"SELECT COUNT(*), MAX(id) FROM (SELECT id FROM {COPY}.t WHERE id > @lo ORDER BY id "
                            f"LIMIT {chunk}) AS c")[0]
        run(db, "COMMIT")
        if not n or (n < chunk and count):
            break
        run(db, f"SET @lo = {int(hi)}")
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--wide", action="store_true")
    parser.add_argument("--forms", help="comma-separated: only these forms")
    args = parser.parse_args()
    db = connect()
    columns, values = WIDE if args.wide else NARROW
    run(db, f"DROP DATABASE IF EXISTS {V1}")
    run(db, f"CREATE DATABASE {V1}")
    run(db, f"USE {V1}")
    run(db, f"CREATE TABLE {V1}.t ({columns}) ENGINE=InnoDB")
    for start in range(0, args.rows, 100_000):
        run(db, f"INSERT INTO {V1}.t SELECT {values} FROM seq_{start + 1}_to_{min(start + 100_000, args.rows)}")
    forms = {
        "bulk_nonempty": lambda: timed(db, [f"INSERT INTO {COPY}.t SELECT * FROM {V1}.t WHERE id = 1",
                                            f"INSERT INTO {COPY}.t SELECT * FROM {V1}.t WHERE id > 1"]),
        "chunks": lambda: chunked(db, args.chunk, False, False),
        "chunks_capture": lambda: chunked(db, args.chunk, True, False),
        "chunks_prepared": lambda: chunked(db, args.chunk, True, True),
        "key_only": lambda: chunked(db, args.chunk, True, True, count=False),
        "last_key": lambda: chunked(db, args.chunk, True, True, last_only=True),
        "no_upsert": lambda: chunked(db, args.chunk, True, True, upsert=False),
        "no_share_lock": lambda: chunked(db, args.chunk, True, True, share=False),
    }
    if args.forms:
        forms = {name: forms[name] for name in args.forms.split(",")}
    ratios: dict[str, list[float]] = {name: [] for name in forms}
    cpu_ratios: dict[str, list[float]] = {name: [] for name in forms}
    bulks = []
    for i in range(args.rounds):
        for name, form in forms.items():
            fresh(db)
            with ServerCpu() as bulk_cpu:
                bulk = timed(db, [f"INSERT INTO {COPY}.t SELECT * FROM {V1}.t"])
            bulks.append(bulk)
            fresh(db)
            with ServerCpu() as form_cpu:
                ratios[name].append(bulk / form())
            if bulk_cpu.seconds and form_cpu.seconds:
                cpu_ratios[name].append(bulk_cpu.seconds / form_cpu.seconds)
        print(f"round {i + 1}: " + "  ".join(f"{n} {r[-1]:.2f}" for n, r in ratios.items()), flush=True)
    print(f"{args.rows:,} {'wide' if args.wide else 'narrow'} rows, chunks of {args.chunk:,}, bulk "
          f"{statistics.median(bulks):.2f} s; against bulk: "
          + ", ".join(f"{n} {statistics.median(r):.2f}" for n, r in ratios.items()))
    if all(cpu_ratios.values()):
        print("the server's CPU time, bulk's against each: "
              + ", ".join(f"{n} {statistics.median(r):.2f}" for n, r in cpu_ratios.items()))
    run(db, f"DROP DATABASE IF EXISTS {COPY}")
    run(db, f"DROP DATABASE IF EXISTS {V1}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
