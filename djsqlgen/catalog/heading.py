"""Heading metadata of live DataJoint schemas: the only code that reads information_schema.

``inspect_schemas`` reads every table of every requested schema in a fixed number of bulk
queries (whatever the number of tables) into frozen dataclasses that round-trip through JSON.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from djsqlgen.catalog.types import EXTERNAL_TABLE_PREFIX, DataJointType, split_comment
from djsqlgen.errors import HeadingError

if TYPE_CHECKING:  # only the type: reading a heading file needs no driver, and run/ sits above the catalog
    from djsqlgen.run.db import Database

HEADING_FORMAT = 1

# DataJoint's table-name prefixes (user_tables.py): the tier is written into the name.
TIER_LOOKUP, TIER_IMPORTED, TIER_COMPUTED, TIER_MANUAL, TIER_PART, TIER_HIDDEN = (
    "lookup", "imported", "computed", "manual", "part", "hidden",
)
_TIER_PREFIX = {"#": TIER_LOOKUP, "__": TIER_COMPUTED, "_": TIER_IMPORTED, "": TIER_MANUAL}


# ---------------------------------------------------------------------------------------------
# dataclasses
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Server:
    """What the generator must know about the server it writes for."""

    flavour: str  # "mysql" or "mariadb"
    version: str  # as VERSION() prints it
    sql_mode: str
    log_bin: bool
    binlog_format: str
    log_bin_trust_function_creators: bool

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", self.version)[:3])


@dataclass(frozen=True)
class Attribute:
    """One column. ``comment`` is the user's text; ``dj_type`` the parsed `:marker:` before it."""

    name: str
    sql_type: str  # exact COLUMN_TYPE, e.g. "int(10) unsigned", "enum('a','b')"
    nullable: bool
    default: str | None  # SQL text to put after DEFAULT (literals quoted), None when there is none
    auto_increment: bool
    comment: str
    dj_type: DataJointType | None
    in_key: bool
    charset: str | None = None
    collation: str | None = None
    generated: str | None = None  # expression of a generated column

    @property
    def hidden(self) -> bool:
        """DataJoint hides attributes whose names start with an underscore."""
        return self.name.startswith("_")

    @property
    def full_comment(self) -> str:
        """The column comment as stored: marker and user text, byte for byte."""
        return (f":{self.dj_type.marker}:" if self.dj_type else "") + self.comment


@dataclass(frozen=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]
    on_update: str
    on_delete: str

    @property
    def renamed(self) -> bool:
        """True when a column is named differently from the one it refers to (``.proj()`` in DataJoint)."""
        return self.columns != self.ref_columns


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool


@dataclass(frozen=True)
class Trigger:
    name: str
    timing: str  # BEFORE / AFTER
    event: str  # INSERT / UPDATE / DELETE


@dataclass(frozen=True)
class Check:
    name: str
    clause: str


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    tier: str
    class_name: str
    master: str | None  # the master's table name, for part tables
    comment: str
    estimated_rows: int
    engine: str
    charset: str | None
    collation: str | None
    attributes: tuple[Attribute, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    indexes: tuple[Index, ...] = ()
    checks: tuple[Check, ...] = ()
    triggers: tuple[Trigger, ...] = ()

    @property
    def full_name(self) -> str:
        return f"`{self.schema}`.`{self.name}`"

    def attribute(self, name: str) -> Attribute:
        for attr in self.attributes:
            if attr.name == name:
                return attr
        raise KeyError(f"{self.full_name} has no attribute {name!r}")

    @property
    def attribute_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)


@dataclass(frozen=True)
class Schema:
    name: str
    charset: str
    collation: str
    tables: tuple[Table, ...] = ()

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(f"schema {self.name!r} has no table {name!r}")

    @property
    def generation(self) -> str | None:
        """Which DataJoint wrote the schema (``0.14`` or ``2.x``), when its markers or tables say so."""
        names = {t.name for t in self.tables}
        if "~lineage" in names:
            return "2.x"
        if "~log" in names or any(n.startswith(EXTERNAL_TABLE_PREFIX) for n in names):
            return "0.14"
        seen = {a.dj_type.generation for t in self.tables for a in t.attributes if a.dj_type}
        seen.discard(None)
        return seen.pop() if len(seen) == 1 else None


@dataclass(frozen=True)
class Catalog:
    """Everything ``inspect`` learned: the server and the schemas asked for, in the order asked."""

    server: Server
    schemas: tuple[Schema, ...]
    format: int = HEADING_FORMAT
    tool_version: str = ""

    def schema(self, name: str) -> Schema:
        for schema in self.schemas:
            if schema.name == name:
                return schema
        raise KeyError(f"the heading has no schema {name!r}")

    def table(self, schema: str, name: str) -> Table:
        found = self._tables.get((schema, name))
        if found is None:
            return self.schema(schema).table(name)  # raises, naming what is missing
        return found

    @cached_property
    def _tables(self) -> dict[tuple[str, str], Table]:
        # built once (a catalog never changes): looked up by every operation, a scan made thousands of tables slow
        return {(t.schema, t.name): t for s in self.schemas for t in s.tables}

    def find_table(self, schema: str, name: str) -> Table | None:
        try:
            return self.table(schema, name)
        except KeyError:
            return None

    # -- JSON -------------------------------------------------------------------------------
    def to_json(self) -> str:
        """Stable JSON: keys in dataclass field order, two-space indent, trailing newline."""
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Catalog:
        data = json.loads(text)
        if data.get("format") != HEADING_FORMAT:
            raise HeadingError(
                f"heading file format {data.get('format')!r} is not {HEADING_FORMAT}; run `djsqlgen inspect` again"
            )
        return _catalog_from_dict(data)


def _catalog_from_dict(data: dict[str, Any]) -> Catalog:
    def attribute(d: dict[str, Any]) -> Attribute:
        dj = d.get("dj_type")
        return Attribute(**{**d, "dj_type": DataJointType(**dj) if dj else None})

    def table(d: dict[str, Any]) -> Table:
        return Table(
            **{
                **d,
                "attributes": tuple(attribute(a) for a in d["attributes"]),
                "primary_key": tuple(d["primary_key"]),
                "foreign_keys": tuple(
                    ForeignKey(**{**f, "columns": tuple(f["columns"]), "ref_columns": tuple(f["ref_columns"])})
                    for f in d["foreign_keys"]
                ),
                "indexes": tuple(Index(**{**i, "columns": tuple(i["columns"])}) for i in d["indexes"]),
                "checks": tuple(Check(**c) for c in d["checks"]),
                "triggers": tuple(Trigger(**t) for t in d["triggers"]),
            }
        )

    return Catalog(
        server=Server(**data["server"]),
        schemas=tuple(
            Schema(**{**s, "tables": tuple(table(t) for t in s["tables"])}) for s in data["schemas"]
        ),
        format=data["format"],
        tool_version=data.get("tool_version", ""),
    )


# ---------------------------------------------------------------------------------------------
# DataJoint naming
# ---------------------------------------------------------------------------------------------
def _camel(snake: str) -> str:
    return "".join(word.capitalize() for word in snake.split("_") if word)


def classify_table(name: str) -> tuple[str, str, str | None]:
    """Tier, class name and master table name from a DataJoint table name.

    ``#subject_type`` → lookup SubjectType; ``__spikes__unit`` → part Spikes.Unit of ``__spikes``;
    ``~log`` and ``~external_raw`` → hidden.
    """
    if name.startswith("~"):
        return TIER_HIDDEN, name, None
    prefix = next(p for p in ("#", "__", "_", "") if name.startswith(p))
    body = name[len(prefix):]
    if "__" in body:
        master_body, _, part = body.rpartition("__")
        return TIER_PART, f"{_camel(master_body)}.{_camel(part)}", prefix + master_body
    return _TIER_PREFIX[prefix], _camel(body), None


# ---------------------------------------------------------------------------------------------
# reading information_schema
# ---------------------------------------------------------------------------------------------
def read_server(db: Database) -> Server:
    row = db.query(
        "SELECT VERSION() AS version, @@version_comment AS comment, @@sql_mode AS sql_mode, "
        "@@log_bin AS log_bin, @@binlog_format AS binlog_format, "
        "@@log_bin_trust_function_creators AS trust"
    )[0]
    flavour = "mariadb" if "mariadb" in f"{row['version']} {row['comment']}".lower() else "mysql"
    return Server(
        flavour=flavour,
        version=row["version"],
        sql_mode=row["sql_mode"],
        log_bin=bool(int(row["log_bin"])),
        binlog_format=row["binlog_format"],
        log_bin_trust_function_creators=bool(int(row["trust"])),
    )


def _placeholders(values: list[str]) -> str:
    return ", ".join(["%s"] * len(values))


def _default_sql(row: dict[str, Any], flavour: str) -> str | None:
    """COLUMN_DEFAULT as SQL text, the same on both servers.

    MariaDB (10.2.7+) already reports an SQL expression ('text' quoted, NULL as the word NULL);
    MySQL reports the bare value, with DEFAULT_GENERATED in EXTRA for expressions.
    """
    value = row["COLUMN_DEFAULT"]
    if flavour == "mariadb":
        if value is None or (value == "NULL" and row["IS_NULLABLE"] == "YES"):
            return "NULL" if row["IS_NULLABLE"] == "YES" else None
        return value
    if value is None:
        return "NULL" if row["IS_NULLABLE"] == "YES" else None
    extra = (row["EXTRA"] or "").upper()
    if "DEFAULT_GENERATED" in extra or value.upper().startswith("CURRENT_TIMESTAMP"):
        return value if value.upper().startswith("CURRENT_TIMESTAMP") else f"({value})"
    if re.match(r"^-?\d+(\.\d+)?$", value) and not re.search(r"char|text|enum|set|date|time|binary", row["COLUMN_TYPE"]):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def inspect_schemas(db: Database, schema_names: list[str], tool_version: str = "") -> Catalog:
    """Read the headings of ``schema_names`` in eight queries, however many tables they hold.

    Raises HeadingError when a schema is missing (or invisible to this user) or holds no table.
    """
    if not schema_names:
        raise HeadingError("name at least one schema")
    server = read_server(db)
    marks = _placeholders(schema_names)

    schemata = {
        r["SCHEMA_NAME"]: r
        for r in db.query(
            "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
            f"FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ({marks})",
            schema_names,
        )
    }
    missing = [s for s in schema_names if s not in schemata]
    if missing:
        raise HeadingError(
            f"schema {missing[0]!r} does not exist on {db.settings.host}:{db.settings.port}, or user "
            f"{db.settings.user!r} has no privilege on it; check the name (SHOW DATABASES) or GRANT SELECT "
            f"ON `{missing[0]}`.* TO the user"
        )

    table_rows = db.query(
        "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, t.TABLE_COMMENT, t.TABLE_ROWS, t.ENGINE, t.TABLE_COLLATION, "
        "c.CHARACTER_SET_NAME "
        "FROM information_schema.TABLES AS t "
        "LEFT JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY AS c "
        "  ON c.COLLATION_NAME = t.TABLE_COLLATION "
        f"WHERE t.TABLE_SCHEMA IN ({marks}) AND t.TABLE_TYPE = 'BASE TABLE' "
        "ORDER BY t.TABLE_SCHEMA, t.TABLE_NAME",
        schema_names,
    )
    by_schema: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in table_rows:
        by_schema[row["TABLE_SCHEMA"]].append(row)
    empty = [s for s in schema_names if not by_schema[s]]
    if empty:
        raise HeadingError(
            f"schema {empty[0]!r} has no tables visible to user {db.settings.user!r}: nothing to migrate "
            f"(declare its tables first, or GRANT SELECT ON `{empty[0]}`.* if they exist)"
        )

    columns: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in db.query(
        "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE, "
        "COLUMN_DEFAULT, EXTRA, COLUMN_COMMENT, COLUMN_KEY, CHARACTER_SET_NAME, COLLATION_NAME, "
        "GENERATION_EXPRESSION "
        f"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN ({marks}) "
        "ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION",
        schema_names,
    ):
        columns[(row["TABLE_SCHEMA"], row["TABLE_NAME"])].append(row)

    index_parts: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in db.query(
        "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME "
        f"FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN ({marks}) "
        "ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        schema_names,
    ):
        index_parts[(row["TABLE_SCHEMA"], row["TABLE_NAME"])][row["INDEX_NAME"]].append(row)

    fk_parts: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in db.query(
        "SELECT k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.ORDINAL_POSITION, "
        "k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, "
        "r.UPDATE_RULE, r.DELETE_RULE "
        "FROM information_schema.KEY_COLUMN_USAGE AS k "
        "JOIN information_schema.REFERENTIAL_CONSTRAINTS AS r "
        "  ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
        "  AND r.TABLE_NAME = k.TABLE_NAME "
        f"WHERE k.TABLE_SCHEMA IN ({marks}) AND k.REFERENCED_TABLE_NAME IS NOT NULL "
        "ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
        schema_names,
    ):
        fk_parts[(row["TABLE_SCHEMA"], row["TABLE_NAME"])][row["CONSTRAINT_NAME"]].append(row)

    # CHECK constraints (MariaDB writes one per json column). Joined through TABLE_CONSTRAINTS
    # because MySQL's CHECK_CONSTRAINTS has no TABLE_NAME column.
    checks: dict[tuple[str, str], list[Check]] = defaultdict(list)
    for row in db.query(
        "SELECT tc.TABLE_SCHEMA, tc.TABLE_NAME, tc.CONSTRAINT_NAME, cc.CHECK_CLAUSE "
        "FROM information_schema.TABLE_CONSTRAINTS AS tc "
        "JOIN information_schema.CHECK_CONSTRAINTS AS cc "
        "  ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME "
        f"WHERE tc.TABLE_SCHEMA IN ({marks}) AND tc.CONSTRAINT_TYPE = 'CHECK' "
        + ("AND cc.TABLE_NAME = tc.TABLE_NAME " if server.flavour == "mariadb" else "")
        + "ORDER BY tc.TABLE_SCHEMA, tc.TABLE_NAME, tc.CONSTRAINT_NAME",
        schema_names,
    ):
        checks[(row["TABLE_SCHEMA"], row["TABLE_NAME"])].append(Check(row["CONSTRAINT_NAME"], row["CHECK_CLAUSE"]))

    triggers: dict[tuple[str, str], list[Trigger]] = defaultdict(list)
    for row in db.query(
        "SELECT EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE, TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION "
        f"FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA IN ({marks}) "
        "ORDER BY EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE, TRIGGER_NAME",
        schema_names,
    ):
        triggers[(row["EVENT_OBJECT_SCHEMA"], row["EVENT_OBJECT_TABLE"])].append(
            Trigger(row["TRIGGER_NAME"], row["ACTION_TIMING"], row["EVENT_MANIPULATION"])
        )

    schemas = []
    for schema_name in schema_names:
        tables = []
        for row in by_schema[schema_name]:
            key = (schema_name, row["TABLE_NAME"])
            tables.append(
                _build_table(
                    row, columns[key], index_parts[key], fk_parts[key], checks[key], triggers[key], server.flavour
                )
            )
        info = schemata[schema_name]
        schemas.append(
            Schema(
                name=schema_name,
                charset=info["DEFAULT_CHARACTER_SET_NAME"],
                collation=info["DEFAULT_COLLATION_NAME"],
                tables=tuple(tables),
            )
        )
    return Catalog(server=server, schemas=tuple(schemas), tool_version=tool_version)


def _build_table(
    row: dict[str, Any],
    column_rows: list[dict[str, Any]],
    index_rows: dict[str, list[dict[str, Any]]],
    fk_rows: dict[str, list[dict[str, Any]]],
    checks: list[Check],
    triggers: list[Trigger],
    flavour: str,
) -> Table:
    name = row["TABLE_NAME"]
    tier, class_name, master = classify_table(name)
    primary_key = tuple(r["COLUMN_NAME"] for r in index_rows.get("PRIMARY", []))
    attributes = []
    for col in column_rows:
        dj_type, comment = split_comment(col["COLUMN_COMMENT"])
        attributes.append(
            Attribute(
                name=col["COLUMN_NAME"],
                sql_type=col["COLUMN_TYPE"],
                nullable=col["IS_NULLABLE"] == "YES",
                default=_default_sql(col, flavour),
                auto_increment="auto_increment" in (col["EXTRA"] or "").lower(),
                comment=comment,
                dj_type=dj_type,
                in_key=col["COLUMN_NAME"] in primary_key,
                charset=col["CHARACTER_SET_NAME"],
                collation=col["COLLATION_NAME"],
                generated=col["GENERATION_EXPRESSION"] or None,
            )
        )
    indexes = tuple(
        Index(index_name, tuple(p["COLUMN_NAME"] for p in parts), not int(parts[0]["NON_UNIQUE"]))
        for index_name, parts in index_rows.items()
        if index_name != "PRIMARY"
    )
    foreign_keys = tuple(
        ForeignKey(
            name=fk_name,
            columns=tuple(p["COLUMN_NAME"] for p in parts),
            ref_schema=parts[0]["REFERENCED_TABLE_SCHEMA"],
            ref_table=parts[0]["REFERENCED_TABLE_NAME"],
            ref_columns=tuple(p["REFERENCED_COLUMN_NAME"] for p in parts),
            on_update=parts[0]["UPDATE_RULE"],
            on_delete=parts[0]["DELETE_RULE"],
        )
        for fk_name, parts in fk_rows.items()
    )
    return Table(
        schema=row["TABLE_SCHEMA"],
        name=name,
        tier=tier,
        class_name=class_name,
        master=master,
        comment=row["TABLE_COMMENT"] or "",
        estimated_rows=int(row["TABLE_ROWS"] or 0),
        engine=row["ENGINE"] or "",
        charset=row["CHARACTER_SET_NAME"],
        collation=row["TABLE_COLLATION"],
        attributes=tuple(attributes),
        primary_key=primary_key,
        foreign_keys=foreign_keys,
        indexes=indexes,
        checks=tuple(checks),
        triggers=tuple(triggers),
    )
