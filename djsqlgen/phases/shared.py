"""What several phase files share: the migration they are written for, and the checks and pieces more than one
phase uses (the refusals every file opens with, v1 drift, ownership of the control and v2 schemas, the control
tables and routines of the window).

Every file opens the same way: a pinned session (character set, sql_mode, lock_wait_timeout), then its
refusals (what it depends on: earlier phases of the same migration, server settings, privileges, the
state of v1 and v2), so that a refused file has changed nothing. Changes to objects djsqlgen owns are
recorded in the control schema's ``objects`` table before they are made, and rollbacks drop only what
is recorded there.
"""

from __future__ import annotations

from functools import cached_property
from types import ModuleType

from djsqlgen.engines import backfill, checks, constraints, guards, triggers, verify
from djsqlgen.engines.context import Context
from djsqlgen.model.target import TableRef, Target
from djsqlgen.phases.builder import FileBuilder, schema_exists, table_exists
from djsqlgen.presets.lineage import lineage_rows
from djsqlgen.sqltext.quoting import quote_literal, quote_qualified
from djsqlgen.sqltext.render import render
from djsqlgen.sqltext.statements import Check, Owned, Statement

# The start of a refusal that means "this rollback has nothing to do": `djsqlgen apply` skips such a file and goes
# on, so that applying the whole rollback/ directory works from whichever phase was reached.
NOTHING_TO_UNDO = "djsqlgen: nothing to undo in"
# The control tables the window needs (20 creates them, rollback/20 and 80 drop them); phase_log and objects outlive it.
SHARED_PROCEDURES = ("run_report", "backfill_chunk", "backfill_table", "checksum_chunk", "checksum_totals",
                     "verify_all", "verify_finish", "verify_report", "verify_record", "verify_table", "check_references")
BOOKKEEPING = ("v1_columns", "heartbeat", "backfill_run", "v2_writes", "verify_diff", "verify_chunk", "verify_run",
               "progress", "chunk_sql", "reference_sql", "files_written", "sides")
EVENTS = ("INSERT", "UPDATE", "DELETE")


class Phases:
    """Every phase file of one migration: its context, data checks and attachments, and what the phases share."""

    def __init__(self, ctx: Context, data_checks: tuple = (), attachments: tuple = (), reverse: Context | None = None,
                 attachments_back: tuple = ()):
        self.ctx = ctx
        self.reverse = reverse  # two-way sync: the reverse model's context (phases/two_way.py), else None
        self.data_checks = data_checks
        self.attachments = attachments  # 0.14 attach@store sources whose files 2.x reads rewritten (engines.files)
        self.attachments_back = attachments_back  # two-way: v1 external tables 2.x attachments go back into (idem)
        self.model = ctx.model
        self.plan = ctx.plan
        self.targets = self.model.ordered()
        self.triggers = triggers.trigger_names(ctx)
        # DataJoint 2.x's ~lineage rows per v2 schema, when the plan makes v2 for DataJoint 2.x (10, 70 and their
        # rollbacks all need them)
        self.lineage = lineage_rows(self.model) if self.plan.preset is not None else {}

    @cached_property
    def order(self) -> tuple[ModuleType, ...]:
        """The phase modules in the order their files are applied (phases/__init__.py: they import this module)."""
        from djsqlgen.phases import PHASES

        return PHASES

    def has_file(self, phase: ModuleType) -> bool:
        """Whether this plan has ``phase``'s file (90 only for a v1 kept synced)."""
        return not hasattr(phase, "applies") or phase.applies(self)

    def phase(self, number: str) -> ModuleType:
        return next(p for p in self.order if p.NUMBER == number)

    def file(self, number: str, rollback: bool = False) -> FileBuilder:
        """A phase's file (or its rollback), its session pinned."""
        f = FileBuilder(self.ctx, number, self.phase(number).NAME, rollback)
        f.pin_session()
        return f

    def control_tables(self) -> list[Statement]:
        sqls = render("control_tables_create.sql.j2", control=self.ctx.control).split("-- statement --")
        names = ["phase_log", "objects", "progress", "verify_run", "verify_chunk", "verify_diff", "v2_writes",
                 "backfill_run", "heartbeat", "chunk_sql", "reference_sql", "v1_columns", "files_written", "sides"]
        return [Statement(f"control_table_create.{n}", s.strip(), "bookkeeping of the control schema")
                for n, s in zip(names, sqls) if n in self.bookkeeping or n in ("phase_log", "objects")]

    @property
    def bookkeeping(self) -> tuple[str, ...]:
        """The control tables of the window: files_written only where the plan converts 0.14 attachments."""
        return tuple(n for n in BOOKKEEPING if n != "files_written" or self.attachments)

    def v1_schemas(self) -> list[str]:
        return [s.source for s in self.model.schemas]

    def v2_schemas(self) -> list[str]:
        return [s.target for s in self.model.schemas]

    def moves_v1(self) -> bool:
        """Whether cut-over moves v1 into archive schemas (v2 takes final names)."""
        return self.plan.cutover.rename_to_final and any(s.archive for s in self.model.schemas)

    def final(self, schema_map) -> str:
        return schema_map.final if self.plan.cutover.rename_to_final and schema_map.final else schema_map.target

    def v1_tables(self) -> list[TableRef]:
        return [TableRef(t.schema, t.name) for s in self.model.schemas for t in self.model.v1.schema(s.source).tables]

    def v2_home(self, target: Target) -> tuple[str, str]:
        return self.final(self.model.schema_map(target.source.driving.schema)), target.name

    def common_refusals(self, f: FileBuilder, needs: str | None, extra: list[Check] = ()) -> None:
        stage1 = [guards.control_exists(self.ctx, f.filename)]
        if f.rollback:
            stage1 = [Check(stage1[0].fails_when, f"{NOTHING_TO_UNDO} {f.filename}: control schema {self.ctx.control} "
                                                  "is not there, so no phase of this migration is applied",
                            "a rollback undoes what its phase did; without the control schema it did nothing")]
            extra = self.later_phases(f) + list(extra)
        f.refuse(stage1, "refuse_setup")
        stage2 = []
        if needs:
            file = f"{needs}_{self.phase(needs).NAME}.sql"
            stage2 += guards.needs_phase(self.ctx, needs, file, f.filename)
        f.refuse(stage2 + list(extra))

    def later_phases(self, f: FileBuilder) -> list[Check]:
        """A rollback refuses while a later phase is still applied: rollbacks go newest first."""
        out = []
        for phase in self.order:
            number = phase.NUMBER
            if number <= f.number or not self.has_file(phase):
                continue
            file = f"{number}_{phase.NAME}.sql"
            out.append(Check(guards.applied(self.ctx, number, same_plan=False),
                             f"djsqlgen refused {f.filename}: {file} is still applied; apply rollback/{file} first "
                             "(djsqlgen apply DIR/rollback runs them newest first)", "roll back newest first"))
        # the backfill and verify leave traces even when run by the command line rather than their files
        # a copy that has begun (its checkpoint, or its end: rows past the end reach v2 only through the triggers),
        # even if every row it met was in v2 already
        traces = {"40": ("progress", "rows_copied > 0 OR done = 1 OR checkpoint IS NOT NULL OR end_key IS NOT NULL",
                         "40_backfill.sql", "the backfill has begun"),
                  "50": ("verify_run", "TRUE", "50_verify.sql", "verify results are kept")}
        for number, (table, where, file, what) in traces.items():
            if number > f.number:
                out.append(Check(f"EXISTS (SELECT 1 FROM {self.ctx.control_table(table)} WHERE {where})",
                                 f"djsqlgen refused {f.filename}: {what}; apply rollback/{file} first",
                                 "roll back newest first", only_if=table_exists(self.ctx.control, table)))
        return out

    def data_refusals(self, filename: str) -> list[Check]:
        return [checks.refusal(self.ctx, c, filename) for c in self.data_checks]

    def foreign_objects(self, filename: str) -> list[Check]:
        """The control schema and v2 schemas may hold only what djsqlgen put there (ownership)."""
        out = []
        control = quote_literal(self.ctx.control)
        # djsqlgen's own tables and routines say so in their comments: a user's table named "progress" is not.
        out.append(Check(
            f"EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {control} AND TABLE_COMMENT NOT LIKE "
            f"'djsqlgen:%') OR EXISTS (SELECT 1 FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {control} AND "
            "ROUTINE_COMMENT NOT LIKE 'djsqlgen%') OR EXISTS (SELECT 1 FROM information_schema.VIEWS WHERE "
            f"TABLE_SCHEMA = {control})",
            f"djsqlgen refused {filename}: control schema {self.ctx.control} holds tables or routines djsqlgen did not "
            "make; name another control_schema in the plan",
            "djsqlgen drops its control schema at the end: it must hold nothing else"))
        for schema in self.v2_schemas():
            planned = ", ".join(quote_literal(t.name) for t in self.targets if t.schema == schema) or "''"
            out.append(Check(
                f"EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {quote_literal(schema)} AND "
                f"TABLE_NAME NOT IN ({planned}))",
                f"djsqlgen refused {filename}: target schema {schema} holds tables outside the plan; choose another "
                "target name",
                "v2 schemas hold only the plan's tables (rollback drops what djsqlgen made there)"))
        return out

    def v2_tables_foreign(self, filename: str) -> list[Check]:
        """Planned v2 tables that already exist but that djsqlgen did not create (any, while there is no record)."""
        out = []
        objects = self.ctx.control_table("objects")
        recorded = table_exists(self.ctx.control, "objects")
        for t in self.targets:
            out.append(Check(
                table_exists(t.schema, t.name),
                f"djsqlgen refused {filename}: {t.label} exists and djsqlgen did not create it; drop it or choose "
                "another target schema",
                "djsqlgen never writes into a table it did not make", only_if=f"NOT {recorded}"))
            out.append(Check(
                f"{table_exists(t.schema, t.name)} AND NOT EXISTS (SELECT 1 FROM {objects} WHERE kind = 'table' AND "
                f"schema_name = {quote_literal(t.schema)} AND object_name = {quote_literal(t.name)})",
                f"djsqlgen refused {filename}: {t.label} exists and djsqlgen did not create it; drop it or choose "
                "another target schema",
                "djsqlgen never writes into a table it did not make", only_if=recorded))
        return out

    def v1_drift(self, filename: str, parked_ok: bool = False) -> list[Check]:
        """v1 tables still as the files were generated from them: the same columns with the same type,
        nullability, collation and key membership (checked in 00, and again by every file from 30 on until the
        cut-over: a v1 change in between would make the triggers fail users' writes, copy or compare wrongly, or
        compare keys differently). The refusal names the table and the way out: before the triggers exist,
        generate again; once they do, undo the ALTER or roll back to before 30 first."""
        if filename < "30":
            way = "run inspect and generate again"
        elif filename.startswith("30"):
            way = "run inspect and generate again, then apply from 00"
        else:
            way = "roll back to before 30 (DIR/rollback), run inspect and generate again"
        out = []
        for t, columns in self.v1_columns():
            where = f"TABLE_SCHEMA = {quote_literal(t.schema)} AND TABLE_NAME = {quote_literal(t.name)}"
            expected = ", ".join(f"({', '.join(quote_literal(v) for v in c[:4])}, {c[4]})" for c in columns)
            # parked_ok: an interrupted cut-over may have moved v1 already (then it was checked before): parked
            # in its schema, or in its archive while v2 took its name
            moved = ""
            if parked_ok:
                archive = self.model.schema_map(t.schema).archive if self.moves_v1() else None
                moved = f"{table_exists(t.schema, t.name)} AND " + (
                    f"NOT {table_exists(archive, t.name)} AND " if archive else "")
            out.append(Check(
                moved +
                f"((SELECT COUNT(*) FROM information_schema.COLUMNS WHERE {where} AND (COLUMN_NAME, COLUMN_TYPE, "
                f"IS_NULLABLE, COALESCE(COLLATION_NAME, ''), COLUMN_KEY = 'PRI') IN ({expected})) <> {len(t.attributes)} "
                f"OR (SELECT COUNT(*) FROM information_schema.COLUMNS WHERE {where}) <> {len(t.attributes)})",
                f"djsqlgen refused {filename}: {t.schema}.{t.name} differs from the heading the files came from; undo "
                f"that ALTER, or {way} (compared: columns, types, NULL, collations, primary key)",
                f"{t.schema}.{t.name} must still be as the files were generated from"))
        return out

    def v1_columns(self) -> list[tuple]:
        """Each v1 table the files read, with its columns as the files expect them: (name, type, nullable as
        YES/NO, collation or '', 1 if in the primary key), as information_schema.COLUMNS shows them."""
        out = []
        for ref in sorted({r for t in self.targets for r in t.reads} | set(self.v1_tables())):
            t = self.model.v1_table(ref)
            out.append((t, [(a.name, a.sql_type, "YES" if a.nullable else "NO", a.collation or "", int(a.in_key))
                            for a in t.attributes]))
        return out

    def v1_drift_until_cutover(self, filename: str) -> list[Check]:
        """The v1 drift refusals of a file of the window (40, 50, 60): until the cut-over, which moves or guards v1."""
        return [Check(f"{self.phase_pending('70')} AND ({c.fails_when})", c.message, c.why)
                for c in self.v1_drift(filename)]

    def outside_references(self, filename: str) -> list[Check]:
        """When cut-over moves v1 away, a foreign key from outside the plan into v1 would follow it."""
        if not self.moves_v1():
            return []
        sources = ", ".join(quote_literal(s) for s in self.v1_schemas())
        where = (f"FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE UNIQUE_CONSTRAINT_SCHEMA IN ({sources}) "
                 f"AND CONSTRAINT_SCHEMA NOT IN ({sources})")
        return [Check(
            f"EXISTS (SELECT 1 {where})",
            f"djsqlgen refused {filename}: a schema outside the plan has foreign keys into v1", "tables outside the "
            "plan must not be left referencing the archived v1",
            message_sql=f"CONCAT({quote_literal(f'djsqlgen refused {filename}: foreign keys from outside the plan into v1 (')}, "
                        f"(SELECT GROUP_CONCAT(DISTINCT CONCAT(CONSTRAINT_SCHEMA, '.', TABLE_NAME, ' -> ', "
                        f"UNIQUE_CONSTRAINT_SCHEMA, '.', REFERENCED_TABLE_NAME) SEPARATOR ', ') {where}), "
                        f"{quote_literal('), which cut-over moves to the archive: they would follow it. Add those schemas to the plan, or set cutover.rename_to_final: false')})")]

    def v2_charset(self, source: str) -> tuple[str, str]:
        """The default character set of a v2 (or final) schema: the preset's, else v1's. Tables users declare there
        later take it."""
        if self.plan.preset is not None:
            return self.plan.preset.charset, self.plan.preset.collation
        schema = self.model.v1.schema(source)
        return schema.charset, schema.collation

    def phase_pending(self, phase: str) -> str:
        return f"NOT {guards.applied(self.ctx, phase, same_plan=False)}"

    def drop_bookkeeping(self, keep: tuple[str, ...] = ()) -> list[Statement]:
        """Progress, verify results and every routine: what the window needed (but the tables in ``keep``)."""
        out = [Statement(f"control_table_drop.{name}", f"DROP TABLE IF EXISTS {self.ctx.control_table(name)}",
                         "bookkeeping no longer needed")
               for name in self.bookkeeping if name not in keep]
        return out + self.drop_routines()

    def drop_routines(self) -> list[Statement]:
        ctx = self.ctx
        out = []
        for t in self.targets:
            out += backfill.drop_routines(ctx, t) + verify.drop_routines(ctx, t) + constraints.drop_references_check(ctx, t)
        out += [Statement(f"procedure_drop.{n}", f"DROP PROCEDURE IF EXISTS {quote_qualified((ctx.control, n))}",
                          "shared procedure") for n in SHARED_PROCEDURES]
        return out

    def drop_empty_schemas(self, f: FileBuilder, schemas: list[str], why: str) -> list[Statement]:
        """Drop each schema djsqlgen recorded creating, when nothing at all is left in it."""
        steps = []
        for schema in schemas:
            owned = Owned("schema", schema, schema)
            q = quote_literal(schema)
            steps += [Statement(f"drop.schema.{schema}", f"DROP DATABASE IF EXISTS {quote_qualified((schema,))}",
                                f"{schema}: {why}",
                                done_when=f"NOT {f.registered(owned)} OR NOT {schema_exists(schema)} OR EXISTS (SELECT 1 "
                                          f"FROM information_schema.TABLES WHERE TABLE_SCHEMA = {q}) OR EXISTS (SELECT 1 "
                                          f"FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {q})"),
                      f.forget(owned)]
        return steps
