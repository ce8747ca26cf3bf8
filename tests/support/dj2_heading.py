"""Every table's heading as DataJoint 2.3 reports it (run by the tool's python), for comparing v2 with what 2.x
declares from the same definitions.

    python dj2_heading.py --schemas DB[,DB...] --store-dir DIR [--rename OLD=NEW,...]

Prints one JSON object: {table_name: {"attributes": [...in order...], "primary_key": [...], "indexes": [...]}}.
Each attribute: name, type (the core type or codec as declared: int64, bool, json, <blob@store>, ...), SQL type,
in_key, nullable, default, comment. ``--rename`` writes schema names as NEW in what mentions them (lineage).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import datajoint as dj
from dj2_read014 import GraphCodec, configure, table_names  # noqa: F401  (GraphCodec registers the codec `graph`)


def attribute(a, rename: dict[str, str]) -> dict:
    codec = a.codec.name if a.codec is not None else None
    lineage = a.lineage
    for old, new in rename.items():
        lineage = lineage.replace(f"{old}.", f"{new}.", 1) if lineage and lineage.startswith(f"{old}.") else lineage
    return {"name": a.name, "type": a.original_type or a.type, "codec": codec, "store": a.store,
            "sql_type": a.sql_type, "in_key": bool(a.in_key), "nullable": bool(a.nullable),
            "default": None if a.default is None else str(a.default), "comment": a.comment,
            "autoincrement": bool(a.autoincrement), "json": bool(a.json), "uuid": bool(a.uuid), "lineage": lineage}


def headings(conn, databases: list[str], rename: dict[str, str]) -> dict:
    result = {}
    for database in databases:
        for name in table_names(conn, database):
            heading = dj.FreeTable(conn, f"`{database}`.`{name}`").heading
            result[name] = {"attributes": [attribute(a, rename) for a in heading.attributes.values()],
                            "primary_key": list(heading.primary_key),
                            "indexes": sorted([list(columns), bool(info["unique"]), bool(info["nullable"])]
                                              for columns, info in heading.indexes.items())}
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schemas", required=True)
    parser.add_argument("--store-dir", required=True)
    parser.add_argument("--rename", default="")
    args = parser.parse_args()
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        conn = configure(args.store_dir)
        rename = dict(pair.split("=") for pair in args.rename.split(",") if pair)
        result = headings(conn, args.schemas.split(","), rename)
    json.dump(result, out)
    out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
