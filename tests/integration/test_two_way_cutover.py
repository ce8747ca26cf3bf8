"""The cut-over (70) and the contract (80) of a two-way plan (issue 24 item 5), from either state of v1 (open, or
closed by `close v1` before 70): after 70 v1 refuses its clients' writes (W8) while v2's writes still reach it;
rollback/70 after v2 writes gives v1 its writes back with nothing lost; 80 with contract.v1: keep-synced keeps v1
read-only and filled by v2 until 90_retire_v1.sql; rollback/80 and rollback/90 put back what they removed. Every
file applied twice with the stock client; v1 and v2 compared row by row both ways (full ordered SELECTs) after each
step, independently of verify.

The plan is test_two_way's (subject → animal and session sync both ways, #kind one way), with the contract's
keep-synced.
"""

from __future__ import annotations

import re
import time

import pytest
from integration.test_sides_close import _refused_w8, _sides, _v1_writes, _v2_writes
from integration.test_two_way import V1, _same_both_ways, _two_way
from integration.test_two_way_autoinc import V1 as AUTOINC_V1
from integration.test_two_way_autoinc import _edit as autoinc_edit
from support.safety import FastScenario, Writer, applied, client, error_of, refused, triggers


def _through_60(db, prefix, dj_env, tmp_path, v1_sql: str, sync_edit, contract: dict | None = None,
                before_backfill=None) -> FastScenario:
    """A two-way plan (``sync_edit``, and ``contract``) generated and applied through 60 with the stock client, the
    backfill and verify run; ``before_backfill(s)`` runs once 30 is on."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(v1_sql)

    def edit(plan: dict) -> None:
        sync_edit(s)(plan)
        if contract:
            plan["contract"] = contract
    s.plan(edit)
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    if before_backfill:
        before_backfill(s)
    s.backfill()
    s.verify()
    applied(s, "60_constraints")
    return s


def _refuses_v1_clients(s: FastScenario) -> None:
    v1 = f"`{s.sources[0]}`"
    before = [tuple(r.values()) for r in s.db.query(f"SELECT * FROM {v1}.subject ORDER BY subject_id")]
    for sql in (f"INSERT INTO {v1}.subject VALUES (90, 'rat', 'no', NULL, NULL)",
                f"UPDATE {v1}.subject SET nickname = 'no' WHERE subject_id = 1",
                f"DELETE FROM {v1}.session__trial"):
        home = f"{s.v2()}.{'session__trial' if 'trial' in sql else 'animal'}"
        _refused_w8(s.db, sql, home)
    assert [tuple(r.values()) for r in s.db.query(f"SELECT * FROM {v1}.subject ORDER BY subject_id")] == before


def _forward_triggers(s: FastScenario) -> set[str]:
    return {n for n in triggers(s.db, s.sources[0]) if "_guard_" not in n}


def _writes_on(writer: Writer, more: int = 3) -> None:
    """Wait until ``writer`` has written ``more`` rows since now (or failed)."""
    wanted, deadline = len(writer.ok) + more, time.monotonic() + 30
    while len(writer.ok) < wanted and not writer.failed and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.parametrize("closed_first", [False, True], ids=["v1_open", "v1_closed_by_close_v1"])
def test_two_way_cutover_and_a_v1_kept_synced(db, prefix, dj_env, tmp_path, server_settings, closed_first):
    s = _through_60(db, prefix, dj_env, tmp_path, V1, _two_way, {"v1": "keep-synced"},
                    before_backfill=lambda s: _v1_writes(db, f"`{s.sources[0]}`", 100))  # carried to v2
    v1, v2, control = f"`{s.sources[0]}`", f"`{s.v2()}`", s.control
    _v1_writes(db, v1, 120)  # writers on both sides before 70
    _v2_writes(db, v2, 200)
    _same_both_ways(s)
    s.verify()
    # 70 never leaves both sides read-only: refused while v2 is closed
    applied(s, "sides/close_v2")
    assert "v2 is closed (djsqlgen close v2)" in refused(s, "70_cutover")
    applied(s, "sides/reopen_v2")
    if closed_first:
        applied(s, "sides/close_v1")
    forward = _forward_triggers(s)
    assert forward

    applied(s, "70_cutover", "70_cutover")
    assert _sides(db, control)["v1"][0] == 0
    assert _sides(db, control)["v1"][2] == ("sides/close_v1.sql" if closed_first else "70_cutover.sql")
    assert _forward_triggers(s) == forward  # no DDL: the sync is untouched
    _refuses_v1_clients(s)
    _v2_writes(db, v2, 300)  # v1's readers see it
    _same_both_ways(s)
    assert db.query(f"SELECT nickname FROM {v1}.subject WHERE subject_id = 301") == [{"nickname": "moved"}]
    assert "only rollback/70_cutover.sql reopens v1" in refused(s, "sides/reopen_v1")  # after 70 only rollback/70 reopens v1

    # rollback/70 after v2 writes: nothing refused, nothing lost, v1 writable and syncing again
    v1_rows = [tuple(r.values()) for r in db.query(f"SELECT * FROM {v1}.session ORDER BY 1, 2")]
    applied(s, "rollback/70_cutover")  # a second run: nothing to undo (below)
    assert _sides(db, control)["v1"][0] == 1
    assert [tuple(r.values()) for r in db.query(f"SELECT * FROM {v1}.session ORDER BY 1, 2")] == v1_rows
    _same_both_ways(s)
    _v1_writes(db, v1, 140)
    _v2_writes(db, v2, 310)
    _same_both_ways(s)
    again = client(db.settings, s.out / "rollback/70_cutover.sql")  # a second run: nothing left to undo
    assert again.returncode != 0 and "nothing to undo in rollback/70_cutover.sql" in again.stderr, again.stderr

    # 70 again, then 80 keeping v1 synced: v1's forward triggers go, its clients still refused, v2 still fills it
    applied(s, "70_cutover", "80_contract", "80_contract")
    assert _forward_triggers(s) == set()
    assert any(re.search(r"_to_v1$", n) for n in triggers(db, s.v2()))
    _refuses_v1_clients(s)
    _v2_writes(db, v2, 400)
    _same_both_ways(s)
    status = s.run("status", str(s.plan_path)).stdout
    assert re.search(r"v1 read-only since \S+ \S+ \(\S+\), kept in sync by v2 since \S+ \S+; .*90_retire_v1\.sql",
                     status), status
    one_way = error_of(db, f"INSERT INTO {v2}.`#kind` VALUES ('newt', '')")  # #kind cannot sync back: W7
    assert "W7" in one_way.message, one_way

    # rollback/80 puts the forward triggers back (v1 stays closed); 80 again
    applied(s, "rollback/80_contract", "rollback/80_contract")
    assert _forward_triggers(s) == forward
    _refuses_v1_clients(s)
    _v2_writes(db, v2, 410)
    _same_both_ways(s)
    applied(s, "80_contract")

    # 90: v2 stops filling v1; v1 stays, read-only (drop_v1 is off); v2 takes every write
    assert "80_contract.sql is still applied" in refused(s, "rollback/70_cutover")  # newest first
    applied(s, "90_retire_v1", "90_retire_v1")
    assert not any(re.search(r"_to_v1$|_one_way_", n) for n in triggers(db, s.v2()))
    _v2_writes(db, v2, 500)
    assert db.query(f"SELECT COUNT(*) AS n FROM {v1}.subject WHERE subject_id IN (500, 501)") == [{"n": 0}]
    _refuses_v1_clients(s)
    db.execute(f"INSERT INTO {v2}.`#kind` VALUES ('newt', '')")
    assert "migration finished: 90_retire_v1.sql" in s.run("status", str(s.plan_path)).stdout
    assert "90_retire_v1.sql is still applied" in refused(s, "rollback/80_contract")

    # rollback/90: v2's writes reach v1 again (those made in between do not: RUNBOOK)
    applied(s, "rollback/90_retire_v1", "rollback/90_retire_v1")
    _v2_writes(db, v2, 600)
    assert db.query(f"SELECT nickname FROM {v1}.subject WHERE subject_id = 601") == [{"nickname": "moved"}]
    _refuses_v1_clients(s)


@pytest.mark.parametrize("contract", ["default", "keep_synced_drop_v1"])
def test_the_contract_ends_the_sync(db, prefix, dj_env, tmp_path, server_settings, contract):
    """A v2 writer through 70 (and a keep-synced 80) loses no write and each reaches v1; then the file that ends the
    sync (80 by default, 90 when kept synced) removes every trigger from v2 and leaves v1 read-only (or drops it)."""
    kept = contract != "default"
    s = _through_60(db, prefix, dj_env, tmp_path, V1, _two_way, {"v1": "keep-synced", "drop_v1": True} if kept else None)
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    insert = f"INSERT INTO {v2}.session VALUES (1, %s, '2024-05-01', %s)"
    with Writer(db.settings, s.v2(), "session", 1000, every_ms=5, statement=insert) as writer:
        _writes_on(writer)
        applied(s, "70_cutover")
        if kept:
            applied(s, "80_contract")
        _writes_on(writer)
    assert writer.ok and not writer.failed, writer.failed[:3]
    assert [r["session_idx"] for r in db.query(f"SELECT session_idx FROM {v1}.session WHERE session_idx >= 1000 "
                                               "ORDER BY 1")] == writer.ok
    _same_both_ways(s)
    ending = "90_retire_v1" if kept else "80_contract"
    applied(s, ending, ending)
    assert not [n for n in triggers(db, s.v2()) if n.startswith("djsqlgen")]
    db.execute(f"INSERT INTO {v2}.`#kind` VALUES ('newt', '')")  # one-way tables take v2's writes now
    db.execute(f"INSERT INTO {v2}.animal (subject_id, kind, name) VALUES (700, 'newt', 'v2 only')")
    if kept:  # contract.drop_v1 ran with 90: v1 is gone, and nothing can roll back
        assert db.query(f"SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                        [s.sources[0]]) == [{"n": 0}]
        assert "contract.drop_v1 dropped v1" in refused(s, "rollback/90_retire_v1")
        assert "90_retire_v1.sql is still applied" in refused(s, "rollback/80_contract")
        return
    assert db.query(f"SELECT COUNT(*) AS n FROM {v1}.subject WHERE subject_id = 700") == [{"n": 0}]
    assert _forward_triggers(s) == set()
    _refuses_v1_clients(s)

    # rollback/80 puts the sync back both ways (v2's rows written meanwhile removed first: v1 never saw them)
    db.execute(f"DELETE FROM {v2}.animal WHERE subject_id = 700")
    db.execute(f"DELETE FROM {v2}.`#kind` WHERE kind = 'newt'")
    applied(s, "rollback/80_contract", "rollback/80_contract")
    assert _forward_triggers(s) and any(re.search(r"_to_v1$", n) for n in triggers(db, s.v2()))
    _refuses_v1_clients(s)
    _v2_writes(db, v2, 800)
    _same_both_ways(s)
    applied(s, "rollback/70_cutover")
    _v1_writes(db, v1, 900)
    _same_both_ways(s)


@pytest.mark.parametrize("ending", ["80_contract", "90_retire_v1"])
def test_v2_ids_after_the_sync_ends_are_ones_v1_never_issued(db, prefix, dj_env, tmp_path, server_settings, ending):
    """While synced, v2's inserts take their ids from v1's counter; once the file that ends the sync has run, v2's own
    counter must be above every id v1 issued: here id 3, inserted in v1 and deleted before the migration (v2 never
    saw it, so v2's counter alone would hand it out again)."""
    v1 = AUTOINC_V1 + ";\nINSERT INTO note (title) VALUES ('gone before');\nDELETE FROM note WHERE title = 'gone before'"
    s = _through_60(db, prefix, dj_env, tmp_path, v1, autoinc_edit,
                    {"v1": "keep-synced"} if ending == "90_retire_v1" else None)
    v2 = f"`{s.v2()}`"
    applied(s, "70_cutover", "80_contract")
    if ending == "90_retire_v1":
        applied(s, "90_retire_v1")
    assert not [n for n in triggers(db, s.v2()) if n.startswith("djsqlgen")]
    db.execute(f"INSERT INTO {v2}.note (title) VALUES ('v2 alone')")
    assert db.query(f"SELECT note_id FROM {v2}.note WHERE title = 'v2 alone'") == [{"note_id": 4}]


def test_datajoint_014_code_keeps_reading_current_data_after_a_keep_synced_contract(tmp_path, prefix, dj014_python,
                                                                                     dj_env, server_settings, db):
    """DataJoint 0.14 users write v1 up to the cut-over, SQL clients write v2 throughout; after 80 with keep-synced a
    0.14 client reading v1 sees every row v2 took since, table by table the same as it reads v2."""
    from integration.test_datajoint_reads_v2 import _read
    from support.engine import build_v1, bulk_fill, dj014_writers, migration_files

    store = tmp_path / "store"
    common, ephys = build_v1(dj014_python, prefix, store, dj_env)
    bulk_fill(db, common, 60)

    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        plan["contract"] = {"v1": "keep-synced"}

    plan_path, out = migration_files(tmp_path, prefix, [common, ephys], dj_env, edit)
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.out, s.plan_path = out, plan_path
    s.open_at_60(chunk_rows=97)
    v2c = f"`{common}_v2`"

    def v2_subject(sid: int) -> None:
        db.execute(f"INSERT INTO {v2c}.subject (subject_id, species, subject_uuid, notes, weight) "
                   f"VALUES ({sid}, 'Mus musculus', UNHEX(MD5('v2 {sid}')), 'from v2', 12.25)")
        db.execute(f"INSERT INTO {v2c}.session (subject_id, session_id, session_start, operator) "
                   f"VALUES ({sid}, 1, '2025-02-01 10:00:00', 'alice')")
        db.execute(f"INSERT INTO {v2c}.session__tag VALUES ({sid}, 1, 'v2a'), ({sid}, 1, 'v2b')")
        db.execute(f"UPDATE {v2c}.subject SET notes = 'edited in v2' WHERE subject_id = {sid}")

    dj014_writers(dj014_python, prefix, store, dj_env, 1, ["1000-1029"], iterations=5)
    v2_subject(30_000_001)
    s.verify()
    applied(s, "70_cutover", "80_contract")
    v2_subject(30_000_002)  # after the contract: v1 still receives it
    # 0.14 files external objects under {location}/{schema}/: the v2 schemas see the same objects
    for source in (common, ephys):
        (store / f"{source}_v2").symlink_to(store / source, target_is_directory=True)
    v1_read = _read(dj014_python, "dj014_read.py", [common, ephys], store, dj_env)
    v2_read = _read(dj014_python, "dj014_read.py", [f"{common}_v2", f"{ephys}_v2"], store, dj_env)
    assert set(v1_read) == set(v2_read) and len(v1_read) >= 10
    for table in v1_read:
        assert v1_read[table] == v2_read[table], f"DataJoint 0.14 reads {table} differently in v1 and v2"
    assert db.query(f"SELECT notes FROM `{common}`.subject WHERE subject_id = 30000002") == [{"notes": "edited in v2"}]
