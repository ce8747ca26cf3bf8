"""Table tiers from DataJoint names, and the heading's JSON round trip."""

from __future__ import annotations

import pytest

from djsqlgen.catalog.heading import (
    Attribute,
    Catalog,
    Check,
    ForeignKey,
    Index,
    Schema,
    Server,
    Table,
    Trigger,
    classify_table,
)
from djsqlgen.catalog.types import parse_marker
from djsqlgen.errors import HeadingError


@pytest.mark.parametrize(
    "name, tier, class_name, master",
    [
        ("#subject_type", "lookup", "SubjectType", None),
        ("_recording", "imported", "Recording", None),
        ("__spike_sorting", "computed", "SpikeSorting", None),
        ("session", "manual", "Session", None),
        ("session__trial", "part", "Session.Trial", "session"),
        ("_recording__channel", "part", "Recording.Channel", "_recording"),
        ("#probe_type__electrode", "part", "ProbeType.Electrode", "#probe_type"),
        ("__a__b", "part", "A.B", "__a"),
        ("__spikes__unit_set", "part", "Spikes.UnitSet", "__spikes"),
        ("~log", "hidden", "~log", None),
        ("~external_raw", "hidden", "~external_raw", None),
        ("~lineage", "hidden", "~lineage", None),
        ("~jobs", "hidden", "~jobs", None),
    ],
)
def test_classify_table(name, tier, class_name, master):
    assert classify_table(name) == (tier, class_name, master)


def _attribute(name: str, sql_type: str, comment: str = "", marker: str | None = None, **kw) -> Attribute:
    return Attribute(
        name=name,
        sql_type=sql_type,
        nullable=kw.pop("nullable", False),
        default=kw.pop("default", None),
        auto_increment=kw.pop("auto_increment", False),
        comment=comment,
        dj_type=parse_marker(marker) if marker else None,
        in_key=kw.pop("in_key", False),
        **kw,
    )


def hand_built_catalog() -> Catalog:
    server = Server("mariadb", "10.11.6-MariaDB", "STRICT_TRANS_TABLES", True, "ROW", False)
    lookup = Table(
        schema="lab_v1", name="#subject_type", tier="lookup", class_name="SubjectType", master=None,
        comment="kinds of subject", estimated_rows=3, engine="InnoDB", charset="utf8mb4",
        collation="utf8mb4_general_ci",
        attributes=(
            _attribute("type_name", "varchar(16)", "", "varchar(16)", in_key=True,
                       charset="utf8mb4", collation="utf8mb4_general_ci"),
            _attribute("note", "varchar(255)", "free text — ünïcode", default="''"),
        ),
        primary_key=("type_name",),
    )
    subject = Table(
        schema="lab_v1", name="subject", tier="manual", class_name="Subject", master=None,
        comment="", estimated_rows=120, engine="InnoDB", charset="utf8mb4", collation="utf8mb4_general_ci",
        attributes=(
            _attribute("subject_id", "int(11)", "id", "int32", in_key=True, auto_increment=True),
            _attribute("type_name", "varchar(16)", "", "varchar(16)"),
            _attribute("photo", "binary(16)", "external photo", "blob@raw", nullable=True, default="NULL"),
            _attribute("meta", "longtext", "", "json", nullable=True, default="NULL"),
            _attribute("_hidden_ts", "timestamp", "", None, default="current_timestamp()"),
            _attribute("full_name", "varchar(64)", "", None, nullable=True, generated="concat(`type_name`)"),
        ),
        primary_key=("subject_id",),
        foreign_keys=(
            ForeignKey("subject_ibfk_1", ("type_name",), "lab_v1", "#subject_type", ("type_name",),
                       "CASCADE", "RESTRICT"),
        ),
        indexes=(Index("type_name", ("type_name",), False), Index("full_name", ("full_name",), True)),
        checks=(Check("meta", "json_valid(`meta`)"),),
        triggers=(Trigger("subject_ins", "AFTER", "INSERT"),),
    )
    part = Table(
        schema="lab_v1", name="subject__photo", tier="part", class_name="Subject.Photo", master="subject",
        comment="", estimated_rows=0, engine="InnoDB", charset=None, collation=None,
        attributes=(
            _attribute("subject_id", "int(11)", "", "int32", in_key=True),
            _attribute("mother_id", "int(11)", "", "int32", in_key=True),
            _attribute("image", "longblob", "", "<blob@>"),
        ),
        primary_key=("mother_id", "subject_id"),
        foreign_keys=(
            ForeignKey("subject__photo_ibfk_1", ("subject_id",), "lab_v1", "subject", ("subject_id",),
                       "CASCADE", "RESTRICT"),
            ForeignKey("subject__photo_ibfk_2", ("mother_id",), "lab_v1", "subject", ("subject_id",),
                       "CASCADE", "RESTRICT"),
        ),
    )
    return Catalog(
        server=server,
        schemas=(
            Schema("lab_v1", "utf8mb4", "utf8mb4_general_ci", (lookup, subject, part)),
            Schema("lab_empty_looking", "latin1", "latin1_swedish_ci", ()),
        ),
        tool_version="0.1.0",
    )


def test_json_round_trip_is_equal():
    catalog = hand_built_catalog()
    assert Catalog.from_json(catalog.to_json()) == catalog


def test_json_is_stable():
    catalog = hand_built_catalog()
    text = catalog.to_json()
    assert catalog.to_json() == text
    assert Catalog.from_json(text).to_json() == text
    assert text.endswith("}\n")


def test_round_trip_keeps_tuples_and_types():
    table = Catalog.from_json(hand_built_catalog().to_json()).table("lab_v1", "subject__photo")
    assert table.primary_key == ("mother_id", "subject_id")
    assert table.foreign_keys[1].renamed and not table.foreign_keys[0].renamed
    assert table.attribute("image").dj_type.is_external
    assert table.attribute("image").full_comment == ":<blob@>:"


def test_unknown_format_is_refused():
    text = hand_built_catalog().to_json().replace('"format": 1', '"format": 99')
    with pytest.raises(HeadingError, match="inspect"):
        Catalog.from_json(text)
