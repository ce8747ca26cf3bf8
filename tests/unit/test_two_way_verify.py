"""Two-way verify and round trip (issue 24 item 4), offline: the way back is verified from the reverse model under
its own id, and each two-way table whose carried columns change gets a round-trip data check in 00 and 70."""

from __future__ import annotations

import json

import pytest
from unit.test_two_way import PLANS, _file, _migration

from djsqlgen.catalog.heading import Catalog
from djsqlgen.errors import UnsupportedError
from djsqlgen.output.generate import Migration
from djsqlgen.plan import load_plan


def test_the_way_back_is_verified_from_the_reverse_model():
    text = _file(_migration("two_way"), "20_routines.sql")
    # its chunk_sql row: walked over v2's session, v1's session the table compared (keyed: session_idx changes type)
    assert "-- [chunk_sql.lab_v1.session <- v2]" in text
    assert "CALL `djsqlgen_lab_two_way`.`verify_table`(v_run, 'lab_v1.session <- v2', 1, p_chunk_rows);" in text
    # only two-way tables have a way back
    assert "'lab_v1.animal <- v2'" not in text and "'lab_v1.#kind <- v2'" not in text
    one_way = _file(_migration("renames_retype"), "20_routines.sql")
    assert "-- [chunk_sql." in one_way and " <- v2]" not in one_way and "UNION ALL\n    SELECT CONCAT(" not in one_way


def test_a_round_trip_check_per_two_way_table_whose_carried_values_may_not_come_back(tmp_path):
    # session_idx (smallint unsigned to int) comes back by type alone: no check
    assert not [c for c in _migration("two_way").data_checks if c.kind == "round_trip"]
    path = tmp_path / "plan.yaml"
    path.write_text((PLANS / "valid" / "two_way.yaml").read_text().replace("rig: keep", "rig: {type: char(32)}"))
    migration = Migration(load_plan(path), Catalog.from_json((PLANS / "heading.json").read_text()))
    (check,) = [c for c in migration.data_checks if c.kind == "round_trip"]
    assert (check.target_id, check.detail) == ("lab_v1.session", "rig")  # a CHAR drops trailing spaces
    assert "sync: one-way" in check.fix
    for name in ("00_preflight.sql", "70_cutover.sql"):
        text = _file(migration, name)
        assert "lab_v1.session." in text and "does not come back from v2 byte for byte" in text, name
        assert "SET @djsqlgen_found = (\nSELECT CONCAT(CONCAT_WS(', ',\n" in text, name
    assert not [c for c in _migration("renames_retype").data_checks if c.kind == "round_trip"]


def test_a_type_verify_cannot_hash_on_the_way_back_is_refused_with_the_way_out(tmp_path):
    """A v1 FLOAT(M,D) (the row hash does not reproduce its rounding) widened to DOUBLE on a two-way table: generate
    refuses, naming the table and `sync: one-way`, rather than a traceback."""
    heading = json.loads((PLANS / "heading.json").read_text())
    for schema in heading["schemas"]:
        for table in (t for t in schema["tables"] if t["name"] == "subject"):
            for a in (a for a in table["attributes"] if a["name"] == "weight"):
                a["sql_type"] = "float(7,2)"
    path = tmp_path / "plan.yaml"
    path.write_text((PLANS / "valid" / "two_way.yaml").read_text().replace(
        "nickname: {rename: name, type: varchar(8), allow_lossy: true}", "nickname: {rename: name}"))
    migration = Migration(load_plan(path), Catalog.from_json(json.dumps(heading)))
    assert "lab_v1.subject" in {d.target_id for d in migration.directions if d.two_way}
    with pytest.raises(UnsupportedError, match=r"lab_v1\.subject: verify cannot check it against reverse\(v2\).*"
                                               r"`sync: one-way` under schemas\.lab_v1\.tables\.subject"):
        migration.files()
