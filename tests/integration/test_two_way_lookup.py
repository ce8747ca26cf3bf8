"""Two-way sync of a lookup extraction (issue 24): v1 and v2 both take writes, kept equal by the server.

`probe_insertion (…, probe, vendor, channels, depth)` becomes `#probe (probe) → vendor, channels` and
`probe_insertion (…, probe, depth)` referring to it. From 60 on: a v2 row written to probe_insertion reaches v1 with
its lookup row's values joined back; an UPDATE of a v2 lookup row's values rewrites every v1 row of its key, and a
new key for it (v2's ON UPDATE CASCADE moves v2's rows) moves the v1 rows of the key; v1 writes keep working as
before (the forward triggers add or update the lookup row, W3 still refuses a disagreeing row), with no echo and no
1442. Every v2 write of the lookup is refused before 60 (W6). A v2 lookup row that no v2 row uses has no v1 form and
is held by v2 alone (a lookup row no v1 row uses any more is already allowed by the forward sync); v2's foreign key
refuses the delete of one still in use. A lookup of a retyped column stays one-way, and v2 refuses writes to both
tables (W7). Every table is compared both ways by full ordered SELECTs, independently of verify, and verify is clean
in both directions.
"""

from __future__ import annotations

import json
import threading

from support.safety import FastScenario, applied, error_of
from support.two_way import BACK, FORWARD, verify_report

from djsqlgen.run.db import ServerError, connect

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, name varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id))
  ENGINE=InnoDB;
CREATE TABLE probe_insertion (subject_id int NOT NULL, insertion_number tinyint NOT NULL,
  probe varchar(32) NOT NULL, vendor varchar(32) NOT NULL, channels smallint NULL, depth float NOT NULL,
  PRIMARY KEY (subject_id, insertion_number),
  CONSTRAINT insertion_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO subject (subject_id) SELECT seq FROM seq_1_to_12;
INSERT INTO probe_insertion SELECT s.seq, k.seq, ELT(1 + (s.seq + k.seq) % 3, 'np1', 'np2', 'Tetrode'),
  ELT(1 + (s.seq + k.seq) % 3, 'imec', 'imec', 'neuralynx'), ELT(1 + (s.seq + k.seq) % 3, 384, NULL, 4), k.seq / 4
  FROM seq_1_to_12 AS s, seq_1_to_3 AS k
"""
LOOKUP = {"table": "#probe", "key": ["probe"], "columns": ["vendor", "channels"], "comment": "probes in use"}


def _two_way(s: FastScenario):
    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        s.tables(plan)["probe_insertion"] = {"lookups": [LOOKUP]}
    return edit


def _same_both_ways(s: FastScenario) -> None:
    """Independently of verify, by full ordered SELECTs: v2 is forward(v1) (the lookup holds every v1 row's values by
    its key, plus rows no v1 row uses), and v1 is reverse(v2) (each v2 row with its lookup row's values)."""
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    key = "ORDER BY subject_id, insertion_number"
    v1_rows = s.db.query(f"SELECT subject_id, insertion_number, probe, vendor, channels, depth "
                         f"FROM {v1}.probe_insertion {key}")
    joined = s.db.query(f"SELECT i.subject_id, i.insertion_number, i.probe, p.vendor, p.channels, i.depth "
                        f"FROM {v2}.probe_insertion AS i JOIN {v2}.`#probe` AS p ON p.probe = i.probe {key}")
    assert v1_rows == joined, (v1_rows, joined)
    assert s.db.query(f"SELECT COUNT(*) AS n FROM {v2}.probe_insertion") == [{"n": len(v1_rows)}]  # none unjoined
    used = s.db.query(f"SELECT DISTINCT CAST(probe AS BINARY) AS probe, vendor, channels FROM {v1}.probe_insertion "
                      "ORDER BY 1, 2, 3")
    held = s.db.query(f"SELECT CAST(probe AS BINARY) AS probe, vendor, channels FROM {v2}.`#probe` ORDER BY 1")
    assert [r for r in held if r["probe"] in {u["probe"] for u in used}] == used, (used, held)
    order = "ORDER BY subject_id"
    assert s.db.query(f"SELECT * FROM {v1}.subject {order}") == s.db.query(f"SELECT * FROM {v2}.subject {order}")


def test_lookup_syncs_both_ways_from_60(db, prefix, dj_env, tmp_path, server_settings):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    checked = s.run("plan", "check", str(s.plan_path))
    src, dst = s.sources[0], s.v2()
    assert f"sync: {dst}.probe_insertion <-> {src}.probe_insertion: two-way" in checked.stderr, checked.stderr
    assert f"sync: {dst}.#probe <-> {src}.probe_insertion: two-way through {dst}.probe_insertion" in checked.stderr
    s.generate()
    v1, v2 = f"`{src}`", f"`{dst}`"
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")

    # before 60: v1 writes carried as before; every v2 write of the lookup refused (W6), naming it
    db.execute(f"INSERT INTO {v1}.probe_insertion VALUES (1, 9, 'np9', 'imec', 960, 0.5)")
    for sql in (f"INSERT INTO {v2}.`#probe` VALUES ('np10', 'imec', 12)",
                f"UPDATE {v2}.`#probe` SET vendor = 'IMEC' WHERE probe = 'np9'",
                f"DELETE FROM {v2}.`#probe` WHERE probe = 'np9'"):
        refusal = error_of(db, sql)
        assert refusal.errno == 1644 and "W6" in refusal.message and "#probe" in refusal.message, (sql, refusal)
        assert len(refusal.message) <= 128
    s.backfill()
    s.verify()
    applied(s, "60_constraints")
    _same_both_ways(s)

    # from 60: a v2 client adds a probe and an insertion using it, in one transaction: v1 gets the row with the
    # probe's values
    v2_client = connect(server_settings)
    try:  # (its own connection: a failure leaves no transaction open on the fixture's)
        v2_client.execute("BEGIN")
        v2_client.execute(f"INSERT INTO {v2}.`#probe` VALUES ('np2.0', 'imec', 1280)")
        v2_client.execute(f"INSERT INTO {v2}.probe_insertion VALUES (2, 7, 'np2.0', 1.5)")
        v2_client.execute("COMMIT")
    finally:
        v2_client.close()
    assert db.query(f"SELECT probe, vendor, channels FROM {v1}.probe_insertion WHERE subject_id = 2 AND "
                    "insertion_number = 7") == [{"probe": "np2.0", "vendor": "imec", "channels": 1280}]
    # an update of the lookup's values rewrites every v1 row of its key (and no echo comes back)
    rows_np1 = db.query(f"SELECT COUNT(*) AS n FROM {v1}.probe_insertion WHERE probe = 'np1'")[0]["n"]
    assert rows_np1 > 3
    db.execute(f"UPDATE {v2}.`#probe` SET vendor = 'IMEC', channels = NULL WHERE probe = 'np1'")
    assert db.query(f"SELECT COUNT(*) AS n FROM {v1}.probe_insertion WHERE probe = 'np1' AND vendor = 'IMEC' "
                    "AND channels IS NULL") == [{"n": rows_np1}]
    # a v2 row moved to another probe, its depth changed, one deleted
    db.execute(f"UPDATE {v2}.probe_insertion SET probe = 'Tetrode', depth = 2.5 WHERE subject_id = 3 AND "
               "insertion_number = 1")
    db.execute(f"DELETE FROM {v2}.probe_insertion WHERE subject_id = 4 AND insertion_number = 2")
    # key moves: an insertion renumbered with a new probe in one statement; a subject renumbered (each side's own
    # ON UPDATE CASCADE moves its insertions)
    db.execute(f"UPDATE {v2}.probe_insertion SET insertion_number = 9, probe = 'np2.0' WHERE subject_id = 5 "
               "AND insertion_number = 1")
    db.execute(f"UPDATE {v2}.subject SET subject_id = 50 WHERE subject_id = 6")
    # a lookup row no v2 row uses: held by v2 alone (it has no v1 form), and it can go again
    db.execute(f"INSERT INTO {v2}.`#probe` VALUES ('unused', 'nobody', 1)")
    db.execute(f"DELETE FROM {v2}.`#probe` WHERE probe = 'unused'")
    _same_both_ways(s)
    # a lookup key renamed in v2: its ON UPDATE CASCADE moves v2's rows, and the v1 rows of the key follow
    rows_np1 = db.query(f"SELECT COUNT(*) AS n FROM {v1}.probe_insertion WHERE probe = 'np1'")[0]["n"]
    db.execute(f"UPDATE {v2}.`#probe` SET probe = 'Neuropixels 1' WHERE probe = 'np1'")
    assert db.query(f"SELECT COUNT(*) AS n FROM {v1}.probe_insertion WHERE probe = 'Neuropixels 1'") == \
        [{"n": rows_np1}]
    db.execute(f"UPDATE {v2}.`#probe` SET probe = 'TETRODE' WHERE probe = 'Tetrode'")  # by case only (_ci)
    _same_both_ways(s)
    # a lookup row still in use: v2's foreign key refuses its delete
    refusal = error_of(db, f"DELETE FROM {v2}.`#probe` WHERE probe = 'np2'")
    assert refusal.errno == 1451, refusal

    # v1 writes keep working: a new probe, every row of a probe changed at once, a delete
    db.execute(f"INSERT INTO {v1}.probe_insertion VALUES (5, 8, 'np-v1', 'cambridge', 64, 1)")
    db.execute(f"UPDATE {v1}.probe_insertion SET vendor = 'Neuralynx' WHERE probe = 'Tetrode'")
    db.execute(f"DELETE FROM {v1}.probe_insertion WHERE subject_id = 50 AND insertion_number = 1")
    db.execute(f"UPDATE {v1}.probe_insertion SET probe = 'NP2' WHERE probe = 'np2'")  # every row, by case only
    _same_both_ways(s)
    # and a v1 row that disagrees with its key's values is still refused at once, naming the lookup and the key (W3)
    refusal = error_of(db, f"INSERT INTO {v1}.probe_insertion VALUES (5, 10, 'np-v1', 'other', 64, 1)")
    assert refusal.errno == 1644 and "W3" in refusal.message and "#probe" in refusal.message, refusal
    assert "'np-v1'" in refusal.message and len(refusal.message) <= 128, refusal
    _same_both_ways(s)
    s.verify()


def test_writers_on_both_sides_at_once(db, prefix, dj_env, tmp_path, server_settings):
    """A v1 client and a v2 client, each on subjects and probes of its own, both also using the shared probes: no
    write fails, and both sides end equal."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    s.generate()
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    s.open_at_60()
    errors: list[str] = []

    def writer(side: str, first: int) -> None:
        conn = connect(server_settings)
        try:
            for i in range(first, first + 12):
                own = f"{side}-probe-{i}"
                if side == "v1":
                    conn.execute(f"INSERT INTO {v1}.subject VALUES ({i}, 'v1 {i}')")
                    conn.execute(f"INSERT INTO {v1}.probe_insertion VALUES ({i}, 1, '{own}', 'cambridge', 32, 1), "
                                 f"({i}, 2, '{own}', 'cambridge', 32, 2), ({i}, 3, 'np2', 'imec', NULL, 3)")
                    conn.execute(f"UPDATE {v1}.probe_insertion SET vendor = 'Cambridge NT', channels = 64 "
                                 f"WHERE probe = '{own}'")
                    conn.execute(f"UPDATE {v1}.probe_insertion SET depth = depth + 0.5 WHERE subject_id = {i}")
                    if i % 3 == 0:
                        conn.execute(f"DELETE FROM {v1}.probe_insertion WHERE subject_id = {i} AND "
                                     "insertion_number = 2")
                    if i % 4 == 0:  # a subject renumbered: v1's cascade moves its insertions
                        conn.execute(f"UPDATE {v1}.subject SET subject_id = {i + 300} WHERE subject_id = {i}")
                else:
                    conn.execute("BEGIN")
                    conn.execute(f"INSERT INTO {v2}.subject VALUES ({i}, 'v2 {i}')")
                    conn.execute(f"INSERT INTO {v2}.`#probe` VALUES ('{own}', 'atlas', 16)")
                    conn.execute(f"INSERT INTO {v2}.probe_insertion VALUES ({i}, 1, '{own}', 1), ({i}, 2, '{own}', 2), "
                                 f"({i}, 3, 'np2', 3)")
                    conn.execute("COMMIT")
                    conn.execute(f"UPDATE {v2}.`#probe` SET vendor = 'Atlas Neuro', channels = NULL "
                                 f"WHERE probe = '{own}'")
                    conn.execute(f"UPDATE {v2}.probe_insertion SET depth = depth + 0.25 WHERE subject_id = {i}")
                    if i % 3 == 0:
                        conn.execute(f"UPDATE {v2}.probe_insertion SET probe = 'Tetrode' WHERE subject_id = {i} "
                                     "AND insertion_number = 2")
                    if i % 4 == 0:  # a lookup key renamed: v2's cascade and the v1 rows of the key follow
                        conn.execute(f"UPDATE {v2}.`#probe` SET probe = '{own}-renamed' WHERE probe = '{own}'")
                    if i % 5 == 0:
                        conn.execute(f"DELETE FROM {v2}.probe_insertion WHERE subject_id = {i}")
                        conn.execute(f"DELETE FROM {v2}.`#probe` WHERE probe LIKE '{own}%'")
        except ServerError as exc:
            errors.append(f"{side}: {exc}")
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=("v1", 100)), threading.Thread(target=writer, args=("v2", 200))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _same_both_ways(s)
    assert db.query(f"SELECT COUNT(*) AS n FROM {v1}.probe_insertion WHERE vendor = 'Atlas Neuro'") == [{"n": 15}]
    s.verify()

    # a lookup row's update whose rewrite of v1 ends by a lock-wait timeout fails whole (v2's row too); the next
    # write on the same connection still syncs
    holder, writer_db = connect(server_settings), connect(server_settings)
    try:
        holder.execute("BEGIN")
        holder.execute(f"SELECT * FROM {v1}.probe_insertion WHERE probe = 'np2' LIMIT 1 FOR UPDATE")
        writer_db.execute("SET SESSION innodb_lock_wait_timeout = 1")
        locked = error_of(writer_db, f"UPDATE {v2}.`#probe` SET vendor = 'locked' WHERE probe = 'np2'")
        assert locked.errno == 1205, locked
        holder.execute("ROLLBACK")
        assert db.query(f"SELECT COUNT(*) AS n FROM {v2}.`#probe` WHERE vendor = 'locked'") == [{"n": 0}]
        writer_db.execute(f"UPDATE {v2}.`#probe` SET vendor = 'IMEC' WHERE probe = 'np2'")
    finally:
        holder.close()
        writer_db.close()
    assert db.query(f"SELECT DISTINCT vendor FROM {v1}.probe_insertion WHERE probe = 'np2'") == [{"vendor": "IMEC"}]
    _same_both_ways(s)

    # the rollbacks leave v1 with every row written through v2, and no trigger behind
    before = db.query(f"SELECT * FROM {v1}.probe_insertion ORDER BY subject_id, insertion_number")
    applied(s, "rollback/60_constraints", "rollback/50_verify", "rollback/40_backfill", "rollback/30_dualwrite")
    assert db.query(f"SELECT * FROM {v1}.probe_insertion ORDER BY subject_id, insertion_number") == before
    assert db.query(f"SELECT COUNT(*) AS n FROM {v2}.`#probe`") == [{"n": 0}]
    assert db.query("SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN (%s, %s)",
                    [s.sources[0], s.v2()]) == [{"n": 0}]


def test_verify_checks_the_lookup_both_ways(db, prefix, dj_env, tmp_path):
    """v1 against reverse(v2): each v1 row against its v2 row joined to its lookup row, keyed by v1's key; a moved
    value changed in v1 behind the triggers' back is found in both directions."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    s.generate()
    v1 = f"`{s.sources[0]}`"
    s.open_at_60()
    _same_both_ways(s)
    code, tables, diffs = verify_report(s)
    assert code == 0 and diffs == [], (tables, diffs)
    by_way = {(t["v2_table"].split(".")[1], t["direction"]): t for t in tables}
    assert set(by_way) == {("#probe", FORWARD), ("probe_insertion", FORWARD), ("subject", FORWARD),
                           ("probe_insertion", BACK), ("subject", BACK)}, sorted(by_way)
    assert by_way[("probe_insertion", BACK)]["v1_rows"] == 36 and by_way[("probe_insertion", BACK)]["result"] == "OK"

    # behind the triggers' back (dropped first): one v1 row's vendor changed
    for t in db.query("SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = %s "
                      "AND EVENT_OBJECT_TABLE = 'probe_insertion'", [s.sources[0]]):
        db.execute(f"DROP TRIGGER {v1}.`{t['n']}`")
    db.execute(f"UPDATE {v1}.probe_insertion SET vendor = 'behind' WHERE subject_id = 2 AND insertion_number = 2")
    code, tables, diffs = verify_report(s)
    assert code == 1
    found = {(d["v2_table"].split(".")[1], d["direction"], tuple(str(k) for k in json.loads(d["row_key"])))
             for d in diffs}
    assert ("probe_insertion", BACK, ("2", "2")) in found, found
    assert any(d[1] == FORWARD for d in found), found


def test_datajoint_2_on_v2_and_datajoint_014_on_v1_with_a_lookup(tmp_path, prefix, dj014_python, dj_env, db):
    """The 0.14 pipeline's subject.sex moved into `#sex` on test_two_way_verify.py's two-way plan: DataJoint 2.3 users
    write v2 (subjects with sessions and tags, update1, key moves, cascading deletes) while DataJoint 0.14 users
    write v1; every table compared row by row both ways, independently of verify, then verify clean both ways."""
    import subprocess
    import sys

    from support.engine import SUPPORT, build_v1, bulk_fill, dj014_writers, migration_files

    store = tmp_path / "store"
    common, ephys = build_v1(dj014_python, prefix, store, dj_env)
    bulk_fill(db, common, 200)

    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        subject = next(s for s in plan["schemas"] if s["source"] == common)["tables"]["subject"]
        subject["columns"]["notes"] = {"rename": "remarks"}
        subject["columns"]["weight"] = {"type": "decimal(8,3)"}
        subject["add"] = {"cohort": {"type": "varchar(16)", "default": "'v1'"}}
        subject["lookups"] = [{"table": "#sex", "key": ["sex"], "comment": "sexes"}]

    plan_path, out = migration_files(tmp_path, prefix, [common, ephys], dj_env, edit)
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.out, s.plan_path = out, plan_path
    lines = s.run("plan", "check", str(plan_path)).stderr
    assert f"sync: {common}_v2.#sex <-> {common}.subject: two-way through {common}_v2.subject" in lines, lines
    assert f"sync: {common}_v2.subject <-> {common}.subject: two-way" in lines, lines
    s.open_at_60(chunk_rows=97)
    v2_writers = [subprocess.Popen([sys.executable, str(SUPPORT / "dj2_writers.py"), "--schema", f"{common}_v2",
                                    "--store-dir", str(store), "--worker", str(w), "--iterations", "12"],
                                   env=dj_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for w in (1, 2)]
    dj014_writers(dj014_python, prefix, store, dj_env, 1, ["1000-1049", "1050-1099"], iterations=12)
    for w in v2_writers:
        stdout, stderr = w.communicate(timeout=600)
        assert w.returncode == 0, stderr[-3000:]
        assert json.loads(stdout.splitlines()[-1])["inserted"] == 12, stdout

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
    assert db.query(f"SELECT COUNT(*) AS n FROM `{common}`.subject WHERE notes LIKE 'updated in 2.x %%'") == [{"n": 18}]
    held = {r["sex"] for r in db.query(f"SELECT sex FROM {v2c}.`#sex`")}
    assert {r["sex"] for r in db.query(f"SELECT DISTINCT sex FROM `{common}`.subject")} <= held

    code, tables, diffs = verify_report(s)
    assert code == 0 and diffs == [] and all(t["result"] == "OK" for t in tables), (tables, diffs)
    assert {t["v2_table"] for t in tables if t["direction"] == BACK} >= {f"{common}_v2.subject"}


V1_TWO = """
CREATE TABLE recording (recording_id int NOT NULL, probe varchar(32) NOT NULL, vendor varchar(32) NOT NULL,
  rig varchar(16) NOT NULL, room varchar(16) NULL, duration double NOT NULL, PRIMARY KEY (recording_id))
  ENGINE=InnoDB;
INSERT INTO recording SELECT seq, ELT(1 + seq % 2, 'np1', 'np2'), ELT(1 + seq % 2, 'imec', 'IMEC'),
  ELT(1 + seq % 3, 'rig1', 'rig2', 'rig3'), ELT(1 + seq % 3, 'A', NULL, 'C'), seq / 8 FROM seq_1_to_30
"""


def test_two_lookups_of_one_table_with_renamed_columns(db, prefix, dj_env, tmp_path):
    """Two lookups taken from one table, a moved column renamed and the table's own column renamed: each v1 row reads
    each moved column back from its own lookup row; an update of either lookup reaches v1."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1_TWO)

    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        s.tables(plan)["recording"] = {
            "columns": {"recording_id": "keep", "probe": "keep", "vendor": {"rename": "maker"}, "rig": "keep",
                        "room": "keep", "duration": {"rename": "seconds"}},
            "lookups": [{"table": "#probe", "key": ["probe"], "columns": ["maker"]},
                        {"table": "#rig", "key": ["rig"], "columns": ["room"]}]}
    s.plan(edit)
    lines = s.run("plan", "check", str(s.plan_path)).stderr
    dst = s.v2()
    for lookup in ("#probe", "#rig"):
        assert f"sync: {dst}.{lookup} <-> {s.sources[0]}.recording: two-way through {dst}.recording" in lines, lines
    s.generate()
    v1, v2 = f"`{s.sources[0]}`", f"`{dst}`"
    s.open_at_60()

    def same() -> None:
        assert db.query(f"SELECT * FROM {v1}.recording ORDER BY recording_id") == db.query(
            f"SELECT r.recording_id, r.probe, p.maker AS vendor, r.rig, g.room, r.seconds AS duration "
            f"FROM {v2}.recording AS r JOIN {v2}.`#probe` AS p ON p.probe = r.probe "
            f"JOIN {v2}.`#rig` AS g ON g.rig = r.rig ORDER BY recording_id")

    same()
    db.execute(f"INSERT INTO {v2}.`#rig` VALUES ('rig9', 'Z')")
    db.execute(f"INSERT INTO {v2}.recording VALUES (100, 'np2', 'rig9', 1.5)")
    db.execute(f"UPDATE {v2}.`#probe` SET maker = 'Imec' WHERE probe = 'np2'")
    db.execute(f"UPDATE {v2}.`#rig` SET room = NULL WHERE rig = 'rig1'")
    db.execute(f"UPDATE {v2}.recording SET rig = 'rig2', seconds = 9 WHERE recording_id = 3")
    db.execute(f"INSERT INTO {v1}.recording VALUES (200, 'np3', 'cambridge', 'rig9', 'Z', 2)")
    same()
    assert db.query(f"SELECT vendor, room FROM {v1}.recording WHERE recording_id = 100") == [
        {"vendor": "Imec", "room": "Z"}]
    s.verify()


def test_a_lookup_of_a_retyped_column_stays_one_way_and_v2_refuses_its_writes(db, prefix, dj_env, tmp_path):
    """A moved column retyped (vendor wider in v2): the table and its lookup sync one way, `plan check` says why, and
    from 60 on v2 refuses its clients' writes to both with that reason (W7), within 128 characters."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)

    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        columns = {c: "keep" for c in ("subject_id", "insertion_number", "probe", "channels", "depth")}
        s.tables(plan)["probe_insertion"] = {"columns": {**columns, "vendor": {"type": "varchar(64)"}},
                                             "lookups": [LOOKUP]}
    s.plan(edit)
    src, dst = s.sources[0], s.v2()
    lines = s.run("plan", "check", str(s.plan_path)).stderr
    why = "#probe's vendor is not v1's type: a lookup goes back only with the columns it moves unchanged"
    assert f"sync: {dst}.probe_insertion <- {src}.probe_insertion: one-way (" in lines and why in lines, lines
    assert (f"sync: {dst}.#probe <- {src}.probe_insertion: one-way (a lookup goes back through the rows of "
            f"{dst}.probe_insertion, which syncs one way)") in lines, lines
    s.generate()
    s.open_at_60()
    v1, v2 = f"`{src}`", f"`{dst}`"
    for sql, table in ((f"INSERT INTO {v2}.`#probe` VALUES ('np10', 'imec', 12)", "#probe"),
                       (f"UPDATE {v2}.`#probe` SET vendor = 'IMEC' WHERE probe = 'np1'", "#probe"),
                       (f"UPDATE {v2}.probe_insertion SET depth = 9 WHERE subject_id = 1", "probe_insertion")):
        refusal = error_of(db, sql)
        # the table whole, the way out, and the reason (as much of it as fits)
        assert refusal.errno == 1644 and refusal.message.startswith(
            f"djsqlgen W7 {dst}.{table}: write to v1; syncs one way: "), refusal
        assert ("a lookup goes back" if table == "#probe" else "#probe's vendor is not v1's type") in refusal.message
        assert len(refusal.message) <= 128, refusal
    # v1 writes still reach v2
    db.execute(f"INSERT INTO {v1}.probe_insertion VALUES (1, 9, 'np9', 'imec', 960, 0.5)")
    assert db.query(f"SELECT vendor FROM {v2}.`#probe` WHERE probe = 'np9'") == [{"vendor": "imec"}]
    s.verify()


V1_SEX = """
CREATE TABLE animal (animal_id int NOT NULL, sex char(1) NOT NULL, name varchar(16) NOT NULL DEFAULT '',
  PRIMARY KEY (animal_id)) ENGINE=InnoDB;
INSERT INTO animal SELECT seq, ELT(1 + seq % 2, 'F', 'M'), CONCAT('a', seq) FROM seq_1_to_12
"""


def test_writers_of_different_rows_share_a_key_only_lookup_row_without_waiting(db, prefix, dj_env, tmp_path,
                                                                               server_settings):
    """A lookup of its key alone (`#sex`): every writer of an 'M' animal shares its lookup row, which no write without
    the triggers locks exclusively. A v1 key move left open must not make a write of another 'M' animal wait, on
    either side (the reverse triggers once joined `#sex` in a locking read, an X lock under the prelocking of a
    statement whose triggers also write `#sex`: two v1 key moves of different animals deadlocked on it)."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1_SEX)

    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        s.tables(plan)["animal"] = {"lookups": [{"table": "#sex", "key": ["sex"], "comment": "sexes"}]}

    s.plan(edit)
    s.generate()
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    s.open_at_60()
    holder, writer_db = connect(server_settings), connect(server_settings)
    try:
        holder.execute("BEGIN")
        holder.execute(f"UPDATE {v1}.animal SET animal_id = 101 WHERE animal_id = 1")  # 'M', left open
        writer_db.execute("SET SESSION innodb_lock_wait_timeout = 1")
        for sql in (f"UPDATE {v1}.animal SET animal_id = 103 WHERE animal_id = 3",  # 'M' too: a key move
                    f"UPDATE {v1}.animal SET name = 'renamed' WHERE animal_id = 5",
                    f"UPDATE {v2}.animal SET name = 'from v2' WHERE animal_id = 7",
                    f"UPDATE {v2}.animal SET animal_id = 109 WHERE animal_id = 9",
                    f"INSERT INTO {v1}.animal VALUES (21, 'M', 'new in v1')",
                    f"INSERT INTO {v2}.animal VALUES (23, 'M', 'new in v2')"):
            writer_db.execute(sql)
        holder.execute("COMMIT")
    finally:
        holder.close()
        writer_db.close()
    order = "ORDER BY animal_id"
    rows = db.query(f"SELECT animal_id, sex, name FROM {v1}.animal {order}")
    assert rows == db.query(f"SELECT animal_id, sex, name FROM {v2}.animal {order}")
    assert [r["animal_id"] for r in rows] == [2, 4, 5, 6, 7, 8, 10, 11, 12, 21, 23, 101, 103, 109], rows
    assert {r["sex"] for r in db.query(f"SELECT sex FROM {v2}.`#sex`")} == {"F", "M"}
    s.verify()
