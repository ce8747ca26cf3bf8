"""What every engine reads: the model, the plan's settings, the server's capabilities, the control schema."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from djsqlgen.model.target import Model, TableRef
from djsqlgen.plan import Plan
from djsqlgen.sqltext.dialect import Dialect
from djsqlgen.sqltext.quoting import quote_qualified


@dataclass(frozen=True)
class Context:
    model: Model
    plan: Plan
    dialect: Dialect
    migration_hash: str  # plan and v1 definitions together: what installed objects are tagged with
    # Two-way sync (issue 24): the targets written only where they differ (compare before write: the echo of a
    # carried write finds its row in place and stops), and whether ``model`` is the reverse one (v2 → v1).
    compare_before_write: frozenset[str] = frozenset()
    reverse: bool = False
    # and the targets of a two-way plan that sync one way, with why (their v2 tables refuse clients' writes)
    one_way: tuple[tuple[str, str, str], ...] = ()  # (target id, why, the brief reason W7 gives)
    # Lookups whose values go back through a two-way table's rows (ops/directions.py): their forward writes compare
    # first inside a carried write (ids), and their v2 tables (``reverse`` only) refuse clients' writes before 60
    lookups_back: frozenset[str] = frozenset()
    lookup_tables: tuple[TableRef, ...] = ()
    data_checks: tuple = ()  # the plan's DataChecks (model.checks): 00 and 70 refuse on them, the backfill stops

    @cached_property
    def memo(self) -> dict:
        """Results the engines compute once per migration (each trigger's body is asked for by several phases)."""
        return {}

    @property
    def control(self) -> str:
        return self.plan.control

    def control_table(self, name: str) -> str:
        return quote_qualified((self.plan.control, name))
