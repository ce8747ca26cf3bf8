"""Just enough SQL type arithmetic to tell whether a retype can lose data."""

from __future__ import annotations

import re
from dataclasses import dataclass

_INT_BITS = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}
_FLOAT_DIGITS = {"float": 7, "double": 15, "real": 15}


@dataclass(frozen=True)
class SqlType:
    base: str
    params: tuple[int, ...]
    unsigned: bool
    text: str

    @property
    def family(self) -> str:
        if self.base in _INT_BITS:
            return "int"
        if self.base in ("decimal", "numeric", "dec", "fixed"):
            return "decimal"
        if self.base in _FLOAT_DIGITS:
            return "float"
        if self.base in ("char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"):
            return "string"
        if self.base in ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"):
            return "binary"
        if self.base in ("date", "datetime", "timestamp", "time", "year"):
            return "temporal"
        if self.base == "json":
            return "json"
        return self.base


_QUOTED = re.compile(r"'(?:[^']|'')*'")


def normalise_type(text: str) -> str:
    """A type for comparison: lower case and no spaces, except inside quoted enum/set values."""
    parts, last = [], 0
    for m in _QUOTED.finditer(text):
        parts.append(re.sub(r"\s+", "", text[last:m.start()]).lower())
        parts.append(m.group(0))
        last = m.end()
    parts.append(re.sub(r"\s+", "", text[last:]).lower())
    return "".join(parts)


def enum_values(text: str) -> list[str]:
    """The values of an enum/set type, with doubled quotes undone."""
    return [v[1:-1].replace("''", "'") for v in _QUOTED.findall(text)]


def parse_sql_type(text: str) -> SqlType:
    """``int(10) unsigned`` → SqlType('int', (10,), True)."""
    lowered = text.strip().lower()
    match = re.match(r"([a-z]+)\s*(?:\(([^)]*)\))?", lowered)
    base = match.group(1) if match else lowered
    params: tuple[int, ...] = ()
    if match and match.group(2) and base not in ("enum", "set"):
        params = tuple(int(p) for p in re.findall(r"\d+", match.group(2)))
    return SqlType(base, params, " unsigned" in lowered, text)


_TEXT_BYTES = {"tinytext": 255, "text": 65535, "mediumtext": 16777215, "longtext": 4294967295}
_BLOB_BYTES = {"tinyblob": 255, "blob": 65535, "mediumblob": 16777215, "longblob": 4294967295}


def _int_range(t: SqlType) -> tuple[int, int]:
    bits = _INT_BITS[t.base]
    return (0, 2**bits - 1) if t.unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def int_range(sql_type: str) -> tuple[int, int] | None:
    """The values an integer type holds, None for another type."""
    t = parse_sql_type(sql_type)
    return _int_range(t) if t.family == "int" else None


def _length(t: SqlType) -> int:
    if t.base in _TEXT_BYTES:
        return _TEXT_BYTES[t.base]
    if t.base in _BLOB_BYTES:
        return _BLOB_BYTES[t.base]
    return t.params[0] if t.params else 1


def byte_length(sql_type: str) -> int:
    """The most bytes a binary or blob column holds (``varbinary(8)``: 8, ``mediumblob``: 16 MiB - 1)."""
    return _length(parse_sql_type(sql_type))


def lossy_reason(source: str, target: str) -> str | None:
    """Why converting ``source`` values to ``target`` can truncate or round, or None when it cannot."""
    s, t = parse_sql_type(source), parse_sql_type(target)
    if normalise_type(s.text) == normalise_type(t.text):
        return None
    if s.family == "int" and t.family == "int":
        (slo, shi), (tlo, thi) = _int_range(s), _int_range(t)
        return None if tlo <= slo and shi <= thi else f"{source} values may not fit in {target}"
    if s.family == "int" and t.family == "decimal":
        digits = len(str(max(abs(v) for v in _int_range(s))))
        precision, scale = (t.params + (10, 0))[:2]
        return None if precision - scale >= digits else f"{source} values may not fit in {target}"
    if s.family == "int" and t.family == "float":
        return None if _INT_BITS[s.base] <= {"float": 16, "double": 32, "real": 32}[t.base] else (
            f"large {source} values lose precision in {target}"
        )
    if s.family == "decimal" and t.family == "decimal":
        sp, ss = (s.params + (10, 0))[:2]
        tp, ts = (t.params + (10, 0))[:2]
        return None if ts >= ss and tp - ts >= sp - ss else f"{source} values may not fit in {target}"
    if s.family == "float" and t.family == "float":
        return None if _FLOAT_DIGITS[t.base] >= _FLOAT_DIGITS[s.base] else f"{source} rounds to {target}"
    if s.family in ("string", "binary") and t.family == s.family and s.base not in ("enum", "set"):
        if t.base in ("enum", "set"):
            return f"{source} values outside {target} are rejected"
        return None if _length(t) >= _length(s) else f"{source} values longer than {_length(t)} are truncated"
    if s.base == t.base == "enum":
        return None if set(enum_values(s.text)) <= set(enum_values(t.text)) else (
            f"some {source} values are missing from {target}"
        )
    if s.base == "enum" and t.family == "string":
        longest = max((len(v) for v in enum_values(s.text)), default=0)
        return None if _length(t) >= longest else f"{source} values longer than {_length(t)} are truncated"
    if s.family == "temporal" and t.family == "temporal":
        if s.base == t.base:
            return None if (t.params or (0,))[0] >= (s.params or (0,))[0] else f"{source} loses fractional seconds"
        if s.base == "date" and t.base in ("datetime", "timestamp"):
            return None
        return f"{source} to {target} can change or lose values"
    if t.family == "string" and t.base not in ("enum", "set") and s.family in ("int", "decimal", "temporal"):
        return None if _length(t) >= 32 else f"{source} rendered as text may exceed {target}"
    return f"{source} to {target} is not a known lossless conversion"


SAME, INJECTIVE, MAY_MERGE = "same", "injective", "may_merge"


def key_comparison(source: str, source_collation: str | None, target: str, target_collation: str | None) -> str:
    """How a key column's values compare after a retype: ``same`` (same order and equality, so key ranges
    line up on both sides), ``injective`` (distinct values stay distinct, order may change) or ``may_merge``
    (two v1 keys can become one v2 key: a narrowing, or a collation that equates more, e.g. 'a' and 'ä')."""
    s, t = parse_sql_type(source), parse_sql_type(target)
    if normalise_type(source) == normalise_type(target) and source_collation == target_collation:
        return SAME
    if lossy_reason(source, target):
        return MAY_MERGE
    if s.family == "string" and t.family == "string" and s.base not in ("enum", "set") and t.base not in ("enum", "set"):
        if source_collation == target_collation:
            return SAME
        return INJECTIVE if (target_collation or "").endswith("_bin") else MAY_MERGE
    if s.base == "enum" and t.base == "enum":
        old, new = enum_values(source), enum_values(target)
        return SAME if new[: len(old)] == old else INJECTIVE
    if s.base == "enum" and t.family == "string":
        return INJECTIVE
    if s.family == t.family and s.family in ("int", "decimal", "float", "binary"):
        return SAME
    if s.family == "int" and t.family == "decimal":
        return SAME
    if s.base == "date" and t.base in ("datetime", "timestamp"):
        return SAME
    if s.family in ("int", "decimal", "temporal") and t.family == "string":
        return INJECTIVE
    return MAY_MERGE


# Longest character of a character set, in bytes (what a string column reserves per character).
CHARSET_MAXLEN = {"latin1": 1, "ascii": 1, "binary": 1, "latin2": 1, "latin5": 1, "latin7": 1, "cp1250": 1,
                  "cp1251": 1, "cp1252": 1, "cp1256": 1, "cp1257": 1, "greek": 1, "hebrew": 1, "koi8r": 1, "koi8u": 1,
                  "swe7": 1, "dec8": 1, "cp850": 1, "cp852": 1, "cp866": 1, "hp8": 1, "armscii8": 1, "geostd8": 1,
                  "tis620": 1, "keybcs2": 1, "macce": 1, "macroman": 1, "big5": 2, "gbk": 2, "gb2312": 2, "sjis": 2,
                  "cp932": 2, "euckr": 2, "ujis": 3, "eucjpms": 3, "gb18030": 4,
                  "utf8": 3, "utf8mb3": 3, "utf8mb4": 4, "ucs2": 2, "utf16": 4, "utf16le": 4, "utf32": 4}
# A character set not in the table above is counted at 4 bytes a character, the most any character set of MariaDB
# or MySQL takes (utf8mb4, utf16, utf32, gb18030): the size checks then refuse too much rather than let a table the
# server refuses through (counting it as 0 bytes did).
UNKNOWN_CHARSET_MAXLEN = 4


def charset_maxlen(charset: str | None) -> int:
    """Bytes of the longest character of ``charset`` (4 for a character set djsqlgen does not know)."""
    return CHARSET_MAXLEN.get((charset or "").lower(), UNKNOWN_CHARSET_MAXLEN)


_FIXED_BYTES = {"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "integer": 4, "bigint": 8, "float": 4,
                "double": 8, "real": 8, "date": 3, "year": 1, "time": 3, "datetime": 5, "timestamp": 4}
_POINTER_BYTES = {"tinyblob": 9, "tinytext": 9, "blob": 10, "text": 10, "mediumblob": 11, "mediumtext": 11,
                  "longblob": 12, "longtext": 12, "json": 12}  # what a BLOB/TEXT counts in the row limit
_DECIMAL_LEFTOVER = (0, 1, 1, 2, 2, 3, 3, 4, 4)  # bytes for 0-8 digits past whole groups of nine (4 bytes each)
ROW_LIMIT, KEY_LIMIT = 65535, 3072  # the server's row size limit; InnoDB's index key limit (DYNAMIC rows)
# InnoDB (strict mode, 16 KiB pages, DYNAMIC): a record must fit half a page. A column longer than 255 bytes can
# move off the page and leaves a 20-byte pointer; shorter ones stay whole. Measured on MariaDB 10.11: 32
# varchar(63) utf8mb4 columns (252 bytes each) and an int key create, 33 fail with 1118.
PAGE_RECORD_LIMIT, OFF_PAGE_POINTER, RECORD_OVERHEAD = 8126, 20, 18  # overhead: header 5, trx id 6, roll ptr 7


def in_page_bytes(sql_type: str, charset: str | None) -> int:
    """What a column takes in InnoDB's record at most, with what can move off the page moved (0 when unknown)."""
    t = parse_sql_type(sql_type)
    if t.base in ("tinyblob", "tinytext"):
        return 256
    if t.base in _POINTER_BYTES:
        return OFF_PAGE_POINTER + 2
    size = max_bytes(sql_type, charset, in_key=True)
    if size is None:
        return 0
    variable = t.base in ("varchar", "varbinary") or (t.base == "char" and charset_maxlen(charset) > 1)
    if variable and size > 255:
        return OFF_PAGE_POINTER + 2
    return size + (1 if variable else 0)


def max_bytes(sql_type: str, charset: str | None, in_key: bool = False) -> int | None:
    """The most bytes a column of ``sql_type`` takes in the row (``in_key``: in an index key), None when unknown
    (a TEXT or BLOB in a key; a character set not in CHARSET_MAXLEN counts 4 bytes a character)."""
    t = parse_sql_type(sql_type)
    if t.base in _FIXED_BYTES:
        fsp = (t.params[0] + 1) // 2 if t.params and t.base in ("datetime", "time", "timestamp") else 0
        return _FIXED_BYTES[t.base] + fsp
    if t.base in ("decimal", "numeric", "dec", "fixed"):
        precision, scale = t.params + (10, 0)[len(t.params):]  # decimal = (10,0), decimal(M) = (M,0)
        return sum(digits // 9 * 4 + _DECIMAL_LEFTOVER[digits % 9] for digits in (precision - scale, scale))
    if t.base in _POINTER_BYTES:
        return None if in_key else _POINTER_BYTES[t.base]
    if t.base in ("enum", "set"):
        return 2 if t.base == "enum" else 8
    if t.base == "bit":
        return ((t.params or (1,))[0] + 7) // 8
    if t.base in ("binary", "varbinary"):
        n = (t.params or (1,))[0]
        return n + (0 if t.base == "binary" or in_key else (1 if n < 256 else 2))
    if t.base in ("char", "varchar"):
        n = (t.params or (1,))[0] * charset_maxlen(charset)
        return n + (0 if t.base == "char" or in_key else (1 if n < 256 else 2))
    return None


_NOW = re.compile(r"(current_timestamp|now)\s*(\(\s*\d*\s*\))?$", re.IGNORECASE)
_NUMBER = re.compile(r"[+-]?(\d+)(?:\.(\d*))?(?:e[+-]?\d+)?$", re.IGNORECASE)
_TEMPORAL_TEXT = {  # the literal forms a strict server accepts without changing them (fraction: digits kept)
    "date": re.compile(r"\d{4}-\d{2}-\d{2}$"),
    "datetime": re.compile(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2}(?:\.(?P<fraction>\d+))?)?$"),
    "timestamp": re.compile(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2}(?:\.(?P<fraction>\d+))?)?$"),
    "time": re.compile(r"-?\d{1,3}:\d{2}:\d{2}(?:\.(?P<fraction>\d+))?$"),
    "year": re.compile(r"\d{4}$"),
}


def _unquoted(default: str) -> str | None:
    """The value of a quoted literal default (as heading reads it: ``'it''s'``), None when it is not one."""
    if len(default) >= 2 and default[0] == default[-1] == "'":
        return default[1:-1].replace("''", "'").replace("\\\\", "\\")
    return None


def _number_fits(text: str, t: SqlType) -> str | None:
    """Why the number ``text`` is no value of the numeric type ``t`` (None: it is one, unchanged)."""
    number = _NUMBER.match(text.strip())
    if not number:
        return f"{text} is not a number"
    if t.family == "float":
        return None
    if "e" in text.lower():
        return f"{text} is not written as {t.text} stores it"
    whole, fraction = number.group(1).lstrip("0"), (number.group(2) or "").rstrip("0")
    if t.family == "int":
        if fraction:
            return f"{text} is not a whole number"
        low, high = _int_range(t)
        return None if low <= int(float(text)) <= high else f"{text} is out of {t.text}'s range"
    precision, scale = (t.params + (10, 0))[:2]
    if t.unsigned and text.strip().startswith("-"):
        return f"{text} is below {t.text}'s range"
    if len(fraction) > scale:
        return f"{text} has more than {scale} decimals"
    return None if len(whole) <= precision - scale else f"{text} is out of {t.text}'s range"


def kept_default(default: str, sql_type: str) -> tuple[str | None, str | None]:
    """A column's default after a retype to ``sql_type``: ``(default, None)`` when it keeps its meaning in the new type
    (rewritten only where the type asks another spelling), else ``(None, why)``.

    Kept: NULL; a number or string that is a value of the new type unchanged (no rounding, no cut, a member of an
    enum, a date that is a date); CURRENT_TIMESTAMP into a DATETIME or TIMESTAMP, with the new type's fractional
    digits (MySQL requires the same precision in type and default: error 1067). A literal into a TEXT or BLOB is
    written as an expression, ``('…')``: MySQL 8.0.13+ refuses a literal default there (1101), MariaDB takes both.
    An expression default ``(…)`` cannot be judged without running it.
    """
    t = parse_sql_type(sql_type)
    text = default.strip()
    if text.upper() == "NULL":
        return default, None
    if _NOW.match(text):
        if t.base in ("datetime", "timestamp"):
            fsp = t.params[0] if t.params else 0
            return (f"CURRENT_TIMESTAMP({fsp})" if fsp else "CURRENT_TIMESTAMP"), None
        return None, f"CURRENT_TIMESTAMP is no value of {sql_type}"
    if text.startswith("("):
        return None, "an expression default cannot be checked against the new type"
    value = _unquoted(text)
    literal = value if value is not None else text
    if t.family in ("int", "decimal", "float"):
        why = _number_fits(literal, t)
        return (None, why) if why else (default, None)
    if value is None and not _NUMBER.match(text):
        return None, f"{text} is no literal of {sql_type}"
    if t.base in ("enum", "set"):
        members = enum_values(sql_type)
        found = literal.split(",") if t.base == "set" and literal else [literal]
        if all(m in members for m in found):
            return (default if value is not None else "'" + literal + "'"), None
        return None, f"{literal!r} is not one of {sql_type}'s values"
    if t.family in ("string", "binary"):
        size = len(literal.encode()) if t.family == "binary" else len(literal)
        if size > _length(t):
            return None, f"{literal!r} is longer than {sql_type} holds"
        quoted = default if value is not None else "'" + literal + "'"
        return (f"({quoted})" if t.base in _TEXT_BYTES or t.base in _BLOB_BYTES else quoted), None
    if t.family == "temporal" and t.base in _TEMPORAL_TEXT:
        found = _TEMPORAL_TEXT[t.base].match(literal)
        if not found or literal.startswith("0000"):
            return None, f"{literal!r} is not a {t.base} a strict server takes as it is"
        fraction = (found.groupdict().get("fraction") or "").rstrip("0")
        if len(fraction) > (t.params[0] if t.params else 0):
            return None, f"{literal!r} has more fractional seconds than {sql_type} keeps"
        return (default if value is not None else "'" + literal + "'"), None
    return None, f"a default cannot be carried into {sql_type}"
