"""A statement is data: id, SQL, a one-line why, and whether it is a compound (BEGIN…END) body."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Statement:
    id: str  # stable, e.g. "trigger_create.lab_common.subject.ins"
    sql: str  # without the trailing delimiter
    comment: str  # one line for the DBA: what and why
    compound: bool = False  # CREATE PROCEDURE / TRIGGER with a BEGIN…END body: needs DELIMITER in files
    # A guarded step runs inside the phase file's step procedure, skipped when this SQL condition
    # holds (it is already done): how DDL without IF [NOT] EXISTS becomes safe to run twice.
    done_when: str | None = None


@dataclass(frozen=True)
class PhaseFile:
    """One generated .sql file: its statements and the text around them."""

    number: str  # "30"
    name: str  # "dualwrite"
    title: str
    purpose: str
    rerun: str  # what running it twice does
    statements: tuple[Statement, ...]
    rollback_of: str | None = None  # for rollback files: the forward file they undo

    @property
    def filename(self) -> str:
        return f"{self.number}_{self.name}.sql"
