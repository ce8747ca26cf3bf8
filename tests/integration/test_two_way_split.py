"""Two-way sync of a split table (issue 24 items 1 and 3): each side's v2 rows go back to the one v1 table.

`recording` becomes `ephys_recording` (modality 'ephys') and `imaging_recording` (modality 'imaging'). From 60 on, a
v2 INSERT, UPDATE (of the key and of other columns) and DELETE on either side reaches v1's `recording`, and a
subject renumbered in v2 moves both sides' rows (v2's ON UPDATE CASCADE) and v1's (v1's own); v1 writes keep
working, rows moved across the filter by v1 included, with no echo deleting v1's row. A v2 row that, as v1 holds it,
belongs to the other side, to no side or to both is refused at the write (W9, naming the table), an UPDATE moving a
row across the filter too: the way out (delete it here, insert it into the other side, one transaction) works.
Every table is compared both ways by full ordered SELECTs, independently of verify, and verify is clean in both
directions.
"""

from __future__ import annotations

from support.safety import FastScenario, applied
from support.two_way import (BACK, FORWARD, datajoint_on_both_sides, refused_at_write,
                              two_way_at_60, verified_both_ways)

from djsqlgen.run.db import connect

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, name varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id))
  ENGINE=InnoDB;
CREATE TABLE recording (subject_id int NOT NULL, rec varchar(8) NOT NULL, modality varchar(16) NOT NULL,
  x float NULL, note varchar(32) NOT NULL DEFAULT '', PRIMARY KEY (subject_id, rec),
  CONSTRAINT recording_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO subject (subject_id) SELECT seq FROM seq_1_to_12;
INSERT INTO recording SELECT s.seq, CONCAT('r', k.seq), IF((s.seq + k.seq) % 3 = 0, 'imaging', 'ephys'),
  IF(k.seq = 2, NULL, s.seq / k.seq), '' FROM seq_1_to_12 AS s, seq_1_to_4 AS k
"""
SIDES = [{"table": "ephys_recording", "where": "modality = 'ephys'"},
         {"table": "imaging_recording", "where": "modality = 'imaging'"}]
ORDER = "ORDER BY subject_id, rec"


def _two_way(s: FastScenario):
    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        s.tables(plan)["recording"] = {"split": SIDES}
    return edit


def _same_both_ways(s: FastScenario) -> None:
    """Independently of verify, by full ordered SELECTs: each side is v1's rows of its modality (forward), and v1's
    table is the union of the sides (reverse)."""
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    for modality in ("ephys", "imaging"):
        assert s.db.query(f"SELECT * FROM {v2}.{modality}_recording {ORDER}") == \
            s.db.query(f"SELECT * FROM {v1}.recording WHERE modality = '{modality}' {ORDER}"), modality
    union = s.db.query(f"SELECT * FROM (SELECT * FROM {v2}.ephys_recording UNION ALL "
                       f"SELECT * FROM {v2}.imaging_recording) AS u {ORDER}")
    assert s.db.query(f"SELECT * FROM {v1}.recording {ORDER}") == union
    assert s.db.query(f"SELECT * FROM {v1}.subject ORDER BY subject_id") == \
        s.db.query(f"SELECT * FROM {v2}.subject ORDER BY subject_id")


def _clean_both_ways(s: FastScenario) -> None:
    verified_both_ways(s, {("ephys_recording", BACK), ("imaging_recording", BACK), ("ephys_recording", FORWARD),
                           ("imaging_recording", FORWARD)})


def test_split_syncs_both_ways_from_60(db, prefix, dj_env, tmp_path, server_settings):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    checked = s.run("plan", "check", str(s.plan_path))
    src, dst = s.sources[0], s.v2()
    for side in ("ephys_recording", "imaging_recording"):
        assert f"sync: {dst}.{side} <-> {src}.recording: two-way" in checked.stderr, checked.stderr
    s.generate()
    v1, v2 = f"`{src}`", f"`{dst}`"
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")

    # before 60: v1 writes carried as before, a v2 write refused (W6)
    db.execute(f"INSERT INTO {v1}.recording VALUES (1, 'r9', 'imaging', 0.5, 'before')")
    refused_at_write(db, f"INSERT INTO {v2}.ephys_recording VALUES (2, 'r9', 'ephys', 1, '')", "W6", "recording")
    s.backfill()
    applied(s, "60_constraints")
    _same_both_ways(s)
    _clean_both_ways(s)

    # from 60: v2 writes on either side reach v1's one table
    db.execute(f"INSERT INTO {v2}.ephys_recording VALUES (2, 'r9', 'ephys', 1.25, 'v2 ephys')")
    db.execute(f"INSERT INTO {v2}.imaging_recording VALUES (2, 'r10', 'imaging', NULL, 'v2 imaging'), "
               "(3, 'r10', 'imaging', 2, '')")
    db.execute(f"UPDATE {v2}.ephys_recording SET x = 7.5, note = 'changed' WHERE subject_id = 1")  # several rows
    db.execute(f"UPDATE {v2}.imaging_recording SET rec = 'r20', note = 'moved' WHERE subject_id = 2 AND rec = 'r10'")
    db.execute(f"UPDATE {v2}.ephys_recording SET rec = CONCAT(rec, 'b'), x = -1 WHERE subject_id = 4")
    db.execute(f"DELETE FROM {v2}.imaging_recording WHERE subject_id = 3 AND rec = 'r10'")
    db.execute(f"DELETE FROM {v2}.ephys_recording WHERE subject_id = 5")
    assert db.query(f"SELECT note FROM {v1}.recording WHERE subject_id = 2 AND rec IN ('r9', 'r20') "
                    "ORDER BY rec") == [{"note": "moved"}, {"note": "v2 ephys"}]
    # a subject renumbered in v2: v2's ON UPDATE CASCADE moves both sides' rows, v1's own moves v1's
    db.execute(f"UPDATE {v2}.subject SET subject_id = 60 WHERE subject_id = 6")
    assert db.query(f"SELECT COUNT(*) AS n FROM {v1}.recording WHERE subject_id = 60") == [{"n": 4}]
    _same_both_ways(s)

    # refused at the write: a row of the other side, of no side; an UPDATE moving a row across the filter
    before = db.query(f"SELECT * FROM {v1}.recording {ORDER}")
    refused_at_write(db, f"INSERT INTO {v2}.ephys_recording VALUES (7, 'r9', 'imaging', 1, '')", "W9", "ephys_recording")
    refused_at_write(db, f"INSERT INTO {v2}.imaging_recording VALUES (7, 'r9', 'ecog', 1, '')", "W9", "imaging_recording")
    refused_at_write(db, f"UPDATE {v2}.ephys_recording SET modality = 'imaging' WHERE subject_id = 7 AND rec = 'r1'", "W9",
             "ephys_recording")
    refused_at_write(db, f"UPDATE {v2}.imaging_recording SET modality = 'ephys', rec = 'r30' WHERE subject_id = 8 AND "
             "rec = 'r1'", "W9", "imaging_recording")
    assert db.query(f"SELECT * FROM {v1}.recording {ORDER}") == before
    _same_both_ways(s)
    # the way out: delete it from its side and insert it into the other, in one transaction
    client = connect(server_settings)
    try:
        client.execute("BEGIN")
        client.execute(f"DELETE FROM {v2}.ephys_recording WHERE subject_id = 7 AND rec = 'r1'")
        client.execute(f"INSERT INTO {v2}.imaging_recording VALUES (7, 'r1', 'imaging', 3, 'crossed in v2')")
        client.execute("COMMIT")
    finally:
        client.close()
    assert db.query(f"SELECT modality, note FROM {v1}.recording WHERE subject_id = 7 AND rec = 'r1'") == \
        [{"modality": "imaging", "note": "crossed in v2"}]

    # v1 writes keep working: rows moved across the filter (with and without a key change), the echo of the side
    # they leave deleting nothing in v1; a delete; a subject renumbered
    db.execute(f"INSERT INTO {v1}.recording VALUES (9, 'r9', 'ephys', 9, 'v1')")
    db.execute(f"UPDATE {v1}.recording SET modality = IF(modality = 'ephys', 'imaging', 'ephys') WHERE subject_id = 9")
    db.execute(f"UPDATE {v1}.recording SET modality = IF(modality = 'ephys', 'imaging', 'ephys'), "
               "rec = CONCAT(rec, 'x') WHERE subject_id = 10")
    assert db.query(f"SELECT COUNT(*) AS n FROM {v1}.recording WHERE subject_id IN (9, 10)") == [{"n": 9}]
    db.execute(f"DELETE FROM {v1}.recording WHERE subject_id = 11 AND rec = 'r2'")
    db.execute(f"UPDATE {v1}.subject SET subject_id = 120 WHERE subject_id = 12")
    _same_both_ways(s)
    _clean_both_ways(s)


def test_the_round_trip_check_covers_each_side(db, prefix, dj_env, tmp_path):
    """A side's value that would not come back from v2 (a CHAR drops trailing spaces) refuses two-way, naming the
    side's plan key, the column and v1's key: each side is checked over the rows its filter passes."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1 + ";\nUPDATE recording SET note = 'padded  ' WHERE subject_id = 2 AND rec = 'r1'")
    modality = s.db.query(f"SELECT modality FROM `{s.sources[0]}`.recording WHERE subject_id = 2 AND rec = 'r1'")
    side = [m["modality"] for m in modality] == ["imaging"]

    def edit(plan: dict) -> None:
        _two_way(s)(plan)
        s.tables(plan)["recording"]["columns"] = {"subject_id": "keep", "rec": "keep", "modality": "keep",
                                                  "x": "keep", "note": {"type": "char(32)"}}
    s.plan(edit)
    checked = s.run("plan", "check", str(s.plan_path), check=False)
    plan_key = f"schemas.{s.sources[0]}.tables.recording.split[{int(side)}]"
    expected = f"{plan_key}: {s.sources[0]}.recording.note at key [\"2\", \"r1\"] does not come back from v2 byte"
    assert checked.returncode != 0 and expected in checked.stdout + checked.stderr, checked
    # the row fixed, every side comes back
    s.db.execute(f"UPDATE `{s.sources[0]}`.recording SET note = 'padded' WHERE subject_id = 2 AND rec = 'r1'")
    assert s.run("plan", "check", str(s.plan_path)).returncode == 0


def test_datajoint_2_on_v2_and_datajoint_014_on_v1_with_a_split(db, prefix, dj_env, tmp_path, dj014_python):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    two_way_at_60(s, V1, _two_way)
    datajoint_on_both_sides(s, dj014_python, "split")
    _same_both_ways(s)
    # 2 x 12 rows a side, a third of them deleted
    assert db.query(f"SELECT COUNT(*) AS n FROM `{s.sources[0]}`.recording WHERE rec LIKE 'w%%'") == [{"n": 32}]
    _clean_both_ways(s)


def test_a_split_whose_filter_reads_a_column_v2_drops_stays_one_way(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)

    def edit(plan: dict) -> None:
        _two_way(s)(plan)
        s.tables(plan)["recording"]["columns"] = {"subject_id": "keep", "rec": "keep", "modality": "drop",
                                                  "x": "keep", "note": "keep"}
    s.plan(edit)
    checked = s.run("plan", "check", str(s.plan_path), check=False)
    src, dst = s.sources[0], s.v2()
    for side in ("ephys_recording", "imaging_recording"):
        assert f"sync: {dst}.{side} <- {src}.recording: one-way (the split's filters read modality, which " \
               f"{dst}.{side} does not keep: a v2 row cannot tell which side it belongs to" in checked.stderr, checked
