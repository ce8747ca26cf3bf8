"""The way back of a 2.x ``<blob@store>`` column (ops/convert_external.py) into 0.14's reference, for two-way sync.

A 2.x blob value comes in two forms, and each goes back to a 0.14 reference that comes forward again as the same JSON:
- as the forward triggers write it from a 0.14 row (``schema`` v1's, ``path`` where 0.14 put the file): its hash is
  the md5 0.14 keys by, read back from the base32;
- as 2.x writes it (``schema`` v2's, ``path`` 2.x's own copy, ending in the hash): 0.14's ``~external_<store>`` keeps
  one row per content and no second path, so such a value gets a row of its own, keyed like 0.14's filepaths by the
  md5 of the path, with the path in ``filepath``. 0.14 reads a blob it cannot find at its own place from there
  (``SUPPORT_MIGRATED_BLOBS``, on in 0.14), and the forward join rebuilds 2.x's JSON from that row. The reverse
  trigger inserts the row before v1's (engines/external_rows.py); nothing deletes it (0.14's own delete of unused
  externals does).

A 2.x ``<attach@store>`` value is the same JSON over filename, NUL, contents, and goes back alike, with one more step:
0.14 reads an attachment only from ``<schema>/<h[0:2]>/<h[2:4]>/<h>.<attachment_name>`` (the contents alone), and
the JSON holds no file name. The trigger's row has no ``attachment_name`` and 2.x's size (name, NUL, contents): 0.14
cannot fetch the value yet. ``djsqlgen files --reverse`` (run/files_back.py) reads 2.x's file, writes 0.14's copy,
md5-checked, and fills in ``attachment_name`` and the contents' size; the forward join gives the same JSON before and
after (size: the contents', plus the name's and the NUL's bytes once the name is there).

A 2.x ``<filepath@store>`` value (``{path, store, size, is_dir, timestamp}``) refers to a file both versions read in
place; 0.14's reference is the md5 of the path, its row keyed so (``upload_filepath``), one row per path. Two things
of the JSON have no room in that row: 2.x's timestamp has microseconds (0.14's is a TIMESTAMP, seconds) and its text
is Python's (``json.dumps``: ``\\u`` escapes). So the reverse trigger keeps the JSON as written in the control
schema's ``filepath_json``, keyed by the v1 schema, store and reference, beside the ``~external_<store>`` row it
inserts; the forward expression prefers that JSON while the row is the one the trigger inserted (same size and
timestamp: 0.14 may delete an unused row and make it again). A value whose path v1 already holds with other
metadata (another size or time) is refused: 0.14 keeps one row per path. 0.14 checks the file's md5
(``contents_hash``), which 2.x's JSON lacks and SQL cannot read: ``djsqlgen files --reverse`` reads the file (never
writes it), checks its size and fills ``contents_hash``; until then 0.14's fetch fails its checksum, and 70 refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.catalog.types import KIND_ANGLE, external_table, split_comment
from djsqlgen.model.expr import ColumnRef, Expr
from djsqlgen.model.target import DRIVING, Model, Target
from djsqlgen.presets import dj2_sql
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal


KINDS = ("blob", "attach", "filepath")  # the external kinds that go back
KEPT_JSON_TABLE = "filepath_json"  # control schema: 2.x filepath JSON as written, for the way forward


@dataclass(frozen=True)
class ExternalBlob:
    """A v2 ``<blob@store>`` (or ``<attach@store>``) column made from a v1 reference into ``~external_<store>``,
    joined as ``alias``."""

    v2_column: str
    v1_column: str
    store: str
    alias: str
    kind: str = "blob"  # or "attach": 2.x's <attach@store> is the same <hash@store> JSON over filename, NUL, contents;
    # or "filepath": the md5 of the path


def external_blobs(target: Target) -> list[ExternalBlob]:
    """The target's columns that hold 0.14 external blobs or attachments as 2.x JSON (made by ConvertExternal)."""
    joins = {j.alias: j for j in target.source.joins}
    out = []
    for c in target.columns:
        marker, _ = split_comment(c.decl.comment)
        if marker is None or marker.kind != KIND_ANGLE or marker.name not in KINDS or not marker.store:
            continue
        driving = [r.name for r in c.expr.refs if r.alias == DRIVING]
        joined = {r.alias for r in c.expr.refs if r.alias in joins
                  and joins[r.alias].table.name == external_table(marker.store)}
        if len(set(driving)) == 1 and len(joined) == 1:
            out.append(ExternalBlob(c.name, driving[0], marker.store, joined.pop(), marker.name))
    return out


def external_aliases(target: Target) -> frozenset[str]:
    """The joins into ``~external_<store>`` read only for blobs that go back (no reason to stay one-way)."""
    blobs = external_blobs(target)
    mine, columns = {b.alias for b in blobs}, {b.v2_column for b in blobs}
    others = {a for c in target.columns if c.name not in columns for a in c.expr.aliases}
    return frozenset(mine - others)


def is_native(json_sql: str, v2_schema: str) -> str:
    """Whether a ``<blob@store>`` value is 2.x's own: v2's schema, and a path that ends in its hash."""
    return (f"({dj2_sql.json_text(json_sql, 'schema')} = {quote_literal(v2_schema)} AND "
            f"SUBSTRING_INDEX({dj2_sql.json_text(json_sql, 'path')}, '/', -1) = {dj2_sql.json_text(json_sql, 'hash')})")


def reference_sql(json_sql: str, v2_schema: str) -> str:
    """0.14's reference (binary(16)) for a ``<blob@store>`` value, NULL for NULL."""
    return (f"CASE WHEN {json_sql} IS NULL THEN NULL\n"
            f"  WHEN {is_native(json_sql, v2_schema)} THEN {dj2_sql.path_md5(dj2_sql.json_text(json_sql, 'path'))}\n"
            f"  ELSE {dj2_sql.md5_from_base32(dj2_sql.json_text(json_sql, 'hash'))} END")


def filepath_reference_sql(json_sql: str) -> str:
    """0.14's reference (binary(16)) for a ``<filepath@store>`` value: the md5 of its path; NULL for NULL."""
    return dj2_sql.path_md5(dj2_sql.json_text(json_sql, "path"))


def way_back_values(target: Target) -> dict[str, Expr]:
    """v1 column -> its reference computed from the v2 row, for each external blob of ``target``."""
    out = {}
    for blob in external_blobs(target):
        text = filepath_reference_sql("\0") if blob.kind == "filepath" else reference_sql("\0", target.schema)
        pieces = text.split("\0")
        out[blob.v1_column] = Expr(tuple(pieces), (ColumnRef(DRIVING, blob.v2_column),) * (len(pieces) - 1))
    return out


def blob_columns(target: Target) -> frozenset[str]:
    """The target's v2 columns that go back this way."""
    return frozenset(b.v2_column for b in external_blobs(target))


def row_insert(v1_schema: str, store: str, json_sql: str) -> str:
    """The ``~external_<store>`` row a 2.x-written blob (``is_native``) needs in v1, inserted unless there (run before v1's row, which
    refers to it), as 0.14 inserts its own: INSERT … ON DUPLICATE KEY UPDATE, which changes nothing on a row already
    there and locks it (exclusive) to the end of the transaction, as 0.14's does. No read first: ``IF EXISTS`` in a
    trigger that also writes the table is an exclusive locking read, gap included, on which two writers of different
    new values wait for each other; ``SELECT … INTO`` would fix the transaction's snapshot before the row another
    writer of the same value is inserting commits, and the forward triggers' compare would then not see that row.
    Two writers of the same new value: the second waits for the first to end, then changes nothing (no shared lock
    to upgrade, so no deadlock between the two; INSERT IGNORE would also hide a bad value)."""
    table = f"{quote_identifier(v1_schema)}.{quote_identifier(external_table(store))}"
    path = dj2_sql.json_text(json_sql, "path")
    ref = dj2_sql.path_md5(path)
    return (f"INSERT INTO {table} (`hash`, `size`, `filepath`)\n"
            f"VALUES ({ref}, {dj2_sql.json_text(json_sql, 'size')}, {path})\n"
            "ON DUPLICATE KEY UPDATE `hash` = `hash`")


def kept_json_sql(control: str, v1_schema: str, store: str, ref: str, size: str, stamp: str, built: str) -> str:
    """The forward JSON of a ``<filepath@store>`` value: the JSON 2.x wrote, kept in ``filepath_json`` by the reverse
    trigger, while the ``~external_<store>`` row (``ref``, ``size``, ``stamp``) is the one it was kept with; else
    ``built`` from that row (0.14's own, or one made again by 0.14 after its delete of unused externals)."""
    table = f"{quote_identifier(control)}.{quote_identifier(KEPT_JSON_TABLE)}"
    return (f"COALESCE((SELECT k.`json` FROM {table} AS k WHERE k.`schema_name` = {quote_literal(v1_schema)} "
            f"AND k.`store` = {quote_literal(store)} AND k.`reference` = {ref} AND k.`size` = {size} "
            f"AND k.`ext_timestamp` = {stamp}),\n  {built})")


def prefer_kept_json(model: Model, two_way: set[str], control: str) -> Model:
    """The forward model whose two-way ``<filepath@store>`` columns give back the JSON 2.x wrote (``kept_json_sql``);
    for the triggers, the backfill and verify, which run once 30 has made the table (not plan check's round trip)."""
    for target_id in sorted(two_way):
        target = model.target(target_id)
        wrapped = {}
        for blob in external_blobs(target):
            if blob.kind != "filepath":
                continue
            old = target.column(blob.v2_column).expr
            text = kept_json_sql(control, target.source.driving.schema, blob.store, "\0", "\0", "\0", "\0")
            head, ref_to_size, size_to_stamp, stamp_to_built, tail = text.split("\0")
            parts = (head, ref_to_size, size_to_stamp, stamp_to_built + old.parts[0], *old.parts[1:-1],
                     old.parts[-1] + tail)
            refs = (ColumnRef(DRIVING, blob.v1_column), ColumnRef(blob.alias, "size"),
                    ColumnRef(blob.alias, "timestamp"), *old.refs)
            wrapped[blob.v2_column] = Expr(parts, refs)
        if wrapped:
            columns = tuple(replace(c, expr=wrapped[c.name]) if c.name in wrapped else c for c in target.columns)
            model = model.replace_target(replace(target, columns=columns))
    return model


def without_kept_json(expr: Expr) -> Expr:
    """``expr`` as 0.14's row alone gives it, without ``prefer_kept_json``'s preference: for the transform trial of
    00 and plan check, which run before 30 has made ``filepath_json``."""
    if len(expr.refs) < 4 or f"`{KEPT_JSON_TABLE}` AS k" not in expr.parts[0]:
        return expr
    _, _, _, stamp_to_built, tail = kept_json_sql("c", "s", "x", "\0", "\0", "\0", "\0").split("\0")
    if not expr.parts[3].startswith(stamp_to_built) or not expr.parts[-1].endswith(tail):
        return expr
    parts = (expr.parts[3][len(stamp_to_built):], *expr.parts[4:-1], expr.parts[-1][:-len(tail)])
    return Expr(parts, expr.refs[3:])


def has_filepaths(model: Model, two_way) -> bool:
    """Whether a two-way target has a ``<filepath@store>`` column going back (30 makes ``filepath_json`` then)."""
    return any(b.kind == "filepath" for t in two_way for b in external_blobs(model.target(t)))


def filepath_row_sql(control: str, v1_schema: str, store: str, json_sql: str, refused_shape: str,
                     refused_other: str, native_json: bool = False, path_charset: str | None = None) -> str:
    """The reverse trigger's block for a ``<filepath@store>`` value (not NULL): its ``~external_<store>`` row, keyed
    by the md5 of the path, inserted unless there (``row_insert``: no read first); the JSON as written kept for a
    row the triggers made (``contents_hash`` NULL: 0.14 always fills it; a kept JSON still current is not replaced);
    then the value refused unless the row gives it back exactly (``refused_other``: v1 has the path with other
    metadata). Both reads follow the upsert, so they read a row this transaction holds locked. ``refused_shape``: no
    row for 0.14 (a directory, another store, no size, a path 0.14 would read elsewhere). ``native_json`` (MySQL):
    v2's column is JSON, which a string never equals (a string operand is a JSON string scalar there): the way
    forward is compared as JSON; MySQL keeps no JSON text byte for byte anyway. ``path_charset``: that of v1's
    ``filepath`` column (latin1 in most 0.14 schemas): a path it cannot hold is refused by ``refused_shape`` too."""
    table = f"{quote_identifier(v1_schema)}.{quote_identifier(external_table(store))}"
    kept = f"{quote_identifier(control)}.{quote_identifier(KEPT_JSON_TABLE)}"
    path, size = dj2_sql.json_text(json_sql, "path"), dj2_sql.json_text(json_sql, "size")
    ref = dj2_sql.path_md5(path)
    shape = (f"{dj2_sql.json_text(json_sql, 'store')} <=> {quote_literal(store)} "
             f"AND {dj2_sql.json_text(json_sql, 'is_dir')} <=> 'false' "
             f"AND JSON_TYPE(JSON_EXTRACT({json_sql}, '$.size')) <=> 'INTEGER' AND {size} >= 0 "
             f"AND CHAR_LENGTH({path}) BETWEEN 1 AND 1000 AND {path} NOT LIKE '/%'")
    if path_charset and path_charset.lower() not in ("utf8mb4", "utf8mb3", "utf8"):
        # through v1's character set and back unchanged (binary compare: a '?' in place of a character is no match)
        shape += (f" AND CAST(CONVERT(CONVERT({path} USING {path_charset}) USING utf8mb4) AS BINARY) "
                  f"= CAST(CONVERT({path} USING utf8mb4) AS BINARY)")
    built = dj2_sql.filepath_json("e.`hash`", "e.`filepath`", store, "e.`size`", "e.`timestamp`")
    forward = kept_json_sql(control, v1_schema, store, "e.`hash`", "e.`size`", "e.`timestamp`", built)
    if native_json:
        forward = f"CAST({forward} AS JSON)"
    return (f"IF NOT ({shape}) THEN\n"
            f"  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {quote_literal(refused_shape)};\n"
            "END IF;\n"
            f"{row_insert(v1_schema, store, json_sql)};\n"
            f"INSERT INTO {kept} (`schema_name`, `store`, `reference`, `size`, `ext_timestamp`, `json`)\n"
            f"SELECT {quote_literal(v1_schema)}, {quote_literal(store)}, e.`hash`, e.`size`, e.`timestamp`, "
            f"{json_sql}\n"
            f"FROM {table} AS e WHERE e.`hash` = {ref} AND e.`contents_hash` IS NULL\n"
            "ON DUPLICATE KEY UPDATE\n"  # the kept row named: e has a size too
            f"  `json` = IF({kept}.`size` = VALUES(`size`) AND {kept}.`ext_timestamp` = VALUES(`ext_timestamp`), "
            f"{kept}.`json`, VALUES(`json`)),\n"
            f"  `size` = VALUES(`size`), `ext_timestamp` = VALUES(`ext_timestamp`);\n"
            f"IF NOT EXISTS (SELECT 1 FROM {table} AS e WHERE e.`hash` = {ref}\n"
            f"    AND {forward.replace(chr(10), chr(10) + '    ')} = {json_sql}) THEN\n"
            f"  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {quote_literal(refused_other)};\n"
            "END IF")
