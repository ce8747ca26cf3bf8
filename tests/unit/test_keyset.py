"""keyset_predicate: the expanded keyset form, input → expected SQL."""

from __future__ import annotations

import pytest

from djsqlgen.engines.keyset import keyset_predicate

A, B, C = "src.`a`", "src.`b`", "src.`c`"


@pytest.mark.parametrize(
    ("columns", "values", "strict", "last", "expected"),
    [
        ([A], ["v_lo_1"], ">", ">", "src.`a` > v_lo_1"),
        ([A], ["v_hi_1"], "<", "<=", "src.`a` <= v_hi_1"),
        ([A, B], ["v_lo_1", "v_lo_2"], ">", ">",
         "(src.`a` > v_lo_1 OR (src.`a` = v_lo_1 AND src.`b` > v_lo_2))"),
        ([A, B], ["v_hi_1", "v_hi_2"], "<", "<=",
         "(src.`a` < v_hi_1 OR (src.`a` = v_hi_1 AND src.`b` <= v_hi_2))"),
        ([A, B, C], ["v_lo_1", "v_lo_2", "v_lo_3"], ">", ">",
         ("(src.`a` > v_lo_1 OR (src.`a` = v_lo_1 AND "
          "(src.`b` > v_lo_2 OR (src.`b` = v_lo_2 AND src.`c` > v_lo_3))))")),
        ([A, B, C], ["v_hi_1", "v_hi_2", "v_hi_3"], "<", "<=",
         ("(src.`a` < v_hi_1 OR (src.`a` = v_hi_1 AND "
          "(src.`b` < v_hi_2 OR (src.`b` = v_hi_2 AND src.`c` <= v_hi_3))))")),
    ],
    ids=["1col-after", "1col-upto", "2col-after", "2col-upto", "3col-after", "3col-upto"],
)
def test_keyset_predicate(columns, values, strict, last, expected):
    assert keyset_predicate(columns, values, strict, last) == expected


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_no_row_constructor(n):
    """Never `(a, b) > (x, y)`: that form is not range-optimised (DESIGN.md)."""
    sql = keyset_predicate([f"c{i}" for i in range(n)], [f"v{i}" for i in range(n)], ">", ">")
    assert "," not in sql and sql.count("c0") == (1 if n == 1 else 2)
