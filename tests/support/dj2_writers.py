"""Lab users at work on v2 with DataJoint 2.3 while v1's users keep DataJoint 0.14 (two-way sync; run by the tool's
python, which has DataJoint 2.x).

    python dj2_writers.py --schema DB --store-dir DIR --worker N --iterations K

DB is the v2 schema of dj014_pipeline.py's common schema under the plan of test_two_way_verify.py (subject with
``notes`` renamed ``remarks``, ``weight`` a wider decimal and a v2-only ``cohort``), or with ``--preset`` under the
dj014-to-dj2 preset (v1's column names, 2.x's types: test_two_way_preset.py). Each iteration, through
DataJoint 2.3 where DataJoint can: insert a subject with a session and its Tag parts in one transaction, update1 the
subject, move a key with raw SQL (DataJoint cannot; v2's ON UPDATE CASCADE moves the sessions and tags, v1's its
own), and delete with DataJoint's cascading delete. The tables are read from the server (``dj.FreeTable``), as a
2.x user's code that declares them would find them. Prints one JSON line of counts on stdout.

``--shape`` (two_way_stress.py) fits the writes to v2 as another two-way plan of the same pipeline made it (v1's
column names, no cohort): ``rekey`` session keyed by (subject_id, session_start), session_id kept as a column, its
Tag part following the new key; ``rekey-inverse`` the same with session_id dropped (v1 numbers a v2 session by the
plan's ``inverse:``), its Tag part then syncing one way and refusing v2 writes, so none are made (and no bulk
delete, which DataJoint would start with the bulk rows' tags); ``part`` subject's weight in a part subject__body
(inserted with its master, updated by update1); ``merge`` session__quality's snr and ok merged into session;
``split`` session__tag as tag_early (tag < 'm') and tag_late (the rest), one tag written on each.

``--keep-going`` (two_way_stress.py): as dj014_writers.py's, a failed iteration is one line ``{"error": errno, "at":
unix time, "what": step}`` before the counts, and the worker loops until ``--until-file`` exists.
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import json
import os
import random
import sys
import time
import uuid
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.filterwarnings("ignore", category=UserWarning, module=r"datajoint(\.|$)")

import datajoint as dj
from dj2_read014 import configure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schema", required=True)
    parser.add_argument("--store-dir", required=True)
    parser.add_argument("--worker", type=int, required=True)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--preset", action="store_true", help="v2 made by the dj014-to-dj2 preset (v1's columns)")
    parser.add_argument("--shape", choices=("rename", "rekey", "rekey-inverse", "part", "merge", "split"),
                        default="rename", help="the plan v2 was made by (rename: test_two_way_verify's)")
    parser.add_argument("--existing", default="", help="A-B: subject ids of bulk rows to move and delete from v2")
    parser.add_argument("--lab-note", action="store_true",
                        help="also a raw lab_note insert (auto_increment id, as v1's writers) and its update by id")
    parser.add_argument("--keep-going", action="store_true", help="count failures instead of stopping at the first")
    parser.add_argument("--until-file", default="", help="with --keep-going: stop once this file exists")
    args = parser.parse_args(argv)
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # DataJoint logs to stdout; keep stdout for the JSON line

    conn = configure(args.store_dir)
    # activated, as a 2.x user's schema module does: the cascading delete follows the foreign keys of its schemas
    dj.Schema(args.schema, connection=conn, create_schema=False, create_tables=False)
    db = f"`{args.schema}`"
    subject, session = (dj.FreeTable(conn, f"{db}.`{name}`") for name in ("subject", "session"))
    shape = args.shape
    if shape == "split":
        tags = [dj.FreeTable(conn, f"{db}.`{name}`") for name in ("tag_early", "tag_late")]
    else:  # (rekey-inverse's v2 Tag part refuses writes: none made)
        tags = [] if shape == "rekey-inverse" else [dj.FreeTable(conn, f"{db}.`session__tag`")]
    body = dj.FreeTable(conn, f"{db}.`subject__body`") if shape == "part" else None
    rng = random.Random(args.worker)
    base = 40_000_000 + args.worker * 100_000
    counts = {"inserted": 0, "updated": 0, "key_moves": 0, "deleted": 0}
    # the preset and the shapes other than rename/retype keep v1's names; only rename/retype adds a column
    notes = "remarks" if shape == "rename" and not args.preset else "notes"
    own = {"cohort": "2x"} if shape == "rename" and not args.preset else {}
    lo, _, hi = args.existing.partition("-")
    existing = list(range(int(lo), int(hi) + 1)) if lo else []
    rng.shuffle(existing)
    step = {"what": ""}

    def iteration(i: int) -> None:
        sid = base + i
        start = datetime.datetime(2025, 3, 1, 9, i % 60)
        # a session row by the key v2 gives it; the v1 key column where v2 still holds it
        session_key = {"subject_id": sid, **({} if shape == "rekey-inverse" else {"session_id": 1})}
        tag_key = {"subject_id": sid, "session_start": start} if shape == "rekey" else {"subject_id": sid,
                                                                                        "session_id": 1}
        # a weight v1's decimal(6,2) holds (a third decimal would be refused at the write, W5)
        weight = decimal.Decimal(rng.randrange(1000, 4000)) / 100
        step["what"] = "insert with parts"
        with conn.transaction:  # a master and its parts, together
            subject.insert1({"subject_id": sid, "species": "Mus musculus", "subject_uuid": uuid.uuid5(uuid.NAMESPACE_OID,
                                                                                                      f"2x {sid}"),
                             "sex": rng.choice("MFU"), notes: f"2.x worker {args.worker}", **own})
            if body is not None:
                body.insert1({"subject_id": sid, "weight": weight})
            merged = {"snr": i / 8, "ok": i % 2} if shape == "merge" else {}
            session.insert1({**session_key, "session_start": start, "operator": "alice", **merged})
            if shape == "split":  # one tag on each side
                for side, t in zip(tags, ("2x-a", "z2x")):
                    side.insert1({**tag_key, "tag": t})
            elif shape != "rekey-inverse":
                tags[0].insert([{**tag_key, "tag": t} for t in ("2x-a", "2x-b")])
        counts["inserted"] += 1
        step["what"] = "update1"
        if body is not None:
            subject.update1({"subject_id": sid, notes: f"updated in 2.x {i}"})
            body.update1({"subject_id": sid, "weight": weight + 1})
        else:
            subject.update1({"subject_id": sid, notes: f"updated in 2.x {i}", "weight": weight})
        if shape == "merge":
            session.update1({**session_key, "session_start": start, "snr": i / 4, "ok": None})
        elif shape.startswith("rekey"):  # a v1 row found by v2's key (through the kept or the numbered session_id)
            session.update1({"subject_id": sid, "session_start": start, "session_notes": f"2.x {i}"})
        counts["updated"] += 1
        if i % 3 == 1:
            step["what"] = "key move"
            conn.query(f"UPDATE {db}.`subject` SET subject_id = subject_id + 50000 WHERE subject_id = %s",
                       args=(sid - 1,))
            counts["key_moves"] += 1
        if i % 4 == 3:
            step["what"] = "cascading delete"
            (subject & {"subject_id": sid}).delete()  # DataJoint deletes the parts and the session first
            counts["deleted"] += 1
        if existing:  # old rows (v1's, copied by the backfill) changed from v2: a key move v2 cascades, then v1
            step["what"] = "bulk move"
            conn.query(f"UPDATE {db}.`subject` SET subject_id = subject_id + 30000000, {notes} = 'moved in 2.x' "
                       "WHERE subject_id = %s", args=(existing.pop(),))
            counts["bulk_moves"] = counts.get("bulk_moves", 0) + 1
        if existing and i % 2 == 0 and shape != "rekey-inverse":
            step["what"] = "bulk delete"
            (subject & {"subject_id": existing.pop()}).delete()
            counts["bulk_deletes"] = counts.get("bulk_deletes", 0) + 1
        if args.lab_note:  # its own new row only (the 0.14 writers update v1's last one)
            step["what"] = "raw writes"
            conn.query(f"INSERT INTO {db}.`lab_note` (note) VALUES (%s)", args=(f"2.x w{args.worker} note {i}",))
            conn.query(f"UPDATE {db}.`lab_note` SET note = CONCAT(note, '?') WHERE note_id = LAST_INSERT_ID()")
            counts["raw"] = counts.get("raw", 0) + 2

    done_at = []  # when each iteration completed (--keep-going)
    for i in range(args.iterations):
        if args.until_file and os.path.exists(args.until_file):
            break
        if not args.keep_going:
            iteration(i)
            continue
        try:
            iteration(i)
            done_at.append(round(time.time(), 2))
        except Exception as exc:  # noqa: BLE001 - counted by error code, as the lab would see it
            counts["errors"] = counts.get("errors", 0) + 1
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
