"""DataJoint 2.3's own migration (``datajoint.migrate``) of 0.14 schemas into copies, for a side-by-side report.

    python dj2_migrate014.py --map V1=COPY[,V1=COPY...] --store-dir DIR

Run by the tool's python. Follows the functions 2.3 documents, in order, on each schema: a parallel copy
with its data (``create_parallel_schema``; as shipped it copies tables in name order, and when that fails
for foreign keys it is run again with foreign-key checks off), then ``migrate_columns``,
``migrate_external`` and ``migrate_filepath`` (finalized), and ``rebuild_lineage``. Prints one JSON object:
each step's outcome per schema.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import datajoint as dj
from datajoint import migrate
from dj2_read014 import GraphCodec, configure  # noqa: F401  (registers the codec `graph`)


def _step(outcome: dict, name: str, action, *args, **kwargs) -> None:
    try:
        action(*args, **kwargs)
        outcome[name] = "ok"
    except Exception as exc:  # noqa: BLE001  (the report says what failed)
        outcome[name] = f"{type(exc).__name__}: {str(exc)[:160]}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--map", required=True)
    parser.add_argument("--store-dir", required=True)
    args = parser.parse_args()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    conn = configure(args.store_dir)
    report = {}
    for pair in args.map.split(","):
        source, copy = pair.split("=")
        outcome = report.setdefault(source, {})
        _step(outcome, "create_parallel_schema", migrate.create_parallel_schema, source, copy, copy_data=True)
        if outcome["create_parallel_schema"] != "ok":
            conn.query(f"DROP DATABASE IF EXISTS `{copy}`")
            conn.query("SET FOREIGN_KEY_CHECKS = 0")
            _step(outcome, "create_parallel_schema, foreign-key checks off",
                  migrate.create_parallel_schema, source, copy, copy_data=True, connection=conn)
            conn.query("SET FOREIGN_KEY_CHECKS = 1")
        schema = dj.Schema(copy, connection=conn, create_schema=False, create_tables=False)
        _step(outcome, "migrate_columns", migrate.migrate_columns, schema, dry_run=False)
        _step(outcome, "migrate_external", migrate.migrate_external, schema, dry_run=False, finalize=True)
        _step(outcome, "migrate_filepath", migrate.migrate_filepath, schema, dry_run=False, finalize=True)
        _step(outcome, "rebuild_lineage", schema.rebuild_lineage)
    json.dump(report, out)
    out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
