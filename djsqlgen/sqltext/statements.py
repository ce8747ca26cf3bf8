"""A statement is data: id, SQL, a one-line why, and what it creates or drops that djsqlgen owns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Owned:
    """A server object djsqlgen creates and records in the control schema's ``objects`` table."""

    kind: Literal["schema", "table", "trigger"]
    schema: str
    name: str  # the schema's name again for kind "schema"
    on_table: str = ""  # a trigger's table


@dataclass(frozen=True)
class Statement:
    id: str  # stable, e.g. "trigger_create.lab_common.subject.ins"
    sql: str  # without the trailing delimiter
    comment: str  # one line for the DBA: what and why
    compound: bool = False  # CREATE PROCEDURE / TRIGGER with a BEGIN…END body: needs DELIMITER in files
    # A guarded step runs inside the phase file's step procedure, skipped when this SQL condition
    # holds (it is already done): how DDL without IF [NOT] EXISTS becomes safe to run twice.
    done_when: str | None = None
    creates: Owned | None = None  # recorded in the control schema before the statement runs
    drops: Owned | None = None  # forgotten after it ran; with done_when, only dropped when registered


@dataclass(frozen=True)
class Check:
    """A refusal at the top of a file: if ``fails_when`` holds, nothing in the file runs."""

    fails_when: str
    message: str
    why: str
    # A condition without table references that must hold for the check to be evaluated at all (its
    # tables may not exist otherwise, e.g. the control schema on a second run of 80_contract.sql).
    only_if: str | None = None
    # An SQL expression giving the message, when it must say more than a literal can (how many rows …).
    message_sql: str | None = None
    # A scalar subquery computed once, before the condition, into the user variable FOUND, which
    # ``fails_when`` and ``message_sql`` read (e.g. the names of the missing objects, NULL when none is).
    found: str | None = None


FOUND = "@djsqlgen_found"


@dataclass(frozen=True)
class PhaseFile:
    """One generated .sql file: its checks and statements, and the text around them."""

    number: str  # "30"
    name: str  # "dualwrite"
    title: str
    purpose: str
    rerun: str  # what running it twice does
    statements: tuple[Statement, ...]
    rollback_of: str | None = None  # for rollback files: the forward file they undo
    needs: tuple[tuple[str, str], ...] = ()  # (privilege, schema) the file needs, for its Needs: header
    removes: str = ""  # for rollback files: what it removes, its Removes: header line
    drops_v1: tuple[str, ...] = ()  # the v1 schemas the file drops (80 with contract.drop_v1): its Drops v1: line
    folder: str = ""  # a file outside the phase sequence lives in its own folder (sides/close_v1.sql)
    undo: str = ""  # such a file's undo, for its Rollback: line (sides/reopen_v1.sql)

    @property
    def filename(self) -> str:
        return f"{self.number}_{self.name}.sql"

    @property
    def path(self) -> str:
        """Where the file is in the generated directory (rollback files: inside rollback/, as generate writes)."""
        if self.folder:
            return f"{self.folder}/{self.filename}"
        return ("rollback/" if self.rollback_of else "") + self.filename
