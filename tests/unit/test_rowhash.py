"""djsqlgen.engines.rowhash: the SQL it builds, input -> expected SQL (the server tests run it)."""

from __future__ import annotations

import pytest

from djsqlgen.engines.rowhash import (
    CHECKSUM_COLUMNS,
    ComparedValue,
    Kind,
    aggregate_sql,
    as_stored,
    chunk_checksum_sql,
    max_encoded_bytes,
    row_hash_sql,
    value_kind,
    value_token_sql,
)

X = "`dst`.`x`"
FLOAT_TOKEN = (
    "IFNULL(IF({d} = 0, '0,', CONCAT(LEAST(FLOOR(LOG2(ABS({d}))), 1023), ':', "
    "CAST({d} / POW(2, LEAST(FLOOR(LOG2(ABS({d}))), 1023)) * 9007199254740992 AS SIGNED), ',')), 'N')"
)


@pytest.mark.parametrize(
    ("v2_type", "kind"),
    [
        ("tinyint", Kind.NUMBER), ("int(10) unsigned", Kind.NUMBER), ("bigint unsigned", Kind.NUMBER),
        ("decimal(8,3)", Kind.NUMBER), ("year", Kind.NUMBER), ("float", Kind.FLOAT), ("double", Kind.FLOAT),
        ("date", Kind.TEMPORAL), ("datetime(6)", Kind.TEMPORAL), ("time", Kind.TEMPORAL),
        ("timestamp(3)", Kind.TIMESTAMP), ("char(8)", Kind.BYTES), ("varchar(64)", Kind.BYTES),
        ("enum('a','b')", Kind.BYTES), ("binary(16)", Kind.BYTES), ("varbinary(8)", Kind.BYTES),
        ("longblob", Kind.DIGEST), ("mediumtext", Kind.DIGEST), ("longtext", Kind.DIGEST), ("json", Kind.DIGEST),
    ],
)
def test_value_kind(v2_type, kind):
    assert value_kind(v2_type) is kind


@pytest.mark.parametrize("v2_type", ["bit(1)", "set('a','b')", "geometry", "point"])
def test_value_kind_refuses_types_datajoint_does_not_declare(v2_type):
    with pytest.raises(ValueError, match="no encoding"):
        value_kind(v2_type)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (ComparedValue(X, "int"), "IFNULL(CONCAT(`dst`.`x`, ','), 'N')"),
        (ComparedValue(X, "decimal(8,3)"), "IFNULL(CONCAT(`dst`.`x`, ','), 'N')"),
        (ComparedValue(X, "int(5) unsigned zerofill"), "IFNULL(CONCAT((`dst`.`x` + 0), ','), 'N')"),
        (ComparedValue(X, "double"), FLOAT_TOKEN.format(d=X)),
        (ComparedValue(X, "float"), FLOAT_TOKEN.format(d="CAST(`dst`.`x` AS DOUBLE)")),
        (ComparedValue(X, "datetime(6)"), "IFNULL(CONCAT(`dst`.`x`, ','), 'N')"),
        (ComparedValue(X, "timestamp"), "IFNULL(CONCAT(UNIX_TIMESTAMP(`dst`.`x`), ','), 'N')"),
        (ComparedValue(X, "varchar(64)", "utf8mb4"),
         "IFNULL(CONCAT(LENGTH(CAST(`dst`.`x` AS BINARY)), ':', CAST(`dst`.`x` AS BINARY)), 'N')"),
        (ComparedValue(X, "binary(16)"),
         "IFNULL(CONCAT(LENGTH(CAST(`dst`.`x` AS BINARY)), ':', CAST(`dst`.`x` AS BINARY)), 'N')"),
        (ComparedValue(X, "longblob"), "IFNULL(SHA2(`dst`.`x`, 256), 'N')"),
        (ComparedValue(X, "json"), "IFNULL(SHA2(`dst`.`x`, 256), 'N')"),
    ],
    ids=["int", "decimal", "zerofill", "double", "float", "datetime", "timestamp", "varchar", "binary",
         "longblob", "json"],
)
def test_value_token(value, expected):
    assert value_token_sql(value) == expected


@pytest.mark.parametrize(
    ("v2_type", "charset", "expected"),
    [
        ("tinyint", None, "CAST(e AS SIGNED)"),
        ("bigint unsigned", None, "CAST(e AS UNSIGNED)"),
        ("decimal(8,3)", None, "CAST(e AS DECIMAL(8,3))"),
        ("decimal", None, "CAST(e AS DECIMAL(10,0))"),
        ("float", None, "CAST(e AS FLOAT)"),
        ("float(30)", None, "CAST(e AS DOUBLE)"),
        ("double", None, "CAST(e AS DOUBLE)"),
        ("date", None, "CAST(e AS DATE)"),
        ("datetime", None, "CAST(e AS DATETIME)"),
        ("datetime(6)", None, "CAST(e AS DATETIME(6))"),
        ("timestamp(3)", None, "CAST(e AS DATETIME(3))"),
        ("time(2)", None, "CAST(e AS TIME(2))"),
        ("binary(16)", None, "CAST(e AS BINARY(16))"),
        ("varbinary(8)", None, "e"),
        ("longblob", None, "e"),
        ("varchar(64)", "utf8mb4", "CONVERT(e USING utf8mb4)"),
        ("longtext", "latin1", "CONVERT(e USING latin1)"),
        ("char(8)", "latin1", "RTRIM(CONVERT(e USING latin1))"),
        ("enum('a','it''s')", "utf8mb4",
         "CONVERT(ELT(FIELD(CONVERT(e USING utf8mb4), 'a', 'it''s'), 'a', 'it''s') USING utf8mb4)"),
        ("json", None, "CONVERT(e USING utf8mb4)"),
    ],
)
def test_as_stored(v2_type, charset, expected):
    assert as_stored("e", v2_type, charset) == expected


def test_as_stored_enum_matches_under_the_v2_collation():
    assert as_stored("e", "enum('a')", "utf8mb4", v2_collation="utf8mb4_bin") == (
        "CONVERT(ELT(FIELD(CONVERT(e USING utf8mb4) COLLATE utf8mb4_bin, 'a'), 'a') USING utf8mb4)"
    )


def test_as_stored_native_json_casts():
    """MySQL's JSON column prints its canonical form; CAST AS JSON gives the v1 side the same form."""
    assert as_stored("e", "json", native_json=True) == "CAST(e AS JSON)"


@pytest.mark.parametrize(
    ("v2_type", "charset", "kwargs", "message"),
    [
        ("varchar(8)", None, {}, "needs its character set"),
        ("varchar(8)", "utf8mb4; DROP", {}, "not a character set"),
        ("enum('a')", "utf8mb4", {"v2_collation": "x y"}, "not a character set or collation"),
        ("float(7,3)", None, {}, "rounds to its scale"),
        ("year", None, {}, "not reproduced"),
        ("bit(3)", None, {}, "not reproduced"),
    ],
)
def test_as_stored_refuses(v2_type, charset, kwargs, message):
    with pytest.raises(ValueError, match=message):
        as_stored("e", v2_type, charset, **kwargs)


def test_row_hash_sql_two_values():
    values = [ComparedValue("`dst`.`id`", "int"), ComparedValue("`dst`.`b`", "longblob")]
    assert row_hash_sql(values) == (
        "SHA2(CONCAT(IFNULL(CONCAT(`dst`.`id`, ','), 'N'), IFNULL(SHA2(`dst`.`b`, 256), 'N')), 256)"
    )


def test_row_hash_sql_needs_a_value():
    with pytest.raises(ValueError, match="no values"):
        row_hash_sql([])


def test_every_token_is_null_safe_and_there_is_no_separator_function():
    values = [ComparedValue(X, t, "utf8mb4") for t in (
        "int", "decimal(5,2)", "float", "double", "date", "timestamp", "varchar(8)", "enum('a')", "binary(16)",
        "longblob", "longtext", "json")]
    sql = row_hash_sql(values)
    assert "CONCAT_WS" not in sql and "CRC32" not in sql
    assert all(value_token_sql(v).startswith("IFNULL(") and value_token_sql(v).endswith(", 'N')") for v in values)


def test_aggregate_sql():
    checksum = aggregate_sql("r.h")
    assert checksum.row_count == "COUNT(*)"
    assert checksum.hash_hi == "COALESCE(SUM(CAST(CONV(SUBSTRING(r.h, 1, 16), 16, 10) AS UNSIGNED)), 0)"
    assert checksum.hash_lo == "COALESCE(SUM(CAST(CONV(SUBSTRING(r.h, 17, 16), 16, 10) AS UNSIGNED)), 0)"
    assert checksum.select_list == f"{checksum.row_count}, {checksum.hash_hi}, {checksum.hash_lo}"


def test_chunk_checksum_sql_hashes_each_row_once():
    sql = chunk_checksum_sql([ComparedValue("`src`.`id`", "int")], "`s`.`t` AS src", "`src`.`id` > 5")
    assert sql == (
        "SELECT COUNT(*), COALESCE(SUM(CAST(CONV(SUBSTRING(r.h, 1, 16), 16, 10) AS UNSIGNED)), 0), "
        "COALESCE(SUM(CAST(CONV(SUBSTRING(r.h, 17, 16), 16, 10) AS UNSIGNED)), 0) "
        "FROM (SELECT CONVERT(LEFT(SHA2(CONCAT(IFNULL(CONCAT(`src`.`id`, ','), 'N')), 256), 32) USING ascii) AS h "
        "FROM `s`.`t` AS src WHERE `src`.`id` > 5 LIMIT 18446744073709551615) AS r"
    )
    assert sql.count("SHA2(") == 1


def test_checksum_columns():
    assert [(c.name, c.sql_type) for c in CHECKSUM_COLUMNS] == [
        ("row_count", "BIGINT UNSIGNED NOT NULL"),
        ("hash_hi", "DECIMAL(42,0) NOT NULL"),
        ("hash_lo", "DECIMAL(42,0) NOT NULL"),
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([ComparedValue(X, "bigint")], 23),
        ([ComparedValue(X, "decimal(8,3)")], 11),
        ([ComparedValue(X, "varchar(64)", "utf8mb4")], 64 * 4 + 6),
        ([ComparedValue(X, "varchar(64)", "latin1")], 64 + 6),
        ([ComparedValue(X, "binary(16)")], 22),
        ([ComparedValue(X, "enum('left','center')", "utf8mb4")], 6 * 4 + 6),
        ([ComparedValue(X, "longblob"), ComparedValue(X, "datetime(6)")], 64 + 27),
    ],
)
def test_max_encoded_bytes(values, expected):
    assert max_encoded_bytes(values) == expected


def test_a_wide_row_stays_far_below_max_allowed_packet():
    """The widest inline row InnoDB allows (65,535 bytes of non-LOB columns) plus many blobs: < 1 MiB."""
    values = [ComparedValue(X, "varchar(16383)", "utf8mb4")] + [ComparedValue(X, "longblob")] * 1000
    assert max_encoded_bytes(values) < 1 << 20


def test_chunk_checksum_sql_into_variables_whole_table():
    sql = chunk_checksum_sql([ComparedValue("t.id", "int")], "`s`.`t` AS t", into=("v_rows", "v_hi", "v_lo"))
    assert sql.startswith("SELECT COUNT(*), ")
    assert " AS UNSIGNED)), 0) INTO v_rows, v_hi, v_lo FROM (SELECT " in sql
    assert sql.endswith(" FROM `s`.`t` AS t LIMIT 18446744073709551615) AS r")


def test_chunk_checksum_sql_into_needs_three_variables():
    with pytest.raises(ValueError, match="needs 3 variables"):
        chunk_checksum_sql([ComparedValue("t.id", "int")], "t", into=("a", "b"))
