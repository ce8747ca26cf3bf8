"""Walking a table in primary-key order, chunk by chunk: the variables, bounds and predicates of a walk.

Keyset predicates are written in the expanded form ``a > x OR (a = x AND b > y)``: MariaDB and MySQL
range-optimise it, while the row constructor ``(a, b) > (x, y)`` becomes a full index scan (DESIGN.md).

The bounds are session variables (``@djsqlgen_lo_1``, ``@djsqlgen_hi_1``, …): the shared chunk procedures run
each table's statements (its row of chunk_sql) as dynamic SQL, which cannot see a procedure's own variables.
A session variable takes the type, character set and collation of what is assigned to it, so the upper bound
is selected from the column itself, and the lower bound is decoded from the checkpoint by a cast to exactly
the column's type (a latin1 key compared with a utf8mb4 bound would be compared, and ordered, as utf8mb4).

The walk orders and bounds each key column with the same comparison. Some types need care:
- ENUM sorts by its index but compares with a string as a string, so the walk keeps the index
  (``k + 0``) in its variables and compares ``k`` with a number, which compares indexes.
- FLOAT prints 6 significant digits: its bound is kept as the exact DOUBLE of the stored value.
- A session variable cannot hold a date or time: it holds their text, which the predicates cast back to the
  column's temporal type (compared as text, a TIME of 100 hours or more would sort before one of 20).
Binary keys (uuid) travel in the checkpoint as hex; everything else as text, which round-trips.
"""

from __future__ import annotations

from dataclasses import dataclass

from djsqlgen.catalog.sqltypes import SqlType, parse_sql_type
from djsqlgen.sqltext.quoting import quote_identifier

# In a table's statements kept in chunk_sql: where the shared chunk procedures put the chunk's key range, over
# the driving v1 table and over v2 (an aligned verify).
CHUNK_RANGE = "{chunk range}"
V2_CHUNK_RANGE = "{v2 chunk range}"
CHECKPOINT = "@djsqlgen_checkpoint"  # the JSON checkpoint the lower bound is decoded from
# In a copy that finds its own chunk end (``Walk.capture_hi``): where backfill_chunk puts the chunk's row count.
CHUNK_ROWS = "{chunk rows}"


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
    end: str  # the walk's end: the last key when the table's copy began (the backfill stops there)
    select: str  # what the bound query selects into the variable
    column: str  # the column as compared with the variable
    decode: str  # the lo variable's value from the JSON checkpoint
    encode_hi: str  # the hi variable as checkpoint text
    compared: str  # how a predicate reads a variable, ``{}`` standing for it


def keyset_predicate(columns: list[str], values: list[str], strict: str, last: str) -> str:
    """``columns`` after (strict ``>``, last ``>``) or up to (``<``, ``<=``) ``values``, expanded form."""
    column, value = columns[0], values[0]
    if len(columns) == 1:
        return f"{column} {last} {value}"
    rest = keyset_predicate(columns[1:], values[1:], strict, last)
    return f"({column} {strict} {value} OR ({column} = {value} AND {rest}))"


def _typed(extract: str, t: SqlType, k: KeyColumn) -> str:
    """A checkpoint's text as a session variable of the key column's own type (enum: its index, float: DOUBLE).
    Temporal keys stay text (see ``_compared``)."""
    if t.base == "enum":
        return f"CAST({extract} AS UNSIGNED)"
    if t.family == "float":
        return f"CAST({extract} AS DOUBLE)"
    if t.family == "int":
        return f"CAST({extract} AS {'UNSIGNED' if t.unsigned else 'SIGNED'})"
    if t.family == "decimal":
        precision, scale = (*t.params, 0)[:2] if t.params else (10, 0)
        return f"CAST({extract} AS DECIMAL({precision}, {scale}))"
    if t.family == "binary" or k.charset == "binary":
        return f"UNHEX({extract})"
    if k.charset and k.collation:
        return f"CONVERT({extract} USING {k.charset}) COLLATE {k.collation}"
    return extract


def _compared(t: SqlType) -> str:
    """A temporal bound is cast back from its text to the column's type (TIMESTAMP: DATETIME, which the column
    is compared with in the session's time zone, as its text was written)."""
    fraction = f"({t.params[0]})" if t.params else ""
    cast = {"date": "DATE", "datetime": f"DATETIME{fraction}", "timestamp": f"DATETIME{fraction}",
            "time": f"TIME{fraction}"}.get(t.base)
    return f"CAST({{}} AS {cast})" if cast else "{}"


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
            column = self._col(k)
            extract = f"JSON_UNQUOTE(JSON_EXTRACT({CHECKPOINT}, '$[{i - 1}]'))"
            select = f"{column} + 0" if t.base == "enum" else f"CAST({column} AS DOUBLE)" if t.base == "float" \
                else column
            lo, hi, end = f"@djsqlgen_lo_{i}", f"@djsqlgen_hi_{i}", f"@djsqlgen_end_{i}"
            binary = t.family == "binary" or k.charset == "binary"
            out.append(KeyVariable(lo, hi, end, select, column, _typed(extract, t, k),
                                   f"HEX({hi})" if binary else f"CAST({hi} AS CHAR CHARACTER SET utf8mb4)",
                                   _compared(t)))
        return out

    @property
    def key_list(self) -> str:
        """The key columns in walk order (an ENUM orders by its index, as its numeric bound compares)."""
        return ", ".join(self._col(k) for k in self.key)

    @property
    def key_desc(self) -> str:
        return ", ".join(f"{self._col(k)} DESC" for k in self.key)

    @property
    def bound_select(self) -> str:
        """The SELECT list and INTO of a bound query: the key into the hi variables, and 1 into @djsqlgen_found
        (left 0 by the caller: no row, no bound)."""
        vs = self.variables
        return (f"SELECT {', '.join(v.select for v in vs)}, 1 INTO {', '.join(v.hi for v in vs)}, "
                "@djsqlgen_found")

    @property
    def capture_hi(self) -> str:
        """Conditions, true for every row, that keep the key of each driving row read in the hi variables: a copy
        that reads in key order (``ORDER BY key_list LIMIT n``, no filesort, no join buffer) ends with the chunk's
        last key in the hi variables, read once, with its row; the table's end is reached when that key is the end
        key. (A key column is never NULL; an assignment inside IS NOT NULL is kept by MariaDB, checked by the
        caller.) The rows read are not counted: a counter assigned per row cost 0.01-0.03 s of server CPU per
        1,000,000 rows, about 1 % of a bulk copy of narrow rows (issue 25: three int columns)."""
        return "\n  AND ".join(f"({v.hi} := {v.select}) IS NOT NULL" for v in self.variables)

    @property
    def lo_from_hi(self) -> str:
        return ", ".join(f"{v.lo} = {v.hi}" for v in self.variables)

    @property
    def decode_lo(self) -> str:
        return ", ".join(f"{v.lo} = {v.decode}" for v in self.variables)

    @property
    def decode_end(self) -> str:
        """The end variables from a checkpoint (the end key is kept as one, in the progress row)."""
        return ", ".join(f"{v.end} = {v.decode}" for v in self.variables)

    @property
    def encode_hi(self) -> str:
        return f"JSON_ARRAY({', '.join(v.encode_hi for v in self.variables)})"

    @property
    def after_lo(self) -> str:
        vs = self.variables
        return keyset_predicate([v.column for v in vs], [v.compared.format(v.lo) for v in vs], ">", ">")

    @property
    def upto_hi(self) -> str:
        vs = self.variables
        return keyset_predicate([v.column for v in vs], [v.compared.format(v.hi) for v in vs], "<", "<=")

    @property
    def upto_end(self) -> str:
        vs = self.variables
        return keyset_predicate([v.column for v in vs], [v.compared.format(v.end) for v in vs], "<", "<=")

    def on(self, other: Walk) -> Walk:
        """The same bounds over another table's key columns (aligned verify: v2 keys compare like v1's)."""
        return Walk(other.table_sql, other.alias, tuple(
            KeyColumn(o.name, k.sql_type, k.charset, k.collation) for o, k in zip(other.key, self.key)))
