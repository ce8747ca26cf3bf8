"""One phase file as it is built: the pinned session every file opens with, its refusals, the record of what it
creates and drops (rollbacks drop only what is recorded), and its guarded steps."""

from __future__ import annotations

from dataclasses import dataclass, field

from djsqlgen.engines import guards
from djsqlgen.engines.context import Context
from djsqlgen.sqltext import naming
from djsqlgen.sqltext.guard import refusal_statements
from djsqlgen.sqltext.quoting import quote_literal, quote_qualified
from djsqlgen.sqltext.render import render
from djsqlgen.sqltext.statements import Check, Owned, Statement

# Every file runs in this mode, whatever the client's: triggers and procedures keep the mode they were
# created in, and a non-strict session would make them truncate silently. No NO_BACKSLASH_ESCAPES
# (literals are written with backslashes doubled) and no ANSI_QUOTES ("…" is a string in expressions).
# NO_AUTO_VALUE_ON_ZERO: a v1 row whose auto_increment key is 0 keeps 0 in v2.
SQL_MODE = "STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO"
LOCK_WAIT_TIMEOUT = 10  # seconds a DDL waits for a metadata lock before failing (and being re-run)


def _exists(view: str, where: dict[str, str]) -> str:
    conditions = " AND ".join(f"{column} = {quote_literal(value)}" for column, value in where.items())
    return f"EXISTS (SELECT 1 FROM information_schema.{view} WHERE {conditions})"


def table_exists(schema: str, name: str) -> str:
    return _exists("TABLES", {"TABLE_SCHEMA": schema, "TABLE_NAME": name})


def schema_exists(schema: str) -> str:
    return _exists("SCHEMATA", {"SCHEMA_NAME": schema})


def trigger_exists(schema: str, name: str) -> str:
    # EVENT_OBJECT_SCHEMA (a trigger lives in its table's schema) is the column the server looks TRIGGERS up by:
    # it then reads that schema alone ("Scanned 1 database"); by TRIGGER_SCHEMA alone it opens every database on the
    # server, each check 0.13-0.37 s on a shared server and waiting behind any DDL anywhere.
    return _exists("TRIGGERS", {"EVENT_OBJECT_SCHEMA": schema, "TRIGGER_SCHEMA": schema, "TRIGGER_NAME": name})


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
    folder: str = ""  # a file outside the phase sequence (sides/close_v1.sql)

    @property
    def filename(self) -> str:
        if self.folder:
            return f"{self.folder}/{self.number}_{self.name}.sql"
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

    def dropping_created(self, made: Statement, why: str) -> list[Statement]:
        """``dropping`` the trigger the CREATE TRIGGER statement ``made`` creates."""
        owned = made.creates
        return self.dropping(owned, f"DROP TRIGGER IF EXISTS {quote_qualified((owned.schema, owned.name))}", why)

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
