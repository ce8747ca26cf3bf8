"""The phase files of DESIGN.md, assembled from the engines: checks first, then the changes, and each undo.

Every file opens the same way: a pinned session (character set, sql_mode, lock_wait_timeout), then its
refusals (what it depends on: earlier phases of the same migration, server settings, privileges, the
state of v1 and v2), so that a refused file has changed nothing. Changes to objects djsqlgen owns are
recorded in the control schema's ``objects`` table before they are made, and rollbacks drop only what
is recorded there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from djsqlgen.catalog.sqltypes import parse_sql_type
from djsqlgen.engines import (
    backfill,
    checks,
    chunk_sql,
    constraints,
    expand,
    files,
    guards,
    lineage,
    trial,
    triggers,
    verify,
)
from djsqlgen.engines.context import Context
from djsqlgen.engines.source import from_clause, table_sql, where_clause
from djsqlgen.model.target import TableRef, Target
from djsqlgen.output import expected, naming, two_way
from djsqlgen.output.guard import MESSAGE_LIMIT, refusal_statements
from djsqlgen.output.quoting import quote_identifier, quote_literal, quote_qualified
from djsqlgen.output.render import render
from djsqlgen.output.statements import Check, Owned, PhaseFile, Statement
from djsqlgen.presets.lineage import LINEAGE_TABLE, lineage_rows

# Every file runs in this mode, whatever the client's: triggers and procedures keep the mode they were
# created in, and a non-strict session would make them truncate silently. No NO_BACKSLASH_ESCAPES
# (literals are written with backslashes doubled) and no ANSI_QUOTES ("…" is a string in expressions).
# NO_AUTO_VALUE_ON_ZERO: a v1 row whose auto_increment key is 0 keeps 0 in v2.
SQL_MODE = "STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO"
LOCK_WAIT_TIMEOUT = 10  # seconds a DDL waits for a metadata lock before failing (and being re-run)

# The start of a refusal that means "this rollback has nothing to do": `djsqlgen apply` skips such a file and goes
# on, so that applying the whole rollback/ directory works from whichever phase was reached.
NOTHING_TO_UNDO = "djsqlgen: nothing to undo in"
# The control tables the window needs (20 creates them, rollback/20 and 80 drop them); phase_log and objects outlive it.
SHARED_PROCEDURES = ("run_report", "backfill_chunk", "backfill_table", "checksum_chunk", "checksum_totals",
                     "verify_all", "verify_finish", "verify_report", "verify_record", "verify_table", "check_references")
BOOKKEEPING = ("v1_columns", "heartbeat", "backfill_run", "v2_writes", "verify_diff", "verify_chunk", "verify_run",
               "progress", "chunk_sql", "reference_sql", "files_written")

PHASE_FILES = (
    ("00", "preflight", "Preflight",
     "Check the server, privileges, settings, v1 and the transform; create the control schema."),
    ("10", "expand", "Expand", "Create the v2 schemas and tables (keys and indexes; foreign keys come in 60)."),
    ("20", "routines", "Routines",
     "Progress and verify tables, each v2 table's statements (chunk_sql), and the shared procedures that run them."),
    ("30", "dualwrite", "Dual write", "Triggers that carry every v1 insert, update and delete into v2."),
    ("40", "backfill", "Backfill", "Copy v1's history into v2 in chunks, in dependency order; resumable."),
    ("50", "verify", "Verify",
     "Checksum every v2 table against transform(v1), chunk by chunk; report; fail on any difference."),
    ("60", "constraints", "Constraints",
     "Check v2's references, then add its foreign keys and unique indexes without a table copy."),
    ("70", "cutover", "Cut-over",
     "Make v2 primary: v1 writes fail from now on with a message naming v2; optional renames."),
    ("80", "contract", "Contract",
     "Remove djsqlgen's triggers and routines; retire v1 as the plan says."),
)

RERUN = {
    "00": "Safe to run again: checks, then CREATE … IF NOT EXISTS.",
    "10": "Safe to run again: existing v2 tables of this plan are kept.",
    "20": "Safe to run again: procedures are replaced, progress and verify results kept.",
    "30": "Safe to run again: the triggers are replaced in one step each.",
    "40": "Safe to run again: resumes from the checkpoints; finished tables are skipped.",
    "50": "Safe to run again: each run is recorded separately.",
    "60": "Safe to run again: each constraint is added only when missing.",
    "70": "Safe to run again: each step runs only when not done yet.",
    "80": "Safe to run again: each drop runs only when its object is still there.",
}

EVENTS = ("INSERT", "UPDATE", "DELETE")


def _exists(view: str, where: dict[str, str]) -> str:
    conditions = " AND ".join(f"{column} = {quote_literal(value)}" for column, value in where.items())
    return f"EXISTS (SELECT 1 FROM information_schema.{view} WHERE {conditions})"


def table_exists(schema: str, name: str) -> str:
    return _exists("TABLES", {"TABLE_SCHEMA": schema, "TABLE_NAME": name})


def schema_exists(schema: str) -> str:
    return _exists("SCHEMATA", {"SCHEMA_NAME": schema})


def trigger_exists(schema: str, name: str) -> str:
    return _exists("TRIGGERS", {"TRIGGER_SCHEMA": schema, "TRIGGER_NAME": name})


def definition_md5(create_sql: str) -> str:
    """What a v2 table is declared as: a re-run from another plan version that declares it alike keeps it."""
    import hashlib

    return hashlib.md5(create_sql.encode()).hexdigest()


def object_exists(owned: Owned) -> str:
    if owned.kind == "schema":
        return schema_exists(owned.schema)
    if owned.kind == "table":
        return table_exists(owned.schema, owned.name)
    return trigger_exists(owned.schema, owned.name)


@dataclass
class FileBuilder:
    """One file's statements. ``add`` runs at the top level; ``steps`` inside a procedure the file creates,
    calls and drops, where each step is skipped when its ``done_when`` holds."""

    ctx: Context
    number: str
    name: str
    rollback: bool = False
    statements: list[Statement] = field(default_factory=list)
    step_blocks: int = 0
    needs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return ("rollback/" if self.rollback else "") + f"{self.number}_{self.name}.sql"

    # -- the start of every file ------------------------------------------------------------------
    def pin_session(self) -> None:
        self.statements += [
            Statement("session.names", "SET NAMES utf8mb4", "read this file as UTF-8 whatever the client's default"),
            Statement("session.sql_mode", f"SET SESSION sql_mode = {quote_literal(SQL_MODE)}",
                      "strict, whatever the client's mode: the routines and triggers created below keep it"),
            Statement("session.lock_wait_timeout", f"SET SESSION lock_wait_timeout = {LOCK_WAIT_TIMEOUT}",
                      "a DDL stuck behind a long query fails after this many seconds instead of queueing every "
                      "later query on the table behind it; run the file again then"),
        ]

    def no_wait_ddl(self, what: str) -> None:
        """Run by `djsqlgen apply`, this file's DDL never waits for a writer's transaction (a metadata lock): one that
        waits makes that writer the victim of any metadata-lock deadlock (the server always chooses the DML). A busy
        table fails the statement with 1205 before it changes anything, and apply runs it again (run/apply.py sets
        @djsqlgen_ddl_retries). Another client cannot retry, so there the DDL waits, as in every file."""
        self.statements.append(Statement(
            "session.ddl_no_wait", f"SET SESSION lock_wait_timeout = IF(@djsqlgen_ddl_retries = 'yes', "
            f"{self.ctx.dialect.ddl_lock_wait_s}, {LOCK_WAIT_TIMEOUT})",
            f"under `djsqlgen apply`, this file's {what} never wait for a writer's transaction: a DDL that waits makes "
            "that writer the victim of any metadata-lock deadlock (1213); apply retries a busy table's 1205 instead. "
            f"With another client they wait up to {LOCK_WAIT_TIMEOUT} s"))

    def require(self, privileges: list[tuple[str, str, list[str] | None]]) -> list[Check]:
        """Refusals for missing ``privileges``, also listed in the file's Needs: header for `djsqlgen apply`."""
        for privilege, schema, _ in privileges:
            if schema and (privilege, schema) not in self.needs:
                self.needs.append((privilege, schema))
        return guards.privileges(self.ctx, privileges, self.filename)

    def refuse(self, checks_: list[Check], stage: str = "refuse") -> None:
        self.statements += refusal_statements(checks_, self.ctx.dialect, f"{stage}.{self.number}")

    # -- ownership --------------------------------------------------------------------------------
    def _objects(self) -> str:
        return self.ctx.control_table("objects")

    def register(self, owned: Owned, only_if_new: bool, definition: str = "") -> Statement:
        """Record ``owned`` before creating it. With ``only_if_new``, only when it does not exist yet, so
        that djsqlgen never claims what it found; its creation time is then renewed (progress belongs to the
        table it was made for). ``definition`` is the MD5 of a table's CREATE statement."""
        values = (f"SELECT {quote_literal(owned.kind)}, {quote_literal(owned.schema)}, {quote_literal(owned.name)}, "
                  f"{quote_literal(owned.on_table)}, {quote_literal(self.ctx.migration_hash)}, "
                  f"{quote_literal(self.filename)}, NOW(6), {quote_literal(definition)} FROM DUAL")
        if only_if_new:
            values += f" WHERE NOT {object_exists(owned)}"
        return Statement(
            f"register.{owned.kind}.{owned.schema}.{owned.name}",
            f"INSERT INTO {self._objects()}\n  (kind, schema_name, object_name, on_table, plan_hash, created_by, "
            f"created_at, definition_md5)\n{values}\nON DUPLICATE KEY UPDATE plan_hash = "
            f"{quote_literal(self.ctx.migration_hash)}"
            + (", created_at = NOW(6), definition_md5 = VALUES(definition_md5)" if only_if_new else ""),
            f"record that djsqlgen creates this {owned.kind} (rollbacks drop only what is recorded)")

    def forget(self, owned: Owned) -> Statement:
        return Statement(
            f"forget.{owned.kind}.{owned.schema}.{owned.name}",
            f"DELETE FROM {self._objects()} WHERE kind = {quote_literal(owned.kind)} AND schema_name = "
            f"{quote_literal(owned.schema)} AND object_name = {quote_literal(owned.name)}",
            f"the {owned.kind} is gone")

    def registered(self, owned: Owned) -> str:
        return (f"EXISTS (SELECT 1 FROM {self._objects()} WHERE kind = {quote_literal(owned.kind)} AND schema_name = "
                f"{quote_literal(owned.schema)} AND object_name = {quote_literal(owned.name)})")

    def creating(self, statement: Statement, only_if_new: bool = True) -> list[Statement]:
        """``statement`` preceded by the record of what it creates."""
        if not statement.creates:
            return [statement]
        definition = definition_md5(statement.sql) if statement.creates.kind == "table" else ""
        return [self.register(statement.creates, only_if_new, definition), statement]

    def dropping(self, owned: Owned, sql: str, why: str) -> list[Statement]:
        """Drop ``owned`` only when djsqlgen recorded creating it (as a guarded step), then forget it."""
        return [Statement(f"drop.{owned.kind}.{owned.schema}.{owned.name}", sql, why, drops=owned,
                          done_when=f"NOT {self.registered(owned)} OR NOT {object_exists(owned)}"),
                self.forget(owned)]

    # -- statements -------------------------------------------------------------------------------
    def add(self, *statements: Statement) -> None:
        self.statements.extend(statements)

    def steps(self, steps: list[Statement]) -> None:
        """Run ``steps`` in a procedure created, called and dropped by this file."""
        if not steps:
            return
        self.step_blocks += 1
        proc = naming.step_procedure(("rollback_" if self.rollback else "") + f"{self.number}_{self.name}"
                                     + (f"_{self.step_blocks}" if self.step_blocks > 1 else ""))
        target = quote_qualified((self.ctx.control, proc))
        body = render("step_proc_create.sql.j2", control=self.ctx.control, proc=proc, plan_name=self.ctx.plan.name,
                      filename=self.filename, steps=steps)
        self.add(
            Statement(f"step_drop_stale.{proc}", f"DROP PROCEDURE IF EXISTS {target}", "left over by an interrupted run"),
            Statement(f"step_create.{proc}", body, "the guarded steps of this file; each skips what is already done",
                      compound=True),
            Statement(f"step_call.{proc}", f"CALL {target}()", "run them"),
            Statement(f"step_drop.{proc}", f"DROP PROCEDURE {target}", "clean up"),
        )

    def log(self) -> None:
        self.add(self.log_statement())

    def log_statement(self) -> Statement:
        phase_log = self.ctx.control_table("phase_log")
        if self.rollback:
            return Statement(f"phase_unlog.{self.number}",
                             f"DELETE FROM {phase_log} WHERE phase = {quote_literal(self.number)}",
                             "record that this phase was rolled back")
        return Statement(
            f"phase_log.{self.number}",
            f"INSERT INTO {phase_log} (phase, file, plan_hash, applied_at)\n"
            f"VALUES ({quote_literal(self.number)}, {quote_literal(f'{self.number}_{self.name}.sql')}, "
            f"{quote_literal(self.ctx.migration_hash)}, NOW(6))\n"
            f"ON DUPLICATE KEY UPDATE plan_hash = {quote_literal(self.ctx.migration_hash)}, applied_at = NOW(6)",
            "record that this phase was applied, and from which plan (djsqlgen status reads it)")


class Phases:
    """Every forward and rollback file of one migration."""

    def __init__(self, ctx: Context, data_checks: tuple = (), attachments: tuple = (), reverse: Context | None = None):
        self.ctx = ctx
        self.reverse = reverse  # two-way sync: the reverse model's context (djsqlgen.output.two_way), else None
        self.data_checks = data_checks
        self.attachments = attachments  # 0.14 attach@store sources whose files 2.x reads rewritten (engines.files)
        self.model = ctx.model
        self.plan = ctx.plan
        self.targets = self.model.ordered()
        self.triggers = triggers.trigger_names(ctx)
        # DataJoint 2.x's ~lineage rows per v2 schema, when the plan makes v2 for DataJoint 2.x (10, 70 and their
        # rollbacks all need them)
        self.lineage = lineage_rows(self.model) if self.plan.preset is not None else {}

    # -- shared pieces ----------------------------------------------------------------------------
    def _file(self, number: str, rollback: bool = False, ddl: bool = True) -> FileBuilder:
        name = next(n for num, n, *_ in PHASE_FILES if num == number)
        f = FileBuilder(self.ctx, number, name, rollback)
        f.pin_session()
        return f

    def _control_tables(self) -> list[Statement]:
        sqls = render("control_tables_create.sql.j2", control=self.ctx.control).split("-- statement --")
        names = ["phase_log", "objects", "progress", "verify_run", "verify_chunk", "verify_diff", "v2_writes",
                 "backfill_run", "heartbeat", "chunk_sql", "reference_sql", "v1_columns", "files_written"]
        return [Statement(f"control_table_create.{n}", s.strip(), "bookkeeping of the control schema")
                for n, s in zip(names, sqls) if n in self._bookkeeping or n in ("phase_log", "objects")]

    @property
    def _bookkeeping(self) -> tuple[str, ...]:
        """The control tables of the window: files_written only where the plan converts 0.14 attachments."""
        return tuple(n for n in BOOKKEEPING if n != "files_written" or self.attachments)

    def _v1_schemas(self) -> list[str]:
        return [s.source for s in self.model.schemas]

    def _v2_schemas(self) -> list[str]:
        return [s.target for s in self.model.schemas]

    def _moves_v1(self) -> bool:
        """Whether cut-over moves v1 into archive schemas (v2 takes final names)."""
        return self.plan.cutover.rename_to_final and any(s.archive for s in self.model.schemas)

    def _final(self, schema_map) -> str:
        return schema_map.final if self.plan.cutover.rename_to_final and schema_map.final else schema_map.target

    def _v1_tables(self) -> list[TableRef]:
        return [TableRef(t.schema, t.name) for s in self.model.schemas for t in self.model.v1.schema(s.source).tables]

    def _v2_home(self, target: Target) -> tuple[str, str]:
        return self._final(self.model.schema_map(target.source.driving.schema)), target.name

    def _common_refusals(self, f: FileBuilder, needs: str | None, extra: list[Check] = ()) -> None:
        stage1 = [guards.control_exists(self.ctx, f.filename)]
        if f.rollback:
            stage1 = [Check(stage1[0].fails_when, f"{NOTHING_TO_UNDO} {f.filename}: control schema {self.ctx.control} "
                                                  "is not there, so no phase of this migration is applied",
                            "a rollback undoes what its phase did; without the control schema it did nothing")]
            extra = self._later_phases(f) + list(extra)
        f.refuse(stage1, "refuse_setup")
        stage2 = []
        if needs:
            file = next(f"{num}_{n}.sql" for num, n, *_ in PHASE_FILES if num == needs)
            stage2.append(guards.needs_phase(self.ctx, needs, file, f.filename))
        f.refuse(stage2 + list(extra))

    def _later_phases(self, f: FileBuilder) -> list[Check]:
        """A rollback refuses while a later phase is still applied: rollbacks go newest first."""
        out = []
        for number, name, *_ in PHASE_FILES:
            if number <= f.number:
                continue
            file = f"{number}_{name}.sql"
            out.append(Check(guards.applied(self.ctx, number, same_plan=False),
                             f"djsqlgen refused {f.filename}: {file} is still applied; apply rollback/{file} first "
                             "(djsqlgen apply DIR/rollback runs them newest first)", "roll back newest first"))
        # the backfill and verify leave traces even when run by the command line rather than their files
        traces = {"40": ("progress", "rows_copied > 0 OR done = 1", "40_backfill.sql", "the backfill has copied rows"),
                  "50": ("verify_run", "TRUE", "50_verify.sql", "verify results are kept")}
        for number, (table, where, file, what) in traces.items():
            if number > f.number:
                out.append(Check(f"EXISTS (SELECT 1 FROM {self.ctx.control_table(table)} WHERE {where})",
                                 f"djsqlgen refused {f.filename}: {what}; apply rollback/{file} first",
                                 "roll back newest first", only_if=table_exists(self.ctx.control, table)))
        return out

    def data_refusals(self, filename: str) -> list[Check]:
        return [checks.refusal(self.ctx, c, filename) for c in self.data_checks]

    def _foreign_objects(self, filename: str) -> list[Check]:
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
        for schema in self._v2_schemas():
            planned = ", ".join(quote_literal(t.name) for t in self.targets if t.schema == schema) or "''"
            out.append(Check(
                f"EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {quote_literal(schema)} AND "
                f"TABLE_NAME NOT IN ({planned}))",
                f"djsqlgen refused {filename}: target schema {schema} holds tables outside the plan; choose another "
                "target name",
                "v2 schemas hold only the plan's tables (rollback drops what djsqlgen made there)"))
        return out

    def _v2_tables_foreign(self, filename: str) -> list[Check]:
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

    # -- 00 -----------------------------------------------------------------------------------------
    def preflight(self) -> FileBuilder:
        f = self._file("00")
        checks, privileges = self.preflight_checks()
        f.refuse(checks[:2] + f.require(privileges) + checks[2:], "refuse_server")
        # The transform and the data checks read v1 fully: after the cheap checks above.
        f.add(*self.transform_trial())
        f.refuse(self.data_refusals("00_preflight.sql"), "refuse_data")
        # Nothing changed so far. Now the control schema, recorded as ours only if it did not exist.
        f.add(*self._control_schema())
        estimates = " UNION ALL\n".join(
            f"SELECT {quote_literal(t.label)} AS v2_table, {quote_literal(t.source.driving.label)} AS from_v1, "
            f"TABLE_ROWS AS estimated_rows FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
            f"{quote_literal(t.source.driving.schema)} AND TABLE_NAME = {quote_literal(t.source.driving.name)}"
            for t in self.targets)
        if estimates:
            f.add(Statement("row_estimates", estimates, "the size of the work ahead (InnoDB estimates)"))
        f.log()
        return f

    def preflight_checks(self) -> tuple[list[Check], list[tuple[str, str, list[str] | None]]]:
        """What 00 (and `plan check` on a live server) refuses on before reading v1's data: the server's
        settings first, then v1's definitions, foreign triggers and objects; and the privileges needed."""
        ctx, fn = self.ctx, "00_preflight.sql"
        server = [guards.binlog_trust(ctx, fn), guards.binlog_row(fn)]
        privileges = []
        for s in self._v1_schemas():
            tables = [t.name for t in self.model.v1.schema(s).tables]
            privileges += [("SELECT", s, tables), ("TRIGGER", s, tables)]
        for s in [*self._v2_schemas(), ctx.control]:
            privileges += [("CREATE", s, None), ("DROP", s, None), ("INSERT", s, None)]
        privileges += [("CREATE ROUTINE", ctx.control, None), ("ALTER ROUTINE", ctx.control, None),
                       ("EXECUTE", ctx.control, None)]
        if self.transform_trial():
            privileges += [("CREATE TEMPORARY TABLES", s, None) for s in self._v1_schemas()]
        drift = self._v1_drift(fn)
        foreign_triggers = []
        ours: dict[str, list[str]] = {}  # per v1 schema: its tables' triggers (listing all in each made 00 quadratic)
        for ref, _, name in self.triggers:
            ours.setdefault(ref.schema, []).append(name)
        for r in self._v1_tables():
            ours.setdefault(r.schema, []).extend(naming.guard_trigger_name(self.plan.name, r.name, e) for e in EVENTS)
        for s in self._v1_schemas():
            listed = ", ".join(quote_literal(n) for n in ours.get(s, [])) or "''"
            foreign_triggers.append(Check(
                f"EXISTS (SELECT 1 FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = {quote_literal(s)} AND "
                f"TRIGGER_NAME NOT IN ({listed}) AND EVENT_OBJECT_TABLE IN "
                f"({', '.join(quote_literal(t.name) for t in self.model.v1.schema(s).tables)}))",
                f"djsqlgen refused {fn}: a table of {s} has a trigger djsqlgen did not make; drop or merge it first "
                "(SELECT TRIGGER_NAME FROM information_schema.TRIGGERS shows which)",
                "djsqlgen never overwrites or stacks on someone else's trigger"))
        return (server + drift + foreign_triggers + self._foreign_objects(fn) + self._v2_tables_foreign(fn)
                + self._outside_references(fn)), privileges

    def _v1_drift(self, filename: str, parked_ok: bool = False) -> list[Check]:
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
                archive = self.model.schema_map(t.schema).archive if self._moves_v1() else None
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
        for ref in sorted({r for t in self.targets for r in t.reads} | set(self._v1_tables())):
            t = self.model.v1_table(ref)
            out.append((t, [(a.name, a.sql_type, "YES" if a.nullable else "NO", a.collation or "", int(a.in_key))
                            for a in t.attributes]))
        return out

    def _v1_drift_until_cutover(self, filename: str) -> list[Check]:
        """The v1 drift refusals of a file of the window (40, 50, 60): until the cut-over, which moves or guards v1."""
        return [Check(f"{self._phase_pending('70')} AND ({c.fails_when})", c.message, c.why)
                for c in self._v1_drift(filename)]

    def _control_schema(self) -> list[Statement]:
        """Create the control schema with its phase log and object record; record the schema as djsqlgen's only
        when this run created it (a schema the DBA made for the migration is never dropped)."""
        ctx = self.ctx
        return [
            Statement("control_schema_seen", f"SET @djsqlgen_control_is_new = NOT {schema_exists(ctx.control)}",
                      "whether this run creates the control schema (then djsqlgen may drop it later)"),
            Statement("control_schema_create", f"CREATE DATABASE IF NOT EXISTS {quote_qualified((ctx.control,))} "
                                               "DEFAULT CHARACTER SET utf8mb4",
                      "the control schema: progress, checkpoints, verify results and djsqlgen's procedures (utf8mb4: "
                      "it holds keys and statements of every character set)"),
            *[s for s in self._control_tables() if s.id.endswith(("phase_log", "objects"))],
            Statement("register.schema.control",
                      f"INSERT IGNORE INTO {ctx.control_table('objects')}\n  (kind, schema_name, object_name, "
                      f"on_table, plan_hash, created_by, created_at)\nSELECT 'schema', {quote_literal(ctx.control)}, "
                      f"{quote_literal(ctx.control)}, '', {quote_literal(ctx.migration_hash)}, 'control', "
                      "NOW(6) FROM DUAL WHERE @djsqlgen_control_is_new",
                      "record the control schema as djsqlgen's when this run created it"),
        ]

    def transform_trial(self) -> list[Statement]:
        """Try every computed column of every target on all of v1, into a temporary table typed as in v2, so that
        an expression that fails (a value that does not fit, a NULL for a NOT NULL column, a division by zero)
        fails here, naming its plan key, before any trigger exists, and not in a user's write later. One column
        at a time: the error then names the plan key that computes it."""
        out = []
        for i, t in enumerate(self.targets, 1):
            for j, c in enumerate((c for c in t.columns if c.copied_from is None and c.expr.refs), 1):
                temp = quote_qualified((t.source.driving.schema, f"djsqlgen_trial_{i}_{j}"))
                decl = (f"{quote_identifier(c.name)} {c.decl.sql_type}"
                        + (f" CHARACTER SET {c.decl.charset}" if c.decl.charset else "")
                        + (f" COLLATE {c.decl.collation}" if c.decl.collation else "")
                        + (" NULL" if c.decl.nullable else " NOT NULL"))
                out += [
                    Statement(f"trial_drop_stale.{t.label}.{c.name}", f"DROP TEMPORARY TABLE IF EXISTS {temp}",
                              "left over in this session by an interrupted run"),
                    Statement(f"trial_create.{t.label}.{c.name}", f"CREATE TEMPORARY TABLE {temp} ({decl})",
                              f"{t.label}.{c.name} as v2 declares it (temporary: gone with the session)"),
                    self._trial_insert(t, temp, c),
                    Statement(f"trial_drop.{t.label}.{c.name}", f"DROP TEMPORARY TABLE {temp}", "done"),
                ]
        return out

    def _trial_insert(self, t: Target, temp: str, c) -> Statement:
        """Column ``c`` of ``t`` for every v1 row, into the temporary table. On MariaDB an error is turned into a
        refusal naming the plan key (in an anonymous block); MySQL shows the server's own error."""
        key = c.plan_key or t.plan_key
        insert = (f"INSERT INTO {temp} ({quote_identifier(c.name)})\n"
                  f"SELECT /* djsqlgen {self.plan.name} transform trial */ {c.expr.render()}\n"
                  f"{from_clause(t)}\n{where_clause(t)}").rstrip()
        why = f"{key}: compute it for every v1 row (fix the expr or the type in the plan if this fails)"
        if not self.ctx.dialect.anonymous_blocks:
            return Statement(f"trial.{t.label}.{c.name}", insert, why)
        prefix = quote_literal(f"djsqlgen refused 00_preflight.sql: {key}: the plan's value of {t.label}.{c.name} "
                               "fails on v1's data: ")
        block = ("BEGIN NOT ATOMIC\n  DECLARE EXIT HANDLER FOR SQLEXCEPTION\n  BEGIN\n"
                 "    DECLARE v_text TEXT DEFAULT '';\n    GET DIAGNOSTICS CONDITION 1 v_text = MESSAGE_TEXT;\n"
                 f"    SET @djsqlgen_message = LEFT(CONCAT({prefix}, v_text), 400);\n"
                 "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = @djsqlgen_message;\n  END;\n"
                 f"  {insert.replace(chr(10), chr(10) + '  ')};\nEND")
        return Statement(f"trial.{t.label}.{c.name}", block, why, compound=True)

    def _outside_references(self, filename: str) -> list[Check]:
        """When cut-over moves v1 away, a foreign key from outside the plan into v1 would follow it."""
        if not self._moves_v1():
            return []
        sources = ", ".join(quote_literal(s) for s in self._v1_schemas())
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

    # -- 10 -----------------------------------------------------------------------------------------
    def expand(self) -> FileBuilder:
        f, fn = self._file("10"), "10_expand.sql"
        privileges = [(p, s, None) for s in self._v2_schemas() for p in ("CREATE", "INSERT", "SELECT")]
        self._common_refusals(f, "00", f.require(privileges) + self._foreign_objects(fn)
                              + self._v2_tables_foreign(fn) + self._v2_tables_other_plan(fn))
        for spec in self.model.schemas:
            f.add(*f.creating(expand.create_schema(self.ctx, spec.target, *self._v2_charset(spec.source),
                                                   spec.source)))
        for t in self.targets:
            f.add(*f.creating(expand.create_table(self.ctx, t)))
        for schema, rows in self.lineage.items():
            f.add(*f.creating(lineage.create(self.ctx, schema)), lineage.fill(self.ctx, schema, rows))
        f.log()
        return f

    def _v2_charset(self, source: str) -> tuple[str, str]:
        """The default character set of a v2 (or final) schema: the preset's, else v1's. Tables users declare there
        later take it."""
        if self.plan.preset is not None:
            return self.plan.preset.charset, self.plan.preset.collation
        schema = self.model.v1.schema(source)
        return schema.charset, schema.collation

    def _archive_charsets(self, to_v2: bool) -> list[Statement]:
        """When v2 takes v1's schema (v1 to its archive) under a preset, that schema's default character set becomes
        the preset's at cut-over (tables users declare there later take it), and v1's again on its rollback."""
        if self.plan.preset is None or not self.plan.cutover.rename_to_final:
            return []
        out = []
        for spec in self.model.schemas:
            if spec.final == spec.source and spec.archive:
                charset, collation = (self._v2_charset(spec.source) if to_v2 else
                                      (self.model.v1.schema(spec.source).charset,
                                       self.model.v1.schema(spec.source).collation))
                out.append(Statement(f"schema_charset.{spec.source}", f"ALTER DATABASE {quote_qualified((spec.source,))} "
                                     f"DEFAULT CHARACTER SET {charset} COLLATE {collation}",
                                     "the schema v2 now holds takes v2's character set" if to_v2 else
                                     "the schema v1 holds again takes v1's character set"))
        return out

    def _lineage_moves(self) -> tuple[list, list[tuple[str, str]]]:
        """(~lineage table moves, (versioned, final) schema names) of a cut-over that renames the v2 schemas."""
        renamed = [(spec.target, spec.final) for spec in self.model.schemas
                   if self.plan.cutover.rename_to_final and spec.final and spec.final != spec.target]
        lineage_schemas = self.lineage
        moves = [((old, LINEAGE_TABLE), (new, LINEAGE_TABLE)) for old, new in renamed if old in lineage_schemas]
        return moves, renamed

    def _v2_tables_other_plan(self, filename: str) -> list[Check]:
        objects = self.ctx.control_table("objects")
        out = []
        for t in self.targets:
            out.append(Check(
                f"EXISTS (SELECT 1 FROM {objects} WHERE kind = 'table' AND schema_name = {quote_literal(t.schema)} AND "
                f"object_name = {quote_literal(t.name)} AND definition_md5 <> "
                f"{quote_literal(definition_md5(expand.create_table(self.ctx, t).sql))}) AND "
                f"{table_exists(t.schema, t.name)}",
                f"djsqlgen refused {filename}: {t.label} was created from another version of this plan and is declared "
                "differently; apply rollback/10_expand.sql (after rolling back later phases), then this file",
                "v2 tables must be declared as this plan says"))
        return out

    # -- 20 -----------------------------------------------------------------------------------------
    def routines(self) -> FileBuilder:
        f, _fn = self._file("20"), "20_routines.sql"
        privileges = [(p, self.ctx.control, None) for p in ("CREATE ROUTINE", "ALTER ROUTINE", "CREATE")]
        self._common_refusals(f, "10", f.require(privileges))
        f.add(*self._routine_statements())
        f.log()
        return f

    def _routine_statements(self) -> list[Statement]:
        ctx = self.ctx
        out = list(self._control_tables())
        ids = ", ".join(quote_literal(t.id) for t in self.targets) or "''"
        out.append(Statement("progress_obsolete", f"DELETE FROM {ctx.control_table('progress')} WHERE target_id NOT "
                                                  f"IN ({ids})", "targets that an earlier version of the plan had"))
        rows = ",\n".join(
            f"({quote_literal(t.id)}, {quote_literal(t.source.driving.schema)}, {quote_literal(t.source.driving.name)}, "
            f"{quote_literal(t.schema)}, {quote_literal(t.name)}, {i})" for i, t in enumerate(self.targets, 1))
        if rows:
            out.append(Statement(
                "progress_rows",
                f"INSERT INTO {ctx.control_table('progress')}\n  (target_id, source_schema, source_table, "
                f"target_schema, target_table, ordinal)\nVALUES\n{rows}\nON DUPLICATE KEY UPDATE ordinal = ordinal",
                "one progress row per v2 table; an existing row keeps its checkpoint"))
        v1_rows = ",\n".join(f"({quote_literal(t.schema)}, {quote_literal(t.name)}, "
                              f"{', '.join(quote_literal(v) for v in c[:4])}, {c[4]})"
                              for t, columns in self.v1_columns() for c in columns)
        out.append(Statement("v1_columns_clear", f"DELETE FROM {ctx.control_table('v1_columns')}",
                             "v1 as an earlier generate saw it"))
        if v1_rows:
            out.append(Statement("v1_columns_rows", f"INSERT INTO {ctx.control_table('v1_columns')}\n  (schema_name, "
                                                    "table_name, column_name, column_type, is_nullable, "
                                                    f"collation_name, in_key)\nVALUES\n{v1_rows}",
                                 "v1 as these files were generated from it: `djsqlgen backfill` and `verify` check it "
                                 "at start-up"))
        for t in self.targets:
            out += [chunk_sql.row_statement(ctx, t)] + constraints.references_check(ctx, t)
        keyed_ids = [t.id for t in self.targets if verify.strategy(t) == "keyed"]
        for name, template, extra, why in (
            ("run_report", "run_report_proc_create.sql.j2",
             {"lock": naming.run_lock(ctx.control), "active": naming.ACTIVE_STATES},
             "what the loops of 40 and 50 are doing, for djsqlgen status"),
            ("backfill_chunk", "backfill_chunk_proc_create.sql.j2", {"no_wait_s": ctx.dialect.chunk_lock_wait_s},
             "one chunk of one table's backfill"),
            ("backfill_table", "backfill_table_proc_create.sql.j2",
             {"locked_for_s": backfill.LOCKED_FOR_S, "quiet_retries": backfill.QUIET_RETRIES,
              "first_pause_s": backfill.FIRST_PAUSE_S, "max_pause_s": backfill.MAX_PAUSE_S},
             "one table's backfill, chunk after chunk"),
            ("checksum_chunk", "checksum_chunk_proc_create.sql.j2", {"aggregate": verify.aggregate()},
             "checksums of one chunk of one table, both sides"),
            ("check_references", "references_check_proc_create.sql.j2", {},
             "every row of one v2 table finds its parents (60, before adding its foreign keys)"),
            ("checksum_totals", "checksum_totals_proc_create.sql.j2", {},
             "whole-table counts of one keyed comparison, both sides"),
            ("verify_record", "verify_record_proc_create.sql.j2", {}, "keep one chunk's result"),
            ("verify_table", "verify_table_proc_create.sql.j2", {}, "one table's verify, chunk after chunk"),
            ("verify_report", "verify_report_proc_create.sql.j2", {}, "the result of a verify run"),
            ("verify_finish", "verify_finish_proc_create.sql.j2", {"keyed_ids": keyed_ids},
             "close a run (clean only if every table was checked to its end), then the report"),
            ("verify_all", "verify_all_proc_create.sql.j2",
             {"tables": [verify.verify_table_call(t) for t in self.targets]}, "every table, then the report"),
        ):
            q = quote_qualified((ctx.control, name))
            out += [Statement(f"procedure_drop.{name}", f"DROP PROCEDURE IF EXISTS {q}", "replace an earlier version"),
                    Statement(f"procedure_create.{name}", render(template, control=ctx.control, plan_name=self.plan.name,
                                                                 plan_hash=ctx.migration_hash, **extra),
                              f"{name}: {why}", compound=True)]
        return out

    # -- 30 -----------------------------------------------------------------------------------------
    def dualwrite(self) -> FileBuilder:
        f, fn = self._file("30"), "30_dualwrite.sql"
        ctx = self.ctx
        privileges = [("TRIGGER", s, [t.name for t in self.model.v1.schema(s).tables]) for s in self._v1_schemas()]
        if self.reverse is not None:  # two-way: triggers on v2 too
            privileges += [("TRIGGER", s, None) for s in self._v2_schemas()]
        refusals = [guards.binlog_trust(ctx, fn), guards.binlog_row(fn)] + f.require(privileges)
        refusals += self._triggers_of_other_plan(fn) + self._v1_drift(fn)
        refusals.append(guards.not_after(ctx, "70", "70_cutover.sql", fn, "after cut-over v2 is primary; "
                                         "apply rollback/70_cutover.sql first"))
        self._common_refusals(f, "20", refusals)
        f.add(*trial.trial_statements(ctx, fn))
        if not ctx.dialect.create_or_replace_trigger:
            # MySQL: no CREATE OR REPLACE TRIGGER. A trigger of another version of this plan is dropped first;
            # the refusal above made sure v2 is still empty, so a write in between is copied by the backfill.
            f.steps([Statement(f"trigger_drop_other_plan.{ref.label}.{e.lower()}", triggers.drop(ctx, ref, n),
                               "a trigger of another version of this plan",
                               done_when=f"NOT EXISTS (SELECT 1 FROM {ctx.control_table('objects')} WHERE kind = "
                                         f"'trigger' AND schema_name = {quote_literal(ref.schema)} AND object_name = "
                                         f"{quote_literal(n)} AND plan_hash <> {quote_literal(ctx.migration_hash)})")
                     for ref, e, n in self.triggers])
        for statement in triggers.create_all(ctx) + two_way.v2_trigger_statements(ctx, self.reverse):
            f.add(*f.creating(statement, only_if_new=False))
        f.log()
        return f

    def _triggers_of_other_plan(self, filename: str) -> list[Check]:
        """Triggers from another version of the plan may be replaced only while v2 holds nothing they wrote."""
        objects, progress = self.ctx.control_table("objects"), self.ctx.control_table("progress")
        v2_has_rows = " OR ".join(f"EXISTS (SELECT 1 FROM {table_sql(t.schema, t.name)} LIMIT 1)" for t in self.targets)
        return [Check(
            f"EXISTS (SELECT 1 FROM {objects} WHERE kind = 'trigger' AND plan_hash <> "
            f"{quote_literal(self.ctx.migration_hash)}) AND (EXISTS (SELECT 1 FROM {progress} WHERE rows_copied > 0) "
            f"OR {v2_has_rows or 'FALSE'})",
            f"djsqlgen refused {filename}: the dual-write triggers installed come from another version of this plan "
            "and v2 already holds rows they or the backfill wrote; apply rollback/40_backfill.sql, then this file",
            "new triggers over rows written by the old ones would leave v2 mixed")]

    # -- 40 -----------------------------------------------------------------------------------------
    def backfill(self) -> FileBuilder:
        f, fn = self._file("40"), "40_backfill.sql"
        self._common_refusals(f, "30", [
            guards.binlog_row(fn), *self._v1_drift_until_cutover(fn),
            expected.missing("TRIGGERS", [(r.schema, n) for r, _, n in self.triggers],
                             f"djsqlgen refused {fn}: dual-write triggers are missing; apply 30_dualwrite.sql before "
                             "the backfill", "without the triggers, writes made during the copy would never reach v2"),
            guards.not_after(self.ctx, "70", "70_cutover.sql", fn, "v2 is primary; nothing to copy")])
        if self.reverse is not None:
            f.add(two_way.engine_session(True))
        for t in self.targets:
            f.add(backfill.run(self.ctx, t))
        if self.reverse is not None:
            f.add(two_way.engine_session(False))
        f.log()
        return f

    # -- 50 -----------------------------------------------------------------------------------------
    def verify(self) -> FileBuilder:
        f = self._file("50")
        self._common_refusals(f, "30", self._v1_drift_until_cutover("50_verify.sql"))
        f.log()
        f.add(Statement("verify_all", f"CALL {self.ctx.control_table('verify_all')}({self.plan.chunk.verify_rows}, 1)",
                        "checksums of every table (one consistent snapshot per chunk), the report, and an error "
                        "if any table differs"))
        return f

    # -- 60 -----------------------------------------------------------------------------------------
    def constraints(self) -> FileBuilder:
        f, fn = self._file("60"), "60_constraints.sql"
        f.no_wait_ddl("ADD FOREIGN KEY and ADD UNIQUE")
        privileges = [(p, s, None) for s in self._v2_schemas() for p in ("ALTER", "REFERENCES", "INDEX")]
        self._common_refusals(f, "30", [guards.backfill_done(self.ctx, fn), *self._v1_drift_until_cutover(fn)]
                              + f.require(privileges))
        for t in self.targets:
            f.add(*constraints.check_calls(self.ctx, t))
        f.add(Statement("session.foreign_key_checks_off", "SET SESSION foreign_key_checks = 0",
                        "with the references checked above, ADD FOREIGN KEY becomes a metadata-only change "
                        "(ALGORITHM=INPLACE, LOCK=NONE) instead of a table copy under a shared lock"))
        f.steps([s for t in self.targets for s in constraints.add(self.ctx, t)])
        f.add(Statement("session.foreign_key_checks_on", "SET SESSION foreign_key_checks = 1", "back to normal"))
        f.log()
        return f

    # -- 70 -----------------------------------------------------------------------------------------
    def _guard_statements(self, where: dict[str, str]) -> list[Statement]:
        """BEFORE triggers on the v1 tables (in schema ``where[source]``) that fail every write, naming v2."""
        out = []
        by_driving = {t.source.driving: t for t in self.targets}
        for ref in self._v1_tables():
            schema = where[ref.schema]
            target = by_driving.get(ref)
            home = ".".join(self._v2_home(target)) if target else None
            message = (f"djsqlgen: {ref.label} was cut over to {home}; write there" if home else
                       f"djsqlgen: {ref.label} was retired by migration {self.plan.name}; v2 has no such table")
            for event in EVENTS:
                name = naming.guard_trigger_name(self.plan.name, ref.name, event)
                sql = (f"{self._create_trigger()}{quote_qualified((schema, name))}\nBEFORE {event} ON "
                       f"{quote_qualified((schema, ref.name))}\nFOR EACH ROW\n"
                       f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {quote_literal(message[:128])}")
                out.append(Statement(f"guard_create.{schema}.{ref.name}.{event.lower()}", sql,
                                     f"from now on a {event} on v1's {ref.name} fails, naming v2", compound=True,
                                     creates=Owned("trigger", schema, name, ref.name)))
        return out

    def _tracker_statements(self, on: dict[str, tuple[str, str]]) -> list[tuple[Target, Statement]]:
        """AFTER triggers on v2 tables that record the key of each row written after cut-over (rollback/70
        refuses while any is recorded). ``on``: where each target's table is while they are created. An UPDATE
        records the old key too (the row left it). One INSERT IGNORE of small rows: writers do not queue on a
        counter."""
        out = []
        for t in self.targets:
            schema, name = on[t.id]
            home = self._v2_home(t)[1]
            for event in EVENTS:
                images = {"INSERT": ["NEW"], "UPDATE": ["NEW", "OLD"], "DELETE": ["OLD"]}[event]
                rows = ",\n  ".join(f"({quote_literal(t.id)}, MD5({k}), {k}, NOW(6))"
                                    for k in (self._written_key(t, image) for image in images))
                trig = naming.tracker_trigger_name(self.plan.name, t.name, event)
                sql = (f"{self._create_trigger()}{quote_qualified((schema, trig))}\nAFTER {event} ON "
                       f"{quote_qualified((schema, name))}\nFOR EACH ROW\n"
                       f"INSERT IGNORE INTO {self.ctx.control_table('v2_writes')} (target_id, key_md5, row_key, "
                       f"written_at)\nVALUES {rows}")
                out.append((t, Statement(f"tracker_create.{schema}.{home}.{event.lower()}", sql,
                                         f"remember v2 rows written after cut-over ({event})", compound=True,
                                         creates=Owned("trigger", schema, trig, home))))
        return out

    def _on_parked_or_final(self, statement: Statement, parked: tuple[str, str],
                            final: tuple[str, str]) -> list[Statement]:
        """A tracker for the parked v2 table, or for the final one when a run of 70 before this one moved it
        there already: on MariaDB a prepared statement chooses, so 70 runs twice without error. (MySQL cannot
        prepare CREATE TRIGGER: there the trigger, already present under its name, is skipped by IF NOT EXISTS.)"""
        if not self.ctx.dialect.is_mariadb:
            return [statement]
        on_final = statement.sql.replace(f" ON {quote_qualified(parked)}\n", f" ON {quote_qualified(final)}\n")
        sid = statement.id
        return [Statement(f"{sid}.choose", f"SET @djsqlgen_ddl = IF({table_exists(*parked)}, "
                                           f"{quote_literal(statement.sql)}, {quote_literal(on_final)})",
                          statement.comment + ": on the parked table, or on the final one once 70 has run",
                          creates=statement.creates),
                Statement(f"{sid}.prepare", "PREPARE djsqlgen_ddl FROM @djsqlgen_ddl", "—"),
                Statement(f"{sid}.run", "EXECUTE djsqlgen_ddl", "—"),
                Statement(f"{sid}.done", "DEALLOCATE PREPARE djsqlgen_ddl", "—")]

    def _create_trigger(self) -> str:
        """CREATE [OR REPLACE] TRIGGER [IF NOT EXISTS]: a re-run replaces (MariaDB) or keeps (MySQL 8.0.29+)."""
        if self.ctx.dialect.create_or_replace_trigger:
            return "CREATE OR REPLACE TRIGGER "
        return "CREATE TRIGGER IF NOT EXISTS "

    @staticmethod
    def _written_key(t: Target, record: str) -> str:
        """The v2 key of a trigger's row as JSON text; binary columns as hex (JSON holds text)."""
        return Phases._key_json(t, [f"{record}.{quote_identifier(c.name)}" for c in t.key_columns])

    @staticmethod
    def _key_json(t: Target, values: list[str]) -> str:
        """JSON text of ``values`` (one per key column of ``t``), as the trackers record a key."""
        parts = [f"HEX({v})" if parse_sql_type(c.decl.sql_type).family == "binary" else v
                 for c, v in zip(t.key_columns, values)]
        return f"JSON_ARRAY({', '.join(parts)})"

    def _recorded_keys(self, t: Target) -> str:
        """SELECT of the keys of ``t`` recorded in v2_writes, one column ``k_i`` per key column."""
        decoded = ", ".join(
            ("UNHEX({v})" if parse_sql_type(c.decl.sql_type).family == "binary" else "{v}").format(
                v=f"JSON_UNQUOTE(JSON_EXTRACT(row_key, '$[{i}]'))") + f" AS {quote_identifier(f'k_{i}')}"
            for i, c in enumerate(t.key_columns))
        return (f"SELECT {decoded} FROM {self.ctx.control_table('v2_writes')} "
                f"WHERE target_id = {quote_literal(t.id)}")

    def _cascaded_keys(self, child: Target) -> list[Statement]:
        """v2's ON UPDATE CASCADE moved children of written rows without firing a trigger: record, as written,
        every row of ``child`` that references a recorded parent key, in v2 (where the cascade put it) and in
        transform(v1) (where it comes back from). Parents first, so this reaches grandchildren too."""
        out = []
        parents = {t.id: t for t in self.targets}
        writes = self.ctx.control_table("v2_writes")
        for fk in child.foreign_keys:
            parent = parents.get(fk.parent)
            if parent is None or not set(fk.ref_columns) <= set(parent.primary_key):
                continue
            index = {c.name: i for i, c in enumerate(parent.key_columns)}
            recorded = self._recorded_keys(parent)
            on = " AND ".join(f"c.{quote_identifier(col)} = w.{quote_identifier(f'k_{index[ref]}')}"
                              for col, ref in zip(fk.columns, fk.ref_columns))
            in_v2 = self._key_json(child, [f"c.{quote_identifier(c.name)}" for c in child.key_columns])
            mapped = self._key_json(child, [c.expr.render() for c in child.key_columns])
            refs = ", ".join(child.column(col).expr.render() for col in fk.columns)
            labels = ", ".join(quote_identifier(f"k_{index[ref]}") for ref in fk.ref_columns)
            insert = f"INSERT IGNORE INTO {writes} (target_id, key_md5, row_key, written_at)\n"
            out += [
                Statement(f"discard_cascaded_v2.{child.label}.{fk.name}",
                          f"{insert}SELECT {quote_literal(child.id)}, MD5(k), k, NOW(6) FROM (\n  SELECT {in_v2} AS k\n"
                          f"  FROM {table_sql(child.schema, child.name)} AS c\n  JOIN ({recorded}) AS w ON {on}\n) AS x",
                          f"rows of {child.label} under a written {parent.label} (v2's cascade may have moved them)"),
                Statement(f"discard_cascaded_v1.{child.label}.{fk.name}",
                          f"{insert}SELECT {quote_literal(child.id)}, MD5(k), k, NOW(6) FROM (\n  SELECT {mapped} AS k\n"
                          f"  {from_clause(child)}\n  {where_clause(child, f'({refs}) IN (SELECT {labels} FROM ({recorded}) AS w)')}"
                          f"\n) AS x",
                          f"and the rows of {child.label} that transform(v1) puts there"),
            ]
        return out

    def _discard_v2_writes(self) -> list[Statement]:
        """Give up the rows written to v2 after cut-over: each recorded key's v2 row is deleted and computed
        again from v1 (where v1 has a row for it), so that v2 is transform(v1) once more. The children v2's
        cascades moved are recorded first. Runs with foreign key checks off (deleted parents come back; v2's
        cascades must not touch children)."""
        cascaded, out = [], []
        for t in self.targets:
            cascaded += self._cascaded_keys(t)
            keys = t.key_columns
            written = self._recorded_keys(t)
            on = " AND ".join(f"dst.{quote_identifier(c.name)} = w.{quote_identifier(f'k_{i}')}"
                              for i, c in enumerate(keys))
            mapped = ", ".join(c.expr.render() for c in keys)
            labels = ", ".join(quote_identifier(f"k_{i}") for i in range(len(keys)))
            values = ",\n  ".join(f"{c.expr.render()} AS {quote_identifier(c.name)}" for c in t.columns)
            updates = ", ".join(f"{quote_identifier(c.name)} = dt.{quote_identifier(c.name)}" for c in t.columns
                                if c.name not in t.primary_key) or \
                f"{quote_identifier(t.primary_key[0])} = dt.{quote_identifier(t.primary_key[0])}"
            target = table_sql(t.schema, t.name)
            out += [
                Statement(f"discard_delete.{t.label}",
                          f"DELETE dst FROM {target} AS dst\nJOIN ({written}) AS w ON {on}",
                          f"the v2 rows of {t.label} written after cut-over go"),
                Statement(f"discard_recompute.{t.label}",
                          f"INSERT INTO {target} ({', '.join(quote_identifier(c.name) for c in t.columns)})\n"
                          f"SELECT * FROM (\n  SELECT\n  {values}\n  {from_clause(t)}\n  "
                          f"{where_clause(t, f'({mapped}) IN (SELECT {labels} FROM ({written}) AS w)')}\n) AS dt\n"
                          f"ON DUPLICATE KEY UPDATE {updates}",
                          "and come back as v1 has them (parents first)"),
            ]
        # deletes children first, recomputes parents first
        deletes = [s for s in reversed(out) if s.id.startswith("discard_delete")]
        return cascaded + deletes + [s for s in out if s.id.startswith("discard_recompute")]

    def _carry_counter(self, into: tuple[str, str], issued_by: list[tuple[str, str]], why: str,
                       done_when: str | None = None) -> Statement:
        """Set ``into``'s AUTO_INCREMENT above every id that it and the tables ``issued_by`` ever handed out: their
        counters, not their largest ids (a row inserted then deleted at the top keeps its id issued). GREATEST with
        its own counter: safe to run twice, never lowers it. The ALTER takes a literal, so a prepared statement; it
        changes metadata only (INPLACE, LOCK=NONE: refused rather than copying the table, on both servers)."""
        counter = "COALESCE((SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND " \
                  "TABLE_NAME = {}), 1)"
        counters = ",\n    ".join(counter.format(quote_literal(a), quote_literal(b)) for a, b in [into, *issued_by])
        alter = quote_literal(f"ALTER TABLE {quote_qualified(into)} AUTO_INCREMENT = ")
        # MySQL 8 serves information_schema.TABLES.AUTO_INCREMENT from a cache for information_schema_stats_expiry
        # seconds (a day by default): read it fresh. MariaDB has no such cache (nor the variable).
        fresh = "" if self.ctx.dialect.is_mariadb else "SET SESSION information_schema_stats_expiry = 0;\n"
        sql = (f"{fresh}SET @djsqlgen_next_id = GREATEST(\n    {counters});\n"
               f"SET @djsqlgen_ddl = CONCAT({alter}, @djsqlgen_next_id, ', ALGORITHM=INPLACE, LOCK=NONE');\n"
               "PREPARE djsqlgen_ddl FROM @djsqlgen_ddl;\nEXECUTE djsqlgen_ddl;\nDEALLOCATE PREPARE djsqlgen_ddl")
        skip = f"NOT {table_exists(*into)}" + (f" OR {done_when}" if done_when else "")
        return Statement(f"counter.{into[0]}.{into[1]}", sql, why, done_when=skip)

    def _counters_to_v2(self, v1_home: dict[str, str], v2_at: dict[str, tuple[str, str]], done_when: str) -> list:
        """70: each v2 table with an AUTO_INCREMENT column counts on above every id its v1 table issued."""
        return [self._carry_counter(v2_at[t.id], [(v1_home[t.source.driving.schema], t.source.driving.name)],
                                    f"new rows in {t.label} get ids v1 never issued (v1's counter, not its largest id)",
                                    done_when)
                for t in self.targets if any(c.decl.auto_increment for c in t.columns)]

    def _counters_to_v1(self, v1_at: dict[TableRef, tuple[str, str]]) -> list:
        """rollback/70: each v1 table counts on above every id its v2 tables issued after the cut-over."""
        by_v1: dict[TableRef, list[Target]] = {}
        for t in self.targets:
            if any(c.decl.auto_increment for c in t.columns):
                by_v1.setdefault(t.source.driving, []).append(t)
        return [self._carry_counter(v1_at.get(ref, (ref.schema, ref.name)), [(t.schema, t.name) for t in targets],
                                    f"new rows in v1's {ref.name} get ids v2 never issued")
                for ref, targets in by_v1.items()]

    def _renames(self) -> tuple[list, list, list]:
        """(park v1 in its schema, parked v1 → archive, v2 → final) pairs of cut-over."""
        park, archive, final = [], [], []
        for spec in self.model.schemas:
            for table in self.model.v1.schema(spec.source).tables:
                if self._moves_v1() and spec.archive:
                    parked = naming.cutover_parking_name(table.name)
                    park.append(((spec.source, table.name), (spec.source, parked)))
                    archive.append(((spec.source, parked), (spec.archive, table.name)))
            if self.plan.cutover.rename_to_final and spec.final and spec.final != spec.target:
                for t in self.targets:
                    if t.schema == spec.target:
                        final.append(((t.schema, t.name), (spec.final, t.name)))
        return park, archive, final

    def _cutover_parking(self) -> list:
        """(v2 table, its parking name in its final schema) pairs: where 70 holds v2 until its trackers are on."""
        return [(a, (b[0], naming.v2_parking_name(b[1], "cutover"))) for a, b in self._renames()[2]]

    def _rename(self, sid: str, pairs, why: str, done_if: str | None = None) -> Statement:
        """One atomic RENAME TABLE of ``pairs``, skipped once its first table has moved (or ``done_if`` holds:
        after the cut-over v2 holds v1's names, so a name alone cannot tell whether v1 was parked)."""
        body = ",\n  ".join(f"{quote_qualified(a)} TO {quote_qualified(b)}" for a, b in pairs)
        done = "NOT " + table_exists(*pairs[0][0])
        return Statement(sid, f"RENAME TABLE\n  {body}", why, done_when=f"{done_if} OR {done}" if done_if else done)

    def _new_schemas(self, f: FileBuilder) -> list[Statement]:
        """Archive and final schemas cut-over moves tables into, recorded as ours when it creates them."""
        out = []
        for spec in self.model.schemas:
            if not self.plan.cutover.rename_to_final:
                continue
            source = self.model.v1.schema(spec.source)
            for schema in (spec.archive, spec.final):
                if schema and schema not in (spec.source, spec.target):
                    owned = Owned("schema", schema, schema)
                    charset, collation = (self._v2_charset(spec.source) if schema == spec.final
                                          else (source.charset, source.collation))
                    out += [f.register(owned, only_if_new=True),
                            Statement(f"schema_create.{schema}", f"CREATE DATABASE IF NOT EXISTS "
                                                                 f"{quote_qualified((schema,))} DEFAULT CHARACTER SET "
                                                                 f"{charset} COLLATE {collation}",
                                      "where tables move to, with its tables' character set (the default of tables "
                                      "declared there later)")]
        return out

    def _attachments_pending(self, filename: str) -> list[Check]:
        """70 refuses while an attachment of the manifest is not recorded in place by `djsqlgen files`: 2.x could
        not read it from v2 once v2 is primary."""
        if not self.attachments:
            return []
        return [Check(f"{self._phase_pending('70')} AND {files.pending_sql(self.ctx.control, list(self.attachments))}",
                      f"djsqlgen refused {filename}: run `djsqlgen files` first: files_manifest.sql lists 0.14 "
                      "attachments not yet in 2.x's form",
                      "2.x reads an attach@store value only from the file `djsqlgen files` writes")]

    def cutover(self) -> FileBuilder:
        f, fn = self._file("70"), "70_cutover.sql"
        ctx = self.ctx
        f.no_wait_ddl("CREATE/DROP TRIGGER and RENAME")
        privileges = [(p, s, None) for s in self._v1_schemas() + self._v2_schemas() for p in ("ALTER", "DROP", "TRIGGER")]
        privileges += [(p, s, None) for spec in self.model.schemas for s in (spec.archive, spec.final)
                       if s and self.plan.cutover.rename_to_final
                       for p in ("CREATE", "INSERT", "TRIGGER", "ALTER", "DROP")]  # ALTER, DROP: renames in it
        run = ctx.control_table("verify_run")
        self._common_refusals(f, "60", [
            guards.binlog_trust(ctx, fn), guards.backfill_done(ctx, fn),
            Check(f"{self._phase_pending('70')} AND NOT EXISTS (SELECT 1 FROM {run} WHERE finished_at IS NOT NULL "
                  f"AND bad_chunks = 0 AND plan_hash = {quote_literal(ctx.migration_hash)} AND run_id = "
                  f"(SELECT MAX(run_id) FROM {run}))",
                  f"djsqlgen refused {fn}: the last verify run did not find v2 equal to transform(v1), did not "
                  "finish, or v2 changed since (a rolled-back cut-over gave up writes); run `djsqlgen verify PLAN` "
                  "(or 50_verify.sql) and fix every difference first",
                  "cut over only to a v2 proven equal to transform(v1)"),
            *[Check(f"{self._phase_pending('70')} AND ({c.fails_when})", c.message, c.why)
              for c in self._v1_drift(fn, parked_ok=True) + self.data_refusals(fn)],
            *self._outside_references(fn),
            *self._attachments_pending(fn),
            *([two_way.cutover_refusal(ctx, self._phase_pending("70"), fn)] if self.reverse is not None else []),
            *f.require(privileges)])
        where = {s: s for s in self._v1_schemas()}
        park, archive, final = self._renames()
        cut_over = guards.applied(ctx, "70")  # logged by the same procedure as the last rename
        f.add(*self._new_schemas(f))
        dualwrite_drops = [s for r, _, n in self.triggers
                           for s in f.dropping(Owned("trigger", r.schema, n, r.name), triggers.drop(ctx, r, n),
                                               "stop the v1→v2 sync: v1 is read-only from here on")]
        # v2 reaches its final names only once its trackers are on it: it first moves to its final schema under
        # parking names no user writes to (a table with triggers cannot move to another schema, error 1435;
        # triggers do follow a rename inside a schema). So no write to v2 goes unrecorded.
        to_parking = self._cutover_parking()
        from_parking = [(p, b) for (_, p), (_, b) in zip(to_parking, final)]
        parked = dict(to_parking)
        now = {t.id: parked.get((t.schema, t.name), (t.schema, t.name)) for t in self.targets}
        if not park:
            # v1 stays where users write: guard it first, so no write slips through between the two triggers.
            for s in self._guard_statements(where):
                f.add(*f.creating(s, only_if_new=False))
            if not final:  # v2 keeps its names: track it before anything else changes
                for _, s in self._tracker_statements(now):
                    f.add(*f.creating(s, only_if_new=False))
            steps = list(dualwrite_drops)
            if final:
                steps.append(self._rename("v2_to_parking", to_parking, "v2 to its final schema under parking names, "
                                                                       "in one atomic step", cut_over))
            else:  # v1 takes no writes any more (guarded): its counter is final
                steps += self._counters_to_v2({s: s for s in where}, now, cut_over)
            f.steps(steps)
        else:
            steps = [self._rename("park_v1", park, "park v1 under other names in its schema, in one atomic step: "
                                                   "from here on writers to v1 fail (the table is not there) instead of "
                                                   "writing rows v2 would miss", cut_over)]
            steps += dualwrite_drops  # a table with triggers cannot move to another schema (error 1435)
            steps.append(self._rename("final_names", archive + to_parking,
                                      "in one atomic step: v1 to its archive, v2 to its final schema under parking "
                                      "names", cut_over))
            archive_of = {spec.source: spec.archive for spec in self.model.schemas if spec.archive}
            if not final:  # else just before v2 takes its final names, below
                steps += self._counters_to_v2({k: archive_of.get(k, k) for k in where}, now, cut_over)
            f.steps(steps)
            for s in self._guard_statements({k: archive_of.get(k, k) for k in where}):
                f.add(*f.creating(s, only_if_new=False))
        if final:
            for t, s in self._tracker_statements(now):
                first, *rest = self._on_parked_or_final(s, now[t.id], self._v2_home(t))
                f.add(*f.creating(first, only_if_new=False), *rest)
            # the log in the same procedure as the rename: once v2 has its names, 70 counts as applied
            lineage_moves, renamed = self._lineage_moves()
            archive_of = {spec.source: spec.archive for spec in self.model.schemas if park and spec.archive}
            counters = self._counters_to_v2({s: archive_of.get(s, s) for s in where}, now, cut_over)
            f.steps(counters + [self._rename("v2_to_final", from_parking + lineage_moves,
                                  "v2 takes its final names, trackers on it, in one atomic step: users' writes to v2 "
                                  "start here", cut_over),
                     f.log_statement()])
            for _, (schema, _) in lineage_moves:
                f.add(*lineage.rename_origins(self.ctx, schema, renamed, "DataJoint 2.x's lineage names the schemas "
                                                                         "by their final names"))
            f.add(*self._archive_charsets(to_v2=True))
        else:
            f.log()
        return f

    def _phase_pending(self, phase: str) -> str:
        return f"NOT {guards.applied(self.ctx, phase, same_plan=False)}"

    # -- 80 -----------------------------------------------------------------------------------------
    def contract(self) -> FileBuilder:
        f, fn = self._file("80"), "80_contract.sql"
        ctx = self.ctx
        self._common_refusals(f, "70", [guards.binlog_trust(ctx, fn)])
        drop_v1 = self.plan.contract.drop_v1
        # v2's write trackers and their records stay while v1 does (rollback/70 reads them: a write to v2 is never
        # given up silently); with drop_v1 they go, after v1 (a file stopped before v1 is gone still has them).
        trackers = []
        for t in self.targets:
            schema, name = self._v2_home(t)
            for event in EVENTS:
                trig = naming.tracker_trigger_name(self.plan.name, t.name, event)
                trackers += f.dropping(Owned("trigger", schema, trig, name), f"DROP TRIGGER IF EXISTS "
                                       f"{quote_qualified((schema, trig))}", "v1 is gone: nothing to roll back to")
        steps = []
        for r, _, n in self.triggers:
            steps += f.dropping(Owned("trigger", r.schema, n, r.name), triggers.drop(ctx, r, n), "no sync is left")
        for spec in self.model.schemas:
            v1_home = spec.archive if self._moves_v1() and spec.archive else spec.source
            if self.plan.contract.drop_v1:
                for table in self.model.v1.schema(spec.source).tables:
                    for event in EVENTS:
                        g = naming.guard_trigger_name(self.plan.name, table.name, event)
                        steps += f.dropping(Owned("trigger", v1_home, g, table.name),
                                            f"DROP TRIGGER IF EXISTS {quote_qualified((v1_home, g))}", "v1 goes")
                    if v1_home != self._final(spec):
                        steps.append(Statement(
                            f"v1_drop.{v1_home}.{table.name}",
                            f"DROP TABLE IF EXISTS {quote_qualified((v1_home, table.name))}",
                            f"retire v1 ({spec.source}) as the plan says (contract.drop_v1)",
                            done_when=f"NOT {table_exists(v1_home, table.name)}"))
                if v1_home != spec.source:
                    steps += self._drop_empty_schemas(f, [v1_home], "the archive is empty")
            if self.plan.cutover.rename_to_final and spec.final and spec.final != spec.target:
                steps += self._drop_empty_schemas(f, [spec.target], f"empty: its tables now live in {spec.final}")
        f.steps(steps + (trackers if drop_v1 else []))
        # The control schema keeps its phase log and its record of what djsqlgen left (v1's guard triggers, v2's
        # write trackers and their records while v1 stays, the schemas cut-over made): status reads them, and the
        # rollbacks still drop only what is recorded.
        f.add(*self._drop_bookkeeping(keep=() if drop_v1 else ("v2_writes",)))
        f.log()
        return f

    def _drop_bookkeeping(self, keep: tuple[str, ...] = ()) -> list[Statement]:
        """Progress, verify results and every routine: what the window needed (but the tables in ``keep``)."""
        out = [Statement(f"control_table_drop.{name}", f"DROP TABLE IF EXISTS {self.ctx.control_table(name)}",
                         "bookkeeping no longer needed")
               for name in self._bookkeeping if name not in keep]
        return out + self._drop_routines()

    def _drop_control(self, f: FileBuilder) -> list[Statement]:
        """The control schema goes if djsqlgen created it; else only what djsqlgen put in it."""
        ctx = self.ctx
        control = Owned("schema", ctx.control, ctx.control)
        out = [Statement("control_schema_ours", f"SET @djsqlgen_control_ours = {f.registered(control)}",
                         "whether djsqlgen created the control schema (else it keeps the schema itself)")]
        out += self._drop_bookkeeping()
        out += [Statement("control_table_drop.objects", f"DROP TABLE IF EXISTS {ctx.control_table('objects')}",
                          "the record of what djsqlgen made: nothing of it is left"),
                Statement("control_table_drop.phase_log", f"DROP TABLE IF EXISTS {ctx.control_table('phase_log')}",
                          "phases: the migration is over")]
        # DROP DATABASE cannot be conditional outside a procedure: a prepared statement chooses.
        out += [Statement("control_schema_drop.choose",
                          f"SET @djsqlgen_drop = IF(@djsqlgen_control_ours AND NOT EXISTS (SELECT 1 FROM "
                          f"information_schema.TABLES WHERE TABLE_SCHEMA = {quote_literal(ctx.control)}), "
                          f"{quote_literal('DROP DATABASE IF EXISTS ' + quote_qualified((ctx.control,)))}, 'DO 0')",
                          "drop the control schema only if djsqlgen created it and it is empty now"),
                Statement("control_schema_drop.prepare", "PREPARE djsqlgen_drop FROM @djsqlgen_drop", "—"),
                Statement("control_schema_drop.run", "EXECUTE djsqlgen_drop", "—"),
                Statement("control_schema_drop.done", "DEALLOCATE PREPARE djsqlgen_drop", "—")]
        return out

    def _drop_routines(self) -> list[Statement]:
        ctx = self.ctx
        out = []
        for t in self.targets:
            out += backfill.drop_routines(ctx, t) + verify.drop_routines(ctx, t) + constraints.drop_references_check(ctx, t)
        out += [Statement(f"procedure_drop.{n}", f"DROP PROCEDURE IF EXISTS {quote_qualified((ctx.control, n))}",
                          "shared procedure") for n in SHARED_PROCEDURES]
        return out

    # -- rollbacks ----------------------------------------------------------------------------------
    def rollback_contract(self) -> FileBuilder:
        f, fn = self._file("80", rollback=True), "rollback/80_contract.sql"
        homes = [spec.archive if self._moves_v1() and spec.archive else spec.source for spec in self.model.schemas]
        # Not refused when 80 did not run: restoring the routines and bookkeeping tables then replaces them with
        # the same, and a newest-first run of rollback/ removes them again with rollback/20.
        gone = f"djsqlgen refused {fn}: contract.drop_v1 dropped v1; restore it from a backup"  # within 128 characters
        dropped = [Check(guards.applied(self.ctx, "80", same_plan=False), f"{gone}, nothing can be rolled back",
                         "contract.drop_v1 removed v1 and the record of v2's later writes")
                   ] if self.plan.contract.drop_v1 else []
        self._common_refusals(f, None, [
            *dropped,
            expected.missing("TABLES", [(home, t.name) for spec, home in zip(self.model.schemas, homes)
                                        for t in self.model.v1.schema(spec.source).tables],
                             f"{gone}, nothing can be rolled back", "contract.drop_v1 removed v1's data")])
        f.add(*self._routine_statements())
        f.log()
        return f

    def rollback_cutover(self) -> FileBuilder:
        f, fn = self._file("70", rollback=True), "rollback/70_cutover.sql"
        ctx = self.ctx
        writes = ctx.control_table("v2_writes")
        objects = ctx.control_table("objects")
        refused = (quote_literal(f"djsqlgen refused {fn}: v2 holds "), f"(SELECT COUNT(*) FROM {writes})",
                   quote_literal(f" rows written after cut-over (SELECT target_id, COUNT(*) FROM {ctx.control}.v2_writes "
                                 "GROUP BY target_id lists them); v1 never saw them. To roll back anyway and give them "
                                 "up, run SET @djsqlgen_discard_v2_writes = 'yes'; first (or djsqlgen apply "
                                 "--discard-v2-writes)"))
        self._common_refusals(f, None, [
            Check(f"NOT {guards.applied(ctx, '70', same_plan=False)} AND NOT EXISTS (SELECT 1 FROM {objects} WHERE "
                  "created_by = '70_cutover.sql')",
                  f"{NOTHING_TO_UNDO} {fn}: 70_cutover.sql did not run", "the cut-over left nothing to undo"),
            guards.binlog_trust(ctx, fn),
            *self._cutover_half_done(fn),
            Check(f"EXISTS (SELECT 1 FROM {writes}) AND COALESCE(@djsqlgen_discard_v2_writes, '') <> 'yes'",
                  "djsqlgen refused: v2 holds rows written after cut-over", "rolling back would silently discard "
                  "writes users made to v2", message_sql=f"CONCAT({', '.join(refused)})")])
        park, archive, final = self._renames()
        for spec in self.model.schemas:  # 80 drops the emptied versioned schemas: v2 needs them back
            if final and spec.final and spec.final != spec.target:
                f.add(*f.creating(expand.create_schema(ctx, spec.target, *self._v2_charset(spec.source),
                                                       spec.source)))
        # First v2 is parked under other names where it stands: from here on no user writes to it, so none can slip
        # in untracked between dropping its trackers (which a move to another schema needs) and its move back.
        v2_park, v2_back = [], []
        for t in self.targets:
            schema, name = self._v2_home(t)
            parked = naming.v2_parking_name(name, "rollback")
            v2_park.append(((schema, name), (schema, parked)))
            v2_back.append(((schema, parked), (t.schema, t.name)))
        lineage_moves, renamed = self._lineage_moves()
        v2_back += [(b, a) for a, b in lineage_moves]
        steps = [self._rename("park_v2", v2_park, "park v2 in one atomic step: users' writes to it stop here (they "
                                                  "fail: the table is not there), before its trackers go"),
                 self._writes_since_check(v2_park, message_sql=f"CONCAT({', '.join(refused)})")]
        for t, (_, (schema, _parked)) in zip(self.targets, v2_park):
            for event in EVENTS:
                trig = naming.tracker_trigger_name(self.plan.name, t.name, event)
                steps += f.dropping(Owned("trigger", schema, trig, self._v2_home(t)[1]),
                                    f"DROP TRIGGER IF EXISTS {quote_qualified((schema, trig))}",
                                    "v2 is no longer primary (a table with triggers cannot move either)")
        by_source = {spec.source: spec for spec in self.model.schemas}
        guard_drops = []
        for ref in self._v1_tables():
            home = by_source[ref.schema].archive if park and by_source[ref.schema].archive else ref.schema
            for event in EVENTS:
                g = naming.guard_trigger_name(self.plan.name, ref.name, event)
                guard_drops += f.dropping(Owned("trigger", home, g, ref.name),
                                          f"DROP TRIGGER IF EXISTS {quote_qualified((home, g))}",
                                          "v1 takes writes again (its dual-write triggers are back)")
        if park:
            steps += guard_drops
            # v2 leaves first: InnoDB foreign-key names are unique per schema, and v1 coming into its parking names
            # in the source schema carries the same names as v2 parked there
            steps.append(self._rename("back_to_parked", v2_back + [(b, a) for a, b in archive],
                                      "in one atomic step: v2 back to its versioned names, v1 out of the archive "
                                      "into its parking names"))
            f.steps(steps)
            for s in triggers.create_all(ctx):  # onto the parked tables: triggers follow a rename in the schema
                parked_sql = s.sql
                for a, b in park:
                    parked_sql = parked_sql.replace(f"ON {quote_qualified(a)}\n", f"ON {quote_qualified(b)}\n")
                f.add(*f.creating(Statement(s.id, parked_sql, s.comment, compound=True, creates=s.creates),
                                  only_if_new=False))
            counters = self._counters_to_v1({TableRef(*a): b for a, b in park})  # v1 parked, v2 back: no writers
            f.steps(counters + [self._rename("unpark_v1", [(b, a) for a, b in park],
                                             "v1 back under its own names, its dual-write triggers already on it")])
            self._discard(f)
        else:
            steps.append(self._rename("v2_back", v2_back, "v2 back to its versioned names"))
            f.steps(steps)
            for s in triggers.create_all(ctx):  # while the guards still refuse writes: no gap
                f.add(*f.creating(s, only_if_new=False))
            self._discard(f)
            f.steps(self._counters_to_v1({ref: (ref.schema, ref.name) for ref in self._v1_tables()}) + guard_drops)
        f.add(*self._archive_charsets(to_v2=False))
        for (schema, _), _ in lineage_moves:  # back in its versioned schema
            f.add(*lineage.rename_origins(ctx, schema, [(new, old) for old, new in renamed],
                                          "DataJoint 2.x's lineage names the schemas by their versioned names again"))
        f.steps(self._drop_empty_schemas(f, self._cutover_schemas(), "cut-over created it; it is empty again"))
        run = ctx.control_table("verify_run")
        f.add(Statement("v2_writes_given_up", f"SELECT target_id AS v2_table, row_key AS given_up_key FROM {writes}\n"
                                              "ORDER BY target_id, written_at",
                        "the keys of the v2 rows written after cut-over that were given up (none: no output)"),
              Statement("verify_stale", f"INSERT INTO {run} (plan_hash, started_at, finished_at, bad_chunks)\n"
                                        f"SELECT {quote_literal(ctx.migration_hash)}, NOW(6), NOW(6), -1 FROM DUAL "
                                        f"WHERE EXISTS (SELECT 1 FROM {writes})",
                        "v2 changed if writes were given up: the last verify no longer holds (70 wants a new one)"),
                  Statement("v2_writes_clear", f"DELETE FROM {writes}", "forget the writes given up (if any)"))
        f.log()
        return f

    def _cutover_half_done(self, filename: str) -> list[Check]:
        """70 stopped between moving v2 to its final schema under parking names and giving it its final names:
        finishing it is the way back (this file undoes a whole cut-over, not that state)."""
        parked = [p for _, p in self._cutover_parking()]
        if not parked:
            return []
        return [expected.any_present("TABLES", parked,
                                     f"djsqlgen refused {filename}: 70_cutover.sql stopped halfway (v2 waits under "
                                     f"parking names in {parked[0][0]}); apply 70_cutover.sql again to finish it, then "
                                     "this file", "rollback/70 undoes a finished cut-over")]

    def _writes_since_check(self, v2_park, message_sql: str) -> Statement:
        """Right after parking v2: writes recorded since the refusal at the top (made while this file ran) are
        refused the same way, with v2 given back to its users first."""
        writes = self.ctx.control_table("v2_writes")
        back = ",\n    ".join(f"{quote_qualified(b)} TO {quote_qualified(a)}" for a, b in v2_park)
        return Statement(
            "refuse.v2_written_meanwhile",
            f"IF EXISTS (SELECT 1 FROM {writes}) AND COALESCE(@djsqlgen_discard_v2_writes, '') <> 'yes' THEN\n"
            f"  RENAME TABLE\n    {back};\n"
            f"  SET @djsqlgen_refusal = LEFT({message_sql}, {MESSAGE_LIMIT});\n"
            "  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = @djsqlgen_refusal;\nEND IF",
            "users wrote to v2 while this file started: refuse as above (v2 back under its names, nothing lost)")

    def _discard(self, f: FileBuilder) -> None:
        """The repair of v2 when its later writes are given up (nothing to do when none was recorded)."""
        f.add(Statement("session.foreign_key_checks_off.discard", "SET SESSION foreign_key_checks = 0",
                        "rows are deleted and computed again in v2: its foreign keys hold again once done"))
        f.steps(self._discard_v2_writes())
        f.add(Statement("session.foreign_key_checks_on.discard", "SET SESSION foreign_key_checks = 1", "back to normal"))

    def _cutover_schemas(self) -> list[str]:
        return [s for spec in self.model.schemas if self.plan.cutover.rename_to_final
                for s in (spec.archive, spec.final) if s and s not in (spec.source, spec.target)]

    def _drop_empty_schemas(self, f: FileBuilder, schemas: list[str], why: str) -> list[Statement]:
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

    def rollback_constraints(self) -> FileBuilder:
        f, fn = self._file("60", rollback=True), "rollback/60_constraints.sql"
        self._common_refusals(f, None, [guards.not_after(self.ctx, "70", "70_cutover.sql", fn,
                                                         "v2 is primary; apply rollback/70_cutover.sql first")])
        f.steps([s for t in reversed(self.targets) for s in constraints.remove(self.ctx, t)])
        f.log()
        return f

    def rollback_verify(self) -> FileBuilder:
        f = self._file("50", rollback=True)
        self._common_refusals(f, None)
        f.steps([Statement(f"verify_{t}_clear", f"DELETE FROM {self.ctx.control_table(t)}", f"forget verify results ({t})",
                           done_when=f"NOT {table_exists(self.ctx.control, t)}")
                 for t in ("verify_diff", "verify_chunk", "verify_run")])
        f.log()
        return f

    def rollback_backfill(self) -> FileBuilder:
        f, fn = self._file("40", rollback=True), "rollback/40_backfill.sql"
        self._common_refusals(f, None, [
            guards.not_after(self.ctx, "60", "60_constraints.sql", fn,
                             "emptying v2 tables under foreign keys fails; apply rollback/60_constraints.sql first")])
        if self.reverse is not None:
            f.add(two_way.engine_session(True))
        f.steps([s for t in reversed(self.targets) for s in backfill.undo(self.ctx, t)])
        if self.reverse is not None:
            f.add(two_way.engine_session(False))
        f.log()
        return f

    def rollback_dualwrite(self) -> FileBuilder:
        f, fn = self._file("30", rollback=True), "rollback/30_dualwrite.sql"
        self._common_refusals(f, None, [
            guards.binlog_trust(self.ctx, fn),
            guards.not_after(self.ctx, "70", "70_cutover.sql", fn, "apply rollback/70_cutover.sql first")])
        f.steps([s for r, _, n in self.triggers
                 for s in f.dropping(Owned("trigger", r.schema, n, r.name), triggers.drop(self.ctx, r, n),
                                     f"stop carrying writes to {r.label} into v2")]
                + [s for owned, sql, why in two_way.v2_trigger_owned(self.ctx, self.reverse)
                   for s in f.dropping(owned, sql, why)])
        f.log()
        return f

    def rollback_routines(self) -> FileBuilder:
        f = self._file("20", rollback=True)
        self._common_refusals(f, None)
        f.add(*self._drop_bookkeeping())
        f.log()
        return f

    def rollback_expand(self) -> FileBuilder:
        f, fn = self._file("10", rollback=True), "rollback/10_expand.sql"
        self._common_refusals(f, None, [
            guards.not_after(self.ctx, "30", "30_dualwrite.sql", fn, "its triggers write into v2; apply "
                             "rollback/30_dualwrite.sql first"),
            guards.not_after(self.ctx, "70", "70_cutover.sql", fn, "v2 holds live data; apply rollback/70 first")])
        steps = []
        for schema in self.lineage:
            steps += f.dropping(Owned("table", schema, LINEAGE_TABLE),
                                f"DROP TABLE IF EXISTS {table_sql(schema, LINEAGE_TABLE)}",
                                "DataJoint 2.x's lineage of the v2 tables")
        for t in reversed(self.targets):
            steps += f.dropping(Owned("table", t.schema, t.name), f"DROP TABLE IF EXISTS {table_sql(t.schema, t.name)}",
                                f"{t.label}: copies only, v1 is untouched")
        steps += self._drop_empty_schemas(f, self._v2_schemas(), "djsqlgen created it and nothing else is in it")
        f.steps(steps)
        f.log()
        return f

    def rollback_preflight(self) -> FileBuilder:
        f, fn = self._file("00", rollback=True), "rollback/00_preflight.sql"
        f.add(Statement("control_schema_was_there", f"SET @djsqlgen_control_was_there = "
                                                    f"{schema_exists(self.ctx.control)}",
                        "a second run finds nothing to do"))
        f.refuse([Check(f"{guards.applied(self.ctx, '10', same_plan=False)} OR "
                        f"{guards.applied(self.ctx, '20', same_plan=False)}",
                        f"djsqlgen refused {fn}: later phases are still applied; roll them back first, newest first "
                        "(djsqlgen apply rollback/)", "the control schema records what they created",
                        only_if="@djsqlgen_control_was_there")])
        f.add(*self._control_schema())  # again on a second run; dropped again at the end
        f.add(*self._drop_control(f))
        return f

    # -- output -------------------------------------------------------------------------------------
    def _removes(self, number: str) -> str:
        """What each rollback file removes, for the first lines of the file (the DBA reads it before running it)."""
        v1, v2, control = ", ".join(self._v1_schemas()), ", ".join(self._v2_schemas()), self.ctx.control
        if self.plan.contract.drop_v1:
            undo80 = ("nothing: once 80 has dropped v1 (contract.drop_v1) this file refuses, restore v1 from a backup; "
                      f"before that it only puts back djsqlgen's routines in {self.ctx.control}")
        else:
            undo80 = (f"nothing of v1 or v2; it puts back djsqlgen's routines and bookkeeping tables in {control} "
                      "(v2's write records were kept)")
        return {
            "80": undo80,
            "70": (f"the cut-over: v1 ({v1}) takes writes again and v2 ({v2}) is no longer primary (v2's write trackers "
                   "and v1's guards go, names as before 70). It refuses while v2 holds rows written after the cut-over; "
                   "told to give them up, it lists their keys and computes those rows again from v1"),
            "60": f"the foreign keys and unique indexes 60 added to the v2 tables ({v2})",
            "50": f"the verify results in {control}",
            "40": f"every row of the v2 tables ({v2}; copies of v1) and the backfill's progress",
            "30": f"the dual-write triggers on v1 ({v1}); v1's rows are untouched",
            "20": f"djsqlgen's routines and bookkeeping tables in {control}",
            "10": f"the v2 tables ({v2}) and the v2 schemas djsqlgen created, when nothing else is in them",
            "00": f"the control schema {control} when djsqlgen created it (else only djsqlgen's tables in it)",
        }[number]

    def files(self) -> list[PhaseFile]:
        forward = [self.preflight(), self.expand(), self.routines(), self.dualwrite(), self.backfill(), self.verify(),
                   self.constraints(), self.cutover(), self.contract()]
        rollbacks = [self.rollback_contract(), self.rollback_cutover(), self.rollback_constraints(),
                     self.rollback_verify(), self.rollback_backfill(), self.rollback_dualwrite(),
                     self.rollback_routines(), self.rollback_expand(), self.rollback_preflight()]
        out = []
        for b, (number, name, title, purpose) in zip(forward, PHASE_FILES):
            drops_v1 = tuple(self._v1_schemas()) if number == "80" and self.plan.contract.drop_v1 else ()
            out.append(PhaseFile(number, name, title, purpose, RERUN[number], tuple(b.statements),
                                 needs=tuple(b.needs), drops_v1=drops_v1))
        titles = {n: t for n, _, t, _ in PHASE_FILES}
        for b in rollbacks:
            out.append(PhaseFile(b.number, b.name, f"Rollback of {titles[b.number].lower()}",
                                 f"Undo {b.number}_{b.name}.sql; drops only what djsqlgen recorded creating.",
                                 "Safe to run again: each undo step checks first.", tuple(b.statements),
                                 rollback_of=f"{b.number}_{b.name}.sql", needs=tuple(b.needs),
                                 removes=self._removes(b.number)))
        return out
