"""The way back of a split side (model/split_back.py) in the reverse triggers and verify: the v1 rows it owns.

- A v2 row written to a side must be, as v1 would hold it, that side's row by the split's filters: else it would
  reach v1 as a row the forward sync puts on another side (or on none, or two), and the sides would disagree. The
  write is refused with W9 before anything reaches v1, an UPDATE moving a row across the filter included.
- A side's carried UPDATE, key move and DELETE touch the v1 row at the key only while it is that side's: after v1
  moved a row across the filter (the forward sync deletes it from the side it leaves), the echo of that delete
  finds no row of its own and leaves v1's row as it is.
- verify compares the side with the v1 rows it owns, not the whole table.
"""

from __future__ import annotations

from djsqlgen.engines.context import Context
from djsqlgen.engines.source import table_sql
from djsqlgen.model.expr import ColumnRef, bound
from djsqlgen.model.split_back import OWN_ROW
from djsqlgen.model.target import DRIVING, TableRef, Target
from djsqlgen.sqltext.messages import writer_message
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal


def owned_condition(target: Target, prefix: str = "dst.") -> str:
    """SQL over the target table's row (its columns written ``prefix`` + name): the row is this target's. TRUE when
    the target owns every row."""
    if target.owns is None:
        return "TRUE"
    return target.owns.render(lambda ref: f"{prefix}{quote_identifier(ref.name)}")


def owned_rows(target: Target) -> str:
    """The target's rows as a derived table ``dst`` (``FROM`` this): the table itself when it owns every row."""
    table = f"{table_sql(target.schema, target.name)} AS dst"
    if target.owns is None:
        return table
    return f"(SELECT * FROM {table} WHERE {owned_condition(target)}) AS dst"


def side_refusals(ctx: Context, written: TableRef) -> list[tuple[str, str, str]]:
    """(v1 table, why, SQL) blocks of a v2 side's INSERT and UPDATE triggers: W9 for a row that is not this side's."""
    if not ctx.reverse:
        return []
    out = []
    for target in ctx.model.targets:
        if target.source.driving != written or target.owns is None:
            continue
        as_v1 = target.owns.substitute({ColumnRef(OWN_ROW, c.name): c.expr for c in target.columns})
        message = writer_message("W9", written.label, "", "the row is not this side's by the split's where; write it "
                                                          "to the side its values belong to")
        refusal = (f"IF NOT ({as_v1.render(bound(DRIVING, 'NEW'))}) THEN\n"
                   f"  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {quote_literal(message)};\nEND IF")
        out.append((target.label, f"{written.label} holds only the rows of {target.label} its split's where gives it "
                                  "(a row moving across: delete it here, insert it into its side)", refusal))
    return out
