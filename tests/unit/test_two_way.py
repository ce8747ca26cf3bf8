"""Two-way sync in the generated files (issue 24), offline: the reverse triggers come from the same trigger engine
over the reverse model, both directions compare before they write, and a one-way plan's files do not change."""

from __future__ import annotations

import json
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
    # none on animal (one-way): its key's cascade into v2's session is one v1's own cascade from subject repeats, so
    # the way back leaves v1's sessions to it (a v2 client cannot move animal's key anyway)
    assert sorted(set(reverse)) == ["djsqlgen_lab_two_way_session_del_to_v1", "djsqlgen_lab_two_way_session_ins_to_v1",
                                    "djsqlgen_lab_two_way_session_upd_to_v1"]
    one_way = set(re.findall(r"TRIGGER `lab_v2`\.`(djsqlgen_\w+_one_way_\w+)`", text))
    assert len(one_way) == 9  # #kind, animal, session__trial: INSERT, UPDATE, DELETE each
    assert "W5 lab_v2.session (session_idx): v1''s session_idx (smallint(5) unsigned) cannot hold this value" in text
    assert "NEW.`session_idx` BETWEEN 0 AND 65535" in text
    assert "W6 lab_v2.session: v2 takes writes from 60 on" in text
    assert "SET @djsqlgen_carrying = NOW(6)" in text  # the forward triggers mark what they carry


def _variant(tmp_path: Path, extra: str, schema_extra: str = "") -> Migration:
    """two_way.yaml with ``extra`` top-level keys (and ``schema_extra`` in its schema entry)."""
    path = tmp_path / "plan.yaml"
    path.write_text((PLANS / "valid" / "two_way.yaml").read_text().replace("sync: two-way\n", f"sync: two-way\n{extra}")
                    .replace("  target: lab_v2\n", f"  target: lab_v2\n{schema_extra}"))
    return Migration(load_plan(path), Catalog.from_json((PLANS / "heading.json").read_text()))


def _statements(text: str) -> str:
    """The file without its comment lines (what the server runs)."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


def test_seventy_of_a_two_way_plan_closes_v1_by_its_row_and_one_way_plans_have_none_of_it(tmp_path):
    migration = _migration("two_way")
    seventy = _statements(_file(migration, "70_cutover.sql"))
    # v1 closes by its sides row, only while v2 is open; no DDL: the sync stays as it is
    assert "JOIN `djsqlgen_lab_two_way`.`sides` AS o ON o.side = 'v2' AND o.is_open = 1" in seventy
    assert not re.search(r"(CREATE|DROP)[^;]* TRIGGER|RENAME TABLE|ALTER TABLE", seventy)
    assert "v2 is closed (djsqlgen close v2)" in seventy and "djsqlgen reopen v2 PLAN" in seventy
    back = _statements(_file(migration, "rollback/70_cutover.sql"))
    assert "SET is_open = 1" in back and "v2_writes" not in back and "discard" not in back
    assert not re.search(r"(CREATE|DROP)[^;]* TRIGGER|RENAME TABLE", back)
    renaming = _statements(_file(_variant(tmp_path, "cutover: {rename_to_final: true}\n", "  final: lab\n"), "70_cutover.sql"))
    assert "a two-way plan cannot rename at cut-over" in renaming and "(error 1435)" in renaming
    one_way = _migration("renames_retype")
    assert one_way.reverse_ctx is None and one_way.directions == []
    for name in ("30_dualwrite.sql", "40_backfill.sql", "70_cutover.sql", "rollback/40_backfill.sql"):
        text = _file(one_way, name)
        # (@djsqlgen_engine_session is no longer two-way's alone: v2's write trackers, on from 30 in a cut-over in
        # place, skip the backfill's session by it)
        assert "_to_v1" not in text and "@djsqlgen_carrying" not in text
    assert not any(f.filename.startswith("90_") for f in one_way.files() + migration.files())


def test_contract_keeps_v1_synced_until_ninety(tmp_path):
    """80 by default ends the sync; with contract.v1: keep-synced it drops only the forward triggers (carry-aware
    guards take their place) and 90_retire_v1.sql ends the rest."""
    default = _statements(_file(_migration("two_way"), "80_contract.sql"))
    assert re.search(r"DROP TRIGGER IF EXISTS `lab_v2`\.`djsqlgen_\w+_to_v1", default)
    kept = _variant(tmp_path, "contract: {v1: keep-synced, drop_v1: true}\n")
    eighty = _statements(_file(kept, "80_contract.sql"))
    assert not re.search(r"DROP TRIGGER IF EXISTS `lab_v2`", eighty) and "DROP TABLE IF EXISTS `lab_v1`" not in eighty
    assert re.search(r"DROP TRIGGER IF EXISTS `lab_v1`", eighty)
    assert "DECLARE v_in_carry BOOLEAN DEFAULT @djsqlgen_carry <=> NOW(6)" in eighty
    ninety = _statements(_file(kept, "90_retire_v1.sql"))
    assert re.search(r"DROP TRIGGER IF EXISTS `lab_v2`\.`djsqlgen_\w+_to_v1", ninety)
    assert "DROP TABLE IF EXISTS `lab_v1`.`subject`" in ninety and "AUTO_INCREMENT" not in ninety
    back = _statements(_file(kept, "rollback/90_retire_v1.sql"))
    assert "contract.drop_v1 dropped v1" in back and re.search(r"TRIGGER `lab_v2`\.`djsqlgen_\w+_to_v1", back)
    eighty_back = _statements(_file(kept, "rollback/80_contract.sql"))
    assert "90_retire_v1.sql is still applied" in eighty_back


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


def _trigger(text: str, name: str) -> str:
    """The body of the trigger ``name`` in a generated file, from its CREATE line to its END."""
    start = re.search(rf"CREATE [^\n]*TRIGGER [^\n]*`{name}`", text)
    assert start, name
    return text[start.start():text.index("\nEND", start.start())]


def test_a_two_way_written_row_is_carried_from_new_by_key_and_compared_only_inside_a_carried_write():
    """A target whose row is the written row itself is written from NEW/OLD by primary key: no derived table (a
    temporary table per row), no EXISTS subquery; an INSERT stays an INSERT and an UPDATE an UPDATE (an upsert
    makes each statement prelock the other side's triggers of the other event too). A client's own write is carried
    at once; only a trigger inside a carried write compares first."""
    text = _file(_migration("two_way"), "30_dualwrite.sql")
    assert "INSERT INTO `djsqlgen_lab_two_way`.`carried`" in _trigger(text, "djsqlgen_lab_two_way_session_ins")
    for name in ("djsqlgen_lab_two_way_session_ins_to_v1", "djsqlgen_lab_two_way_session_ins",
                 "djsqlgen_lab_two_way_session_upd_to_v1", "djsqlgen_lab_two_way_session_del_to_v1"):
        body = _trigger(text, name)
        assert "DECLARE v_in_carry BOOLEAN DEFAULT @djsqlgen_carry <=> NOW(6);" in body, name
        assert "IF v_in_carry THEN" in body, name
        if name.endswith("_ins") or name.endswith("_ins_to_v1"):
            assert "SELECT * FROM (" not in body and "EXISTS (" not in body, name
            # (the count of carried rows, a control table with no trigger, is the one upsert)
            assert body.count("ON DUPLICATE KEY UPDATE") == body.count("ON DUPLICATE KEY UPDATE rows_carried"), name
            assert "SELECT COUNT(*) = 0 INTO v_found" in body, name
    back_update = _trigger(text, "djsqlgen_lab_two_way_session_upd_to_v1")
    assert "UPDATE `lab_v1`.`session` AS dst\n" in back_update
    assert "LOCK IN SHARE MODE" in back_update  # compared under a lock: an older snapshot would skip a real change


def test_an_echo_into_the_statements_own_table_stops_on_its_mark_and_v2_reads_sixty_once_a_row():
    """A client's trigger marks its table in LAST_INSERT_ID() (the server restores it when the trigger ends); the
    other side's trigger, inside that carried write, finds the mark of the table it would write and stops before its
    compare (that write could only meet 1442). v2's triggers read whether 60 is applied with the sides row, once."""
    text = _file(_migration("two_way"), "30_dualwrite.sql")
    marks = {}
    for side, table in (("v1", "djsqlgen_lab_two_way_session_ins"), ("v2", "djsqlgen_lab_two_way_session_ins_to_v1")):
        found = re.search(r"DO LAST_INSERT_ID\((\d+)\);", _trigger(text, table))
        assert found, table
        marks[side] = int(found.group(1))
    assert marks["v1"] != marks["v2"] and min(marks.values()) >= 1 << 63
    forward = _trigger(text, "djsqlgen_lab_two_way_session_ins")
    back = _trigger(text, "djsqlgen_lab_two_way_session_ins_to_v1")
    # each side's echo of the other's write stops on the other's mark, before its compare
    assert f"IF NOT (LAST_INSERT_ID() <=> {marks['v2']}) THEN\n" in forward
    assert f"IF NOT (LAST_INSERT_ID() <=> {marks['v1']}) THEN\n" in back
    assert forward.index(f"<=> {marks['v2']}") < forward.index("SELECT COUNT(*) = 0 INTO v_found")
    # the mark is set only by a client's own write (after the refusal of a closed side, with the carry token)
    assert re.search(r"IF NOT v_in_carry THEN\n\s+SET @djsqlgen_carry = NOW\(6\);\n\s+DO LAST_INSERT_ID", back)
    # 60 read with the sides row, and a client's write carried on it (W6's own read is left to the compare that
    # finds a write would change v1); the forward triggers do not read it
    assert "INTO v_open, v_since, v_sixty" in back and "IF v_sixty THEN" in back and "IF v_open THEN" not in back
    assert "phase_log" not in forward


def test_a_new_key_goes_back_by_v1s_key_kept_in_v2_and_a_child_reads_it_from_its_v2_parent():
    """session re-keyed by its date, session_idx kept: v1's row is found by v1's key read from the v2 row (not aligned,
    checked: W1 on the way back); session__trial follows the new key and reads session_idx from its v2 session."""
    migration = _migration("two_way_rekey")
    assert [d.line for d in migration.directions if not d.two_way] == []
    back = reverse_model(migration.built.model, {d.target_id for d in migration.directions})
    session, trial = back.target("lab_v1.session"), back.target("lab_v1.session__trial")
    assert session.primary_key == ("subject_id", "session_idx") and session.source.joins == ()
    assert (session.key_map.aligned, session.key_map.proof) == (False, "checked")
    (parent,) = trial.source.joins
    assert (parent.table.label, parent.kind) == ("lab_v2.session", "inner")
    assert {k: e.render() for k, e in parent.on} == {"subject_id": "`src`.`subject_id`",
                                                     "session_date": "`src`.`session_date`"}
    assert trial.column("session_idx").expr.render() == f"`{parent.alias}`.`session_idx`"
    assert (trial.key_map.aligned, trial.key_map.proof) == (False, "structure")  # the parent's W1 makes it one to one
    text = _file(migration, "30_dualwrite.sql")
    assert "W1 lab_v1.session (subject_id, session_idx): v1 key taken by another v2 row" in text
    # the echo of a carried insert finds its own row at the key, in both directions: no W1 for it
    assert "WHERE NOT (dst.`subject_id` = NEW.`subject_id` AND dst.`session_date` = NEW.`session_date`)" in text
    assert "WHERE NOT (dst.`subject_id` = NEW.`subject_id` AND dst.`session_idx` = NEW.`session_idx`)" in text


def test_a_new_key_v1s_key_cannot_be_read_from_stays_one_way_naming_inverse(tmp_path):
    text = (PLANS / "valid" / "two_way_rekey.yaml").read_text().replace(
        "      key: [subject_id, session_date]\n", "      key: [subject_id, session_date]\n      columns: {subject_id: "
        "keep, session_idx: drop, session_date: keep, rig: keep}\n")
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    migration = Migration(load_plan(path), Catalog.from_json((PLANS / "heading.json").read_text()))
    why = {d.v2: d.why for d in migration.directions if not d.two_way}
    assert set(why) == {"lab_v2.session", "lab_v2.session__trial"}
    assert why["lab_v2.session"].startswith("v1 key column 'session_idx' is not in v2, so a v2 row cannot name its v1 "
                                            "row (keep it as a column of v2, or give it an `inverse:`)")
    assert "v2 key column 'session_date' follows its parent's key, and that parent does not sync back" in \
        why["lab_v2.session__trial"]


def test_a_re_key_syncs_back_through_at_most_max_followers_tables(tmp_path):
    """A deep re-key followed two-way made each write open 957 tables and ran the server out of memory: beyond
    MAX_FOLLOWERS tables following a re-keyed parent, a table stays one-way, saying why."""
    import json

    from djsqlgen.ops.directions import MAX_FOLLOWERS

    heading = json.loads((PLANS / "heading.json").read_text())
    (schema,) = [s for s in heading["schemas"] if s["name"] == "lab_v1"]
    trial = next(t for t in schema["tables"] if t["name"] == "session__trial")
    parts = [f"session__part{i}" for i in range(MAX_FOLLOWERS)]  # with session__trial: one more than the cap
    for name in parts:
        copy = json.loads(json.dumps(trial))
        copy["name"] = name
        copy["class_name"] = f"Session.{name.title()}"
        for fk in copy.get("foreign_keys", []):
            fk["name"] = f"{fk['name']}_{name}"[:64]
        schema["tables"].append(copy)
    plan = (PLANS / "valid" / "two_way_rekey.yaml").read_text() + "".join(f"    {n}: keep\n" for n in parts)
    path = tmp_path / "plan.yaml"
    path.write_text(plan)
    migration = Migration(load_plan(path), Catalog.from_json(json.dumps(heading)))
    followers = [d for d in migration.directions if "__" in d.v2]
    assert sum(d.two_way for d in followers) == MAX_FOLLOWERS
    (last,) = [d for d in followers if not d.two_way]
    assert "open hundreds of tables" in last.why


def test_the_way_back_refuses_what_the_presets_signed_and_wider_types_hold_and_v1s_do_not():
    """Found with the dj014-to-dj2 preset (tests/integration/test_two_way_preset.py): 2.x's decimal and float are
    signed, so 0.14's `decimal(5,2) unsigned` became `decimal(5,2)` and a negative v2 value reached v1 as the server's
    own 1264 (W0), not W5; and a 2.x <blob> (longblob) back into 0.14's mediumblob was not checked at all."""
    from djsqlgen.engines.two_way import fits
    from djsqlgen.model.target import ColumnDecl

    def decl(sql_type: str) -> ColumnDecl:
        return ColumnDecl("x", sql_type, True, None, False, "")

    assert fits("NEW.x", decl("decimal(5,2)"), decl("decimal(5,2) unsigned")) == ["NEW.x >= 0"]
    assert fits("NEW.x", decl("float"), decl("float unsigned")) == ["NEW.x >= 0"]
    assert fits("NEW.x", decl("longblob"), decl("mediumblob")) == ["LENGTH(NEW.x) <= 16777215"]
    assert fits("NEW.x", decl("decimal(5,2)"), decl("decimal(5,2)")) == []
    assert fits("NEW.x", decl("longblob"), decl("longblob")) == []


def test_the_way_back_leaves_to_v1_the_cascades_v1_repeats():
    """Every ON UPDATE CASCADE of v2 here is one v1's own foreign keys repeat (the same columns, renamed or not):
    the reverse model marks them, and a reverse UPDATE trigger carries no move along them (v1's cascade does)."""
    from djsqlgen.engines.impacts import impacts
    from djsqlgen.model.reverse import cascade_repeats
    from djsqlgen.model.target import TableRef

    migration = _migration("two_way")
    repeats = {(w.label, d.label, columns): r for (w, d, columns), r in cascade_repeats(migration.built.model).items()}
    assert repeats == {
        ("lab_v2.#kind", "lab_v2.animal", (("kind", "kind"),)): True,
        ("lab_v2.animal", "lab_v2.session", (("subject_id", "subject_id"),)): True,
        ("lab_v2.animal", "lab_v2.session__trial", (("subject_id", "subject_id"),)): True,
        ("lab_v2.session", "lab_v2.session__trial", (("subject_id", "subject_id"), ("session_idx", "session_idx"))):
            True}
    back = migration.reverse_ctx.model
    assert len(back.repeated_cascades) == 4
    # the one-way animal's key moves reach v1's session through v1's cascade alone: no reverse trigger for it
    assert impacts(back, TableRef("lab_v2", "animal"), "UPDATE") == []
    (moved,) = impacts(back, TableRef("lab_v2", "session"), "UPDATE")
    assert [p.direct for p in moved.paths] == [True]


def test_below_a_one_way_table_a_cascade_v1_does_not_repeat_keeps_the_table_one_way(tmp_path):
    """session re-keyed by its date and one-way by the plan: v2's cascade of a session's new date into its trials
    moves a column v1 does not have (v1's trials hold session_idx), so v1's own cascade cannot repeat it, and
    session__trial stays one-way, saying so (besides the key it cannot give back)."""
    text = (PLANS / "valid" / "two_way_rekey.yaml").read_text()
    path = tmp_path / "plan.yaml"
    path.write_text(text.replace("      key: [subject_id, session_date]\n",
                                 "      key: [subject_id, session_date]\n      sync: one-way\n"))
    migration = Migration(load_plan(path), Catalog.from_json((PLANS / "heading.json").read_text()))
    ways = {d.v2: d for d in migration.directions}
    assert ways["lab_v2.subject"].two_way and not ways["lab_v2.session"].two_way
    assert ("its parent lab_v2.session syncs one way, and v1's own ON UPDATE CASCADE would not move its rows with it"
            in ways["lab_v2.session__trial"].why), ways["lab_v2.session__trial"].why


def _lookup_migration(tmp_path, retype: bool = False) -> Migration:
    """The two-way plan with session's rig and date moved into a lookup `#rig` (a date retyped to datetime when
    ``retype``)."""
    text = (PLANS / "valid" / "two_way.yaml").read_text().replace(
        "        session_date: {rename: recorded_on}\n",
        "        session_date: {rename: recorded_on" + (", type: datetime" if retype else "") + "}\n").replace(
        "        rig: keep\n",
        "        rig: keep\n      lookups:\n      - {table: '#rig', key: [rig], columns: [recorded_on]}\n")
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    heading = json.loads((PLANS / "heading.json").read_text())
    session = next(t for s in heading["schemas"] for t in s["tables"]
                   if s["name"] == "lab_v1" and t["name"] == "session")
    session["indexes"] = []  # (its index on the date would keep the column in session)
    return Migration(load_plan(path), Catalog.from_json(json.dumps(heading)))


def test_a_lookup_goes_back_through_the_rows_that_refer_to_it(tmp_path):
    migration = _lookup_migration(tmp_path)
    lines = {d.v2: d.line for d in migration.directions}
    assert lines["lab_v2.session"] == "lab_v2.session <-> lab_v1.session: two-way"
    assert lines["lab_v2.#rig"] == ("lab_v2.#rig <-> lab_v1.session: two-way through lab_v2.session (its values go "
                                    "back in the v1 rows that use them)")
    assert not [n for n in migration.notes if "lookups" in n], migration.notes  # the way back undoes the extraction
    (session,) = [t for t in migration.reverse_ctx.model.targets if t.name == "session"]
    (join,) = session.source.joins
    assert (join.table.label, join.kind, [(c, e.render()) for c, e in join.on]) == \
        ("lab_v2.#rig", "inner", [("rig", "`src`.`rig`")])
    assert session.column("session_date").expr.render() == f"`{join.alias}`.`recorded_on`"
    assert session.column("session_date").copied_from is not None  # the same type: verify compares it as is
    text = _file(migration, "30_dualwrite.sql")
    # no W7 on the lookup: its clients' writes wait only for 60 (W6), then go back through session's rows
    assert "djsqlgen_lab_two_way_rig" not in " ".join(re.findall(r"TRIGGER `lab_v2`\.`(\w+one_way\w+)`", text))
    assert "W6 lab_v2.#rig: v2 takes writes from 60 on; write to v1 until then" in text
    assert re.search(r"AFTER UPDATE ON `lab_v2`\.`#rig`", text)  # a lookup row's new values rewrite v1's rows
    # a v2 row is carried with its lookup row's values read by its own columns: no derived table per row
    back = text.split("TRIGGER `lab_v2`.`djsqlgen_lab_two_way_session_ins_to_v1`")[1].split("END;;")[0]
    assert re.search(r"INSERT INTO `lab_v1`\.`session`\n +\([^)]*\)\n +SELECT\n +NEW\.`subject_id`, [^\n]*"
                     r"`lookup_1`\.`recorded_on`[^\n]*\n +FROM `lab_v2`\.`#rig` AS `lookup_1`\n"
                     r" +WHERE `lookup_1`\.`rig` = NEW\.`rig`;", back), back
    assert "AS dt" not in back
    # the forward lookup write compares first inside a carried write (a v2 UPDATE of the lookup row is its source)
    forward = text.split("TRIGGER `lab_v1`.`djsqlgen_lab_two_way_session_ins`")[1].split("END;;")[0]
    assert re.search(r"IF v_in_carry THEN\n +SELECT COUNT\(\*\) INTO v_agrees FROM `lab_v2`\.`#rig`[^;]*;\n +END IF;\n"
                     r" +IF NOT v_agrees THEN\n", forward), forward


def test_a_lookup_of_a_retyped_column_stays_one_way_saying_why(tmp_path):
    migration = _lookup_migration(tmp_path, retype=True)
    why = {d.v2: d.why for d in migration.directions if not d.two_way}
    assert set(why) >= {"lab_v2.session", "lab_v2.#rig"}, why
    assert "#rig's recorded_on is not v1's type: a lookup goes back only with the columns it moves unchanged" in \
        why["lab_v2.session"]
    text = _file(migration, "30_dualwrite.sql")
    assert why["lab_v2.#rig"] == "a lookup goes back through the rows of lab_v2.session, which syncs one way"
    assert ("W7 lab_v2.#rig: write to v1; syncs one way: a lookup goes back through the rows of lab_v2.session, "
            "which syncs one way") in text
    assert "W6 lab_v2.#rig" not in text


def test_side_files_of_a_two_way_plan_only(tmp_path):
    from djsqlgen.output.generate import generate
    from djsqlgen.output.sqlfile import render_file

    migration = _migration("two_way")
    files = {f.path: render_file(f, migration.meta()) for f in migration.side_files()}
    assert sorted(files) == ["sides/close_v1.sql", "sides/close_v2.sql", "sides/reopen_v1.sql", "sides/reopen_v2.sql"]
    close_v2 = files["sides/close_v2.sql"]
    assert "-- Rollback: sides/reopen_v2.sql" in close_v2
    assert "sides/close_v2.sql builds on 60_constraints.sql" in close_v2  # before 60 v2 takes no writes to refuse
    assert "v1 is closed already, and one side must take writes" in close_v2
    assert "WHERE s.side = 'v2' AND s.is_open = 1" in close_v2  # a closed side keeps its first closing time
    # and only while v1 is open, in the same statement: two closes at once cannot both succeed
    assert "AS o ON o.side = 'v1' AND o.is_open = 1" in close_v2
    assert "djsqlgen stopped sides/close_v2.sql: v1 was closed meanwhile; v2 stays open" in close_v2
    assert "60_constraints" not in files["sides/reopen_v2.sql"] and "closed already" not in files["sides/reopen_v2.sql"]
    # the reverse triggers read v2's row with a shared lock, and let a carried write through without reading it
    dualwrite = _file(migration, "30_dualwrite.sql")
    since = "COALESCE(DATE_FORMAT(v_since, '%Y-%m-%d %H:%i'), '')"
    assert f"W8 lab_v2.session is read-only since ', {since}, '; write to lab_v1.session'" in dualwrite
    assert "WHERE side = 'v2'\n        LOCK IN SHARE MODE" in dualwrite
    assert dualwrite.count("IF NOT v_in_carry AND @djsqlgen_engine_session IS NULL THEN\n    BEGIN\n      DECLARE v_open") \
        == dualwrite.count("LOCK IN SHARE MODE;\n      END;\n      IF v_open = 0")
    # `apply DIR` never runs them: listed apart in the manifest
    generate(migration, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert not [f for f in manifest["files"] if f.startswith("sides/")]
    assert manifest["side_files"] == ["sides/close_v1.sql", "sides/reopen_v1.sql", "sides/close_v2.sql",
                                      "sides/reopen_v2.sql"]
    one_way = _migration("renames_retype")
    assert one_way.side_files() == []
    generate(one_way, tmp_path / "one_way")
    assert not (tmp_path / "one_way" / "sides").exists()
    assert "side_files" not in json.loads((tmp_path / "one_way" / "manifest.json").read_text())


def _auto_increment_migration(tmp_path, table: str, column: str) -> Migration:
    """The two-way plan (session__trial's start_time kept: it syncs both ways) over a v1 whose ``table``.``column``
    is AUTO_INCREMENT."""
    path = tmp_path / "plan.yaml"
    path.write_text((PLANS / "valid" / "two_way.yaml").read_text().replace("start_time: drop", "start_time: keep"))
    heading = json.loads((PLANS / "heading.json").read_text())
    found = next(a for s in heading["schemas"] for t in s["tables"] for a in t["attributes"]
                 if s["name"] == "lab_v1" and t["name"] == table and a["name"] == column)
    found["auto_increment"] = True
    return Migration(load_plan(path), Catalog.from_json(json.dumps(heading)))


def test_an_auto_increment_key_v2_keeps_syncs_both_ways_with_v1s_counter_issuing_v2s_ids(tmp_path):
    """v2's BEFORE INSERT trigger inserts a row without an id into v1 (NULL: the trigger's NO_AUTO_VALUE_ON_ZERO
    would keep a 0) and takes v1's id; v1's forward trigger lets pass the error 1442 its carry of that insert meets
    (v2's row is being inserted), and v2's AFTER INSERT trigger compares first (the row is in v1 already) instead of
    inserting it again."""
    migration = _auto_increment_migration(tmp_path, "session__trial", "trial_idx")
    sync = {d.v2: d.two_way for d in migration.directions}
    assert sync["lab_v2.session__trial"], [d.line for d in migration.directions]
    text = _file(migration, "30_dualwrite.sql")
    issue = _trigger(text, "djsqlgen_lab_two_way_session__trial_iid_to_v1")
    assert "BEFORE INSERT ON `lab_v2`.`session__trial`" in issue
    assert "IF (NEW.`trial_idx` IS NULL OR NEW.`trial_idx` = 0) AND NOT v_in_carry" in issue
    assert "(NEW.`subject_id`, NEW.`session_idx`, NULL, " in issue
    assert "SET NEW.`trial_idx` = LAST_INSERT_ID();" in issue
    assert "W6" in issue  # refused before 60, as every v2 write
    # the forward carry of that insert fails with 1442 (v2's table is in use by the statement): let pass only then
    forward = _trigger(text, "djsqlgen_lab_two_way_session__trial_ins")
    assert ("DECLARE CONTINUE HANDLER FOR 1442 BEGIN IF NOT (@djsqlgen_issuing <=> NOW(6)) THEN RESIGNAL; END IF; "
            "END;") in " ".join(forward.split()), forward
    back = _trigger(text, "djsqlgen_lab_two_way_session__trial_ins_to_v1")
    assert "IF v_in_carry OR @djsqlgen_issued <=> CONCAT(NOW(6), ' ', NEW.`trial_idx`) THEN" in back
    # a table without one has no such trigger
    assert "djsqlgen_lab_two_way_session_iid_to_v1" not in text
    assert "@djsqlgen_issuing" not in _trigger(text, "djsqlgen_lab_two_way_session_ins")


def test_an_auto_increment_key_v2_retypes_stays_one_way_saying_why(tmp_path):
    """A retyped AUTO_INCREMENT column is no AUTO_INCREMENT in v2: its ids cannot all come from v1's counter."""
    migration = _auto_increment_migration(tmp_path, "session", "session_idx")
    why = {d.v2: d.why for d in migration.directions if not d.two_way}
    assert "AUTO_INCREMENT 'session_idx' is not v2's own AUTO_INCREMENT key" in why["lab_v2.session"], why
    assert "iid_to_v1" not in _file(migration, "30_dualwrite.sql")


def test_an_auto_increment_key_of_a_table_that_reads_a_lookup_back_stays_one_way(tmp_path):
    """v1's row of a v2 row that refers to a lookup is made with the lookup row's values: v2's BEFORE INSERT could not
    insert it into v1 from NEW alone, so v1's counter cannot issue its ids (nor v2's, which would hand out one twice)."""
    migration = _lookup_migration(tmp_path)
    assert {d.v2: d.two_way for d in migration.directions}["lab_v2.session"]  # (without an AUTO_INCREMENT: two-way)
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan.read_text().replace("session_idx: {type: int}", "session_idx: keep"))
    heading = json.loads((PLANS / "heading.json").read_text())
    session = next(t for s in heading["schemas"] for t in s["tables"]
                   if s["name"] == "lab_v1" and t["name"] == "session")
    session["indexes"] = []
    next(a for a in session["attributes"] if a["name"] == "session_idx")["auto_increment"] = True
    migration = Migration(load_plan(plan), Catalog.from_json(json.dumps(heading)))
    why = {d.v2: d.why for d in migration.directions if not d.two_way}
    assert "AUTO_INCREMENT 'session_idx' is not v2's own AUTO_INCREMENT key" in why["lab_v2.session"], why
    assert "iid_to_v1" not in _file(migration, "30_dualwrite.sql")


def test_each_client_row_is_counted_once_in_its_direction_and_never_for_an_echo_or_the_engine():
    """The carried count: at the end of a client's own write only (not inside a carried one), outside the engine's
    sessions, in the trigger's direction; an UPDATE counts a row it changed; 30 makes the table, rollback/30 drops it."""
    migration = _migration("two_way")
    text = _file(migration, "30_dualwrite.sql")
    for name, direction, table in (("djsqlgen_lab_two_way_session_ins", "v1>v2", "lab_v1.session"),
                                   ("djsqlgen_lab_two_way_session_upd_to_v1", "v2>v1", "lab_v2.session")):
        body = _trigger(text, name)
        end = body[body.rindex("IF NOT v_in_carry THEN"):]
        assert "SET @djsqlgen_carry = NULL;\n    IF @djsqlgen_engine_session IS NULL THEN" in end, name
        assert f"VALUES (CONNECTION_ID(), '{direction}', '{table}', 1)" in end, name
        assert body.count("`carried`") == 1, name
    before_count = _trigger(text, "djsqlgen_lab_two_way_session_upd_to_v1").split("`carried`")[0]
    assert "IF NOT (" in before_count[-400:] and "<=> NEW.`subject_id`) THEN" in before_count[-400:]
    assert "CREATE TABLE IF NOT EXISTS `djsqlgen_lab_two_way`.`carried`" in text
    assert "DROP TABLE IF EXISTS `djsqlgen_lab_two_way`.`carried`" in _file(migration, "rollback/30_dualwrite.sql")


def test_a_forward_update_reads_sixty_only_where_a_key_moves():
    """60's read serves only a key move (v2's ON UPDATE CASCADE moves the children from 60 on): read with the sides
    row, it cost every UPDATE a subquery on phase_log, and most UPDATEs move no key (before: in the sides read)."""
    text = _file(_migration("two_way"), "30_dualwrite.sql")
    for name in ("djsqlgen_lab_two_way_subject_upd", "djsqlgen_lab_two_way_session_upd"):
        body = _trigger(text, name)
        read = body[body.index("SELECT is_open, closed_at"):body.index("LOCK IN SHARE MODE")]
        assert "phase_log" not in read and "v_sixty" not in read, read
        first = body.index("SELECT COUNT(*) INTO v_sixty FROM")
        assert body.index("IF NOT (OLD.") < first  # inside the branch of a changed key
        assert not body[first:body.index(";", first)].endswith("LOCK IN SHARE MODE")  # consistent, then confirmed
