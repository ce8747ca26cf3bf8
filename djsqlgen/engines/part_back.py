"""The way back of an extracted part (model/part_back.py) in the reverse triggers: a part row v1 cannot hold.

v1 keeps the part's columns in its master's row, where a part row whose columns are all NULL and no part row at all
are the same row. Such a v2 part row is refused at the write (W10) before anything reaches v1: carried, v1's row
would come back to v2 without it (the forward sync makes a part row only where a column is not NULL), and the
forward trigger deleting it would fail the write with error 1442 anyway. Its way out: delete the part row.

A merged part (ops/merge_part.py) the other way round: a v2 master row whose merged columns make a v1 part row (one
is not NULL) must give every NOT NULL column of that row a value, else it has no v1 form either (W10, naming the
column).
"""

from __future__ import annotations

from djsqlgen.engines.context import Context
from djsqlgen.model.expr import bound
from djsqlgen.model.target import DRIVING, TableRef
from djsqlgen.sqltext.messages import writer_message
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal


def part_refusals(ctx: Context, written: TableRef) -> list[tuple[str, str, str]]:
    """(v1 table, why, SQL) blocks of a v2 part's INSERT and UPDATE triggers: W10 for a row of NULLs."""
    if not ctx.reverse:
        return []
    out = []
    for target in ctx.model.targets:
        for join in target.source.joins:
            if join.table != written or not join.of_child:
                continue
            read = sorted({r.name for c in target.columns for r in c.expr.refs if r.alias == join.alias})
            if not read:
                continue
            nulls = " AND ".join(f"NEW.{quote_identifier(name)} IS NULL" for name in read)
            message = writer_message("W10", written.label, "", "a part row of NULLs has no v1 form; delete the part "
                                                               "row instead")
            out.append((target.label, f"{target.label} holds the part's columns in its own row, where a part row of "
                                      "NULLs is no part row",
                        f"IF {nulls} THEN\n  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {quote_literal(message)};\n"
                        "END IF"))
    return out


def merged_refusals(ctx: Context, written: TableRef) -> list[tuple[str, str, str]]:
    """(v1 table, why, SQL) blocks of a v2 master's INSERT and UPDATE triggers: W10 for merged part columns that make
    a v1 part row (one is not NULL) without a value its NOT NULL column needs."""
    if not ctx.reverse:
        return []
    out = []
    for target in ctx.model.targets:
        if target.source.driving != written or target.source.filter is None:
            continue
        makes_row = target.source.filter.render(bound(DRIVING, "NEW"))
        for c in target.columns:
            if c.name in target.primary_key or c.decl.nullable:
                continue
            value = c.expr.render(bound(DRIVING, "NEW"))
            message = writer_message("W10", written.label, c.expr.refs[0].name if c.expr.refs else c.name,
                                     f"NULL, but v1's {target.name} row needs it; set it, or clear the part's columns")
            out.append((target.label, f"a row of {target.label} (made where one of its columns is set) needs "
                                      f"{c.name}",
                        f"IF ({makes_row}) AND {value} IS NULL THEN\n"
                        f"  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {quote_literal(message)};\nEND IF"))
    return out
