"""Copy a v1 table into its v2 counterpart, renamed and transformed column by column.

The kept, renamed, dropped, added and retyped columns are the mapping's business (mapping.py);
this operation turns the mapping into each phase's statements and their undo.
"""

from __future__ import annotations

from dataclasses import dataclass

from djsqlgen.operations.base import MigrationContext, Operation, exists_in
from djsqlgen.operations.keyset import Keyset
from djsqlgen.operations.mapping import TableMapping, remap_foreign_key
from djsqlgen.output import naming
from djsqlgen.output.quoting import quote_identifier
from djsqlgen.output.render import quote_literal, quote_qualified, render
from djsqlgen.output.statements import Statement

EVENTS = ("INSERT", "UPDATE", "DELETE")


@dataclass
class CopyTable(Operation):
    mapping: TableMapping

    @property
    def id(self) -> str:
        return f"copy_table.{self.mapping.source.schema}.{self.mapping.source.name}"

    @property
    def keyset(self) -> Keyset:
        return Keyset(self.mapping)

    @property
    def target(self) -> str:
        return quote_qualified((self.mapping.target_schema, self.mapping.target_name))

    def _proc(self, kind: str) -> str:
        return naming.routine_name(kind, self.mapping.source.schema, self.mapping.source.name)

    def _trigger(self, ctx: MigrationContext, event: str) -> str:
        return naming.trigger_name(ctx.plan.name, self.mapping.source.name, event)

    def foreign_keys(self, ctx: MigrationContext, problems: list[str] | None = None):
        key = f"schemas.{self.mapping.source.schema}.tables.{self.mapping.source.name}"
        sink = problems if problems is not None else []
        remapped = [remap_foreign_key(fk, self.mapping, ctx.mappings, key, sink) for fk in self.mapping.source.foreign_keys]
        return [fk for fk in remapped if fk]

    # -- validate ---------------------------------------------------------------------------------
    def validate(self, ctx: MigrationContext) -> list[str]:
        problems: list[str] = []
        self.foreign_keys(ctx, problems)
        m = self.mapping
        key = f"schemas.{m.source.schema}.tables.{m.source.name}"
        if not m.source.primary_key:
            problems.append(f"{key}: {m.source.full_name} has no primary key; DataJoint tables always have one")
        for fk in m.source.foreign_keys:
            if fk.on_delete.upper() == "SET NULL" or fk.on_update.upper() == "SET NULL":
                problems.append(
                    f"{key}: foreign key {fk.name!r} uses SET NULL, whose changes fire no trigger and cannot be "
                    "followed; this operation supports CASCADE, RESTRICT and NO ACTION"
                )
        foreign = [t for t in m.source.triggers if not t.name.startswith(f"djsqlgen_{ctx.plan.name}_")]
        for trig in foreign:
            problems.append(
                f"{key}: {m.source.full_name} already has trigger {trig.name!r} ({trig.timing} {trig.event}); "
                "djsqlgen never overwrites a trigger: drop or merge it first"
            )
        return problems

    # -- phases -------------------------------------------------------------------------------
    def forward(self, phase: str, ctx: MigrationContext) -> list[Statement]:
        m, sid = self.mapping, f"{self.mapping.source.schema}.{self.mapping.source.name}"
        if phase == "expand":
            return [Statement(f"table_create.{sid}", render("table_create.sql.j2", m=m),
                              f"v2 table for {m.source.full_name}: columns, primary key, indexes; foreign keys come in 60")]
        if phase == "routines":
            return self._routines(ctx)
        if phase == "dualwrite":
            return [self._trigger_statement(ctx, event) for event in EVENTS]
        if phase == "backfill":
            return [Statement(f"backfill.{sid}",
                              f"CALL {quote_qualified((ctx.control, self._proc('backfill')))}"
                              f"({ctx.plan.chunk.rows}, {ctx.plan.chunk.sleep_ms})",
                              f"copy {m.source.full_name} into {self.target}; resumes where it stopped")]
        if phase == "verify":
            return [Statement(f"verify.{sid}",
                              f"CALL {quote_qualified((ctx.control, self._proc('verify')))}"
                              f"(@djsqlgen_verify_run, {ctx.plan.chunk.verify_rows})",
                              f"checksum {self.target} against transform({m.source.full_name})")]
        if phase == "constraints":
            return self._constraints(ctx)
        return []

    def rollback(self, phase: str, ctx: MigrationContext) -> list[Statement]:
        m, sid = self.mapping, f"{self.mapping.source.schema}.{self.mapping.source.name}"
        if phase == "expand":
            return [Statement(f"table_drop.{sid}", f"DROP TABLE IF EXISTS {self.target}",
                              "v2 table; it only holds copies of v1 rows")]
        if phase == "routines":
            return [Statement(f"procedure_drop.{sid}.{kind}",
                              f"DROP PROCEDURE IF EXISTS {quote_qualified((ctx.control, self._proc(kind)))}",
                              f"{kind} procedure of {m.source.full_name}")
                    for kind in ("backfill_chunk", "backfill", "verify")]
        if phase == "dualwrite":
            return [Statement(f"trigger_drop.{sid}.{event.lower()}",
                              f"DROP TRIGGER IF EXISTS {quote_qualified((m.source.schema, self._trigger(ctx, event)))}",
                              f"stop carrying {event}s on {m.source.full_name} into v2") for event in EVENTS]
        if phase == "backfill":
            return [
                Statement(f"backfill_undo.{sid}", f"DELETE FROM {self.target}",
                          f"empty {self.target}; the next backfill copies it again"),
                Statement(f"progress_reset.{sid}",
                          f"UPDATE {quote_qualified((ctx.control, 'progress'))} SET checkpoint = NULL, rows_copied = 0, "
                          f"chunks = 0, done = 0, started_at = NULL, updated_at = NULL, finished_at = NULL "
                          f"WHERE table_id = {quote_literal(self.keyset.table_id)}",
                          "start its backfill from the beginning next time"),
            ]
        if phase == "constraints":
            return self._constraints_undo(ctx)
        return []

    # -- routines -----------------------------------------------------------------------------
    def _routines(self, ctx: MigrationContext) -> list[Statement]:
        m, k, sid = self.mapping, self.keyset, f"{self.mapping.source.schema}.{self.mapping.source.name}"
        common = {"control": ctx.control, "plan_name": ctx.plan.name}
        copy_first = render("backfill_copy.sql.j2", m=m, plan_name=ctx.plan.name,
                            range_predicate=k.chunk_predicate(False), share_lock=ctx.dialect.share_lock_clause)
        copy_next = render("backfill_copy.sql.j2", m=m, plan_name=ctx.plan.name,
                           range_predicate=k.chunk_predicate(True), share_lock=ctx.dialect.share_lock_clause)
        # Two forms of the copy: the first chunk has no lower bound. Written out rather than folded into
        # one predicate with a flag, so each statement stays a plain range scan.
        copy = f"IF v_checkpoint IS NULL THEN\n  {_indent(copy_first, 2)};\nELSE\n  {_indent(copy_next, 2)};\nEND IF"
        statements = []
        for kind, template, extra, why in (
            ("backfill_chunk", "backfill_chunk_proc_create.sql.j2", {"k": _KeysetWithCopy(k, copy)},
             "one chunk: one short transaction, checkpoint written in it"),
            ("backfill", "backfill_table_proc_create.sql.j2",
             {"source_label": k.source_label, "chunk_proc": self._proc("backfill_chunk")},
             "the whole table, chunk after chunk (what 40_backfill calls)"),
            ("verify", "verify_table_proc_create.sql.j2", {"k": k}, "chunked checksums of both sides"),
        ):
            proc = self._proc(kind)
            statements.append(Statement(f"procedure_drop.{sid}.{kind}",
                                        f"DROP PROCEDURE IF EXISTS {quote_qualified((ctx.control, proc))}",
                                        "replace an earlier version of the procedure"))
            statements.append(Statement(f"procedure_create.{sid}.{kind}",
                                        render(template, proc=proc, **common, **extra), why, compound=True))
        return statements

    # -- triggers -----------------------------------------------------------------------------
    def upsert_sql(self, mapping: TableMapping, where: list[tuple[str, str]]) -> str:
        non_key = [c for c in mapping.columns if not c.in_key] or list(mapping.key_columns[:1])
        return render("row_upsert.sql.j2", m=mapping, where=where, update_columns=non_key)

    def _trigger_statement(self, ctx: MigrationContext, event: str) -> Statement:
        m = self.mapping
        rule = {"UPDATE": "on_update", "DELETE": "on_delete"}.get(event)
        cascades = []
        for c in ctx.cascades(m, rule) if rule else []:
            where = [(col, f"NEW.{quote_identifier(parent)}") for col, parent in c.source_columns]
            cascades.append({"mapping": c.mapping, "columns": c.columns, "upsert": self.upsert_sql(c.mapping, where)})
        sql = render(
            "trigger_create.sql.j2", m=m, event=event, trigger=self._trigger(ctx, event), target=self.target,
            dialect=ctx.dialect, cascades=cascades,
            upsert=self.upsert_sql(m, [(k.source_column, f"NEW.{quote_identifier(k.source_column)}") for k in m.key_columns]),
        )
        return Statement(f"trigger_create.{m.source.schema}.{m.source.name}.{event.lower()}", sql,
                         f"carry every {event} on {m.source.full_name} into {self.target}", compound=True)

    # -- constraints ----------------------------------------------------------------------------
    def _constraints(self, ctx: MigrationContext) -> list[Statement]:
        m, statements = self.mapping, []
        for fk in self.foreign_keys(ctx):
            statements.append(Statement(
                f"foreign_key_add.{m.target_schema}.{m.target_name}.{fk.name}",
                f"ALTER TABLE {self.target}\n  ADD CONSTRAINT {quote_identifier(fk.name)} FOREIGN KEY "
                f"({', '.join(map(quote_identifier, fk.columns))})\n  REFERENCES "
                f"{quote_qualified((fk.ref_schema, fk.ref_table))} ({', '.join(map(quote_identifier, fk.ref_columns))})\n"
                f"  ON UPDATE {fk.on_update} ON DELETE {fk.on_delete}",
                f"foreign key {fk.name} of {self.target}; the server checks every backfilled row",
                done_when=exists_in("REFERENTIAL_CONSTRAINTS", {
                    "CONSTRAINT_SCHEMA": m.target_schema, "TABLE_NAME": m.target_name, "CONSTRAINT_NAME": fk.name}),
            ))
        for index in m.unique_indexes:
            statements.append(Statement(
                f"unique_index_add.{m.target_schema}.{m.target_name}.{index.name}",
                f"ALTER TABLE {self.target}\n  ADD UNIQUE INDEX {quote_identifier(index.name)} "
                f"({', '.join(map(quote_identifier, index.columns))})",
                f"unique index {index.name} of {self.target}",
                done_when=exists_in("STATISTICS", {
                    "TABLE_SCHEMA": m.target_schema, "TABLE_NAME": m.target_name, "INDEX_NAME": index.name}),
            ))
        return statements

    def _constraints_undo(self, ctx: MigrationContext) -> list[Statement]:
        m, statements = self.mapping, []
        for fk in self.foreign_keys(ctx):
            statements.append(Statement(
                f"foreign_key_drop.{m.target_schema}.{m.target_name}.{fk.name}",
                f"ALTER TABLE {self.target} DROP FOREIGN KEY {quote_identifier(fk.name)}",
                f"foreign key {fk.name} of {self.target}",
                done_when="NOT " + exists_in("REFERENTIAL_CONSTRAINTS", {
                    "CONSTRAINT_SCHEMA": m.target_schema, "TABLE_NAME": m.target_name, "CONSTRAINT_NAME": fk.name}),
            ))
        for index in m.unique_indexes:
            statements.append(Statement(
                f"unique_index_drop.{m.target_schema}.{m.target_name}.{index.name}",
                f"ALTER TABLE {self.target} DROP INDEX {quote_identifier(index.name)}",
                f"unique index {index.name} of {self.target}",
                done_when="NOT " + exists_in("STATISTICS", {
                    "TABLE_SCHEMA": m.target_schema, "TABLE_NAME": m.target_name, "INDEX_NAME": index.name}),
            ))
        return statements


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return text.replace("\n", "\n" + pad)


class _KeysetWithCopy:
    """The keyset fragments plus the rendered chunk copy, for the chunk procedure template."""

    def __init__(self, keyset: Keyset, copy: str):
        self._keyset = keyset
        self.copy = copy

    def __getattr__(self, name: str):
        return getattr(self._keyset, name)
