"""The new row checksum on the real server: every construction that fools today's formula is caught.

Each test builds a "v1" and a "v2" table in the test's own schema, runs both checksums over the whole
table as one chunk, and asserts what each reports. The former formula (``_old_row_crc`` folded with
``BIT_XOR``, as sql_templates/verify_table_proc_create.sql.j2 runs it) is the baseline: where the test
says it is fooled, it must be fooled, so the test shows the failure class and not just the new code.
"""

from __future__ import annotations

import math
import random
import struct
from dataclasses import dataclass

import pytest

from djsqlgen.engines.rowhash import (
    CHECKSUM_COLUMNS,
    ComparedValue,
    as_stored,
    chunk_checksum_sql,
    row_hash_sql,
    value_token_sql,
)


def _old_row_crc(values: list[str]) -> str:
    """The row checksum verify used before (CRC32 of CONCAT_WS('#', …) with a NULL bitmap): the baseline that
    each construction below fools."""
    nulls = ", ".join(f"ISNULL({v})" for v in values)
    return f"CRC32(CONCAT_WS('#', {', '.join(values)}, CONCAT({nulls})))"


@dataclass(frozen=True)
class Column:
    name: str
    declaration: str  # the SQL after the column name
    v2_type: str
    charset: str | None = None


def _create(db, table: str, columns: list[Column], key: bool = True) -> None:
    body = ", ".join(f"`{c.name}` {c.declaration}" for c in columns)
    primary = f", PRIMARY KEY (`{columns[0].name}`)" if key else ""
    db.execute(f"CREATE TABLE {table} ({body}{primary}) ENGINE=InnoDB")


def _insert(db, table: str, rows: list[str]) -> None:
    if rows:
        db.execute(f"INSERT INTO {table} VALUES {', '.join(rows)}")


def new_checksum(db, table: str, columns: list[Column], through_as_stored: bool = False) -> tuple:
    """(rows, hash_hi, hash_lo) of the whole table; the v1 side passes its values through as_stored."""
    values = [
        ComparedValue(as_stored(f"t.`{c.name}`", c.v2_type, c.charset) if through_as_stored else f"t.`{c.name}`",
                      c.v2_type, c.charset)
        for c in columns
    ]
    return tuple(db.query(chunk_checksum_sql(values, f"{table} AS t", "1"))[0].values())


def old_checksum(db, table: str, columns: list[Column]) -> tuple:
    """Today's verify: COUNT(*) and BIT_XOR of CRC32(CONCAT_WS('#', ..., CONCAT(ISNULL(...))))."""
    crc = _old_row_crc([f"t.`{c.name}`" for c in columns])
    return tuple(db.query(f"SELECT COUNT(*), COALESCE(BIT_XOR({crc}), 0) FROM {table} AS t")[0].values())


@pytest.fixture
def schema(db, prefix):
    name = f"{prefix}_rh"
    db.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    return f"`{name}`"


# ---------------------------------------------------------------------------------------------
# the constructions that fool today's formula
# ---------------------------------------------------------------------------------------------
ID = Column("id", "INT NOT NULL", "int")
VC = "VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"


@dataclass(frozen=True)
class Case:
    columns: tuple[Column, ...]
    v1_rows: tuple[str, ...]
    v2_rows: tuple[str, ...]
    old_fooled: bool  # today's formula reports the two tables equal
    key: bool = True


CASES = {
    "swap between two rows": Case(
        (ID, Column("v", f"{VC} NOT NULL", "varchar(16)", "utf8mb4")),
        ("(1, 'a')", "(2, 'b')"), ("(1, 'b')", "(2, 'a')"), old_fooled=True),
    "same change in 2 rows": Case(
        (ID, Column("w", "INT NOT NULL", "int")),
        ("(1, 10)", "(2, 20)"), ("(1, 11)", "(2, 21)"), old_fooled=True),
    "same change in 4 rows": Case(
        (ID, Column("w", "INT NOT NULL", "int")),
        ("(1, 10)", "(2, 20)", "(3, 30)", "(4, 40)"), ("(1, 11)", "(2, 21)", "(3, 31)", "(4, 41)"), old_fooled=True),
    "value moved across the separator": Case(
        (ID, Column("a", f"{VC} NOT NULL", "varchar(16)", "utf8mb4"),
         Column("b", f"{VC} NOT NULL", "varchar(16)", "utf8mb4")),
        ("(1, 'x#y', 'z')",), ("(1, 'x', 'y#z')",), old_fooled=True),
    "value moved between adjacent strings": Case(
        (ID, Column("a", f"{VC} NOT NULL", "varchar(16)", "utf8mb4"),
         Column("b", f"{VC} NOT NULL", "varchar(16)", "utf8mb4")),
        ("(1, 'ab', 'c')",), ("(1, 'a', 'bc')",), old_fooled=False),
    "float changed in the 7th significant digit": Case(
        (ID, Column("f", "FLOAT NOT NULL", "float")), ("(1, 1.2345671)",), ("(1, 1.2345674)",), old_fooled=True),
    "duplicate rows without a key: {r, r} vs {s, s}": Case(
        (ID, Column("v", f"{VC} NOT NULL", "varchar(16)", "utf8mb4")),
        ("(1, 'r')", "(1, 'r')"), ("(1, 's')", "(1, 's')"), old_fooled=True, key=False),
    # The NULL bitmap and CRC32's reading of bytes already separate these; the new encoding must too.
    "NULL vs ''": Case(
        (ID, Column("v", f"{VC} NULL", "varchar(16)", "utf8mb4")), ("(1, NULL)",), ("(1, '')",), old_fooled=False),
    "'' vs 'NULL'": Case(
        (ID, Column("v", f"{VC} NULL", "varchar(16)", "utf8mb4")), ("(1, '')",), ("(1, 'NULL')",), old_fooled=False),
    "NULL vs 'NULL'": Case(
        (ID, Column("v", f"{VC} NULL", "varchar(16)", "utf8mb4")), ("(1, NULL)",), ("(1, 'NULL')",),
        old_fooled=False),
    "case change of a _ci key": Case(
        (Column("k", f"{VC} NOT NULL", "varchar(16)", "utf8mb4"), Column("v", "INT NOT NULL", "int")),
        ("('alpha', 1)",), ("('ALPHA', 1)",), old_fooled=False),
    "trailing space in a PAD SPACE _ci key": Case(
        (Column("k", f"{VC} NOT NULL", "varchar(16)", "utf8mb4"), Column("v", "INT NOT NULL", "int")),
        ("('beta', 1)",), ("('beta ', 1)",), old_fooled=False),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_construction_is_caught(db, schema, case: Case):
    v1, v2 = f"{schema}.`v1`", f"{schema}.`v2`"
    for table, rows in ((v1, case.v1_rows), (v2, case.v2_rows)):
        _create(db, table, list(case.columns), key=case.key)
        _insert(db, table, list(rows))
    columns = list(case.columns)
    assert (old_checksum(db, v1, columns) == old_checksum(db, v2, columns)) is case.old_fooled
    assert new_checksum(db, v1, columns) != new_checksum(db, v2, columns)
    # and the new checksum is a function of the data, not of the table: an equal copy checksums equal
    db.execute(f"CREATE TABLE {schema}.`v1_copy` LIKE {v1}")
    db.execute(f"INSERT INTO {schema}.`v1_copy` SELECT * FROM {v1}")
    assert new_checksum(db, f"{schema}.`v1_copy`", columns) == new_checksum(db, v1, columns)


def test_ci_keys_compare_equal_through_the_collation(db):
    """Why keys are hashed as bytes: under the _ci PAD SPACE collation both pairs are 'equal' (DESIGN.md)."""
    row = db.query("SELECT _utf8mb4'alpha' COLLATE utf8mb4_general_ci = 'ALPHA' AS a, "
                   "_utf8mb4'beta' COLLATE utf8mb4_general_ci = 'beta ' AS b")[0]
    assert (row["a"], row["b"]) == (1, 1)


# ---------------------------------------------------------------------------------------------
# character sets: v1 latin1, v2 utf8mb4
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("v1_text", "v2_text", "equal"), [
    ("Müller", "Müller", True), ("Grüße à Zoë", "Grüße à Zoë", True), ("Müller", "Muller", False),
    ("Müller", "MÜLLER", False),
])
@pytest.mark.parametrize("v2_type", ["varchar(32)", "longtext"])
def test_latin1_v1_and_utf8mb4_v2(db, schema, v1_text, v2_text, equal, v2_type):
    v1, v2 = f"{schema}.`v1`", f"{schema}.`v2`"
    v1_columns = [ID, Column("name", f"{v2_type} CHARACTER SET latin1 NOT NULL", v2_type, "latin1")]
    v2_columns = [ID, Column("name", f"{v2_type} CHARACTER SET utf8mb4 NOT NULL", v2_type, "utf8mb4")]
    _create(db, v1, v1_columns)
    _create(db, v2, v2_columns)
    db.execute(f"INSERT INTO {v1} VALUES (1, %s)", [v1_text])
    db.execute(f"INSERT INTO {v2} VALUES (1, %s)", [v2_text])
    # the v1 side is described by the v2 column: its text is converted to utf8mb4 before hashing
    assert (new_checksum(db, v1, v2_columns, through_as_stored=True) == new_checksum(db, v2, v2_columns)) is equal
    if equal:
        # today's formula hashes latin1 bytes on one side and utf8mb4 bytes on the other: a false alarm
        assert old_checksum(db, v1, v1_columns) != old_checksum(db, v2, v2_columns)


# ---------------------------------------------------------------------------------------------
# a row near max_allowed_packet
# ---------------------------------------------------------------------------------------------
def test_row_near_max_allowed_packet(db, schema):
    """A LONGBLOB a little under max_allowed_packet: CONCAT_WS gives NULL (1301) and BIT_XOR skips it."""
    packet = db.query("SELECT @@max_allowed_packet AS p")[0]["p"]
    size = packet - 4096
    columns = [ID, Column("big", "LONGBLOB NOT NULL", "longblob"),
               Column("text", "LONGTEXT CHARACTER SET utf8mb4 NOT NULL", "longtext", "utf8mb4"),
               Column("note", "VARCHAR(255) NOT NULL", "varchar(255)", "utf8mb4")]
    v1, v2 = f"{schema}.`v1`", f"{schema}.`v2`"
    for table in (v1, v2):
        _create(db, table, columns)
    # built on the server: REPEAT's result may be as long as max_allowed_packet itself
    _insert(db, v1, [f"(1, REPEAT('a', {size}), REPEAT('t', {size}), REPEAT('n', 200))"])
    db.execute(f"INSERT INTO {v2} SELECT * FROM {v1}")
    assert new_checksum(db, v1, columns) == new_checksum(db, v2, columns)
    assert new_checksum(db, v1, columns, through_as_stored=True) == new_checksum(db, v2, columns)

    db.execute(f"UPDATE {v2} SET big = INSERT(big, {size // 2}, 1, 'b')")  # one byte differs
    assert old_checksum(db, v1, columns) == old_checksum(db, v2, columns) == (1, 0)  # fooled: NULL skipped
    assert db.query("SHOW WARNINGS")[0]["Code"] == 1301
    assert new_checksum(db, v1, columns) != new_checksum(db, v2, columns)

    db.execute(f"UPDATE {v2} AS d JOIN {v1} AS s USING (id) SET d.big = s.big")
    assert new_checksum(db, v1, columns) == new_checksum(db, v2, columns)
    db.execute(f"UPDATE {v2} SET text = INSERT(text, {size - 1}, 1, 'u')")  # one character differs
    assert new_checksum(db, v1, columns) != new_checksum(db, v2, columns)
    row_hash = row_hash_sql([ComparedValue(f"t.`{c.name}`", c.v2_type, c.charset) for c in columns])
    assert db.query(f"SELECT {row_hash} IS NULL AS n FROM {v2} AS t")[0]["n"] == 0


# ---------------------------------------------------------------------------------------------
# every column type DataJoint declares
# ---------------------------------------------------------------------------------------------
TYPES = {
    # id: (declaration, v2_type, charset, value, changed value)
    "tinyint": ("TINYINT", "tinyint", None, "-128", "-127"),
    "tinyint unsigned": ("TINYINT UNSIGNED", "tinyint unsigned", None, "255", "254"),
    "smallint": ("SMALLINT", "smallint", None, "-32768", "32767"),
    "smallint unsigned": ("SMALLINT UNSIGNED", "smallint unsigned", None, "65535", "0"),
    "mediumint": ("MEDIUMINT", "mediumint", None, "-8388608", "8388607"),
    "mediumint unsigned": ("MEDIUMINT UNSIGNED", "mediumint unsigned", None, "16777215", "16777214"),
    "int": ("INT", "int", None, "-2147483648", "2147483647"),
    "int unsigned": ("INT UNSIGNED", "int unsigned", None, "4294967295", "4294967294"),
    "int unsigned zerofill": ("INT(5) UNSIGNED ZEROFILL", "int(5) unsigned zerofill", None, "42", "43"),
    "bigint": ("BIGINT", "bigint", None, "-9223372036854775808", "-9223372036854775807"),
    "bigint unsigned": ("BIGINT UNSIGNED", "bigint unsigned", None, "18446744073709551615",
                        "18446744073709551614"),
    "decimal": ("DECIMAL(8,3)", "decimal(8,3)", None, "12345.678", "12345.679"),
    "float": ("FLOAT", "float", None, "1.2345671", "1.2345674"),
    "double": ("DOUBLE", "double", None, "0.1", "0.10000000000000002"),
    "char latin1 _ci": ("CHAR(8) CHARACTER SET latin1 COLLATE latin1_swedish_ci", "char(8)", "latin1",
                        "'abc'", "'ABC'"),
    "varchar latin1 _bin": ("VARCHAR(16) CHARACTER SET latin1 COLLATE latin1_bin", "varchar(16)", "latin1",
                            "'Müller'", "'Muller'"),
    "char utf8mb4 _bin": ("CHAR(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", "char(8)", "utf8mb4",
                          "'ä'", "'a'"),
    "varchar utf8mb4 _ci": ("VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci", "varchar(16)",
                            "utf8mb4", "'beta'", "'beta '"),
    "varchar utf8mb4 unicode_ci": ("VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", "varchar(16)",
                                   "utf8mb4", "'straße'", "'strasse'"),
    "varchar NULL": ("VARCHAR(16) CHARACTER SET utf8mb4 NULL", "varchar(16)", "utf8mb4", "NULL", "''"),
    "enum": ("ENUM('left','right','center')", "enum('left','right','center')", "utf8mb4", "'left'", "'right'"),
    "date": ("DATE", "date", None, "'2024-02-29'", "'2024-03-01'"),
    "datetime": ("DATETIME", "datetime", None, "'2024-01-01 12:00:00'", "'2024-01-01 12:00:01'"),
    "datetime(6)": ("DATETIME(6)", "datetime(6)", None, "'2024-01-01 12:00:00.000001'",
                    "'2024-01-01 12:00:00.000002'"),
    "timestamp": ("TIMESTAMP NULL", "timestamp", None, "'2024-01-01 12:00:00'", "'2024-01-01 12:00:01'"),
    "timestamp(6)": ("TIMESTAMP(6) NULL", "timestamp(6)", None, "'2024-01-01 12:00:00.000001'",
                     "'2024-01-01 12:00:00.000002'"),
    "time": ("TIME", "time", None, "'-838:59:59'", "'838:59:59'"),
    "time(3)": ("TIME(3)", "time(3)", None, "'12:00:00.001'", "'12:00:00.002'"),
    "year": ("YEAR", "year", None, "2024", "2025"),
    "binary(16) uuid": ("BINARY(16)", "binary(16)", None, "X'00112233445566778899aabbccddeeff'",
                        "X'00112233445566778899aabbccddeefe'"),
    "longblob": ("LONGBLOB", "longblob", None, "X'00'", "X'0000'"),
    "blob empty vs NULL": ("BLOB NULL", "blob", None, "''", "NULL"),
    "json": ("JSON", "json", "utf8mb4", "'{\"a\": 1}'", "'{\"a\": 2}'"),
    "longtext": ("LONGTEXT CHARACTER SET utf8mb4", "longtext", "utf8mb4", "'x'", "'X'"),
}


@pytest.mark.parametrize("spec", list(TYPES.values()), ids=list(TYPES))
def test_every_datajoint_type(db, schema, spec):
    declaration, v2_type, charset, value, changed = spec
    columns = [ID, Column("c", declaration, v2_type, charset)]
    v1, v2 = f"{schema}.`v1`", f"{schema}.`v2`"
    for table in (v1, v2):
        _create(db, table, columns)
        _insert(db, table, [f"(1, {value})", f"(2, {changed})"])
    same = new_checksum(db, v2, columns)
    assert new_checksum(db, v1, columns) == same
    if v2_type != "year":  # as_stored refuses YEAR (two-digit years); compared as stored only
        assert new_checksum(db, v1, columns, through_as_stored=True) == same
    db.execute(f"UPDATE {v2} SET c = {changed} WHERE id = 1")  # now both rows hold the changed value
    assert new_checksum(db, v1, columns) != new_checksum(db, v2, columns)


# ---------------------------------------------------------------------------------------------
# as_stored: the v1 side hashes what storing into v2 makes of its value
# ---------------------------------------------------------------------------------------------
CONVERSIONS = {
    # id: (v1 declaration, v2 declaration, v2_type, v2 charset, v1 values)
    "double -> decimal(8,3)": ("DOUBLE", "DECIMAL(8,3)", "decimal(8,3)", None, ["1.0005", "-0.0004", "2.5"]),
    "double -> float": ("DOUBLE", "FLOAT", "float", None, ["0.1", "1e10/3", "-7.25e-30"]),
    "double -> int (half to even)": ("DOUBLE", "INT", "int", None, ["2.5", "3.5", "-2.5"]),
    "decimal(10,4) -> double": ("DECIMAL(10,4)", "DOUBLE", "double", None, ["1.2345", "-0.0001"]),
    "int -> bigint unsigned": ("INT", "BIGINT UNSIGNED", "bigint unsigned", None, ["0", "2147483647"]),
    "int -> varchar": ("INT", "VARCHAR(16) CHARACTER SET utf8mb4", "varchar(16)", "utf8mb4", ["42", "-7"]),
    "latin1 -> utf8mb4": ("VARCHAR(16) CHARACTER SET latin1", "VARCHAR(16) CHARACTER SET utf8mb4", "varchar(16)",
                          "utf8mb4", ["'Müller'", "'Zoë'"]),
    "varchar -> char (trailing spaces)": ("VARCHAR(8) CHARACTER SET utf8mb4", "CHAR(8) CHARACTER SET utf8mb4",
                                          "char(8)", "utf8mb4", ["'ab  '", "' a'"]),
    "varchar -> enum (case, spaces)": ("VARCHAR(8) CHARACTER SET utf8mb4",
                                       "ENUM('left','right') CHARACTER SET utf8mb4", "enum('left','right')",
                                       "utf8mb4", ["'Left'", "'right '"]),
    "varbinary -> binary(16)": ("VARBINARY(4)", "BINARY(16)", "binary(16)", None, ["X'0102'", "X''"]),
    "datetime(6) -> datetime(3)": ("DATETIME(6)", "DATETIME(3)", "datetime(3)", None,
                                   ["'2024-01-01 10:00:00.999999'", "'2024-01-01 10:00:00.0005'"]),
    "datetime -> timestamp": ("DATETIME", "TIMESTAMP NULL", "timestamp", None, ["'2024-06-01 12:30:00'"]),
    "date -> datetime": ("DATE", "DATETIME", "datetime", None, ["'2024-02-29'"]),
    "latin1 text -> utf8mb4 longtext": ("TEXT CHARACTER SET latin1", "LONGTEXT CHARACTER SET utf8mb4", "longtext",
                                        "utf8mb4", ["'Grüße'"]),
    "varchar -> json": ("VARCHAR(32) CHARACTER SET utf8mb4", "JSON", "json", "utf8mb4", ["'{\"a\": [1, 2]}'"]),
}


@pytest.mark.parametrize("spec", list(CONVERSIONS.values()), ids=list(CONVERSIONS))
def test_as_stored_matches_storage(db, schema, spec):
    v1_declaration, v2_declaration, v2_type, charset, values = spec
    v1, v2 = f"{schema}.`v1`", f"{schema}.`v2`"
    v2_columns = [ID, Column("c", f"{v2_declaration} NULL", v2_type, charset)]
    _create(db, v1, [ID, Column("c", f"{v1_declaration} NULL", "", None)])
    _create(db, v2, v2_columns)
    _insert(db, v1, [f"({i}, {v})" for i, v in enumerate(values, 1)] + [f"({len(values) + 1}, NULL)"])
    db.execute(f"INSERT INTO {v2} SELECT * FROM {v1}")  # the backfill: storing converts
    assert new_checksum(db, v1, v2_columns, through_as_stored=True) == new_checksum(db, v2, v2_columns)
    db.execute(f"DELETE FROM {v2} WHERE id = 1")
    db.execute(f"INSERT INTO {v2} (id, c) SELECT 1, c FROM {v1} WHERE id = 2")  # another row's value
    assert new_checksum(db, v1, v2_columns, through_as_stored=True) != new_checksum(db, v2, v2_columns)


def test_checksum_into_procedure_variables_of_the_control_types(db, schema):
    """Inside a procedure, SELECT ... INTO variables declared with CHECKSUM_COLUMNS' types loses nothing."""
    columns = [ID, Column("v", f"{VC} NULL", "varchar(16)", "utf8mb4")]
    _create(db, f"{schema}.`t`", columns)
    _insert(db, f"{schema}.`t`", [f"({i}, 'v{i}')" for i in range(1, 201)])
    values = [ComparedValue(f"t.`{c.name}`", c.v2_type, c.charset) for c in columns]
    names = [f"v_{c.name}" for c in CHECKSUM_COLUMNS]
    declare = " ".join(f"DECLARE {n} {c.sql_type.replace(' NOT NULL', '')};" for n, c in zip(names, CHECKSUM_COLUMNS))
    select = chunk_checksum_sql(values, f"{schema}.`t` AS t", "t.`id` > p_lo", into=names)
    db.execute(f"CREATE PROCEDURE {schema}.`p`(IN p_lo INT) BEGIN {declare} {select}; "
               f"SELECT {', '.join(names)}; END")
    called = tuple(db.call_results(f"CALL {schema}.`p`(0)")[0][0].values())
    direct = tuple(db.query(chunk_checksum_sql(values, f"{schema}.`t` AS t", "t.`id` > 0"))[0].values())
    assert called == direct and called[0] == 200 and called[1] > 2**64


# ---------------------------------------------------------------------------------------------
# floats: the e:M token is the stored double, exactly
# ---------------------------------------------------------------------------------------------
def _doubles(n: int) -> list[float]:
    rng = random.Random(7)
    out = [5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
           -1.7976931348623157e308, 1.0, 0.1, 0.30000000000000004, 1e-300]
    for k in range(-1074, 1024, 11):
        p = math.ldexp(1.0, k)
        out += [p, math.nextafter(p, 0.0), math.nextafter(p, math.inf), -p]
    while len(out) < n:
        x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(x):
            out.append(x)
    return out


def _decode(token: str) -> float:
    assert token.endswith(",")
    if token == "0,":
        return 0.0
    e, m = token[:-1].split(":")
    return math.ldexp(int(m), int(e) - 53)


def test_float_tokens_decode_to_the_stored_value(db, schema):
    doubles = _doubles(3000)
    table = f"{schema}.`f`"
    db.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY, d DOUBLE, f FLOAT)")
    rows = [(i, x, struct.unpack("<f", struct.pack("<f", x))[0] if abs(x) < 3e38 else 1.5)
            for i, x in enumerate(doubles)]
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        db.execute(f"INSERT INTO {table} VALUES {', '.join(['(%s, %s, %s)'] * len(chunk))}",
                   [v for row in chunk for v in row])
    d_token = value_token_sql(ComparedValue("d", "double"))
    f_token = value_token_sql(ComparedValue("f", "float"))
    got = db.query(f"SELECT id, d, {d_token} AS dt, {f_token} AS ft FROM {table} ORDER BY id")
    assert len(got) == len(rows)
    for row, (_, d, f) in zip(got, rows):
        assert row["d"] == d  # pymysql reads the double back exactly
        assert (_decode(row["dt"]), _decode(row["ft"])) == (d, f), row
    assert db.query(f"SELECT {value_token_sql(ComparedValue('NULL', 'double'))} AS t")[0]["t"] == "N"
