"""DataJoint comment markers, as 0.14 and 2.x write them: marker text → parsed type."""

from __future__ import annotations

import pytest

from djsqlgen.catalog.types import (
    KIND_ANGLE,
    KIND_CORE,
    KIND_LEGACY,
    DataJointType,
    parse_marker,
    split_comment,
)


@pytest.mark.parametrize(
    "marker, kind, name, store, generation",
    [
        # DataJoint 0.14
        ("uuid", KIND_CORE, "uuid", None, None),  # written by both
        ("attach", KIND_LEGACY, "attach", None, "0.14"),
        ("blob@store", KIND_LEGACY, "blob", "store", "0.14"),
        ("attach@store", KIND_LEGACY, "attach", "store", "0.14"),
        ("filepath@store", KIND_LEGACY, "filepath", "store", "0.14"),
        ("blob@raw-data", KIND_LEGACY, "blob", "raw-data", "0.14"),
        ("<adapter>", KIND_ANGLE, "adapter", None, None),
        # DataJoint 2.x
        ("int32", KIND_CORE, "int32", None, "2.x"),
        ("float32", KIND_CORE, "float32", None, "2.x"),
        ("int8", KIND_CORE, "int8", None, "2.x"),
        ("bool", KIND_CORE, "bool", None, "2.x"),
        ("json", KIND_CORE, "json", None, "2.x"),
        ("varchar(64)", KIND_CORE, "varchar", None, "2.x"),
        ("decimal(5,2)", KIND_CORE, "decimal", None, "2.x"),
        ("enum('a','b')", KIND_CORE, "enum", None, "2.x"),
        ("<blob>", KIND_ANGLE, "blob", None, None),
        ("<blob@store>", KIND_ANGLE, "blob", "store", None),
        ("<blob@>", KIND_ANGLE, "blob", "", None),  # the default store
        ("<attach@store>", KIND_ANGLE, "attach", "store", None),
    ],
)
def test_parse_marker(marker, kind, name, store, generation):
    parsed = parse_marker(marker)
    assert parsed == DataJointType(marker, kind, name, store)
    assert parsed.generation == generation


@pytest.mark.parametrize(
    "marker, external",
    [
        ("blob@store", True),
        ("attach@store", True),
        ("filepath@store", True),
        ("<blob@store>", True),
        ("<blob@>", True),
        ("attach", False),
        ("<blob>", False),
        ("<adapter>", False),
        ("int32", False),
        ("uuid", False),
    ],
)
def test_is_external(marker, external):
    assert parse_marker(marker).is_external is external


@pytest.mark.parametrize(
    "comment, marker, rest",
    [
        (":int32:subject id", "int32", "subject id"),
        (":<blob@raw>:", "<blob@raw>", ""),
        (":blob@raw:raw traces: volts", "blob@raw", "raw traces: volts"),  # later colons are the user's
        (":uuid:", "uuid", ""),
        ("plain comment", None, "plain comment"),
        ("", None, ""),
        ("::not a marker", None, "::not a marker"),
    ],
)
def test_split_comment(comment, marker, rest):
    parsed, text = split_comment(comment)
    assert (parsed.marker if parsed else None, text) == (marker, rest)


@pytest.mark.parametrize("marker", ["int32", "<blob@raw>", "blob@raw", "varchar(64)", "BLOB@Raw", "attach"])
def test_marker_kept_byte_for_byte(marker):
    parsed, _ = split_comment(f":{marker}:note")
    assert parsed.marker == marker
