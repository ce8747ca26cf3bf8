"""Preset dj014-to-dj2 without a server: each 0.14 column's 2.x declaration, the preset's plan, and the
size limits a character-set change can break."""

from __future__ import annotations

from dataclasses import replace

import pytest

from djsqlgen.catalog.heading import Attribute, Catalog, ForeignKey, Index, Schema, Server, Table
from djsqlgen.catalog.types import split_comment
from djsqlgen.ops import build_model
from djsqlgen.ops.invariants import size_problems
from djsqlgen.plan import PresetSpec, parse_plan
from djsqlgen.plan.init import identity_plan
from djsqlgen.presets.dj2 import dj2_column
from djsqlgen.presets.lineage import lineage_rows


def attr(name: str, sql_type: str, comment: str = "", nullable: bool = False, in_key: bool = False,
         auto_increment: bool = False, default: str | None = None, charset: str | None = None) -> Attribute:
    marker, text = split_comment(comment)
    return Attribute(name, sql_type, nullable, default, auto_increment, text, marker, in_key, charset,
                     f"{charset}_swedish_ci" if charset == "latin1" else None)


# (v1 column type, comment) -> (v2 SQL type, marker) with unsigned: widen
WIDEN = [
    ("tinyint(4)", "", "tinyint", "int8"),
    ("tinyint(1)", "", "tinyint", "bool"),  # 0.14 `bool` (MySQL's alias); 2.x declares `bool` as tinyint
    ("tinyint(1) unsigned", "", "smallint", "int16"),
    ("tinyint(3) unsigned", "", "smallint", "int16"),
    ("smallint(6)", "", "smallint", "int16"),
    ("smallint(5) unsigned", "", "int", "int32"),
    ("mediumint(9)", "", "int", "int32"),
    ("mediumint(8) unsigned", "", "int", "int32"),
    ("int(11)", "", "int", "int32"),
    ("int(10) unsigned", "", "bigint", "int64"),
    ("bigint(20)", "", "bigint", "int64"),
    ("bigint(20) unsigned", "", "bigint(20) unsigned", None),
    ("float", "", "float", "float32"),
    ("float unsigned", "", "float", "float32"),
    ("double", "Hz", "double", "float64"),
    ("float(7,3)", "", "float(7,3)", None),
    ("decimal(6,2)", "", "decimal(6,2)", "decimal(6,2)"),
    ("decimal(6,2) unsigned", "", "decimal(6,2)", "decimal(6,2)"),
    ("varchar(32)", "", "varchar(32)", "varchar(32)"),
    ("char(4)", "", "char(4)", "char(4)"),
    ("enum('M','F','U')", "", "enum('M','F','U')", "enum('M','F','U')"),
    ("date", "", "date", "date"),
    ("datetime", "", "datetime", "datetime"),
    ("datetime(3)", "", "datetime(3)", "datetime(3)"),
    ("timestamp", "", "timestamp", None),
    ("time", "", "time", None),
    ("text", "", "text", None),
    ("json", "", "json", "json"),
    ("longblob", "", "longblob", "<blob>"),
    ("mediumblob", "", "longblob", "<blob>"),
    ("blob", "", "longblob", "<blob>"),
    ("longblob", ":attach:a file", "longblob", "<attach>"),
    ("binary(16)", ":uuid:an id", "binary(16)", "uuid"),
    ("longblob", ":<graph>:adapted", "longblob", "<graph>"),
    ("binary(16)", ":blob@raw:", "json", "<blob@raw>"),
    ("binary(16)", ":attach@raw:", "json", "<attach@raw>"),
    ("binary(16)", ":filepath@raw:", "json", "<filepath@raw>"),
]


@pytest.mark.parametrize(("sql_type", "comment", "v2_type", "marker"), WIDEN, ids=[f"{t} {c}" for t, c, *_ in WIDEN])
def test_each_column_gets_the_type_and_marker_dj2_declares(sql_type, comment, v2_type, marker):
    column = dj2_column(attr("x", sql_type, comment))
    assert (column.sql_type, column.marker) == (v2_type, marker)


def test_unsigned_keep_native_keeps_the_type_without_a_marker_and_says_so():
    column = dj2_column(attr("x", "int(10) unsigned"), "keep-native")
    assert (column.sql_type, column.marker) == ("int(10) unsigned", None) and "keep-native" in column.note
    assert "no wider signed core type" in dj2_column(attr("x", "bigint(20) unsigned")).note


def test_auto_increment_stays_a_native_integer():
    column = dj2_column(attr("x", "int(11)", auto_increment=True))
    assert (column.sql_type, column.marker) == ("int(11)", None)


def _catalog(tables: list[Table], charset: str = "latin1") -> Catalog:
    server = Server("mariadb", "10.11.19-MariaDB", "", False, "ROW", False)
    return Catalog(server, (Schema("lab", charset, f"{charset}_swedish_ci", tuple(tables)),))


def _table(name: str, attributes: list[Attribute], key: tuple[str, ...], **kw) -> Table:
    return Table("lab", name, "manual", name.title(), None, "", 0, "InnoDB", "latin1", "latin1_swedish_ci",
                 tuple(attributes), key, **kw)


def _model(catalog: Catalog, edit=None):
    text = identity_plan(catalog, [("lab", "lab_v2")], "lab", "dj014-to-dj2")
    if edit:
        text = edit(text)
    return build_model(parse_plan(text), catalog).model


def test_plan_init_writes_the_preset_and_leaves_0_14_tables_in_v1():
    catalog = _catalog([_table("subject", [attr("subject_id", "int(10) unsigned", in_key=True)], ("subject_id",)),
                        _table("~log", [attr("timestamp", "timestamp", in_key=True)], ("timestamp",))])
    text = identity_plan(catalog, [("lab", "lab_v2")], "lab", "dj014-to-dj2")
    plan = parse_plan(text)
    assert plan.preset == PresetSpec(name="dj014-to-dj2", collation="utf8mb4_general_ci")
    assert plan.schemas[0].tables["~log"] == "drop"
    assert "int unsigned widened to int64: lab.subject.subject_id" in text


def test_text_moves_to_utf8mb4_and_a_foreign_key_column_loses_its_marker():
    parent = _table("#kind", [attr("kind", "varchar(16)", in_key=True, charset="latin1")], ("kind",))
    child = _table("subject", [attr("subject_id", "int(11)", in_key=True),
                               attr("kind", "varchar(16)", "what kind", charset="latin1")], ("subject_id",),
                   foreign_keys=(ForeignKey("subject_ibfk_1", ("kind",), "lab", "#kind", ("kind",), "CASCADE",
                                            "RESTRICT"),))
    model = _model(_catalog([parent, child]))
    subject = model.target("lab.subject")
    kind = subject.column("kind").decl
    assert (kind.sql_type, kind.comment, kind.charset, kind.collation) == ("varchar(16)", "what kind", "utf8mb4",
                                                                            "utf8mb4_general_ci")
    assert subject.column("subject_id").decl.comment == ":int32:"
    assert (subject.charset, subject.collation) == ("utf8mb4", "utf8mb4_general_ci")
    assert lineage_rows(model)["lab_v2"] == [("#kind", "kind", "lab_v2.#kind.kind"),
                                             ("subject", "kind", "lab_v2.#kind.kind"),
                                             ("subject", "subject_id", "lab_v2.subject.subject_id")]


def test_a_row_or_key_that_utf8mb4_makes_too_long_is_refused_naming_the_fix():
    wide = _table("note", [attr("note_id", "int(11)", in_key=True),
                           attr("a", "varchar(9000)", charset="latin1"), attr("b", "varchar(9000)", charset="latin1"),
                           attr("c", "varchar(1000)", charset="latin1")],
                  ("note_id",), indexes=(Index("c_unique", ("c",), True),))
    catalog = _catalog([wide])
    assert size_problems(build_model(parse_plan(identity_plan(catalog, [("lab", "lab_v2")], "lab")),
                                     catalog).model.target("lab.note")) == []  # latin1: fits
    with pytest.raises(Exception) as refused:
        _model(catalog)
    message = "\n".join(refused.value.problems)
    assert "row would take up to 76," in message and "type: text" in message
    assert "index 'c_unique' (c) would take 4,000 bytes" in message
    # keeping latin1 for both columns is the fix the message names, and it passes
    model = _model(catalog, lambda t: t.replace("      a: keep", "      a: {charset: latin1, collation: "
                                                                    "latin1_swedish_ci}")
                   .replace("      c: keep", "      c: {charset: latin1, collation: latin1_swedish_ci}"))
    assert size_problems(model.target("lab.note")) == []


def _parent_child(parent_key: Attribute, photo: str = "blob") -> Catalog:
    parent = _table("subject", [parent_key, attr("weight", "float", "grams", nullable=True),
                                attr("photo", "binary(16)", f":{photo}@raw:a photo", nullable=True)], ("subject_id",),
                    foreign_keys=(ForeignKey("subject_photo", ("photo",), "lab", "~external_raw", ("hash",), "RESTRICT",
                                             "RESTRICT"),))
    external = _table("~external_raw", [attr("hash", "binary(16)", ":uuid:", in_key=True),
                                        attr("size", "bigint(20) unsigned")], ("hash",))
    child = _table("session", [attr("subject_id", parent_key.sql_type, in_key=True),
                               attr("session_id", "smallint(5) unsigned", in_key=True)], ("subject_id", "session_id"),
                   foreign_keys=(ForeignKey("session_ibfk_1", ("subject_id",), "lab", "subject", ("subject_id",),
                                            "CASCADE", "RESTRICT"),))
    return _catalog([external, parent, child])


def test_a_column_a_foreign_key_brings_takes_its_parents_v2_type():
    """Found in review: the child's column was mapped from its own v1 type, so an auto_increment parent (kept native)
    and a child widened to bigint could not be joined by a foreign key at 60."""
    model = _model(_parent_child(attr("subject_id", "int(10) unsigned", in_key=True, auto_increment=True)))
    parent, child = model.target("lab.subject"), model.target("lab.session")
    assert parent.column("subject_id").decl.sql_type == child.column("subject_id").decl.sql_type == "int(10) unsigned"
    assert child.column("subject_id").decl.comment == ""
    # a parent the plan retypes: the child follows, with no refusal
    model = _model(_parent_child(attr("subject_id", "int(11)", in_key=True)),
                   lambda t: t.replace("subject_id: keep\n        weight", "subject_id: {type: bigint}\n        weight", 1))
    assert model.target("lab.subject").column("subject_id").decl.comment == ":int64:"
    assert model.target("lab.session").column("subject_id").decl.sql_type == "bigint"


def test_the_plans_own_type_and_comment_keep_the_2x_marker_right():
    """Found in review: a plan's `type:` left the old marker, and its `comment:` dropped the marker (an external
    column became plain json to 2.x)."""
    catalog = _parent_child(attr("subject_id", "int(11)", in_key=True))
    model = _model(catalog, lambda t: t.replace("      weight: keep", "      weight: {type: double, comment: in g}")
                   .replace("      photo: keep", "      photo: {comment: the best photo}"))
    subject = model.target("lab.subject")
    assert (subject.column("weight").decl.sql_type, subject.column("weight").decl.comment) == ("double", ":float64:in g")
    assert subject.column("photo").decl.comment == ":<blob@raw>:the best photo"
    with pytest.raises(Exception) as refused:
        _model(catalog, lambda t: t.replace("      photo: keep", "      photo: {type: longblob}"))
    assert "photo.type: the preset makes 'photo' 2.x <blob@raw> JSON" in "\n".join(refused.value.problems)


def test_review_findings_on_sizes_statements_and_final_names():
    from djsqlgen.catalog.sqltypes import max_bytes
    from djsqlgen.errors import DjsqlgenError
    from djsqlgen.output.sqlfile import _check

    # the server's sizes: 9 digits in 4 bytes, the rest by its table (decimal(6,2): 2 + 1)
    assert [max_bytes(t, None) for t in ("decimal(6)", "decimal", "decimal(6,2)", "decimal(20,10)")] == [3, 5, 3, 10]
    assert max_bytes("varchar(10)", "gbk") == 21
    with pytest.raises(DjsqlgenError):
        _check("SELECT 1--1; SELECT 2", False, "x")  # `--1` is not a comment: two statements
    _check("SELECT 1 -- a comment; not a statement\nFROM DUAL", False, "y")
    catalog = _catalog([_table("subject", [attr("subject_id", "int(11)", in_key=True)], ("subject_id",))])
    text = identity_plan(catalog, [("lab", "lab_v2")], "lab", "dj014-to-dj2")
    plan = parse_plan(text.replace("rename_to_final: false", "rename_to_final: true")
                      .replace("target: lab_v2", "target: lab_v2\n  final: lab_2x"))
    assert build_model(plan, catalog).model  # one schema with a final of its own: fine
    two = _catalog([_table("subject", [attr("subject_id", "int(11)", in_key=True)], ("subject_id",))])
    two = Catalog(two.server, (*two.schemas, Schema("lab2", "latin1", "latin1_swedish_ci", ())))
    text = identity_plan(two, [("lab", "lab_v2"), ("lab2", "lab2_v2")], "lab", "dj014-to-dj2")
    plan = parse_plan(text.replace("rename_to_final: false", "rename_to_final: true")
                      .replace("target: lab_v2", "target: lab_v2\n  final: merged")
                      .replace("target: lab2_v2", "target: lab2_v2\n  final: merged"))
    with pytest.raises(Exception) as refused:
        build_model(plan, two)
    assert "schemas.lab.final: 'merged' is also another v2 schema's final" in "\n".join(refused.value.problems)


def test_files_writes_2x_attachments_checksummed_resumable_and_leaves_a_changed_source_alone(tmp_path):
    import hashlib

    from djsqlgen.run.files import carry_out

    (tmp_path / "lab/ab/cd").mkdir(parents=True)
    good, changed = tmp_path / "lab/ab/cd/h1.report.txt", tmp_path / "lab/ab/cd/h2.notes.txt"
    good.write_bytes(b"contents " * 300_000)  # larger than a chunk
    changed.write_bytes(b"edited after attaching")

    def row(path, name, original):
        return {"store": "s", "source_path": str(path.relative_to(tmp_path)), "target_path": f"_hash/lab/{name}",
                "md5": hashlib.md5(name.encode() + b"\0" + original).hexdigest(), "attachment_name": name}

    rows = [row(good, "report.txt", good.read_bytes()), row(changed, "notés.txt", b"as attached"),
            row(tmp_path / "lab/gone.bin", "gone.bin", b"")]
    report = carry_out(rows, {"s": tmp_path})
    assert (report.written, report.present, len(report.problems)) == (1, 0, 2)
    assert (tmp_path / "_hash/lab/report.txt").read_bytes() == b"report.txt\0" + good.read_bytes()
    assert not (tmp_path / "_hash/lab/notés.txt").exists() and not list(tmp_path.rglob("*.djsqlgen-partial"))
    assert "do not match the md5" in report.problems[0] and "not there" in report.problems[1]
    again = carry_out(rows[:1], {"s": tmp_path})  # a second run finds it in place
    assert (again.written, again.present) == (0, 1)


def test_a_store_with_other_0_14_subfolding_points_at_its_files():
    """0.14's `subfolding` is a store setting ((2, 2) unless the lab set another): the JSON's path must follow it."""
    catalog = _parent_child(attr("subject_id", "int(11)", in_key=True))
    default = _model(catalog).target("lab.subject").column("photo").expr.render()
    assert "SUBSTRING(LOWER(HEX(`src`.`photo`)), 3, 2)" in default
    model = _model(catalog, lambda t: t.replace("  subfolding: {}\n", "  subfolding: {raw: [1]}\n", 1))
    folded = model.target("lab.subject").column("photo").expr.render()
    assert "SUBSTRING(LOWER(HEX(`src`.`photo`)), 1, 1), '/', LOWER(HEX(" in folded and ", 3, 2)" not in folded


def test_markers_follow_the_finished_models_foreign_keys():
    """Found in review: the preset decided markers from v1's foreign keys, so a lookup's reference kept its marker
    (2.x declares `-> Lookup` without one) and a column whose reference the plan drops stayed unmarked."""
    catalog = _parent_child(attr("subject_id", "int(11)", in_key=True))
    subject = _table("subject", [attr("subject_id", "int(11)", in_key=True), attr("kind", "varchar(16)")],
                     ("subject_id",))
    model = _model(_catalog([subject]), lambda t: t.replace("      lookups: []", "      lookups: [{table: '#kind', "
                                                                               "key: [kind]}]", 1))
    assert model.target("lab.subject").column("kind").decl.comment == ""
    assert model.target("lab.#kind").column("kind").decl.comment == ":varchar(16):"
    model = _model(catalog, lambda t: t.replace("      drop_references: []\n      lookups: []\n      parts: []\n"
                                                "      merge_into_master: false\n      split: []\n    session:",
                                                "      drop_references: []\n      lookups: []\n      parts: []\n"
                                                "      merge_into_master: false\n      split: []\n    session:", 1)
                   .replace("        session_id: keep\n      add: {}\n      joins: {}\n      add_parents: []\n"
                            "      drop_references: []", "        session_id: keep\n      add: {}\n      joins: {}\n"
                            "      add_parents: []\n      drop_references: [subject]", 1))
    assert model.target("lab.session").column("subject_id").decl.comment == ":int32:"


def test_a_record_that_utf8mb4_makes_too_big_for_an_innodb_page_is_refused():
    """Found in review: short latin1 strings stay whole in InnoDB's record, four times longer in utf8mb4; measured
    on MariaDB 10.11 (strict mode, 16 KiB pages): an int key and 32 varchar(63) utf8mb4 create, 33 fail with 1118."""
    def table(n: int) -> Table:
        return _table("wide", [attr("id", "int(11)", in_key=True),
                               *(attr(f"c{i}", "varchar(63)", charset="latin1") for i in range(n))], ("id",))

    assert size_problems(_model(_catalog([table(32)])).target("lab.wide")) == []
    with pytest.raises(Exception) as refused:
        _model(_catalog([table(33)]))
    assert "record would take up to 8,37" in "\n".join(refused.value.problems)
    assert size_problems(build_model(parse_plan(identity_plan(_catalog([table(33)]), [("lab", "lab_v2")], "lab")),
                                     _catalog([table(33)])).model.target("lab.wide")) == []  # latin1 fits


def _two_parents(first: str, second: str) -> Catalog:
    """An event keyed through two foreign keys, declared `-> <first>` then `-> <second>` (0.14 and 2.x put the
    first parent's key, then the second's new attributes)."""
    ints = {"subject_id": "int(10) unsigned", "session_id": "smallint(5) unsigned", "block_id": "tinyint(3) unsigned",
            "trial_id": "int(11)"}
    own = {"block": "block_id", "trial": "trial_id"}

    def keyed(name, *key, fks=()):
        return _table(name, [attr(k, ints[k], in_key=True) for k in key], key, foreign_keys=fks)

    def fk(child, n, parent, columns):
        return ForeignKey(f"{child}_ibfk_{n}", columns, "lab", parent, columns, "CASCADE", "RESTRICT")

    session = keyed("session", "subject_id", "session_id")
    parents = [keyed(p, "subject_id", "session_id", own[p], fks=(fk(p, 1, "session", ("subject_id", "session_id")),))
               for p in ("block", "trial")]
    key = ("subject_id", "session_id", own[first], own[second])
    event = keyed("event", *key, fks=(fk("event", 1, first, key[:3]), fk("event", 2, second, key[:2] + key[3:])))
    return _catalog([session, *parents, event])


@pytest.mark.parametrize(("first", "second"), [("block", "trial"), ("trial", "block")])
def test_a_key_through_two_foreign_keys_keeps_v1s_order_and_its_definition_declares_it(first, second):
    """Issue 23: the preset's reworking of inherited columns put the second foreign key's attributes first
    (`... trial_id, block_id` where v1 and 2.x have `... block_id, trial_id`); the definition written for 2.x must
    declare the same order (the foreign key whose attributes come first, first)."""
    from djsqlgen.presets.definitions import dj2_definition

    catalog = _two_parents(first, second)
    model = _model(catalog)
    event = model.target("lab.event")
    v1_key = catalog.schemas[0].tables[-1].primary_key
    assert event.primary_key == v1_key
    assert [c.name for c in event.columns] == list(v1_key)
    lines = dj2_definition(model, event).definition.splitlines()
    assert lines == [f"-> {first.title()}", f"-> {second.title()}"]


def test_a_mariadb_json_column_is_2x_json_with_its_check_and_binary_collation():
    """Issue 23: on MariaDB 0.14's `json` is a longtext with a json_valid check; v2 declared plain longtext in the
    plan's collation where 2.x declares `json` (longtext utf8mb4_bin with the same check, marker :json:)."""
    from djsqlgen.catalog.heading import Check

    table = _table("trial", [attr("trial_id", "int(11)", in_key=True),
                             attr("params", "longtext", "settings", charset="utf8mb4"),
                             attr("raw", "longtext", charset="latin1")], ("trial_id",),
                   checks=(Check("params", "json_valid(`params`)"),))
    table = replace(table, attributes=tuple(replace(a, collation="utf8mb4_bin") if a.name == "params" else a
                                            for a in table.attributes))
    model = _model(_catalog([table]))
    trial = model.target("lab.trial")
    params, raw = trial.column("params").decl, trial.column("raw").decl
    assert (params.sql_type, params.comment, params.charset, params.collation) == (
        "longtext", ":json:settings", "utf8mb4", "utf8mb4_bin")
    assert (raw.sql_type, raw.comment, raw.collation) == ("longtext", "", "utf8mb4_general_ci")  # no check: text
    assert trial.checks == (("params", "json_valid(`params`)"),)
    # a plan's own comment keeps the marker
    model = _model(_catalog([table]), lambda t: t.replace("      params: keep", "      params: {comment: knobs}"))
    assert model.target("lab.trial").column("params").decl.comment == ":json:knobs"


def test_a_character_set_djsqlgen_does_not_know_counts_four_bytes_a_character():
    """Issue 23: an unknown character set counted as 0 bytes, so the row-size check let through a table the server
    refuses. It is now counted at 4 bytes a character, the most any character set takes."""
    from djsqlgen.catalog.sqltypes import max_bytes

    assert max_bytes("varchar(10)", "newcs") == 41 and max_bytes("char(10)", "newcs", in_key=True) == 40
    wide = _table("note", [attr("note_id", "int(11)", in_key=True),
                           *(attr(c, "varchar(9000)", charset="newcs") for c in "ab")], ("note_id",))
    catalog = _catalog([wide])
    with pytest.raises(Exception) as refused:
        build_model(parse_plan(identity_plan(catalog, [("lab", "lab_v2")], "lab")), catalog)
    assert "row would take up to 72,008 bytes" in "\n".join(refused.value.problems)


def test_two_way_preset_says_why_each_table_syncs_one_way_and_w7_names_table_and_reason():
    """Found by tests/integration/test_two_way_preset.py: W7 ran the plan keys of every reason together, so a 2.x
    user writing a table with an external blob read '…ubject: syncs one way (its rows read other v1 tables (joins);
    schemas.lab.tables.subject.columns.' and neither the table's name nor why."""
    import re

    from djsqlgen.output.generate import Migration
    from djsqlgen.output.sqlfile import render_file
    from djsqlgen.sqltext.messages import SIGNAL_LIMIT

    catalog = _parent_child(attr("subject_id", "int(11)", in_key=True))
    subject = catalog.schemas[0].table("subject")
    with_rig = replace(subject, attributes=subject.attributes + (attr("rig", "varchar(16)", "the rig"),))
    catalog = _catalog([with_rig if t.name == "subject" else t for t in catalog.schemas[0].tables])
    text = identity_plan(catalog, [("lab", "a_long_lab_schema_name_v2")], "a_long_plan_name", "dj014-to-dj2")
    assert "rig: keep" in text
    text = text.replace("rig: keep", "rig: drop")
    migration = Migration(parse_plan(text.replace("\nschemas:", "\nsync: two-way\nschemas:", 1)), catalog)
    ways = {d.v2.split(".")[1]: d for d in migration.directions}
    assert not ways["subject"].two_way
    assert "columns.rig: v1 column 'rig' is not in v2 and has no default" in ways["subject"].why  # plan check's
    assert ways["subject"].brief == ("v1 column 'rig' is not in v2 and has no default: a row written to v2 cannot "
                                     "give v1 its value (give it an `inverse:` in the plan or a default in v1, or "
                                     "keep the column)")
    # below it, session syncs both ways: its key column follows subject's retyped key as a plain copy of its own v1
    # column, and v1's own ON UPDATE CASCADE moves it with subject's (it said "v2 key column 'subject_id' follows its
    # parent's key, and that parent does not sync back" before)
    assert ways["session"].two_way, ways["session"]
    dualwrite = next(f for f in migration.files() if f.filename == "30_dualwrite.sql" and not f.rollback_of)
    messages = set(re.findall(r"MESSAGE_TEXT = '(djsqlgen W7 (?:[^']|'')*)'", render_file(dualwrite, migration.meta())))
    assert messages == {  # the table, the way out, the reason (cut at the end where it must be)
        ("djsqlgen W7 a_long_lab_schema_name_v2.subject: write to v1; syncs one way: v1 column ''rig'' is not in v2 "
         "and has no default: a r…")}, messages
    assert all(len(m.replace("''", "'")) <= SIGNAL_LIMIT for m in messages)


def test_two_way_preset_carries_external_blobs_attachments_and_filepaths_back():
    """Issue 24: a 2.x <blob@store> or <attach@store> goes back to 0.14 (its reference from the JSON; 2.x's own copy gets
    an ~external row inserted by the reverse trigger before v1's row; an attachment's 0.14 file is listed in
    files_back_manifest.sql, and 70 refuses while one is); and a <filepath@store>."""
    from djsqlgen.output.generate import Migration
    from djsqlgen.output.sqlfile import render_file

    def migration(kind: str) -> Migration:
        catalog = _parent_child(attr("subject_id", "int(11)", in_key=True), photo=kind)
        text = identity_plan(catalog, [("lab", "lab_v2")], "p", "dj014-to-dj2")
        return Migration(parse_plan(text.replace("\nschemas:", "\nsync: two-way\nschemas:", 1)), catalog)

    blob = migration("blob")
    assert [d.line for d in blob.directions] == ["lab_v2.subject <-> lab.subject: two-way",
                                                 "lab_v2.session <-> lab.session: two-way"]
    dualwrite = render_file(next(f for f in blob.files() if f.filename == "30_dualwrite.sql" and not f.rollback_of),
                            blob.meta())
    assert "INSERT INTO `lab`.`~external_raw` (`hash`, `size`, `filepath`)" in dualwrite
    assert "ON DUPLICATE KEY UPDATE `hash` = `hash`" in dualwrite
    assert "DELETE FROM `lab`.`~external_raw`" not in dualwrite
    assert "files --reverse" not in dualwrite and not blob.attachments_back
    attach = migration("attach")
    assert [d.two_way for d in attach.directions] == [True, True]
    dualwrite = render_file(next(f for f in attach.files() if f.filename == "30_dualwrite.sql" and not f.rollback_of),
                            attach.meta())
    assert "INSERT INTO `lab`.`~external_raw` (`hash`, `size`, `filepath`)" in dualwrite
    assert "`djsqlgen files --reverse` writes 0.14's file" in dualwrite
    (back,) = attach.attachments_back
    assert (back.schema, back.store, back.referring) == ("lab", "raw", (("subject", "photo"),))
    cutover = render_file(next(f for f in attach.files() if f.filename == "70_cutover.sql" and not f.rollback_of),
                          attach.meta())
    assert "run `djsqlgen files --reverse` first" in cutover and "r.`photo` = e.`hash`" in cutover
    # a filepath goes back too (it stayed one-way: its JSON has no md5 and a timestamp with microseconds): an
    # ~external row keyed by the md5 of the path, its JSON kept as written in the control schema and preferred by
    # the way forward; files --reverse fills contents_hash, and 70 refuses until it has
    filepath = migration("filepath")
    assert [d.line for d in filepath.directions] == ["lab_v2.subject <-> lab.subject: two-way",
                                                     "lab_v2.session <-> lab.session: two-way"]
    dualwrite = render_file(next(f for f in filepath.files() if f.filename == "30_dualwrite.sql"
                                 and not f.rollback_of), filepath.meta())
    assert "INSERT INTO `lab`.`~external_raw` (`hash`, `size`, `filepath`)" in dualwrite
    assert "CREATE TABLE IF NOT EXISTS `djsqlgen_p`.`filepath_json`" in dualwrite, dualwrite[:3000]
    assert "INSERT INTO `djsqlgen_p`.`filepath_json`" in dualwrite
    # a path latin1 (v1's ~external table here) cannot hold is refused as W5, naming the column (it failed with the
    # server's 1366, "W0 dual-write into …": found in review)
    assert "CAST(CONVERT(CONVERT(JSON_UNQUOTE(JSON_EXTRACT(NEW.`photo`, '$.path')) USING latin1) USING utf8mb4) AS " \
           "BINARY)" in dualwrite
    assert "SELECT k.`json` FROM `djsqlgen_p`.`filepath_json` AS k" in dualwrite  # the forward trigger prefers it
    cutover = render_file(next(f for f in filepath.files() if f.filename == "70_cutover.sql" and not f.rollback_of),
                          filepath.meta())
    assert "filepaths_back_manifest.sql first" in cutover and "e.`contents_hash` IS NULL" in cutover
    # plan check's round trip runs before 30 made the table: it does not read it
    assert not any("filepath_json" in str(c) for c in filepath.data_checks)
    # MySQL: v2's column is native JSON, which a string never equals: the value v1 gives back is compared as JSON
    # (found in review: every 2.x filepath was refused there)
    assert ") = NEW.`photo`) THEN" in dualwrite and "AS JSON) = NEW" not in dualwrite
    catalog = _parent_child(attr("subject_id", "int(11)", in_key=True), photo="filepath")
    catalog = replace(catalog, server=replace(catalog.server, flavour="mysql", version="8.0.36"))
    text = identity_plan(catalog, [("lab", "lab_v2")], "p", "dj014-to-dj2")
    on_mysql = Migration(parse_plan(text.replace("\nschemas:", "\nsync: two-way\nschemas:", 1)), catalog)
    dualwrite = render_file(next(f for f in on_mysql.files() if f.filename == "30_dualwrite.sql"
                                 and not f.rollback_of), on_mysql.meta())
    assert " AS JSON) = NEW.`photo`) THEN" in dualwrite
