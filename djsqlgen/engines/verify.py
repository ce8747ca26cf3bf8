"""Verify: per target, chunked checksums of transform(v1) against v2, with the strategy its key map allows.

- aligned: the v2 key is the driving key, compared the same way; each chunk compares the same key range
  on both sides (first chunk open below, last open above, so v2 rows outside v1's range are counted).
- keyed: chunks of the driving key; the v2 rows compared are those found by the chunk's mapped keys;
  whole-table counts taken in one snapshot at the end find v2 rows that no v1 row maps to.
- lookup (a distinct target): keyed chunks, so each v1 row's lookup row is compared with the row's own
  values (many v1 rows, one lookup row); no whole-table counts: a lookup row no v1 row uses is kept.
Each chunk runs in one consistent snapshot: a v1 write and its trigger's v2 write commit together, so
both sides are seen as of the same moment while writers go on.

Two-way sync (issue 24): each v1 table that syncs both ways is also checked against reverse(v2), with the same
fragments over the reverse model (its target is the v1 table, its driving table the v2 one), so keyed by v1's own
key. That way back is verified under its own id (``way_back_id``): its row of chunk_sql, its results.
"""

from __future__ import annotations

from djsqlgen.engines.context import Context
from djsqlgen.engines.keyset import CHUNK_RANGE, V2_CHUNK_RANGE
from djsqlgen.engines.rowhash import ComparedValue, aggregate_sql, as_stored, row_hash_sql
from djsqlgen.engines.split_back import owned_rows
from djsqlgen.engines.source import driving_walk, from_clause, target_walk, where_clause
from djsqlgen.engines.values import stored_key
from djsqlgen.model.part_back import merged_of
from djsqlgen.model.target import Target
from djsqlgen.sqltext import naming
from djsqlgen.sqltext.naming import WAY_BACK, way_back_id
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal, quote_qualified
from djsqlgen.sqltext.statements import Statement


def strategy(target: Target) -> str:
    """aligned, keyed, or lookup: keyed chunks without whole-table counts, since a lookup keeps the rows that no
    v1 row uses any more (the sync never deletes one)."""
    if target.source.distinct:
        return "lookup"
    return "aligned" if target.key_map.aligned else "keyed"


def _q(name: str) -> str:
    return quote_identifier(name)


def _source_hash(ctx: Context, target: Target) -> str:
    """The row hash of transform(v1): each computed or converted value first made what v2 stores."""
    values = []
    for c in _compared(target):
        sql = c.expr.render()
        if c.copied_from is None:
            sql = as_stored(sql, c.decl.sql_type, c.decl.charset, v2_collation=c.decl.collation,
                            native_json=ctx.dialect.native_json)
        values.append(ComparedValue(sql, c.decl.sql_type, c.decl.charset))
    return row_hash_sql(values)


def _compared(target: Target):
    """The columns verify compares: not an insert-only one (two-way: v2's own column, which v2 clients write and v1
    does not have, so transform(v1) knows only its default)."""
    return [c for c in target.columns if not c.insert_only]


def _target_hash(target: Target) -> str:
    return row_hash_sql([ComparedValue(f"dst.{_q(c.name)}", c.decl.sql_type, c.decl.charset)
                         for c in _compared(target)])


def _mapped_keys(target: Target) -> str:
    return ", ".join(f"{stored_key(c)} AS {_q(f'k_{i}')}" for i, c in enumerate(target.key_columns, 1))


def fragments(ctx: Context, target: Target) -> dict[str, str]:
    """The SQL pieces of the verify of ``target``: a chunk's (over ``{chunk range}``) and the whole table's."""
    walk = driving_walk(ctx.model, target)
    src_from = from_clause(target)
    src_where = where_clause(target, CHUNK_RANGE)
    dst = owned_rows(target)  # (a split side's way back: the v1 rows it owns)
    keys = target.key_columns
    dst_keys = ", ".join(f"dst.{_q(c.name)} AS {_q(f'k_{i}')}" for i, c in enumerate(keys, 1))
    if strategy(target) == "aligned":
        dst_rows_from = f"FROM {dst}\nWHERE {V2_CHUNK_RANGE}"
    else:
        on = " AND ".join(f"dst.{_q(c.name)} = m.{_q(f'k_{i}')}" for i, c in enumerate(keys, 1))
        dst_rows_from = f"FROM (\n  SELECT {_mapped_keys(target)}\n  {src_from}\n  {src_where}\n) AS m\nJOIN {dst} ON {on}"
    join = " AND ".join(f"s.{_q(f'k_{i}')} = d.{_q(f'k_{i}')}" for i in range(1, len(keys) + 1))
    key_json = lambda alias: "JSON_ARRAY(" + ", ".join(
        f"CAST({alias}.{_q(f'k_{i}')} AS CHAR)" for i in range(1, len(keys) + 1)) + ")"
    dst_walk = walk.on(target_walk(target))
    return {
        "dst_after_lo": dst_walk.after_lo if strategy(target) == "aligned" else "",
        "dst_upto_hi": dst_walk.upto_hi if strategy(target) == "aligned" else "",
        "src_rows": f"SELECT {_mapped_keys(target)}, {_source_hash(ctx, target)} AS h\n{src_from}\n{src_where}",
        "dst_rows": f"SELECT {dst_keys}, {_target_hash(target)} AS h\n{dst_rows_from}",
        "diff_join": join,
        "src_key_json": key_json("s"),
        "dst_key_json": key_json("d"),
        "src_total": f"SELECT COUNT(*) INTO @djsqlgen_src_rows\n{src_from}\n{where_clause(target)}".rstrip(),
        "mapped_keys_decl": ",\n".join(
            [f"{_q(f'k_{i}')} {c.decl.sql_type}"
             + (f" CHARACTER SET {c.decl.charset} COLLATE {c.decl.collation}" if c.decl.charset and c.decl.collation
                else "") + " NOT NULL" for i, c in enumerate(keys, 1)]
            + [f"PRIMARY KEY ({', '.join(_q(f'k_{i}') for i in range(1, len(keys) + 1))})"]),
        "mapped_keys_all": f"SELECT {_mapped_keys(target)}\n{src_from}\n{where_clause(target)}".rstrip(),
        "mapped_keys_match": " AND ".join(f"m.{_q(f'k_{i}')} = dst.{_q(c.name)}" for i, c in enumerate(keys, 1)),
        "dst_key_json_raw": "JSON_ARRAY(" + ", ".join(f"CAST(dst.{_q(c.name)} AS CHAR)" for c in keys) + ")",
        "dst_table": dst,
    }


def aggregate() -> str:
    """Row count and checksums of a chunk's rows (a derived table with each row's hash ``h``)."""
    checksum = aggregate_sql("h")
    return f"{checksum.row_count}, {checksum.hash_hi}, {checksum.hash_lo}"


def chunk_columns(ctx: Context, target: Target) -> dict[str, str]:
    """What checksum_chunk (and, for a keyed comparison, checksum_totals) reads of ``target`` in its row of
    chunk_sql; the walk is the backfill's."""
    f = fragments(ctx, target)
    keyed = strategy(target) == "keyed"
    return {"verify_strategy": strategy(target), "verify_src_rows": f["src_rows"], "verify_dst_rows": f["dst_rows"],
            "verify_dst_after_lo": f["dst_after_lo"], "verify_dst_upto_hi": f["dst_upto_hi"],
            "verify_diff_join": f["diff_join"], "verify_src_key_json": f["src_key_json"],
            "verify_dst_key_json": f["dst_key_json"],
            **{f"verify_{k}": f[k] if keyed else "" for k in ("src_total", "dst_table", "mapped_keys_decl",
                                                              "mapped_keys_all", "mapped_keys_match",
                                                              "dst_key_json_raw")}}


def way_back_call(target: Target) -> tuple[str, bool]:
    """verify_table_call of the way back of a two-way table (``target``: its v1 table in the reverse model)."""
    return way_back_id(target.id), strategy(target) == "keyed"


# Per-table procedures of earlier versions: the loop (now verify_table), a chunk (now checksum_chunk) and the
# whole-table counts (now checksum_totals).
EARLIER_KINDS = ("verify", "verify_chunk", "verify_total")


def verify_table_call(target: Target) -> tuple[str, bool]:
    """What verify_all passes to the shared verify_table for ``target``: its id, and whether whole-table counts
    follow its chunks (a keyed comparison)."""
    return target.id, strategy(target) == "keyed"


def drop_routines(ctx: Context, target: Target) -> list[Statement]:
    return [Statement(f"procedure_drop.{target.id}.{kind}",
                      f"DROP PROCEDURE IF EXISTS {quote_qualified((ctx.control, naming.target_routine(kind, target.id)))}",
                      f"{kind} procedure of {target.label} (earlier versions)") for kind in EARLIER_KINDS]


def checked_tables(ctx: Context, way_back: list[str]) -> str:
    """SQL of a derived table: every (table, direction) a verify run checks, with its labels and order: each progress
    row forward (way_back 0), and the way back (1) of the targets in ``way_back`` (ids), named by ``way_back_id``."""
    columns = "target_schema, target_table, source_schema, source_table, ordinal"
    sql = f"SELECT target_id, {columns}, 0 AS way_back FROM {ctx.control_table('progress')}"
    own = [i for i in way_back if merged_of(i) is None]
    if own:
        ids = ", ".join(quote_literal(i) for i in own)
        sql += (f"\n    UNION ALL\n    SELECT CONCAT(target_id, {quote_literal(WAY_BACK)}), {columns}, 1 "
                f"FROM {ctx.control_table('progress')} WHERE target_id IN ({ids})")
    for i in way_back:  # a merged part's way back, beside its master's (its v1 table named)
        if (found := merged_of(i)) is not None:
            sql += (f"\n    UNION ALL\n    SELECT {quote_literal(way_back_id(i))}, target_schema, target_table, "
                    f"source_schema, {quote_literal(found[1])}, ordinal, 1 FROM {ctx.control_table('progress')} "
                    f"WHERE target_id = {quote_literal(found[0])}")
    return sql
