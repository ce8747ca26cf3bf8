"""Data checks as refusals: each counts the v1 rows that break an assumption of the plan."""

from __future__ import annotations

from djsqlgen.engines.context import Context
from djsqlgen.engines.source import from_clause, where_clause
from djsqlgen.engines.values import as_stored_key
from djsqlgen.model.checks import DataCheck
from djsqlgen.output.statements import Check


def violated(ctx: Context, check: DataCheck) -> str:
    """SQL that is true when v1's data breaks ``check``."""
    target = ctx.model.target(check.target_id)
    if check.kind == "key_unique":
        keys = ", ".join(as_stored_key(c.expr.render(), c.decl) for c in target.key_columns)
        return (f"EXISTS (SELECT 1 {from_clause(target)} {where_clause(target)} "
                f"GROUP BY {keys} HAVING COUNT(*) > 1)")
    raise ValueError(f"unknown data check {check.kind!r}")


def refusal(ctx: Context, check: DataCheck, filename: str) -> Check:
    return Check(violated(ctx, check), f"djsqlgen refused {filename}: {check.plan_key}: not so in v1's data: "
                                      f"{check.what}. Fix: {check.fix}", check.what)
