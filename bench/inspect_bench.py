"""Benchmark of ``inspect_schemas``: wall time and round trips at 30 and at 300 DataJoint-shaped tables.

Declares the tables with plain SQL DDL shaped like DataJoint's (tier prefixes, part tables,
`:type:` comment markers, foreign-key chains within and across schemas, a few secondary indexes),
runs ``inspect_schemas`` five times per size, and prints the medians. Targets: under 2 s at 300
tables, and the same number of round trips at both sizes. Every schema it makes starts with
``bench_inspect_`` and is dropped at the end.

Run: ``python bench/inspect_bench.py``. It connects as the command line does without flags:
DJ_HOST, DJ_PORT, DJ_USER, DJ_PASS, else dj_local_conf.json / datajoint.json, else root on localhost.
"""

from __future__ import annotations

import statistics
import sys
import time

from common import create_own, drop_own

from djsqlgen.catalog.heading import inspect_schemas
from djsqlgen.run.db import Database, connect
from djsqlgen.run.settings import resolve_settings

PREFIX = "bench_inspect_"
SCHEMAS_PER_SIZE = 5
REPEATS = 5
TIME_LIMIT_S = 2.0


def q(name: str) -> str:
    """Backtick-quote an identifier (doubling embedded backticks)."""
    return "`" + name.replace("`", "``") + "`"


def _table_specs(schema: str, previous: str | None, block: int) -> list[tuple[str, str]]:
    """Ten tables of one block, in dependency order: (name, body of CREATE TABLE)."""
    b = block
    typ, param = f"#type_{b}", f"#param_{b}"
    subject, session = f"subject_{b}", f"session_{b}"
    recording, channel = f"_recording_{b}", f"_recording_{b}__channel"
    analysis, unit = f"__analysis_{b}", f"__analysis_{b}__unit"
    summary, item = f"__summary_{b}", f"__summary_{b}__item"

    def fk(name: str, cols: str, table: str, ref_cols: str | None = None, schema_name: str = schema) -> str:
        return (
            f"CONSTRAINT {q(name)} FOREIGN KEY ({cols}) REFERENCES {q(schema_name)}.{q(table)} "
            f"({ref_cols or cols}) ON UPDATE CASCADE ON DELETE RESTRICT"
        )

    # In every schema after the first, subjects also point at the previous schema's type lookup
    # through a renamed column (DataJoint's ``-> prev.Type.proj(origin_type='type_name')``).
    cross: list[str] = []
    if previous is not None:
        cross = [
            "`origin_type` varchar(32) NOT NULL COMMENT ':varchar(32):'",
            fk(f"{subject}_ibfk_2", "`origin_type`", typ, "`type_name`", previous),
        ]
    subject_key = ["`subject_id` int NOT NULL COMMENT ':int32:'"]
    session_key = [*subject_key, "`session_idx` smallint NOT NULL COMMENT ':int16:'"]
    analysis_key = [*session_key, "`param_id` smallint NOT NULL COMMENT ':int16:'"]
    specs: list[tuple[str, list[str]]] = [
        (typ, [
            "`type_name` varchar(32) NOT NULL COMMENT ':varchar(32):'",
            "`type_description` varchar(255) NOT NULL DEFAULT '' COMMENT ':varchar(255):'",
            "PRIMARY KEY (`type_name`)",
        ]),
        (param, [
            "`param_id` smallint NOT NULL COMMENT ':int16:'",
            "`threshold` float NOT NULL COMMENT ':float32:spike threshold'",
            "`params` longblob NOT NULL COMMENT ':<blob>:'",
            "PRIMARY KEY (`param_id`)",
        ]),
        (subject, [
            *subject_key,
            "`type_name` varchar(32) NOT NULL COMMENT ':varchar(32):'",
            "`dob` date DEFAULT NULL COMMENT ':date:date of birth'",
            "`subject_uuid` binary(16) NOT NULL COMMENT ':uuid:'",
            *cross,
            "PRIMARY KEY (`subject_id`)",
            "UNIQUE KEY `subject_uuid` (`subject_uuid`)",
            fk(f"{subject}_ibfk_1", "`type_name`", typ),
        ]),
        (session, [
            *session_key,
            "`session_ts` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)",
            "`notes` varchar(1024) NOT NULL DEFAULT '' COMMENT ':varchar(1024):'",
            "PRIMARY KEY (`subject_id`, `session_idx`)",
            "KEY `session_ts` (`session_ts`)",
            fk(f"{session}_ibfk_1", "`subject_id`", subject),
        ]),
        (recording, [
            *session_key,
            "`sampling_rate` double NOT NULL COMMENT ':float64:Hz'",
            "`raw` binary(16) DEFAULT NULL COMMENT ':blob@raw:external raw data'",
            "`data` longblob NOT NULL COMMENT ':<blob@>:'",
            "PRIMARY KEY (`subject_id`, `session_idx`)",
            fk(f"{recording}_ibfk_1", "`subject_id`, `session_idx`", session),
        ]),
        (channel, [
            *session_key,
            "`channel` smallint NOT NULL COMMENT ':int16:'",
            "`trace` longblob NOT NULL COMMENT ':<blob>:'",
            "PRIMARY KEY (`subject_id`, `session_idx`, `channel`)",
            fk(f"{channel}_ibfk_1", "`subject_id`, `session_idx`", recording),
        ]),
        (analysis, [
            *analysis_key,
            "`score` float DEFAULT NULL COMMENT ':float32:'",
            "`result` json DEFAULT NULL COMMENT ':json:'",
            "PRIMARY KEY (`subject_id`, `session_idx`, `param_id`)",
            "KEY `param_id` (`param_id`)",
            fk(f"{analysis}_ibfk_1", "`subject_id`, `session_idx`", recording),
            fk(f"{analysis}_ibfk_2", "`param_id`", param),
        ]),
        (unit, [
            *analysis_key,
            "`unit_id` int NOT NULL COMMENT ':int32:'",
            "`spikes` longblob NOT NULL COMMENT ':<blob>:'",
            "PRIMARY KEY (`subject_id`, `session_idx`, `param_id`, `unit_id`)",
            fk(f"{unit}_ibfk_1", "`subject_id`, `session_idx`, `param_id`", analysis),
        ]),
        (summary, [
            *subject_key,
            "`n_sessions` int NOT NULL COMMENT ':int32:'",
            "`report` longblob DEFAULT NULL COMMENT ':attach:'",
            "PRIMARY KEY (`subject_id`)",
            fk(f"{summary}_ibfk_1", "`subject_id`", subject),
        ]),
        (item, [
            *subject_key,
            "`item` varchar(64) NOT NULL COMMENT ':varchar(64):'",
            "`value` double NOT NULL COMMENT ':float64:'",
            "PRIMARY KEY (`subject_id`, `item`)",
            fk(f"{item}_ibfk_1", "`subject_id`", summary),
        ]),
    ]
    return [(name, ",\n  ".join(lines)) for name, lines in specs]


def declare(db: Database, schemas: list[str], tables_per_schema: int) -> int:
    """Create ``schemas`` with ``tables_per_schema`` tables each; a prefix of each block keeps FKs valid."""
    count = 0
    previous = None
    for schema in schemas:
        create_own(db, schema, "CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        specs: list[tuple[str, str]] = []
        block = 0
        while len(specs) < tables_per_schema:
            specs.extend(_table_specs(schema, previous, block))
            block += 1
        for name, body in specs[:tables_per_schema]:
            db.execute(f"CREATE TABLE {q(schema)}.{q(name)} (\n  {body}\n) ENGINE=InnoDB COMMENT='bench table'")
            count += 1
        previous = schema
    return count


def drop_bench_schemas(db: Database) -> None:
    """Every schema of the bench's prefix, each only if a bench made it (else nothing is dropped)."""
    rows = db.query(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
        [PREFIX.replace("_", "\\_") + "%"],
    )
    drop_own(db, *(row["SCHEMA_NAME"] for row in rows))


def measure(db: Database, schemas: list[str], expected_tables: int) -> tuple[float, int]:
    """Median wall time of REPEATS inspections, and the round trips of one inspection (all equal)."""
    times, trips = [], set()
    for _ in range(REPEATS):
        before = db.round_trips
        start = time.perf_counter()
        catalog = inspect_schemas(db, schemas)
        times.append(time.perf_counter() - start)
        trips.add(db.round_trips - before)
        found = sum(len(s.tables) for s in catalog.schemas)
        if found != expected_tables:
            raise SystemExit(f"inspect found {found} tables, expected {expected_tables}")
    if len(trips) != 1:
        raise SystemExit(f"round trips differ between repeats: {sorted(trips)}")
    return statistics.median(times), trips.pop()


def main() -> int:
    settings = resolve_settings()
    print(f"server: {settings.describe()}")
    with connect(settings) as db:
        version = db.query("SELECT VERSION() AS v")[0]["v"]
        print(f"version: {version}; {REPEATS} runs per size, median")
        drop_bench_schemas(db)
        try:
            results = {}
            for total in (30, 300):
                schemas = [f"{PREFIX}t{total}_s{i}" for i in range(SCHEMAS_PER_SIZE)]
                start = time.perf_counter()
                declared = declare(db, schemas, total // SCHEMAS_PER_SIZE)
                print(f"declared {declared} tables over {len(schemas)} schemas in {time.perf_counter() - start:.1f} s")
                results[total] = measure(db, schemas, declared)
                seconds, trips = results[total]
                print(f"  inspect {total:>3} tables: {seconds * 1000:8.1f} ms  {trips} round trips")
        finally:
            drop_bench_schemas(db)

    (small_s, small_trips), (big_s, big_trips) = results[30], results[300]
    print(f"ratio 300/30: time {big_s / small_s:.2f}x, round trips {big_trips / small_trips:.2f}x")
    time_ok = big_s < TIME_LIMIT_S
    trips_ok = big_trips == small_trips
    print(f"{'PASS' if time_ok else 'FAIL'}: 300 tables in {big_s:.3f} s (target < {TIME_LIMIT_S} s)")
    print(f"{'PASS' if trips_ok else 'FAIL'}: round trips {small_trips} at 30 tables, {big_trips} at 300 (target: equal)")
    return 0 if time_ok and trips_ok else 1


if __name__ == "__main__":
    sys.exit(main())
