"""A "v1" lab pipeline declared with DataJoint 0.14, for djsqlgen's tests.

Runs ONLY under a Python with ``datajoint==0.14.6`` (see ``dj014_venv.py``); the tool's own
environment has DataJoint 2.x and never imports this file.

    python dj014_pipeline.py build    --schemas PREFIX --store-dir DIR
    python dj014_pipeline.py describe --schemas PREFIX     # one JSON object on stdout
    python dj014_pipeline.py drop     --schemas PREFIX

The connection comes from DJ_HOST / DJ_USER / DJ_PASS / DJ_PORT. ``build`` declares and fills
two schemas, ``{PREFIX}_common`` and ``{PREFIX}_ephys``, exercising the 0.14 features a migration
has to understand: every table tier, part tables, Lookup contents, populate(), renamed / nullable
/ cross-schema foreign keys, unique and secondary indexes, uuid (also in a primary key), an
AttributeAdapter type, in-table attach, and blob / attach / filepath attributes in an external
file store (``~external_extstore``). The data is deterministic (fixed uuids, values and files)
apart from the CURRENT_TIMESTAMP defaults. ``build`` is safe to re-run (skip_duplicates).

``describe`` prints DataJoint 0.14's own view of every table of both schemas, hidden ``~`` tables
included, so tests can compare djsqlgen's reading of information_schema against it:

    {"tables": {"`db`.`table`": {"tier": ..., "primary_key": [...], "attributes": [...],
                                 "parents": {"`db`.`parent`": {"attr_map": {...}, "aliased": bool,
                                                               "primary": bool}},
                                 "indexes": [{"columns": [...], "unique": bool, "nullable": bool}]}}}

``parents`` is DataJoint's dependency graph, which leaves out foreign keys to ``~`` tables (the
references from external attributes to ``~external_extstore``).
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
from pathlib import Path

# Adapted types and filepath attributes are opt-in "experimental" features in 0.14; the switches
# are read when a table is declared or its heading is loaded, so set them before anything else.
os.environ.setdefault("DJ_SUPPORT_ADAPTED_TYPES", "TRUE")
os.environ.setdefault("DJ_SUPPORT_FILEPATH_MANAGEMENT", "TRUE")

import datajoint as dj
import networkx as nx
import numpy as np

STORE = "extstore"
# Fixed namespace so every uuid in the pipeline is reproducible from its key.
UUID_NS = uuid.UUID("6f1d8a52-3c1e-4f7b-9a58-0d0b7a1d2c01")


def stable_uuid(*parts) -> uuid.UUID:
    return uuid.uuid5(UUID_NS, "/".join(str(p) for p in parts))


# --------------------------------------------------------------------------------------------
# Adapted type: a networkx graph stored as a longblob of its edge list (declared as <graph>).
# --------------------------------------------------------------------------------------------


class GraphAdapter(dj.AttributeAdapter):
    attribute_type = "longblob"

    def put(self, obj):
        if obj is None:  # 0.14 hands NULLs of nullable adapted attributes to put() too
            return None
        return [list(edge) for edge in obj.edges]

    def get(self, value):
        if value is None:
            return None
        graph = nx.Graph()
        graph.add_edges_from(tuple(edge) for edge in value)
        return graph


graph = GraphAdapter()  # the name `graph` is what `<graph>` resolves to in the schema context
ADAPTERS = {"graph": graph}

# --------------------------------------------------------------------------------------------
# Schema "common": the lab's shared tables.
# --------------------------------------------------------------------------------------------

common = dj.Schema()  # activated in build(), once the schema name is known


@common
class Lab(dj.Lookup):
    definition = """
    lab_name : varchar(32)
    ---
    institution = "" : varchar(255)
    """
    contents = (("tolias", "BCM"), ("svoboda", "Janelia"), ("carandini", "UCL"))


@common
class Species(dj.Lookup):
    definition = """
    species : varchar(32)
    ---
    common_name = null : varchar(64)
    """
    contents = (("Mus musculus", "mouse"), ("Rattus norvegicus", "rat"))


@common
class Experimenter(dj.Manual):
    definition = """
    experimenter : varchar(32)
    ---
    full_name : varchar(64)
    email = null : varchar(128)
    -> [nullable] Lab
    """


@common
class Subject(dj.Manual):
    definition = """
    subject_id : int unsigned
    ---
    -> Species
    subject_uuid : uuid
    sex = "U" : enum('M', 'F', 'U')
    date_of_birth = null : date
    weight = null : decimal(6,2)          # grams
    notes = "" : varchar(255)
    entered = CURRENT_TIMESTAMP : datetime
    unique index (subject_uuid)
    index (sex, date_of_birth)
    """


@common
class Session(dj.Manual):
    definition = """
    -> Subject
    session_id : smallint unsigned
    ---
    session_start : datetime
    -> Experimenter.proj(operator='experimenter')
    session_notes = "" : varchar(1024)
    """

    class Tag(dj.Part):
        definition = """
        -> master
        tag : varchar(32)
        """


@common
class Document(dj.Manual):
    definition = """
    doc_id : uuid                         # uuid in the primary key
    ---
    title : varchar(128)
    content : attach                      # in-table attachment
    meta = null : longblob
    """


@common
class LabNote(dj.Manual):
    definition = """
    note_id : int auto_increment
    ---
    note : varchar(1000)
    note_time = CURRENT_TIMESTAMP : timestamp
    """


# --------------------------------------------------------------------------------------------
# Schema "ephys": depends on common across schemas.
# --------------------------------------------------------------------------------------------

ephys = dj.Schema()


@ephys
class ProbeType(dj.Lookup):
    definition = """
    probe_type : varchar(32)
    ---
    channel_count : smallint unsigned
    sampling_rate = 30000.0 : double     # Hz
    """
    contents = (("neuropixels 1.0", 384, 30000.0), ("tetrode", 4, 32000.0))


@ephys
class ProbeInsertion(dj.Manual):
    definition = """
    -> Session
    insertion_number : tinyint unsigned
    ---
    -> ProbeType
    depth = null : float                  # um
    channel_graph = null : <graph>        # adapted type
    """


@ephys
class Block(dj.Manual):
    definition = """
    -> Session
    block_id : tinyint unsigned
    ---
    rewarded = 1 : bool                   # bool: 0.14 declares tinyint(1)
    block_settings = null : json          # json: on MariaDB a longtext with a json_valid check
    """


@ephys
class Trial(dj.Manual):
    definition = """
    -> Session
    trial_id : smallint unsigned
    ---
    outcome = "miss" : enum('hit', 'miss')
    """


@ephys
class BlockTrial(dj.Manual):
    definition = """
    # a key through two foreign keys, Trial's first: (subject_id, session_id, trial_id, block_id)
    -> Trial
    -> Block
    ---
    correct = null : bool
    """


@ephys
class Recording(dj.Imported):
    definition = """
    -> ProbeInsertion
    ---
    duration : float                      # s
    raw_data : blob@extstore
    raw_file : filepath@extstore
    report : attach@extstore
    recorded_at = CURRENT_TIMESTAMP : datetime
    """

    @property
    def key_source(self):
        # 0.14's default key source loads the parent as a FreeTable, whose heading has no
        # context to resolve <graph> and fails; the parent's own class has one.
        return ProbeInsertion.proj()

    def make(self, key):
        seed = key["subject_id"] * 100 + key["session_id"] * 10 + key["insertion_number"]
        data = np.random.default_rng(seed).normal(size=(4, 50)).astype(np.float32)
        stage = Path(dj.config["stores"][STORE]["stage"])
        name = "sub{subject_id}_ses{session_id}_ins{insertion_number}".format(**key)
        raw_file = stage / "raw" / f"{name}.bin"
        raw_file.parent.mkdir(parents=True, exist_ok=True)
        raw_file.write_bytes(data.tobytes())
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / f"{name}_report.txt"
            report.write_text(f"recording report for {name}\n")
            self.insert1(
                dict(
                    key,
                    duration=float(data.shape[1]) / 30.0,
                    raw_data=data,
                    raw_file=str(raw_file),
                    report=str(report),
                )
            )


@ephys
class Clustering(dj.Computed):
    definition = """
    -> Recording
    ---
    n_units : int
    quality = null : decimal(4,3)
    method = "kilosort" : varchar(32)
    """

    class Unit(dj.Part):
        definition = """
        -> master
        unit_id : smallint unsigned
        ---
        unit_uuid : uuid
        firing_rate : float               # Hz
        waveform : longblob
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
                firing_rate=float(abs(data[u % data.shape[0]]).mean()),
                waveform=data[u % data.shape[0]],
            )
            for u in range(n_units)
        )


@ephys
class UnitStats(dj.Computed):
    definition = """
    -> Clustering.Unit
    ---
    mean_amplitude : double
    spike_count = 0 : int unsigned
    """

    def make(self, key):
        waveform = (Clustering.Unit & key).fetch1("waveform")
        self.insert1(dict(key, mean_amplitude=float(np.abs(waveform).mean()), spike_count=int(waveform.size)))


@ephys
class Curation(dj.Manual):
    definition = """
    -> Clustering
    curation_id : uuid
    ---
    -> Experimenter.proj(curator='experimenter')    # renamed, cross-schema
    curation_time : datetime
    verdict : enum('good', 'mua', 'noise')
    index (verdict)
    """


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def schema_names(prefix: str) -> list[str]:
    """Both schemas, in dependency order (common before ephys)."""
    return [f"{prefix}_common", f"{prefix}_ephys"]


def configure(store_dir: str | None = None) -> dj.Connection:
    """Point DataJoint at the server from DJ_* env vars; optionally configure the file store."""
    dj.config["database.host"] = os.environ.get("DJ_HOST", "127.0.0.1")
    dj.config["database.user"] = os.environ.get("DJ_USER", "root")
    dj.config["database.password"] = os.environ.get("DJ_PASS", "")
    dj.config["database.port"] = int(os.environ.get("DJ_PORT", "3306"))
    # 0.14 asks for TLS by default, and its pymysql refuses a server without it (a plain local
    # MariaDB); the test servers speak plain TCP unless DJ_USE_TLS says otherwise.
    dj.config["database.use_tls"] = os.environ.get("DJ_USE_TLS", "false").lower() in ("1", "true", "yes")
    dj.config["safemode"] = False
    dj.config["enable_python_native_blobs"] = True
    dj.config["display.show_tuple_count"] = False
    if store_dir is not None:
        location = str(Path(store_dir).resolve())
        Path(location).mkdir(parents=True, exist_ok=True)
        # filepath@ needs `stage`: inserted paths must lie under it; blobs and attachments go
        # to {location}/{schema}/...
        dj.config["stores"] = {STORE: {"protocol": "file", "location": location, "stage": location}}
    return dj.conn(reset=True)


def insert_rows(table, rows) -> None:
    """Insert row by row, so rows may leave out different defaulted columns; re-runs are no-ops."""
    for row in rows:
        table.insert1(row, skip_duplicates=True)


def build(prefix: str, store_dir: str, latin1: bool = False) -> None:
    conn = configure(store_dir)
    common_db, ephys_db = schema_names(prefix)
    if latin1:  # as most schemas of a lab server are: 0.14 declares its tables in the schema's character set
        for db in (common_db, ephys_db):  # both: a foreign key cannot join two character sets
            conn.query(f"CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET latin1 COLLATE latin1_swedish_ci")
    common.activate(common_db)
    ephys.activate(ephys_db)

    insert_rows(
        Experimenter,
        [
            {
                "experimenter": "alice",
                "full_name": "Alice Able",
                "email": "alice@example.org",
                "lab_name": "tolias",
            },
            {
                "experimenter": "bob",
                "full_name": "Bob Baker",
                "email": None,
                "lab_name": None,  # nullable FK left NULL
            },
            {"experimenter": "carol", "full_name": "Carol Chen", "email": None, "lab_name": "svoboda"},
        ]
        + ([{"experimenter": "dörte", "full_name": "Dörte Ørsted-Çelik", "email": "dö@example.org",
             "lab_name": "carandini"}] if latin1 else []),
    )
    insert_rows(
        Subject,
        [
            {
                "subject_id": 1,
                "species": "Mus musculus",
                "subject_uuid": stable_uuid("subject", 1),
                "sex": "F",
                "date_of_birth": "2024-01-15",
                "weight": decimal.Decimal("21.50"),
                "notes": "first cohort",
            },
            {
                "subject_id": 2,
                "species": "Mus musculus",
                "subject_uuid": stable_uuid("subject", 2),
                "sex": "M",
                "date_of_birth": None,
                "weight": None,
            },
            {"subject_id": 3, "species": "Rattus norvegicus", "subject_uuid": stable_uuid("subject", 3)},
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
            },
            {
                "subject_id": 1,
                "session_id": 2,
                "session_start": datetime.datetime(2024, 3, 2, 10, 0),
                "operator": "bob",
                "session_notes": "re-implant",
            },
            {
                "subject_id": 2,
                "session_id": 1,
                "session_start": datetime.datetime(2024, 3, 5, 14, 15),
                "operator": "carol",
            },
        ],
    )
    insert_rows(
        Session.Tag,
        [
            {"subject_id": 1, "session_id": 1, "tag": "baseline"},
            {"subject_id": 1, "session_id": 2, "tag": "drug"},
            {"subject_id": 1, "session_id": 2, "tag": "rerun"},
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
                }
            )
        insert_rows(Document, docs)
    if not LabNote():  # auto_increment key: insert once only
        LabNote.insert([{"note": "freezer B defrosted"}, {"note": "new rig online"}])

    insert_rows(
        ProbeInsertion,
        [
            {
                "subject_id": 1,
                "session_id": 1,
                "insertion_number": 0,
                "probe_type": "neuropixels 1.0",
                "depth": 1200.5,
                "channel_graph": nx.path_graph(4),
            },
            {
                "subject_id": 1,
                "session_id": 1,
                "insertion_number": 1,
                "probe_type": "tetrode",
                "depth": None,
                "channel_graph": None,
            },
            {
                "subject_id": 2,
                "session_id": 1,
                "insertion_number": 0,
                "probe_type": "neuropixels 1.0",
                "depth": 800.0,
                "channel_graph": nx.cycle_graph(3),
            },
        ],
    )
    insert_rows(Block, [{"subject_id": 1, "session_id": 1, "block_id": 1, "rewarded": True,
                         # 0.14 on MariaDB sees a longtext: it takes the JSON text, not a dict
                         "block_settings": json.dumps({"contrast": [0.25, 1.0], "label": "première", "go": True})},
                        {"subject_id": 1, "session_id": 1, "block_id": 2, "rewarded": False},
                        {"subject_id": 1, "session_id": 2, "block_id": 1}])
    insert_rows(Trial, [{"subject_id": 1, "session_id": 1, "trial_id": t, "outcome": o}
                        for t, o in ((1, "hit"), (2, "miss"), (3, "hit"))] + [
                       {"subject_id": 1, "session_id": 2, "trial_id": 1}])
    insert_rows(BlockTrial, [{"subject_id": 1, "session_id": 1, "trial_id": 1, "block_id": 2, "correct": True},
                             {"subject_id": 1, "session_id": 1, "trial_id": 2, "block_id": 1, "correct": False},
                             {"subject_id": 1, "session_id": 1, "trial_id": 3, "block_id": 1},
                             {"subject_id": 1, "session_id": 2, "trial_id": 1, "block_id": 1, "correct": True}])
    Recording.populate()
    Clustering.populate(reserve_jobs=True)  # reserve_jobs creates the schema's ~jobs table
    UnitStats.populate()
    insert_rows(
        Curation,
        [
            {
                "subject_id": 1,
                "session_id": 1,
                "insertion_number": 0,
                "curation_id": stable_uuid("curation", 1),
                "curator": "alice",
                "curation_time": datetime.datetime(2024, 3, 10, 12, 0),
                "verdict": "good",
            },
            {
                "subject_id": 2,
                "session_id": 1,
                "insertion_number": 0,
                "curation_id": stable_uuid("curation", 2),
                "curator": "carol",
                "curation_time": datetime.datetime(2024, 3, 11, 8, 45),
                "verdict": "mua",
            },
        ],
    )


def more(prefix: str, store_dir: str, first: int) -> None:
    """What 0.14 users write while a migration runs, external values included: new probe insertions (an
    adapted graph each), their recordings (blob@, filepath@ and attach@ into the store, whose
    ~external_extstore rows 0.14 writes before the row), clusterings and stats, a document with an
    in-table attachment, an update1 of a recording's neighbour row, and a cascading delete."""
    configure(store_dir)
    common_db, ephys_db = schema_names(prefix)
    common.activate(common_db, create_tables=False)
    ephys.activate(ephys_db, create_tables=False)
    for number in (first, first + 1):
        ProbeInsertion.insert1({"subject_id": 1, "session_id": 2, "insertion_number": number,
                                "probe_type": "tetrode", "depth": 10.0 * number, "channel_graph": nx.star_graph(number % 5 + 1)},
                               skip_duplicates=True)
    Recording.populate()
    Clustering.populate()
    UnitStats.populate()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"notes{first}.txt"
        path.write_text(f"notes written during the migration, batch {first}: café\n")
        Document.insert1({"doc_id": stable_uuid("doc", "more", first), "title": f"batch {first}", "content": str(path),
                          "meta": {"batch": first}}, skip_duplicates=True)
    Subject.update1({"subject_id": 1, "notes": f"touched by batch {first}"})
    (ProbeInsertion & {"subject_id": 1, "session_id": 2, "insertion_number": first + 1}).delete()


def tier_of(table_name: str) -> str:
    """DataJoint's tier, from the naming convention of the MySQL table name."""
    if table_name.startswith("~"):
        if table_name.startswith("~external_"):
            return "external"
        return {"~log": "log", "~jobs": "jobs"}.get(table_name, "other")
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


def adapter_name(adapter) -> str | None:
    if adapter is None:
        return None
    return next((name for name, obj in ADAPTERS.items() if obj is adapter), type(adapter).__name__)


def describe_attribute(attr) -> dict:
    return {
        "name": attr.name,
        "type": attr.type,
        "sql_type": attr.sql_type,
        "in_key": bool(attr.in_key),
        "nullable": bool(attr.nullable),
        "default": jsonable(attr.default),
        "comment": attr.comment,
        "autoincrement": bool(attr.autoincrement),
        "uuid": bool(attr.uuid),
        "is_blob": bool(attr.is_blob),
        "is_attachment": bool(attr.is_attachment),
        "is_filepath": bool(attr.is_filepath),
        "is_external": bool(attr.is_external),
        "store": attr.store,
        "adapter": adapter_name(attr.adapter),
    }


def describe_parents(conn: dj.Connection, full_name: str) -> dict:
    """Parents from DataJoint's graph; renamed references go through numbered alias nodes."""
    graph_ = conn.dependencies
    parents = {}
    for node, props in graph_.parents(full_name).items():
        if node.isdigit():  # alias node '1', '2', ...: its single parent is the real table
            (node,) = graph_.parents(node)
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
    databases = schema_names(prefix)
    for db in databases:  # registering the schemas is what makes the dependency graph see them
        dj.Schema(db, connection=conn, create_schema=False, create_tables=False)
    conn.dependencies.load()
    # every table, hidden ~ ones included: DataJoint's topological order, then the rest by name
    ordered = list(conn.dependencies.topo_sort())
    all_tables = [
        f"`{db}`.`{name}`"
        for db, name in conn.query(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN %s "
            "ORDER BY table_schema, table_name",
            args=(tuple(databases),),
        )
    ]
    names = [t for t in ordered if t in all_tables] + sorted(t for t in all_tables if t not in ordered)
    tables = {}
    for full_name in names:
        db, table_name = (part.strip("`") for part in full_name.split("."))
        heading = dj.heading.Heading(
            table_info={"conn": conn, "database": db, "table_name": table_name, "context": dict(ADAPTERS)}
        )
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
    for db in reversed(schema_names(prefix)):  # ephys first: it references common
        if conn.query("SHOW DATABASES LIKE %s", args=(db,)).fetchone():
            dj.Schema(db, connection=conn, create_schema=False, create_tables=False).drop(force=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "more", "describe", "drop"])
    parser.add_argument("--schemas", required=True, metavar="PREFIX", help="schema name prefix")
    parser.add_argument("--store-dir", help="directory of the external file store (build only)")
    parser.add_argument("--first", type=int, default=10, help="more: the first new insertion number")
    parser.add_argument("--latin1", action="store_true",
                        help="build: make both schemas latin1 and give them non-ASCII text (build only)")
    args = parser.parse_args(argv)
    if args.command in ("build", "more") and not args.store_dir:
        parser.error(f"{args.command} needs --store-dir")

    # stdout carries describe's JSON and nothing else. DataJoint's log handler holds on to
    # sys.stdout (2.3 logs "connected to ..." there), so point file descriptor 1 itself at
    # stderr for the whole run and write the JSON to a saved copy of the real stdout.
    sys.stdout.flush()
    json_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    with json_out:
        if args.command == "build":
            build(args.schemas, args.store_dir, args.latin1)
        elif args.command == "more":
            more(args.schemas, args.store_dir, args.first)
        elif args.command == "describe":
            json.dump(describe(args.schemas), json_out, indent=1)
            json_out.write("\n")
        else:
            drop(args.schemas)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
