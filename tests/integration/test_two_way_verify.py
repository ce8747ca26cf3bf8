"""Two-way sync, issue 24 item 4: verify checks both directions, and the round trip is proven on v1's data.

Verify compares v2 against forward(v1) (as for every plan) and, for each table that syncs both ways, v1 against
reverse(v2), keyed by v1's own key, through the same procedures; the report says which direction differs and
names the keys on that side. A v1 row changed behind the triggers' back (here: the triggers dropped, as TRUNCATE or
a trigger-less path would leave it) makes verify fail in both ways, each naming its own key.
"""

from __future__ import annotations

import json

from integration.test_two_way import V1, _same_both_ways, _two_way
from support.safety import FastScenario, applied, client, refused
from support.two_way import BACK, FORWARD, verify_report


def test_verify_checks_v1_against_reverse_v2_and_names_the_direction(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    s.generate()
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    s.open_at_60()
    _same_both_ways(s)

    code, tables, diffs = verify_report(s)
    assert code == 0 and diffs == [], (tables, diffs)
    by_way = {(t["v2_table"].split(".")[1], t["direction"]): t for t in tables}
    # every v2 table forward; the two-way ones back too (#kind syncs one way: forward only)
    assert set(by_way) == {("#kind", FORWARD), ("animal", FORWARD), ("session", FORWARD), ("session__trial", FORWARD),
                           ("animal", BACK), ("session", BACK), ("session__trial", BACK)}, sorted(by_way)
    assert all(t["result"] == "OK" for t in tables), tables
    assert by_way[("animal", BACK)]["v1_rows"] == by_way[("animal", BACK)]["v2_rows"] == 2

    # behind the triggers' back: v1.subject's name changed and a v1 session added (a restore, a trigger-less path:
    # the triggers of those v1 tables dropped first, so nothing reaches v2), and v1's trials gone by TRUNCATE
    for table in ("subject", "session"):
        for t in db.query("SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = %s "
                          "AND EVENT_OBJECT_TABLE = %s", [s.sources[0], table]):
            db.execute(f"DROP TRIGGER {v1}.`{t['n']}`")
    db.execute(f"UPDATE {v1}.subject SET nickname = 'Behind' WHERE subject_id = 2")
    db.execute(f"INSERT INTO {v1}.session VALUES (1, 9, '2024-05-05', 'rig1')")
    db.execute(f"TRUNCATE TABLE {v1}.session__trial")
    assert db.query(f"SELECT name FROM {v2}.animal WHERE subject_id = 2") == [{"name": "Bé"}]

    code, tables, diffs = verify_report(s)
    assert code == 1
    result = {(t["v2_table"].split(".")[1], t["direction"]): t["result"] for t in tables}
    for table in ("animal", "session", "session__trial"):
        assert result[(table, BACK)] == "DIFFERENT" and result[(table, FORWARD)] == "DIFFERENT", result
    assert result[("#kind", FORWARD)] == "OK"
    found = {(d["v2_table"].split(".")[1], d["direction"], tuple(str(k) for k in json.loads(d["row_key"])), d["problem"])
             for d in diffs}
    # each direction names the row by its own side's key, in its own words
    assert (("animal", BACK, ("2",), "values differ") in found and ("animal", FORWARD, ("2",), "values differ") in found
            ), found
    assert ("session", BACK, ("1", "9"), "not in reverse(v2)") in found, found  # v1's own row: keyed by v1's key
    assert ("session", FORWARD, ("1", "9"), "missing in v2") in found, found
    for trial in (("1", "1", "1"), ("1", "1", "2")):
        assert ("session__trial", BACK, trial, "missing in v1") in found, found
        assert ("session__trial", FORWARD, trial, "not in transform(v1)") in found, found

    # the command line names the direction and the keys; status says which ways differ; 50 fails the same way
    out = s.run("verify", str(s.plan_path), check=False)
    assert out.returncode == 1 and BACK in out.stdout and "not in reverse(v2)" in out.stdout, out.stdout
    status = s.run("status", str(s.plan_path)).stdout
    assert f'{BACK}: {s.sources[0]}.subject differs at ["2"] (values differ)' in status, status
    assert f'{FORWARD}: {s.v2()}.animal differs at ["2"] (values differ)' in status, status
    fifty = client(db.settings, s.out / "50_verify.sql")
    assert fifty.returncode != 0 and "v1 differs from reverse(v2)" in fifty.stderr, fifty.stderr


PROBE = """
CREATE TABLE probe (
  probe_id int NOT NULL,
  code varchar(8) NOT NULL,
  raw varbinary(4) NULL,
  label varchar(16) NULL,
  weight float NULL,
  PRIMARY KEY (probe_id)) ENGINE=InnoDB DEFAULT CHARSET=latin1;
INSERT INTO probe VALUES (1, 'ab', 'xyzw', 'Açaí', 0.1), (2, 'ab  ', 'xyzw', 'é', 1.23456), (3, 'cd', 'x', NULL, NULL)
"""


def _probe_plan(s: FastScenario, one_way: bool = False):
    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        # widening retypes and a charset change: two-way, but a CHAR drops trailing spaces and a BINARY pads with
        # zero bytes, so v1's 'ab  ' and 'x' would not come back from v2
        s.tables(plan)["probe"] = {"columns": {
            "probe_id": "keep", "code": {"type": "char(8)"}, "raw": {"type": "binary(4)"},
            "label": {"type": "varchar(16)", "charset": "utf8mb4", "collation": "utf8mb4_bin"},
            "weight": {"type": "double"}}, **({"sync": "one-way"} if one_way else {})}
    return edit


def test_a_value_that_does_not_come_back_refuses_two_way_naming_table_column_and_key(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(PROBE)
    v1 = f"`{s.sources[0]}`"
    s.plan(_probe_plan(s))
    checked = s.run("plan", "check", str(s.plan_path), check=False)
    plan_key = f"schemas.{s.sources[0]}.tables.probe"
    expected = f"{plan_key}: {s.sources[0]}.probe.code at key [\"2\"] does not come back from v2 byte for byte"
    assert checked.returncode != 0 and expected in checked.stdout + checked.stderr, checked
    assert f"write `sync: one-way` under {plan_key}" in checked.stdout + checked.stderr
    s.generate()
    message = refused(s, "00_preflight")
    assert expected in message and "sync: one-way" in message, message

    # the zero bytes of a BINARY next: named by its own column and key
    db.execute(f"UPDATE {v1}.probe SET code = 'ab' WHERE probe_id = 2")
    message = refused(s, "00_preflight")
    assert f"{s.sources[0]}.probe.raw at key [\"3\"]" in message, message
    # every value comes back (latin1 through utf8mb4 too): 00 goes on, the check listed in its RUNBOOK
    db.execute(f"UPDATE {v1}.probe SET raw = 'xyzw' WHERE probe_id = 3")
    assert s.run("plan", "check", str(s.plan_path)).returncode == 0
    applied(s, "00_preflight")
    assert "comes back from" in (s.out / "RUNBOOK.md").read_text()

    # the way out the message names: that table one-way, whatever its data
    db.execute(f"UPDATE {v1}.probe SET code = 'ab  ', raw = 'x' WHERE probe_id = 2")
    s.plan(_probe_plan(s, one_way=True))
    s.generate()
    applied(s, "00_preflight")


def test_datajoint_2_on_v2_and_datajoint_014_on_v1_at_once_equal_both_ways(tmp_path, prefix, dj014_python, dj_env, db):
    """DataJoint 2.3 users write v2 (inserts with parts, update1, key moves, cascading deletes) while DataJoint 0.14
    users write v1 (the same, plus bulk rows moved and deleted), after 60 on a rename/retype plan: every table
    compared row by row in both directions, independently of verify, then verify clean in both directions."""
    import subprocess
    import sys

    from support.engine import SUPPORT, build_v1, bulk_fill, dj014_writers, migration_files

    store = tmp_path / "store"
    common, ephys = build_v1(dj014_python, prefix, store, dj_env)
    bulk_fill(db, common, 200)

    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        tables = next(s for s in plan["schemas"] if s["source"] == common)["tables"]
        subject = tables["subject"]
        subject["columns"]["notes"] = {"rename": "remarks"}
        subject["columns"]["weight"] = {"type": "decimal(8,3)"}
        subject["add"] = {"cohort": {"type": "varchar(16)", "default": "'v1'"}}

    plan_path, out = migration_files(tmp_path, prefix, [common, ephys], dj_env, edit)
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.out, s.plan_path = out, plan_path
    s.open_at_60(chunk_rows=97)
    v2_writers = [subprocess.Popen([sys.executable, str(SUPPORT / "dj2_writers.py"), "--schema", f"{common}_v2",
                                    "--store-dir", str(store), "--worker", str(w), "--iterations", "16"],
                                   env=dj_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for w in (1, 2)]
    dj014_writers(dj014_python, prefix, store, dj_env, 1, ["1000-1049", "1050-1099"], iterations=16)
    for w in v2_writers:
        stdout, stderr = w.communicate(timeout=600)
        assert w.returncode == 0, stderr[-3000:]
        assert json.loads(stdout.splitlines()[-1]) == {"inserted": 16, "updated": 16, "key_moves": 5, "deleted": 4}, \
            stdout

    for source in (common, ephys):
        for table in db.query("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                              "AND TABLE_NAME NOT LIKE '~%%' ORDER BY 1", [source]):
            if (source, table["t"]) != (common, "subject"):
                s.same_rows(table["t"], source=source)
    v2c = f"`{common}_v2`"
    columns = "subject_id, species, subject_uuid, sex, date_of_birth, {weight}, {notes}, entered"
    forward = (f"SELECT {columns.format(weight='CAST(weight AS DECIMAL(8,3))', notes='notes')} FROM `{common}`.subject",
               f"SELECT {columns.format(weight='weight', notes='remarks')} FROM {v2c}.subject")
    back = (f"SELECT {columns.format(weight='weight', notes='notes')} FROM `{common}`.subject",
            f"SELECT {columns.format(weight='CAST(weight AS DECIMAL(6,2))', notes='remarks')} FROM {v2c}.subject")
    for left, right in (forward, back):
        assert ([tuple(r.values()) for r in db.query(left + " ORDER BY subject_id")]
                == [tuple(r.values()) for r in db.query(right + " ORDER BY subject_id")])
    # both sides' writes are in both: 2.x's updates in v1, 0.14's in v2; v2's own cohort kept
    assert db.query(f"SELECT COUNT(*) AS n FROM `{common}`.subject WHERE notes LIKE 'updated in 2.x %%'") == [{"n": 24}]
    assert db.query(f"SELECT COUNT(*) AS n FROM {v2c}.subject WHERE remarks LIKE 'updated %%' AND cohort = 'v1'"
                    ) == [{"n": 24}]
    assert db.query(f"SELECT COUNT(*) AS n FROM {v2c}.subject WHERE cohort = '2x'") == [{"n": 24}]

    code, tables, diffs = verify_report(s)
    assert code == 0 and diffs == [] and all(t["result"] == "OK" for t in tables), (tables, diffs)
    assert {t["v2_table"] for t in tables if t["direction"] == BACK} >= {f"{common}_v2.subject",
                                                                        f"{common}_v2.session"}
