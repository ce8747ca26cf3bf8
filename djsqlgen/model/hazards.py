"""Expressions that can fail on some row: refused at plan check unless written so that they cannot.

00 tries every expression on all of v1 (the transform trial), but a row written later can still hold the value
that fails, and then the trigger fails that user's write (the files run under a strict sql_mode with
ERROR_FOR_DIVISION_BY_ZERO: a warning in a write is an error). So the parsed tree is read for the operations that
fail on some value, each accepted only in a form that cannot fail:

- a division, DIV or MOD: by a non-zero number, or by ``NULLIF(x, 0)`` (NULL instead of an error);
- a string read as a number or a date (CAST, CONVERT, arithmetic on a text column): only under a condition that
  tests the same column with REGEXP (``IF(code REGEXP '^[0-9]+$', CAST(code AS UNSIGNED), NULL)``);
- a cast to a shorter CHAR/BINARY than the text it casts: write ``LEFT(x, n)`` instead (an explicit cut);
- a JSON path (JSON_EXTRACT, JSON_VALUE, ->, ->>) on a column that is not JSON: only under ``JSON_VALID`` of it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from djsqlgen.catalog.sqltypes import parse_sql_type

# (qualifier, column) -> the v1 column's SQL type, or None when unknown
TypeOf = Callable[[str | None, str], str | None]

_JSON_PATHS = (exp.JSONExtract, exp.JSONExtractScalar, exp.JSONValue)
_JSON_NAMES = {"JSON_EXTRACT", "JSON_VALUE", "JSON_QUERY", "JSON_UNQUOTE"}
_NUMERIC_TYPES = {exp.DataType.Type.DECIMAL, exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT,
                  exp.DataType.Type.DATE, exp.DataType.Type.DATETIME, exp.DataType.Type.TIME,
                  exp.DataType.Type.TIMESTAMP, exp.DataType.Type.BIGINT, exp.DataType.Type.INT,
                  exp.DataType.Type.UBIGINT, exp.DataType.Type.UINT}
_TEXT_TYPES = {exp.DataType.Type.CHAR, exp.DataType.Type.VARCHAR, exp.DataType.Type.BINARY,
               exp.DataType.Type.VARBINARY, exp.DataType.Type.NCHAR}


def _family(column: exp.Column, type_of: TypeOf) -> str | None:
    qualifier = column.args.get("table")
    sql_type = type_of(qualifier.name if qualifier else None, column.this.name)
    return parse_sql_type(sql_type).family if sql_type else None


# characters a value of these types can print as (sign included)
_WIDTH = {"tinyint": 4, "smallint": 6, "mediumint": 8, "int": 11, "integer": 11, "bigint": 20, "date": 10,
          "datetime": 26, "timestamp": 26, "time": 17, "year": 4}


def _length(column: exp.Column, type_of: TypeOf) -> int | None:
    """The most characters a value of ``column`` has, when its type says (None: unknown or unbounded)."""
    qualifier = column.args.get("table")
    sql_type = type_of(qualifier.name if qualifier else None, column.this.name)
    if not sql_type:
        return None
    t = parse_sql_type(sql_type)
    if t.family in ("string", "binary") and t.base not in ("enum", "set"):
        return t.params[0] if t.params else None
    if t.base in ("decimal", "numeric") and t.params:
        return t.params[0] + 2
    return _WIDTH.get(t.base)


def _same(a: exp.Column, b: exp.Column) -> bool:
    return a.this.name.lower() == b.this.name.lower() and a.table.lower() == b.table.lower()


def _guarded(node: exp.Expression, column: exp.Column, tests: tuple) -> bool:
    """Whether ``node`` is evaluated only under a condition that tests ``column`` with one of ``tests`` (an
    IF's or a CASE branch's condition, the value branch being the one that holds ``node``)."""
    child, parent = node, node.parent
    while parent is not None:
        # IF(cond, value, …) and CASE WHEN cond THEN value: both an exp.If whose ``true`` holds the value
        if isinstance(parent, exp.If) and child is parent.args.get("true"):
            for test in parent.this.find_all(*tests):
                if isinstance(test, exp.Anonymous) and test.name.upper() != "JSON_VALID":
                    continue
                if any(_same(c, column) for c in test.find_all(exp.Column)):
                    return True
        child, parent = parent, parent.parent
    return False


def _nonzero_divisor(divisor: exp.Expression) -> bool:
    while isinstance(divisor, exp.Paren):
        divisor = divisor.this
    if isinstance(divisor, exp.Literal) and not divisor.is_string:
        try:
            return float(divisor.this) != 0
        except ValueError:
            return False
    if isinstance(divisor, exp.Neg):
        return _nonzero_divisor(divisor.this)
    if isinstance(divisor, exp.Nullif):
        zero = divisor.expression
        return isinstance(zero, exp.Literal) and not zero.is_string and float(zero.this) == 0
    return False


def failure(tree: exp.Expression, type_of: TypeOf) -> str | None:
    """Why ``tree`` can fail on some v1 row (with the form that cannot), or None."""
    for node in tree.walk():
        if isinstance(node, (exp.Div, exp.IntDiv, exp.Mod)) and not _nonzero_divisor(node.expression):
            divisor = node.expression.sql("mysql")
            return (f"{node.sql('mysql')} fails every write where {divisor} is 0 (division by zero is an error "
                    f"here); write it over NULLIF({divisor}, 0) to get NULL instead")
        if isinstance(node, exp.Cast):
            to = node.args["to"]
            operand = node.this
            if isinstance(operand, exp.Column) and _family(operand, type_of) == "string" and \
                    to.this in _NUMERIC_TYPES | {exp.DataType.Type.UNKNOWN} and \
                    not _guarded(node, operand, (exp.RegexpLike,)):
                return (f"{node.sql('mysql')} fails every write whose {operand.sql('mysql')} is not a "
                        f"{to.sql('mysql').lower()}; test it first: IF({operand.sql('mysql')} REGEXP '<pattern>', "
                        f"{node.sql('mysql')}, NULL)")
            length = to.expressions[0].this.this if to.this in _TEXT_TYPES and to.expressions else None
            if isinstance(operand, exp.Column) and length is not None and str(length).isdigit():
                source = _length(operand, type_of)
                if source is not None and source > int(length):
                    return (f"{node.sql('mysql')} cuts {operand.sql('mysql')} (up to {source} characters), which "
                            f"fails the write; write LEFT({operand.sql('mysql')}, {length}) for an explicit cut")
        if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod)):
            for side in (node.this, node.expression):
                if isinstance(side, exp.Column) and _family(side, type_of) == "string" and \
                        not _guarded(node, side, (exp.RegexpLike,)):
                    return (f"{node.sql('mysql')} reads the text {side.sql('mysql')} as a number, which fails every "
                            f"write where it is not one; test it first: IF({side.sql('mysql')} REGEXP '<pattern>', "
                            "…, NULL)")
        is_json = isinstance(node, _JSON_PATHS) or (isinstance(node, exp.Anonymous) and node.name.upper()
                                                    in _JSON_NAMES)
        if is_json:
            operand = node.this if not isinstance(node, exp.Anonymous) else (node.expressions or [None])[0]
            if isinstance(operand, exp.Column) and _family(operand, type_of) == "string" and \
                    not _json_column(operand, type_of) and \
                    not _guarded(node, operand, (exp.Anonymous,)):
                return (f"{node.sql('mysql')} fails every write whose {operand.sql('mysql')} is not valid JSON; "
                        f"test it first: IF(JSON_VALID({operand.sql('mysql')}), …, NULL)")
    return None


def _json_column(column: exp.Column, type_of: TypeOf) -> bool:
    qualifier = column.args.get("table")
    sql_type = type_of(qualifier.name if qualifier else None, column.this.name) or ""
    return parse_sql_type(sql_type).base == "json"
