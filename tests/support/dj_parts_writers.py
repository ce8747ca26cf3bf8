"""DataJoint users writing the tables of a two-way split, part extraction or part merge (test_two_way_split.py,
test_two_way_parts.py): run by DataJoint 2.3's python on v2 and by DataJoint 0.14's on v1, the same code for both.

    python dj_parts_writers.py --schema DB --shape split|extract|merge --side v1|v2 --worker N --iterations K

Each iteration, through DataJoint: insert (a master and its part in one transaction where the shape has one),
update1, and every third one a delete (DataJoint's cascading delete: the part first). The tables are read from the
server (``dj.FreeTable``). Subjects 1-10 exist; each worker writes keys of its own. Prints one JSON line of counts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore", category=UserWarning, module=r"datajoint(\.|$)")

import datajoint as dj


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schema", required=True)
    parser.add_argument("--shape", choices=("split", "extract", "merge"), required=True)
    parser.add_argument("--side", choices=("v1", "v2"), required=True)
    parser.add_argument("--worker", type=int, required=True)
    parser.add_argument("--iterations", type=int, default=12)
    args = parser.parse_args(argv)
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # DataJoint logs to stdout; keep stdout for the JSON line
    dj.config["database.host"] = os.environ.get("DJ_HOST", "127.0.0.1")
    dj.config["database.user"] = os.environ.get("DJ_USER", "root")
    dj.config["database.password"] = os.environ.get("DJ_PASS", "")
    dj.config["database.port"] = int(os.environ.get("DJ_PORT", "3306"))
    dj.config["safemode"] = False
    if args.side == "v1":  # (0.14 asks for TLS unless told; 2.x does not)
        dj.config["database.use_tls"] = False
    conn = dj.conn(reset=True)
    dj.Schema(args.schema, connection=conn, create_schema=False, create_tables=False)

    names = [r[0] for r in conn.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                                       args=(args.schema,))]
    # made before any transaction: 0.14 would declare what it does not find (its log table) and refuse inside one
    tables = {name: dj.FreeTable(conn, f"`{args.schema}`.`{name}`") for name in names if not name.startswith("~")}
    for t in tables.values():
        t.heading  # (read now, outside the transactions)
    if args.side == "v1":
        next(iter(tables.values()))._log("dj_parts_writers")  # 0.14's log table, made outside any transaction

    def table(name: str):
        return tables[name]

    v2 = args.side == "v2"
    counts = {"inserted": 0, "updated": 0, "deleted": 0}
    for i in range(args.iterations):
        subject = 1 + (args.worker * 3 + i) % 10
        number = 500 + args.worker * 100 + (50 if v2 else 0) + i
        key = {"subject_id": subject}
        if args.shape == "split":
            modality = ("ephys", "imaging")[i % 2]
            rec = table(f"{modality}_recording" if v2 else "recording")
            key["rec"] = f"w{number}"
            rec.insert1({**key, "modality": modality, "x": i / 4, "note": f"{args.side} {args.worker}"})
            rec.update1({**key, "x": i / 2, "note": f"updated {i}"})
        elif args.shape == "extract":
            key["session_id"] = number
            with conn.transaction:
                start = datetime.datetime(2025, 1, 1, 9, i % 60)
                if v2:
                    table("session").insert1({**key, "start": start})
                    table("session__notes").insert1({**key, "notes": f"v2 {args.worker}", "rating": i % 5})
                else:
                    table("session").insert1({**key, "start": start, "notes": f"v1 {args.worker}", "rating": i % 5})
            (table("session__notes") if v2 else table("session")).update1({**key, "rating": 9})
        else:
            key["scan_id"] = number
            with conn.transaction:
                if v2:
                    table("scan").insert1({**key, "depth": i, "snr": i * 2.5, "verdict": "v2", "ok": 1})
                else:
                    table("scan").insert1({**key, "depth": i})
                    table("scan__quality").insert1({**key, "snr": i * 2.5, "verdict": "v1", "ok": 1})
            (table("scan") if v2 else table("scan__quality")).update1({**key, "verdict": "updated"})
        counts["inserted"] += 1
        counts["updated"] += 1
        if i % 3 == 2:
            master = {"split": f"{('ephys', 'imaging')[i % 2]}_recording" if v2 else "recording",
                      "extract": "session", "merge": "scan"}[args.shape]
            (table(master) & key).delete()
            counts["deleted"] += 1
    out.write(json.dumps(counts) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
