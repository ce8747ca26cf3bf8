"""Read the v2 schemas of a migrated DataJoint 0.14 pipeline the way DataJoint 2.3 users do.

    python dj2_read014.py --schemas DB[,DB...] --store-dir DIR [--headings]

Run by the tool's python (DataJoint 2.x). Prints one JSON object in dj014_read.py's format,
{table_name: [rows as JSON, sorted]}, so 0.14's reading of v1 and 2.x's reading of v2 compare
directly: attachments and filepaths by the SHA-1 of their content, the adapted graph by its edges.
The 2.x code registers the codec ``graph`` that RUNBOOK.md asks for (the 0.14 AttributeAdapter stored
an edge list as a blob). ``--headings`` prints instead each table's attributes as 2.x reads them
(type, SQL type, comment, nullable, default, in_key) and any warning 2.x logged while loading them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import datajoint as dj
from rows_json import plain

STORE = "extstore"


class GraphCodec(dj.Codec):
    """What a lab registers in its 2.x code for 0.14's ``<graph>`` adapter: the same edge list, in a blob."""

    name = "graph"

    def get_dtype(self, is_store: bool) -> str:
        return "<blob>"

    def encode(self, value, *, key=None, context=None, store_name=None):
        return [list(edge) for edge in value.edges]

    def decode(self, stored, *, key=None, context=None):
        return sorted(sorted(map(str, edge)) for edge in stored)


def configure(store_dir: str) -> dj.Connection:
    dj.config["database.host"] = os.environ.get("DJ_HOST", "127.0.0.1")
    dj.config["database.user"] = os.environ.get("DJ_USER", "root")
    dj.config["database.password"] = os.environ.get("DJ_PASS", "")
    dj.config["database.port"] = int(os.environ.get("DJ_PORT", "3306"))
    dj.config["safemode"] = False
    # What RUNBOOK.md gives for reading the migrated data: the 0.14 store's location, as a 2.x file store.
    dj.config["stores"] = {STORE: {"protocol": "file", "location": str(Path(store_dir).resolve())}}
    return dj.conn(reset=True)


def _special(value):
    if isinstance(value, Path) or (isinstance(value, str) and os.path.isfile(value)):
        return "sha1:" + hashlib.sha1(Path(value).read_bytes()).hexdigest()
    if type(value).__name__ == "ObjectRef":
        return "sha1:" + hashlib.sha1(value.read()).hexdigest()
    return None


def table_names(conn, database: str) -> list[str]:
    names = [r[0] for r in conn.query(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", args=(database,))]
    return sorted(n for n in names if not n.startswith("~"))


def headings(conn, databases: list[str]) -> dict:
    result = {}
    for database in databases:
        for name in table_names(conn, database):
            heading = dj.FreeTable(conn, f"`{database}`.`{name}`").heading
            result[name] = {a.name: {"type": a.type, "sql_type": a.sql_type, "comment": a.comment,
                                     "nullable": bool(a.nullable), "default": str(a.default), "in_key": bool(a.in_key)}
                            for a in heading.attributes.values()}
    return result


def rows(conn, databases: list[str], tolerant: bool = False) -> dict:
    """Every table's rows; ``tolerant``: a table 2.x cannot read gives {"error": why} instead of ending the run."""
    result = {}
    with tempfile.TemporaryDirectory() as download:
        os.chdir(download)  # attachments are extracted into the working directory
        dj.config["download_path"] = download
        for database in databases:
            for name in table_names(conn, database):
                try:
                    table = dj.FreeTable(conn, f"`{database}`.`{name}`")
                    result[name] = sorted(json.dumps({k: plain(v, _special) for k, v in row.items()}, sort_keys=True)
                                          for row in table.to_dicts())
                except Exception as exc:
                    if not tolerant:
                        raise
                    result[name] = {"error": f"{type(exc).__name__}: {str(exc)[:160]}"}
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schemas", required=True)
    parser.add_argument("--store-dir", required=True)
    parser.add_argument("--headings", action="store_true")
    parser.add_argument("--tolerant", action="store_true", help="report a table 2.x cannot read instead of failing")
    args = parser.parse_args()
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    logged: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                logged.append(record.getMessage())

    logging.getLogger("datajoint").addHandler(Keep())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        conn = configure(args.store_dir)
        databases = args.schemas.split(",")
        result = headings(conn, databases) if args.headings else rows(conn, databases, args.tolerant)
    noise = ("No datajoint.json",)
    logged += [str(w.message) for w in caught if not str(w.message).startswith(noise)]
    json.dump({"tables": result, "warnings": logged}, out, sort_keys=True)
    out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
