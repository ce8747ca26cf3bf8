"""``inspect_schemas`` against DataJoint's own reading of the same tables.

Two real pipelines are declared and filled by DataJoint itself, in subprocesses:
``tests/support/dj014_pipeline.py`` under DataJoint 0.14.6 (schemas ``{prefix}_common`` and
``{prefix}_ephys``) and ``tests/support/dj2_pipeline.py`` under DataJoint 2.3 (schema
``{prefix}_dj2``). Their ``describe`` command prints DataJoint's view of every table, hidden ``~``
tables included; every test here walks ALL described tables and collects every difference, so
one failure lists each table / attribute that disagrees with DataJoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import SUPPORT, drop_schemas_with_prefix

from djsqlgen.catalog.heading import (
    Attribute,
    Catalog,
    ForeignKey,
    Index,
    Schema,
    Server,
    Table,
    inspect_schemas,
)
from djsqlgen.catalog.types import KIND_ANGLE, KIND_CORE, KIND_LEGACY, DataJointType
from djsqlgen.run.db import connect

GENERATIONS = ("dj014", "dj2")
# DataJoint's hidden "tiers" (the describe scripts name them) are all ours "hidden".
HIDDEN_DJ_TIERS = {"log", "jobs", "external", "other"}
_FULL_NAME = re.compile(r"^`(?P<schema>[^`]+)`\.`(?P<table>[^`]+)`$")
_INT_WIDTH = re.compile(r"\b(tinyint|smallint|mediumint|bigint|int)\(\d+\)")
_NULL = object()  # a normalised "DEFAULT NULL", distinct from "no default" (None)


@dataclass(frozen=True)
class Side:
    """One pipeline: DataJoint's description of it and djsqlgen's inspection of the same schemas."""

    generation: str
    schemas: tuple[str, ...]
    described: dict[str, dict[str, Any]]  # "`db`.`table`" -> describe's table entry
    catalog: Catalog

    def ours(self, full_name: str) -> Table | None:
        found = _FULL_NAME.match(full_name)
        return self.catalog.find_table(found["schema"], found["table"])


# ---------------------------------------------------------------------------------------------
# building the pipelines (module scope: each build takes a few seconds)
# ---------------------------------------------------------------------------------------------
def _subprocess_env(settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJ_HOST=settings.host, DJ_PORT=str(settings.port), DJ_USER=settings.user, DJ_PASS=settings.password
    )
    return env


def _run(python: Path | str, script: str, args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(python), str(SUPPORT / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{script} {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}"
        )
    return result.stdout


def _build_side(generation, python, script, schema_suffixes, server_settings, tmp_path_factory):
    prefix = f"djt{uuid.uuid4().hex[:8]}"
    env = _subprocess_env(server_settings)
    schemas = [f"{prefix}_{suffix}" for suffix in schema_suffixes]
    try:
        store = tmp_path_factory.mktemp(f"store_{generation}")
        _run(python, script, ["build", "--schemas", prefix, "--store-dir", str(store)], env)
        described = json.loads(_run(python, script, ["describe", "--schemas", prefix], env))["tables"]
        with connect(server_settings) as db:
            catalog = inspect_schemas(db, schemas, tool_version="test")
        yield Side(generation, tuple(schemas), described, catalog)
    finally:
        with connect(server_settings) as cleanup:
            drop_schemas_with_prefix(cleanup, prefix)


@pytest.fixture(scope="module")
def dj014_side(server_settings, dj014_python, tmp_path_factory):
    yield from _build_side(
        "dj014", dj014_python, "dj014_pipeline.py", ("common", "ephys"), server_settings, tmp_path_factory
    )


@pytest.fixture(scope="module")
def dj2_side(server_settings, tmp_path_factory):
    yield from _build_side(
        "dj2", sys.executable, "dj2_pipeline.py", ("dj2",), server_settings, tmp_path_factory
    )


@pytest.fixture(scope="module", params=GENERATIONS)
def side(request) -> Side:
    return request.getfixturevalue(f"{request.param}_side")


def _check(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} difference(s) from DataJoint:\n  " + "\n  ".join(problems)


def _pairs(side: Side):
    """(full name, DataJoint's entry, our Table) for every described table we also found."""
    for full_name, dj in side.described.items():
        table = side.ours(full_name)
        if table is not None:  # a missing table is reported by test_same_tables
            yield full_name, dj, table


# ---------------------------------------------------------------------------------------------
# normalisation of DataJoint's representation (not of our values)
# ---------------------------------------------------------------------------------------------
def _strip_int_width(sql_type: str) -> str:
    """DataJoint reports integer types without display width (``int(10) unsigned`` → ``int unsigned``)."""
    return _INT_WIDTH.sub(r"\1", sql_type)


def _dj_default(value: str | None):
    """DataJoint's default text → a comparable value.

    DataJoint writes NULL as ``null`` and wraps string-like defaults in double quotes (0.14 also
    wraps ``current_timestamp()``; 2.3 does not), whatever the server said.
    """
    if value is None:
        return None
    if value.lower() == "null":
        return _NULL
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _our_default(value: str | None):
    """Our default is SQL text ('quoted' literals, NULL): unquote it the way DataJoint shows it."""
    if value is None:
        return None
    if value == "NULL":
        return _NULL
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'").replace("\\\\", "\\")
    return value


def _show(value) -> str:
    return "DEFAULT NULL" if value is _NULL else repr(value)


def _expected_marker(side: Side, attr: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(kind, name, store) our parsed marker must have, from DataJoint's flags; None for no marker."""
    if side.generation == "dj014":
        if attr["adapter"]:
            return (KIND_ANGLE, attr["adapter"], None)
        if attr["is_external"]:  # blob@store, attach@store, filepath@store
            name = "attach" if attr["is_attachment"] else "filepath" if attr["is_filepath"] else "blob"
            return (KIND_LEGACY, name, attr["store"])
        if attr["is_attachment"]:  # in-table attach
            return (KIND_LEGACY, "attach", None)
        if attr["uuid"]:
            return (KIND_CORE, "uuid", None)
        return None  # 0.14 writes no other marker
    if attr["codec"]:
        return (KIND_ANGLE, attr["codec"], attr["store"])
    if attr["original_type"]:
        # DataJoint 2.3 keeps the declared core type ("varchar(32)", "enum('M', 'F', 'U')"); the
        # core type's name is its leading word, as in datajoint.declare.CORE_TYPE_PATTERNS.
        return (KIND_CORE, re.match(r"\w+", attr["original_type"])[0].lower(), None)
    return None  # a native type or a column inherited through a foreign key: no marker


# ---------------------------------------------------------------------------------------------
# the comparisons
# ---------------------------------------------------------------------------------------------
def test_description_covers_hidden_tables(side):
    """Guard: the descriptions really include the hidden tables the comparisons below must see."""
    names = {_FULL_NAME.match(n)["table"] for n in side.described}
    expected = (
        {"~log", "~jobs", "~external_extstore"}
        if side.generation == "dj014"
        else {"~lineage", "~~clustering"}
    )
    assert expected <= names, f"describe left out {sorted(expected - names)}"


def test_same_tables(side):
    described = set(side.described)
    inspected = {t.full_name for s in side.catalog.schemas for t in s.tables}
    assert [s.name for s in side.catalog.schemas] == list(side.schemas)
    problems = [
        f"{n}: DataJoint describes it, inspect did not find it" for n in sorted(described - inspected)
    ]
    problems += [
        f"{n}: inspect found it, DataJoint does not describe it" for n in sorted(inspected - described)
    ]
    _check(problems)


def test_tiers(side):
    problems = []
    for full_name, dj, table in _pairs(side):
        expected = "hidden" if dj["tier"] in HIDDEN_DJ_TIERS else dj["tier"]
        if table.tier != expected:
            problems.append(
                f"{full_name}: tier is {table.tier!r}, DataJoint says {dj['tier']!r} (→ {expected!r})"
            )
        if table.tier == "part":
            # the master is one of DataJoint's parents in the same schema
            master = f"`{table.schema}`.`{table.master}`"
            if master not in dj["parents"]:
                problems.append(
                    f"{full_name}: master {master} is not among DataJoint's parents {sorted(dj['parents'])}"
                )
    _check(problems)


def test_schema_generation(side):
    expected = "0.14" if side.generation == "dj014" else "2.x"
    assert {s.name: s.generation for s in side.catalog.schemas} == {s: expected for s in side.schemas}


def test_primary_keys(side):
    problems = []
    for full_name, dj, table in _pairs(side):
        if list(table.primary_key) != dj["primary_key"]:
            problems.append(
                f"{full_name}: primary key {list(table.primary_key)}, DataJoint {dj['primary_key']}"
            )
    _check(problems)


def test_attribute_names_and_order(side):
    problems = []
    for full_name, dj, table in _pairs(side):
        # DataJoint's heading leaves out hidden (underscore) attributes; so must the comparison.
        ours = [a.name for a in table.attributes if not a.hidden]
        theirs = [a["name"] for a in dj["attributes"]]
        if ours != theirs:
            problems.append(f"{full_name}: attributes {ours}, DataJoint {theirs}")
    _check(problems)


def _attribute_pairs(side: Side):
    for full_name, dj, table in _pairs(side):
        ours = {a.name: a for a in table.attributes}
        for attr in dj["attributes"]:
            if attr["name"] in ours:  # missing ones are reported by test_attribute_names_and_order
                yield f"{full_name}.{attr['name']}", attr, ours[attr["name"]]


def test_attribute_flags(side):
    """nullable, in_key and auto_increment, per attribute."""
    problems = []
    for where, dj, ours in _attribute_pairs(side):
        for ours_value, dj_value, what in (
            (ours.nullable, dj["nullable"], "nullable"),
            (ours.in_key, dj["in_key"], "in_key"),
            (ours.auto_increment, dj["autoincrement"], "auto_increment"),
        ):
            if ours_value != dj_value:
                problems.append(f"{where}: {what} is {ours_value}, DataJoint says {dj_value}")
    _check(problems)


def test_attribute_comments(side):
    problems = []
    for where, dj, ours in _attribute_pairs(side):
        if ours.comment != dj["comment"]:
            problems.append(f"{where}: comment {ours.comment!r}, DataJoint {dj['comment']!r}")
    _check(problems)


def test_attribute_defaults(side):
    problems = []
    for where, dj, ours in _attribute_pairs(side):
        if _our_default(ours.default) != _dj_default(dj["default"]):
            problems.append(
                f"{where}: default {ours.default!r} ({_show(_our_default(ours.default))}), "
                f"DataJoint {dj['default']!r} ({_show(_dj_default(dj['default']))})"
            )
    _check(problems)


def _is_real_sql_type(side: Side, dj: dict[str, Any]) -> bool:
    """Whether DataJoint's sql_type is the column's SQL type, not the declared DataJoint type."""
    if side.generation == "dj014":  # attach, blob@, attach@, filepath@ and <adapter> report themselves
        return not (dj["is_attachment"] or dj["is_filepath"] or dj["is_external"] or dj["adapter"])
    return not dj["codec"]  # 2.3 reports "<blob>", "<filepath@store>", ... for codec columns


def test_sql_types(side):
    problems, compared = [], 0
    for where, dj, ours in _attribute_pairs(side):
        if not _is_real_sql_type(side, dj):
            continue
        compared += 1
        if _strip_int_width(ours.sql_type) != dj["sql_type"]:
            problems.append(
                f"{where}: SQL type {ours.sql_type!r}, DataJoint {dj['sql_type']!r} (integer widths ignored)"
            )
    assert compared > 0
    _check(problems)


def test_datajoint_markers(side):
    problems = []
    seen = set()
    for where, dj, ours in _attribute_pairs(side):
        expected = _expected_marker(side, dj)
        actual = None if ours.dj_type is None else (ours.dj_type.kind, ours.dj_type.name, ours.dj_type.store)
        if actual != expected:
            problems.append(
                f"{where}: marker {ours.dj_type!r} read as {actual}, DataJoint's flags mean {expected}"
            )
        if expected:
            seen.add(expected[:2] if expected[0] != KIND_CORE else (KIND_CORE, "any"))
        if ours.dj_type is not None:
            if ours.dj_type.is_external != bool(dj["is_external"]):
                problems.append(
                    f"{where}: is_external {ours.dj_type.is_external}, DataJoint {dj['is_external']}"
                )
            if ours.full_comment != f":{ours.dj_type.marker}:{dj['comment']}":
                problems.append(
                    f"{where}: full comment {ours.full_comment!r} does not rebuild marker + comment"
                )
        # 2.3 keeps the marker text as original_type: ours must be the same bytes
        keeps_marker = side.generation == "dj2" and dj["original_type"] and not dj["codec"]
        if keeps_marker and ours.dj_type is not None and ours.dj_type.marker != dj["original_type"]:
            problems.append(
                f"{where}: marker {ours.dj_type.marker!r}, DataJoint original_type {dj['original_type']!r}"
            )
    # guard: the pipelines exercise every kind of marker this test is meant to check
    if side.generation == "dj014":
        wanted = {
            (KIND_CORE, "any"),
            (KIND_LEGACY, "attach"),
            (KIND_LEGACY, "blob"),
            (KIND_LEGACY, "filepath"),
            (KIND_ANGLE, "graph"),
        }
    else:
        wanted = {
            (KIND_CORE, "any"),
            (KIND_ANGLE, "blob"),
            (KIND_ANGLE, "attach"),
            (KIND_ANGLE, "filepath"),
            (KIND_ANGLE, "graph"),
        }
    assert wanted <= seen, f"the pipeline no longer exercises {sorted(wanted - seen)}"
    _check(problems)


def _fk_map(fk: ForeignKey) -> dict[str, str]:
    return dict(zip(fk.columns, fk.ref_columns))


def test_parents_are_foreign_keys(side):
    """Each DataJoint parent is one of our foreign keys, with the same child → parent column map."""
    problems, renamed, cross_schema = [], 0, 0
    for full_name, dj, table in _pairs(side):
        for parent, props in dj["parents"].items():
            found = _FULL_NAME.match(parent)
            candidates = [
                fk
                for fk in table.foreign_keys
                if (fk.ref_schema, fk.ref_table) == (found["schema"], found["table"])
            ]
            if not any(_fk_map(fk) == props["attr_map"] for fk in candidates):
                problems.append(
                    f"{full_name}: DataJoint parent {parent} with attr_map {props['attr_map']}; "
                    f"our foreign keys to it: {[_fk_map(fk) for fk in candidates]}"
                )
            renamed += props["aliased"]
            cross_schema += found["schema"] != table.schema
        # and the converse: every foreign key of ours is a DataJoint parent, except the references
        # to hidden ~ tables, which DataJoint's dependency graph leaves out (checked below)
        for fk in table.foreign_keys:
            parent = f"`{fk.ref_schema}`.`{fk.ref_table}`"
            if fk.ref_table.startswith("~"):
                continue
            if parent not in dj["parents"] or dj["parents"][parent]["attr_map"] != _fk_map(fk):
                problems.append(
                    f"{full_name}: foreign key {fk.name} → {parent} {_fk_map(fk)} is not a DataJoint parent"
                )
    assert renamed and (cross_schema or side.generation == "dj2"), (
        "the pipeline lost its renamed / cross-schema references"
    )
    _check(problems)


def test_external_references(dj014_side):
    """0.14's external attributes each refer to ``~external_<store>``.hash (not in DataJoint's graph;
    DataJoint 2.x stores external references as JSON, without ~external tables)."""
    side = dj014_side
    problems, checked = [], 0
    for full_name, dj, table in _pairs(side):
        for attr in dj["attributes"]:
            if not attr["is_external"]:
                continue
            checked += 1
            expected = ((attr["name"],), table.schema, f"~external_{attr['store']}", ("hash",))
            if expected not in [
                (fk.columns, fk.ref_schema, fk.ref_table, fk.ref_columns) for fk in table.foreign_keys
            ]:
                problems.append(
                    f"{full_name}.{attr['name']}: no foreign key to `~external_{attr['store']}`.hash"
                )
    assert checked == 3
    _check(problems)


def test_indexes(side):
    """DataJoint's secondary indexes (column tuples, uniqueness) are exactly ours, in any order."""
    problems = []
    for full_name, dj, table in _pairs(side):
        theirs = sorted((tuple(i["columns"]), i["unique"]) for i in dj["indexes"])
        ours = sorted((i.columns, i.unique) for i in table.indexes)
        if ours != theirs:
            problems.append(f"{full_name}: indexes {ours}, DataJoint {theirs}")
    _check(problems)


# ---------------------------------------------------------------------------------------------
# JSON of the real catalogs
# ---------------------------------------------------------------------------------------------
def test_json_round_trip(side):
    text = side.catalog.to_json()
    assert Catalog.from_json(text) == side.catalog
    assert Catalog.from_json(text).to_json() == text
    assert side.catalog.to_json() == text
    assert text.endswith("}\n")


def _field_names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def test_json_keys_in_stable_order(side):
    """Keys come in dataclass field order (Catalog.to_json's contract), at every level."""
    data = json.loads(side.catalog.to_json())
    assert list(data) == ["server", "schemas", "format", "tool_version"]
    assert data["format"] == 1 and data["tool_version"] == "test"
    assert list(data["server"]) == _field_names(Server)
    problems = []
    for schema in data["schemas"]:
        if list(schema) != _field_names(Schema):
            problems.append(f"schema {schema['name']}: keys {list(schema)}")
        for table in schema["tables"]:
            where = f"`{schema['name']}`.`{table['name']}`"
            if list(table) != _field_names(Table):
                problems.append(f"{where}: keys {list(table)}")
            for attr in table["attributes"]:
                if list(attr) != _field_names(Attribute):
                    problems.append(f"{where}.{attr['name']}: keys {list(attr)}")
                if attr["dj_type"] is not None and list(attr["dj_type"]) != _field_names(DataJointType):
                    problems.append(f"{where}.{attr['name']}: dj_type keys {list(attr['dj_type'])}")
            problems += [
                f"{where} fk: keys {list(f)}"
                for f in table["foreign_keys"]
                if list(f) != _field_names(ForeignKey)
            ]
            problems += [
                f"{where} index: keys {list(i)}" for i in table["indexes"] if list(i) != _field_names(Index)
            ]
    _check(problems)
