"""Two-way sync in the generated files (issue 24), offline: the reverse triggers come from the same trigger engine
over the reverse model, both directions compare before they write, and a one-way plan's files do not change."""

from __future__ import annotations

import re
from pathlib import Path

from djsqlgen.catalog.heading import Catalog
from djsqlgen.model.reverse import reverse_model
from djsqlgen.output.generate import Migration
from djsqlgen.plan import load_plan

PLANS = Path(__file__).resolve().parents[1] / "plans"


def _migration(name: str) -> Migration:
    catalog = Catalog.from_json((PLANS / "heading.json").read_text())
    return Migration(load_plan(PLANS / "valid" / f"{name}.yaml"), catalog)


def _file(migration: Migration, name: str) -> str:
    from djsqlgen.output.sqlfile import render_file

    rollback = name.startswith("rollback/")
    found = next(f for f in migration.files()
                 if f.filename == name.removeprefix("rollback/") and bool(f.rollback_of) == rollback)
    return render_file(found, migration.meta())


def test_reverse_model_is_v1_computed_from_v2():
    migration = _migration("two_way")
    two_way = {d.target_id for d in migration.directions if d.two_way}
    assert two_way == {"lab_v1.session"}
    back = reverse_model(migration.built.model, two_way)
    (session,) = back.targets
    assert (session.schema, session.name, session.source.driving.label) == ("lab_v1", "session", "lab_v2.session")
    assert {c.name: c.expr.render() for c in session.columns} == {
        "subject_id": "`src`.`subject_id`", "session_idx": "`src`.`session_idx`",
        "session_date": "`src`.`recorded_on`", "rig": "`src`.`rig`"}
    # session_idx is int in v2, smallint unsigned in v1: not a plain copy, so the way back checks each value
    assert session.column("session_idx").copied_from is None
    # v2's added column is v2's own: inserted with its default, never reset by a write from v1, not verified
    assert migration.ctx.model.target("lab_v1.session").column("room").insert_only


def test_two_way_triggers_compare_before_write_and_refuse_what_v1_cannot_hold():
    text = _file(_migration("two_way"), "30_dualwrite.sql")
    reverse = re.findall(r"TRIGGER `lab_v2`\.`(djsqlgen_lab_two_way_\w+_to_v1)`", text)
    # and on animal (one-way) for its key's cascade into v2's session, which the way back follows
    assert sorted(set(reverse)) == ["djsqlgen_lab_two_way_animal_upd_to_v1", "djsqlgen_lab_two_way_session_del_to_v1",
                                    "djsqlgen_lab_two_way_session_ins_to_v1", "djsqlgen_lab_two_way_session_upd_to_v1"]
    one_way = set(re.findall(r"TRIGGER `lab_v2`\.`(djsqlgen_\w+_one_way_\w+)`", text))
    assert len(one_way) == 9  # #kind, animal, session__trial: INSERT, UPDATE, DELETE each
    assert "W5 lab_v2.session (session_idx): v1''s session_idx (smallint(5) unsigned) cannot hold this value" in text
    assert "NEW.`session_idx` BETWEEN 0 AND 65535" in text
    assert "W6 lab_v2.session: v2 takes writes from 60 on" in text
    assert "SET @djsqlgen_carrying = NOW(6)" in text  # the forward triggers mark what they carry


def test_seventy_refuses_a_two_way_plan_and_one_way_plans_have_none_of_it():
    assert "this plan syncs two-way, whose cut-over is not built yet" in _file(_migration("two_way"), "70_cutover.sql")
    one_way = _migration("renames_retype")
    assert one_way.reverse_ctx is None and one_way.directions == []
    for name in ("30_dualwrite.sql", "40_backfill.sql", "70_cutover.sql", "rollback/40_backfill.sql"):
        text = _file(one_way, name)
        # (@djsqlgen_engine_session is no longer two-way's alone: v2's write trackers, on from 30 in a cut-over in
        # place, skip the backfill's session by it)
        assert "_to_v1" not in text and "@djsqlgen_carrying" not in text


def test_a_change_two_way_undoes_is_no_note(tmp_path):
    """A column v2 drops is no 'cannot be reversed' note on a table that syncs both ways: a v2 row gives it v1's
    default. On a one-way table it still is."""
    text = (PLANS / "valid" / "two_way.yaml").read_text().replace("nickname: {rename: name, type: varchar(8), "
                                                                  "allow_lossy: true}", "nickname: {rename: name}")
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    catalog = Catalog.from_json((PLANS / "heading.json").read_text())
    migration = Migration(load_plan(path), catalog)
    assert [n.split(":")[0] for n in migration.notes] == ["schemas.lab_v1.tables.session__trial.columns.start_time"]
    assert any("columns.notes" in n for n in migration.built.notes)
