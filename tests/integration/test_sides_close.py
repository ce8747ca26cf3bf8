"""One side read-only when the lab chooses (issue 24 item 5): `djsqlgen close|reopen v1|v2 PLAN` and its files
sides/close_v1.sql … in a two-way plan. A closed side refuses its own clients' writes (W8, naming the other side's
table and since when) and still takes the writes the other side's triggers carry into it, so its readers see them;
both sides are compared row by row (full ordered SELECTs, both ways) after each step, and verify is clean.

The plan is test_two_way's: subject → animal and session sync both ways, #kind one way.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time

import pytest
from integration.test_two_way import V1, _same_both_ways, _two_way
from support.safety import FastScenario, applied, client, refused

from djsqlgen.run.db import ServerError, connect

SINCE = r"read-only since \d{4}-\d{2}-\d{2} \d{2}:\d{2}"


def _error(conn, sql: str) -> ServerError:
    with pytest.raises(ServerError) as failed:
        conn.execute(sql)
    return failed.value


def _sides(db, control: str) -> dict[str, tuple]:
    rows = db.query(f"SELECT side, is_open, closed_at, closed_by FROM `{control}`.sides ORDER BY side")
    return {r["side"]: (r["is_open"], r["closed_at"], r["closed_by"]) for r in rows}


def _v2_writes(db, v2: str, first: int) -> None:
    """A v2 client: new rows in every two-way table, an update, a key move its ON UPDATE CASCADE carries to children
    (and the way back to v1, whose own cascade moves v1's children)."""
    db.execute(f"INSERT INTO {v2}.animal (subject_id, kind, name, weight, tag) VALUES ({first}, 'mouse', 'ü{first}', "
               f"{first}.25, 'v2')")
    db.execute(f"INSERT INTO {v2}.session VALUES ({first}, 7, '2024-03-01', 'rig9')")
    db.execute(f"INSERT INTO {v2}.session__trial VALUES ({first}, 7, 1, 2.5, 'hit')")
    db.execute(f"UPDATE {v2}.session SET rig = 'rig8', recorded_on = '2024-03-02' WHERE subject_id = {first}")
    db.execute(f"UPDATE {v2}.animal SET subject_id = {first + 1}, name = 'moved' WHERE subject_id = {first}")


def _v1_writes(db, v1: str, first: int) -> None:
    """A v1 client, the same shapes."""
    db.execute(f"INSERT INTO {v1}.subject VALUES ({first}, 'rat', 'w{first}', {first}.5, 'n{first}')")
    db.execute(f"INSERT INTO {v1}.session VALUES ({first}, 1, '2024-02-01', 'rig3')")
    db.execute(f"INSERT INTO {v1}.session__trial VALUES ({first}, 1, 1, 0.25, 'miss')")
    db.execute(f"UPDATE {v1}.subject SET nickname = 'é{first}', weight = NULL WHERE subject_id = {first}")
    db.execute(f"UPDATE {v1}.subject SET subject_id = {first + 1}, nickname = 'moved' WHERE subject_id = {first}")


def _refused_w8(conn, sql: str, home: str) -> str:
    refusal = _error(conn, sql)
    assert refusal.errno == 1644 and refusal.message.startswith("djsqlgen W8 "), refusal
    assert re.search(SINCE + f"; write to {re.escape(home)}$", refusal.message), refusal.message
    assert len(refusal.message) <= 128
    return refusal.message


def test_close_and_reopen_each_side(db, prefix, dj_env, tmp_path, server_settings):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    s.generate()
    v1, v2, control = f"`{s.sources[0]}`", f"`{s.v2()}`", s.control
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    # before 60 v2 takes no writes: neither side may close
    for side in ("v1", "v2"):
        assert "60_constraints.sql" in refused(s, f"sides/close_{side}")
    s.backfill()
    s.verify()
    applied(s, "60_constraints")
    assert set(_sides(db, control)) == {"v1", "v2"} and all(r[0] == 1 for r in _sides(db, control).values())

    # close v1 (the file, twice: the second run changes nothing)
    applied(s, "sides/close_v1")
    closed = _sides(db, control)["v1"]
    assert closed[0] == 0 and closed[2] == "sides/close_v1.sql"
    applied(s, "sides/close_v1")
    assert _sides(db, control)["v1"] == closed
    v1_before = [tuple(r.values()) for r in db.query(f"SELECT * FROM {v1}.subject ORDER BY subject_id")]
    home = f"{s.v2()}.animal"
    for sql in (f"INSERT INTO {v1}.subject VALUES (50, 'rat', 'no', NULL, NULL)",
                f"UPDATE {v1}.subject SET nickname = 'no' WHERE subject_id = 1",
                f"UPDATE {v1}.subject SET subject_id = 51 WHERE subject_id = 2"):
        _refused_w8(db, sql, home)
    _refused_w8(db, f"INSERT INTO {v1}.session VALUES (1, 9, '2024-01-09', 'rig1')", f"{s.v2()}.session")
    assert [tuple(r.values()) for r in db.query(f"SELECT * FROM {v1}.subject ORDER BY subject_id")] == v1_before
    # v2's clients write on, and v1's readers see it (v2's key move cascades in both)
    _v2_writes(db, v2, 200)
    _same_both_ways(s)
    assert db.query(f"SELECT nickname FROM {v1}.subject WHERE subject_id = 201") == [{"nickname": "moved"}]
    assert db.query(f"SELECT rig FROM {v1}.session WHERE subject_id = 201") == [{"rig": "rig8"}]
    status = s.run("status", str(s.plan_path)).stdout
    assert re.search(r"v1: read-only since \S+ \S+ \(sides/close_v1\.sql\); v2: writable", status), status
    # never both sides closed
    assert "v1 is closed already" in refused(s, "sides/close_v2")
    assert "djsqlgen reopen v1" in s.run("close", "v2", str(s.plan_path), check=False).stderr
    assert _sides(db, control)["v2"][0] == 1

    # reopen v1 by the command: v1's clients write and sync again
    reopened = s.run("reopen", "v1", str(s.plan_path))
    assert "v1: writable; v2: writable" in reopened.stdout, reopened.stdout + reopened.stderr
    applied(s, "sides/reopen_v1")  # open already: nothing changes
    assert _sides(db, control)["v1"] == (1, None, "sides/reopen_v1.sql")
    _v1_writes(db, v1, 100)
    _v2_writes(db, v2, 210)
    _same_both_ways(s)

    # close v2 by the command: its clients refused, naming v1's table; v1's writes still reach v2
    assert re.search(r"v1: writable; v2: read-only since", s.run("close", "v2", str(s.plan_path)).stdout)
    for sql in (f"INSERT INTO {v2}.animal (subject_id, kind, name) VALUES (60, 'rat', 'no')",
                f"UPDATE {v2}.animal SET name = 'no' WHERE subject_id = 1",
                f"DELETE FROM {v2}.session WHERE subject_id = 2 AND session_idx = 1"):
        _refused_w8(db, sql, f"{s.sources[0]}.{'session' if 'session' in sql else 'subject'}")
    _v1_writes(db, v1, 110)  # its key move: v1's cascade, carried as v2's key move and v2's cascade
    _same_both_ways(s)
    assert db.query(f"SELECT name FROM {v2}.animal WHERE subject_id = 111") == [{"name": "moved"}]
    assert "v2 is closed already" in refused(s, "sides/close_v1")
    applied(s, "sides/reopen_v2", "sides/reopen_v2")
    _v2_writes(db, v2, 220)
    _same_both_ways(s)
    s.verify()


def test_close_waits_only_for_its_own_clients(db, prefix, dj_env, tmp_path, server_settings):
    """A transaction that wrote v1 holds close v1 up to its bound, where v1 stays open (and that transaction
    commits); one that wrote only v2 (carried into v1) does not hold it at all."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    s.generate()
    v1, v2, control = f"`{s.sources[0]}`", f"`{s.v2()}`", s.control
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill()
    s.verify()
    applied(s, "60_constraints")
    holder = connect(server_settings)
    try:
        holder.execute("BEGIN")
        holder.execute(f"INSERT INTO {v1}.subject VALUES (70, 'rat', 'held', NULL, NULL)")
        start = time.monotonic()
        stopped = client(db.settings, s.out / "sides" / "close_v1.sql", init_command="SET @djsqlgen_close_wait_s = 3")
        assert stopped.returncode != 0
        assert re.search(r"djsqlgen stopped sides/close_v1\.sql at \d+ s: an open transaction wrote v1; v1 still "
                         r"open, safe to rerun", stopped.stderr), stopped.stderr
        assert 3 <= time.monotonic() - start < 15
        assert _sides(db, control)["v1"][0] == 1
        holder.execute(f"UPDATE {v1}.subject SET nickname = 'held2' WHERE subject_id = 70")  # still open to it
        holder.execute("COMMIT")

        holder.execute("BEGIN")
        holder.execute(f"INSERT INTO {v2}.animal (subject_id, kind, name) VALUES (71, 'rat', 'v2 only')")
        start = time.monotonic()
        applied(s, "sides/close_v1", init_command="SET @djsqlgen_close_wait_s = 3")
        assert time.monotonic() - start < 3
        assert _sides(db, control)["v1"][0] == 0
        holder.execute(f"UPDATE {v2}.animal SET name = 'v2 still' WHERE subject_id = 71")  # carried into closed v1
        holder.execute("COMMIT")
    finally:
        holder.close()
    assert db.query(f"SELECT nickname FROM {v1}.subject WHERE subject_id IN (70, 71) ORDER BY 1") == [
        {"nickname": "held2"}, {"nickname": "v2 still"}]
    _same_both_ways(s)
    # the closed side's own engine sessions (the backfill, verify) are never refused
    s.verify()
    # undoing 60 would leave no side to write to (v2 takes writes from 60 on): refused until v1 reopens
    assert "v1 is closed (sides/close_v1.sql)" in refused(s, "rollback/60_constraints")
    applied(s, "sides/reopen_v1", "rollback/60_constraints")


def test_one_way_plan_has_no_side_files_and_refuses(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan()
    s.generate()
    assert not (s.out / "sides").exists()
    for action in ("close", "reopen"):
        result = s.run(action, "v1", str(s.plan_path), check=False)
        assert result.returncode == 2, result
        assert "sync: two-way" in result.stderr and "70_cutover.sql" in result.stderr, result.stderr


def test_close_v1_refuses_writes_no_dual_write_trigger_sees(db, prefix, dj_env, tmp_path):
    """A v1 table no v2 table is made from (dropped by the plan) has no dual-write trigger: 30's guards refuse its
    writes once v1 is closed, and rollback/30 removes them."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1 + ";\nCREATE TABLE note (note_id int NOT NULL, body varchar(20) NOT NULL, PRIMARY KEY (note_id)) "
                     "ENGINE=InnoDB")
    edit = _two_way(s)

    def with_note_dropped(plan: dict) -> None:
        edit(plan)
        s.tables(plan)["note"] = "drop"

    s.plan(with_note_dropped)
    s.generate()
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    s.forward("60_constraints")
    db.execute(f"INSERT INTO {v1}.note VALUES (1, 'open')")
    applied(s, "sides/close_v1")
    refusal = _error(db, f"INSERT INTO {v1}.note VALUES (2, 'closed')")
    assert refusal.errno == 1644 and re.match(rf"djsqlgen W8 {s.sources[0]}\.note is {SINCE}; retired, v2 has no such "
                                              "table$", refusal.message), refusal.message
    _v2_writes(db, v2, 300)
    _same_both_ways(s)
    applied(s, "sides/reopen_v1")
    db.execute(f"INSERT INTO {v1}.note VALUES (2, 'reopened')")
    applied(s, "rollback/60_constraints", "rollback/50_verify", "rollback/40_backfill", "rollback/30_dualwrite")
    assert db.query("SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s",
                    [s.sources[0]]) == [{"n": 0}]
    assert db.query(f"SELECT body FROM {v1}.note ORDER BY note_id") == [{"body": "open"}, {"body": "reopened"}]


def test_two_closes_at_once_close_one_side(db, prefix, dj_env, tmp_path, server_settings):
    """close v1 waits for a transaction that wrote v1; close v2 starts meanwhile (v1 still open, so its refusal does
    not stop it). When the transaction ends, one close wins; the other finds its condition (the other side open)
    false in the same statement and stops, its side open."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    s.generate()
    v1, control = f"`{s.sources[0]}`", s.control
    s.forward("60_constraints")
    results: dict[str, subprocess.CompletedProcess] = {}

    def close(side: str) -> None:
        results[side] = client(db.settings, s.out / "sides" / f"close_{side}.sql",
                               init_command="SET @djsqlgen_close_wait_s = 20")

    holder = connect(server_settings)
    try:
        holder.execute("BEGIN")
        holder.execute(f"INSERT INTO {v1}.subject VALUES (80, 'rat', 'held', NULL, NULL)")
        threads = [threading.Thread(target=close, args=(side,)) for side in ("v1", "v2")]
        threads[0].start()
        time.sleep(1.5)
        threads[1].start()
        time.sleep(2.5)
        holder.execute("COMMIT")
        for t in threads:
            t.join(60)
    finally:
        holder.close()
    state = {side: row[0] for side, row in _sides(db, control).items()}
    assert sorted(state.values()) == [0, 1], (state, {k: r.stderr for k, r in results.items()})
    closed, still = ("v1", "v2") if state["v1"] == 0 else ("v2", "v1")
    assert results[closed].returncode == 0, results[closed].stderr
    assert results[still].returncode != 0
    assert (f"{closed} was closed meanwhile; {still} stays open" in results[still].stderr
            or f"{closed} is closed already" in results[still].stderr), results[still].stderr


def test_a_missing_sides_row_reads_as_open_without_a_warning(db, prefix, dj_env, tmp_path, server_settings):
    """The triggers read a side's row plainly by its key (engines/sides.read_side), no longer by an aggregate that
    returned a row whatever: where the row is missing, the side still reads as open (the variables keep their
    defaults), and the write is carried. Both sides' rows deleted, each side's client writes. (Without the read's
    NOT FOUND handler the client sees no warning here either: the trigger's next statement clears it.)"""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_two_way(s))
    s.generate()
    v1, v2, control = f"`{s.sources[0]}`", f"`{s.v2()}`", s.control
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill()
    s.verify()
    applied(s, "60_constraints")
    db.execute(f"DELETE FROM `{control}`.sides")
    writer = connect(server_settings)
    try:
        writer.execute(f"INSERT INTO {v1}.subject VALUES (9101, 'rat', 'w9101', 1.5, NULL)")
        assert writer.query("SHOW WARNINGS") == []
        writer.execute(f"INSERT INTO {v2}.animal (subject_id, kind, name, weight, tag) VALUES "
                       "(9201, 'mouse', 'n9201', 2.25, 'v2')")
        assert writer.query("SHOW WARNINGS") == []
    finally:
        writer.close()
    assert db.query(f"SELECT name FROM {v2}.animal WHERE subject_id = 9101") == [{"name": "w9101"}]
    assert db.query(f"SELECT nickname FROM {v1}.subject WHERE subject_id = 9201") == [{"nickname": "n9201"}]
    _same_both_ways(s)
