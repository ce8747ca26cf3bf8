"""Cost of verify's row hash against a bulk copy: what one side of a verify costs, and what the choices cost.

Builds a table of N rows (default 300,000) with a ~1 KB random blob, ints, two varchars (utf8mb4,
latin1) and two floats in a fresh schema ``djtrhbench<hex>`` (dropped at the end), then times, in
interleaved rounds (median of --rounds):

  (a) one bulk ``INSERT ... SELECT`` of the table into an empty copy (the backfill's lower bound);
  (b) today's verify formula, ``BIT_XOR(CRC32(CONCAT_WS('#', ..., CONCAT(ISNULL(...)))))``;
  (c) the new checksum (djsqlgen.engines.rowhash.chunk_checksum_sql) over the whole table, over
      100 key-range chunks, and on the v1 side with every value passed through ``as_stored``;
  (d) alternatives: 64-bit aggregate, 128-bit without the derived table, MD5 / SHA1 instead of SHA2,
      CRC32+CRC32C for the blob (MariaDB only), every value hashed on its own, length-prefixed
      concatenation including the blob (unsafe near max_allowed_packet), floats printed as text,
      CRC-only 64-bit row hash (MariaDB only), BIT_XOR instead of SUM; and a bare scan (COUNT of a
      column no index covers) as the floor.

Prints seconds, rows/s and the ratio to (a). Run: ``.venv/bin/python bench/verify_hash_bench.py``
(``--dsn mysql://root@127.0.0.1:3306``, ``--rows``, ``--rounds``, ``--blob-bytes``). Not collected by
pytest (bench/ is outside testpaths).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from djsqlgen.engines.rowhash import ComparedValue, aggregate_sql, as_stored, chunk_checksum_sql, row_hash_sql
from djsqlgen.run.db import Database, connect
from djsqlgen.run.settings import ConnectionSettings

# (column, v2 type, charset): the bench table, in hashing order.
COLUMNS = (
    ("id", "int unsigned", None),
    ("subject", "int", None),
    ("session", "smallint", None),
    ("name", "varchar(64)", "utf8mb4"),
    ("label", "varchar(32)", "latin1"),
    ("x", "float", None),
    ("y", "double", None),
    ("data", "longblob", None),
)
DDL = """CREATE TABLE {table} (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  subject INT NOT NULL,
  session SMALLINT NOT NULL,
  name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL,
  label VARCHAR(32) CHARACTER SET latin1 NULL,
  x FLOAT NULL,
  y DOUBLE NOT NULL,
  data LONGBLOB NOT NULL
) ENGINE=InnoDB"""


@dataclass(frozen=True)
class Variant:
    label: str
    group: str  # a, b, c, d
    sql: str
    before: str | None = None  # untimed statement run first (the copy's TRUNCATE)
    after: str | None = None  # untimed statement run afterwards
    chunks: int = 1  # the statement is run once per key range, {lo} and {hi} filled in


def _values(alias: str, stored: bool = True) -> list[ComparedValue]:
    out = []
    for name, sql_type, charset in COLUMNS:
        column = f"{alias}.`{name}`"
        out.append(ComparedValue(column if stored else as_stored(column, sql_type, charset), sql_type, charset))
    return out


def _token_alternative(v: ComparedValue, *, digest: str = "SHA2({}, 256)", float_text: bool = False,
                       inline_blob: bool = False, digest_all: bool = False) -> str:
    """One value's token under an alternative encoding (the chosen one is rowhash.value_token_sql)."""
    from djsqlgen.engines.rowhash import Kind, value_token_sql

    if digest_all:
        return f"IFNULL({digest.format(v.sql)}, 'N')"
    if v.kind is Kind.DIGEST:
        if inline_blob:
            return f"IFNULL(CONCAT(LENGTH({v.sql}), ':', {v.sql}), 'N')"
        return f"IFNULL({digest.format(v.sql)}, 'N')"
    if v.kind is Kind.FLOAT and float_text:
        return f"IFNULL(CONCAT(CAST({v.sql} AS DOUBLE), ','), 'N')"
    return value_token_sql(v)


def _alt_row(values, outer: str = "SHA2({}, 256)", **kwargs) -> str:
    tokens = ", ".join(_token_alternative(v, **kwargs) for v in values)
    return outer.format(f"CONCAT({tokens})")


def _materialised(row_hash: str, table: str, aggregate: str = "SUM") -> str:
    checksum = aggregate_sql("r.h")
    hi, lo = (s.replace("SUM(", f"{aggregate}(") for s in (checksum.hash_hi, checksum.hash_lo))
    return (f"SELECT COUNT(*), {hi}, {lo} FROM (SELECT CONVERT(LEFT({row_hash}, 32) USING ascii) AS h "
            f"FROM {table} LIMIT 18446744073709551615) AS r")


def _old_row_crc(columns: list[str]) -> str:
    """The verify formula djsqlgen used before the SHA-256 row hash (kept here as the baseline it replaced)."""
    nulls = ", ".join(f"ISNULL({c})" for c in columns)
    return f"CRC32(CONCAT_WS('#', {', '.join(columns)}, CONCAT({nulls})))"


def variants(schema: str, rows: int, mariadb: bool) -> list[Variant]:
    src, copy = f"`{schema}`.`t`", f"`{schema}`.`t_copy`"
    table = f"{src} AS src"
    values = _values("src")
    new_row = row_hash_sql(values)
    old_crc = _old_row_crc([f"src.`{name}`" for name, _, _ in COLUMNS])
    out = [
        Variant("(a) bulk INSERT ... SELECT copy", "a", f"INSERT INTO {copy} SELECT * FROM {src}",
                before=f"TRUNCATE TABLE {copy}", after=f"TRUNCATE TABLE {copy}"),
        Variant("(b) old: BIT_XOR(CRC32(CONCAT_WS))", "b",
                f"SELECT COUNT(*), COALESCE(BIT_XOR({old_crc}), 0) FROM {table}"),
        Variant("(c) new: SHA2 row, SHA2 blob, 2x64-bit SUM", "c", chunk_checksum_sql(values, table, "1")),
        Variant("(c) new, in 100 key-range chunks", "c",
                chunk_checksum_sql(values, table, "src.`id` > {lo} AND src.`id` <= {hi}"), chunks=100),
        Variant("(c) new, v1 side: every value through as_stored", "c",
                chunk_checksum_sql(_values("src", stored=False), table, "1")),
        Variant("(d) scan floor: COUNT(y)", "d", f"SELECT COUNT(src.y) FROM {table}"),
        Variant("(d) new row hash, one 64-bit SUM, no derived table", "d",
                f"SELECT COUNT(*), COALESCE(SUM(CAST(CONV(SUBSTRING({new_row}, 1, 16), 16, 10) AS UNSIGNED)), 0) "
                f"FROM {table}"),
        Variant("(d) new row hash, 2x64-bit SUM, hash computed twice", "d",
                f"SELECT {aggregate_sql(new_row).select_list} FROM {table}"),
        Variant("(d) 2x64 BIT_XOR instead of SUM (pairs cancel for duplicates)", "d",
                _materialised(new_row, table, "BIT_XOR")),
        Variant("(d) MD5 row, MD5 blob", "d", _materialised(_alt_row(values, "MD5({})", digest="MD5({})"), table)),
        Variant("(d) SHA1 row, SHA1 blob", "d", _materialised(_alt_row(values, "SHA1({})", digest="SHA1({})"), table)),
        Variant("(d) every value hashed on its own (SHA2), then SHA2", "d",
                _materialised(_alt_row(values, digest_all=True), table)),
        Variant("(d) length-prefixed blob inline (NULL near max_allowed_packet)", "d",
                _materialised(_alt_row(values, inline_blob=True), table)),
        Variant("(d) floats as text (CAST AS DOUBLE) instead of exact e:M", "d",
                _materialised(_alt_row(values, float_text=True), table)),
    ]
    if mariadb:  # CRC32C and CRC32(seed, x): MariaDB 10.8+, absent from MySQL 8
        crc_blob = "IFNULL(CONCAT(CRC32(src.`data`), ':', CRC32C(src.`data`), ','), 'N')"
        tokens = [_token_alternative(v) for v in values[:-1]] + [crc_blob]
        enc = f"CONCAT({', '.join(tokens)})"
        out += [
            Variant("(d) SHA2 row, CRC32+CRC32C blob [MariaDB]", "d", _materialised(f"SHA2({enc}, 256)", table)),
            Variant("(d) CRC-only 64-bit row: CRC32<<32|CRC32C, SUM [MariaDB; linear]", "d",
                    f"SELECT COUNT(*), COALESCE(SUM((CRC32({enc}) << 32) | CRC32C({enc})), 0) FROM {table}"),
        ]
    return out


def _settings(dsn: str) -> ConnectionSettings:
    url = urlparse(dsn)
    return ConnectionSettings(host=url.hostname or "127.0.0.1", port=url.port or 3306,
                              user=unquote(url.username or "root"), password=unquote(url.password or ""))


def build(db: Database, schema: str, rows: int, mariadb: bool, blob_bytes: int) -> None:
    db.execute(f"CREATE DATABASE `{schema}`")
    db.execute(DDL.format(table=f"`{schema}`.`t`"))
    db.execute(DDL.format(table=f"`{schema}`.`t_copy`"))
    if mariadb:
        numbers = f"SELECT seq AS n FROM `{schema}`.seq_1_to_{rows}"
    else:  # MySQL has no sequence engine; a recursive CTE needs its depth raised
        db.execute(f"SET SESSION cte_max_recursion_depth = {rows + 1}")
        numbers = f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {rows}) SELECT n FROM s"
    db.execute(
        f"INSERT INTO `{schema}`.`t` SELECT n, n % 1000, n % 20, CONCAT('subject_', n, '_é'), "
        f"IF(n % 10 = 0, NULL, CONCAT('lbl', n % 97, 'ä')), RAND(n) * 1000, RAND(n + 1) * 1e6, RANDOM_BYTES({blob_bytes}) "
        f"FROM ({numbers}) AS numbers"
    )
    db.execute(f"ANALYZE TABLE `{schema}`.`t`")


def run(db: Database, variant: Variant, rows: int) -> float:
    if variant.before:
        db.execute(variant.before)
    start = time.perf_counter()
    if variant.chunks == 1:
        db.execute(variant.sql)
    else:
        step = -(-rows // variant.chunks)
        for lo in range(0, rows, step):
            db.query(variant.sql.format(lo=lo, hi=lo + step))
    elapsed = time.perf_counter() - start
    if variant.after:
        db.execute(variant.after)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=os.environ.get("DJSQLGEN_TEST_DSN", "mysql://root@127.0.0.1:3306"))
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--blob-bytes", type=int, default=1024, help="size of each row's random blob (max 1024)")
    args = parser.parse_args()
    db = connect(_settings(args.dsn))
    info = db.query("SELECT VERSION() AS v, @@innodb_buffer_pool_size AS bp, @@max_allowed_packet AS map")[0]
    mariadb = "mariadb" in info["v"].lower()
    schema = f"djtrhbench{uuid.uuid4().hex[:8]}"
    print(f"server {info['v']}, buffer pool {int(info['bp']) >> 20} MiB, max_allowed_packet "
          f"{int(info['map']) >> 20} MiB, {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    try:
        start = time.perf_counter()
        build(db, schema, args.rows, mariadb, args.blob_bytes)
        size = db.query(f"SELECT data_length + index_length AS b FROM information_schema.TABLES "
                        f"WHERE table_schema = '{schema}' AND table_name = 't'")[0]["b"]
        print(f"built {args.rows:,} rows with {args.blob_bytes}-byte blobs in {time.perf_counter() - start:.1f} s "
              f"({schema}, {int(size) >> 20} MiB)")
        todo = variants(schema, args.rows, mariadb)
        times: dict[str, list[float]] = {v.label: [] for v in todo}
        results: dict[str, object] = {}
        copy_variant, reads = todo[0], todo[1:]
        db.query(f"SELECT COUNT(y) FROM `{schema}`.`t`")  # warm the buffer pool once, untimed
        for round_no in range(1, args.rounds + 1):
            # Interleaved: every variant once per round, so drifting load hits all alike; the reads in
            # a rotated order (no variant always first), the copy last. The copy's table is emptied
            # right after it (untimed): its dirty pages would otherwise fill the buffer pool, which
            # this server flushes lazily, and every read after it would pay for writing them back.
            shift = (round_no - 1) % len(reads)
            for v in reads[shift:] + reads[:shift]:
                times[v.label].append(run(db, v, args.rows))
            times[copy_variant.label].append(run(db, copy_variant, args.rows))
            print(f"round {round_no} done, load average {os.getloadavg()}", file=sys.stderr)
        for v in todo:
            if v.group in "bc" and v.chunks == 1:
                results[v.label] = db.query(v.sql)[0]
        copy = statistics.median(times[todo[0].label])
        print(f"\n{'variant':<70} {'median s':>9} {'rows/s':>11} {'x copy':>7}   all rounds")
        for v in todo:
            median = statistics.median(times[v.label])
            rounds = " ".join(f"{t:.2f}" for t in times[v.label])
            print(f"{v.label:<70} {median:9.2f} {args.rows / median:11,.0f} {median / copy:7.2f}   {rounds}")
        print("\nchecksums:", *(f"{k}: {list(r.values())}" for k, r in results.items()), sep="\n  ")
        print(f"\nload average at the end {os.getloadavg()} (shared machine: other jobs run at the same time)")
    finally:
        db.execute(f"DROP DATABASE IF EXISTS `{schema}`")
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
