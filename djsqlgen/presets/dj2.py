"""Preset ``dj014-to-dj2``: v2 declared exactly as DataJoint 2.x declares the same definition.

Each v1 column written by DataJoint 0.14 becomes the SQL type and ``:marker:`` comment 2.x gives the
corresponding 2.x type (``int`` → ``int32``, a 0.14 blob → ``<blob>``, ``blob@store`` → ``<blob@store>``
JSON, ...), with its default, nullability and user comment; text moves to the plan's character set;
DataJoint 0.14's hidden tables stay in v1. The core type names and the SQL they declare come from the
installed DataJoint 2.x (``datajoint.declare.CORE_TYPES``), so a release that changes them changes this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from djsqlgen.catalog.heading import Attribute, Table
from djsqlgen.catalog.sqltypes import parse_sql_type
from djsqlgen.catalog.types import (
    EXTERNAL_TABLE_PREFIX,
    KIND_ANGLE,
    KIND_LEGACY,
    builtin_codec_names,
    core_type_sql,
    split_comment,
)
from djsqlgen.model.identity import target_id
from djsqlgen.model.target import Model
from djsqlgen.ops.alter_column import AlterColumn
from djsqlgen.ops.base import Operation
from djsqlgen.ops.convert_external import ConvertExternal
from djsqlgen.ops.drop_reference import DropReference
from djsqlgen.ops.table_charset import TableCharset
from djsqlgen.presets.dj2_sql import DEFAULT_SUBFOLDING

DJ2_PRESET = "dj014-to-dj2"
# 0.14's own bookkeeping tables: 2.x neither reads nor writes them (it keeps jobs in ``~~<table>`` tables
# of its own and external files by path in the column), so they stay in v1 and are not copied.
HIDDEN_KEPT_IN_V1 = ("~log", "~jobs")

# Native integer → (signed core type, core type wide enough for the unsigned range). 2.x has no
# unsigned core types; ``bigint unsigned`` has no wider one and stays native.
_INTEGERS = {"tinyint": ("int8", "int16"), "smallint": ("int16", "int32"), "mediumint": ("int32", "int32"),
             "int": ("int32", "int64"), "integer": ("int32", "int64"), "bigint": ("int64", None)}
_FLOATS = {"float": "float32", "double": "float64", "real": "float64"}
_BLOBS = ("tinyblob", "blob", "mediumblob", "longblob")  # 0.14 serialised every one of them


@dataclass(frozen=True)
class Dj2Column:
    """How 2.x declares one v1 column: SQL type, the marker before the comment, and what to tell the user."""

    sql_type: str
    marker: str | None  # between the colons; None for a native type 2.x keeps as it is
    note: str = ""
    external: str | None = None  # blob / attach / filepath: the value is rebuilt from ~external_<store>
    store: str | None = None


def _core(name: str, spelled: str | None = None, note: str = "") -> Dj2Column:
    sql = core_type_sql()[name]
    return Dj2Column(sql or (spelled or name), spelled or name, note)


# MariaDB declares `json` as longtext (utf8mb4_bin) with a CHECK named after the column: 0.14's json attributes
# look so in information_schema, and so do the ones 2.x declares (MySQL reports `json` itself).
_JSON_VALID = re.compile(r"json_valid\(`(?P<name>(?:[^`]|``)+)`\)$", re.IGNORECASE)
JSON_TEXT = ("longtext", "utf8mb4", "utf8mb4_bin")


def json_columns(table: Table) -> frozenset[str]:
    """The longtext columns of ``table`` that a ``json_valid`` check makes MariaDB's ``json``."""
    checked = {m["name"].replace("``", "`") for c in table.checks if (m := _JSON_VALID.match(c.clause.strip()))}
    return frozenset(a.name for a in table.attributes if a.name in checked and parse_sql_type(a.sql_type).base
                     == "longtext")


def dj2_column(attr: Attribute, unsigned: str = "widen", json: bool = False) -> Dj2Column:
    """The 2.x declaration of a column DataJoint 0.14 declared (pure; ``unsigned`` is ``widen`` or
    ``keep-native``; ``json`` when the column is MariaDB's json, a longtext with a ``json_valid`` check)."""
    dj = attr.dj_type
    if json and dj is None:  # 2.x declares `json`, which MariaDB makes the same longtext and check
        return Dj2Column(JSON_TEXT[0], "json")
    if dj is not None and dj.kind == KIND_LEGACY:
        if dj.store is None:  # in-table attach: 2.x <attach> keeps the same bytes (filename\0contents)
            return Dj2Column("longblob", "<attach>")
        return Dj2Column("json", f"<{dj.name}@{dj.store}>", external=dj.name, store=dj.store)
    if dj is not None:  # uuid, a 2.x core type already, an adapted type <name>, or unknown: kept
        note = ""
        if dj.kind == KIND_ANGLE and dj.name not in builtin_codec_names():
            note = f"2.x code must register a codec named {dj.name!r} (it was a 0.14 AttributeAdapter)"
        return Dj2Column(attr.sql_type, dj.marker, note)
    t = parse_sql_type(attr.sql_type)
    if t.base in _INTEGERS:
        signed, wide = _INTEGERS[t.base]
        if attr.auto_increment:  # 2.x writes `int auto_increment` as a native type: no marker
            return Dj2Column(attr.sql_type, None, "auto_increment is declared as a native integer in 2.x")
        if t.base == "tinyint" and t.params == (1,) and not t.unsigned:  # 0.14's `bool` (MySQL's alias): 2.x `bool`
            return _core("bool")
        if not t.unsigned:
            return _core(signed, note="mediumint widens to int32" if t.base == "mediumint" else "")
        if unsigned == "keep-native":
            return Dj2Column(attr.sql_type, None, "unsigned kept native (unsigned: keep-native); 2.x warns on "
                                                  "declaring it")
        if wide is None:
            return Dj2Column(attr.sql_type, None, "bigint unsigned has no wider signed core type: kept native")
        return _core(wide, note=f"{t.base} unsigned widened to {wide}")
    if t.base in _FLOATS and not t.params:
        return _core(_FLOATS[t.base])  # an unsigned float's values all fit the signed one
    if t.base in ("decimal", "numeric", "dec", "fixed") and len(t.params) == 2:
        spelled = f"decimal({t.params[0]},{t.params[1]})"
        return _core("decimal", spelled)
    if t.base in ("char", "varchar") and t.params:
        return _core(t.base, f"{t.base}({t.params[0]})")
    if t.base == "enum":
        return _core("enum", attr.sql_type)
    if t.base == "date":
        return _core("date")
    if t.base == "datetime":
        return _core("datetime", f"datetime({t.params[0]})" if t.params else "datetime")
    if t.base == "json":
        return _core("json")
    if t.base in _BLOBS:  # a 0.14 blob: under 2.x a bare longblob is raw bytes
        return Dj2Column("longblob", "<blob>")
    return Dj2Column(attr.sql_type, None, f"{attr.sql_type} has no 2.x core type: kept native")


def left_in_v1(table_name: str) -> bool:
    """DataJoint 0.14's own tables, which the preset leaves in v1."""
    return table_name in HIDDEN_KEPT_IN_V1 or table_name.startswith(EXTERNAL_TABLE_PREFIX)


def preset_notes(catalog, sources: list[str], settings, examples: int = 3) -> list[str]:
    """What the preset does not make a 2.x core type or codec, one line per kind, with a few columns as examples."""
    found: dict[str, list[str]] = {}
    for source in sources:
        for table in catalog.schema(source).tables:
            if left_in_v1(table.name):
                continue
            json = json_columns(table)
            for attr in table.attributes:
                note = dj2_column(attr, settings.unsigned, attr.name in json).note
                if note:
                    found.setdefault(note, []).append(f"{source}.{table.name}.{attr.name}")
    lines = []
    for note, columns in found.items():
        more = f" and {len(columns) - examples:,} more" if len(columns) > examples else ""
        lines.append(f"{note}: {', '.join(columns[:examples])}{more}")
    return lines


def is_text(sql_type: str) -> bool:
    return parse_sql_type(sql_type).family == "string"


def _inherited(table: Table) -> set[str]:
    """Columns a foreign key brings (not the references into ~external_<store>, which the preset converts)."""
    return {c for fk in table.foreign_keys if not fk.ref_table.startswith(EXTERNAL_TABLE_PREFIX) for c in fk.columns}


def preset_operations(plan_key: str, table: Table, settings) -> list[Operation]:
    """The preset's operations for one kept v1 table, in the order they apply (before the plan's own)."""
    tid = target_id(table)
    ops: list[Operation] = [TableCharset(plan_key, tid, settings.charset, settings.collation)]
    inherited = _inherited(table)
    json = json_columns(table)
    for attr in table.attributes:
        key = f"{plan_key}.columns.{attr.name} (preset {DJ2_PRESET})"
        column = dj2_column(attr, settings.unsigned, attr.name in json)
        if column.external:
            folds = tuple(settings.subfolding.get(column.store, DEFAULT_SUBFOLDING))
            ops.append(ConvertExternal(key, tid, attr.name, column.external, column.store, folds))
            continue
        if attr.name in inherited:
            # 2.x declares a column a foreign key brings as its parent's: the parent's SQL type, character set and
            # collation (FollowParents carries them from the parent's v2 key, or keeps v1's for a parent outside the
            # plan); its marker is settled with the others on the finished model (mark_references)
            continue
        comment = f":{column.marker}:{attr.comment}" if column.marker else attr.comment
        text = is_text(column.sql_type)
        charset, collation = (settings.charset, settings.collation) if text else (None, None)
        if attr.name in json:  # MariaDB's json is utf8mb4_bin whatever the table's character set
            charset, collation = JSON_TEXT[1:]
        ops.append(AlterColumn(
            key, tid, attr.name, type=column.sql_type if column.sql_type != attr.sql_type else None,
            comment=comment, default=attr.default, charset=charset, collation=collation))
    external_parents = {fk.ref_table for fk in table.foreign_keys if fk.ref_table.startswith(EXTERNAL_TABLE_PREFIX)}
    ops += [DropReference(f"{plan_key} (preset {DJ2_PRESET})", tid, parent) for parent in sorted(external_parents)]
    return ops


def core_marker(sql_type: str) -> str | None:
    """The 2.x core type an SQL type is exactly (``bigint`` → ``int64``, ``varchar(8)`` → ``varchar(8)``), else None
    (``int unsigned``, ``text``: native types, declared without a marker)."""
    core = dj2_column(Attribute("", sql_type, False, None, False, "", None, False), "keep-native")
    return core.marker if core.sql_type == sql_type.strip().lower() else None


def mark_references(model: Model) -> Model:
    """The markers of the finished model's columns as 2.x declares them: none on a column one of its foreign keys
    brings (uuid excepted), and the core type's on a column no foreign key brings any more (a lookup's reference
    gains a foreign key, ``drop_references`` loses one: the preset's own pass saw v1's)."""
    targets = []
    for target in model.targets:
        referring = {c for fk in target.foreign_keys for c in fk.columns}
        columns = []
        for column in target.columns:
            marker, text = split_comment(column.decl.comment)
            if column.name in referring and marker is not None and marker.marker != "uuid":
                column = replace(column, decl=replace(column.decl, comment=text))
            elif column.name not in referring and marker is None and not column.decl.auto_increment:
                core = core_marker(column.decl.sql_type)
                if core:
                    column = replace(column, decl=replace(column.decl, comment=f":{core}:{text}"))
            columns.append(column)
        targets.append(replace(target, columns=tuple(columns)))
    return replace(model, targets=tuple(targets))


def plan_entry(plan_key: str, attr: Attribute, change: dict, settings, json: bool = False) -> tuple[dict, list[str]]:
    """The plan's own entry for a column, read in the preset's terms: ``type`` is an SQL type whose 2.x marker the
    column takes, ``comment`` the text after the marker (which the preset keeps). A converted external column
    cannot be retyped: it holds 2.x's JSON."""
    column = dj2_column(attr, settings.unsigned, json)
    if column.external and "type" in change:
        return change, [(f"{plan_key}.type: the preset makes {attr.name!r} 2.x <{column.external}@{column.store}> "
                        "JSON; it cannot take another type (keep or drop it)")]
    if "type" not in change and "comment" not in change:
        return change, []
    # (a column a foreign key brings loses the marker again in mark_references, as 2.x declares it)
    marker = core_marker(change["type"]) if "type" in change else column.marker
    text = change.get("comment", attr.comment)
    return {**change, "comment": f":{marker}:{text}" if marker else text}, []
