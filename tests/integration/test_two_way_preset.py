"""Two-way sync on the dj014-to-dj2 preset (issue 24's real use case): a lab moves from DataJoint 0.14 to 2.x and
cannot switch everyone on one day, so 0.14 users keep writing v1 while 2.x users write v2, kept equal by the server.

A latin1 DataJoint 0.14 pipeline (every 0.14 type, parts, an external store) migrated by the preset with
``sync: two-way``: plan check says table by table which way each syncs and why not; the files run with the stock
client; then DataJoint 2.3 clients on v2 and 0.14 clients on v1 at once, and one 2.3 user writing each shape the
preset converts (uuid key with in-table <attach> and <blob>, utf8mb4 text, int64, bool, json, the adapted <graph>,
update1, lab notes without their auto_increment ids, a cascading delete) and the writes v1 cannot take (refused
naming the column or the table). Every table is compared row by row in both directions, independently of verify;
DataJoint 0.14 reads from v1 what 2.3 reads from v2; and verify is clean both ways.
"""

from __future__ import annotations

import json
import subprocess
import sys

import yaml
from support.engine import SUPPORT, bulk_fill, dj014_writers, run_dj014
from support.safety import FastScenario, applied

from djsqlgen.sqltext.messages import SIGNAL_LIMIT
from integration.test_dj2_preset import read_v1, read_v2

SUBJECT = 30_000_000  # the 2.3 user's own subjects (the 2.3 writers use 40_100_000 on, the 0.14 writers 10_100_000 on)
# (v2 table, why it cannot sync back) for the tables that stay one-way; every other one syncs both ways
# (every preset type goes back since 2.x filepaths do, test_two_way_external.py: the plan keeps _recording one-way,
# so that a one-way table, its refusals and the tables below it stay covered under writers on both sides)
ONE_WAY = {
    "_recording": "._recording.sync is one-way",
}
# below _recording, synced both ways: a v2 key move above it reaches them in v1 through v1's own ON UPDATE CASCADE
BELOW_ONE_WAY = ("__clustering", "__clustering__unit", "curation", "__unit_stats")
EXTERNAL = ("raw_data", "raw_file", "report")  # _recording's columns in the store: 0.14's hash, 2.x's JSON


def _dj2(script: str, args: list[str], env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SUPPORT / script), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _result(process: subprocess.Popen) -> dict:
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.splitlines()[-1])


def _migrated(s: FastScenario, common: str, ephys: str) -> str:
    """The preset's plan of both schemas with ``sync: two-way``, checked and generated; plan check's output."""
    s.run("plan", "init", "--preset", "dj014-to-dj2", "--schema", f"{common}={common}_v2", "--schema",
          f"{ephys}={ephys}_v2", "--name", s.prefix, "-o", str(s.plan_path))
    plan = yaml.safe_load(s.plan_path.read_text())
    plan.update(control_schema=s.control, sync="two-way", chunk={"rows": 50, "sleep_ms": 0, "verify_rows": 100})
    s.tables(plan, ephys)["_recording"]["sync"] = "one-way"  # (ONE_WAY)
    s.plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
    checked = s.run("plan", "check", str(s.plan_path))
    s.generate()
    return checked.stderr


def _rows(s: FastScenario, schema: str, table: str, leave_out: tuple[str, ...] = ()) -> list[tuple]:
    """Every row of a table, sorted in Python (latin1 and utf8mb4 keys order differently on the server)."""
    columns = [r["COLUMN_NAME"] for r in s.db.query(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
        "ORDER BY ORDINAL_POSITION", [schema, table]) if r["COLUMN_NAME"] not in leave_out]
    listed = ", ".join(f"`{c}`" for c in columns)
    return sorted((tuple(r.values()) for r in s.db.query(f"SELECT {listed} FROM `{schema}`.`{table}`")), key=repr)


def _same_both_ways(s: FastScenario, common: str, ephys: str) -> int:
    """Each v1 table's rows equal its v2 table's, value by value (the preset keeps names and values; a type change
    is one the driver reads as the same Python value), both ways: a row missing on either side fails. Returns the
    rows compared."""
    compared = 0
    for source in (common, ephys):
        for t in s.db.query("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                            "AND TABLE_NAME NOT LIKE '~%%' ORDER BY 1", [source]):
            leave_out = EXTERNAL if t["t"] == "_recording" else ()
            v1, v2 = _rows(s, source, t["t"], leave_out), _rows(s, f"{source}_v2", t["t"], leave_out)
            only_v1, only_v2 = set(v1) - set(v2), set(v2) - set(v1)
            assert v1 == v2, f"{source}.{t['t']}: only in v1 {sorted(only_v1, key=repr)[:3]}, " \
                             f"only in v2 {sorted(only_v2, key=repr)[:3]}"
            compared += len(v1)
    return compared


def test_dj014_on_v1_and_dj2_on_v2_at_once_under_the_preset(tmp_path, prefix, dj014_python, dj_env, db):
    s = FastScenario(db, prefix, dj_env, tmp_path, schemas=("common", "ephys"))
    common, ephys = s.sources
    store = tmp_path / "store"
    run_dj014(dj014_python, "dj014_pipeline.py", ["build", "--schemas", prefix, "--store-dir", str(store), "--latin1"],
              dj_env)
    bulk_fill(db, common, 400)  # chunks enough for the 0.14 writers to meet the backfill


    def more(first: int) -> None:
        run_dj014(dj014_python, "dj014_pipeline.py", ["more", "--schemas", prefix, "--store-dir", str(store), "--first",
                                                      str(first)], dj_env)

    # plan check: which way each table syncs, and why not
    checked = _migrated(s, common, ephys)
    lines = [line for line in checked.splitlines() if line.startswith("sync: ")]
    assert len(lines) == 18, checked
    for line in lines:
        table = line.split()[1].split(".", 1)[1]
        if table in ONE_WAY:
            assert " <- " in line and ": one-way (" in line and ONE_WAY[table].format(ephys=ephys) in line, line
        else:
            assert line.endswith(": two-way") and " <-> " in line, line

    for table in BELOW_ONE_WAY:
        assert f"sync: {ephys}_v2.{table} <-> {ephys}.{table}: two-way" in lines, checked

    # 0.14 users at work during the backfill (moving and deleting bulk rows it is copying); v2 refuses 2.x's writes
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    copy = subprocess.Popen([sys.executable, "-m", "djsqlgen", "backfill", str(s.plan_path), "--chunk-rows", "50"],
                            env=dj_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dj014_writers(dj014_python, prefix, store, dj_env, 3, ["1000-1059", "1060-1119"], iterations=8)
    more(10)  # recordings with external values, populate, a cascading delete: carried into the one-way tables
    assert copy.wait(timeout=600) == 0, copy.stderr.read()
    errno, message = _error(db, f"UPDATE `{common}_v2`.subject SET notes = 'too early' WHERE subject_id = 1")
    assert errno == 1644 and "W6" in message and "subject" in message, message
    applied(s, "50_verify", "60_constraints")

    # from 60: 2.3 users on v2 and 0.14 users on v1 at once (inserts with parts, update1, key moves, deletes)
    args = ["--schema", f"{common}_v2", "--store-dir", str(store), "--iterations", "12", "--preset"]
    v2_writers = [_dj2("dj2_writers.py", [*args, "--worker", str(w)], dj_env) for w in (1, 2)]
    shapes = _dj2("dj2_preset_writes.py", ["--schemas", f"{common}_v2,{ephys}_v2", "--store-dir", str(store),
                                           "--subject", str(SUBJECT)], dj_env)
    dj014_writers(dj014_python, prefix, store, dj_env, 1, ["", ""], iterations=12)
    more(20)
    for w in v2_writers:
        assert _result(w) == {"inserted": 12, "updated": 12, "key_moves": 4, "deleted": 3}
    done = _result(shapes)

    written = ("document", "experimenter", "pipeline", "pipeline_to_delete", "update1", "lab_note", "skip_duplicates",
               "replace", "cascading_delete")
    assert {k: done[k] for k in written} == dict.fromkeys(written, "ok"), done
    # what v1 cannot hold fails the v2 write, naming the column; a one-way table names itself and the reason
    for step, column in (("emoji", "full_name"), ("emoji_key", "experimenter"), ("int64_above_v1", "subject_id")):
        assert done[step]["errno"] == 1644 and "W5" in done[step]["message"], (step, done[step])
        assert column in done[step]["message"] and len(done[step]["message"]) <= SIGNAL_LIMIT, done[step]
    assert done["same_key_by_collation"]["errno"] == 1062, done  # 'Emile' = 'émile' in utf8mb4_general_ci
    for step in ("one_way_update", "one_way_delete"):
        message = done[step]["message"]
        assert done[step]["errno"] == 1644 and "W7" in message and "_recording" in message, (step, message)
        assert len(message) <= SIGNAL_LIMIT, message
        assert "write to v1; syncs one way: the plan's sync is one-way for this table" in message, message

    over = done["cascading_delete_over_one_way"]
    assert over["errno"] == 1644 and "W7" in over["message"] and "syncs one way" in over["message"], over
    for schema in (common, f"{common}_v2"):  # rolled back whole: subject 1 and its sessions on both sides
        assert db.query(f"SELECT COUNT(*) AS n FROM `{schema}`.session WHERE subject_id = 1") == [{"n": 2}], schema
    v1c, v1e = f"`{common}`", f"`{ephys}`"
    recordings = db.query(f"SELECT COUNT(*) AS n FROM `{ephys}`._recording WHERE subject_id = 1")
    assert recordings == [{"n": 4}], recordings  # build's 2, one of each pair `more` added

    # below the one-way _recording, 2.x users' writes reach v1: a curation moved to another verdict, one deleted and
    # written again, a computed stat changed; then subject 1's probe insertions moved to other keys on v2, with rows
    # at every level below them
    v2e = f"`{ephys}_v2`"
    curations = db.query(f"SELECT * FROM {v2e}.curation ORDER BY subject_id, session_id, insertion_number, "
                         "curation_id")
    assert len(curations) >= 2, curations
    first, second = curations[0], curations[1]
    key = "subject_id = %s AND session_id = %s AND insertion_number = %s AND curation_id = %s"
    def values(row: dict) -> list:
        return [row["subject_id"], row["session_id"], row["insertion_number"], row["curation_id"]]
    db.execute(f"UPDATE {v2e}.curation SET verdict = 'noise' WHERE {key}", values(first))
    db.execute(f"DELETE FROM {v2e}.curation WHERE {key}", values(second))
    db.execute(f"INSERT INTO {v2e}.curation ({', '.join(second)}) VALUES ({', '.join(['%s'] * len(second))})",
               [*({**second, "verdict": "mua"}).values()])
    db.execute(f"UPDATE {v2e}.__unit_stats SET spike_count = spike_count + 1 WHERE subject_id = %s",
               [first["subject_id"]])
    for row, verdict in ((first, "noise"), (second, "mua")):
        assert db.query(f"SELECT verdict FROM {v1e}.curation WHERE {key}", values(row)) == [{"verdict": verdict}]
    # (the probe insertions', not the subject's: MariaDB's own cascade of subject 1's key fails with 1452 on either
    # side, triggers or not, in the diamond block_trial -> trial, block -> session)
    below = {t: db.query(f"SELECT COUNT(*) AS n FROM {v1e}.`{t}` WHERE subject_id = 1")[0]["n"]
             for t in ("_recording", *BELOW_ONE_WAY)}
    assert all(below.values()), below
    db.execute(f"UPDATE {v2e}.probe_insertion SET insertion_number = insertion_number + 100 WHERE subject_id = 1")
    for schema in (v1e, v2e):
        assert {t: db.query(f"SELECT COUNT(*) AS n FROM {schema}.`{t}` WHERE subject_id = 1 AND "
                            "insertion_number >= 100")[0]["n"] for t in below} == below, schema

    # every table, row by row, both ways; the 2.3 user's rows reached v1, the deleted subject left it
    assert _same_both_ways(s, common, ephys) > 200
    assert db.query(f"SELECT tag FROM {v1c}.session__tag WHERE subject_id = {SUBJECT} ORDER BY tag") == [
        {"tag": "2x"}, {"tag": "ça"}, {"tag": "neu"}]
    assert db.query(f"SELECT full_name FROM {v1c}.experimenter WHERE experimenter = 'émile'") == [
        {"full_name": "Émile Ä. Durkheim"}]
    assert db.query(f"SELECT HEX(experimenter) AS h FROM {v1c}.experimenter WHERE full_name LIKE 'Émile%%'") == [
        {"h": "E96D696C65"}]  # latin1 in v1
    for table, rows in (("block", 1), ("trial", 1), ("block_trial", 1), ("probe_insertion", 1)):
        for sid, expected in ((SUBJECT, rows), (SUBJECT + 1, 0)):
            found = db.query(f"SELECT COUNT(*) AS n FROM {v1e}.`{table}` WHERE subject_id = %s", [sid])
            assert found == [{"n": expected}], (table, sid)
    for sid, expected in ((SUBJECT, 1), (SUBJECT + 1, 0), (5_000_000_000, 0)):
        assert db.query(f"SELECT COUNT(*) AS n FROM {v1c}.subject WHERE subject_id = %s", [sid]) == [{"n": expected}]
        assert db.query(f"SELECT COUNT(*) AS n FROM `{common}_v2`.subject WHERE subject_id = %s", [sid]) == [
            {"n": expected}]
    # the 2.3 user's lab notes (no ids given) reached v1 with the ids v2 holds, among the 0.14 writers' (the
    # comparison above: every row both ways)
    assert db.query(f"SELECT COUNT(*) AS n FROM {v1c}.lab_note WHERE note IN ('notée en 2.x', 'second 2.x note')") == [
        {"n": 2}]
    # the in-table <attach> and <blob>: the same bytes on both sides
    same = db.query(f"SELECT COUNT(*) AS n, SUM(a.title = 'Ersetzt') AS by_2 FROM {v1c}.document a "
                    f"JOIN `{common}_v2`.document b USING (doc_id) WHERE a.content = b.content AND a.meta <=> b.meta")
    assert same == [{"n": 5, "by_2": 1}] == db.query(f"SELECT COUNT(*) AS n, 1 AS by_2 FROM {v1c}.document"), same

    # _recording, one-way: its external columns hold 0.14's hash in v1 and 2.x's JSON of the same file in v2
    for row in db.query(f"SELECT HEX(a.raw_data) AS h, b.raw_data AS j FROM {v1e}._recording a JOIN "
                        f"`{ephys}_v2`._recording b USING (subject_id, session_id, insertion_number)"):
        assert json.loads(row["j"])["path"].endswith("/" + row["h"].lower()), row

    # DataJoint 0.14 reads from v1 what DataJoint 2.3 reads from v2: decoded blobs, attachments, graphs, latin1 text
    # (the store's attachments placed where 2.x reads them first, as the RUNBOOK says)
    s.run("files", str(s.out / "files_manifest.sql"), "--store", f"extstore={store}")
    by_014 = read_v1(dj014_python, [common, ephys], store, dj_env)
    by_2 = read_v2([f"{common}_v2", f"{ephys}_v2"], store, dj_env)
    for table in by_014:
        assert by_2["tables"][table] == by_014[table], f"DataJoint 2.3 reads {table} differently from v2"
    assert "Émile Ä. Durkheim" in [json.loads(row)["full_name"] for row in by_014["experimenter"]]

    verified = s.verify()
    assert verified.returncode == 0 and "v1 from v2" in verified.stdout, verified.stdout


def _error(db, sql: str) -> tuple[int, str]:
    from djsqlgen.run.db import ServerError

    try:
        db.execute(sql)
    except ServerError as exc:
        return exc.errno, exc.message
    raise AssertionError(f"not refused: {sql}")


# a date in a key; 0.14 declares `decimal(5,2) unsigned`, `float unsigned` and `mediumblob` as such, 2.x as
# decimal(5,2), float32 and <blob>
READING = """;
CREATE TABLE reading (reading_id int unsigned NOT NULL, day date NOT NULL, level decimal(5,2) unsigned NULL,
  gain float unsigned NULL, raw mediumblob NULL, PRIMARY KEY (reading_id, day)) ENGINE=InnoDB;
INSERT INTO reading VALUES (1, '2024-02-29', 1.25, 2.5, 'abc'), (2, '2024-03-01', NULL, NULL, NULL)
"""


def test_every_key_type_the_preset_converts_written_from_v2(db, prefix, dj_env, tmp_path):
    """The preset's key shapes (test_dj2_preset.KEY_SHAPES: int/tinyint/smallint/bigint unsigned, datetime(3),
    decimal, enum, char, varchar latin1, uuid; composite, nullable, two references to one parent, across schemas, a
    part) with sync: two-way, written from v2 with raw SQL after 60 while v1 is written too: inserts, key moves that
    cascade on both sides, deletes; the values v1's types cannot hold refused naming the column. Then both sides
    compared row by row, and verify clean."""
    from integration.test_dj2_preset import KEY_SHAPES

    s = FastScenario(db, prefix, dj_env, tmp_path, schemas=("a", "b"))
    a, b = s.sources
    s.create_v1({a: KEY_SHAPES["a"] + READING, b: KEY_SHAPES["b"].replace("{a}", a)})
    pairs = [x for src in s.sources for x in ("--schema", f"{src}={src}_v2")]
    s.run("plan", "init", "--preset", "dj014-to-dj2", *pairs, "--name", prefix, "-o", str(s.plan_path))
    plan = yaml.safe_load(s.plan_path.read_text())
    plan.update(control_schema=s.control, sync="two-way", chunk={"rows": 2, "sleep_ms": 0, "verify_rows": 3})
    s.plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
    lines = [line for line in s.run("plan", "check", str(s.plan_path)).stderr.splitlines() if line.startswith("sync: ")]
    assert sorted(lines) == sorted(
        [f"sync: {src}_v2.{t} <-> {src}.{t}: two-way" for src, t in ((a, "#kind"), (a, "subject"), (a, "session"),
                                                                       (a, "probe"), (a, "probe__gain"),
                                                                       (a, "insertion"), (a, "reading"),
                                                                       (b, "note"))]), lines
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=2)
    applied(s, "50_verify", "60_constraints")

    a2, b2 = f"`{a}_v2`", f"`{b}_v2`"
    for sql in (  # a 2.x user's writes, each key type, parents first
            f"INSERT INTO {a2}.`#kind` VALUES ('hämster')",
            f"INSERT INTO {a2}.subject VALUES (4000000000, 'hämster', '2025-06-01')",  # above int's, within unsigned
            f"INSERT INTO {a2}.session VALUES (4000000000, '2025-06-01 10:00:00.250', 'räg1')",
            f"INSERT INTO {a2}.probe VALUES (18446744073709551614, 'ïmec')",
            f"INSERT INTO {a2}.probe__gain VALUES (18446744073709551614, -0.75, 'b', 255)",
            (f"INSERT INTO {a2}.insertion VALUES (4000000000, '2025-06-01 10:00:00.250', 18446744073709551614, 65535, "
             "1, UNHEX(MD5('v2 one')))"),
            f"UPDATE {a2}.subject SET subject_id = 4000000001 WHERE subject_id = 4000000000",  # cascades on both sides
            f"UPDATE {a2}.session SET started = '2025-06-01 10:00:00.251' WHERE subject_id = 4000000001",
            f"UPDATE {a2}.probe__gain SET grade = 'a', gain = 99.99 WHERE serial = 18446744073709551614",
            f"UPDATE {a2}.`#kind` SET kind = 'ratten2' WHERE kind = 'ratten'",  # v1's subject 3 follows
            f"DELETE FROM {a2}.insertion WHERE subject_id = 1 AND serial = 18446744073709551615",
            f"DELETE FROM {a2}.probe__gain WHERE serial = 1 AND grade = 'a'",
            f"INSERT INTO {a2}.reading VALUES (3, '2025-12-31', 0, 0, NULL)",
            f"UPDATE {a2}.reading SET day = '2024-03-02' WHERE reading_id = 2"):
        db.execute(sql)
    db.execute(f"INSERT INTO `{a}`.subject VALUES (500, 'mäuse', '2025-05-05')")  # and 0.14's, carried to v2
    db.execute(f"INSERT INTO `{b}`.note (subject_id, body) VALUES (4000000001, 'über')")
    db.execute(f"UPDATE `{a}`.subject SET subject_id = 501 WHERE subject_id = 500")

    # what v1's types cannot hold: refused at the v2 write, naming the column; the one-way table: W7
    for sql, column in ((f"UPDATE {a2}.probe__gain SET step = 256 WHERE serial = 1", "step"),
                        (f"UPDATE {a2}.probe__gain SET step = -1 WHERE serial = 1", "step"),
                        (f"INSERT INTO {a2}.subject VALUES (-5, NULL, NULL)", "subject_id"),
                        (f"INSERT INTO {a2}.subject VALUES (4294967296, NULL, NULL)", "subject_id"),
                        (f"UPDATE {a2}.session SET rig = 'r😀' WHERE subject_id = 2", "rig"),
                        (f"INSERT INTO {a2}.`#kind` VALUES ('łoś')", "kind"),
                        # unsigned decimal and float: 2.x's core types are signed
                        (f"UPDATE {a2}.reading SET level = -0.01 WHERE reading_id = 1", "level"),
                        (f"UPDATE {a2}.reading SET gain = -1.5 WHERE reading_id = 1", "gain")):
        errno, message = _error(db, sql)
        assert errno == 1644 and "W5" in message and f"({column})" in message, (sql, message)
        assert len(message) <= SIGNAL_LIMIT
    # the AUTO_INCREMENT table (its parent in the other schema): v1's counter issues the ids of both sides
    db.execute(f"INSERT INTO {b2}.note (subject_id, body) VALUES (4000000001, 'from v2'), (3, 'from v2 too')")
    db.execute(f"INSERT INTO `{b}`.note (subject_id, body) VALUES (3, 'from v1')")
    db.execute(f"UPDATE {b2}.note SET body = 'x' WHERE body = 'première'")
    assert [(r["note_id"], r["body"]) for r in db.query(f"SELECT note_id, body FROM `{b}`.note ORDER BY 1")] == [
        (1, "x"), (2, "zweite"), (3, "über"), (4, "from v2"), (5, "from v2 too"), (6, "from v1")]
    errno, _ = _error(db, f"INSERT INTO {a2}.`#kind` VALUES ('HÄMSTER')")  # one key in utf8mb4_general_ci
    assert errno == 1062
    # two keys in v1's latin1_swedish_ci, one in v2's utf8mb4_general_ci: the v1 write fails whole, nothing diverges
    errno, message = _error(db, f"INSERT INTO `{a}`.`#kind` VALUES ('hamster')")
    assert errno == 1062 and f"W0 dual-write into {a}_v2.#kind: Duplicate entry 'hamster'" in message, message

    db.execute(f"UPDATE {a2}.reading SET level = 999.99, gain = 0.5, raw = REPEAT('x', 70000) WHERE reading_id = 1")
    for schema, tables in ((a, ("#kind", "subject", "session", "probe", "probe__gain", "insertion", "reading")),
                           (b, ("note",))):
        for table in tables:
            v1, v2 = _rows(s, schema, table), _rows(s, f"{schema}_v2", table)
            assert v1 == v2 and v1, (f"{schema}.{table}", v1, v2)
    assert db.query(f"SELECT subject_id, kind FROM `{a}`.subject WHERE subject_id IN (3, 4000000001) ORDER BY 1") == [
        {"subject_id": 3, "kind": "ratten2"}, {"subject_id": 4000000001, "kind": "hämster"}]
    assert db.query(f"SELECT COUNT(*) AS n FROM `{a}`.insertion WHERE serial = 18446744073709551615") == [{"n": 0}]
    assert [(r["reading_id"], str(r["day"])) for r in db.query(f"SELECT * FROM `{a}`.reading ORDER BY 1")] == [
        (1, "2024-02-29"), (2, "2024-03-02"), (3, "2025-12-31")]
    verified = s.verify()
    assert verified.returncode == 0 and "v1 from v2" in verified.stdout, verified.stdout
