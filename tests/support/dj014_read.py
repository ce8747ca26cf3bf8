"""Read every row of some schemas the way DataJoint 0.14 users do (run by the 0.14 python).

    python dj014_read.py --schemas DB[,DB...] --store-dir DIR

Prints one JSON object: {table_name: [rows as JSON, sorted]}, table names without their schema, so
the output for v1 and for its v2 copy can be compared directly. Attachments and filepaths are
downloaded and represented by the SHA-1 of their content.
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

import dj014_pipeline as p
import datajoint as dj
from rows_json import plain


def plain_attribute(value, attr):
    """Attachments and filepaths by their content's hash, adapted graphs by their edges."""
    if value is None:
        return None
    if attr.is_attachment or attr.is_filepath:
        return "sha1:" + hashlib.sha1(Path(value).read_bytes()).hexdigest()
    if attr.adapter is not None:  # a networkx graph: its edges
        return sorted([sorted(map(str, e)) for e in value.edges])
    return plain(value)


def tables_of(schema: dj.Schema, context: dict) -> list:
    schema.spawn_missing_classes(context=context)
    found = []
    for obj in list(context.values()):
        if isinstance(obj, type) and issubclass(obj, dj.Table) and getattr(obj, "database", None) == schema.database:
            found.append(obj)
            found.extend(part for part in vars(obj).values()
                         if isinstance(part, type) and issubclass(part, dj.Part))
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schemas", required=True)
    parser.add_argument("--store-dir", required=True)
    args = parser.parse_args()
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    p.configure(args.store_dir)
    result = {}
    with tempfile.TemporaryDirectory() as download:
        for database in args.schemas.split(","):
            context = {"graph": p.graph}
            schema = dj.Schema(database, context=context, create_schema=False, create_tables=False)
            for table in tables_of(schema, context):
                instance = table()
                rows = instance.fetch(as_dict=True, download_path=download)
                heading = instance.heading
                result[instance.table_name] = sorted(
                    json.dumps({k: plain_attribute(v, heading.attributes[k]) for k, v in row.items()},
                                sort_keys=True) for row in rows)
    json.dump(result, out, sort_keys=True)
    out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
