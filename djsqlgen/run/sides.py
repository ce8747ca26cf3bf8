"""`djsqlgen close|reopen v1|v2 PLAN`: the side file of the migration installed (phases/sides.py), run as `apply`
runs a file."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from djsqlgen.catalog.heading import Catalog
from djsqlgen.output.generate import Migration
from djsqlgen.output.sqlfile import render_file
from djsqlgen.phases.sides import FOLDER
from djsqlgen.plan import Plan
from djsqlgen.run.apply import apply_files
from djsqlgen.run.db import Database, ServerError
from djsqlgen.sqltext.quoting import quote_qualified


def _without_own_triggers(db: Database, plan: Plan, catalog: Catalog) -> Catalog:
    """v1's headings as `generate` read them before 30: without the triggers djsqlgen recorded creating (read now,
    they would change the migration's hash, and every file's check that 60 of this migration is applied would fail)."""
    try:
        rows = db.query(f"SELECT schema_name, object_name FROM {quote_qualified((plan.control, 'objects'))} "
                        "WHERE kind = 'trigger'")
    except ServerError:  # no control schema yet: nothing of ours is installed (the file then refuses, saying so)
        return catalog
    ours = {(r["schema_name"], r["object_name"]) for r in rows}
    schemas = tuple(replace(s, tables=tuple(replace(t, triggers=tuple(tr for tr in t.triggers
                                                                          if (t.schema, tr.name) not in ours))
                                            for t in s.tables)) for s in catalog.schemas)
    return replace(catalog, schemas=schemas)


def installed(db: Database, plan: Plan, catalog: Catalog, build: Callable[[Catalog], Migration]) -> Migration:
    """The migration whose files are applied: from v1's headings less djsqlgen's own triggers, unless the phase log
    records the hash of the headings as read (files generated again after 30)."""
    stripped, as_read = build(_without_own_triggers(db, plan, catalog)), build(catalog)
    if stripped.hash == as_read.hash:
        return stripped
    try:
        logged = {r["plan_hash"] for r in db.query(
            f"SELECT plan_hash FROM {quote_qualified((plan.control, 'phase_log'))}")}
    except ServerError:
        return stripped
    return as_read if as_read.hash in logged and stripped.hash not in logged else stripped


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
