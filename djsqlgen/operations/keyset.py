"""SQL fragments for walking a table in primary-key order, shared by the backfill and verify procedures.

Keyset predicates are written in the expanded form ``a > x OR (a = x AND b > y)``: MariaDB and
MySQL range-optimise it, while the row constructor ``(a, b) > (x, y)`` becomes a full index scan
(measured, DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from djsqlgen.catalog.sqltypes import parse_sql_type
from djsqlgen.operations.mapping import TableMapping, TargetColumn
from djsqlgen.output.naming import table_id
from djsqlgen.output.quoting import quote_identifier
from djsqlgen.output.render import quote_qualified


def keyset_predicate(columns: list[str], values: list[str], strict: str, last: str) -> str:
    """``columns`` after (strict ``>``, last ``>``) or up to (``<``, ``<=``) ``values``, expanded form."""
    column, value = columns[0], values[0]
    if len(columns) == 1:
        return f"{column} {last} {value}"
    rest = keyset_predicate(columns[1:], values[1:], strict, last)
    return f"({column} {strict} {value} OR ({column} = {value} AND {rest}))"


@dataclass(frozen=True)
class KeyVariable:
    lo: str
    hi: str
    declared_type: str
    decode: str  # the lo variable's value from the JSON checkpoint v_checkpoint
    encode_lo: str
    encode_hi: str


def _declared_type(column: TargetColumn, source_type: str, charset: str | None, collation: str | None) -> str:
    if charset and collation:
        return f"{source_type} CHARACTER SET {charset} COLLATE {collation}"
    return source_type


def _encode(var: str, binary: bool) -> str:
    """A key value as JSON array text: hex for binary keys (uuid), CAST AS CHAR for the rest."""
    return f"HEX({var})" if binary else f"CAST({var} AS CHAR)"


@dataclass(frozen=True)
class Keyset:
    """Everything the chunked procedures need to know about one mapping's key."""

    mapping: TableMapping

    @property
    def table_id(self) -> str:
        return table_id(self.mapping.source.schema, self.mapping.source.name)

    @property
    def source(self) -> str:
        return quote_qualified((self.mapping.source.schema, self.mapping.source.name)) + " AS src"

    @property
    def target(self) -> str:
        return quote_qualified((self.mapping.target_schema, self.mapping.target_name)) + " AS dst"

    @property
    def source_label(self) -> str:
        return f"{self.mapping.source.schema}.{self.mapping.source.name}"

    @property
    def target_label(self) -> str:
        return f"{self.mapping.target_schema}.{self.mapping.target_name}"

    @property
    def _keys(self) -> tuple[TargetColumn, ...]:
        return self.mapping.key_columns

    @property
    def variables(self) -> list[KeyVariable]:
        out = []
        for i, key in enumerate(self._keys, start=1):
            attr = self.mapping.source.attribute(key.source_column)
            binary = parse_sql_type(attr.sql_type).family == "binary"
            extract = f"JSON_UNQUOTE(JSON_EXTRACT(v_checkpoint, '$[{i - 1}]'))"
            out.append(
                KeyVariable(
                    lo=f"v_lo_{i}",
                    hi=f"v_hi_{i}",
                    declared_type=_declared_type(key, attr.sql_type, attr.charset, attr.collation),
                    decode=f"UNHEX({extract})" if binary else extract,
                    encode_lo=_encode(f"v_lo_{i}", binary),
                    encode_hi=_encode(f"v_hi_{i}", binary),
                )
            )
        return out

    def _source_cols(self, alias: str = "src") -> list[str]:
        return [f"{alias}.{quote_identifier(k.source_column)}" for k in self._keys]

    def _target_cols(self, alias: str = "dst") -> list[str]:
        return [f"{alias}.{quote_identifier(k.name)}" for k in self._keys]

    @property
    def source_key_list(self) -> str:
        return ", ".join(self._source_cols())

    @property
    def source_key_desc(self) -> str:
        return ", ".join(f"{c} DESC" for c in self._source_cols())

    @property
    def hi_list(self) -> str:
        return ", ".join(v.hi for v in self.variables)

    @property
    def after_lo(self) -> str:
        return keyset_predicate(self._source_cols(), [v.lo for v in self.variables], ">", ">")

    @property
    def upto_hi(self) -> str:
        return keyset_predicate(self._source_cols(), [v.hi for v in self.variables], "<", "<=")

    @property
    def target_after_lo(self) -> str:
        return keyset_predicate(self._target_cols(), [v.lo for v in self.variables], ">", ">")

    @property
    def target_upto_hi(self) -> str:
        return keyset_predicate(self._target_cols(), [v.hi for v in self.variables], "<", "<=")

    def chunk_predicate(self, with_lower: bool) -> str:
        """The backfill chunk: after the checkpoint (when there is one) and up to the upper bound."""
        return f"{self.after_lo}\n  AND {self.upto_hi}" if with_lower else self.upto_hi

    # -- checksums --------------------------------------------------------------------------
    @staticmethod
    def _row_crc(values: list[str]) -> str:
        """CRC32 of a row, NULL-safe: CONCAT_WS skips NULLs, so a bitmap of which values are NULL
        is appended (pt-table-checksum's approach); '#' separates the values."""
        nulls = ", ".join(f"ISNULL({v})" for v in values)
        return f"CRC32(CONCAT_WS('#', {', '.join(values)}, CONCAT({nulls})))"

    @property
    def source_crc(self) -> str:
        return self._row_crc([c.verify_sql(c.source_sql) for c in self.mapping.columns])

    @property
    def target_crc(self) -> str:
        return self._row_crc([c.verify_sql(f"dst.{quote_identifier(c.name)}") for c in self.mapping.columns])

    @property
    def source_verify_range(self) -> str:
        """The verify chunk on v1: open below on the first chunk, open above on the last."""
        return f"(v_has_lo = 0 OR {self.after_lo}) AND (v_last_chunk = 1 OR {self.upto_hi})"

    @property
    def target_verify_range(self) -> str:
        """The same chunk on v2, through v2's key column names."""
        return f"(v_has_lo = 0 OR {self.target_after_lo}) AND (v_last_chunk = 1 OR {self.target_upto_hi})"

    @staticmethod
    def _rows(key_columns: list[str], crc: str, table: str, where: str) -> str:
        """Key (as k_1, k_2, ...) and row checksum of every row of a verify chunk."""
        keys = ", ".join(f"{c} AS {quote_identifier(f'k_{i}')}" for i, c in enumerate(key_columns, 1))
        return f"SELECT {keys}, {crc} AS row_crc FROM {table} WHERE {where}"

    @property
    def source_rows(self) -> str:
        return self._rows(self._source_cols(), self.source_crc, self.source, self.source_verify_range)

    @property
    def target_rows(self) -> str:
        return self._rows(self._target_cols(), self.target_crc, self.target, self.target_verify_range)

    @property
    def diff_join(self) -> str:
        return " AND ".join(
            f"s.{quote_identifier(f'k_{i}')} = d.{quote_identifier(f'k_{i}')}" for i in range(1, len(self._keys) + 1)
        )

    def diff_key_json(self, alias: str) -> str:
        parts = []
        for i, v in enumerate(self.variables, 1):
            column = f"{alias}.{quote_identifier(f'k_{i}')}"
            parts.append(f"HEX({column})" if v.decode.startswith("UNHEX") else f"CAST({column} AS CHAR)")
        return f"JSON_ARRAY({', '.join(parts)})"
