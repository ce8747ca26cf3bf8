"""Data checks: conditions on v1's data that a plan relies on, tried in 00_preflight and again in 70_cutover.

A check is data; ``djsqlgen.engines.checks`` writes the SQL that counts its violations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from djsqlgen.catalog.sqltypes import lossy_reason, parse_sql_type
from djsqlgen.model.reverse import carried_back
from djsqlgen.model.target import Model

# key_unique:   the target's key, as v2 compares it, is unique over the source rows (no two v1 rows merge)
# parent_found: every row of the target finds its parent row through foreign key ``detail`` (a new parent)
# lookup_agrees: the source rows with one key of a lookup target agree on its other columns (none is lost)
# split_partition: every source row matches exactly one side of a split (``detail``: the other sides' ids)
# index_unique: a unique index of the target (``detail``: its name), as v2 compares it, is unique over the source
#               rows whose index columns are all set (a column of it retyped, or given another charset/collation)
# round_trip:   two-way sync: every value of a column carried both ways (retyped, another charset or collation) comes
#               back from v2's column into v1's byte for byte (``detail``: the v1 columns, comma-separated)
# inverse_agrees: two-way sync: a v1 column v2 dropped is, in every row, what the plan's ``inverse:`` expression
#               computes from the row's v2 form (``detail``: the v1 column; ``plan_key``: the inverse's own)
Kind = Literal["key_unique", "parent_found", "lookup_agrees", "split_partition", "index_unique", "round_trip",
               "inverse_agrees"]


@dataclass(frozen=True)
class DataCheck:
    kind: Kind
    target_id: str
    plan_key: str
    what: str  # the assumption in words, e.g. "the new key of lab_v2.session is unique"
    fix: str  # what the user can do when it fails
    detail: str = ""  # kind-specific: the foreign key's name for parent_found

    @property
    def id(self) -> str:
        return f"{self.kind}.{self.target_id}" + (f".{self.detail}" if self.detail else "")


def _comes_back(v1_type: str, v2_type: str) -> bool:
    """Whether every value of ``v1_type`` comes back from ``v2_type`` by type alone: a number widened within its
    family (a wider int, float to double, a decimal with more digits on both sides). Strings, binaries, dates and
    changes of family are checked on the data: a CHAR drops trailing spaces, a BINARY pads with zero bytes."""
    a, b = parse_sql_type(v1_type), parse_sql_type(v2_type)
    return a.family == b.family and a.family in ("int", "float", "decimal") and lossy_reason(v1_type, v2_type) is None


def round_trip_checks(model: Model, two_way: set[str]) -> list[DataCheck]:
    """The round trip of each two-way table (``two_way``: target ids) whose carried columns change on the way to v2:
    reverse(forward(v1)) must give v1 back exactly, or a v2 write of an unchanged row would change v1."""
    out = []
    for target in model.ordered():
        if target.id not in two_way:
            continue
        v1_table = model.v1_table(target.source.driving)
        changed = [v1 for v1, v2 in carried_back(target).items() if target.column(v2).copied_from is None
                   and not _comes_back(v1_table.attribute(v1).sql_type, target.column(v2).decl.sql_type)]
        if changed:
            v1 = target.source.driving.label
            out.append(DataCheck(
                kind="round_trip", target_id=target.id, plan_key=target.plan_key, detail=",".join(changed),
                what=f"every value of {v1}'s {', '.join(changed)} comes back from {target.label} unchanged, byte "
                     "for byte (two-way sync)",
                fix=f"write `sync: one-way` under {target.plan_key} (v2 then refuses its clients' writes to "
                    f"{target.label}), or change the rows or the plan's types so the values come back"))
    return out


def inverse_checks(model: Model, two_way: set[str]) -> list[DataCheck]:
    """Each ``inverse:`` expression of a two-way table, tried on v1's rows: computed from forward(v1), it must give
    each row's own value back (reverse(forward(v1)) is v1). A ``next_for`` numbering has nothing to try on rows that
    exist: it only numbers rows inserted into v2, and their v1 rows keep their numbers."""
    out = []
    for target in model.ordered():
        if target.id not in two_way:
            continue
        v1 = target.source.driving.label
        for inverse in target.inverses:
            if inverse.expr is None:
                continue
            out.append(DataCheck(
                kind="inverse_agrees", target_id=target.id, plan_key=inverse.plan_key, detail=inverse.column,
                what=f"{v1}.{inverse.column} of every row is what `inverse:` computes from its v2 row",
                fix=f"correct {inverse.plan_key} (or the rows it names), or write `sync: one-way` under "
                    f"{target.plan_key}"))
    return out
