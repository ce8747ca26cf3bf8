"""Row checksums for verify: an unambiguous encoding of every compared value, a 256-bit hash per row, and
a per-chunk aggregate in which rows neither cancel in pairs nor depend on order.

Pure: this module only builds SQL text; the verify engine puts it into its procedures and runs it.
Both sides of a comparison are built from the same list of values in the same order, described by
the **v2** column (type, character set), so v1 and v2 are hashed in the form v2 stores.

Encoding (one token per value, concatenated; the type of each position is known, so it decodes
unambiguously and no value can move into its neighbour):

========================  ======================================  ======
v2 type                   token (value x)                         NULL
========================  ======================================  ======
int, decimal, year        ``<x as text>,``                        ``N``
float, double             ``<e>:<M>,`` with x = M * 2^(e-53)      ``N``
date, datetime, time      ``<x as text>,``                        ``N``
timestamp                 ``<UNIX_TIMESTAMP(x)>,``                ``N``
char, varchar, enum,      ``<byte length>:<bytes>``               ``N``
binary, varbinary
text, blob, json          ``<SHA2(x, 256), 64 hex digits>``       ``N``
========================  ======================================  ======

Number, float and temporal text never contains ``,`` nor starts with ``N``; a length prefix starts
with a digit; a hex digest is 64 characters of ``0-9a-f``. So NULL, ``''`` and ``'NULL'`` differ,
``('x#y', 'z')`` differs from ``('x', 'y#z')`` and ``('ab', 'c')`` from ``('a', 'bc')``, and a FLOAT
or DOUBLE is compared bit for bit (not through CONCAT's 6 digits). Strings are compared as bytes,
never through a collation, so ``'alpha'``/``'ALPHA'`` and ``'beta'``/``'beta '`` differ even under a
``_ci`` PAD SPACE collation: they are different rows to DataJoint.

Large values (TEXT, BLOB, JSON) are hashed on their own and only their 64-character digest enters
the row string; the other values are bounded by the 65,535-byte row-size limit of non-LOB columns
(MySQL manual, "Limits on Table Column Count and Row Size"). So the row string stays far below
``max_allowed_packet`` (``max_encoded_bytes`` gives the bound) and CONCAT cannot return NULL
(warning 1301), whatever the size of a LONGBLOB.

Hash and aggregate: the row hash is ``SHA2(<row string>, 256)``; a chunk is summarised by
``COUNT(*)`` and the exact DECIMAL sums of the first two 64-bit words of the row hashes. Unlike
``BIT_XOR(CRC32(...))`` the sum is a multiset hash: equal changes in two rows do not cancel, a
duplicate row counts twice, and a swap of values between rows changes two unrelated 256-bit hashes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from djsqlgen.catalog.sqltypes import enum_values, parse_sql_type
from djsqlgen.sqltext.quoting import quote_literal


class Kind(Enum):
    """How a value is encoded, decided by the v2 column type."""

    NUMBER = "number"  # exact numbers: their text is exact and injective for a given type
    FLOAT = "float"  # FLOAT/DOUBLE: exact binary exponent and mantissa
    TEMPORAL = "temporal"  # date, datetime, time: fixed-format text
    TIMESTAMP = "timestamp"  # seconds since the epoch, independent of the session time zone
    BYTES = "bytes"  # bounded strings and byte strings, inline with a length prefix
    DIGEST = "digest"  # unbounded values (up to 4 GiB): hashed on their own


@dataclass(frozen=True)
class ComparedValue:
    """One value that verify compares, on either side.

    Parameters
    ----------
    sql : str
        SQL expression yielding the value in the form the v2 column stores it: on the v2 side the
        column itself (e.g. ```dst`.`weight```); on the v1 side the transform expression passed through
        ``as_stored`` (not needed when the v1 column has the very same type and character set).
    v2_type : str
        The v2 column's declared type as information_schema.COLUMNS.COLUMN_TYPE shows it, e.g.
        ``"float"``, ``"decimal(8,3)"``, ``"varchar(64)"``, ``"enum('a','b')"``, ``"binary(16)"``.
    v2_charset : str or None
        The v2 column's character set for string types (``"utf8mb4"``, ``"latin1"``), else None.
    """

    sql: str
    v2_type: str
    v2_charset: str | None = None

    @property
    def kind(self) -> Kind:
        """The encoding class, from the v2 type."""
        return value_kind(self.v2_type)


@dataclass(frozen=True)
class ChunkChecksum:
    """Select-list expressions that summarise the rows of one chunk on one side.

    Store them in the control table as ``row_count BIGINT UNSIGNED NOT NULL``, ``hash_hi DECIMAL(42,0)
    NOT NULL``, ``hash_lo DECIMAL(42,0) NOT NULL`` (``CHECKSUM_COLUMNS``), once per side; a chunk is
    equal on both sides when all three are equal.
    """

    row_count: str
    hash_hi: str
    hash_lo: str

    @property
    def select_list(self) -> str:
        """The three expressions, comma-separated, in ``CHECKSUM_COLUMNS`` order."""
        return f"{self.row_count}, {self.hash_hi}, {self.hash_lo}"


@dataclass(frozen=True)
class ControlColumn:
    """A column of the control table that stores one side's chunk checksum."""

    name: str
    sql_type: str


# SUM over BIGINT UNSIGNED returns DECIMAL(42,0) on MariaDB 10.11 (measured) and an exact DECIMAL on
# MySQL ("SUM() ... return a DECIMAL value for exact-value arguments", manual, Aggregate Function
# Descriptions). 42 digits hold 2^64 x 2^75 rows, so no chunk can overflow it. Not `rows`: ROWS is a
# reserved word in MySQL 8.0.2+ (window frames) and in MariaDB 10.11 (CREATE TABLE t (rows INT) fails, 1064).
CHECKSUM_COLUMNS = (
    ControlColumn("row_count", "BIGINT UNSIGNED NOT NULL"),
    ControlColumn("hash_hi", "DECIMAL(42,0) NOT NULL"),
    ControlColumn("hash_lo", "DECIMAL(42,0) NOT NULL"),
)

_INT = ("tinyint", "smallint", "mediumint", "int", "integer", "bigint", "bool", "boolean")
_DECIMAL = ("decimal", "numeric", "dec", "fixed")
_FLOAT = ("float", "double", "real")
_BYTES = ("char", "varchar", "enum", "binary", "varbinary")
_DIGEST = ("tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob", "json")
_BINARY = ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob")
# Bytes per character, for the size bound (information_schema.CHARACTER_SETS.MAXLEN).
_MAXLEN = {"latin1": 1, "ascii": 1, "binary": 1, "ucs2": 2, "utf8": 3, "utf8mb3": 3, "utf8mb4": 4, "utf16": 4,
           "utf16le": 4, "utf32": 4}
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_HEX64 = 16  # hex digits in a 64-bit word


def _name(sql: str) -> str:
    """A name of a character set or collation, checked (they cannot be quoted as identifiers everywhere)."""
    if not _NAME.match(sql):
        raise ValueError(f"row hash: {sql!r} is not a character set or collation name")
    return sql


def value_kind(v2_type: str) -> Kind:
    """The encoding class of a value stored in a column of type ``v2_type``.

    Parameters
    ----------
    v2_type : str
        Declared type of the v2 column.

    Returns
    -------
    Kind

    Raises
    ------
    ValueError
        For a type DataJoint does not declare (bit, set, spatial types).
    """
    base = parse_sql_type(v2_type).base
    if base in _INT or base in _DECIMAL or base == "year":
        return Kind.NUMBER
    if base in _FLOAT:
        return Kind.FLOAT
    if base in ("date", "datetime", "time"):
        return Kind.TEMPORAL
    if base == "timestamp":
        return Kind.TIMESTAMP
    if base in _BYTES:
        return Kind.BYTES
    if base in _DIGEST:
        return Kind.DIGEST
    raise ValueError(f"row hash: no encoding for the v2 type {v2_type!r}")


def as_stored(
    expr: str,
    v2_type: str,
    v2_charset: str | None = None,
    *,
    v2_collation: str | None = None,
    native_json: bool = False,
) -> str:
    """``expr`` (a v1 transform expression) converted as storing it into the v2 column converts it.

    The v1 side hashes this, the v2 side hashes the stored column, so a value that v2 stores
    differently (rounded, padded, re-encoded, canonicalised) is compared in v2's form. Where the
    conversion below differs from what storing does (noted at each case), correct data shows as a
    difference; it can hide a difference only if the copy made that very same wrong conversion.

    Parameters
    ----------
    expr : str
        SQL expression over v1 columns.
    v2_type : str
        Declared type of the v2 column.
    v2_charset : str or None
        Character set of the v2 column; required for string types.
    v2_collation : str or None
        Collation of the v2 column; only an ENUM uses it (the member a value matches depends on it).
    native_json : bool
        True on MySQL (a native JSON column); False on MariaDB, where JSON is LONGTEXT utf8mb4.

    Returns
    -------
    str
        SQL expression.

    Raises
    ------
    ValueError
        For a type whose storage conversion is not reproduced here (year, float(M,D)), or a string
        type without a character set.
    """
    t = parse_sql_type(v2_type)
    base = t.base
    if base in _INT:
        # Storing a DOUBLE rounds half to even (2.5 -> 2, 3.5 -> 4) and so does CAST (measured).
        # A string such as '3.7' is stored as 4 but CAST gives 3: write such a conversion into the
        # transform explicitly (it then shows as a difference here, not as a silent pass).
        return f"CAST({expr} AS {'UNSIGNED' if t.unsigned else 'SIGNED'})"
    if base in _DECIMAL:
        precision, scale = (t.params + (10, 0))[:2] if t.params else (10, 0)
        return f"CAST({expr} AS DECIMAL({precision},{scale}))"
    if base in _FLOAT:
        if len(t.params) > 1:
            raise ValueError(f"row hash: storing into {v2_type!r} rounds to its scale; not reproduced")
        single = base == "float" and (not t.params or t.params[0] <= 24)
        # CAST AS FLOAT/DOUBLE: MariaDB 10.4.5+, MySQL 8.0.17+ (manual, Cast Functions).
        return f"CAST({expr} AS {'FLOAT' if single else 'DOUBLE'})"
    if base == "date":
        return f"CAST({expr} AS DATE)"
    if base in ("datetime", "timestamp", "time"):
        # MariaDB truncates extra fractional digits both when storing and in CAST (measured); MySQL
        # rounds in both unless sql_mode has TIME_TRUNCATE_FRACTIONAL (manual, Fractional Seconds).
        # A TIMESTAMP is hashed as UNIX_TIMESTAMP of this DATETIME, converted from the session time
        # zone exactly as storing converts it.
        cast = "TIME" if base == "time" else "DATETIME"
        return f"CAST({expr} AS {cast}({t.params[0]}))" if t.params else f"CAST({expr} AS {cast})"
    if base == "json":
        if native_json:
            # MySQL stores JSON in a binary form and prints it canonically; CAST AS JSON does the same.
            return f"CAST({expr} AS JSON)"
        return f"CONVERT({expr} USING utf8mb4)"  # MariaDB: JSON is an alias of LONGTEXT utf8mb4_bin
    if base == "binary":
        # Pads with 0x00 to the length, as a BINARY(n) column does (manual, Cast Functions).
        return f"CAST({expr} AS BINARY({t.params[0] if t.params else 1}))"
    if base in _BINARY:
        # No CAST: a cast result longer than max_allowed_packet is NULL (warning 1301), and the hash
        # functions read the bytes of a string as they are, which is what a blob column stores.
        return expr
    if base in ("char", "varchar", "enum") or base in _DIGEST:
        if v2_charset is None:
            raise ValueError(f"row hash: the v2 column of type {v2_type!r} needs its character set")
        converted = f"CONVERT({expr} USING {_name(v2_charset)})"
        if base == "char":
            # CHAR strips trailing spaces when read (unless PAD_CHAR_TO_FULL_LENGTH, deprecated).
            return f"RTRIM({converted})"
        if base == "enum":
            # An ENUM stores the member the value matches under the column's collation, in the
            # member's own spelling ('A' and 'a ' store 'a'); FIELD/ELT reproduce it. Without
            # v2_collation FIELD uses the charset's default collation: utf8mb4_general_ci on MariaDB
            # 10.11, the accent-insensitive utf8mb4_0900_ai_ci on MySQL 8, so pass it there.
            members = ", ".join(quote_literal(m) for m in enum_values(v2_type))
            match = f"{converted} COLLATE {_name(v2_collation)}" if v2_collation else converted
            return f"CONVERT(ELT(FIELD({match}, {members}), {members}) USING {_name(v2_charset)})"
        return converted
    raise ValueError(f"row hash: storing into {v2_type!r} is not reproduced; compare identical types only")


def _float_token(d: str) -> str:
    """A DOUBLE ``d`` as ``<e>:<M>,`` with d = M * 2^(e-53) exactly, ``0,`` for zero, ``N`` for NULL.

    CONCAT prints a FLOAT with 6 significant digits, so two FLOATs that differ in the 7th print alike.
    CAST AS DOUBLE is exact for a FLOAT, and CONCAT prints a DOUBLE as the shortest text that reads back
    to it (measured), but that printing costs about 1 us per value, 4 times this exact decomposition
    (measured, bench/verify_hash_bench.py). Why it is exact: e = FLOOR(LOG2(|d|)) is the binary exponent
    or one more (LOG2 may round up just below a power of two); dividing by POW(2, e), a power of two, and
    multiplying by 2^53 change only the exponent, so M is an integer below 2^55 and (e, M) gives d back.
    Subnormal d: e <= -1023 and M stays an integer. LEAST(..., 1023): LOG2 of the largest doubles rounds
    to 1024, and POW(2, 1024) fails with error 1690 (measured). -0 and 0 are one value (they compare
    equal). Checked on 21,000 doubles (powers of two, their neighbours, subnormals, random bit patterns):
    tests/integration/test_rowhash_server.py decodes every token back to the stored double.
    """
    # MySQL: LOG2, POW, FLOOR and LEAST are the same C library functions on DOUBLE; POW raises the
    # same out-of-range error on overflow and none on underflow (manual, Mathematical Functions).
    e = f"LEAST(FLOOR(LOG2(ABS({d}))), 1023)"
    mantissa = f"CAST({d} / POW(2, {e}) * 9007199254740992 AS SIGNED)"
    return f"IFNULL(IF({d} = 0, '0,', CONCAT({e}, ':', {mantissa}, ',')), 'N')"


def value_token_sql(value: ComparedValue) -> str:
    """The SQL expression of one value's token in the row string (see the module docstring).

    Parameters
    ----------
    value : ComparedValue

    Returns
    -------
    str
        SQL expression that is never NULL.
    """
    x = value.sql
    kind = value.kind
    if kind is Kind.NUMBER:
        if "zerofill" in value.v2_type.lower():
            x = f"({x} + 0)"  # a ZEROFILL column prints its padding; the number is the value
        return f"IFNULL(CONCAT({x}, ','), 'N')"
    if kind is Kind.FLOAT:
        return _float_token(x if parse_sql_type(value.v2_type).base != "float" else f"CAST({x} AS DOUBLE)")
    if kind is Kind.TEMPORAL:
        return f"IFNULL(CONCAT({x}, ','), 'N')"
    if kind is Kind.TIMESTAMP:
        # Local time text is ambiguous in the hour repeated when DST ends; seconds since the epoch are not.
        return f"IFNULL(CONCAT(UNIX_TIMESTAMP({x}), ','), 'N')"
    if kind is Kind.BYTES:
        # CAST AS BINARY: the bytes as stored, compared without the collation (DESIGN.md, invariant 7),
        # and a CONCAT of mixed character sets never fails with 1267 (illegal mix of collations).
        # MySQL 8.0.27 deprecates the BINARY operator, not CAST(... AS BINARY).
        b = f"CAST({x} AS BINARY)"
        return f"IFNULL(CONCAT(LENGTH({b}), ':', {b}), 'N')"
    # SHA2 hashes the bytes of its argument in the argument's own character set (measured: latin1 'ä'
    # and utf8mb4 'ä' differ), so the v1 side must convert first (as_stored). No CAST or CONVERT on
    # the column itself: a cast result over max_allowed_packet is NULL (1301). SHA2 rather than MD5:
    # on MariaDB 10.11 an MD5 call on a short string costs about 5 times a SHA2 call, and MD5 made the
    # whole checksum about 45% slower (bench/verify_hash_bench.py); SHA1 costs the same as SHA2.
    # MySQL: SHA2 needs a server built with SSL support, which every MySQL 8 build is; a JSON column is
    # hashed as its canonical utf8mb4 text.
    return f"IFNULL(SHA2({x}, 256), 'N')"


def row_hash_sql(values: Sequence[ComparedValue]) -> str:
    """SQL expression of a row's hash: 64 hex digits of SHA-256 over the row's unambiguous encoding.

    Parameters
    ----------
    values : sequence of ComparedValue
        Every compared value of the row, key columns included, in the same order on both sides.

    Returns
    -------
    str
        SQL expression, never NULL; a CHAR(64) of ``0-9a-f``.
    """
    if not values:
        raise ValueError("row hash: no values to hash")
    tokens = ", ".join(value_token_sql(v) for v in values)
    return f"SHA2(CONCAT({tokens}), 256)"


def _word_sql(row_hash: str, word: int) -> str:
    """The ``word``-th 64-bit word of a hex row hash as BIGINT UNSIGNED.

    CONV works with 64-bit precision and treats its input as unsigned when to_base is positive (manual,
    Mathematical Functions); the CAST matters: SUM over CONV's string result would sum DOUBLEs.
    """
    return f"CAST(CONV(SUBSTRING({row_hash}, {word * _HEX64 + 1}, {_HEX64}), 16, 10) AS UNSIGNED)"


def aggregate_sql(row_hash: str) -> ChunkChecksum:
    """Aggregates of a chunk: row count and the exact sums of the row hash's first two 64-bit words.

    Parameters
    ----------
    row_hash : str
        A column or expression holding ``row_hash_sql``. Each of ``hash_hi`` and ``hash_lo`` reads it,
        so pass a column of a derived table (``chunk_checksum_sql``) to compute the hash once per row.

    Returns
    -------
    ChunkChecksum
        Never NULL, also for an empty chunk.
    """
    return ChunkChecksum(
        row_count="COUNT(*)",
        hash_hi=f"COALESCE(SUM({_word_sql(row_hash, 0)}), 0)",
        hash_lo=f"COALESCE(SUM({_word_sql(row_hash, 1)}), 0)",
    )


def chunk_checksum_sql(
    values: Sequence[ComparedValue], table: str, where: str | None = None, into: Sequence[str] = ()
) -> str:
    """SELECT of one side's chunk checksum (``row_count, hash_hi, hash_lo``) over the rows of a chunk.

    The row hash is computed once per row, in a derived table that is materialised, not merged into
    the outer query (which would compute it once per word): a LIMIT prevents merging on both servers
    (MySQL manual, "Optimizing Derived Tables ... with Merging or Materialization"; MariaDB
    optimizer_switch derived_merge; EXPLAIN shows DERIVED with the chunk's range scan). It holds 32
    ASCII characters per row, the two words, so a chunk of 100,000 rows stays in memory
    (tmp_table_size, 16 MiB by default).

    Parameters
    ----------
    values : sequence of ComparedValue
    table : str
        The FROM clause (```schema`.`table` AS src``, joins included).
    where : str or None
        The chunk's predicate; None for the whole table.
    into : sequence of str
        Three variables to SELECT ... INTO (inside a procedure), or empty for a result row.

    Returns
    -------
    str
        A SELECT statement giving one row.
    """
    if into and len(into) != len(CHECKSUM_COLUMNS):
        raise ValueError(f"row hash: SELECT ... INTO needs {len(CHECKSUM_COLUMNS)} variables, not {len(into)}")
    checksum = aggregate_sql("r.h")
    target = f" INTO {', '.join(into)}" if into else ""
    filtered = f" WHERE {where}" if where is not None else ""
    return (
        f"SELECT {checksum.select_list}{target} FROM "
        f"(SELECT CONVERT(LEFT({row_hash_sql(values)}, {2 * _HEX64}) USING ascii) AS h "
        f"FROM {table}{filtered} LIMIT 18446744073709551615) AS r"
    )


def max_encoded_bytes(values: Sequence[ComparedValue]) -> int:
    """An upper bound of the row string's length in bytes, to check against ``@@max_allowed_packet``.

    Parameters
    ----------
    values : sequence of ComparedValue

    Returns
    -------
    int
    """
    total = 0
    for v in values:
        t = parse_sql_type(v.v2_type)
        kind = v.kind
        if kind is Kind.NUMBER:
            total += (t.params[0] if t.base in _DECIMAL and t.params else 20) + 3
        elif kind in (Kind.FLOAT, Kind.TEMPORAL, Kind.TIMESTAMP):
            total += 27  # '-1.7976931348623157e308,' and 'YYYY-MM-DD hh:mm:ss.ffffff,'
        elif kind is Kind.BYTES:
            per_char = 1 if t.base in _BINARY else _MAXLEN.get((v.v2_charset or "").lower(), 4)
            if t.base == "enum":
                chars = max((len(m) for m in enum_values(v.v2_type)), default=0)
            else:
                chars = t.params[0] if t.params else 1
            total += chars * per_char + 6  # '65535:'
        else:
            total += 64
    return total
