"""Data checks: conditions on v1's data that a plan relies on, tried in 00_preflight and again in 70_cutover.

A check is data; ``djsqlgen.engines.checks`` writes the SQL that counts its violations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# key_unique:   the target's key, as v2 compares it, is unique over the source rows (no two v1 rows merge)
# parent_found: every row of the target finds its parent row through foreign key ``detail`` (a new parent)
# lookup_agrees: the source rows with one key of a lookup target agree on its other columns (none is lost)
# split_partition: every source row matches exactly one side of a split (``detail``: the other sides' ids)
# index_unique: a unique index of the target (``detail``: its name), as v2 compares it, is unique over the source
#               rows whose index columns are all set (a column of it retyped, or given another charset/collation)
Kind = Literal["key_unique", "parent_found", "lookup_agrees", "split_partition", "index_unique"]


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
