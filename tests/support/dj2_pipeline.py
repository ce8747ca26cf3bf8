"""A pipeline declared with DataJoint 2.3, for djsqlgen's tests (the "v2 side" of a migration).

Run it as a subprocess with the tool's own Python (DataJoint 2.3 is a dependency of djsqlgen):

    python dj2_pipeline.py build    --schemas PREFIX --store-dir DIR
    python dj2_pipeline.py describe --schemas PREFIX     # one JSON object on stdout
    python dj2_pipeline.py drop     --schemas PREFIX

The connection comes from DJ_HOST / DJ_USER / DJ_PASS / DJ_PORT. ``build`` declares and fills one
schema, ``{PREFIX}_dj2``, with what a 2.x pipeline looks like on the server: core types (int*,
float*, bool, uuid, json, bytes, ...; 2.3 has no unsigned core types, see
``datajoint.declare.CORE_TYPES``), native types passed through, the ``<blob>`` and ``<attach>``
codecs in-table, ``<blob@extstore>`` / ``<attach@extstore>`` / ``<filepath@extstore>`` in a file
store (on MariaDB the ``<blob@>``/``<attach@>`` table stays empty: see in_store_codecs_work), a
user codec (``<graph>``), Lookup contents, a part table, populate(), renamed and nullable
foreign keys and indexes. Data is deterministic apart from CURRENT_TIMESTAMP defaults; ``build``
is safe to re-run.

``describe`` prints DataJoint 2.3's own view of every table of the schema (hidden ``~lineage`` and
``~~jobs`` tables included) in the same shape as ``dj014_pipeline.py describe``; each attribute
also carries 2.3's ``original_type`` (the core type, e.g. "int32"), ``codec`` (e.g. "blob") and
``json``. The 0.14-only flags (is_attachment, is_filepath, is_external, adapter) are derived from
the codec and store so both descriptions can be read by the same code.
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import json
import os
import sys
import tempfile
import uuid
import warnings
from pathlib import Path

# 2.3 warns (UserWarning) about a missing datajoint.json and about MariaDB at import/connect time;
# both are expected here and would only clutter the test output.
warnings.filterwarnings("ignore", category=UserWarning, module=r"datajoint(\.|$)")

import datajoint as dj
import numpy as np

STORE = "extstore"
UUID_NS = uuid.UUID("0c3e6d1a-7b54-4d2e-8f0a-5a9e2b7c4d11")  # fixed: uuids reproducible from keys


def stable_uuid(*parts) -> uuid.UUID:
    return uuid.uuid5(UUID_NS, "/".join(str(p) for p in parts))


# --------------------------------------------------------------------------------------------
# A user codec: 2.x's replacement for 0.14's AttributeAdapter. Subclassing registers it as <graph>.
# The graph is kept as a plain edge list so the pipeline needs no networkx.
# --------------------------------------------------------------------------------------------


class EdgeListGraphCodec(dj.Codec):
    """An undirected graph given as a list of (u, v) edges, stored through <blob>."""

    name = "graph"

    def get_dtype(self, is_store: bool) -> str:
        return "<blob>"

    def encode(self, value, *, key=None, context=None, store_name=None):
        return [list(edge) for edge in value]

    def decode(self, stored, *, key=None, context=None):
        return [tuple(edge) for edge in stored]


# --------------------------------------------------------------------------------------------
# The schema
# --------------------------------------------------------------------------------------------

schema = dj.Schema()  # activated in build(), once the name is known


@schema
class Lab(dj.Lookup):
    definition = """
    lab_name : varchar(32)
    ---
    institution = "" : varchar(255)
    """
    contents = (("tolias", "BCM"), ("svoboda", "Janelia"))


@schema
class Experimenter(dj.Manual):
    definition = """
    experimenter : varchar(32)
    ---
    full_name : varchar(64)
    -> [nullable] Lab
    """


@schema
class Subject(dj.Manual):
    definition = """
    subject_id : int32
    ---
    subject_uuid : uuid
    sex = "U" : enum('M', 'F', 'U')
    date_of_birth = null : date
    weight = null : decimal(6,2)          # grams
    is_alive = 1 : bool
    notes = "" : varchar(255)
    profile = null : json
    entered = CURRENT_TIMESTAMP : datetime
    unique index (subject_uuid)
    index (sex, date_of_birth)
    """


@schema
class Session(dj.Manual):
    definition = """
    -> Subject
    session_id : int16
    ---
    session_start : datetime
    -> Experimenter.proj(operator='experimenter')
    -> [nullable] Lab.proj(host_lab='lab_name')     # renamed and nullable
    duration = null : float32             # s
    session_notes = "" : varchar(1024)
    """

    class Tag(dj.Part):
        definition = """
        -> master
        tag : varchar(32)
        """


@schema
class Document(dj.Manual):
    definition = """
    doc_id : uuid                         # uuid in the primary key
    ---
    title : varchar(128)
    content : <attach>                    # in-table attachment
    meta = null : <blob>
    raw_bytes = null : bytes
    """


@schema
class ProbeType(dj.Lookup):
    definition = """
    probe_type : varchar(32)
    ---
    channel_count : int16
    sampling_rate = 30000.0 : float64     # Hz
    legacy_code = null : int unsigned     # a native type, passed through
    """
    contents = (("neuropixels 1.0", 384, 30000.0, 7), ("tetrode", 4, 32000.0, None))


@schema
class Recording(dj.Manual):
    definition = """
    -> Session
    insertion_number : int8
    ---
    -> ProbeType
    raw_data : <blob>
    raw_file : <filepath@extstore>
    channel_graph = null : <graph>        # user codec
    recorded_at = CURRENT_TIMESTAMP : datetime
    """


@schema
class RecordingArchive(dj.Manual):
    # In-store (hash-addressed) codecs. Their column is `json` at the bottom of the codec chain
    # (<blob@> -> <hash> -> json); see build() for why rows may be missing on MariaDB.
    definition = """
    -> Recording
    ---
    archive : <blob@extstore>
    report : <attach@extstore>
    """


@schema
class Clustering(dj.Computed):
    definition = """
    -> Recording
    ---
    n_units : int32
    quality = null : decimal(4,3)
    method = "kilosort" : varchar(32)
    """

    class Unit(dj.Part):
        definition = """
        -> master
        unit_id : int16
        ---
        unit_uuid : uuid
        firing_rate : float32             # Hz
        waveform : <blob>
        spike_count : int64
        """

    def make(self, key):
        data = (Recording & key).fetch1("raw_data")
        n_units = 1 + key["insertion_number"]
        self.insert1(dict(key, n_units=n_units, quality=decimal.Decimal("0.875") if n_units > 1 else None))
        self.Unit.insert(
            dict(
                key,
                unit_id=u,
                unit_uuid=stable_uuid("unit", *key.values(), u),
                firing_rate=float(np.abs(data[u % data.shape[0]]).mean()),
                waveform=data[u % data.shape[0]],
                spike_count=int(data.shape[1]) * (u + 1),
            )
            for u in range(n_units)
        )


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def schema_name(prefix: str) -> str:
    return f"{prefix}_dj2"


def configure(store_dir: str | None = None) -> dj.Connection:
    """Point DataJoint at the server from DJ_* env vars; optionally configure the file store."""
    dj.config["database.host"] = os.environ.get("DJ_HOST", "127.0.0.1")
    dj.config["database.user"] = os.environ.get("DJ_USER", "root")
    dj.config["database.password"] = os.environ.get("DJ_PASS", "")
    dj.config["database.port"] = int(os.environ.get("DJ_PORT", "3306"))
    dj.config["safemode"] = False
    if store_dir is not None:
        location = Path(store_dir).resolve()
        location.mkdir(parents=True, exist_ok=True)
        # 2.x stores: hash-addressed objects (<blob@>, <attach@>) go under {location}/_hash;
        # <filepath@> values are paths relative to {location}, outside _hash/ and _schema/.
        dj.config.stores[STORE] = {"protocol": "file", "location": str(location)}
    return dj.conn(reset=True)


def insert_rows(table, rows) -> None:
    """Insert row by row, so rows may leave out different defaulted columns; re-runs are no-ops."""
    for row in rows:
        table.insert1(row, skip_duplicates=True)


def in_store_codecs_work(table, attribute: str) -> bool:
    """Whether DataJoint 2.3 can insert <blob@store> values into `table` on this server.

    MariaDB has no native json type (json is longtext + CHECK json_valid). 2.3 recovers the json
    flag from a `:json:` comment, but a `<blob@store>` column's comment is `:<blob@store>:` and its
    codec chain ends in `<hash>` -> json, so the flag stays False and insert hands pymysql a dict
    ("dict can not be used as parameter"). MySQL 8 reports `json` and works.
    """
    attr = table.heading.attributes[attribute]
    return attr.json or attr.sql_type.lower() == "json"


def build(prefix: str, store_dir: str) -> None:
    configure(store_dir)
    schema.activate(schema_name(prefix))
    store = Path(dj.config.stores[STORE]["location"])

    insert_rows(
        Experimenter,
        [
            {"experimenter": "alice", "full_name": "Alice Able", "lab_name": "tolias"},
            {"experimenter": "bob", "full_name": "Bob Baker", "lab_name": None},  # nullable FK left NULL
        ],
    )
    insert_rows(
        Subject,
        [
            {
                "subject_id": 1,
                "subject_uuid": stable_uuid("subject", 1),
                "sex": "F",
                "date_of_birth": "2024-01-15",
                "weight": decimal.Decimal("21.50"),
                "notes": "first cohort",
                "profile": {"strain": "C57BL/6", "tags": [1, 2]},
            },
            {"subject_id": 2, "subject_uuid": stable_uuid("subject", 2), "sex": "M", "is_alive": False},
            {"subject_id": 3, "subject_uuid": stable_uuid("subject", 3)},
        ],
    )
    insert_rows(
        Session,
        [
            {
                "subject_id": 1,
                "session_id": 1,
                "session_start": datetime.datetime(2024, 3, 1, 9, 30),
                "operator": "alice",
                "host_lab": "svoboda",
                "duration": 3600.5,
            },
            {
                "subject_id": 1,
                "session_id": 2,
                "session_start": datetime.datetime(2024, 3, 2, 10, 0),
                "operator": "bob",
            },
            {
                "subject_id": 2,
                "session_id": 1,
                "session_start": datetime.datetime(2024, 3, 5, 14, 15),
                "operator": "alice",
                "session_notes": "short",
            },
        ],
    )
    insert_rows(
        Session.Tag,
        [
            {"subject_id": 1, "session_id": 1, "tag": "baseline"},
            {"subject_id": 1, "session_id": 2, "tag": "drug"},
        ],
    )
    with tempfile.TemporaryDirectory() as tmp:
        docs = []
        for i, title in enumerate(["protocol", "surgery notes"]):
            path = Path(tmp) / f"doc{i}.txt"
            path.write_text(f"{title}\n" * (i + 1))
            docs.append(
                {
                    "doc_id": stable_uuid("doc", i),
                    "title": title,
                    "content": str(path),
                    "meta": {"version": i + 1} if i else None,
                    "raw_bytes": b"\x00\x01raw" if i else None,
                }
            )
        insert_rows(Document, docs)

        recordings, archives = [], []
        for subject_id, session_id, insertion_number, probe_type in [
            (1, 1, 0, "neuropixels 1.0"),
            (1, 1, 1, "tetrode"),
            (2, 1, 0, "neuropixels 1.0"),
        ]:
            key = {"subject_id": subject_id, "session_id": session_id, "insertion_number": insertion_number}
            seed = subject_id * 100 + session_id * 10 + insertion_number
            data = np.random.default_rng(seed).normal(size=(4, 50)).astype(np.float32)
            name = f"sub{subject_id}_ses{session_id}_ins{insertion_number}"
            raw_file = store / "raw" / f"{name}.bin"  # <filepath@>: the file must already be in the store
            raw_file.parent.mkdir(parents=True, exist_ok=True)
            raw_file.write_bytes(data.tobytes())
            recordings.append(
                dict(
                    key,
                    probe_type=probe_type,
                    raw_data=data,
                    raw_file=str(raw_file.relative_to(store)),
                    channel_graph=[(0, 1), (1, 2)] if insertion_number == 0 else None,
                )
            )
            report = Path(tmp) / f"{name}_report.txt"
            report.write_text(f"recording report for {name}\n")
            archives.append(dict(key, archive=data * 2, report=str(report)))
        insert_rows(Recording, recordings)
        if in_store_codecs_work(RecordingArchive, "archive"):
            insert_rows(RecordingArchive, archives)
        else:
            print(
                "dj2_pipeline: MariaDB reports json as longtext and DataJoint 2.3 then does not "
                "JSON-encode <blob@>/<attach@> values; RecordingArchive is left empty",
                file=sys.stderr,
            )
    Clustering.populate(reserve_jobs=True)  # creates the ~~clustering job table


def tier_of(table_name: str) -> str:
    """DataJoint's tier, from the naming convention of the MySQL table name."""
    if table_name.startswith("~"):
        if table_name.startswith("~~"):
            return "jobs"  # 2.x: one ~~<table> job table per auto-populated table
        if table_name.startswith("~external_"):
            return "external"
        return {"~log": "log", "~jobs": "jobs"}.get(table_name, "other")  # ~lineage -> other
    if table_name.startswith("__"):
        tier, rest = "computed", table_name[2:]
    elif table_name.startswith("_"):
        tier, rest = "imported", table_name[1:]
    elif table_name.startswith("#"):
        tier, rest = "lookup", table_name[1:]
    else:
        tier, rest = "manual", table_name
    return "part" if "__" in rest else tier


def jsonable(value):
    """Convert what DataJoint puts in a heading into plain JSON values."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (decimal.Decimal, uuid.UUID, datetime.date, datetime.datetime, datetime.time)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return str(value)


def describe_attribute(attr) -> dict:
    codec = getattr(attr.codec, "name", None) if attr.codec is not None else None
    return {
        "name": attr.name,
        "type": attr.type,
        "sql_type": attr.sql_type,
        "original_type": attr.original_type,
        "codec": codec,
        "in_key": bool(attr.in_key),
        "nullable": bool(attr.nullable),
        "default": jsonable(attr.default),
        "comment": attr.comment,
        "autoincrement": bool(attr.autoincrement),
        "uuid": bool(attr.uuid),
        "json": bool(attr.json),
        "is_blob": bool(attr.is_blob),
        # derived, for parity with the 0.14 description
        "is_attachment": codec == "attach",
        "is_filepath": codec == "filepath",
        "is_external": attr.store is not None,
        "store": attr.store,
        "adapter": None,
        "lineage": attr.lineage,
    }


def describe_parents(conn, full_name: str) -> dict:
    """Parents from DataJoint 2.3's graph (a multigraph: one edge per foreign key)."""
    parents = {}
    for node, props in conn.dependencies.parents(full_name):
        if node in parents:  # cannot happen in this pipeline; the format keys by parent
            raise RuntimeError(f"{full_name} references {node} twice; describe's format cannot show that")
        parents[node] = {
            "attr_map": dict(props["attr_map"]),
            "aliased": bool(props["aliased"]),
            "primary": bool(props["primary"]),
        }
    return parents


def describe(prefix: str) -> dict:
    conn = configure()
    db = schema_name(prefix)
    dj.Schema(db, connection=conn, create_schema=False, create_tables=False)  # registers it for the graph
    conn.dependencies.load()
    ordered = list(conn.dependencies.topo_sort())
    all_tables = [
        f"`{db}`.`{name}`"
        for (name,) in conn.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name",
            args=(db,),
        )
    ]
    names = [t for t in ordered if t in all_tables] + sorted(t for t in all_tables if t not in ordered)
    tables = {}
    for full_name in names:
        table_name = full_name.split(".")[1].strip("`")
        heading = dj.FreeTable(conn, full_name).heading  # codecs are global in 2.x: no context needed
        tables[full_name] = {
            "tier": tier_of(table_name),
            "primary_key": list(heading.primary_key),
            "attributes": [describe_attribute(a) for a in heading.attributes.values()],
            "parents": describe_parents(conn, full_name) if full_name in conn.dependencies else {},
            "indexes": [
                {"columns": list(columns), "unique": bool(info["unique"]), "nullable": bool(info["nullable"])}
                for columns, info in heading.indexes.items()
            ],
        }
    return {"tables": tables}


def drop(prefix: str) -> None:
    conn = configure()
    db = schema_name(prefix)
    if conn.query("SHOW DATABASES LIKE %s", args=(db,)).fetchone():
        dj.Schema(db, connection=conn, create_schema=False, create_tables=False).drop(prompt=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "describe", "drop"])
    parser.add_argument("--schemas", required=True, metavar="PREFIX", help="schema name prefix")
    parser.add_argument("--store-dir", help="directory of the file store (build only)")
    args = parser.parse_args(argv)
    if args.command == "build" and not args.store_dir:
        parser.error("build needs --store-dir")

    # stdout carries describe's JSON and nothing else. DataJoint's log handler holds on to
    # sys.stdout (2.3 logs "connected to ..." there), so point file descriptor 1 itself at
    # stderr for the whole run and write the JSON to a saved copy of the real stdout.
    sys.stdout.flush()
    json_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    with json_out:
        if args.command == "build":
            build(args.schemas, args.store_dir)
        elif args.command == "describe":
            json.dump(describe(args.schemas), json_out, indent=1)
            json_out.write("\n")
        else:
            drop(args.schemas)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
