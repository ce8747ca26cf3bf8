"""Two-way sync below a one-way table (issue 24): a key moved on v2 reaches v1's tables below the one-way table
through v1's own ON UPDATE CASCADE, so those tables sync both ways.

Two schemas, DataJoint 0.14's foreign keys (ON UPDATE CASCADE ON DELETE RESTRICT), composite keys: `lab.subject` and
`lab.session` sync both ways, `ephys._recording` one way (the plan says so, as an external-store column would),
and below it the Manual table `ephys.curation` (a column retyped) and its part `ephys.curation__label`. A v2 key
move on subject or session moves every level on both sides: v2's ON UPDATE CASCADE moves v2's rows, the reverse
trigger moves v1's subject or session, and v1's own cascade moves its recordings, curations and labels (carried
by the reverse trigger too, a move reached v1's curation before v1's cascade had moved its recording: 1452).
The tables below the one-way table take v2 clients' inserts, updates, key moves and deletes, and v1's; every
table compared both ways by full ordered SELECTs, and verify clean.
"""

from __future__ import annotations

import pytest
from support.safety import FastScenario

from djsqlgen.run.db import ServerError

LAB = """
CREATE TABLE subject (
  subject_id int NOT NULL,
  nickname varchar(32) NOT NULL,
  PRIMARY KEY (subject_id)) ENGINE=InnoDB;
CREATE TABLE session (
  subject_id int NOT NULL,
  session_idx smallint NOT NULL,
  session_date date NOT NULL,
  PRIMARY KEY (subject_id, session_idx),
  CONSTRAINT session_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO subject VALUES (1, 'Ana'), (2, 'Bo'), (3, 'Cy');
INSERT INTO session VALUES (1, 1, '2024-01-01'), (1, 2, '2024-01-02'), (2, 1, '2024-01-03'), (3, 1, '2024-01-04')
"""


def _ephys(lab: str) -> str:
    return f"""
CREATE TABLE _recording (
  subject_id int NOT NULL,
  session_idx smallint NOT NULL,
  rec_idx int NOT NULL,
  probe varchar(16) NOT NULL,
  PRIMARY KEY (subject_id, session_idx, rec_idx),
  CONSTRAINT recording_session FOREIGN KEY (subject_id, session_idx)
    REFERENCES `{lab}`.session (subject_id, session_idx)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE curation (
  subject_id int NOT NULL,
  session_idx smallint NOT NULL,
  rec_idx int NOT NULL,
  curation_idx int NOT NULL,
  curator varchar(16) NOT NULL,
  note varchar(32) NULL,
  PRIMARY KEY (subject_id, session_idx, rec_idx, curation_idx),
  CONSTRAINT curation_recording FOREIGN KEY (subject_id, session_idx, rec_idx)
    REFERENCES _recording (subject_id, session_idx, rec_idx) ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE curation__label (
  subject_id int NOT NULL,
  session_idx smallint NOT NULL,
  rec_idx int NOT NULL,
  curation_idx int NOT NULL,
  unit int NOT NULL,
  label enum('good','mua','noise') NOT NULL,
  PRIMARY KEY (subject_id, session_idx, rec_idx, curation_idx, unit),
  CONSTRAINT label_curation FOREIGN KEY (subject_id, session_idx, rec_idx, curation_idx)
    REFERENCES curation (subject_id, session_idx, rec_idx, curation_idx) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB;
INSERT INTO _recording VALUES (1, 1, 1, 'np1'), (1, 1, 2, 'np2'), (1, 2, 1, 'np1'), (2, 1, 1, 'tet'),
  (3, 1, 1, 'np1');
INSERT INTO curation VALUES (1, 1, 1, 1, 'ana', 'first pass'), (1, 1, 1, 2, 'bo', NULL), (1, 1, 2, 1, 'ana', 'x'),
  (1, 2, 1, 1, 'cy', NULL), (2, 1, 1, 1, 'bo', 'tetrode');
INSERT INTO curation__label VALUES (1, 1, 1, 1, 1, 'good'), (1, 1, 1, 1, 2, 'mua'), (1, 1, 1, 2, 1, 'noise'),
  (1, 1, 2, 1, 1, 'good'), (1, 2, 1, 1, 1, 'good'), (1, 2, 1, 1, 2, 'noise'), (2, 1, 1, 1, 1, 'mua')
"""


KEYS = {"subject": "subject_id", "session": "subject_id, session_idx",
        "_recording": "subject_id, session_idx, rec_idx",
        "curation": "subject_id, session_idx, rec_idx, curation_idx",
        "curation__label": "subject_id, session_idx, rec_idx, curation_idx, unit"}


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    # "lab" first: its v2 schema names sort after ephys's, so the reverse triggers' parents-first order of the two
    # schemas' tables is not also the alphabetical one
    s = FastScenario(db, prefix, dj_env, tmp_path, schemas=("lab", "ephys"))
    s.create_v1({s.sources[0]: LAB, s.sources[1]: _ephys(s.sources[0])})

    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        ephys = s.tables(plan, s.sources[1])
        ephys["_recording"] = {"sync": "one-way"}
        ephys["curation"] = {"columns": {**{c: "keep" for c in KEYS["curation"].split(", ") + ["curator"]},
                                         "note": {"type": "varchar(64)"}}}
    s.plan(edit)
    return s


def _schema(s: FastScenario, table: str, side: str) -> str:
    source = s.sources[0] if table in ("subject", "session") else s.sources[1]
    return f"`{source}`" if side == "v1" else f"`{s.v2(source)}`"


def _rows(s: FastScenario, table: str, side: str) -> list[tuple]:
    return [tuple(r.values()) for r in s.db.query(
        f"SELECT * FROM {_schema(s, table, side)}.`{table}` ORDER BY {KEYS[table]}")]


def _same_both_ways(s: FastScenario) -> None:
    """Every table, v1 against v2, full ordered SELECTs (the plan retypes only curation.note, wider: same values)."""
    for table in KEYS:
        assert _rows(s, table, "v1") == _rows(s, table, "v2"), table


def _open(s: FastScenario) -> tuple[str, str, str, str]:
    """Through 60: v2 takes writes. The four schemas: v1 lab, v1 ephys, v2 lab, v2 ephys."""
    s.generate()
    s.open_at_60()
    lab, ephys = s.sources
    return f"`{lab}`", f"`{ephys}`", f"`{s.v2(lab)}`", f"`{s.v2(ephys)}`"


def test_tables_below_a_one_way_table_sync_both_ways(scenario):
    s = scenario
    checked = s.run("plan", "check", str(s.plan_path))
    lab, ephys = s.sources
    for table in ("curation", "curation__label"):
        assert f"sync: {s.v2(ephys)}.{table} <-> {ephys}.{table}: two-way" in checked.stderr, checked.stderr
    assert f"sync: {s.v2(ephys)}._recording <- {ephys}._recording: one-way (" in checked.stderr, checked.stderr
    assert f"sync: {s.v2(lab)}.session <-> {lab}.session: two-way" in checked.stderr, checked.stderr
    v1_lab, v1_ephys, v2_lab, v2_ephys = _open(s)
    _same_both_ways(s)

    # a v2 key move on the top table, with rows at every level: all of them move on both sides
    s.db.execute(f"UPDATE {v2_lab}.subject SET subject_id = 11 WHERE subject_id = 1")
    _same_both_ways(s)
    assert [r[:5] for r in _rows(s, "curation__label", "v1") if r[0] == 11] == [
        (11, 1, 1, 1, 1), (11, 1, 1, 1, 2), (11, 1, 1, 2, 1), (11, 1, 2, 1, 1), (11, 2, 1, 1, 1), (11, 2, 1, 1, 2)]
    assert not [r for r in _rows(s, "_recording", "v1") if r[0] == 1]
    # and on the table between (a composite key, one column of it moving)
    s.db.execute(f"UPDATE {v2_lab}.session SET session_idx = 5 WHERE subject_id = 11 AND session_idx = 2")
    _same_both_ways(s)
    assert [r for r in _rows(s, "curation__label", "v1") if r[:2] == (11, 5)] == [
        (11, 5, 1, 1, 1, "good"), (11, 5, 1, 1, 2, "noise")]

    # the tables below the one-way one take v2 clients' writes, carried to v1
    s.db.execute(f"INSERT INTO {v2_ephys}.curation VALUES (3, 1, 1, 1, 'dee', 'written on v2, ü')")
    s.db.execute(f"INSERT INTO {v2_ephys}.curation__label VALUES (3, 1, 1, 1, 1, 'good'), (3, 1, 1, 1, 2, 'mua')")
    s.db.execute(f"UPDATE {v2_ephys}.curation SET note = 'revised on v2' WHERE subject_id = 2")
    s.db.execute(f"UPDATE {v2_ephys}.curation__label SET label = 'noise' WHERE subject_id = 3 AND unit = 2")
    # a key move on the child itself: v2's cascade moves its labels, v1's its own
    s.db.execute(f"UPDATE {v2_ephys}.curation SET curation_idx = 7 WHERE subject_id = 11 AND session_idx = 1 "
                 "AND rec_idx = 1 AND curation_idx = 2")
    s.db.execute(f"DELETE FROM {v2_ephys}.curation__label WHERE subject_id = 11 AND session_idx = 1 AND rec_idx = 2")
    s.db.execute(f"DELETE FROM {v2_ephys}.curation WHERE subject_id = 11 AND session_idx = 1 AND rec_idx = 2")
    _same_both_ways(s)
    assert _rows(s, "curation", "v1")[:2] == [(2, 1, 1, 1, "bo", "revised on v2"),
                                              (3, 1, 1, 1, "dee", "written on v2, ü")]
    assert (11, 1, 1, 7, 1, "noise") in _rows(s, "curation__label", "v1")
    assert not [r for r in _rows(s, "curation", "v1") if r[:3] == (11, 1, 2)]

    # v1 writes still carried to v2, a key move there included
    s.db.execute(f"INSERT INTO {v1_ephys}.curation VALUES (3, 1, 1, 2, 'eve', NULL)")
    s.db.execute(f"INSERT INTO {v1_ephys}.curation__label VALUES (3, 1, 1, 2, 1, 'mua')")
    s.db.execute(f"UPDATE {v1_lab}.subject SET subject_id = 13 WHERE subject_id = 3")
    s.db.execute(f"UPDATE {v1_ephys}.curation SET curator = 'eva' WHERE subject_id = 13 AND curation_idx = 2")
    _same_both_ways(s)
    assert [r[:5] for r in _rows(s, "curation__label", "v2") if r[0] == 13] == [
        (13, 1, 1, 1, 1), (13, 1, 1, 1, 2), (13, 1, 1, 2, 1)]

    # the one-way table still refuses v2 clients, naming itself
    with pytest.raises(ServerError) as refused:
        s.db.execute(f"UPDATE {v2_ephys}._recording SET probe = 'np9' WHERE subject_id = 2")
    assert refused.value.errno == 1644 and "_recording" in refused.value.message, refused.value
    _same_both_ways(s)
    assert s.verify().returncode == 0


def test_a_v2_key_move_above_the_one_way_table_in_a_transaction_with_child_writes(scenario):
    """Within one v2 transaction: a label written, its subject moved, a curation moved and written; a rollback
    leaves both sides as they were, a commit moves everything on both."""
    s = scenario
    v1_lab, v1_ephys, v2_lab, v2_ephys = _open(s)
    before = {t: _rows(s, t, "v1") for t in KEYS}
    for end in ("ROLLBACK", "COMMIT"):
        s.db.execute("BEGIN")
        try:
            s.db.execute(f"INSERT INTO {v2_ephys}.curation__label VALUES (2, 1, 1, 1, 9, 'good')")
            s.db.execute(f"UPDATE {v2_lab}.subject SET subject_id = 22 WHERE subject_id = 2")
            s.db.execute(f"UPDATE {v2_ephys}.curation SET curation_idx = 4, note = 'moved' WHERE subject_id = 22")
        finally:
            s.db.execute(end)  # (a failed write rolled back too: an open transaction would hold the schemas' locks)
        _same_both_ways(s)
        if end == "ROLLBACK":
            assert {t: _rows(s, t, "v1") for t in KEYS} == before
    assert [r for r in _rows(s, "curation__label", "v1") if r[0] == 22] == [
        (22, 1, 1, 4, 1, "mua"), (22, 1, 1, 4, 9, "good")]
    assert s.verify().returncode == 0
