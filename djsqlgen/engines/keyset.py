"""Walking a table in primary-key order, chunk by chunk: the variables, bounds and predicates of a walk.

Keyset predicates are written in the expanded form ``a > x OR (a = x AND b > y)``: MariaDB and MySQL
range-optimise it, while the row constructor ``(a, b) > (x, y)`` becomes a full index scan (DESIGN.md).

The walk orders and bounds each key column with the same comparison. Two types need care:
- ENUM sorts by its index but compares with a string as a string, so the walk keeps the index
  (``k + 0``) in its variables and compares ``k`` with a number, which compares indexes.
- FLOAT prints 6 significant digits: its bound is kept as the exact DOUBLE of the stored value.
Binary keys (uuid) travel in the checkpoint as hex; everything else as text, which round-trips.
"""

from __future__ import annotations

from dataclasses import dataclass

from djsqlgen.catalog.sqltypes import parse_sql_type
from djsqlgen.output.quoting import quote_identifier


@dataclass(frozen=True)
class KeyColumn:
    name: str
    sql_type: str
    charset: str | None = None
    collation: str | None = None


@dataclass(frozen=True)
class KeyVariable:
    lo: str
    hi: str
    declared_type: str
    select: str  # what the bound query selects into the variable
    column: str  # the column as compared with the variable
    decode: str  # the lo variable's value from the JSON checkpoint ``v_checkpoint``
    encode_lo: str
    encode_hi: str


def keyset_predicate(columns: list[str], values: list[str], strict: str, last: str) -> str:
    """``columns`` after (strict ``>``, last ``>``) or up to (``<``, ``<=``) ``values``, expanded form."""
    column, value = columns[0], values[0]
    if len(columns) == 1:
        return f"{column} {last} {value}"
    rest = keyset_predicate(columns[1:], values[1:], strict, last)
    return f"({column} {strict} {value} OR ({column} = {value} AND {rest}))"


@dataclass(frozen=True)
class Walk:
    """The key of one table (``table_sql`` AS ``alias``) as a chunked walk sees it."""

    table_sql: str  # `schema`.`table`
    alias: str
    key: tuple[KeyColumn, ...]

    @property
    def source(self) -> str:
        return f"{self.table_sql} AS {quote_identifier(self.alias)}"

    def _col(self, k: KeyColumn) -> str:
        return f"{quote_identifier(self.alias)}.{quote_identifier(k.name)}"

    @property
    def variables(self) -> list[KeyVariable]:
        out = []
        for i, k in enumerate(self.key, start=1):
            t = parse_sql_type(k.sql_type)
            extract = f"JSON_UNQUOTE(JSON_EXTRACT(v_checkpoint, '$[{i - 1}]'))"
            column = self._col(k)
            lo, hi = f"v_lo_{i}", f"v_hi_{i}"
            if t.base == "enum":
                declared, select, decode = "SMALLINT UNSIGNED", f"{column} + 0", extract
            elif t.base == "float":
                declared, select, decode = "DOUBLE", f"CAST({column} AS DOUBLE)", extract
            elif t.family == "binary" or k.charset == "binary":
                declared, select, decode = k.sql_type, column, f"UNHEX({extract})"
            elif k.charset and k.collation:
                declared, select, decode = f"{k.sql_type} CHARACTER SET {k.charset} COLLATE {k.collation}", column, \
                    extract
            else:
                declared, select, decode = k.sql_type, column, extract
            binary = decode.startswith("UNHEX")
            out.append(KeyVariable(lo, hi, declared, select, column, decode,
                                   f"HEX({lo})" if binary else f"CAST({lo} AS CHAR)",
                                   f"HEX({hi})" if binary else f"CAST({hi} AS CHAR)"))
        return out

    @property
    def key_list(self) -> str:
        """The key columns in walk order (an ENUM orders by its index, as its numeric bound compares)."""
        return ", ".join(self._col(k) for k in self.key)

    @property
    def key_desc(self) -> str:
        return ", ".join(f"{self._col(k)} DESC" for k in self.key)

    @property
    def select_list(self) -> str:
        return ", ".join(v.select for v in self.variables)

    @property
    def hi_list(self) -> str:
        return ", ".join(v.hi for v in self.variables)

    @property
    def lo_from_hi(self) -> str:
        return ", ".join(f"{v.lo} = {v.hi}" for v in self.variables)

    @property
    def decode_lo(self) -> str:
        return ", ".join(f"{v.lo} = {v.decode}" for v in self.variables)

    @property
    def encode_lo(self) -> str:
        return f"JSON_ARRAY({', '.join(v.encode_lo for v in self.variables)})"

    @property
    def encode_hi(self) -> str:
        return f"JSON_ARRAY({', '.join(v.encode_hi for v in self.variables)})"

    @property
    def after_lo(self) -> str:
        vs = self.variables
        return keyset_predicate([v.column for v in vs], [v.lo for v in vs], ">", ">")

    @property
    def upto_hi(self) -> str:
        vs = self.variables
        return keyset_predicate([v.column for v in vs], [v.hi for v in vs], "<", "<=")

    def chunk_predicate(self, with_lower: bool) -> str:
        """A backfill chunk: after the checkpoint (when there is one) and up to the upper bound."""
        return f"{self.after_lo}\n  AND {self.upto_hi}" if with_lower else self.upto_hi

    @property
    def verify_range(self) -> str:
        """A verify chunk: open below on the first chunk, open above on the last."""
        return f"(v_has_lo = 0 OR {self.after_lo}) AND (v_last_chunk = 1 OR {self.upto_hi})"

    def on(self, other: Walk) -> Walk:
        """The same bounds over another table's key columns (aligned verify: v2 keys compare like v1's)."""
        return Walk(other.table_sql, other.alias, other.key)
