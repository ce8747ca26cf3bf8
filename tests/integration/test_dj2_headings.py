"""Preset dj014-to-dj2, issue 23: the cut-over waits for the attachments (`djsqlgen files` records each file it puts
in 2.x's form in the control schema; 70 refuses while files_manifest.sql lists one not recorded)."""

from __future__ import annotations

import hashlib

import yaml
from support.engine import write_plan
from support.safety import FastScenario, applied, refused

V1 = """
CREATE TABLE `~external_docs` (
  `hash` binary(16) NOT NULL COMMENT ':uuid:hash of contents (blob), of filename + contents (attach), or relative filepath (filepath)',
  `size` bigint unsigned NOT NULL COMMENT 'size of object in bytes',
  `attachment_name` varchar(255) DEFAULT NULL COMMENT 'the filename of an attachment',
  `filepath` varchar(1000) DEFAULT NULL COMMENT 'relative filepath or attachment filename',
  `contents_hash` binary(16) DEFAULT NULL COMMENT ':uuid:used for the filepath datatype',
  `timestamp` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'automatic timestamp',
  PRIMARY KEY (`hash`)) ENGINE=InnoDB COMMENT='external storage tracking';
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
