"""DataJoint 0.14 side of tests/integration/test_two_way_external.py: a schema whose tables keep blobs in a file store.

    python dj014_blobs.py build --schema S --store-dir DIR            # declare, insert the first rows
    python dj014_blobs.py insert --schema S --store-dir DIR --scan N  # one more scan, written by 0.14
    python dj014_blobs.py read --schema S --store-dir DIR             # every value as 0.14 fetches it (JSON)

Two tables: ``scan`` (an int key, a blob in the store and a nullable one) and ``scan__frame``, a part whose key
extends the scan's, with a blob of its own, so values of one content are shared by rows of both.
"""

from __future__ import annotations

import argparse
import json
import os

import datajoint as dj
import numpy as np

STORE = "extstore"


def configure(store_dir: str) -> None:
    dj.config["database.host"] = os.environ.get("DJ_HOST", "127.0.0.1")
    dj.config["database.user"] = os.environ.get("DJ_USER", "root")
    dj.config["database.password"] = os.environ.get("DJ_PASS", "")
    dj.config["database.port"] = int(os.environ.get("DJ_PORT", "3306"))
    dj.config["database.use_tls"] = False
    dj.config["safemode"] = False
    dj.config["enable_python_native_blobs"] = True
    dj.config["stores"] = {STORE: {"protocol": "file", "location": store_dir}}


def declare(schema_name: str):
    schema = dj.schema(schema_name)

    @schema
    class Scan(dj.Manual):
        definition = """
        scan_id : int
        ---
        data : blob@extstore
        extra = null : blob@extstore
        """

        class Frame(dj.Part):
            definition = """
            -> master
            frame : smallint
            ---
            image : blob@extstore
            """

    return Scan


def value(n: int):
    """A deterministic array per n; n % 3 repeats, so some values share one content."""
    return np.arange(12, dtype=np.float64).reshape(3, 4) * (n % 3)


def extra(n: int):
    return None if n % 2 else {"n": n % 3, "tag": "x"}


def insert(scan, n: int) -> None:
    scan.insert1({"scan_id": n, "data": value(n), "extra": extra(n)})
    scan.Frame.insert([{"scan_id": n, "frame": f, "image": value(n + f)} for f in range(2)])


def plain(v):
    """A fetched value as JSON: an array as [dtype, shape, values], a dict's values likewise."""
    if isinstance(v, np.ndarray):
        return [str(v.dtype), list(v.shape), v.tolist()]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v.item() if isinstance(v, np.generic) else v


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("build", "insert", "read"))
    parser.add_argument("--schema", required=True)
    parser.add_argument("--store-dir", required=True)
    parser.add_argument("--scan", type=int, default=0)
    args = parser.parse_args()
    configure(args.store_dir)
    scan = declare(args.schema)
    if args.command == "build":
        for n in range(1, 5):
            insert(scan, n)
    elif args.command == "insert":
        insert(scan, args.scan)
    else:
        rows = {f"scan {r['scan_id']}": [plain(r["data"]), plain(r["extra"])] for r in scan.fetch(as_dict=True)}
        rows.update({f"frame {r['scan_id']}.{r['frame']}": [plain(r["image"])] for r in scan.Frame.fetch(as_dict=True)})
        print(json.dumps(rows, sort_keys=True))


if __name__ == "__main__":
    main()
