"""The backfill's merge check: two v1 rows that one v2 row would hold (a key that is one to one only on the data, a
unique index whose columns compare differently in v2), found in v1 and named by their keys.

The copy skips a row already at its v2 key (a trigger wrote it: writers win), so it cannot tell a merge from a row
it meets again. backfill_chunk runs this statement before a table's first chunk and again after its last one, each
time in a fresh snapshot: a merge written before the triggers existed (between 00 and 30, or with them dropped) is
found before anything is copied, and one that slipped past the triggers during the copy (two writers moving rows
that were not copied yet onto one key, neither seeing the other's uncommitted row) before the table is called done.
After that, every v1 row is in v2, whose own unique keys refuse a merge at the write.
Cost, only for targets that can merge: a read of the whole driving table (with its joins), its v2 keys counted distinct, twice
per table (measured: bench/merge_check_bench.py); nothing for a copy whose keys are one to one by structure
(identity, renames).
"""

from __future__ import annotations

from djsqlgen.engines.checks import MERGE_KINDS, merge_group_list, merge_groups
from djsqlgen.engines.context import Context
from djsqlgen.model.target import DRIVING, Target
from djsqlgen.sqltext.messages import SIGNAL_LIMIT, short_label
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal

# RUNBOOK code of the stop ("The backfill stops: two v1 rows would merge")
CODE = "B1"


def merge_checks(ctx: Context, target: Target) -> list:
    return [c for c in ctx.data_checks if c.target_id == target.id and c.kind in MERGE_KINDS]


def first_merge(ctx: Context, target: Target) -> str:
    """A statement setting ``@djsqlgen_merge`` to the stop's message naming two v1 rows that would merge in
    ``target`` (NULL when none would); '' when ``target`` cannot merge rows."""
    found = merge_checks(ctx, target)
    if not found:
        return ""
    # Whether there is a merge first (nothing built per row), and only then which two rows: naming them builds a
    # text per row. Fewer distinct v2 keys than rows is a merge: counted distinct, the keys go into the server's
    # in-memory set of distinct values, about half the cost of GROUP BY … HAVING COUNT(*) > 1 (00's form), which
    # fills a temporary table with every group and sorts it (bench/merge_check_bench.py). Rows with a NULL in the
    # key are not counted (COUNT DISTINCT skips them; NULLs never collide in a unique index).
    any_merge = "\n  OR ".join(_fewer_keys_than_rows(rows, groups)
                               for rows, groups in (merge_group_list(ctx, c) for c in found))
    pairs = ",\n    ".join(_first_pair(ctx, target, c) for c in found)
    return f"SET @djsqlgen_merge = IF(\n  {any_merge},\n  COALESCE(\n    {pairs},\n    NULL),\n  NULL)"


def _fewer_keys_than_rows(rows: str, groups: list[str]) -> str:
    complete = " AND ".join(f"({g}) IS NOT NULL" for g in groups)
    return f"(SELECT COUNT(DISTINCT {', '.join(groups)}) < SUM({complete}) {rows})"


def _first_pair(ctx: Context, target: Target, check) -> str:
    rows, groups = merge_groups(ctx, check)
    driving = ctx.model.v1_table(target.source.driving)
    # The driving key as verify_diff shows keys; compared as bytes, so two keys equal under a _ci collation
    # ('a', 'A') are still two (MIN and MAX then name both).
    key = ("CAST(JSON_ARRAY(" + ", ".join(f"CAST({quote_identifier(DRIVING)}.{quote_identifier(k)} AS CHAR)"
                                         for k in driving.primary_key) + ") AS BINARY)")
    what = "key" if check.kind == "key_unique" else f"index {check.detail}"
    head = f"djsqlgen {CODE} {short_label(target.label, 36)}: v1 rows "
    tail = f" merge ({what}); fix v1, backfill again"
    room = max((SIGNAL_LIMIT - len(head) - len(tail) - len(" and ")) // 2, 8)
    message = (f"LEFT(CONCAT({quote_literal(head)}, LEFT(CONVERT(MIN({key}) USING utf8mb4), {room}), ' and ', "
               f"LEFT(CONVERT(MAX({key}) USING utf8mb4), {room}), {quote_literal(tail)}), {SIGNAL_LIMIT})")
    rows = rows.replace("\n", "\n      ")
    return f"(SELECT {message}\n      {rows}\n      GROUP BY {groups} HAVING COUNT(*) > 1 LIMIT 1)"
