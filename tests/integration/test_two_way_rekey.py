"""Two-way sync of a primary-key change (issue 24, item 1): session re-keyed by its start, v1's session_idx kept in
v2 as a plain column, and its part session__trial following the new key (v2 holds the start there, not the index).

Both tables sync both ways: the v1 row of a v2 session is found by v1's key read from the v2 row; the v1 row of a
v2 trial reads session_idx from its v2 session. Writes on both sides (inserts, updates of key and non-key columns on
either key, deletes, each side's cascades), then every table compared row by row in both directions, independently
of verify, and verify clean. A v2 write that would make two v2 sessions one v1 session is refused (W1, naming v1's
key); a v2 key that v1 cannot give back (v1's key column dropped from v2) keeps the table one-way, naming `inverse:`.
"""

from __future__ import annotations

from support.safety import FastScenario, applied, error_of

from djsqlgen.run.db import ServerError

V1 = """
CREATE TABLE subject (
  subject_id int NOT NULL,
  nickname varchar(32) NOT NULL,
  PRIMARY KEY (subject_id)) ENGINE=InnoDB;
CREATE TABLE session (
  subject_id int NOT NULL,
  session_idx smallint NOT NULL,
  session_start datetime NOT NULL,
  note varchar(32) NOT NULL DEFAULT '',
  PRIMARY KEY (subject_id, session_idx),
  KEY by_start (subject_id, session_start),
  CONSTRAINT session_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE session__trial (
  subject_id int NOT NULL,
  session_idx smallint NOT NULL,
  trial_idx int NOT NULL,
  outcome enum('hit','miss') NULL,
  PRIMARY KEY (subject_id, session_idx, trial_idx),
  CONSTRAINT trial_session FOREIGN KEY (subject_id, session_idx) REFERENCES session (subject_id, session_idx)
    ON UPDATE CASCADE ON DELETE CASCADE) ENGINE=InnoDB;
CREATE TABLE trial_event (
  subject_id int NOT NULL,
  session_idx smallint NOT NULL,
  trial_idx int NOT NULL,
  event_idx int NOT NULL,
  t double NOT NULL,
  PRIMARY KEY (subject_id, session_idx, trial_idx, event_idx),
  CONSTRAINT event_trial FOREIGN KEY (subject_id, session_idx, trial_idx)
    REFERENCES session__trial (subject_id, session_idx, trial_idx) ON UPDATE CASCADE ON DELETE CASCADE) ENGINE=InnoDB;
INSERT INTO subject VALUES (1, 'Ana'), (2, 'Bo'), (3, 'Cy');
INSERT INTO session VALUES (1, 1, '2024-01-01 10:00:00', 'a'), (1, 2, '2024-01-02 10:00:00', 'b'),
  (2, 1, '2024-01-01 11:00:00', ''), (3, 1, '2024-01-05 09:00:00', 'c');
INSERT INTO session__trial VALUES (1, 1, 1, 'hit'), (1, 1, 2, NULL), (1, 2, 1, 'miss'), (2, 1, 1, 'hit'),
  (3, 1, 1, NULL);
INSERT INTO trial_event VALUES (1, 1, 1, 1, 0.5), (1, 2, 1, 1, 0.25), (1, 2, 1, 2, 0.75), (2, 1, 1, 1, 1.5)
"""

# Each table as v1 holds it and as v2 holds it, in the same columns and order (v2's trial reads session_idx from its
# session; v1's reads the start from its session): full ordered SELECTs, no verify
SAME = {
    "subject": ("SELECT subject_id, nickname FROM {v1}.subject ORDER BY 1",
                "SELECT subject_id, nickname FROM {v2}.subject ORDER BY 1"),
    "session": ("SELECT subject_id, session_idx, session_start, note FROM {v1}.session ORDER BY 1, 2",
                "SELECT subject_id, session_idx, session_start, note FROM {v2}.session ORDER BY 1, 2"),
    "session__trial": (
        "SELECT t.subject_id, t.session_idx, s.session_start, t.trial_idx, t.outcome FROM {v1}.session__trial AS t "
        "JOIN {v1}.session AS s USING (subject_id, session_idx) ORDER BY 1, 2, 4",
        "SELECT t.subject_id, s.session_idx, t.session_start, t.trial_idx, t.outcome FROM {v2}.session__trial AS t "
        "JOIN {v2}.session AS s USING (subject_id, session_start) ORDER BY 1, 2, 4"),
    "trial_event": (
        "SELECT e.subject_id, e.session_idx, s.session_start, e.trial_idx, e.event_idx, e.t FROM {v1}.trial_event AS e "
        "JOIN {v1}.session AS s USING (subject_id, session_idx) ORDER BY 1, 2, 4, 5",
        "SELECT e.subject_id, s.session_idx, e.session_start, e.trial_idx, e.event_idx, e.t FROM {v2}.trial_event AS e "
        "JOIN {v2}.session AS s USING (subject_id, session_start) ORDER BY 1, 2, 4, 5"),
}
COUNTS = ("SELECT (SELECT COUNT(*) FROM {v}.session) AS sessions, (SELECT COUNT(*) FROM {v}.session__trial) AS trials, "
          "(SELECT COUNT(*) FROM {v}.trial_event) AS events")


def _rekey(s: FastScenario):
    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        s.tables(plan)["session"] = {"key": ["subject_id", "session_start"]}  # session_idx stays, as a plain column
    return edit


def _same_both_ways(s: FastScenario) -> None:
    names = {"v1": f"`{s.sources[0]}`", "v2": f"`{s.v2()}`"}
    for table, (v1_sql, v2_sql) in SAME.items():
        v1_rows = [tuple(r.values()) for r in s.db.query(v1_sql.format(**names))]
        v2_rows = [tuple(r.values()) for r in s.db.query(v2_sql.format(**names))]
        assert v1_rows == v2_rows, (table, v1_rows, v2_rows)
    # the joins above would hide a trial without its session: the counts too
    assert s.db.query(COUNTS.format(v=names["v1"])) == s.db.query(COUNTS.format(v=names["v2"]))


def test_a_rekeyed_table_and_its_child_sync_both_ways(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_rekey(s))
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    checked = s.run("plan", "check", str(s.plan_path))
    for table in ("session", "session__trial", "trial_event"):
        assert f"sync: {s.v2()}.{table} <-> {s.sources[0]}.{table}: two-way" in checked.stderr, checked.stderr
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    db.execute(f"INSERT INTO {v1}.session VALUES (2, 2, '2024-01-03 11:00:00', 'before backfill')")
    db.execute(f"INSERT INTO {v1}.session__trial VALUES (2, 2, 1, 'hit')")
    db.execute(f"DELETE FROM {v1}.session WHERE subject_id = 2 AND session_idx = 2")  # v1's cascade, before 60
    refusal = error_of(db, f"INSERT INTO {v2}.session (subject_id, session_start, session_idx) "
                           "VALUES (1, '2024-09-01', 8)")
    assert refusal.errno == 1644 and refusal.message.startswith("djsqlgen W6 "), refusal  # v2 writes from 60 on
    s.backfill()
    s.verify()
    applied(s, "60_constraints")
    _same_both_ways(s)

    # v2 writes: a new session with trials, found in v1 by the v1 key it carries
    db.execute(f"INSERT INTO {v2}.session (subject_id, session_start, session_idx, note) "
               "VALUES (1, '2024-02-01 08:00:00', 7, 'from v2')")
    db.execute(f"INSERT INTO {v2}.session__trial (subject_id, session_start, trial_idx, outcome) "
               "VALUES (1, '2024-02-01 08:00:00', 1, 'hit'), "
               "(1, '2024-02-01 08:00:00', 2, 'miss')")
    db.execute(f"INSERT INTO {v2}.trial_event (subject_id, session_start, trial_idx, event_idx, t) "
               "VALUES (1, '2024-02-01 08:00:00', 1, 1, 9.5), (1, '2024-02-01 08:00:00', 2, 1, 9.75)")
    _same_both_ways(s)
    # a non-key column, on a v2 row and on a v2 trial and event
    db.execute(f"UPDATE {v2}.session SET note = 'edited in v2' WHERE subject_id = 1 AND session_idx = 1")
    db.execute(f"UPDATE {v2}.session__trial SET outcome = 'miss' WHERE subject_id = 1 AND trial_idx = 2 "
               "AND session_start = '2024-01-01 10:00:00'")
    db.execute(f"UPDATE {v2}.trial_event SET t = t + 100 WHERE subject_id = 1 AND event_idx = 1")
    # v2's key (v1's plain column): v2's ON UPDATE CASCADE moves its trials; v1's session and trials keep their key
    db.execute(f"UPDATE {v2}.session SET session_start = '2024-01-09 10:00:00' WHERE subject_id = 1 AND session_idx = 2")
    _same_both_ways(s)
    # v1's key (v2's plain column): v1's session moves, and v1's ON UPDATE CASCADE its trials
    db.execute(f"UPDATE {v2}.session SET session_idx = 9, note = 'moved in v2' WHERE subject_id = 1 "
               "AND session_start = '2024-02-01 08:00:00'")
    assert db.query(f"SELECT trial_idx FROM {v1}.session__trial WHERE subject_id = 1 AND session_idx = 9 "
                    "ORDER BY 1") == [{"trial_idx": 1}, {"trial_idx": 2}]
    _same_both_ways(s)
    # a trial's own key, then deletes as DataJoint does them: the parts first
    db.execute(f"UPDATE {v2}.session__trial SET trial_idx = 5 WHERE subject_id = 2 AND trial_idx = 1")
    db.execute(f"UPDATE {v2}.trial_event SET event_idx = 3 WHERE subject_id = 1 AND event_idx = 2")
    db.execute(f"DELETE FROM {v2}.trial_event WHERE subject_id = 1 AND t > 100 AND trial_idx = 2")
    db.execute(f"DELETE FROM {v2}.session__trial WHERE subject_id = 3")
    db.execute(f"DELETE FROM {v2}.session WHERE subject_id = 3")
    _same_both_ways(s)
    # a session with trials: each side's ON DELETE CASCADE removes its own trials
    db.execute(f"DELETE FROM {v2}.session WHERE subject_id = 2 AND session_idx = 1")
    _same_both_ways(s)
    # v2's RESTRICT (as v1's): a subject with sessions is not deleted on either side
    assert error_of(db, f"DELETE FROM {v2}.subject WHERE subject_id = 1").errno == 1451
    _same_both_ways(s)

    # v1 writes as before, carried into v2 (and not back)
    db.execute(f"INSERT INTO {v1}.session VALUES (3, 4, '2024-03-01 09:00:00', 'from v1')")
    db.execute(f"INSERT INTO {v1}.session__trial VALUES (3, 4, 1, 'hit'), (3, 4, 2, NULL)")
    db.execute(f"INSERT INTO {v1}.trial_event VALUES (3, 4, 1, 1, 2.5), (3, 4, 2, 1, 3.5)")
    db.execute(f"UPDATE {v1}.session SET session_idx = 5 WHERE subject_id = 3 AND session_idx = 4")  # v1's key
    db.execute(f"UPDATE {v1}.session SET session_start = '2024-03-02 09:00:00' WHERE subject_id = 3")  # v2's key
    db.execute(f"UPDATE {v1}.session__trial SET outcome = 'miss' WHERE subject_id = 3 AND trial_idx = 2")
    db.execute(f"UPDATE {v1}.subject SET subject_id = 30 WHERE subject_id = 3")  # cascades through both tables
    db.execute(f"DELETE FROM {v1}.session__trial WHERE subject_id = 30 AND trial_idx = 1")
    db.execute(f"DELETE FROM {v1}.session WHERE subject_id = 1 AND session_idx = 1")  # cascades to its trials
    _same_both_ways(s)
    assert db.query(COUNTS.format(v=v1)) == [{"sessions": 3, "trials": 4, "events": 4}]

    assert s.verify().returncode == 0


def test_a_v2_write_that_would_merge_two_v1_rows_is_refused(db, prefix, dj_env, tmp_path):
    """v1's key must stay unique among v2's rows: a v2 session carrying another v2 session's v1 key (an insert, or an
    update of the key column) is refused at the write with W1 naming v1's key, nothing written on either side; v2
    writes that do not collide, and their echo, pass."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_rekey(s))
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    s.generate()
    s.open_at_60()
    db.execute(f"INSERT INTO {v2}.session (subject_id, session_start, session_idx) VALUES (1, '2024-02-01', 9)")
    db.execute(f"INSERT INTO {v1}.session VALUES (1, 3, '2024-02-03 10:00:00', 'from v1')")
    before = {side: db.query(COUNTS.format(v=side)) for side in (v1, v2)}
    for sql in (f"INSERT INTO {v2}.session (subject_id, session_start, session_idx, note) "
                f"VALUES (1, '2024-05-01 08:00:00', 1, 'collides')",
                f"UPDATE {v2}.session SET session_idx = 1 WHERE subject_id = 1 AND session_idx = 9",
                f"UPDATE {v2}.session SET session_idx = 2, note = 'x' WHERE subject_id = 1 AND session_idx = 3"):
        refusal = error_of(db, sql)
        assert refusal.errno == 1644, refusal
        assert refusal.message.startswith("djsqlgen W1 ") and "session (subject_id, session_idx)" in refusal.message, \
            refusal
        assert len(refusal.message) <= 128
    assert {side: db.query(COUNTS.format(v=side)) for side in (v1, v2)} == before
    _same_both_ways(s)
    # v1's own collision is v1's duplicate key, as without the migration
    assert error_of(db, f"INSERT INTO {v1}.session VALUES (1, 1, '2024-06-01 08:00:00', '')").errno == 1062
    assert s.verify().returncode == 0


def test_a_rekeyed_table_without_v1s_key_stays_one_way_naming_inverse(db, prefix, dj_env, tmp_path):
    """v1's session_idx dropped from v2: no v2 row can name its v1 row. plan check says so, and points at `inverse:`;
    v2's clients are refused (W7) with the reason."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)

    def edit(plan: dict) -> None:
        _rekey(s)(plan)
        s.tables(plan)["session"]["columns"] = {"subject_id": "keep", "session_idx": "drop", "session_start": "keep",
                                               "note": "keep"}
    s.plan(edit)
    checked = s.run("plan", "check", str(s.plan_path))
    line = next(x for x in checked.stderr.splitlines() if f"{s.v2()}.session <-" in x)
    assert "one-way (v1 key column 'session_idx' is not in v2" in line and "`inverse:`" in line, line


def test_writers_on_both_sides_at_once_on_a_rekeyed_table(db, prefix, dj_env, tmp_path, server_settings):
    """From 60 on, a v1 client and a v2 client at once, each on subjects of its own: sessions with trials and events,
    updates of either side's key, deletes that cascade. No write fails; then both sides agree row for row."""
    import threading

    from djsqlgen.run.db import connect

    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_rekey(s))
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    s.generate()
    s.open_at_60()
    errors: list[str] = []

    def writer(side: str, first: int) -> None:
        conn = connect(server_settings)
        try:
            for i in range(first, first + 12):
                start = f"'2024-04-{1 + i % 28:02d} 10:00:00'"
                conn.execute("BEGIN")
                if side == "v1":
                    conn.execute(f"INSERT INTO {v1}.subject VALUES ({i}, 'w{i}')")
                    conn.execute(f"INSERT INTO {v1}.session VALUES ({i}, 1, {start}, 'v1')")
                    conn.execute(f"INSERT INTO {v1}.session__trial VALUES ({i}, 1, 1, 'hit'), ({i}, 1, 2, NULL)")
                    conn.execute(f"INSERT INTO {v1}.trial_event VALUES ({i}, 1, 1, 1, 0.5)")
                    conn.execute("COMMIT")
                    conn.execute(f"UPDATE {v1}.session SET session_idx = 2, note = 'moved' WHERE subject_id = {i}")
                    conn.execute(f"UPDATE {v1}.session SET session_start = session_start + INTERVAL 1 HOUR "
                                 f"WHERE subject_id = {i}")
                    if i % 3 == 0:
                        conn.execute(f"DELETE FROM {v1}.session WHERE subject_id = {i}")
                else:
                    conn.execute(f"INSERT INTO {v2}.subject VALUES ({i}, 'w{i}')")
                    conn.execute(f"INSERT INTO {v2}.session (subject_id, session_start, session_idx, note) "
                                 f"VALUES ({i}, {start}, 1, 'v2')")
                    conn.execute(f"INSERT INTO {v2}.session__trial (subject_id, session_start, trial_idx, outcome) "
                                 f"VALUES ({i}, {start}, 1, 'miss'), ({i}, {start}, 2, 'hit')")
                    conn.execute(f"INSERT INTO {v2}.trial_event (subject_id, session_start, trial_idx, event_idx, t) "
                                 f"VALUES ({i}, {start}, 2, 1, 1.5)")
                    conn.execute("COMMIT")
                    conn.execute(f"UPDATE {v2}.session SET session_start = session_start + INTERVAL 1 HOUR "
                                 f"WHERE subject_id = {i}")
                    conn.execute(f"UPDATE {v2}.session SET session_idx = 3, note = 'moved' WHERE subject_id = {i}")
                    conn.execute(f"UPDATE {v2}.trial_event SET t = 2.5 WHERE subject_id = {i}")
                    if i % 3 == 0:
                        conn.execute(f"DELETE FROM {v2}.session WHERE subject_id = {i}")
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
    assert db.query(COUNTS.format(v=v1)) == [{"sessions": 4 + 16, "trials": 5 + 32, "events": 4 + 16}]
    assert s.verify().returncode == 0



def test_a_child_of_a_one_way_table_whose_key_moves_from_v2_syncs_both_ways(db, prefix, dj_env, tmp_path):
    """session two-way, session__trial one-way by the plan, trial_event below it: a v2 key move on session reached
    v1's trial_event (through v2's cascade and the carried move) before v1's session__trial had moved, and failed
    with 1452 while trial_event synced back (so it was kept one-way). The reverse trigger now leaves trial_event's v1
    rows to v1's own ON UPDATE CASCADE: it syncs both ways, and the move is carried whole."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)

    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        s.tables(plan)["session__trial"] = {"sync": "one-way"}
    s.plan(edit)
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    checked = s.run("plan", "check", str(s.plan_path))
    assert f"sync: {s.v2()}.session <-> {s.sources[0]}.session: two-way" in checked.stderr, checked.stderr
    assert f"sync: {s.v2()}.trial_event <-> {s.sources[0]}.trial_event: two-way" in checked.stderr, checked.stderr
    s.generate()
    s.open_at_60()
    tables = (("session", "subject_id, session_idx"), ("session__trial", "subject_id, session_idx, trial_idx"),
              ("trial_event", "subject_id, session_idx, trial_idx, event_idx"))

    def same() -> None:
        for table, key in tables:
            assert db.query(f"SELECT * FROM {v1}.{table} ORDER BY {key}") == \
                db.query(f"SELECT * FROM {v2}.{table} ORDER BY {key}"), table

    db.execute(f"UPDATE {v2}.session SET session_idx = 7 WHERE subject_id = 1 AND session_idx = 2")
    same()
    assert db.query(f"SELECT COUNT(*) AS n FROM {v1}.trial_event WHERE session_idx = 7") == [{"n": 2}]
    # and v2 clients' own writes to it reach v1
    db.execute(f"INSERT INTO {v2}.trial_event VALUES (1, 7, 1, 3, 1.25), (3, 1, 1, 1, 2.5)")
    db.execute(f"UPDATE {v2}.trial_event SET t = 0.5 WHERE subject_id = 1 AND session_idx = 7 AND event_idx = 2")
    db.execute(f"UPDATE {v2}.trial_event SET event_idx = 9 WHERE subject_id = 3")
    db.execute(f"DELETE FROM {v2}.trial_event WHERE subject_id = 2")
    same()
    assert db.query(f"SELECT subject_id, event_idx, t FROM {v1}.trial_event WHERE subject_id IN (2, 3) "
                    "ORDER BY 1, 2") == [{"subject_id": 3, "event_idx": 9, "t": 2.5}]
    assert s.verify().returncode == 0
