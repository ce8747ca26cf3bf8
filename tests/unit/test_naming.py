"""Generated object names: at most 64 characters, deterministic, readable for DataJoint table names."""

from __future__ import annotations

import pytest

from djsqlgen.sqltext import naming

LONG = "session__" + "very_long_part_table_name_" * 4  # 113 characters


@pytest.mark.parametrize("length", [1, 63, 64])
def test_fit_keeps_short_names(length):
    assert naming.fit("n" * length) == "n" * length


@pytest.mark.parametrize("length", [65, 100, 300])
def test_fit_cuts_long_names_to_64_with_a_hash(length):
    name = naming.fit("n" * length)
    assert (len(name), name[:55], name[55]) == (64, "n" * 55, "_")


def test_fit_is_deterministic_and_tells_long_names_apart():
    a, b = LONG + "a", LONG + "b"
    assert (naming.fit(a) == naming.fit(a), naming.fit(a) == naming.fit(b)) == (True, False)


@pytest.mark.parametrize(
    ("table", "event", "expected"),
    [
        ("subject", "INSERT", "djsqlgen_lab_subject_ins"),
        ("#kind", "UPDATE", "djsqlgen_lab_kind_9041cb_upd"),
        ("_recording", "DELETE", "djsqlgen_lab_recording_244717_del"),
        ("__computed__part", "INSERT", "djsqlgen_lab_computed__part_3893af_ins"),
        ("session__trial", "DELETE", "djsqlgen_lab_session__trial_del"),
    ],
)
def test_trigger_names_of_datajoint_tables(table, event, expected):
    """Readable, and a tier prefix removed from the name leaves a short hash of the full name."""
    assert naming.trigger_name("lab", table, event) == expected


@pytest.mark.parametrize("event", ["INSERT", "UPDATE", "DELETE"])
def test_trigger_name_of_a_long_table_fits(event):
    name = naming.trigger_name("a_forty_character_plan_name_xxxxxxxxxxxx", LONG, event)
    assert len(name) == 64 and name == naming.trigger_name("a_forty_character_plan_name_xxxxxxxxxxxx", LONG, event)


@pytest.mark.parametrize(
    "make",
    [
        lambda t: naming.trigger_name("lab", t, "INSERT"),
        lambda t: naming.routine_name("backfill_chunk", "lab_v1", t),
    ],
    ids=["trigger", "routine"],
)
def test_tier_variants_of_one_name_get_distinct_names(make):
    names = [make(t) for t in ("kind", "#kind", "_kind", "__kind")]
    assert len(set(names)) == 4, names


@pytest.mark.parametrize(
    "name",
    [
        naming.routine_name("backfill_chunk", "lab_" + "x" * 60, "#" + "y" * 60),
        naming.step_procedure("80_contract"),
        naming.cutover_parking_name("y" * 64),
    ],
    ids=["routine", "step", "parking"],
)
def test_every_generated_name_fits(name):
    assert len(name) <= naming.MAX_IDENTIFIER
