"""What DataJoint 2.x stores for 0.14's external references, computed on the server from 0.14's rows.

0.14 keeps an external value's md5 in the referring column (binary(16), a foreign key into
``~external_<store>``) and the file at ``<location>/<schema>/<h[0:2]>/<h[2:4]>/<h>`` (``h`` the md5 in
lower-case hex). 2.x keeps JSON in the column: ``{hash, path, schema, store, size}``, where ``hash`` is
the same md5 in base32 (lower case, no padding, 26 characters) and ``path`` is read as stored, so the
JSON can point at 0.14's files where they are. Each function returns SQL text over backquoted
``alias`.`column`` references, parsed into the model by the operation that uses it.
"""

from __future__ import annotations

from djsqlgen.sqltext.quoting import quote_literal

BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def base32_md5(md5_sql: str) -> str:
    """The 26-character lower-case base32 of a binary(16) md5 (Python's ``b32encode(...).lower()``
    without padding), in SQL. Five bytes are exactly eight base32 digits: three groups of five bytes
    give 24 digits, the last byte (padded with two zero bits) the last two."""
    alphabet = quote_literal(BASE32_ALPHABET)
    digits = []
    for group in range(3):
        value = f"CAST(CONV(HEX(SUBSTRING({md5_sql}, {5 * group + 1}, 5)), 16, 10) AS UNSIGNED)"
        digits += [f"SUBSTRING({alphabet}, 1 + (({value} >> {35 - 5 * j}) & 31), 1)" for j in range(8)]
    last = f"ASCII(SUBSTRING({md5_sql}, 16, 1))"
    digits += [f"SUBSTRING({alphabet}, 1 + ({last} >> 3), 1)", f"SUBSTRING({alphabet}, 1 + (({last} & 7) << 2), 1)"]
    return "CONCAT(" + ",\n    ".join(digits) + ")"


DEFAULT_SUBFOLDING = (2, 2)  # 0.14's, for a store whose spec names none


def legacy_path(md5_sql: str, schema: str, suffix_sql: str | None = None,
                subfolding: tuple[int, ...] = DEFAULT_SUBFOLDING) -> str:
    """Where 0.14 put an external blob or attachment: ``<schema>/<h[0:2]>/<h[2:4]>/<h>[suffix]`` with the default
    subfolding (2, 2); one folder per entry of ``subfolding``, of that many hex digits."""
    hexed = f"LOWER(HEX({md5_sql}))"
    parts = [quote_literal(schema + "/")]
    start = 1
    for width in subfolding:
        parts += [f"SUBSTRING({hexed}, {start}, {width})", "'/'"]
        start += width
    parts.append(hexed)
    if suffix_sql:
        parts.append(suffix_sql)
    return "CONCAT(" + ", ".join(parts) + ")"


def hash_json(md5_sql: str, path_sql: str, schema: str, store: str, size_sql: str) -> str:
    """2.x's ``<hash@store>`` metadata (what ``<blob@store>`` and ``<attach@store>`` keep), NULL for NULL."""
    return (f"CASE WHEN {md5_sql} IS NULL THEN NULL ELSE JSON_OBJECT(\n"
            f"  'hash', {base32_md5(md5_sql)},\n"
            f"  'path', {path_sql},\n"
            f"  'schema', {quote_literal(schema)},\n"
            f"  'store', {quote_literal(store)},\n"
            f"  'size', {size_sql}) END")


def filepath_json(md5_sql: str, path_sql: str, store: str, size_sql: str, timestamp_sql: str) -> str:
    """2.x's ``<filepath@store>`` metadata: ``{path, store, size, is_dir, timestamp}``, NULL for NULL."""
    return (f"CASE WHEN {md5_sql} IS NULL THEN NULL ELSE JSON_OBJECT(\n"
            f"  'path', {path_sql},\n"
            f"  'store', {quote_literal(store)},\n"
            f"  'size', {size_sql},\n"
            f"  'is_dir', JSON_EXTRACT('false', '$'),\n"
            f"  'timestamp', {utc_iso(timestamp_sql)}) END")


def utc_iso(timestamp_sql: str) -> str:
    """A TIMESTAMP as ISO 8601 in UTC (what 2.x writes), the same in every session: a TIMESTAMP reads in the
    session's time zone, so the backfill, a 0.14 client's trigger and verify would each print it differently;
    UNIX_TIMESTAMP gives the stored instant."""
    return (f"DATE_FORMAT('1970-01-01 00:00:00' + INTERVAL UNIX_TIMESTAMP({timestamp_sql}) SECOND, "
            "'%Y-%m-%dT%H:%i:%s+00:00')")


def md5_from_base32(hash_sql: str) -> str:
    """The binary(16) md5 whose 2.x hash (``base32_md5``) is the 26 characters ``hash_sql``, in SQL: each character is
    five bits (its place in the alphabet), eight of them five bytes; the last two give the last byte and two zero
    bits. NULL for NULL."""
    alphabet = quote_literal(BASE32_ALPHABET)

    def digit(i: int) -> str:
        return f"(LOCATE(SUBSTRING({hash_sql}, {i + 1}, 1), {alphabet}) - 1)"

    groups = []
    for group in range(3):
        value = " + ".join(f"({digit(8 * group + j)} << {35 - 5 * j})" for j in range(8))
        groups.append(f"LPAD(HEX({value}), 10, '0')")
    groups.append(f"LPAD(HEX(({digit(24)} << 3) | ({digit(25)} >> 2)), 2, '0')")
    return "UNHEX(CONCAT(" + ",\n    ".join(groups) + "))"


def json_text(json_sql: str, key: str) -> str:
    """A JSON value's member as text (JSON_UNQUOTE over JSON_EXTRACT: MySQL 8 and MariaDB alike)."""
    return f"JSON_UNQUOTE(JSON_EXTRACT({json_sql}, {quote_literal('$.' + key)}))"


def path_md5(path_sql: str) -> str:
    """0.14's reference for a file it knows by path (its filepath type; here also a 2.x blob it reads where 2.x put
    it): the md5 of the path in UTF-8."""
    return f"UNHEX(MD5(CONVERT({path_sql} USING utf8mb4)))"
