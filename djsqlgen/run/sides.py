"""`djsqlgen close|reopen v1|v2 PLAN`: the side file of the migration installed (phases/sides.py), run as `apply`
runs a file."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from djsqlgen.output.generate import Migration
from djsqlgen.output.sqlfile import render_file
from djsqlgen.phases.sides import FOLDER
from djsqlgen.run.apply import apply_files
from djsqlgen.run.db import Database


def run_side_file(db: Database, migration: Migration, action: str, side: str, wait_s: int | None,
                  echo: Callable[[str], None]) -> list[dict]:
    """Apply sides/<action>_<side>.sql of ``migration`` (``wait_s``: the bound of its wait); the sides rows after."""
    found = next(f for f in migration.side_files() if (f.number, f.name) == (action, side))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / FOLDER / found.filename
        path.parent.mkdir()
        path.write_text(render_file(found, migration.meta()), encoding="utf-8")
        if wait_s is not None:
            db.execute(f"SET @djsqlgen_close_wait_s = {int(wait_s)}")
        apply_files(db, [path], echo=echo)
    return db.query(f"SELECT side, is_open, closed_at FROM {migration.ctx.control_table('sides')} ORDER BY side")
