"""User expressions (issue 21, items 3 and 6): one parsed expression, written from its syntax tree; refused, with
the form that works, when it can fail on some row. Short pairs: input → SQL, or input → the refusal."""

from __future__ import annotations

import pytest

from djsqlgen.model.expr import ColumnRef, ExprError, parse, parse_constant

TYPES = {"a": "int", "b": "int", "t": "tinyint", "w": "float", "code": "varchar(16)", "name": "varchar(32)",
         "j": "text", "jj": "json", "d": "datetime"}


def _resolve(qualifier, name):
    return ColumnRef(qualifier or "src", name)


def _type_of(qualifier, name):
    return TYPES.get(name)


def sql(text: str) -> str:
    return parse(text, _resolve, _type_of).render()


@pytest.mark.parametrize("text, expected", [
    ("CONCAT(name, '/', a)", "CONCAT(`src`.`name`, '/', `src`.`a`)"),
    ("a", "`src`.`a`"),
    ("a -- a comment", "`src`.`a`"),
    ("p.a + a", "`p`.`a` + `src`.`a`"),
    ("REPLACE(name, 'x', 'y')", "REPLACE(`src`.`name`, 'x', 'y')"),  # a function, not the statement
    ("name REGEXP '^a'", "`src`.`name` REGEXP '^a'"),  # MariaDB has no REGEXP_LIKE
    ("IF(JSON_VALID(j), j->>'$.x', NULL)", "IF(JSON_VALID(`src`.`j`), JSON_UNQUOTE(JSON_EXTRACT(`src`.`j`, '$.x')), NULL)"),
    ("'it''s djsqlgen_ref_0' = name", "'it''s djsqlgen_ref_0' = `src`.`name`"),
])
def test_written_from_the_tree(text, expected):
    assert sql(text) == expected


@pytest.mark.parametrize("text, refusal", [
    ("1; DROP TABLE x", "not a statement"),
    ("a, b", "not a statement or a list"),
    ("a FROM x", "no ';', FROM"),
    ("a AS b", "without AS"),
    ("(SELECT 1)", "subquery"),
    ("NOW()", "another value"),
    ("a) ; DROP TABLE x; SELECT (1", "not an SQL expression"),
])
def test_not_one_expression(text, refusal):
    with pytest.raises(ExprError, match=refusal):
        sql(text)


@pytest.mark.parametrize("text", [
    "a / NULLIF(b, 0)", "w / 1000", "a DIV 2", "a % 2", "a / -2",
    "IF(code REGEXP '^[0-9]+$', CAST(code AS UNSIGNED), NULL)",
    "CASE WHEN code REGEXP '^[0-9]+$' THEN code + 1 END",
    "LEFT(name, 8)", "CAST(t AS CHAR(4))", "CAST(name AS CHAR(32))",
    "JSON_EXTRACT(jj, '$.a')", "IF(JSON_VALID(j), JSON_VALUE(j, '$.a'), NULL)", "DATE(d)", "a + 1000",
])
def test_written_so_that_it_cannot_fail(text):
    sql(text)


@pytest.mark.parametrize("text, refusal", [
    ("a / b", r"where b is 0 .*NULLIF\(b, 0\)"),
    ("10 DIV (a - 3)", r"where \(a - 3\) is 0"),
    ("a MOD b", "where b is 0"),
    ("a / (b + 1)", "NULLIF"),
    ("CAST(code AS UNSIGNED)", "whose code is not a bigint unsigned; test it first: IF\\(code REGEXP"),
    ("CONVERT(code, DECIMAL(5,2))", "not a decimal"),
    ("CAST(code AS DATE)", "not a date"),
    ("code + 1", "reads the text code as a number"),
    ("CAST(name AS CHAR(8))", r"cuts name \(up to 32 characters\).*LEFT\(name, 8\)"),
    ("CAST(a AS CHAR(3))", "cuts a"),
    ("j->>'$.x'", r"not valid JSON; test it first: IF\(JSON_VALID\(j\)"),
    ("JSON_VALUE(j, '$.a')", "not valid JSON"),
])
def test_can_fail_on_some_row(text, refusal):
    with pytest.raises(ExprError, match=refusal):
        sql(text)


def test_defaults_are_constants_written_from_the_tree():
    assert parse_constant("'v1'") == "'v1'"
    assert parse_constant("CURRENT_TIMESTAMP", volatile_ok=True) == "CURRENT_TIMESTAMP()"
    for bad in ("'a'; DROP TABLE x", "name", "NOW()"):
        with pytest.raises(ExprError):
            parse_constant(bad)
