"""Read every row of some schemas the way DataJoint 2.3 users do (run by the tool's python).

    python dj2_read.py --schemas DB[,DB...] --store-dir DIR

Prints one JSON object: {table_name: [rows as JSON, sorted]}, table names without their schema.
Attachments are represented by the SHA-1 of their content.
"""

# ruff: noqa: I001  (the pipeline module must be imported before datajoint: it sets its switches)
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dj2_pipeline as p
import datajoint as dj
from rows_json import plain


def _special(value):
    """Attachments (downloaded files) by their content's hash; <filepath@> references by their path."""
    if isinstance(value, Path) or (isinstance(value, str) and os.path.isfile(value)):
        return "sha1:" + hashlib.sha1(Path(value).read_bytes()).hexdigest()
    if type(value).__name__ == "ObjectRef":
        return {"path": str(value.path)}
    return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schemas", required=True)
    parser.add_argument("--store-dir", required=True)
    args = parser.parse_args()
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    conn = p.configure(args.store_dir)
    result = {}
    with tempfile.TemporaryDirectory() as download:
        os.chdir(download)  # attachments are downloaded into the working directory
        for database in args.schemas.split(","):
            names = [r[0] for r in conn.query(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", args=(database,))]
            for name in sorted(n for n in names if not n.startswith("~")):
                table = dj.FreeTable(conn, f"`{database}`.`{name}`")
                rows = table.to_dicts()
                result[name] = sorted(json.dumps({k: plain(v, _special) for k, v in row.items()}, sort_keys=True) for row in rows)
    json.dump(result, out, sort_keys=True)
    out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
