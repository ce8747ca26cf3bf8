"""Run generated files (or print them with --dry-run): the same statements the mysql client would run."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from djsqlgen.errors import ApplyError, DjsqlgenError
from djsqlgen.output.sqlfile import ParsedStatement, split_sql
from djsqlgen.run.db import Database, ServerError


def _directory_files(path: Path) -> list[Path]:
    """The files a generated directory runs: the forward files in phase order; for its rollback/ directory the
    rollback files newest first. Only files the manifest lists (or, without one, named like phase files):
    a stray .sql file someone left there never runs."""
    is_rollback = path.name == "rollback"
    manifest = (path.parent if is_rollback else path) / "manifest.json"
    if manifest.is_file():
        listed = json.loads(manifest.read_text(encoding="utf-8"))
        names = listed["rollback_files"] if is_rollback else listed["files"]
        base = path.parent if is_rollback else path
        files = [base / n for n in names]
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise DjsqlgenError(f"{missing[0]} is listed in {manifest} but missing; generate the files again")
        return sorted(files, reverse=True) if is_rollback else files
    # Without the manifest, which files are djsqlgen's cannot be known (a copied directory may hold others).
    raise DjsqlgenError(f"{manifest} is missing, so the files of {path} cannot be told from others; keep manifest.json "
                        "with the files (generate writes it), or name the files to apply one by one")


def files_in_order(paths: list[Path]) -> list[Path]:
    """Expand directories (see ``_directory_files``); files and - (standard input) as given."""
    out: list[Path] = []
    for path in paths:
        if str(path) == "-":
            out.append(path)  # standard input
        elif path.is_dir():
            out.extend(_directory_files(path))
        elif path.is_file():
            out.append(path)
        else:
            raise DjsqlgenError(f"{path}: no such file or directory")
    return out


def apply_files(
    db: Database | None,
    paths: list[Path],
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    discard_v2_writes: bool = False,
) -> int:
    """Execute (or, with ``dry_run``, print) every statement of ``paths``; returns how many ran.

    ``discard_v2_writes`` tells rollback/70_cutover.sql that giving up the rows written to v2 after the
    cut-over is intended (the session variable it reads).
    """
    count = 0
    files = files_in_order(paths)
    if db is not None:
        _check_privileges(db, files)
    if db is not None:  # 60 and 70 then never wait for a metadata lock: their 1205 is retried here (_call_retrying)
        db.execute("SET @djsqlgen_ddl_retries = 'yes'")
    if discard_v2_writes and db is not None:
        db.execute("SET @djsqlgen_discard_v2_writes = 'yes'")
    for path in files:
        try:
            count += _apply_file(db, path, dry_run, echo)
        except NothingToUndo as skipped:
            echo(f"-- {display_name(path)}: skipped, {skipped}")
    return count


class NothingToUndo(Exception):
    """A rollback file's refusal that means its phase left nothing to undo: the next file may go on."""


def display_name(path: Path) -> str:
    """A file as the runbook names it: rollback files with their directory."""
    return f"rollback/{path.name}" if path.parent.name == "rollback" else path.name


def _apply_file(db: Database | None, path: Path, dry_run: bool, echo: Callable[[str], None]) -> int:
    statements = split_sql(sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8"))
    echo(f"-- {path}: {len(statements)} statement(s)")
    for statement in statements:
        if dry_run:
            echo(statement.sql + ";\n")
            continue
        _run(db, path, statement, echo)
    return 0 if dry_run else len(statements)


def _check_privileges(db: Database, files: list[Path]) -> None:
    """Refuse, before running anything, a file whose Needs: header lists a privilege this session lacks."""
    from djsqlgen.run.privileges import missing, parse_needs

    for path in files:
        if str(path) == "-":
            continue
        with path.open(encoding="utf-8") as text:
            header = next((line[len("-- Needs:"):] for line in (next(text, "") for _ in range(12))
                           if line.startswith("-- Needs:")), "")
        lacking = missing(db, parse_needs(header)) if header else []
        if lacking:
            raise DjsqlgenError(f"{path.name} needs privileges this user does not hold (SHOW GRANTS, roles included): "
                                f"{'; '.join(lacking)}; ask a DBA for them. Nothing was run.")


# A statement of a file that does not wait for metadata locks (60 and 70 under apply: lock_wait_timeout 0, MySQL 1)
# fails with 1205 when a writer's transaction holds its table, before it changes anything; it is run again after a
# pause (50 ms doubling, at most 0.2 s: a busy table is free only between its writers' transactions). Under writers
# that never leave it free for 30 s (measured: six DataJoint clients kept 60 retrying for 300 s), it then waits once,
# up to the file's usual timeout, the way every other client runs it: a writer can then lose a metadata-lock
# deadlock, but the file does not starve. The files are safe to run twice: a retried statement skips what is done.
DDL_NO_WAIT_S = 30.0
DDL_RETRY_FIRST_S, DDL_RETRY_MOST_S = 0.05, 0.2


def _no_wait_ddl(db: Database) -> bool:
    return int(db.query("SELECT @@SESSION.lock_wait_timeout AS w")[0]["w"]) <= 1


def _call_retrying(db: Database, path: Path, statement: ParsedStatement, echo: Callable[[str], None]):
    from djsqlgen.output.phases import LOCK_WAIT_TIMEOUT

    waited, pause, told = 0.0, DDL_RETRY_FIRST_S, False
    while True:
        try:
            return db.call_results(statement.sql)
        except ServerError as exc:
            if exc.errno != 1205 or not _no_wait_ddl(db):
                raise
            if not told:
                echo(f"-- {display_name(path)} line {statement.line}: waiting for writers' transactions on its table "
                     "(this file's DDL does not make them wait); retrying")
                told = True
            if waited >= DDL_NO_WAIT_S:
                no_wait = db.query("SELECT @@SESSION.lock_wait_timeout AS w")[0]["w"]
                echo(f"-- {display_name(path)} line {statement.line}: its table was never free for "
                     f"{DDL_NO_WAIT_S:.0f} s; waiting for it (up to {LOCK_WAIT_TIMEOUT} s)")
                db.execute(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_TIMEOUT}")
                try:
                    return db.call_results(statement.sql)
                finally:
                    db.execute(f"SET SESSION lock_wait_timeout = {int(no_wait)}")
            time.sleep(pause)
            waited += pause
            pause = min(pause * 2, DDL_RETRY_MOST_S)


def _run(db: Database, path: Path, statement: ParsedStatement, echo: Callable[[str], None]) -> None:
    from djsqlgen.output.phases import NOTHING_TO_UNDO

    try:
        results = _call_retrying(db, path, statement, echo)
    except ServerError as exc:
        if exc.errno in (1644, 1231) and NOTHING_TO_UNDO in exc.message:
            raise NothingToUndo(exc.message[exc.message.index(NOTHING_TO_UNDO):]) from None
        raise ApplyError(f"{display_name(path)} line {statement.line}: {exc.message}", statement.statement_id,
                         exc.errno) from None
    for rows in results:
        if rows:
            echo(format_rows(rows))


def format_rows(rows: list[dict]) -> str:
    """A plain text table, the way the mysql client prints results."""
    columns = list(rows[0])
    cells = [[("NULL" if r[c] is None else str(r[c])) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])
