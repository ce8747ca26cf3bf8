"""Preset dj014-to-dj2, issue 23: the cut-over waits for the attachments (`djsqlgen files` records each file it puts
in 2.x's form in the control schema; 70 refuses while files_manifest.sql lists one not recorded), and a part with an
external attribute merges into its master, which DataJoint 2.3 reads and declares alike."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys

import yaml
from support.engine import SUPPORT, write_plan
from support.safety import FastScenario, applied, refused

# DataJoint 0.14's table of a store's external values, as 0.14 declares it
EXTERNAL = """
CREATE TABLE `~external_{store}` (
  `hash` binary(16) NOT NULL COMMENT ':uuid:hash of contents (blob), of filename + contents (attach), or relative filepath (filepath)',
  `size` bigint unsigned NOT NULL COMMENT 'size of object in bytes',
  `attachment_name` varchar(255) DEFAULT NULL COMMENT 'the filename of an attachment',
  `filepath` varchar(1000) DEFAULT NULL COMMENT 'relative filepath or attachment filename',
  `contents_hash` binary(16) DEFAULT NULL COMMENT ':uuid:used for the filepath datatype',
  `timestamp` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'automatic timestamp',
  PRIMARY KEY (`hash`)) ENGINE=InnoDB COMMENT='external storage tracking';
"""
V1 = EXTERNAL.format(store="docs") + """
CREATE TABLE report (
  report_id int NOT NULL,
  doc binary(16) NOT NULL COMMENT ':attach@docs:the report',
  PRIMARY KEY (report_id),
  CONSTRAINT report_doc FOREIGN KEY (doc) REFERENCES `~external_docs` (hash) ON UPDATE RESTRICT ON DELETE RESTRICT
) ENGINE=InnoDB
"""


def attach(s: FastScenario, store, report_id: int, name: str, contents: bytes) -> None:
    """What 0.14 does for an attach@docs value: the file in the store, its ~external row, then the row."""
    md5 = hashlib.md5(name.encode() + b"\0" + contents)
    h = md5.hexdigest()
    path = store / s.sources[0] / h[:2] / h[2:4] / f"{h}.{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(contents)
    schema = s.sources[0]
    s.db.execute(f"INSERT INTO `{schema}`.`~external_docs` (hash, size, attachment_name) VALUES (%s, %s, %s)",
                 [md5.digest(), len(contents), name])
    s.db.execute(f"INSERT INTO `{schema}`.report VALUES (%s, %s)", [report_id, md5.digest()])


def test_the_cutover_refuses_until_djsqlgen_files_has_put_every_attachment_in_place(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    store = tmp_path / "store"
    attach(s, store, 1, "one.txt", b"first report")
    schema = s.sources[0]
    s.run("plan", "init", "--preset", "dj014-to-dj2", "--schema", f"{schema}={schema}_v2", "--name", prefix, "-o",
          str(s.plan_path))
    plan = yaml.safe_load(s.plan_path.read_text())
    plan["control_schema"], plan["chunk"] = s.control, {"rows": 2, "sleep_ms": 0, "verify_rows": 3}
    write_plan(s.plan_path, plan)
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite", "40_backfill", "50_verify",
            "60_constraints")
    message = refused(s, "70_cutover")
    assert "run `djsqlgen files` first" in message, message

    files = ["files", str(s.out / "files_manifest.sql"), "--store", f"docs={store}"]
    done = s.run(*files)
    assert f"1 recorded in {s.control}.files_written" in done.stderr, done.stderr
    attach(s, store, 2, "two.txt", b"written after djsqlgen files ran")  # 0.14 at work: a new attachment
    assert "run `djsqlgen files` first" in refused(s, "70_cutover")
    assert "wrote 1," in s.run(*files).stderr
    applied(s, "70_cutover")
    written = db.query(f"SELECT store, md5 FROM `{s.control}`.files_written ORDER BY md5")
    assert sorted(r["md5"] for r in written) == sorted(
        hashlib.md5(n + b"\0" + c).hexdigest() for n, c in ((b"one.txt", b"first report"),
                                                             (b"two.txt", b"written after djsqlgen files ran")))
    applied(s, "70_cutover")  # safe to run twice: the check is for a cut-over still to come


MERGED_V1 = EXTERNAL.format(store="extstore") + """
CREATE TABLE `#protocol` (
  protocol_id smallint unsigned NOT NULL,
  protocol_name varchar(64) NOT NULL,
  PRIMARY KEY (protocol_id)) ENGINE=InnoDB COMMENT='a protocol';
CREATE TABLE `#protocol__sheet` (
  protocol_id smallint unsigned NOT NULL,
  sheet binary(16) NOT NULL COMMENT ':blob@extstore:the signed sheet',
  approved tinyint(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (protocol_id),
  CONSTRAINT sheet_master FOREIGN KEY (protocol_id) REFERENCES `#protocol` (protocol_id) ON UPDATE CASCADE ON DELETE RESTRICT,
  CONSTRAINT sheet_store FOREIGN KEY (sheet) REFERENCES `~external_extstore` (hash) ON UPDATE RESTRICT ON DELETE RESTRICT
) ENGINE=InnoDB;
INSERT INTO `~external_extstore` (hash, size) VALUES (UNHEX(MD5('sheet one')), 9);
INSERT INTO `#protocol` VALUES (1, 'surgery'), (2, 'imaging');
INSERT INTO `#protocol__sheet` VALUES (1, UNHEX(MD5('sheet one')), 1)
"""


def _dj2(script: str, *args: str, env) -> str:
    result = subprocess.run([sys.executable, str(SUPPORT / script), *args], env=env, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, f"{script}: {result.stderr[-3000:]}"
    return result.stdout


def test_a_part_with_an_external_attribute_merges_into_its_master(db, prefix, dj_env, tmp_path):
    """Issue 23: merging a part whose attribute 0.14 kept in a store was refused (the part reads ~external_<store>).
    Its join comes along into the master, read through the part's row: 0.14 writes after the triggers reach v2, the
    backfill and verify agree, and DataJoint 2.3 reads the master's heading as it declares it from the definition."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(MERGED_V1)
    schema, v2 = s.sources[0], s.v2()
    s.run("plan", "init", "--preset", "dj014-to-dj2", "--schema", f"{schema}={v2}", "--name", prefix, "-o",
          str(s.plan_path))
    plan = yaml.safe_load(s.plan_path.read_text())
    plan["control_schema"], plan["chunk"] = s.control, {"rows": 2, "sleep_ms": 0, "verify_rows": 3}
    s.tables(plan)["#protocol__sheet"]["merge_into_master"] = True
    write_plan(s.plan_path, plan)
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    for i, name in ((2, "sheet two"), (3, "sheet three")):  # as 0.14 writes: the store's row, then master and part
        db.execute("START TRANSACTION")
        db.execute(f"INSERT INTO `{schema}`.`~external_extstore` (hash, size) VALUES (UNHEX(MD5(%s)), 10)", [name])
        db.execute(f"INSERT IGNORE INTO `{schema}`.`#protocol` VALUES (%s, %s)", [i, f"protocol {i}"])
        db.execute(f"INSERT INTO `{schema}`.`#protocol__sheet` VALUES (%s, UNHEX(MD5(%s)), 0)", [i, name])
        db.execute("COMMIT")
    applied(s, "40_backfill", "50_verify", "60_constraints")
    db.execute(f"UPDATE `{schema}`.`#protocol__sheet` SET approved = 1 WHERE protocol_id = 3")
    assert s.verify().returncode == 0
    rows = db.query(f"SELECT protocol_id, protocol_name, JSON_VALUE(sheet, '$.hash') AS h, approved "
                    f"FROM `{v2}`.`#protocol` ORDER BY protocol_id")
    b32 = {n: base64.b32encode(hashlib.md5(n.encode()).digest()).decode().rstrip("=").lower()
           for n in ("sheet one", "sheet two", "sheet three")}
    assert rows == [{"protocol_id": 1, "protocol_name": "surgery", "h": b32["sheet one"], "approved": 1},
                    {"protocol_id": 2, "protocol_name": "imaging", "h": b32["sheet two"], "approved": 0},
                    {"protocol_id": 3, "protocol_name": "protocol 3", "h": b32["sheet three"], "approved": 1}], rows
    assert db.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s ORDER BY 1", [v2]) == [
        {"TABLE_NAME": "#protocol"}, {"TABLE_NAME": "~lineage"}]

    # DataJoint 2.3: the master's heading read from v2 is the heading of the table it declares from the definition
    store = tmp_path / "store"
    scratch = f"{prefix}_s0"
    _dj2("dj2_declare.py", "--manifest", str(s.out / "manifest.json"), "--map", f"{v2}={scratch}", "--store-dir",
         str(store), env=dj_env)
    ours = json.loads(_dj2("dj2_heading.py", "--schemas", v2, "--store-dir", str(store), env=dj_env))
    theirs = json.loads(_dj2("dj2_heading.py", "--schemas", scratch, "--store-dir", str(store), "--rename",
                             f"{scratch}={v2}", env=dj_env))
    assert ours == theirs and list(ours) == ["#protocol"]
    sheet = {a["name"]: a for a in ours["#protocol"]["attributes"]}
    assert (sheet["sheet"]["codec"], sheet["sheet"]["store"], sheet["sheet"]["nullable"]) == ("blob", "extstore", True)
    assert sheet["approved"]["type"] == "bool"
