"""Run generated files (or print them with --dry-run): the same statements the mysql client would run."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from djsqlgen.errors import ApplyError, DjsqlgenError
from djsqlgen.output.sqlfile import ParsedStatement, split_sql
from djsqlgen.run.db import Database, ServerError


def files_in_order(paths: list[Path]) -> list[Path]:
    """Expand directories into their forward .sql files, in file-name (phase) order."""
    out: list[Path] = []
    for path in paths:
        if str(path) == "-":
            out.append(path)  # standard input
        elif path.is_dir():
            out.extend(sorted(p for p in path.glob("*.sql")))
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
) -> int:
    """Execute (or, with ``dry_run``, print) every statement of ``paths``; returns how many ran."""
    count = 0
    for path in files_in_order(paths):
        statements = split_sql(sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8"))
        echo(f"-- {path}: {len(statements)} statement(s)")
        for statement in statements:
            if dry_run:
                echo(statement.sql + ";\n")
                continue
            _run(db, path, statement, echo)
            count += 1
    return count


def _run(db: Database, path: Path, statement: ParsedStatement, echo: Callable[[str], None]) -> None:
    try:
        results = db.call_results(statement.sql)
    except ServerError as exc:
        raise ApplyError(f"{path.name} line {statement.line}: {exc.message}", statement.statement_id, exc.errno) from None
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
