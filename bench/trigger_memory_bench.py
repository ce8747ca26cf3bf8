"""Server memory each open instance of a v1 table holds once djsqlgen's triggers are on it.

MariaDB (and MySQL) parse a table's triggers into every instance of the table they open, and keep up to
table_open_cache instances: a lab server whose writers keep many triggered tables open holds that many parsed copies.
Found when the shared test server was killed for memory (about 21 GB resident) while several migrations ran at once.
This bench opens N instances of each triggered table of SCHEMA at once (N connections, each with LOCK TABLES … READ),
reads Memory_used before and after, and does the same on a copy of the table without triggers (made in a scratch
schema of its own, in the same run) as the baseline. Memory_used is the whole server's: run it on a quiet server
(another client's work in between shows up in a row's figures).

    python bench/trigger_memory_bench.py --schema lab_v1 [--instances 40]

Printed per table: the characters of its triggers, MB per open instance with and without them, bytes per trigger
character; then the worst case the server's table_open_cache allows. Measured on MariaDB 10.11 (rekey_session
example after 30): session 41K characters, 3.56 MB an instance against 0.14 without (about 85 bytes a character).
"""

from __future__ import annotations

import argparse
import uuid

from common import connect, create_own, drop_own, run


def _memory_used(db) -> int:
    return int(run(db, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                       "WHERE VARIABLE_NAME = 'MEMORY_USED'")[0][0])


def _per_instance(schema: str, table: str, instances: int) -> float:
    """Bytes of server memory per open instance of ``schema.table`` (the connection holding it included)."""
    admin = connect()
    run(admin, f"FLUSH TABLES `{schema}`.`{table}`")
    before = _memory_used(admin)
    holders = []
    try:
        for _ in range(instances):
            c = connect()
            run(c, f"LOCK TABLES `{schema}`.`{table}` READ")
            holders.append(c)
        return (_memory_used(admin) - before) / instances
    finally:
        for c in holders:
            c.close()
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schema", required=True, help="a v1 schema with djsqlgen's triggers on its tables")
    parser.add_argument("--instances", type=int, default=40)
    args = parser.parse_args()
    db = connect()
    tables = run(db, "SELECT EVENT_OBJECT_TABLE, SUM(LENGTH(ACTION_STATEMENT)) FROM information_schema.TRIGGERS "
                     f"WHERE EVENT_OBJECT_SCHEMA = '{args.schema}' AND TRIGGER_NAME LIKE 'djsqlgen%' "
                     "GROUP BY EVENT_OBJECT_TABLE ORDER BY 2 DESC")
    if not tables:
        raise SystemExit(f"no djsqlgen triggers on {args.schema}'s tables (apply 30_dualwrite.sql first)")
    scratch = f"djsqlgen_bench_mem_{uuid.uuid4().hex[:8]}"
    create_own(db, scratch)
    try:
        print(f"{'table':40} {'trigger chars':>13} {'MB with':>8} {'MB without':>10} {'bytes/char':>10}")
        worst = 0.0
        for table, chars in tables:
            run(db, f"CREATE TABLE `{scratch}`.`{table}` LIKE `{args.schema}`.`{table}`")
            with_triggers = _per_instance(args.schema, table, args.instances)
            without = _per_instance(scratch, table, args.instances)
            worst = max(worst, with_triggers)
            print(f"{table:40} {int(chars):>13} {with_triggers / 1e6:>8.2f} {without / 1e6:>10.2f} "
                  f"{(with_triggers - without) / int(chars):>10.0f}")
        cache = int(run(db, "SELECT @@table_open_cache")[0][0])
        print(f"table_open_cache = {cache}: at most about {cache * worst / 1e9:.1f} GB of parsed triggers if the "
              "cache fills with instances of the largest")
    finally:
        drop_own(db, scratch)
        db.close()


if __name__ == "__main__":
    main()
