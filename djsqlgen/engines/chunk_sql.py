"""A target's row of the control table chunk_sql: its own statements, which the shared chunk procedures run as
dynamic SQL (backfill_chunk copies with them, checksum_chunk and checksum_totals verify with them,
check_references walks v2 with them; each foreign key's orphan query is a row of reference_sql).

The row holds the walk of the driving table's key (its bounds are session variables ``@djsqlgen_lo_1``, … and
``@djsqlgen_hi_1``, …, each cast to its key column's own type), the backfill's copy of one chunk and verify's
row hashes of both sides. ``{chunk range}`` in a statement stands for the chunk's key range over v1 and
``{v2 chunk range}`` for the same range over v2; the procedures put the range in. A DBA reviews a table's
migration as these few statements, and 20_routines stays small however many tables the plan has.
"""

from __future__ import annotations

from djsqlgen.engines import backfill, collisions, constraints, verify
from djsqlgen.engines.context import Context
from djsqlgen.engines.keyset import CHUNK_RANGE, CHUNK_ROWS, V2_CHUNK_RANGE
from djsqlgen.engines.source import driving_walk
from djsqlgen.errors import UnsupportedError
from djsqlgen.model.target import Target
from djsqlgen.sqltext import naming
from djsqlgen.sqltext.quoting import quote_literal
from djsqlgen.sqltext.statements import Statement


def walk_columns(ctx: Context, target: Target) -> dict[str, str]:
    """The walk of ``target``'s driving key in session variables."""
    walk = driving_walk(ctx.model, target)
    return {
        "walk_from": walk.source,
        "key_select": walk.bound_select,
        "key_order": walk.key_list,
        "key_order_desc": walk.key_desc,
        "after_lo": walk.after_lo,
        "upto_hi": walk.upto_hi,
        "upto_end": walk.upto_end,
        "lo_from_checkpoint": walk.decode_lo,
        "hi_checkpoint": walk.encode_hi,
        "end_from_checkpoint": walk.decode_end,
    }


def row(ctx: Context, target: Target) -> dict[str, str]:
    """``target``'s row of chunk_sql, column by column; refused if the plan's SQL holds a range marker."""
    values = {"target_id": target.id, "plan_hash": ctx.migration_hash, **walk_columns(ctx, target),
              "copy_chunk": backfill.copy_chunk(ctx, target),
              "merge_check": collisions.first_merge(ctx, target), **verify.chunk_columns(ctx, target),
              **constraints.walk_columns(ctx, target)}
    aligned = values["verify_strategy"] == "aligned"
    _check_markers(target, values, {"copy_chunk": (1, 0), "verify_src_rows": (1, 0),
                                    "verify_dst_rows": (0, 1) if aligned else (1, 0)})
    _check_markers(target, values, {"copy_chunk": (int(backfill.finds_chunk_end(ctx, target)), 0)}, CHUNK_ROWS)
    return values


def _check_markers(target: Target, values: dict[str, str], expected: dict[str, tuple[int, int]],
                   first: str = CHUNK_RANGE, second: str = V2_CHUNK_RANGE) -> None:
    """The procedures put the key range (and a copy's chunk rows) where the markers are, so the plan's own SQL
    (a filter, an expression) must not contain one: it would be replaced too."""
    for column, counts in expected.items():
        found = (values[column].count(first), values[column].count(second))
        if found != counts:
            marker = first if found[0] != counts[0] else second
            raise UnsupportedError(f"{target.label}: the plan's SQL contains the text {marker}, which djsqlgen uses to "
                                   "mark where a chunk's key range goes; write it another way (e.g. CONCAT('{', "
                                   f"'{marker[1:]}'))")


def way_back_row(reverse: Context, target: Target) -> dict[str, str]:
    """The chunk_sql row of the way back of a two-way table: ``target`` is its v1 table in the reverse model (driven
    by its v2 table), checked by the same verify statements under ``naming.way_back_id``; nothing is copied or
    walked for references with it, so those columns are empty."""
    try:
        checked = verify.chunk_columns(reverse, target)
    except ValueError as exc:  # a v1 type whose storing the row hash does not reproduce (rowhash.as_stored)
        raise UnsupportedError(f"{target.label}: verify cannot check it against reverse(v2): {exc}; write `sync: "
                               f"one-way` under {target.plan_key}") from None
    values = {"target_id": naming.way_back_id(target.id), "plan_hash": reverse.migration_hash,
              **walk_columns(reverse, target), "copy_chunk": "", "merge_check": "", **checked,
              **{c: "" for c in ("v2_walk_from", "v2_key_select", "v2_key_order", "v2_after_lo", "v2_upto_hi",
                                 "v2_lo_from_hi")}}
    aligned = values["verify_strategy"] == "aligned"
    _check_markers(target, values, {"verify_src_rows": (1, 0), "verify_dst_rows": (0, 1) if aligned else (1, 0)})
    return values


def row_statement(ctx: Context, target: Target) -> Statement:
    """20_routines: ``target``'s row (REPLACE: a newer generate's statements replace the older ones)."""
    return _replace(ctx, row(ctx, target), f"chunk_sql.{target.id}",
                    f"how {target.source.driving.label} is walked, copied into {target.label} and checked, chunk by "
                    f"chunk ({{chunk range}}: the chunk's key range)")


def way_back_row_statement(reverse: Context, target: Target) -> Statement:
    """20_routines: the way back's row (two-way sync: ``target`` from the reverse model)."""
    return _replace(reverse, way_back_row(reverse, target), f"chunk_sql.{naming.way_back_id(target.id)}",
                    f"how {target.label} is checked against reverse({target.source.driving.label}), chunk by chunk of "
                    f"{target.source.driving.label}'s key (two-way sync)")


def _replace(ctx: Context, values: dict[str, str], statement_id: str, comment: str) -> Statement:
    literals = ",\n  ".join(quote_literal(v) for v in values.values())
    return Statement(statement_id,
                     f"REPLACE INTO {ctx.control_table('chunk_sql')}\n  ({', '.join(values)})\nVALUES (\n  {literals})",
                     comment)
