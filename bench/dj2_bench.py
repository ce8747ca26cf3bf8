"""Preset dj014-to-dj2 at scale: the backfill of a DataJoint 0.14 table (in-table blobs and blob@store
references) into its 2.x form, against the same transform as one bulk INSERT … SELECT, and against
DataJoint 2.3's own ``datajoint.migrate`` functions on the same data.

    python bench/dj2_bench.py [--rows 1000000] [--repeats 2]

v1 is built on the server by SQL in 0.14's exact layout (a latin1 schema; ``~external_store`` as 0.14
declares it; ``trace`` with a longblob 0.14 blob and a binary(16) ``:blob@store:`` reference, one
external row per two traces). Printed, as medians of interleaved rounds:

(a) ``djsqlgen backfill`` (the command, adaptive chunks) of every v2 table;
(b) the same transform by one INSERT … SELECT per table (the same JSON expression and join): (b)/(a), target >= 0.8;
(c) ``datajoint.migrate``: ``create_parallel_schema(copy_data=True)`` (as shipped, then again with foreign-key
    checks off), ``migrate_columns`` and ``migrate_external`` on the copy, and whether what it wrote is what 2.x
    reads (its external JSON, its charset, its defaults).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import connect, create_own, djsqlgen, drop_own, mark_own, run

from djsqlgen.presets import dj2_sql

V1, CTL, BULK, MIG = "bench_dj2_v1", "bench_dj2_ctl", "bench_dj2_bulk", "bench_dj2_mig"
V2 = V1 + "_v2"
STORE = "store"


def build_v1(db, rows: int) -> None:
    drop_own(db, V1, V2, BULK, CTL, MIG)  # only what a bench made; someone else's database of these names stops it
    create_own(db, V1, "CHARACTER SET latin1 COLLATE latin1_swedish_ci")
    run(db, f"USE `{V1}`")  # MariaDB's seq_1_to_N tables need a current database
    run(db, f"""CREATE TABLE `{V1}`.`~external_{STORE}` (
  `hash` binary(16) NOT NULL COMMENT ':uuid:hash of contents (blob), of filename + contents (attach), or relative filepath (filepath)',
  `size` bigint unsigned NOT NULL COMMENT 'size of object in bytes',
  `attachment_name` varchar(255) DEFAULT NULL COMMENT 'the filename of an attachment',
  `filepath` varchar(1000) DEFAULT NULL COMMENT 'relative filepath or attachment filename',
  `contents_hash` binary(16) DEFAULT NULL COMMENT ':uuid:used for the filepath datatype',
  `timestamp` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'automatic timestamp',
  PRIMARY KEY (`hash`)) ENGINE=InnoDB COMMENT='external storage tracking'""")
    run(db, f"""CREATE TABLE `{V1}`.`session` (
  `session_id` int unsigned NOT NULL, `label` varchar(64) NOT NULL DEFAULT '' COMMENT 'who and where',
  `started` datetime NOT NULL, PRIMARY KEY (`session_id`)) ENGINE=InnoDB""")
    run(db, f"""CREATE TABLE `{V1}`.`__trace` (
  `session_id` int unsigned NOT NULL, `trace_id` int unsigned NOT NULL,
  `gain` double NOT NULL COMMENT 'uV per bit', `note` varchar(64) NOT NULL DEFAULT '',
  `waveform` longblob NOT NULL, `raw` binary(16) NOT NULL COMMENT ':blob@{STORE}:the raw samples',
  PRIMARY KEY (`session_id`, `trace_id`),
  FOREIGN KEY (`session_id`) REFERENCES `session` (`session_id`) ON UPDATE CASCADE ON DELETE RESTRICT,
  FOREIGN KEY (`raw`) REFERENCES `~external_{STORE}` (`hash`) ON UPDATE RESTRICT ON DELETE RESTRICT) ENGINE=InnoDB""")
    sessions = max(1, rows // 1000)
    run(db, f"INSERT INTO `{V1}`.session SELECT seq, CONCAT('rig ', seq % 7, ' Göteborg'), "
            f"'2024-01-01' + INTERVAL seq MINUTE FROM seq_1_to_{sessions}")
    run(db, f"INSERT INTO `{V1}`.`~external_{STORE}` (hash, size) SELECT UNHEX(MD5(CONCAT('raw', seq))), 4000 + seq % 97 "
            f"FROM seq_1_to_{(rows + 1) // 2}")
    # a 0.14 blob: the mYm header, then bytes (the backfill copies them; nothing here decodes them)
    run(db, f"INSERT INTO `{V1}`.`__trace` SELECT 1 + (seq - 1) DIV 1000, seq, seq / 7, CONCAT('t', seq), "
            f"CONCAT(0x6D596D00, REPEAT(UNHEX(MD5(seq)), 12)), UNHEX(MD5(CONCAT('raw', 1 + (seq - 1) DIV 2))) "
            f"FROM seq_1_to_{rows}")


def write_plan(work: Path) -> None:
    djsqlgen("plan", "init", "--preset", "dj014-to-dj2", "--schema", f"{V1}={V2}", "--name", "bench_dj2",
             "-o", "plan.yaml", work=work)
    text = (work / "plan.yaml").read_text().replace("name: bench_dj2\n", f"name: bench_dj2\ncontrol_schema: {CTL}\n", 1)
    (work / "plan.yaml").write_text(text)
    djsqlgen("generate", "plan.yaml", "-o", "out", work=work)


def bulk(db) -> float:
    """The preset's transform of both tables, one INSERT … SELECT each (the JSON from the same dj2_sql)."""
    create_own(db, BULK, "CHARACTER SET utf8mb4")
    for table in ("session", "__trace"):
        run(db, f"CREATE TABLE `{BULK}`.`{table}` LIKE `{V2}`.`{table}`")
    raw = dj2_sql.hash_json("src.raw", dj2_sql.legacy_path("src.raw", V1), V1, STORE, "ext.size")
    started = time.monotonic()
    run(db, f"INSERT INTO `{BULK}`.session SELECT session_id, label, started FROM `{V1}`.session")
    run(db, f"INSERT INTO `{BULK}`.`__trace` SELECT src.session_id, src.trace_id, src.gain, src.note, src.waveform, "
            f"{raw} FROM `{V1}`.`__trace` AS src LEFT JOIN `{V1}`.`~external_{STORE}` AS ext ON ext.hash = src.raw")
    elapsed = time.monotonic() - started
    drop_own(db, BULK)
    return elapsed


def datajoint_migrate(db) -> dict:
    """datajoint.migrate's own path on a copy: what it takes, and what it gets wrong."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import datajoint as dj
        from datajoint import migrate
    dj.config["database.host"] = os.environ.get("DJ_HOST", "127.0.0.1")
    dj.config["database.user"] = os.environ.get("DJ_USER", "root")
    dj.config["database.password"] = os.environ.get("DJ_PASS", "")
    dj.config["safemode"] = False
    out: dict = {}
    drop_own(db, MIG)
    try:
        migrate.create_parallel_schema(V1, MIG, copy_data=True)
        out["copy as shipped"] = "ok"
    except Exception as exc:  # noqa: BLE001  (the bench reports what it does)
        out["copy as shipped"] = f"fails: {str(exc)[:90]}"
    mark_own(db, MIG)  # made just now by datajoint.migrate
    drop_own(db, MIG)
    conn = dj.conn(reset=True)
    conn.query("SET FOREIGN_KEY_CHECKS = 0")
    started = time.monotonic()
    migrate.create_parallel_schema(V1, MIG, copy_data=True, connection=conn)
    out["copy_s"] = time.monotonic() - started
    conn.query("SET FOREIGN_KEY_CHECKS = 1")
    schema = dj.Schema(MIG, connection=conn, create_schema=False, create_tables=False)
    started = time.monotonic()
    try:
        migrate.migrate_columns(schema, dry_run=False)
        migrate.migrate_external(schema, dry_run=False)
        out["convert"] = "ok"
    except Exception as exc:  # noqa: BLE001
        out["convert"] = f"fails: {str(exc)[:90]}"
    out["convert_s"] = time.monotonic() - started
    columns = {r[0]: r[1:] for r in run(db, "SELECT COLUMN_NAME, COLUMN_COMMENT, CHARACTER_SET_NAME, COLUMN_DEFAULT "
                                            f"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{MIG}' AND "
                                            "TABLE_NAME IN ('__trace', 'session')")}
    out["columns"] = columns
    sample = run(db, f"SELECT raw_v2 FROM `{MIG}`.`__trace` LIMIT 1") if "raw_v2" in columns else [("-",)]
    out["sample"] = sample[0][0]
    mark_own(db, MIG)
    drop_own(db, MIG)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    db = connect()
    started = time.monotonic()
    build_v1(db, args.rows)
    print(f"v1: {args.rows:,} traces (a 196-byte 0.14 blob and a blob@{STORE} reference each), "
          f"{(args.rows + 1) // 2:,} external rows, {max(1, args.rows // 1000):,} sessions; built in "
          f"{time.monotonic() - started:.1f} s")
    m: dict[str, list[float]] = {"backfill": [], "bulk": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_plan(work)
        for _ in range(args.repeats):
            djsqlgen("apply", "out/00_preflight.sql", "out/10_expand.sql", "out/20_routines.sql",
                     "out/30_dualwrite.sql", work=work)
            m["bulk"].append(bulk(db))
            m["backfill"].append(djsqlgen("backfill", "plan.yaml", work=work))
            verify = djsqlgen("verify", "plan.yaml", work=work)
            djsqlgen("apply", "out/rollback", work=work)
        mig = datajoint_migrate(db)
    med = {k: statistics.median(v) for k, v in m.items()}
    print(f"(b) bulk INSERT … SELECT of the same transform: {med['bulk']:6.2f} s  "
          f"{args.rows / med['bulk']:,.0f} rows/s")
    print(f"(a) djsqlgen backfill (the command):           {med['backfill']:6.2f} s  "
          f"{args.rows / med['backfill']:,.0f} rows/s   (b)/(a) = {med['bulk'] / med['backfill']:.2f}  (target >= 0.8)")
    print(f"    djsqlgen verify of the last round:         {verify:6.2f} s")
    print(f"(c) datajoint.migrate.create_parallel_schema(copy_data=True) as shipped: {mig['copy as shipped']}")
    print(f"    with foreign-key checks off: copy {mig['copy_s']:.2f} s; migrate_columns + migrate_external: "
          f"{mig['convert']} in {mig['convert_s']:.2f} s")
    for name, (comment, charset, default) in sorted(mig["columns"].items()):
        print(f"      {name:12} comment {comment!r:40} charset {charset!s:8} default {default!s}")
    print(f"      its raw_v2 (2.x reads {{hash: base32, path, schema, store, size}}): {mig['sample']}")
    print(f"    medians of {args.repeats} interleaved rounds; machine load at the end: {os.getloadavg()[0]:.1f}")
    if not args.keep:
        drop_own(db, V1, V2, BULK, CTL, MIG)
    return 0


if __name__ == "__main__":
    sys.exit(main())
