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
"""

from __future__ import annotations

from dataclasses import dataclass

from djsqlgen.catalog.types import KIND_ANGLE, external_table, split_comment
from djsqlgen.model.expr import ColumnRef, Expr
from djsqlgen.model.target import DRIVING, Target
from djsqlgen.presets import dj2_sql
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal


KINDS = ("blob", "attach")  # the external kinds that go back (a filepath does not yet: ops/convert_external.py)


@dataclass(frozen=True)
class ExternalBlob:
    """A v2 ``<blob@store>`` (or ``<attach@store>``) column made from a v1 reference into ``~external_<store>``,
    joined as ``alias``."""

    v2_column: str
    v1_column: str
    store: str
    alias: str
    kind: str = "blob"  # or "attach": 2.x's <attach@store> is the same <hash@store> JSON over filename, NUL, contents


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


def way_back_values(target: Target) -> dict[str, Expr]:
    """v1 column -> its reference computed from the v2 row, for each external blob of ``target``."""
    out = {}
    for blob in external_blobs(target):
        text = reference_sql("\0", target.schema)
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
