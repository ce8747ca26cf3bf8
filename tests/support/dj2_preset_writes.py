"""A DataJoint 2.3 user at work on the v2 of a 0.14 pipeline migrated by the dj014-to-dj2 preset with two-way sync
(run by the tool's python, which has DataJoint 2.x).

    python dj2_preset_writes.py --schemas COMMON_V2,EPHYS_V2 --store-dir DIR --subject N

One write of each shape the preset converts, through DataJoint 2.3 where it can write it: a uuid key with an
in-table ``<attach>`` and a ``<blob>``; a varchar key in utf8mb4; an int64 key, a session and its parts, a block
(bool, json), a trial, a block trial and a probe insertion with the adapted ``<graph>``; update1 of each; lab notes
without their auto_increment ids; and the writes v1 cannot take (an emoji, an int64 above v1's int unsigned, a
write to a table that syncs one way), each expected to fail. Last, DataJoint's cascading delete of a second subject
with all of the above below it, and of a subject with recordings (refused: they sync one way). Prints one JSON object
on stdout: step -> "ok" or {"errno": …, "message": …}.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import uuid
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.filterwarnings("ignore", category=UserWarning, module=r"datajoint(\.|$)")

import datajoint as dj
import networkx as nx
import numpy as np
from dj2_read014 import configure  # registers the `graph` codec the preset's RUNBOOK asks 2.x code for

DOC_ID = uuid.UUID("0b0e5f3c-7a42-4c55-9d1f-2f8b36a0c001")


def _errno(exc: BaseException) -> dict:
    """The server's error behind a DataJoint exception (it wraps pymysql's)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if len(exc.args) >= 2 and isinstance(exc.args[0], int):
            return {"errno": exc.args[0], "message": str(exc.args[1])}
        exc = exc.__cause__ or exc.__context__
    return {"errno": 0, "message": "no server error"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schemas", required=True)
    parser.add_argument("--store-dir", required=True)
    parser.add_argument("--subject", type=int, required=True)
    args = parser.parse_args(argv)
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # DataJoint logs to stdout; keep stdout for the JSON line

    conn = configure(args.store_dir)
    common, ephys = args.schemas.split(",")
    work = tempfile.TemporaryDirectory()
    os.chdir(work.name)  # where DataJoint 2.3's fetch of an <attach> writes the file (not the caller's directory)
    for schema in (common, ephys):  # activated, so the cascading delete follows every foreign key
        dj.Schema(schema, connection=conn, create_schema=False, create_tables=False)

    def table(schema: str, name: str) -> dj.FreeTable:
        return dj.FreeTable(conn, f"`{schema}`.`{name}`")

    subject, session, tag = (table(common, n) for n in ("subject", "session", "session__tag"))
    experimenter, document = table(common, "experimenter"), table(common, "document")
    lab_note = table(common, "lab_note")
    insertion, block, trial, block_trial = (table(ephys, n) for n in ("probe_insertion", "block", "trial",
                                                                      "block_trial"))
    done: dict = {}

    def step(name: str, write) -> None:
        try:
            write()
            done[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported to the test, which expects some writes to fail
            done[name] = _errno(exc)

    def pipeline(sid: int) -> None:
        """A subject with everything below it that 2.x can write (a recording is one-way: not written here)."""
        key = {"subject_id": sid, "session_id": 1}
        with conn.transaction:
            subject.insert1({"subject_id": sid, "species": "Mus musculus", "subject_uuid": uuid.uuid5(uuid.NAMESPACE_OID,
                                                                                                      f"preset {sid}"),
                             "sex": "F", "date_of_birth": datetime.date(2025, 2, 28), "notes": "écrit par 2.x"})
            session.insert1({**key, "session_start": datetime.datetime(2025, 3, 1, 9, 30), "operator": "émile",
                             "session_notes": "Übung"})
            tag.insert([{**key, "tag": t} for t in ("ça", "2x")])
        graph = nx.Graph([("a", "b"), ("b", "ç")])
        insertion.insert1({**key, "insertion_number": 1, "probe_type": "tetrode", "depth": 1.5,
                           "channel_graph": graph})
        block.insert1({**key, "block_id": 1, "rewarded": False, "block_settings": {"odour": "é", "n": [1, 2]}})
        trial.insert1({**key, "trial_id": 1, "outcome": "hit"})
        block_trial.insert1({**key, "trial_id": 1, "block_id": 1, "correct": True})

    with tempfile.TemporaryDirectory() as tmp:
        attachment = Path(tmp) / "protocole.txt"
        attachment.write_bytes("protocole révisé\n".encode() + bytes(range(256)))
        step("document", lambda: document.insert1({"doc_id": DOC_ID, "title": "Protokoll für 2.x",
                                                   "content": str(attachment),
                                                   "meta": {"by": "2.x", "values": np.arange(5.0)}}))
    step("experimenter", lambda: experimenter.insert1({"experimenter": "émile", "full_name": "Émile Durkheim",
                                                       "email": None, "lab_name": "carandini"}))
    step("pipeline", lambda: pipeline(args.subject))
    step("pipeline_to_delete", lambda: pipeline(args.subject + 1))
    step("update1", lambda: (
        experimenter.update1({"experimenter": "émile", "full_name": "Émile Ä. Durkheim"}),
        subject.update1({"subject_id": args.subject, "weight": 23.75, "notes": "pesé en 2.x"}),
        block.update1({"subject_id": args.subject, "session_id": 1, "block_id": 1, "rewarded": True,
                       "block_settings": {"odour": "ü"}}),
        trial.update1({"subject_id": args.subject, "session_id": 1, "trial_id": 1, "outcome": "miss"}),
        document.update1({"doc_id": DOC_ID, "meta": [1, "zwei", 3.0]})))
    # an auto_increment key: rows inserted without one take their ids from v1's counter (0.14's writers insert there)
    step("lab_note", lambda: lab_note.insert([{"note": "notée en 2.x"}, {"note": "second 2.x note"}]))
    # insert's other forms: skip_duplicates (INSERT … ON DUPLICATE KEY UPDATE, a no-op update) and replace (REPLACE: a
    # delete and an insert where the key exists)
    step("skip_duplicates", lambda: tag.insert([{"subject_id": args.subject, "session_id": 1, "tag": t}
                                                for t in ("ça", "neu")], skip_duplicates=True))
    step("replace", lambda: document.insert1({**(document & {"doc_id": DOC_ID}).fetch1(), "title": "Ersetzt"},
                                             replace=True))
    # what v1 cannot hold: refused at the v2 write, naming the column (W5)
    step("emoji", lambda: experimenter.update1({"experimenter": "émile", "full_name": "Émile 🙂"}))
    step("emoji_key", lambda: experimenter.insert1({"experimenter": "🙂", "full_name": "smiley"}))
    step("int64_above_v1", lambda: subject.insert1({"subject_id": 5_000_000_000, "species": "Mus musculus",
                                                    "subject_uuid": uuid.uuid4(), "notes": "too big for v1"}))
    # a key 2.x's utf8mb4_general_ci finds equal to an existing one (v2 itself refuses it)
    step("same_key_by_collation", lambda: experimenter.insert1({"experimenter": "Emile", "full_name": "E"}))
    # a table that syncs one way: v2 refuses its writes, naming the table and the reason (W7)
    step("one_way_update", lambda: conn.query(f"UPDATE `{ephys}`.`_recording` SET duration = duration + 1 "
                                              "ORDER BY subject_id LIMIT 1"))
    step("one_way_delete", lambda: conn.query(f"DELETE FROM `{ephys}`.`_recording` ORDER BY subject_id LIMIT 1"))
    # DataJoint's cascading delete: block_trial, block, trial, insertion, tags, session, subject, from v2
    step("cascading_delete", lambda: (subject & {"subject_id": args.subject + 1}).delete())
    # ... and one that reaches tables syncing one way (subject 1's recordings and what was computed from them): their
    # refusal fails the whole delete, on both sides
    step("cascading_delete_over_one_way", lambda: (subject & {"subject_id": 1}).delete())
    for _ in range(3):
        # Subject 1's rows are the ones DataJoint 0.14's `more` writes meanwhile on v1 (its recordings, populate): the
        # delete, which now reaches subject 1's curations and clusterings (two-way) before the refusal of its
        # recordings, can lose a deadlock to it (1213, rolled back whole); as a user would, try again
        if not isinstance(done["cascading_delete_over_one_way"], dict) or \
                done["cascading_delete_over_one_way"]["errno"] != 1213:
            break
        step("cascading_delete_over_one_way", lambda: (subject & {"subject_id": 1}).delete())
    out.write(json.dumps(done) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
