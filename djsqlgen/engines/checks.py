"""Data checks as refusals: each counts the v1 rows that break an assumption of the plan."""

from __future__ import annotations

from dataclasses import replace

from djsqlgen.engines.context import Context
from djsqlgen.engines.rowhash import ComparedValue, as_stored, row_hash_sql, value_token_sql
from djsqlgen.engines.source import from_clause, where_clause
from djsqlgen.engines.values import as_stored_key, stored_key
from djsqlgen.errors import UnsupportedError
from djsqlgen.model.checks import DataCheck
from djsqlgen.model.identity import column_decl
from djsqlgen.model.reverse import carried_back
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal
from djsqlgen.sqltext.statements import FOUND, Check


# The checks whose violation would merge two v1 rows into one v2 row (the backfill looks for them too).
MERGE_KINDS = ("key_unique", "index_unique")


def merge_groups(ctx: Context, check: DataCheck) -> tuple[str, str]:
    """A merge check's v1 rows (FROM … WHERE …) and what groups them as v2 compares its key or unique index:
    a group of two rows or more is a merge."""
    rows, groups = merge_group_list(ctx, check)
    return rows, ", ".join(groups)


def merge_group_list(ctx: Context, check: DataCheck) -> tuple[str, list[str]]:
    """merge_groups, with each grouping expression apart."""
    target = ctx.model.target(check.target_id)
    if check.kind == "key_unique":
        columns, complete = list(target.key_columns), ""
    else:
        index = next(i for i in target.unique_indexes if i.name == check.detail)
        columns = [target.column(c) for c in index.columns]
        complete = " AND ".join(f"({c.expr.render()}) IS NOT NULL" for c in columns)  # NULLs never collide
    groups = [as_stored_key(c.expr.render(), c.decl) for c in columns]  # v2's equality
    return f"{from_clause(target)} {where_clause(target, complete)}".rstrip(), groups


def violated(ctx: Context, check: DataCheck) -> str:
    """SQL that is true when v1's data breaks ``check``."""
    target = ctx.model.target(check.target_id)
    if check.kind in MERGE_KINDS:
        rows, groups = merge_groups(ctx, check)
        return f"EXISTS (SELECT 1 {rows} GROUP BY {groups} HAVING COUNT(*) > 1)"
    if check.kind == "inverse_agrees":
        rows, differs = _inverse_differs(ctx, check)
        return f"EXISTS (SELECT 1 {rows} WHERE {differs})"
    if check.kind == "parent_found":
        fk = next(fk for fk in target.foreign_keys if fk.name == check.detail)
        parent = ctx.model.target(fk.parent)
        # The parent's rows as v2 will hold them, read through its own source under other aliases.
        renamed = {a: f"p_{a}" for a in ["src", *(j.alias for j in parent.source.joins)]}
        parent_source = _renamed(parent, renamed)
        mine = {c.name: c for c in target.columns}
        theirs = {c.name: c for c in parent_source.columns}
        complete = " AND ".join(f"({mine[c].expr.render()}) IS NOT NULL" for c in fk.columns)
        match = " AND ".join(
            f"{stored_key(theirs[r])} = {as_stored_key(mine[c].expr.render(), theirs[r].decl)}"
            for c, r in zip(fk.columns, fk.ref_columns))
        return (f"EXISTS (SELECT 1 {from_clause(target)} {where_clause(target, complete)} AND NOT EXISTS "
                f"(SELECT 1 {from_clause(parent_source).replace(chr(10), ' ')} WHERE {match}))")
    if check.kind == "lookup_agrees":
        keys = ", ".join(as_stored_key(c.expr.render(), c.decl) for c in target.key_columns)
        values = [c for c in target.columns if c.name not in target.primary_key]
        # the values as v2 stores them, byte for byte (rowhash): 'IMEC' and 'imec' are two values
        encoded = values and row_hash_sql([ComparedValue(c.expr.render() if c.copied_from else as_stored(
            c.expr.render(), c.decl.sql_type, c.decl.charset, v2_collation=c.decl.collation,
            native_json=ctx.dialect.native_json), c.decl.sql_type, c.decl.charset) for c in values])
        # and the key itself byte for byte: under a _ci or PAD SPACE collation 'np' and 'NP' are one lookup row,
        # which could hold only one of them
        key_bytes = row_hash_sql([ComparedValue(as_stored(c.expr.render(), c.decl.sql_type, c.decl.charset,
                                                          v2_collation=c.decl.collation,
                                                          native_json=ctx.dialect.native_json),
                                                c.decl.sql_type, c.decl.charset) for c in target.key_columns])
        disagree = [f"COUNT(DISTINCT {encoded}) > 1"] if values else []
        return (f"EXISTS (SELECT 1 {from_clause(target)} {where_clause(target)} "
                f"GROUP BY {keys} HAVING {' OR '.join(disagree + [f'COUNT(DISTINCT {key_bytes}) > 1'])})")
    if check.kind == "split_partition":
        sides = [target] + [ctx.model.target(i) for i in check.detail.split(",")]
        whole = replace(target, source=replace(target.source, filter=None))
        return f"EXISTS (SELECT 1 {from_clause(whole)} WHERE {split_matches(sides)} <> 1)"
    raise ValueError(f"unknown data check {check.kind!r}")


def split_matches(sides, bind=None) -> str:
    """SQL: how many sides of a split the row matches (a filter that is NULL does not match)."""
    return "(" + " + ".join(f"(({s.source.filter.render(bind)}) IS TRUE)" for s in sides) + ")"


def _renamed(target, aliases: dict[str, str]):
    """``target`` with its source's aliases renamed, to read it inside another target's query."""
    def rename(expr):
        for old, new in aliases.items():
            expr = expr.rename_alias(old, new)
        return expr

    joins = tuple(replace(j, alias=aliases[j.alias], on=tuple((c, rename(e)) for c, e in j.on))
                  for j in target.source.joins)
    return replace(target, columns=tuple(replace(c, expr=rename(c.expr)) for c in target.columns),
                   source=replace(target.source, joins=joins, driving_alias=aliases["src"]))


def round_trip_first(ctx: Context, check: DataCheck) -> str:
    """A round trip check's first v1 row that does not come back: its columns that change and its key, as text
    (NULL when every row comes back). Each carried column's value is made what v2 stores, then what v1 would store
    of that (rowhash.as_stored, as verify reads both sides), and compared with v1's value as verify compares two
    values: byte for byte (a float bit for bit), NULL only equal to NULL."""
    target = ctx.model.target(check.target_id)
    v1 = ctx.model.v1_table(target.source.driving)
    by_v1 = carried_back(target)
    alias = quote_identifier(target.source.driving_alias)
    bad = []
    for name in check.detail.split(","):
        forward = target.column(by_v1[name])
        back = column_decl(v1.attribute(name))
        try:
            in_v2 = as_stored(forward.expr.render(), forward.decl.sql_type, forward.decl.charset,
                              v2_collation=forward.decl.collation, native_json=ctx.dialect.native_json)
            again = as_stored(in_v2, back.sql_type, back.charset, v2_collation=back.collation,
                              native_json=ctx.dialect.native_json)
        except ValueError as exc:  # a type whose storing the row hash does not reproduce
            raise UnsupportedError(f"{check.plan_key}: the round trip of {v1.schema}.{v1.name}.{name} cannot be "
                                   f"checked: {exc}; write `sync: one-way` under {check.plan_key}") from None
        tokens = [value_token_sql(ComparedValue(sql, back.sql_type, back.charset))
                  for sql in (again, f"{alias}.{quote_identifier(name)}")]
        bad.append((name, f"NOT (CAST({tokens[0]} AS BINARY) <=> CAST({tokens[1]} AS BINARY))"))
    columns = ",\n    ".join(f"IF({test}, {quote_literal(name)}, NULL)" for name, test in bad)
    key = ", ".join(f"CAST({alias}.{quote_identifier(k)} AS CHAR)" for k in v1.primary_key)
    any_bad = "\n   OR ".join(test for _, test in bad)
    return (f"SELECT CONCAT(CONCAT_WS(', ',\n    {columns}),\n  ' at key ', JSON_ARRAY({key}))\n"
            f"{from_clause(target)}\nWHERE {any_bad}\nLIMIT 1")


def _inverse_differs(ctx: Context, check: DataCheck) -> tuple[str, str]:
    """(FROM … of v1's rows, the condition true where the row's ``detail`` column is not what the inverse computes
    from the row's v2 form: each v2 column it reads replaced by that column's forward expression). NULL is only
    equal to NULL."""
    target = ctx.model.target(check.target_id)
    inverse = target.inverse(check.detail)
    computed = inverse.expr.substitute({r: target.column(r.name).expr for r in inverse.expr.refs})
    column = f"{quote_identifier(target.source.driving_alias)}.{quote_identifier(check.detail)}"
    return from_clause(target), f"NOT ({column} <=> ({computed.render()}))"


def refusal(ctx: Context, check: DataCheck, filename: str) -> Check:
    if check.kind == "round_trip":  # names the column and the first key, computed on the server
        v1 = ctx.model.target(check.target_id).source.driving.label
        prefix = f"djsqlgen refused {filename}: {check.plan_key}: "
        rest = f" does not come back from v2 byte for byte (two-way sync). Fix: {check.fix}"
        return Check(f"{FOUND} IS NOT NULL", f"{prefix}a value of {v1}{rest}", check.what,
                     message_sql=f"CONCAT({quote_literal(prefix + v1 + '.')}, {FOUND}, {quote_literal(rest)})",
                     found=round_trip_first(ctx, check))
    if check.kind == "inverse_agrees":  # names the first row whose value the inverse does not give back
        rows, differs = _inverse_differs(ctx, check)
        target = ctx.model.target(check.target_id)
        v1 = ctx.model.v1_table(target.source.driving)
        alias = quote_identifier(target.source.driving_alias)
        key = ", ".join(f"CAST({alias}.{quote_identifier(k)} AS CHAR)" for k in v1.primary_key)
        prefix = f"djsqlgen refused {filename}: {check.plan_key}: not so in v1's data: {check.what}: not at key "
        rest = f". Fix: {check.fix}"
        return Check(f"{FOUND} IS NOT NULL", f"{prefix}…{rest}", check.what,
                     message_sql=f"CONCAT({quote_literal(prefix)}, {FOUND}, {quote_literal(rest)})",
                     found=f"SELECT JSON_ARRAY({key})\n{rows}\nWHERE {differs}\nLIMIT 1")
    return Check(violated(ctx, check), f"djsqlgen refused {filename}: {check.plan_key}: not so in v1's data: "
                                      f"{check.what}. Fix: {check.fix}", check.what)
