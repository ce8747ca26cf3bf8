"""lossy_reason: which retypes can lose data, as short (source, target) pairs."""

from __future__ import annotations

import pytest

from djsqlgen.catalog.sqltypes import lossy_reason, parse_sql_type

LOSSLESS = [
    ("int", "int"),
    ("int(11)", "INT(11)"),
    ("tinyint", "smallint"),
    ("smallint(5) unsigned", "int(11)"),
    ("int(10) unsigned", "bigint"),
    ("int", "bigint"),
    ("tinyint unsigned", "smallint unsigned"),
    ("int", "decimal(12,2)"),
    ("varchar(32)", "varchar(64)"),
    ("varchar(32)", "text"),
    ("char(8)", "varchar(8)"),
    ("varbinary(16)", "blob"),
    ("decimal(8,2)", "decimal(10,2)"),
    ("decimal(8,2)", "decimal(9,3)"),
    ("float", "double"),
    ("enum('a','b')", "enum('a','b','c')"),
    ("enum('hit','miss')", "varchar(4)"),
    ("date", "datetime"),
    ("date", "timestamp"),
    ("datetime", "datetime(6)"),
    ("datetime(3)", "datetime(6)"),
    ("int", "varchar(32)"),
]

LOSSY = [
    ("bigint", "int"),
    ("int", "smallint"),
    ("smallint", "tinyint"),
    ("int unsigned", "int"),
    ("tinyint unsigned", "tinyint"),
    ("int", "int unsigned"),
    ("varchar(32)", "varchar(8)"),
    ("text", "varchar(255)"),
    ("blob", "varbinary(100)"),
    ("decimal(10,2)", "decimal(8,2)"),
    ("decimal(10,4)", "decimal(10,2)"),
    ("int", "decimal(5,0)"),
    ("double", "float"),
    ("bigint", "double"),
    ("enum('a','b','c')", "enum('a','b')"),
    ("enum('alpha','b')", "varchar(3)"),
    ("varchar(8)", "enum('a','b')"),
    ("datetime(6)", "datetime"),
    ("datetime(6)", "datetime(0)"),
    ("time(3)", "time"),
    ("datetime", "date"),
    ("int", "varchar(4)"),
    ("json", "int"),
    # Enum values are compared as written: spaces and case inside quotes matter, doubled quotes too.
    ("enum('a b','c')", "enum('ab','c')"),
    ("enum('A','B')", "enum('a','b')"),
    ("enum('it''s','b')", "enum('it','s','b')"),
]


@pytest.mark.parametrize(("source", "target"), LOSSLESS, ids=lambda v: v)
def test_lossless(source, target):
    assert lossy_reason(source, target) is None


@pytest.mark.parametrize(("source", "target"), LOSSY, ids=lambda v: v)
def test_lossy_names_both_types(source, target):
    reason = lossy_reason(source, target)
    assert reason and source in reason


@pytest.mark.parametrize(
    ("text", "base", "params", "unsigned", "family"),
    [
        ("int(10) unsigned", "int", (10,), True, "int"),
        ("DECIMAL(8, 2)", "decimal", (8, 2), False, "decimal"),
        ("enum('a1','b2')", "enum", (), False, "string"),
        ("datetime(6)", "datetime", (6,), False, "temporal"),
        ("longblob", "longblob", (), False, "binary"),
        ("double", "double", (), False, "float"),
    ],
)
def test_parse_sql_type(text, base, params, unsigned, family):
    t = parse_sql_type(text)
    assert (t.base, t.params, t.unsigned, t.family) == (base, params, unsigned, family)


KEPT_DEFAULTS = [  # (v1 default, new type) -> the default v2 declares, or None when it cannot be kept
    ("0", "bigint", "0"),
    ("300", "tinyint", None),
    ("-1", "int unsigned", None),
    ("1.25", "decimal(4,2)", "1.25"),
    ("1.25", "decimal(4,1)", None),
    ("30000", "double", "30000"),
    ("'U'", "enum('M','F','U')", "'U'"),
    ("'X'", "enum('M','F')", None),
    ("current_timestamp()", "datetime(3)", "CURRENT_TIMESTAMP(3)"),
    ("current_timestamp()", "timestamp", "CURRENT_TIMESTAMP"),
    ("current_timestamp()", "date", None),
    ("'abc'", "varchar(2)", None),
    ("'abc'", "text", "('abc')"),  # MySQL 8 refuses a literal default on TEXT (1101)
    ("5", "varchar(8)", "'5'"),
    ("''", "varchar(3)", "''"),
    ("'2024-01-01'", "datetime", "'2024-01-01'"),
    ("'2024-01-01 00:00:00.5'", "datetime", None),
    ("'0000-00-00'", "date", None),
    ("(rand())", "int", None),
    ("NULL", "int", "NULL"),
]


@pytest.mark.parametrize(("default", "sql_type", "kept"), KEPT_DEFAULTS, ids=[f"{d} {t}" for d, t, _ in KEPT_DEFAULTS])
def test_a_default_is_kept_through_a_retype_only_as_a_value_of_the_new_type(default, sql_type, kept):
    from djsqlgen.catalog.sqltypes import kept_default

    value, why = kept_default(default, sql_type)
    assert value == kept and (why is None) == (kept is not None)
