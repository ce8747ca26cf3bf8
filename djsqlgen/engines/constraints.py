"""Constraints (60): v2's foreign keys and unique indexes, added without stalling v1's writers.

With foreign_key_checks=1, ADD FOREIGN KEY copies the table under a shared lock on MariaDB (a v1 insert
waited 2.7 s behind an 800k-row v2 table, its trigger blocked). So the references are checked first by a
chunked anti-join (the shared check_references runs each key's query, its row of reference_sql), then each key is
added with foreign_key_checks=0, which makes ALGORITHM=INPLACE, LOCK=NONE a metadata-only change on both servers. Unique indexes are built
online (INPLACE, LOCK=NONE); a duplicate stops the file with the server's error, and a re-run resumes.
"""

from __future__ import annotations

from djsqlgen.engines.context import Context
from djsqlgen.engines.keyset import V2_CHUNK_RANGE
from djsqlgen.engines.source import table_sql, target_walk
from djsqlgen.model.target import ForeignKeyDecl, Target
from djsqlgen.sqltext import naming
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal, quote_qualified
from djsqlgen.sqltext.statements import Statement


def _q(name: str) -> str:
    return quote_identifier(name)


def parent_ref(ctx: Context, fk: ForeignKeyDecl) -> tuple[str, str]:
    """(schema, table) of the v2 foreign key's parent: another target, or a table outside the plan."""
    if fk.parent:
        parent = ctx.model.target(fk.parent)
        return parent.schema, parent.name
    return fk.outside.schema, fk.outside.name


def _exists(view: str, where: dict[str, str]) -> str:
    conditions = " AND ".join(f"{column} = {quote_literal(value)}" for column, value in where.items())
    return f"EXISTS (SELECT 1 FROM information_schema.{view} WHERE {conditions})"


def fk_exists(target: Target, fk: ForeignKeyDecl) -> str:
    return _exists("REFERENTIAL_CONSTRAINTS", {"CONSTRAINT_SCHEMA": target.schema, "TABLE_NAME": target.name,
                                               "CONSTRAINT_NAME": fk.name})


def index_exists(target: Target, name: str) -> str:
    return _exists("STATISTICS", {"TABLE_SCHEMA": target.schema, "TABLE_NAME": target.name, "INDEX_NAME": name})


def walk_columns(ctx: Context, target: Target) -> dict[str, str]:
    """The walk of ``target``'s own v2 key that check_references takes, chunk by chunk, in its row of chunk_sql
    (empty when it has no foreign key to check)."""
    if not target.foreign_keys:
        return dict.fromkeys(("v2_walk_from", "v2_key_select", "v2_key_order", "v2_after_lo", "v2_upto_hi",
                              "v2_lo_from_hi"), "")
    walk = target_walk(target)
    return {"v2_walk_from": walk.source,
            "v2_key_select": walk.bound_select,
            "v2_key_order": walk.key_list, "v2_after_lo": walk.after_lo, "v2_upto_hi": walk.upto_hi,
            "v2_lo_from_hi": walk.lo_from_hi}


def references_check(ctx: Context, target: Target) -> list[Statement]:
    """20_routines: one row of reference_sql per foreign key of ``target``, its orphan query over one chunk of v2
    (``{v2 chunk range}``), which the shared check_references runs."""
    if not target.foreign_keys:
        return []
    rows = []
    for fk in target.foreign_keys:
        schema, name = parent_ref(ctx, fk)
        complete = " AND ".join(f"dst.{_q(c)} IS NOT NULL" for c in fk.columns)
        join = " AND ".join(f"p.{_q(r)} = dst.{_q(c)}" for c, r in zip(fk.columns, fk.ref_columns))
        key_json = "JSON_ARRAY(" + ", ".join(f"CAST(dst.{_q(c)} AS CHAR)" for c in fk.columns) + ")"
        orphan = (f"SELECT {key_json} INTO @djsqlgen_orphan\nFROM {table_sql(target.schema, target.name)} AS `dst`\n"
                  f"WHERE {V2_CHUNK_RANGE}\n  AND {complete}\n"
                  f"  AND NOT EXISTS (SELECT 1 FROM {table_sql(schema, name)} AS p WHERE {join})\nLIMIT 1")
        rows.append("(" + ",\n  ".join(quote_literal(v) for v in (
            target.id, fk.name, ctx.migration_hash, target.label, f"{schema}.{name}", orphan)) + ")")
    # REPLACE: a newer generate's rows replace the older ones (and check_references reads only its own plan's).
    return [
        Statement(f"reference_sql.{target.id}",
                  f"REPLACE INTO {ctx.control_table('reference_sql')}\n  (target_id, fk_name, plan_hash, child_label, "
                  f"parent_label, orphan_select)\nVALUES\n" + ",\n".join(rows),
                  f"how each foreign key of {target.label} finds a row without its parent, one chunk of v2 at a time "
                  f"({V2_CHUNK_RANGE}: the chunk's key range)")]


def drop_references_check(ctx: Context, target: Target) -> list[Statement]:
    """The per-table procedure of earlier versions (the queries are now rows of reference_sql)."""
    if not target.foreign_keys:
        return []
    q = quote_qualified((ctx.control, naming.target_routine("check_references", target.id)))
    return [Statement(f"procedure_drop.{target.id}.check_references", f"DROP PROCEDURE IF EXISTS {q}",
                      f"reference check of {target.label} (earlier versions)")]


def check_calls(ctx: Context, target: Target) -> list[Statement]:
    if not target.foreign_keys:
        return []
    return [Statement(f"references_check.{target.label}",
                      f"CALL {ctx.control_table('check_references')}({quote_literal(target.id)}, "
                      f"{ctx.plan.chunk.verify_rows})",
                      f"every row of {target.label} finds its parents (the keys below are added unchecked)")]


def _rules(ctx: Context, fk: ForeignKeyDecl) -> str:
    """The ON UPDATE / ON DELETE clauses; RESTRICT left out where the server records it right only so."""
    out = ""
    for clause, rule in (("ON UPDATE", fk.on_update), ("ON DELETE", fk.on_delete)):
        if not (rule.upper() == "RESTRICT" and ctx.dialect.restrict_clause_omitted):
            out += f" {clause} {rule}"
    return f"\n  {out.strip()}" if out else ""


def _add_foreign_key(ctx: Context, fk: ForeignKeyDecl) -> str:
    schema, name = parent_ref(ctx, fk)
    return (f"  ADD CONSTRAINT {_q(fk.name)} FOREIGN KEY ({', '.join(map(_q, fk.columns))})\n"
            f"  REFERENCES {table_sql(schema, name)} ({', '.join(map(_q, fk.ref_columns))}){_rules(ctx, fk)}")


def add(ctx: Context, target: Target) -> list[Statement]:
    out = []
    if len(target.foreign_keys) > 1:
        # All of a table's foreign keys in one ALTER: each ALTER needs the table free of writers' transactions for a
        # moment (apply never waits for one), which a table every writer's triggers name seldom is; one statement
        # needs one such moment, not one a key. Skipped once any of them is there (a run stopped between the keys
        # below): those then add what is missing, one at a time.
        out.append(Statement(
            f"foreign_keys_add.{target.label}",
            f"ALTER TABLE {table_sql(target.schema, target.name)}\n"
            + ",\n".join(_add_foreign_key(ctx, fk) for fk in target.foreign_keys)
            + ",\n  ALGORITHM=INPLACE, LOCK=NONE",
            f"the {len(target.foreign_keys)} foreign keys of {target.label} at once: metadata only (references "
            "checked above)",
            done_when=" OR ".join(fk_exists(target, fk) for fk in target.foreign_keys)))
    for fk in target.foreign_keys:
        out.append(Statement(
            f"foreign_key_add.{target.label}.{fk.name}",
            f"ALTER TABLE {table_sql(target.schema, target.name)}\n{_add_foreign_key(ctx, fk)},\n"
            "  ALGORITHM=INPLACE, LOCK=NONE",
            f"foreign key {fk.name} of {target.label}: metadata only (references checked above)",
            done_when=fk_exists(target, fk)))
    for index in target.unique_indexes:
        out.append(Statement(
            f"unique_index_add.{target.label}.{index.name}",
            f"ALTER TABLE {table_sql(target.schema, target.name)}\n  ADD UNIQUE INDEX {_q(index.name)} "
            f"({', '.join(map(_q, index.columns))}),\n  ALGORITHM=INPLACE, LOCK=NONE",
            f"unique index {index.name} of {target.label}, built online", done_when=index_exists(target, index.name)))
    return out


def remove(ctx: Context, target: Target) -> list[Statement]:
    out = []
    for fk in target.foreign_keys:
        out.append(Statement(
            f"foreign_key_drop.{target.label}.{fk.name}",
            f"ALTER TABLE {table_sql(target.schema, target.name)} DROP FOREIGN KEY {_q(fk.name)}",
            f"foreign key {fk.name} of {target.label}", done_when="NOT " + fk_exists(target, fk)))
    for index in target.unique_indexes:
        out.append(Statement(
            f"unique_index_drop.{target.label}.{index.name}",
            f"ALTER TABLE {table_sql(target.schema, target.name)} DROP INDEX {_q(index.name)}",
            f"unique index {index.name} of {target.label}", done_when="NOT " + index_exists(target, index.name)))
    return out
