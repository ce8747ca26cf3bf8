"""DataJoint 0.14 side of test_two_way_external.py's filepath test: a table whose filepaths are in a file store.

    python dj014_filepath.py build --schema S --store-dir DIR --stage DIR            # declare, insert recs 1 to 3
    python dj014_filepath.py insert --schema S --store-dir DIR --stage DIR --rec N   # one more rec, written by 0.14
    python dj014_filepath.py read --schema S --store-dir DIR --stage DIR [--rec N]   # as 0.14 fetches them (JSON)

``rec`` has an int key, a filepath in the store and a nullable one; recs 1 and 3 name the same file (one
~external row). 0.14 copies an inserted file from its stage to the store's location; ``read`` fetches into a stage
of its own (a fresh directory: each file downloaded and checksummed) and prints, per rec, each file's path relative to
the stage and its contents (text), or the error 0.14 meets.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("DJ_SUPPORT_FILEPATH_MANAGEMENT", "TRUE")  # filepath@ is opt-in in 0.14

import datajoint as dj  # noqa: E402

STORE = "extstore"


def configure(store_dir: str, stage: str) -> None:
    dj.config["database.host"] = os.environ.get("DJ_HOST", "127.0.0.1")
    dj.config["database.user"] = os.environ.get("DJ_USER", "root")
    dj.config["database.password"] = os.environ.get("DJ_PASS", "")
    dj.config["database.port"] = int(os.environ.get("DJ_PORT", "3306"))
    dj.config["database.use_tls"] = False
    dj.config["safemode"] = False
    dj.config["filepath_checksum_size_limit"] = None  # every file checked (0.14's default)
    dj.config["stores"] = {STORE: {"protocol": "file", "location": store_dir, "stage": stage}}


def declare(schema_name: str):
    schema = dj.schema(schema_name)

    @schema
    class Rec(dj.Manual):
        definition = """
        rec_id : int
        ---
        raw : filepath@extstore
        extra = null : filepath@extstore
        """

    return Rec


def file_for(stage: Path, n: int, what: str) -> Path:
    """A file per (n % 2, what) under the stage: recs 1 and 3 name the same one."""
    path = stage / "acq" / f"{n % 2}" / f"{what}-{n % 2}.dat"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{what} of rec {n % 2}\n" * (3 + n % 2))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("build", "insert", "read"))
    parser.add_argument("--schema", required=True)
    parser.add_argument("--store-dir", required=True)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--rec", type=int, default=0)
    args = parser.parse_args()
    configure(args.store_dir, args.stage)
    rec = declare(args.schema)
    stage = Path(args.stage)
    numbers = range(1, 4) if args.command == "build" else [args.rec]
    if args.command in ("build", "insert"):
        for n in numbers:
            rec.insert1({"rec_id": n, "raw": str(file_for(stage, n, "raw")),
                         "extra": None if n % 2 == 0 else str(file_for(stage, n, "extra"))})
        return
    out = {}
    keys = rec.fetch("KEY", order_by="rec_id") if not args.rec else [{"rec_id": args.rec}]
    for key in keys:
        try:
            row = (rec & key).fetch1()
        except Exception as exc:  # what a 0.14 user meets
            out[f"rec {key['rec_id']}"] = f"{type(exc).__name__}: {exc}"
            continue
        out[f"rec {key['rec_id']}"] = [
            None if row[a] is None else [Path(row[a]).relative_to(stage.absolute()).as_posix(), Path(row[a]).read_text()]
            for a in ("raw", "extra")]
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
