"""Preset dj014-to-dj2 on a server shaped like a lab's: inspect, plan init, plan check and generate at 30, 300
and 3,000 tables, and how their time grows (target: seconds, linear or better).

    python bench/dj2_scale_bench.py [--sizes 30,300,3000]

Each size is made of latin1 schemas of ten DataJoint 0.14 tables (a lookup, a manual chain with a part, an
imported table with an in-table blob and a blob@store reference into ``~external_store``, a computed table with
a part, ``~log``, and a foreign key into the previous schema), declared by SQL as 0.14 declares them. Every
schema starts with ``bench_dj2s_`` and is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from common import MARKER, connect, djsqlgen, drop_own, run

PREFIX = "bench_dj2s_"
TABLES_PER_SCHEMA = 10


def schema_ddl(schema: str, previous: str | None) -> list[str]:
    s = f"`{schema}`"
    fk = "ON UPDATE CASCADE ON DELETE RESTRICT"
    cross = (f", `origin` varchar(32) NULL DEFAULT NULL, FOREIGN KEY (`origin`) REFERENCES `{previous}`.`#kind` "
             f"(`kind`) {fk}") if previous else ""
    return [
        f"CREATE DATABASE {s} CHARACTER SET latin1 COLLATE latin1_swedish_ci",
        f"CREATE PROCEDURE {s}.`{MARKER}`() COMMENT 'made by a djsqlgen bench; it drops this database' DO 0",
        (f"CREATE TABLE {s}.`~log` (`timestamp` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, `version` varchar(12) "
        f"NOT NULL COMMENT 'datajoint version', `user` varchar(255) NOT NULL, `host` varchar(255) NOT NULL DEFAULT '', "
        f"`event` varchar(255) NOT NULL DEFAULT '', PRIMARY KEY (`timestamp`)) ENGINE=InnoDB COMMENT='event logging table'"),
        (f"CREATE TABLE {s}.`~external_store` (`hash` binary(16) NOT NULL COMMENT ':uuid:hash', `size` bigint unsigned "
        f"NOT NULL, `attachment_name` varchar(255) DEFAULT NULL, `filepath` varchar(1000) DEFAULT NULL, "
        f"`contents_hash` binary(16) DEFAULT NULL COMMENT ':uuid:', `timestamp` timestamp NOT NULL DEFAULT "
        f"CURRENT_TIMESTAMP, PRIMARY KEY (`hash`)) ENGINE=InnoDB COMMENT='external storage tracking'"),
        (f"CREATE TABLE {s}.`#kind` (`kind` varchar(32) NOT NULL, `description` varchar(255) NOT NULL DEFAULT '', "
        f"PRIMARY KEY (`kind`)) ENGINE=InnoDB"),
        (f"CREATE TABLE {s}.`subject` (`subject_id` int unsigned NOT NULL, `kind` varchar(32) NOT NULL, `name` "
        f"varchar(64) NOT NULL COMMENT 'what people call it', `born` date DEFAULT NULL, `weight` decimal(6,2) DEFAULT "
        f"NULL{cross}, PRIMARY KEY (`subject_id`), FOREIGN KEY (`kind`) REFERENCES `#kind` (`kind`) {fk}) ENGINE=InnoDB"),
        (f"CREATE TABLE {s}.`session` (`subject_id` int unsigned NOT NULL, `session_id` smallint unsigned NOT NULL, "
        f"`started` datetime NOT NULL, `notes` varchar(1024) NOT NULL DEFAULT '', PRIMARY KEY (`subject_id`, "
        f"`session_id`), FOREIGN KEY (`subject_id`) REFERENCES `subject` (`subject_id`) {fk}) ENGINE=InnoDB"),
        (f"CREATE TABLE {s}.`session__trial` (`subject_id` int unsigned NOT NULL, `session_id` smallint unsigned NOT "
        f"NULL, `trial` int unsigned NOT NULL, `outcome` enum('hit','miss') NOT NULL, PRIMARY KEY (`subject_id`, "
        f"`session_id`, `trial`), FOREIGN KEY (`subject_id`, `session_id`) REFERENCES `session` (`subject_id`, "
        f"`session_id`) {fk}) ENGINE=InnoDB"),
        (f"CREATE TABLE {s}.`_recording` (`subject_id` int unsigned NOT NULL, `session_id` smallint unsigned NOT NULL, "
        f"`rate` double NOT NULL COMMENT 'Hz', `waveform` longblob NOT NULL, `raw` binary(16) NOT NULL COMMENT "
        f"':blob@store:', PRIMARY KEY (`subject_id`, `session_id`), FOREIGN KEY (`subject_id`, `session_id`) "
        f"REFERENCES `session` (`subject_id`, `session_id`) {fk}, FOREIGN KEY (`raw`) REFERENCES `~external_store` "
        f"(`hash`) ON UPDATE RESTRICT ON DELETE RESTRICT) ENGINE=InnoDB"),
        (f"CREATE TABLE {s}.`__spikes` (`subject_id` int unsigned NOT NULL, `session_id` smallint unsigned NOT NULL, "
        f"`n_units` int NOT NULL, PRIMARY KEY (`subject_id`, `session_id`), FOREIGN KEY (`subject_id`, `session_id`) "
        f"REFERENCES `_recording` (`subject_id`, `session_id`) {fk}) ENGINE=InnoDB"),
        (f"CREATE TABLE {s}.`__spikes__unit` (`subject_id` int unsigned NOT NULL, `session_id` smallint unsigned NOT "
        f"NULL, `unit` smallint unsigned NOT NULL, `times` longblob NOT NULL, `label` varchar(32) NOT NULL DEFAULT "
        f"'good', PRIMARY KEY (`subject_id`, `session_id`, `unit`), FOREIGN KEY (`subject_id`, `session_id`) "
        f"REFERENCES `__spikes` (`subject_id`, `session_id`) {fk}) ENGINE=InnoDB"),
    ]


def build(db, schemas: list[str]) -> None:
    for i, schema in enumerate(schemas):
        for statement in schema_ddl(schema, schemas[i - 1] if i else None):
            run(db, statement)


def drop(db) -> None:
    """Every schema of the bench's prefix, each only if the bench made it (else nothing is dropped)."""
    like = PREFIX.replace("_", "\\_")
    drop_own(db, *(name for (name,) in run(db, f"SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME "
                                               f"LIKE '{like}%' ORDER BY SCHEMA_NAME DESC")))


def measure(tables: int, work: Path, db) -> dict[str, float]:
    count = max(1, tables // TABLES_PER_SCHEMA)
    schemas = [f"{PREFIX}{tables}_{i:04d}" for i in range(count)]
    started = time.monotonic()
    build(db, schemas)
    built = time.monotonic() - started
    times = {"inspect": djsqlgen("inspect", *schemas, "-o", "heading.json", work=work)}
    pairs = [a for s in schemas for a in ("--schema", f"{s}={s}_v2")]
    times["plan init"] = djsqlgen("plan", "init", "--preset", "dj014-to-dj2", *pairs, "--name", f"scale{tables}",
                                  "--heading", "heading.json", "-o", "plan.yaml", work=work)
    times["plan check"] = djsqlgen("plan", "check", "plan.yaml", "--heading", "heading.json", work=work)
    times["generate"] = djsqlgen("generate", "plan.yaml", "--heading", "heading.json", "-o", "out", work=work)
    size = sum(p.stat().st_size for p in (work / "out").rglob("*.sql"))
    print(f"{tables:>6,} tables ({count} schemas, built in {built:.0f} s): "
          + "  ".join(f"{k} {v:6.2f} s" for k, v in times.items()) + f"   files {size / 1e6:.1f} MB", flush=True)
    drop(db)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="30,300,3000")
    args = parser.parse_args()
    db = connect()
    drop(db)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for tables in (int(s) for s in args.sizes.split(",")):
            work = Path(tmp) / str(tables)
            work.mkdir()
            results[tables] = measure(tables, work, db)
    sizes = sorted(results)
    for small, large in itertools.pairwise(sizes):
        factor = large / small
        growth = "  ".join(f"{k} x{results[large][k] / results[small][k]:.1f}" for k in results[small])
        print(f"{small:,} -> {large:,} tables (x{factor:.0f}): {growth}   (linear: x{factor:.0f})")
    print(f"each time is one run of the command, its Python start included; machine load: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
