"""Run generated files (or print them with --dry-run): the same statements the mysql client would run."""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from djsqlgen.errors import ApplyError, DjsqlgenError
from djsqlgen.output.sqlfile import ParsedStatement, split_sql
from djsqlgen.run.db import Database, ServerError
from djsqlgen.sqltext.quoting import quote_qualified


# A directory runs its files up to 60 and stops: the cut-over (70), the contract (80) and 90 run only when named
# (`--through`, or the file itself), since the lab acts before each (RUNBOOK.md, "Stops"). Its rollback/ directory
# likewise does not undo 90, 80 or 70 unless named.
DEFAULT_THROUGH = "60"
NEXT = {
    "70": "the cut-over (70_cutover.sql): v2 becomes primary and writes to v1 fail from then on; switch the lab's "
          "code to v2 first",
    "80": "the contract (80_contract.sql): djsqlgen's sync and routines go (and v1 too, with contract.drop_v1); "
          "once no code reads or writes v1",
    "90": "the retirement of a v1 kept synced (90_retire_v1.sql): v2's writes stop reaching v1 (and v1 is dropped, with "
          "contract.drop_v1); once v1's last user is done",
}
UNDO = {
    "90": "makes v2's writes reach the kept v1 again",
    "80": "puts djsqlgen's routines back after the contract",
    "70": "makes v1 primary again: writes to v2 stop, and the lab's code must go back to v1",
}


@dataclass
class Selection:
    """The files to run, in order; what a directory held back (the stops) and where the lab goes on."""

    files: list[Path] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)  # printed after the run: where it stopped, what comes next
    held: list[tuple[Path, str]] = field(default_factory=list)  # (rollback file held back, control schema)


def _number(path: Path) -> str:
    return path.name[:2]


def _manifest(path: Path) -> tuple[Path, dict]:
    """The files a generated directory lists in its manifest.json (see ``_directory_files``)."""
    is_rollback = path.name == "rollback"
    manifest = (path.parent if is_rollback else path) / "manifest.json"
    if not manifest.is_file():
        # Without the manifest, which files are djsqlgen's cannot be known (a copied directory may hold others).
        raise DjsqlgenError(f"{manifest} is missing, so the files of {path} cannot be told from others; keep "
                            "manifest.json with the files (generate writes it), or name the files to apply one by one")
    return manifest, json.loads(manifest.read_text(encoding="utf-8"))


def _directory_files(path: Path) -> list[Path]:
    """The files a generated directory runs: the forward files in phase order; for its rollback/ directory the
    rollback files newest first. Only files the manifest lists: a stray .sql file someone left there never runs."""
    is_rollback = path.name == "rollback"
    manifest, listed = _manifest(path)
    names = listed["rollback_files"] if is_rollback else listed["files"]
    base = path.parent if is_rollback else path
    files = [base / n for n in names]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise DjsqlgenError(f"{missing[0]} is listed in {manifest} but missing; generate the files again")
    return sorted(files, reverse=True) if is_rollback else files


def select_files(paths: list[Path], through: str | None = None) -> Selection:
    """Expand directories (up to ``through``, 60 unless told, see ``DEFAULT_THROUGH``); files and - (standard
    input) as given: a file named is a file meant."""
    limit = through or DEFAULT_THROUGH
    out = Selection()
    for path in paths:
        if str(path) == "-":
            out.files.append(path)  # standard input
        elif path.is_dir():
            files = _directory_files(path)
            out.files += [f for f in files if _number(f) <= limit]
            later = [f for f in files if _number(f) > limit]
            if path.name == "rollback":
                control = _manifest(path)[1].get("control_schema", "")
                out.held += [(f, control) for f in later]
            elif later:
                n = _number(later[0])
                out.stops.append(f"-- stopped after phase {limit}: next is {NEXT.get(n, later[0].name)}. "
                                 f"When the lab is ready: djsqlgen apply {path} --through {n} "
                                 "(RUNBOOK.md, \"Stops\")")
        elif path.is_file():
            out.files.append(path)
        else:
            raise DjsqlgenError(f"{path}: no such file or directory")
    return out


def _applied(db: Database, control: str) -> set[str]:
    """The phases the control schema's log shows applied (70 also when it stopped halfway: objects it made)."""
    if not control or not db.query("SELECT 1 AS x FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND "
                                   "TABLE_NAME IN ('phase_log', 'objects') HAVING COUNT(*) = 2", [control]):
        return set()
    phases = {r["phase"] for r in db.query(f"SELECT phase FROM {quote_qualified((control, 'phase_log'))}")}
    if db.query(f"SELECT 1 AS x FROM {quote_qualified((control, 'objects'))} WHERE created_by = '70_cutover.sql' "
                "LIMIT 1"):
        phases.add("70")
    return phases


def _refuse_held(db: Database, selection: Selection) -> None:
    """A rollback directory stops before undoing 90, 80 or 70 when that phase is applied (nothing run)."""
    for path, control in selection.held:
        phase = _number(path)
        if phase in _applied(db, control):
            raise DjsqlgenError(
                f"stopped before {display_name(path)}: phase {phase} is applied, and undoing it {UNDO[phase]}. "
                f"When the lab is ready: djsqlgen apply {path.parent} --through {phase} (RUNBOOK.md, \"Stops\"). "
                "Nothing was run.")


def header_line(path: Path, key: str) -> str:
    """The value of a ``-- key:`` line among the first lines of a generated file ('' when it has none)."""
    if str(path) == "-":
        return ""
    with path.open(encoding="utf-8") as text:
        for _ in range(16):
            line = next(text, "")
            if line.startswith(f"-- {key}:"):
                return line[len(f"-- {key}:"):].strip()
    return ""


def _confirm_drops(files: list[Path], yes: bool, ask: Callable[[str], str] | None) -> None:
    """A file that drops v1 (80 with contract.drop_v1) runs only when the v1 schema names are typed, or ``yes``."""
    for path in files:
        schemas = [s.strip() for s in header_line(path, "Drops v1").split(",") if s.strip()]
        if not schemas or yes:
            continue
        what = f"{display_name(path)} drops v1 ({', '.join(schemas)}) for good (contract.drop_v1)"
        if ask is None:
            raise DjsqlgenError(f"{what}; with no terminal to confirm at, run it with --yes. Nothing was run.")
        typed = ask(f"{what}; take a backup first. Type {' '.join(schemas)} to go on")
        if typed.replace(",", " ").split() != schemas:
            raise DjsqlgenError(f"{what}: not confirmed (typed {typed!r}). Nothing was run.")


def apply_files(
    db: Database | None,
    paths: list[Path],
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    discard_v2_writes: bool = False,
    through: str | None = None,
    yes: bool = False,
    ask: Callable[[str], str] | None = None,
    wait_for_tables: bool = False,
) -> int:
    """Execute (or, with ``dry_run``, print) every statement of ``paths``; returns how many ran.

    ``discard_v2_writes`` tells rollback/70_cutover.sql that giving up the rows written to v2 after the
    cut-over is intended (the session variable it reads). ``through``: the last phase a directory runs (60 unless
    named). A file that drops v1 asks ``ask`` for the v1 schema names (refused without it), unless ``yes``.
    ``wait_for_tables`` (``--wait``): 60's and 70's DDL may wait for a table writers never leave free (_call_retrying).
    """
    count = 0
    selection = select_files(paths, through)
    files = selection.files
    if db is not None:
        _refuse_held(db, selection)
        _confirm_drops(files, yes, ask)
        _check_privileges(db, files)
    if db is not None:  # 60 and 70 then never wait for a metadata lock: their 1205 is retried here (_call_retrying)
        db.execute("SET @djsqlgen_ddl_retries = 'yes'")
    if discard_v2_writes and db is not None:
        db.execute("SET @djsqlgen_discard_v2_writes = 'yes'")
    for path in files:
        try:
            count += _apply_file(db, path, dry_run, echo, wait_for_tables)
        except NothingToUndo as skipped:
            echo(f"-- {display_name(path)}: skipped, {skipped}")
    for path, _ in selection.held:
        if dry_run:
            echo(f"-- held back: {display_name(path)} (undone only when named: --through {_number(path)})")
    for line in selection.stops:
        echo(line)
    return count


class NothingToUndo(Exception):
    """A rollback file's refusal that means its phase left nothing to undo: the next file may go on."""


def display_name(path: Path) -> str:
    """A file as the runbook names it: rollback files with their directory."""
    return f"rollback/{path.name}" if path.parent.name == "rollback" else path.name


def _apply_file(db: Database | None, path: Path, dry_run: bool, echo: Callable[[str], None], wait: bool = False) -> int:
    statements = split_sql(sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8"))
    echo(f"-- {path}: {len(statements)} statement(s)")
    for statement in statements:
        if dry_run:
            echo(statement.sql + ";\n")
            continue
        _run(db, path, statement, echo, wait)
    return 0 if dry_run else len(statements)


def _check_privileges(db: Database, files: list[Path]) -> None:
    """Refuse, before running anything, a file whose Needs: header lists a privilege this session lacks."""
    from djsqlgen.run.privileges import missing, parse_needs

    for path in files:
        header = header_line(path, "Needs")
        lacking = missing(db, parse_needs(header)) if header else []
        if lacking:
            raise DjsqlgenError(f"{path.name} needs privileges this user does not hold (SHOW GRANTS, roles included): "
                                f"{'; '.join(lacking)}; ask a DBA for them. Nothing was run.")


# A statement of a file that does not wait for metadata locks (60 and 70 under apply: lock_wait_timeout 0, MySQL 1)
# fails with 1205 when a writer's transaction holds its table, before it changes anything, and is run again. A DDL
# that waits instead queues an exclusive lock that every writer's next request on that table waits behind: a writer
# whose open transaction already holds a weaker lock there (DataJoint: a master's insert holds its parts' tables for
# read, its cascading delete reads a child before deleting from it; a trigger that only reads a v2 table holds it for
# read until the writer's next statement writes it) then loses a metadata-lock deadlock (1213, the server always
# chooses the DML). Measured with six writers that never leave a table free (bench/ddl_locks_bench.py): about four
# such writers per waiting statement (383 deadlocks a minute, 18 without DDL); tried without waiting, their rate
# stayed near their own (19, 15), and 17 of 20 statements found a free moment within 10 s at 5-20 ms between tries
# (10 of 20 at 50-200 ms). No way of waiting avoids it (the server picks the victim), so by default apply never
# waits: it tries without waiting, often and jittered, until DDL_GIVE_UP_S, then stops with 1205 and "run again at a
# quieter moment" (the files are safe to run twice: a retried statement skips what is done). `--wait` (a lab that
# accepts the risk) lets a statement whose table was never free for DDL_NO_WAIT_S wait, DDL_SHORT_WAIT_S at a time
# with a try without waiting between (a wait can be stuck in a chain through a row lock that no deadlock check sees,
# holding the writers behind it as long as it lasts), until DDL_GIVE_UP_S in all.
DDL_NO_WAIT_S = 30.0
DDL_RETRY_FIRST_S, DDL_RETRY_MOST_S = 0.005, 0.02
DDL_SHORT_WAIT_S = 1
DDL_GIVE_UP_S = 120.0


def _no_wait_ddl(db: Database) -> bool:
    return int(db.query("SELECT @@SESSION.lock_wait_timeout AS w")[0]["w"]) <= 1


def _call_retrying(db: Database, path: Path, statement: ParsedStatement, echo: Callable[[str], None],
                   each: Callable[[list[dict]], None] | None = None, wait: bool = False):
    where = f"{display_name(path)} line {statement.line}"
    start, pause, tries = time.monotonic(), DDL_RETRY_FIRST_S, 0
    no_wait: int | None = None  # the file's own lock_wait_timeout, once a try has met a busy table
    waiting = False  # this try waits DDL_SHORT_WAIT_S
    told_wait = False
    try:
        while True:
            tries += 1
            try:
                result = db.call_results(statement.sql, each=each)
            except ServerError as exc:
                if exc.errno != 1205 or not (waiting or _no_wait_ddl(db)):
                    raise
                spent = time.monotonic() - start
                if no_wait is None:
                    no_wait = int(db.query("SELECT @@SESSION.lock_wait_timeout AS w")[0]["w"])
                    # MySQL's shortest lock_wait_timeout is 1 s: each of its tries queues for up to that long
                    said = ("this file's DDL does not make them wait" if no_wait == 0 else
                            f"each try waits at most {no_wait} s, the server's shortest: a writer can lose a 1213 "
                            "meanwhile")
                    echo(f"-- {where}: waiting for writers' transactions on its table ({said}); retrying")
                if spent >= DDL_GIVE_UP_S:
                    how = ("tries and short waits" if wait or no_wait else
                           "tries without waiting (no writer was made to wait)")
                    raise ServerError(1205, f"its table was never free in {DDL_GIVE_UP_S:.0f} s of {how}; what the "
                                            "file finished stays and it is safe to run again (it skips what is "
                                            "done): run again at a quieter moment, or with --wait if a writer may "
                                            f"lose a 1213 (RUNBOOK.md, \"Lock discipline\"): {exc.message}") from None
                if waiting:  # a short wait timed out: the next try does not wait
                    db.execute(f"SET SESSION lock_wait_timeout = {no_wait}")
                    waiting = False
                elif wait and spent >= DDL_NO_WAIT_S:
                    if not told_wait:
                        echo(f"-- {where}: its table was never free for {DDL_NO_WAIT_S:.0f} s; waiting for it, "
                             f"{DDL_SHORT_WAIT_S} s at a time (--wait: a writer can lose a 1213 while it waits)")
                        told_wait = True
                    db.execute(f"SET SESSION lock_wait_timeout = {DDL_SHORT_WAIT_S}")
                    waiting = True
                    continue
                # jittered: not in step with the writers; where a try itself waits (MySQL), as long between tries,
                # so that the statement stands in the writers' way at most half of the time
                time.sleep(max(random.uniform(pause / 2, pause), float(no_wait)))
                pause = min(pause * 2, DDL_RETRY_MOST_S)
                continue
            if no_wait is not None:
                echo(f"-- {where}: done after {tries} tries in {time.monotonic() - start:.1f} s")
            return result
    finally:
        if waiting:
            db.execute(f"SET SESSION lock_wait_timeout = {no_wait}")


def _run(db: Database, path: Path, statement: ParsedStatement, echo: Callable[[str], None], wait: bool = False) -> None:
    from djsqlgen.phases.shared import NOTHING_TO_UNDO

    def show(rows: list[dict]) -> None:  # as each result arrives: the loops of 40 and 50 print a line per table
        if rows:
            echo(format_rows(rows))

    try:
        _call_retrying(db, path, statement, echo, each=show, wait=wait)
    except ServerError as exc:
        if exc.errno in (1644, 1231) and NOTHING_TO_UNDO in exc.message:
            raise NothingToUndo(exc.message[exc.message.index(NOTHING_TO_UNDO):]) from None
        raise ApplyError(f"{display_name(path)} line {statement.line}: {exc.message}", statement.statement_id,
                         exc.errno) from None


def format_rows(rows: list[dict]) -> str:
    """A plain text table, the way the mysql client prints results."""
    columns = list(rows[0])
    cells = [[("NULL" if r[c] is None else str(r[c])) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])
