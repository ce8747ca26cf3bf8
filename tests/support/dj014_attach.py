"""DataJoint 0.14 side of test_two_way_external.py's attachment test: a table whose attachments are in a file store.

    python dj014_attach.py build --schema S --store-dir DIR --files DIR            # declare, insert docs 1 to 3
    python dj014_attach.py insert --schema S --store-dir DIR --files DIR --doc N   # one more doc, written by 0.14
    python dj014_attach.py read --schema S --store-dir DIR --files DIR [--doc N]   # as 0.14 fetches them (JSON)

``doc`` has an int key, an attachment in the store and a nullable one; docs 1 and 3 attach the same file (one
~external row). ``read`` prints, per doc, each attachment's file name and contents (text), or the error 0.14 meets.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import datajoint as dj

STORE = "extstore"


def configure(store_dir: str) -> None:
    dj.config["database.host"] = os.environ.get("DJ_HOST", "127.0.0.1")
    dj.config["database.user"] = os.environ.get("DJ_USER", "root")
    dj.config["database.password"] = os.environ.get("DJ_PASS", "")
    dj.config["database.port"] = int(os.environ.get("DJ_PORT", "3306"))
    dj.config["database.use_tls"] = False
    dj.config["safemode"] = False
    dj.config["stores"] = {STORE: {"protocol": "file", "location": store_dir}}


def declare(schema_name: str):
    schema = dj.schema(schema_name)

    @schema
    class Doc(dj.Manual):
        definition = """
        doc_id : int
        ---
        report : attach@extstore
        notes = null : attach@extstore
        """

    return Doc


def file_for(files: Path, n: int, what: str) -> Path:
    """A file per (n % 2, what): docs 1 and 3 attach the same one."""
    path = files / f"{n % 2}" / f"{what}-{n % 2}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{what} of doc {n % 2}\n" * (3 + n % 2))
    return path


def insert(doc, files: Path, n: int) -> None:
    doc.insert1({"doc_id": n, "report": str(file_for(files, n, "report")),
                 "notes": None if n % 2 == 0 else str(file_for(files, n, "notes"))})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("build", "insert", "read"))
    parser.add_argument("--schema", required=True)
    parser.add_argument("--store-dir", required=True)
    parser.add_argument("--files", required=True)
    parser.add_argument("--doc", type=int, default=0)
    args = parser.parse_args()
    configure(args.store_dir)
    doc = declare(args.schema)
    files = Path(args.files)
    if args.command == "build":
        for n in range(1, 4):
            insert(doc, files, n)
    elif args.command == "insert":
        insert(doc, files, args.doc)
    else:
        out = {}
        keys = doc.fetch("KEY", order_by="doc_id") if not args.doc else [{"doc_id": args.doc}]
        for key in keys:
            where = files / "fetched" / str(key["doc_id"])
            where.mkdir(parents=True, exist_ok=True)
            try:
                row = (doc & key).fetch1(download_path=str(where))
            except Exception as exc:  # what a 0.14 user meets
                out[f"doc {key['doc_id']}"] = f"{type(exc).__name__}: {exc}"
                continue
            out[f"doc {key['doc_id']}"] = [None if row[a] is None else [Path(row[a]).name, Path(row[a]).read_text()]
                                           for a in ("report", "notes")]
        print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
