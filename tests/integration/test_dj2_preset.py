"""Preset dj014-to-dj2 on a real DataJoint 0.14 pipeline (latin1, every 0.14 type, an external file store):
migrated with the CLI while 0.14 clients write, then DataJoint 2.3 reads every v2 row as 0.14 reads v1,
declares each table itself from the definitions djsqlgen gives and gets the same tables, and computes the
same ~lineage, before and after a cut-over that renames the schemas."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import yaml
from support.engine import (
    SUPPORT,
    bulk_fill,
    dj014_writers,
    dj2_graph,
    djsqlgen,
    load_manifest,
    run_dj014,
    write_plan,
)

SHAPE_COLUMNS = ("ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, COLUMN_COMMENT, "
                 "CHARACTER_SET_NAME, COLLATION_NAME, EXTRA, COLUMN_KEY")


def _ok(result: subprocess.CompletedProcess, what: str) -> str:
    assert result.returncode == 0, f"{what}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def _dj2(script: str, args: list[str], env) -> str:
    return _ok(subprocess.run([sys.executable, str(SUPPORT / script), *args], env=env, capture_output=True,
                              text=True, check=False), script)


def read_v1(python, schemas: list[str], store: Path, env) -> dict:
    """Every v1 row as 0.14 reads it; a json attribute decoded (0.14 on MariaDB sees a longtext and hands out the
    text, 2.x decodes it)."""
    tables = json.loads(run_dj014(python, "dj014_read.py", ["--schemas", ",".join(schemas), "--store-dir", str(store)],
                                  env))
    if "block" in tables:
        tables["block"] = sorted(json.dumps({**row, "block_settings": json.loads(row["block_settings"])
                                             if isinstance(row["block_settings"], str) else row["block_settings"]},
                                            sort_keys=True) for row in map(json.loads, tables["block"]))
    return tables


def read_v2(schemas: list[str], store: Path, env) -> dict:
    return json.loads(_dj2("dj2_read014.py", ["--schemas", ",".join(schemas), "--store-dir", str(store)], env))


def table_shapes(db, schema: str, renamed: dict[str, str]) -> dict:
    """Every table of ``schema`` as information_schema describes it: columns, options, foreign keys, indexes."""
    shapes: dict = {}
    for row in db.query(f"SELECT TABLE_NAME, {SHAPE_COLUMNS} FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                        "ORDER BY TABLE_NAME, ORDINAL_POSITION", [schema]):
        shapes.setdefault(row.pop("TABLE_NAME"), {"columns": []})["columns"].append(row)
    for row in db.query("SELECT TABLE_NAME, TABLE_COLLATION, TABLE_COMMENT, ENGINE FROM information_schema.TABLES "
                        "WHERE TABLE_SCHEMA = %s", [schema]):
        shapes[row.pop("TABLE_NAME")]["table"] = row
    for row in db.query(
            "SELECT k.TABLE_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, "
            "k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE FROM information_schema.KEY_COLUMN_USAGE k "
            "JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA "
            "AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME WHERE k.TABLE_SCHEMA = %s ORDER BY 1, 2", [schema]):
        parent = renamed.get(row["REFERENCED_TABLE_SCHEMA"], row["REFERENCED_TABLE_SCHEMA"])
        shapes[row["TABLE_NAME"]].setdefault("foreign_keys", []).append(
            (row["COLUMN_NAME"], parent, row["REFERENCED_TABLE_NAME"], row["REFERENCED_COLUMN_NAME"],
             row["UPDATE_RULE"], row["DELETE_RULE"]))
    for row in db.query("SELECT TABLE_NAME, NON_UNIQUE, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols "
                        "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s GROUP BY TABLE_NAME, INDEX_NAME, "
                        "NON_UNIQUE ORDER BY 1, 3", [schema]):
        shapes[row["TABLE_NAME"]].setdefault("indexes", []).append((row["NON_UNIQUE"], row["cols"]))
    return shapes


def lineage(db, schemas: list[str]) -> list[tuple]:
    return sorted((s, *r.values()) for s in schemas for r in db.query(f"SELECT * FROM `{s}`.`~lineage`"))


def lineage_by_dj2(db, schemas: list[str], env) -> list[tuple]:
    """``schema.rebuild_lineage()`` of DataJoint 2.3 itself, upstream schema first; ours is put back after."""
    ours = lineage(db, schemas)
    code = ("import datajoint as dj, sys\n"
            "for s in sys.argv[1:]:\n"
            "    dj.Schema(s, create_schema=False, create_tables=False).rebuild_lineage()\n")
    _ok(subprocess.run([sys.executable, "-c", code, *schemas], env=env, capture_output=True, text=True, check=False),
        "rebuild_lineage")
    theirs = lineage(db, schemas)
    for schema in schemas:
        db.execute(f"DELETE FROM `{schema}`.`~lineage`")
    for schema, *row in ours:
        db.execute(f"INSERT INTO `{schema}`.`~lineage` VALUES (%s, %s, %s)", row)
    return theirs


def _migration(tmp_path, prefix, env):
    common, ephys = f"{prefix}_common", f"{prefix}_ephys"
    plan_path = tmp_path / "plan.yaml"
    _ok(djsqlgen(["plan", "init", "--preset", "dj014-to-dj2", "--schema", f"{common}={common}_v2", "--schema",
                  f"{ephys}={ephys}_v2", "--name", prefix, "-o", str(plan_path)], env), "plan init")
    text = plan_path.read_text()
    assert "register a codec named 'graph'" in text and "int unsigned widened to int64" in text
    plan = yaml.safe_load(text)
    plan["control_schema"] = f"{prefix}_ctl"
    plan["cutover"]["rename_to_final"] = True
    for spec in plan["schemas"]:
        spec["final"] = spec["source"] + "_2x"
    write_plan(plan_path, plan)
    _ok(djsqlgen(["plan", "check", str(plan_path)], env), "plan check")
    out = tmp_path / "out"
    _ok(djsqlgen(["generate", str(plan_path), "-o", str(out)], env), "generate")
    return plan_path, out, [common, ephys]


def compare_with_datajoint_migrate(db, v1, v2, scratch, read_by_014, store, env) -> str:
    """A markdown table: per v1 table, whether DataJoint 2.3 reads the rows 0.14 reads, and whether the table is
    what 2.3 declares from the same definition, for datajoint.migrate's copy and for djsqlgen's v2."""
    copies = [f"{s}_dm" for s in v1]
    steps = json.loads(_dj2("dj2_migrate014.py", ["--map", ",".join(f"{a}={b}" for a, b in zip(v1, copies)),
                                                  "--store-dir", str(store)], env))
    theirs = json.loads(_dj2("dj2_read014.py", ["--schemas", ",".join(copies), "--store-dir", str(store),
                                                "--tolerant"], env))["tables"]
    ours = read_v2(v2, store, env)["tables"]
    declared = {}
    for v2_schema, scratch_schema in zip(v2, scratch):
        declared.update({t: shape for t, shape in table_shapes(db, scratch_schema, dict(zip(scratch, v2))).items()})
    shapes_ours = {t: shape for s in v2 for t, shape in table_shapes(db, s, {}).items()}
    shapes_theirs = {t: shape for c, s in zip(copies, v2) for t, shape in table_shapes(db, c, dict(zip(copies, v2))).items()}

    def reads(rows, table):
        found = rows.get(table)
        return "yes" if found == read_by_014[table] else ("error" if isinstance(found, dict) else "no")

    lines = [("| table | datajoint.migrate: rows | datajoint.migrate: declared as 2.x | djsqlgen: rows | "
             "djsqlgen: declared as 2.x |"), "|---|---|---|---|---|"]
    for table in sorted(read_by_014):
        lines.append(f"| {table} | {reads(theirs, table)} | "
                     f"{'yes' if shapes_theirs.get(table) == declared.get(table) else 'no'} | {reads(ours, table)} | "
                     f"{'yes' if shapes_ours.get(table) == declared.get(table) else 'no'} |")
    lines.append("")
    lines += [f"datajoint.migrate on {schema}: " + "; ".join(f"{step}: {outcome}" for step, outcome in done.items())
              for schema, done in steps.items()]
    return "\n".join(lines)


def test_a_dj014_pipeline_becomes_what_dj2_declares_and_reads_the_same(tmp_path, prefix, dj014_python, dj_env, db,
                                                                       record_property, server_settings):
    from support.engine import mariadb_client

    store = tmp_path / "store"
    run_dj014(dj014_python, "dj014_pipeline.py", ["build", "--schemas", prefix, "--store-dir", str(store), "--latin1"],
              dj_env)
    bulk_fill(db, f"{prefix}_common", 1500)  # enough chunks for the writers to meet the backfill
    plan_path, out, v1 = _migration(tmp_path, prefix, dj_env)
    v2 = [f"{s}_v2" for s in v1]
    final = [f"{s}_2x" for s in v1]
    for name in ("00_preflight", "10_expand", "20_routines", "30_dualwrite"):  # as a DBA: the stock client
        _ok(mariadb_client(server_settings, out / f"{name}.sql"), name)

    # 0.14 clients at work during the backfill: subjects, sessions, parts, key moves, deletes, and recordings
    # with external blobs, filepaths and attachments (0.14 writes ~external_extstore before the row)
    copy = subprocess.Popen([sys.executable, "-m", "djsqlgen", "backfill", str(plan_path), "--chunk-rows", "100"],
                            env=dj_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_dj014(dj014_python, "dj014_pipeline.py", ["more", "--schemas", prefix, "--store-dir", str(store), "--first",
                                                  "10"], dj_env)
    dj014_writers(dj014_python, prefix, store, dj_env, 1, ["1000-1100", "1200-1300"], iterations=10)
    assert copy.wait(timeout=600) == 0, copy.stderr.read()
    manifest = out / "files_manifest.sql"
    files = _ok(djsqlgen(["files", str(manifest), "--store", f"extstore={store}"], dj_env), "files")
    _ok(djsqlgen(["verify", str(plan_path)], dj_env), "verify")
    _ok(djsqlgen(["apply", str(out / "50_verify.sql"), str(out / "60_constraints.sql")], dj_env), "60")
    run_dj014(dj014_python, "dj014_pipeline.py", ["more", "--schemas", prefix, "--store-dir", str(store), "--first",
                                                  "20"], dj_env)
    files = djsqlgen(["files", str(manifest), "--store", f"extstore={store}"], dj_env)
    assert files.returncode == 0 and "wrote 2," in files.stderr, files.stderr  # the new attachments only
    _ok(djsqlgen(["verify", str(plan_path)], dj_env), "verify after 60")

    # Every row DataJoint 2.3 reads from v2 equals what 0.14 reads from v1: decoded blobs (in-table and in the
    # store), attachments (in-table and in the store), filepaths, the adapted graph, latin1 text.
    before = read_v1(dj014_python, v1, store, dj_env)
    after = read_v2(v2, store, dj_env)
    assert set(after["tables"]) == set(before) and len(before) == 18
    for table in before:
        assert after["tables"][table] == before[table], f"DataJoint 2.3 reads {table} differently from v2"
    assert any(json.loads(row)["full_name"] == "Dörte Ørsted-Çelik" for row in before["experimenter"])
    assert sum(len(rows) for rows in before.values()) > 1500
    assert [w for w in after["warnings"] if "MariaDB is not officially supported" not in w] == []

    # The same dependency graph: DataJoint 2.3's of v2 is 0.14's of v1, schema names aside.
    described = json.loads(run_dj014(dj014_python, "dj014_pipeline.py", ["describe", "--schemas", prefix], dj_env))

    def to_v2(name: str) -> str:
        for old, new in zip(v1, v2):
            name = name.replace(f"`{old}`.", f"`{new}`.")
        return name

    graph_014 = {to_v2(t): {to_v2(p): d["attr_map"] for p, d in info["parents"].items()}
                 for t, info in described["tables"].items() if "`~" not in t}
    graph_2 = {t: parents for t, parents in dj2_graph(v2, dj_env).items() if "`~" not in t}
    assert graph_2 == graph_014 and len(graph_2) == 18

    # Declared by DataJoint 2.3 itself from the definitions djsqlgen gives, each table is the same as v2's.
    scratch = [f"{prefix}_s{i}" for i in range(len(v2))]
    _dj2("dj2_declare.py", ["--manifest", str(out / "manifest.json"), "--map",
                            ",".join(f"{a}={b}" for a, b in zip(v2, scratch)), "--store-dir", str(store)], dj_env)
    for ours, theirs in zip(v2, scratch):
        shapes, declared = table_shapes(db, ours, {}), table_shapes(db, theirs, dict(zip(scratch, v2)))
        assert set(shapes) == set(declared)
        for table in shapes:
            assert shapes[table] == declared[table], f"{ours}.{table} is not what DataJoint 2.3 declares"
    # ... and as DataJoint 2.3 itself reports each heading: attribute order, key, types and codecs, defaults,
    # comments, indexes and lineage are those of the tables it declared (issue 23)
    ours = json.loads(_dj2("dj2_heading.py", ["--schemas", ",".join(v2), "--store-dir", str(store)], dj_env))
    theirs = json.loads(_dj2("dj2_heading.py", ["--schemas", ",".join(scratch), "--store-dir", str(store), "--rename",
                                                 ",".join(f"{a}={b}" for a, b in zip(scratch, v2))], dj_env))
    assert set(ours) == set(theirs) and len(ours) == 18
    for table in ours:
        assert ours[table] == theirs[table], f"DataJoint 2.3 reads {table}'s heading otherwise than it declares it"
    assert ours["block_trial"]["primary_key"] == ["subject_id", "session_id", "trial_id", "block_id"]  # v1's order
    block = {a["name"]: a for a in ours["block"]["attributes"]}
    assert (block["rewarded"]["type"], block["rewarded"]["default"]) == ("bool", "1")
    assert (block["block_settings"]["type"], block["block_settings"]["json"]) == ("json", True)
    subject = table_shapes(db, v2[0], {})["subject"]["columns"]
    assert [c["COLUMN_COMMENT"] for c in subject if c["COLUMN_NAME"] == "subject_id"] == [":int64:"]
    assert {c["CHARACTER_SET_NAME"] for c in subject} == {None, "utf8mb4"}

    # Side by side on the same pipeline: datajoint.migrate (2.3's own functions, on copies of v1) and djsqlgen
    side_by_side = compare_with_datajoint_migrate(db, v1, v2, scratch, before, store, dj_env)
    record_property("dj2_side_by_side", side_by_side)
    print(side_by_side)
    assert side_by_side.count("| yes | yes |") == len(before), side_by_side  # djsqlgen: every table, both ways

    # ~lineage: the rows 2.x's own rebuild_lineage() computes, before and after the cut-over renames the schemas
    assert lineage(db, v2) == lineage_by_dj2(db, v2, dj_env)
    assert ("curation", "curator", f"{v2[0]}.experimenter.experimenter") in [r[1:] for r in lineage(db, v2)]
    _ok(djsqlgen(["apply", str(out / "70_cutover.sql")], dj_env), "70")
    assert lineage(db, final) == lineage_by_dj2(db, final, dj_env)
    assert all(r[3].startswith(tuple(final)) for r in lineage(db, final))
    after_cutover = read_v2(final, store, dj_env)
    assert after_cutover["tables"] == after["tables"]
    _ok(djsqlgen(["apply", str(out / "rollback" / "70_cutover.sql")], dj_env), "rollback 70")
    assert lineage(db, v2) == lineage_by_dj2(db, v2, dj_env)
    _ok(djsqlgen(["apply", str(out / "rollback")], dj_env), "rollback")  # every phase back: v2 and ~lineage gone
    left = db.query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (%s, %s, %s, %s)",
                    [*v2, *final])
    assert left == [] and read_v1(dj014_python, v1, store, dj_env) == before
    assert load_manifest(out)["dj2_definitions"][0]["definition"]


LATIN1_V1 = """
CREATE DATABASE `{s}` CHARACTER SET latin1 COLLATE latin1_swedish_ci;
CREATE TABLE `{s}`.`#city` (
  city varchar(32) NOT NULL COMMENT 'where',
  country varchar(32) NOT NULL DEFAULT '' COMMENT 'in which country',
  PRIMARY KEY (city)) ENGINE=InnoDB COMMENT 'cities';
CREATE TABLE `{s}`.`~external_photos` (
  `hash` binary(16) NOT NULL COMMENT ':uuid:hash of contents (blob), of filename + contents (attach), or relative filepath (filepath)',
  `size` bigint unsigned NOT NULL COMMENT 'size of object in bytes',
  `attachment_name` varchar(255) DEFAULT NULL COMMENT 'the filename of an attachment',
  `filepath` varchar(1000) DEFAULT NULL COMMENT 'relative filepath or attachment filename',
  `contents_hash` binary(16) DEFAULT NULL COMMENT ':uuid:used for the filepath datatype',
  `timestamp` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'automatic timestamp',
  PRIMARY KEY (`hash`)) ENGINE=InnoDB COMMENT='external storage tracking';
CREATE TABLE `{s}`.`visit` (
  visit_id int unsigned NOT NULL,
  city varchar(32) NOT NULL COMMENT 'where',
  note varchar(200) NULL DEFAULT NULL,
  photo binary(16) NULL DEFAULT NULL COMMENT ':blob@photos:a picture, when one was taken',
  PRIMARY KEY (visit_id),
  CONSTRAINT visit_city FOREIGN KEY (city) REFERENCES `#city` (city) ON UPDATE CASCADE ON DELETE RESTRICT,
  CONSTRAINT visit_photo FOREIGN KEY (photo) REFERENCES `~external_photos` (hash) ON UPDATE RESTRICT ON DELETE RESTRICT
) ENGINE=InnoDB;
INSERT INTO `{s}`.`#city` VALUES ('Malmo', 'SE'), ('Malmö', 'SE'), ('Zürich', 'CH'), ('Orléans', 'FR');
INSERT INTO `{s}`.`~external_photos` (hash, size) VALUES (UNHEX(MD5('photo one')), 1234);
INSERT INTO `{s}`.`visit` VALUES (1, 'Malmö', 'fika på stan', UNHEX(MD5('photo one'))), (2, 'Malmo', NULL, NULL),
  (3, 'Zürich', 'Grüezi', NULL), (4, 'Orléans', 'crème brûlée', NULL);
"""


def _latin1_plan(db, prefix: str, tmp_path, env) -> tuple[str, object, dict]:
    """LATIN1_V1 on the server and the preset's plan of it (control schema set): (schema, plan path, plan)."""
    schema = f"{prefix}_geo"
    for statement in LATIN1_V1.format(s=schema).strip().split(";\n"):
        db.execute(statement)
    plan_path = tmp_path / "plan.yaml"
    _ok(djsqlgen(["plan", "init", "--preset", "dj014-to-dj2", "--schema", f"{schema}={schema}_v2", "--name", prefix,
                  "-o", str(plan_path)], env), "plan init")
    plan = yaml.safe_load(plan_path.read_text())
    plan["control_schema"] = f"{prefix}_ctl"
    return schema, plan_path, plan


def test_a_latin1_key_that_utf8mb4_would_merge_is_refused_until_the_plan_says_how_to_keep_it(tmp_path, prefix, db,
                                                                                               dj_env, server_settings):
    """'Malmo' and 'Malmö' are two keys under latin1_swedish_ci and one under utf8mb4_general_ci: plan check refuses
    the preset's plan naming the column; with the key's collation kept binary (utf8mb4_bin) it passes, and the stock
    client runs every file: v2 holds v1's text converted, byte for byte."""
    from support.engine import mariadb_client

    schema, plan_path, plan = _latin1_plan(db, prefix, tmp_path, dj_env)
    write_plan(plan_path, plan)
    refused = djsqlgen(["plan", "check", str(plan_path)], dj_env)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert "tables.#city.columns.city" in refused.stderr and "can make two v1 keys equal" in refused.stderr
    assert "collation: utf8mb4_bin" in refused.stderr  # the way through, named
    tables = plan["schemas"][0]["tables"]
    for table in ("#city", "visit"):  # the key and the column referring to it keep one comparison
        tables[table]["columns"]["city"] = {"collation": "utf8mb4_bin"}
    write_plan(plan_path, plan)
    _ok(djsqlgen(["plan", "check", str(plan_path)], dj_env), "plan check")
    out = tmp_path / "out"
    _ok(djsqlgen(["generate", str(plan_path), "-o", str(out)], dj_env), "generate")
    for name in ("00_preflight", "10_expand", "20_routines", "30_dualwrite", "40_backfill"):
        result = mariadb_client(server_settings, out / f"{name}.sql")
        assert result.returncode == 0, f"{name}: {result.stderr}"
    db.execute(f"INSERT INTO `{schema}`.`#city` VALUES ('Göteborg', 'SE')")  # a write carried over converted
    db.execute(f"UPDATE `{schema}`.`visit` SET note = 'smörgåsbord', city = 'Göteborg' WHERE visit_id = 2")
    for name in ("50_verify", "60_constraints"):
        result = mariadb_client(server_settings, out / f"{name}.sql")
        assert result.returncode == 0, f"{name}: {result.stderr}"
    v1 = db.query(f"SELECT * FROM `{schema}`.`#city` ORDER BY city")
    assert v1 == db.query(f"SELECT * FROM `{schema}_v2`.`#city` ORDER BY city") and len(v1) == 5  # same text
    v1 = db.query(f"SELECT visit_id, city, note, photo FROM `{schema}`.visit ORDER BY visit_id")
    v2 = db.query(f"SELECT visit_id, city, note, photo FROM `{schema}_v2`.visit ORDER BY visit_id")
    md5 = hashlib.md5(b"photo one")
    assert [r["photo"] for r in v1] == [md5.digest(), None, None, None]
    assert [r["photo"] for r in v2][1:] == [None, None, None]  # a NULL reference stays NULL
    assert json.loads(v2[0]["photo"]) == {  # what 2.x reads for <blob@photos>: 0.14's file, where it is
        "hash": base64.b32encode(md5.digest()).decode().rstrip("=").lower(),
        "path": f"{schema}/{md5.hexdigest()[:2]}/{md5.hexdigest()[2:4]}/{md5.hexdigest()}",
        "schema": schema, "store": "photos", "size": 1234}
    assert [{k: r[k] for k in ("visit_id", "city", "note")} for r in v1] == \
        [{k: r[k] for k in ("visit_id", "city", "note")} for r in v2]
    raw = db.query(f"SELECT HEX(city) AS h FROM `{schema}_v2`.`#city` WHERE city = 'Malmö'")
    assert raw == [{"h": "4D616C6DC3B6"}]  # stored as utf8mb4
    columns = db.query("SELECT COLUMN_NAME, CHARACTER_SET_NAME, COLLATION_NAME, COLUMN_COMMENT FROM "
                       "information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'visit' ORDER BY 1",
                       [f"{schema}_v2"])
    assert columns == [
        {"COLUMN_NAME": "city", "CHARACTER_SET_NAME": "utf8mb4", "COLLATION_NAME": "utf8mb4_bin", "COLUMN_COMMENT": "where"},
        {"COLUMN_NAME": "note", "CHARACTER_SET_NAME": "utf8mb4", "COLLATION_NAME": "utf8mb4_general_ci",
         "COLUMN_COMMENT": ":varchar(200):"},
        {"COLUMN_NAME": "photo", "CHARACTER_SET_NAME": "utf8mb4", "COLLATION_NAME": "utf8mb4_bin",
         "COLUMN_COMMENT": ":<blob@photos>:a picture, when one was taken"},
        {"COLUMN_NAME": "visit_id", "CHARACTER_SET_NAME": None, "COLLATION_NAME": None, "COLUMN_COMMENT": ":int64:"}]


def test_when_v2_takes_v1s_schema_its_charset_and_lineage_follow_and_come_back(tmp_path, prefix, db, dj_env):
    """Found in review: with the cut-over giving v2 v1's own schema name (v1 to an archive), the schema kept
    latin1 as its default, so tables 2.x declared there later were latin1."""
    schema, plan_path, plan = _latin1_plan(db, prefix, tmp_path, dj_env)
    plan["cutover"]["rename_to_final"] = True
    plan["schemas"][0].update(final=schema, archive=f"{schema}_014")
    for table in ("#city", "visit"):
        plan["schemas"][0]["tables"][table]["columns"]["city"] = {"collation": "utf8mb4_bin"}
    write_plan(plan_path, plan)
    out = tmp_path / "out"
    _ok(djsqlgen(["generate", str(plan_path), "-o", str(out)], dj_env), "generate")
    for name in ("00_preflight", "10_expand", "20_routines", "30_dualwrite", "40_backfill", "50_verify",
                 "60_constraints", "70_cutover"):
        _ok(djsqlgen(["apply", str(out / f"{name}.sql")], dj_env), name)

    def charset(name):
        return db.query("SELECT DEFAULT_CHARACTER_SET_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                        [name])

    assert charset(schema) == [{"c": "utf8mb4"}] and charset(f"{schema}_014") == [{"c": "latin1"}]
    assert lineage(db, [schema]) == [(schema, "#city", "city", f"{schema}.#city.city"),
                                     (schema, "visit", "city", f"{schema}.#city.city"),
                                     (schema, "visit", "visit_id", f"{schema}.visit.visit_id")]
    _ok(djsqlgen(["apply", str(out / "70_cutover.sql")], dj_env), "70 again")  # safe to run twice
    _ok(djsqlgen(["apply", str(out / "rollback" / "70_cutover.sql")], dj_env), "rollback 70")
    assert charset(schema) == [{"c": "latin1"}]
    assert lineage(db, [f"{schema}_v2"])[0] == (f"{schema}_v2", "#city", "city", f"{schema}_v2.#city.city")


KEY_SHAPES = {
    "a": """
ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_swedish_ci;
CREATE TABLE `#kind` (kind varchar(16) NOT NULL, PRIMARY KEY (kind)) ENGINE=InnoDB;
CREATE TABLE subject (subject_id int unsigned NOT NULL, kind varchar(16) NULL DEFAULT NULL, born date NULL,
  PRIMARY KEY (subject_id), FOREIGN KEY (kind) REFERENCES `#kind` (kind) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB;
CREATE TABLE session (subject_id int unsigned NOT NULL, started datetime(3) NOT NULL, rig char(4) NOT NULL,
  PRIMARY KEY (subject_id, started),
  FOREIGN KEY (subject_id) REFERENCES subject (subject_id) ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE probe (serial bigint unsigned NOT NULL, vendor char(4) NOT NULL, PRIMARY KEY (serial)) ENGINE=InnoDB;
CREATE TABLE probe__gain (serial bigint unsigned NOT NULL, gain decimal(6,2) NOT NULL, grade enum('a','b') NOT NULL,
  step tinyint unsigned NOT NULL, PRIMARY KEY (serial, gain, grade, step),
  FOREIGN KEY (serial) REFERENCES probe (serial) ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE insertion (subject_id int unsigned NOT NULL, started datetime(3) NOT NULL, serial bigint unsigned NOT NULL,
  depth smallint unsigned NOT NULL, spare bigint unsigned NULL DEFAULT NULL, insertion_uuid binary(16) NOT NULL
  COMMENT ':uuid:', PRIMARY KEY (subject_id, started, serial), UNIQUE KEY (insertion_uuid),
  FOREIGN KEY (subject_id, started) REFERENCES session (subject_id, started) ON UPDATE CASCADE ON DELETE RESTRICT,
  FOREIGN KEY (serial) REFERENCES probe (serial) ON UPDATE CASCADE ON DELETE RESTRICT,
  FOREIGN KEY (spare) REFERENCES probe (serial) ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO `#kind` VALUES ('mäuse'), ('ratten');
INSERT INTO subject VALUES (1, 'mäuse', '2024-01-02'), (2, NULL, NULL), (3, 'ratten', '2023-12-31');
INSERT INTO session VALUES (1, '2024-03-01 09:30:00.125', 'rïg1'), (1, '2024-03-01 09:30:00.126', 'rig2'),
  (2, '2024-03-02 10:00:00.000', 'rig1');
INSERT INTO probe VALUES (18446744073709551615, 'imec'), (1, 'nrx');
INSERT INTO probe__gain VALUES (1, -12.50, 'a', 255), (1, 12.50, 'b', 0), (18446744073709551615, 0.01, 'a', 1);
INSERT INTO insertion VALUES (1, '2024-03-01 09:30:00.125', 1, 65535, 18446744073709551615, UNHEX(MD5('i1'))),
  (1, '2024-03-01 09:30:00.126', 18446744073709551615, 0, NULL, UNHEX(MD5('i2')))
""",
    "b": """
ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_swedish_ci;
CREATE TABLE note (note_id int unsigned NOT NULL AUTO_INCREMENT, subject_id int unsigned NOT NULL,
  body varchar(200) NOT NULL DEFAULT '', PRIMARY KEY (note_id),
  FOREIGN KEY (subject_id) REFERENCES `{a}`.subject (subject_id) ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO note (subject_id, body) VALUES (1, 'première'), (3, 'zweite')
""",
}


def test_every_key_type_and_reference_shape_under_the_preset_while_v1_is_written(db, prefix, dj_env, tmp_path):
    """The preset on latin1 keys of every kind it converts (int/tinyint/smallint/bigint unsigned, datetime(3),
    decimal, enum, char, varchar, uuid) and every foreign-key shape (composite, nullable, two to one parent, across
    schemas, a part), with writes after 30, after the backfill and after 60 (inserts parents first, key moves that
    v1 cascades, deletes): v1 and v2 hold the same values, compared row by row in Python, and 60 adds every key."""
    from support.safety import FastScenario, applied

    s = FastScenario(db, prefix, dj_env, tmp_path, schemas=("a", "b"))
    a, b = s.sources
    s.create_v1({a: KEY_SHAPES["a"], b: KEY_SHAPES["b"].replace("{a}", a)})
    pairs = [x for src in s.sources for x in ("--schema", f"{src}={src}_v2")]
    s.run("plan", "init", "--preset", "dj014-to-dj2", *pairs, "--name", prefix, "-o", str(s.plan_path))
    plan = yaml.safe_load(s.plan_path.read_text())
    plan["control_schema"], plan["chunk"] = s.control, {"rows": 2, "sleep_ms": 0, "verify_rows": 3}
    write_plan(s.plan_path, plan)
    s.generate()

    def write(base: int) -> None:
        db.execute(f"INSERT INTO `{a}`.subject VALUES ({base}, 'mäuse', '2025-05-05')")
        db.execute(f"INSERT INTO `{a}`.session VALUES ({base}, '2025-05-05 08:00:00.999', 'rïg9')")
        db.execute(f"INSERT INTO `{a}`.insertion VALUES ({base}, '2025-05-05 08:00:00.999', 1, 7, 1, UNHEX(MD5('w{base}')))")
        db.execute(f"INSERT INTO `{b}`.note (subject_id, body) VALUES ({base}, 'über {base}')")
        db.execute(f"UPDATE `{a}`.subject SET subject_id = {base + 1} WHERE subject_id = {base}")  # cascades 3 tables
        db.execute(f"UPDATE `{a}`.probe__gain SET step = step + 1 WHERE serial = 1 AND grade = 'b'")
        db.execute(f"DELETE FROM `{a}`.insertion WHERE subject_id = 1 AND started = '2024-03-01 09:30:00.125' "
                   "AND serial = 1")
        db.execute(f"INSERT INTO `{a}`.insertion VALUES (1, '2024-03-01 09:30:00.125', 1, {base % 60000}, NULL, "
                   f"UNHEX(MD5('r{base}')))")

    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    write(100)
    s.backfill(chunk_rows=2)
    write(200)
    applied(s, "50_verify", "60_constraints")
    write(300)
    assert s.verify().returncode == 0
    for schema, tables in ((a, ("#kind", "subject", "session", "probe", "probe__gain", "insertion")), (b, ("note",))):
        for table in tables:
            v1 = sorted(map(repr, s.rows(schema, table)))
            v2 = sorted(map(repr, s.rows(f"{schema}_v2", table)))
            assert v2 == v1 and v1, f"{schema}.{table}"
    assert len(s.references(f"{a}_v2")) == 6 and s.references(f"{b}_v2") == [("note", "subject")]
    types = {(r["TABLE_NAME"], r["COLUMN_NAME"]): (r["COLUMN_TYPE"], r["COLUMN_COMMENT"]) for r in db.query(
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, COLUMN_COMMENT FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = %s", [f"{a}_v2"])}
    assert types[("subject", "subject_id")] == ("bigint(20)", ":int64:")
    assert types[("insertion", "subject_id")] == ("bigint(20)", "")  # brought by a foreign key: no marker
    assert types[("probe", "serial")] == ("bigint(20) unsigned", "")  # no wider core type: kept native
    assert types[("probe__gain", "step")] == ("smallint(6)", ":int16:")
    assert types[("session", "started")] == ("datetime(3)", ":datetime(3):")


def test_two_0_14_clients_writing_external_values_do_not_deadlock(tmp_path, prefix, db, dj_env, server_settings):
    """0.14 writes a store's ~external row, then the row that refers to it, in one transaction. The ~external
    INSERT reaches no v2 row (nothing refers to it yet); looking for one would lock the gap where the referring rows
    go, and two clients interleaved as here would deadlock, as the session and tags of the rekey test did."""
    import threading

    from support.safety import applied

    from djsqlgen.run.db import ServerError, connect

    schema, plan_path, plan = _latin1_plan(db, prefix, tmp_path, dj_env)
    for table in ("#city", "visit"):
        plan["schemas"][0]["tables"][table]["columns"]["city"] = {"collation": "utf8mb4_bin"}
    write_plan(plan_path, plan)
    out = tmp_path / "out"
    _ok(djsqlgen(["generate", str(plan_path), "-o", str(out)], dj_env), "generate")

    class Paths:  # what `applied` needs of a scenario
        pass

    s = Paths()
    s.db, s.out = db, out
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite", "40_backfill")
    first, second = connect(server_settings), connect(server_settings)
    failures: list = []
    names = ("p20", "p25")  # md5s above every photo already referred to: both go in the same gap of visit's index
    try:
        for name, c in zip(names, (first, second)):
            c.execute("BEGIN")
            c.execute(f"INSERT INTO `{schema}`.`~external_photos` (hash, size) VALUES (UNHEX(MD5(%s)), 10)", [name])

        def refer(c, i):
            try:
                c.execute(f"INSERT INTO `{schema}`.visit VALUES (%s, 'Zürich', NULL, UNHEX(MD5(%s)))",
                          [50 + i, names[i]])
                c.execute("COMMIT")
            except ServerError as exc:
                failures.append((exc.errno, exc.message))

        waiting = threading.Thread(target=refer, args=(first, 0))
        waiting.start()
        waiting.join(timeout=1)
        refer(second, 1)
        waiting.join()
    finally:
        first.close()
        second.close()
    assert failures == []
    photos = db.query(f"SELECT visit_id, JSON_VALUE(photo, '$.size') AS size FROM `{schema}_v2`.visit "
                      "WHERE visit_id >= 50 ORDER BY visit_id")
    assert photos == [{"visit_id": 50, "size": "10"}, {"visit_id": 51, "size": "10"}]
    _ok(djsqlgen(["verify", str(plan_path)], dj_env), "verify")
