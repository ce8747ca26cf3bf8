"""Type conversions written out: what a lossy retype the user accepted does to each value, explicitly.

The server would refuse (strict mode: 1406, 1264) or silently round what does not fit a narrower type.
A plan that says ``allow_lossy: true`` gets the narrowing as an expression instead, so the backfill,
the triggers and verify all compute the same value and nothing fails halfway through the window.
"""

from __future__ import annotations

from decimal import Decimal

from djsqlgen.catalog.sqltypes import (
    _BLOB_BYTES,
    _INT_BITS,
    _TEXT_BYTES,
    enum_values,
    lossy_reason,
    parse_sql_type,
)
from djsqlgen.model.expr import Expr
from djsqlgen.sqltext.quoting import quote_literal

FLOAT_MAX = "3.402823466E+38"


def _wrap(template: str, expr: Expr) -> Expr:
    """``template`` with ``{}`` replaced by ``expr`` (its references kept)."""
    before, after = template.split("{}")
    return Expr((before + expr.parts[0],) + expr.parts[1:-1] + (expr.parts[-1] + after,), expr.refs) \
        if expr.refs else Expr.text(before + expr.parts[0] + after)


def explicit_narrowing(expr: Expr, source_type: str, target_type: str, nullable: bool) -> Expr | str:
    """``expr`` (of ``source_type``) made to fit ``target_type`` the way the user accepted, or why it cannot.

    Strings and binaries are cut (``LEFT``), numbers clamped to the target's range (decimals rounded to
    its scale first), enum values the target lacks become NULL, datetimes lose their time or fraction.
    """
    if lossy_reason(source_type, target_type) is None:
        return expr
    s, t = parse_sql_type(source_type), parse_sql_type(target_type)
    if t.family in ("string", "binary") and t.base not in ("enum", "set") and s.family in ("string", "binary"):
        if t.base in _TEXT_BYTES:
            # TEXT limits are in bytes; 4 is the widest character (utf8mb4), so this always fits.
            return _wrap(f"LEFT({{}}, {_TEXT_BYTES[t.base] // 4})", expr)
        if t.base in _BLOB_BYTES:
            return _wrap(f"LEFT({{}}, {_BLOB_BYTES[t.base]})", expr)
        return _wrap(f"LEFT({{}}, {t.params[0] if t.params else 1})", expr)
    if t.family == "int" and s.family in ("int", "decimal", "float"):
        bits = _INT_BITS[t.base]
        lo, hi = (0, 2**bits - 1) if t.unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        return _wrap(f"LEAST(GREATEST(ROUND({{}}), {lo}), {hi})", expr)
    if t.family == "decimal" and s.family in ("int", "decimal", "float"):
        precision, scale = (t.params + (10, 0))[:2]
        top = Decimal(10) ** (precision - scale) - Decimal(10) ** -scale
        low = Decimal(0) if t.unsigned else -top
        return _wrap(f"LEAST(GREATEST(ROUND({{}}, {scale}), {low}), {top})", expr)
    if t.family == "float" and s.family in ("int", "decimal", "float"):
        return _wrap(f"LEAST(GREATEST({{}}, -{FLOAT_MAX}), {FLOAT_MAX})", expr)
    if t.base == "enum" and s.base in ("enum", "char", "varchar"):
        if not nullable:
            return (f"values outside {target_type} would need a replacement; set nullable: true, or give an expr "
                    "that maps them")
        allowed = ", ".join(quote_literal(v) for v in enum_values(target_type))
        return _enum_or_null(expr, allowed)
    if s.family == "temporal" and t.family == "temporal":
        if t.base == "date" and s.base in ("datetime", "timestamp"):
            return _wrap("DATE({})", expr)
        if s.base == t.base or (s.base in ("datetime", "timestamp") and t.base in ("datetime", "timestamp")):
            return expr  # the server drops extra fractional digits itself, without an error
    return f"{source_type} to {target_type} has no explicit narrowing; give an expr that computes the v2 value"


def _enum_or_null(expr: Expr, allowed: str) -> Expr:
    """IF(x IN (allowed), x, NULL): the expression appears twice, so its references do too."""
    first = _wrap("IF({} IN (" + allowed + "), ", expr)
    second = _wrap("{}, NULL)", expr)
    return Expr(first.parts[:-1] + (first.parts[-1] + second.parts[0],) + second.parts[1:], first.refs + second.refs)
