"""Two-way sync with the plan's ``inverse:`` (issue 24): v1 columns v2 dropped, without a default, given back to a
row inserted into v2: by an expression over the v2 row (``rig``), and as the next number per subject
(``implant_no``, ``next_for``) under a lock on the subject's v1 row, so two clients numbering one subject's rows at
once take turns. Through 60 with the stock client; v2 inserts (two clients on one subject at once), updates and
deletes carried to v1; every table compared row by row with full ordered SELECTs; verify clean.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support.safety import FastScenario, applied, refused

from djsqlgen.run.db import ServerError, connect

SUPPORT = Path(__file__).resolve().parents[1] / "support"

SUBJECT = """
CREATE TABLE subject (
  subject_id int NOT NULL,
  nickname varchar(32) NOT NULL,
  PRIMARY KEY (subject_id)) ENGINE=InnoDB;
INSERT INTO subject VALUES (1, 'Ana'), (2, 'Bo');
"""

V1 = SUBJECT + """
CREATE TABLE session (
  subject_id int NOT NULL,
  session_idx smallint unsigned NOT NULL,
  session_date date NOT NULL,
  rig varchar(40) NOT NULL,
  PRIMARY KEY (subject_id, session_idx),
  CONSTRAINT session_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE implant (
  subject_id int NOT NULL,
  implanted_at datetime NOT NULL,
  implant_no int unsigned NOT NULL,
  site varchar(16) NOT NULL,
  PRIMARY KEY (subject_id, implanted_at),
  CONSTRAINT implant_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE session__note (
  subject_id int NOT NULL,
  session_idx smallint unsigned NOT NULL,
  noted_at datetime NOT NULL,
  note_no smallint NOT NULL,
  note varchar(64) NOT NULL,
  PRIMARY KEY (subject_id, session_idx, noted_at),
  CONSTRAINT note_session FOREIGN KEY (subject_id, session_idx) REFERENCES session (subject_id, session_idx)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO session VALUES (1, 1, '2024-01-02', 'rig-1'), (2, 1, '2024-01-03', 'rig-2');
INSERT INTO session__note VALUES (1, 1, '2024-01-02 10:00:00', 4, 'first');
INSERT INTO implant VALUES (1, '2024-01-01 10:00:00', 1, 'CA1'), (1, '2024-01-05 10:00:00', 2, 'V1')
"""

# v2 as forward(v1) and v1 as reverse(v2) (the columns each side has), full ordered SELECTs, no verify
SAME = {
    "subject": ("SELECT subject_id, nickname FROM {v1}.subject ORDER BY 1",
                "SELECT subject_id, nickname FROM {v2}.subject ORDER BY 1"),
    "session": ("SELECT subject_id, session_idx, session_date FROM {v1}.session ORDER BY 1, 2",
                "SELECT subject_id, session_idx, session_date FROM {v2}.session ORDER BY 1, 2"),
    "implant": ("SELECT subject_id, implanted_at, site FROM {v1}.implant ORDER BY 1, 2",
                "SELECT subject_id, implanted_at, site FROM {v2}.implant ORDER BY 1, 2"),
    "session__note": ("SELECT subject_id, session_idx, noted_at, note FROM {v1}.session__note ORDER BY 1, 2, 3",
                      "SELECT subject_id, session_idx, noted_at, note FROM {v2}.session__note ORDER BY 1, 2, 3"),
}


def _inverse_plan(s: FastScenario, rig: str = "CONCAT('rig-', subject_id)"):
    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        tables = s.tables(plan)
        tables["session"] = {"columns": {"subject_id": "keep", "session_idx": "keep", "session_date": "keep",
                                         "rig": "drop"},
                             "inverse": {"rig": rig}}
        tables["implant"] = {"columns": {"subject_id": "keep", "implanted_at": "keep", "implant_no": "drop",
                                         "site": "keep"},
                             "inverse": {"implant_no": {"next_for": ["subject_id"]}}}
        # numbered per session: a composite parent key, locked by both columns
        tables["session__note"] = {"columns": {"subject_id": "keep", "session_idx": "keep", "noted_at": "keep",
                                               "note_no": "drop", "note": "keep"},
                                   "inverse": {"note_no": {"next_for": ["subject_id", "session_idx"]}}}
    return edit


def _same(s: FastScenario, pairs: dict[str, tuple[str, str]] = SAME) -> None:
    names = {"v1": f"`{s.sources[0]}`", "v2": f"`{s.v2()}`"}
    for table, (v1_sql, v2_sql) in pairs.items():
        v1_rows = [tuple(r.values()) for r in s.db.query(v1_sql.format(**names))]
        v2_rows = [tuple(r.values()) for r in s.db.query(v2_sql.format(**names))]
        assert v1_rows == v2_rows, (table, v1_rows, v2_rows)


def _numbering_at_once(server_settings, snapshot: str, inserts: list[list[str]]) -> list[str]:
    """Each list of ``inserts`` run by a client of its own, all at once, one transaction per insert that first reads
    ``snapshot`` (an older snapshot: the numbering must not read it); the errors they met."""
    errors: list[str] = []

    def writer(statements: list[str]) -> None:
        conn = connect(server_settings)
        try:
            for sql in statements:
                conn.execute("BEGIN")
                conn.execute(snapshot)
                conn.execute(sql)
                conn.execute("COMMIT")
        except ServerError as exc:
            errors.append(str(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=(statements,)) for statements in inserts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_inverse_columns_sync_both_ways_through_60(db, prefix, dj_env, tmp_path, server_settings):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_inverse_plan(s))
    checked = s.run("plan", "check", str(s.plan_path))
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    assert (f"sync: {s.v2()}.session <-> {s.sources[0]}.session: two-way (`inverse:` gives rig to a row inserted "
            "into v2)") in checked.stderr, checked.stderr
    assert f"sync: {s.v2()}.implant <-> {s.sources[0]}.implant: two-way (`inverse:` gives implant_no" in \
        checked.stderr, checked.stderr
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill()
    s.verify()
    applied(s, "60_constraints")
    _same(s)

    # four clients numbering implants of one subject at once, each in its own transactions: distinct numbers
    errors = _numbering_at_once(server_settings, f"SELECT COUNT(*) FROM {v1}.implant", [
        [f"INSERT INTO {v2}.implant VALUES (2, '2024-02-01 00:{m + i:02d}:00', 'M1')" for i in range(6)]
        for m in (0, 10, 20, 30)])
    assert errors == []
    numbers = [r["implant_no"] for r in db.query(f"SELECT implant_no FROM {v1}.implant WHERE subject_id = 2 "
                                                  "ORDER BY implant_no")]
    assert numbers == list(range(1, 25)), numbers
    # the numbering takes turns on the parent's v1 row: while another transaction holds subject 2's row, a v2 insert
    # of subject 2's implant waits (1205 here), and one of subject 1's does not
    holder, other = connect(server_settings), connect(server_settings)
    try:
        holder.execute("BEGIN")
        holder.execute(f"SELECT * FROM {v1}.subject WHERE subject_id = 2 LOCK IN SHARE MODE")
        other.execute("SET SESSION innodb_lock_wait_timeout = 1")
        with pytest.raises(ServerError) as waited:
            other.execute(f"INSERT INTO {v2}.implant VALUES (2, '2024-02-02 00:00:00', 'M2')")
        assert waited.value.errno == 1205, waited.value
        other.execute(f"INSERT INTO {v2}.implant VALUES (1, '2024-02-02 00:00:00', 'M2')")
        other.execute(f"DELETE FROM {v2}.implant WHERE implanted_at = '2024-02-02 00:00:00'")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        other.close()
    # the first implant of a subject with none: 1; after subject 1's 1 and 2: 3
    db.execute(f"INSERT INTO {v2}.subject VALUES (3, 'Cy')")
    db.execute(f"INSERT INTO {v2}.implant VALUES (3, '2024-03-01 09:00:00', 'CA3'), (1, '2024-03-01 09:00:00', 'S1')")
    assert db.query(f"SELECT subject_id, implant_no FROM {v1}.implant WHERE implanted_at = '2024-03-01 09:00:00' "
                    "ORDER BY 1") == [{"subject_id": 1, "implant_no": 3}, {"subject_id": 3, "implant_no": 1}]

    # per session (a composite parent key): two clients on one session at once, and one on another session
    errors = _numbering_at_once(server_settings, f"SELECT COUNT(*) FROM {v1}.session__note", [
        [f"INSERT INTO {v2}.session__note VALUES ({subject}, 1, '2024-02-01 00:{m + i:02d}:00', 'n')" for i in range(5)]
        for subject, m in ((1, 0), (1, 10), (2, 20))])
    assert errors == []
    assert db.query(f"SELECT subject_id, GROUP_CONCAT(note_no ORDER BY note_no) AS n FROM {v1}.session__note "
                    "GROUP BY subject_id ORDER BY 1") == [{"subject_id": 1, "n": "4,5,6,7,8,9,10,11,12,13,14"},
                                                         {"subject_id": 2, "n": "1,2,3,4,5"}]
    # the expression: a v2 insert gives v1 its value; a v2 update keeps v1's own; a v1 write is carried
    db.execute(f"INSERT INTO {v2}.session VALUES (3, 1, '2024-03-02'), (3, 2, '2024-03-03')")
    db.execute(f"UPDATE {v1}.session SET rig = 'rig-special' WHERE subject_id = 3 AND session_idx = 2")
    db.execute(f"UPDATE {v2}.session SET session_date = '2024-03-04' WHERE subject_id = 3")
    db.execute(f"UPDATE {v2}.implant SET site = 'CA2' WHERE subject_id = 1 AND implanted_at = '2024-01-01 10:00:00'")
    db.execute(f"INSERT INTO {v1}.implant VALUES (3, '2024-04-01 00:00:00', 7, 'PFC')")
    db.execute(f"DELETE FROM {v2}.implant WHERE subject_id = 2 AND implanted_at < '2024-02-01 00:05:00'")
    db.execute(f"DELETE FROM {v2}.session__note WHERE subject_id = 2")  # children first, as DataJoint deletes
    db.execute(f"DELETE FROM {v2}.session WHERE subject_id = 2")
    assert db.query(f"SELECT subject_id, session_idx, session_date, rig FROM {v1}.session ORDER BY 1, 2") == [
        {"subject_id": 1, "session_idx": 1, "session_date": __import__("datetime").date(2024, 1, 2), "rig": "rig-1"},
        {"subject_id": 3, "session_idx": 1, "session_date": __import__("datetime").date(2024, 3, 4), "rig": "rig-3"},
        {"subject_id": 3, "session_idx": 2, "session_date": __import__("datetime").date(2024, 3, 4),
         "rig": "rig-special"}]
    assert db.query(f"SELECT implant_no, site FROM {v1}.implant WHERE subject_id = 1 ORDER BY implanted_at") == [
        {"implant_no": 1, "site": "CA2"}, {"implant_no": 2, "site": "V1"}, {"implant_no": 3, "site": "S1"}]
    assert db.query(f"SELECT COUNT(*) AS n FROM {v1}.implant WHERE subject_id = 2") == [{"n": 19}]
    _same(s)
    s.verify()


def test_an_inverse_that_does_not_give_v1_its_rows_back_is_refused_by_00_with_the_row(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.db.execute(f"UPDATE `{s.sources[0]}`.session SET rig = 'rig-x' WHERE subject_id = 2")
    s.plan(_inverse_plan(s))
    checked = s.run("plan", "check", str(s.plan_path), check=False)
    assert checked.returncode != 0 and 'tables.session.inverse.rig: not so in v1\'s data' in checked.stderr and \
        'not at key ["2", "1"]' in checked.stderr, checked.stderr
    s.generate()
    message = refused(s, "00_preflight")
    assert ".tables.session.inverse.rig: not so in v1's data" in message and '["2", "1"]' in message, message


REKEY_V1 = SUBJECT + """
CREATE TABLE session (
  subject_id int NOT NULL,
  session_idx smallint unsigned NOT NULL,
  session_datetime datetime NOT NULL,
  rig varchar(16) NOT NULL DEFAULT 'rig1',
  PRIMARY KEY (subject_id, session_idx),
  CONSTRAINT session_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE session__trial (
  subject_id int NOT NULL,
  session_idx smallint unsigned NOT NULL,
  trial_idx int NOT NULL,
  outcome varchar(8) NOT NULL,
  PRIMARY KEY (subject_id, session_idx, trial_idx),
  CONSTRAINT trial_session FOREIGN KEY (subject_id, session_idx) REFERENCES session (subject_id, session_idx)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO session VALUES (1, 1, '2024-01-02 10:00:00', 'rig1'), (1, 2, '2024-01-03 10:00:00', 'rig2'),
  (2, 5, '2024-01-03 11:00:00', 'rig1');
INSERT INTO session__trial VALUES (1, 1, 1, 'hit'), (1, 1, 2, 'miss')
"""


def test_a_re_key_without_v1s_key_in_v2_syncs_both_ways(db, prefix, dj_env, tmp_path, server_settings):
    """session keyed by (subject_id, session_idx) in v1 and by (subject_id, session_datetime) in v2, which has no
    session_idx: a v2 insert numbers the v1 session per subject (three clients on one subject at once, and a
    DataJoint 2.3 user's insert1/update1/delete); updates, key moves and deletes reach the v1 row through the mapped
    key; v1 writes still carried; verify clean."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(REKEY_V1)

    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        s.tables(plan)["session"] = {
            "columns": {"subject_id": "keep", "session_idx": "drop", "session_datetime": "keep", "rig": "keep"},
            "key": ["subject_id", "session_datetime"], "inverse": {"session_idx": {"next_for": ["subject_id"]}}}

    s.plan(edit)
    checked = s.run("plan", "check", str(s.plan_path))
    assert (f"sync: {s.v2()}.session <-> {s.sources[0]}.session: two-way (`inverse:` gives session_idx to a row "
            "inserted into v2)") in checked.stderr, checked.stderr
    # the part follows the new key: v2 has no session_idx for it to name its v1 row by
    assert (f"sync: {s.v2()}.session__trial <- {s.sources[0]}.session__trial: one-way (v1 key column 'session_idx' "
            f"comes from {s.v2()}.session's `inverse:`") in checked.stderr, checked.stderr
    s.generate()
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill()
    s.verify()
    applied(s, "60_constraints")

    pairs = {table: (f"SELECT {columns} FROM {{v1}}.{table} ORDER BY 1, 2",
                     f"SELECT {columns} FROM {{v2}}.{table} ORDER BY 1, 2")
             for table, columns in (("subject", "subject_id, nickname"),
                                    ("session", "subject_id, session_datetime, rig"))}
    # the part, by its v2 key: its v1 rows read their session's datetime
    pairs["session__trial"] = (
        "SELECT t.subject_id, s.session_datetime, t.trial_idx, t.outcome FROM {v1}.session__trial AS t "
        "JOIN {v1}.session AS s USING (subject_id, session_idx) ORDER BY 1, 2, 3",
        "SELECT subject_id, session_datetime, trial_idx, outcome FROM {v2}.session__trial ORDER BY 1, 2, 3")

    def same() -> None:
        _same(s, pairs)

    same()
    errors = _numbering_at_once(server_settings, f"SELECT COUNT(*) FROM {v1}.session", [
        [f"INSERT INTO {v2}.session VALUES (2, '2024-02-01 {h:02d}:{i:02d}:00', 'rig3')" for i in range(6)]
        for h in (8, 9, 10)])
    assert errors == []
    assert [r["session_idx"] for r in db.query(f"SELECT session_idx FROM {v1}.session WHERE subject_id = 2 "
                                               "ORDER BY session_idx")] == list(range(5, 24))
    # a DataJoint 2.3 user on v2: insert (two sessions in one transaction), update1, delete, as 2.x code does it
    script = f"""
import sys, datetime
sys.path.insert(0, {str(SUPPORT)!r})
import datajoint as dj
from dj2_read014 import configure
conn = configure({str(tmp_path / "store")!r})
dj.Schema({s.v2()!r}, connection=conn, create_schema=False, create_tables=False)
session = dj.FreeTable(conn, "`{s.v2()}`.`session`")
with conn.transaction:
    session.insert1(dict(subject_id=2, session_datetime=datetime.datetime(2024, 5, 1, 9), rig="dj2"))
    session.insert1(dict(subject_id=2, session_datetime=datetime.datetime(2024, 5, 2, 9), rig="dj2"))
session.update1(dict(subject_id=2, session_datetime=datetime.datetime(2024, 5, 1, 9), rig="dj2-edited"))
(session & dict(subject_id=2, session_datetime=datetime.datetime(2024, 5, 2, 9))).delete()
"""
    done = subprocess.run([sys.executable, "-c", script], env=dj_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert db.query(f"SELECT session_idx, rig FROM {v1}.session WHERE subject_id = 2 AND session_datetime >= "
                    "'2024-05-01'") == [{"session_idx": 24, "rig": "dj2-edited"}]
    # a subject's first session from v2: 1
    db.execute(f"INSERT INTO {v2}.subject VALUES (3, 'Cy')")
    db.execute(f"INSERT INTO {v2}.session VALUES (3, '2024-03-01 09:00:00', 'rig1')")
    # v2 updates (a value, a key move) and deletes reach the v1 row by the mapped key; session_idx is v1's own
    db.execute(f"UPDATE {v2}.session SET rig = 'rigX' "
               "WHERE subject_id = 1 AND session_datetime = '2024-01-03 10:00:00'")
    db.execute(f"UPDATE {v2}.session SET session_datetime = '2024-01-04 10:00:00', rig = 'rigY' "
               "WHERE subject_id = 1 AND session_datetime = '2024-01-02 10:00:00'")
    db.execute(f"DELETE FROM {v2}.session WHERE subject_id = 2 AND session_datetime < '2024-02-01 09:00:00'")
    # v1 writes still carried forward
    db.execute(f"INSERT INTO {v1}.session VALUES (3, 9, '2024-03-02 09:00:00', 'rig2')")
    db.execute(f"UPDATE {v1}.session SET rig = 'rigZ' WHERE subject_id = 3 AND session_idx = 1")
    assert db.query(f"SELECT subject_id, session_idx, rig FROM {v1}.session WHERE subject_id IN (1, 3) "
                    "ORDER BY 1, 2") == [
        {"subject_id": 1, "session_idx": 1, "rig": "rigY"}, {"subject_id": 1, "session_idx": 2, "rig": "rigX"},
        {"subject_id": 3, "session_idx": 1, "rig": "rigZ"}, {"subject_id": 3, "session_idx": 9, "rig": "rig2"}]
    assert db.query(f"SELECT session_datetime FROM {v1}.session WHERE subject_id = 1 AND session_idx = 1") == [
        {"session_datetime": __import__("datetime").datetime(2024, 1, 4, 10)}]
    assert db.query(f"SELECT COUNT(*) AS n FROM {v1}.session WHERE subject_id = 2") == [{"n": 13}]
    # a session with trials: its v2 key move reaches v1 (v2's cascade moves the v2 trials; v1's trials keep their
    # session_idx); v1 writes of trials carried forward; v2's trials refuse their clients (one-way)
    db.execute(f"UPDATE {v2}.session SET session_datetime = '2024-01-02 12:00:00' "
               "WHERE subject_id = 1 AND session_datetime = '2024-01-04 10:00:00'")
    db.execute(f"INSERT INTO {v1}.session__trial VALUES (1, 1, 3, 'hit'), (1, 2, 1, 'miss')")
    db.execute(f"UPDATE {v1}.session SET session_datetime = '2024-01-02 13:00:00' WHERE subject_id = 1 "
               "AND session_idx = 1")
    with pytest.raises(ServerError) as refused_write:
        db.execute(f"INSERT INTO {v2}.session__trial VALUES (1, '2024-01-02 13:00:00', 9, 'hit')")
    assert refused_write.value.errno == 1644 and "W7" in refused_write.value.message, refused_write.value
    same()
    # a v2 session moved to another subject takes that subject's next number (its own, 9, is free there but 1 is not)
    db.execute(f"UPDATE {v2}.session SET subject_id = 1 WHERE subject_id = 3")
    assert db.query(f"SELECT session_idx, session_datetime FROM {v1}.session WHERE subject_id = 1 ORDER BY 1") == [
        {"session_idx": i, "session_datetime": __import__("datetime").datetime(*d)} for i, d in (
            (1, (2024, 1, 2, 13)), (2, (2024, 1, 3, 10)), (3, (2024, 3, 1, 9)), (4, (2024, 3, 2, 9)))]
    same()
    s.verify()
