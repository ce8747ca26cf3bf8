"""Lab users at work on v1 with DataJoint 0.14 while a migration runs (run by the 0.14 python).

    python dj014_writers.py --schemas PREFIX --store-dir DIR --worker N --iterations K [--existing A-B]

Each iteration does what people do to a live pipeline, through DataJoint where DataJoint can:
insert a subject with a session and its Tag parts in one transaction, update a row (update1),
change a primary key with raw SQL (DataJoint cannot; v1's ON UPDATE CASCADE then rewrites the
sessions and tags without firing their triggers), delete with DataJoint's cascading delete, and
raw-SQL writes to an auto_increment table. ``--existing A-B`` makes the worker also move and
delete rows among subject ids A..B (the bulk rows the backfill is copying at that moment).
Prints one JSON line of counts on stdout.

``--keep-going`` (the writer-stress test and bench): a failed iteration is counted, not fatal, the way a lab sees
it (DataJoint 0.14 does not retry): each failure is one line ``{"error": errno, "at": unix time, "what": step}``
on stdout before the counts, and the worker loops until ``--until-file`` exists (at most ``--iterations``), starting
no iteration while ``--pause-file`` exists.
"""


from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dj014_pipeline as p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schemas", required=True)
    parser.add_argument("--store-dir", required=True)
    parser.add_argument("--worker", type=int, required=True)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--existing", default="", help="A-B: subject ids of bulk rows to move and delete")
    parser.add_argument("--keep-going", action="store_true", help="count failures instead of stopping at the first")
    parser.add_argument("--until-file", default="", help="with --keep-going: stop once this file exists")
    parser.add_argument("--pause-file", default="", help="no new iteration while this file exists (a quiet moment)")
    parser.add_argument("--merged-part", action="store_true",
                        help="also write session__quality (a 1:1 part made with SQL: writer_stress.py) with raw SQL")
    args = parser.parse_args(argv)

    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # DataJoint logs to stdout; keep stdout for the JSON line

    conn = p.configure(args.store_dir)
    common_db, ephys_db = p.schema_names(args.schemas)
    p.common.activate(common_db, create_tables=False)
    p.ephys.activate(ephys_db, create_tables=False)
    rng = random.Random(args.worker)
    base = 10_000_000 + args.worker * 100_000
    lo, _, hi = args.existing.partition("-")
    existing = list(range(int(lo), int(hi) + 1)) if lo else []
    rng.shuffle(existing)
    counts = {"inserted": 0, "updated": 0, "key_moves": 0, "deleted": 0, "raw": 0, "bulk_moves": 0, "bulk_deletes": 0}
    common = f"`{common_db}`"

    step = {"what": ""}

    def iteration(i: int) -> None:
        sid = base + i
        step["what"] = "insert with parts"
        with conn.transaction:  # a master and its parts, together, as DataJoint users insert them
            p.Subject.insert1({"subject_id": sid, "species": "Mus musculus", "subject_uuid": p.stable_uuid("w", sid),
                                   "sex": rng.choice("MFU"), "notes": f"worker {args.worker}"})
            p.Session.insert1({"subject_id": sid, "session_id": 1, "session_start": datetime.datetime(2025, 1, 1, 9, i % 60),
                                   "operator": rng.choice(["alice", "bob", "carol"])})
            p.Session.Tag.insert([{"subject_id": sid, "session_id": 1, "tag": t} for t in ("a", "b", "c")])
            if args.merged_part and i % 5:  # most sessions have their part, some not
                conn.query(f"INSERT INTO {common}.`session__quality` VALUES (%s, 1, %s, 1)", args=(sid, i / 7))
        counts["inserted"] += 1
        step["what"] = "update1"
        p.Subject.update1({"subject_id": sid, "notes": f"updated {i}", "weight": round(rng.uniform(10, 40), 2)})
        counts["updated"] += 1
        if args.merged_part:
            step["what"] = "part writes"
            # the part changed alone, added to a session that had none, deleted alone (as a script fixing data does)
            conn.query(f"UPDATE {common}.`session__quality` SET snr = snr + 1, ok = NULL WHERE subject_id = %s",
                       args=(sid - 1,))
            if i % 5 == 0:
                conn.query(f"INSERT IGNORE INTO {common}.`session__quality` VALUES (%s, 1, 0.5, 0)", args=(sid,))
            if i % 7 == 3:
                conn.query(f"DELETE FROM {common}.`session__quality` WHERE subject_id = %s", args=(sid,))
            counts["raw"] += 1
        if i % 3 == 1:
            step["what"] = "key move"
            # Primary-key change: cascades to session and session__tag inside the server.
            conn.query(f"UPDATE {common}.`subject` SET subject_id = subject_id + 50000 WHERE subject_id = %s",
                       args=(sid - 1,))
            counts["key_moves"] += 1
        if i % 4 == 3:
            step["what"] = "cascading delete"
            (p.Subject & {"subject_id": sid}).delete()  # DataJoint deletes the parts and session first
            counts["deleted"] += 1
        step["what"] = "raw writes"
        conn.query(f"INSERT INTO {common}.`lab_note` (note) VALUES (%s)", args=(f"w{args.worker} note {i}",))
        conn.query(f"UPDATE {common}.`lab_note` SET note = CONCAT(note, '!') ORDER BY note_id DESC LIMIT 1")
        counts["raw"] += 2
        if existing:
            step["what"] = "bulk move"
            moved = existing.pop()
            conn.query(f"UPDATE {common}.`subject` SET subject_id = subject_id + 20000000, notes = 'moved' "
                       "WHERE subject_id = %s", args=(moved,))
            counts["bulk_moves"] += 1
        if existing and i % 2 == 0:
            step["what"] = "bulk delete"
            (p.Subject & {"subject_id": existing.pop()}).delete()
            counts["bulk_deletes"] += 1
    counts["errors"] = 0
    done_at = []  # when each iteration completed (--keep-going): throughput in a window of the caller's choosing
    for i in range(args.iterations):
        if args.until_file and os.path.exists(args.until_file):
            break
        while args.pause_file and os.path.exists(args.pause_file) and not os.path.exists(args.until_file):
            time.sleep(0.05)
        if not args.keep_going:
            iteration(i)
            continue
        try:
            iteration(i)
            done_at.append(round(time.time(), 2))
        except Exception as exc:  # noqa: BLE001 - counted by error code, as the lab would see it
            counts["errors"] += 1
            out.write(json.dumps({"error": _errno(exc), "at": time.time(), "what": step["what"],
                                  "message": str(exc)[:200]}) + "\n")
            try:
                conn.cancel_transaction()
            except Exception:  # noqa: BLE001
                pass
    if args.keep_going:
        counts["done_at"] = done_at
    out.write(json.dumps(counts) + "\n")
    out.flush()
    return 0


def _errno(exc: BaseException) -> int:
    """The server's error number behind a DataJoint exception (it wraps pymysql's), 0 when there is none."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if exc.args and isinstance(exc.args[0], int):
            return exc.args[0]
        exc = exc.__cause__ or exc.__context__
    return 0


if __name__ == "__main__":
    sys.exit(main())
