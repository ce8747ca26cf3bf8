"""Cut-over without silent divergence (issue 10, item 4; DESIGN.md safety invariant 4).

A writer inserts into a v1 table every 2 ms while 70_cutover.sql runs (stock client). Every insert that
reported success must be in v2 afterwards (an independent SELECT), and after the cut-over a v1 write
fails with a message naming the v2 table (or with "doesn't exist" while v1 is parked for a rename, or it
lands in v2 when v2 took v1's names). rollback/70 refuses while v2 holds writes made after the cut-over
(saying how to count them), proceeds when told to discard them, and then v1 writes reach v2 again.
"""

from __future__ import annotations

import time

import pytest
from support.safety import (
    V1,
    V1_TABLES,
    FastScenario,
    Writer,
    applied,
    client,
    refused,
    state,
    state_difference,
)

LAYOUTS = ["v1 stays", "v2 to final names", "v1 to an archive"]


def _plan(scenario: FastScenario, layout: str) -> None:
    def edit(plan):
        spec = plan["schemas"][0]
        if layout == "v2 to final names":
            spec["final"] = f"{scenario.prefix}_final"
        elif layout == "v1 to an archive":
            spec["final"] = spec["source"]
            spec["archive"] = f"{scenario.prefix}_archive"
        plan["cutover"] = {"rename_to_final": layout != "v1 stays"}
    scenario.plan(edit)
    scenario.generate()


def _homes(scenario: FastScenario, layout: str) -> tuple[str, str]:
    """(where v1's tables are, where v2's tables are) after the cut-over."""
    source = scenario.sources[0]
    if layout == "v1 stays":
        return source, scenario.v2()
    if layout == "v2 to final names":
        return source, f"{scenario.prefix}_final"
    return f"{scenario.prefix}_archive", source


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    return s


def _ids(scenario: FastScenario, schema: str, table: str = "event") -> list[int]:
    return [r["id"] for r in scenario.db.query(f"SELECT id FROM `{schema}`.`{table}` ORDER BY id")]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_v1_write_during_cutover_reaches_v2_or_fails_naming_it(layout, scenario, server_settings):
    _plan(scenario, layout)
    scenario.forward("60_constraints")
    source = scenario.sources[0]
    v1_home, v2_home = _homes(scenario, layout)
    writer = Writer(server_settings, source, "event", first_id=1000, every_ms=2)
    writer.start()
    try:
        time.sleep(0.1)
        result = client(scenario.db.settings, scenario.out / "70_cutover.sql")
        done = time.monotonic()
        time.sleep(0.15)
    finally:
        writer.stop()
    assert result.returncode == 0, result.stderr
    assert writer.ok, "no insert succeeded before the cut-over: the writer did not run"

    v2_ids = set(_ids(scenario, v2_home))
    lost = [i for i in writer.ok if i not in v2_ids]
    assert lost == [], f"{len(lost)} insert(s) into v1 reported success but are not in {v2_home}.event: {lost[:10]}"
    v2_label = f"{v2_home}.event"
    for i, errno, message in writer.failed:
        parked = layout == "v1 to an archive" and errno == 1146 and "doesn't exist" in message
        assert parked or v2_label in message, f"insert {i} failed without naming {v2_label}: {errno} {message}"
    after = [i for i, t in writer.started.items() if t > done]
    assert after, "the writer made no attempt after the cut-over"
    if layout == "v1 to an archive":  # v2 has v1's names now: the writes are v2's
        assert all(i in v2_ids for i in after if i in writer.ok)
    else:
        succeeded = [i for i in after if i in writer.ok]
        assert succeeded == [], f"inserts into v1 after the cut-over succeeded: {succeeded[:10]}"
        assert _ids(scenario, v1_home) == sorted(v2_ids), "v1 and v2 hold different rows"
    assert set(_ids(scenario, v1_home)) <= v2_ids


def _v2_writes(scenario: FastScenario, v2_home: str) -> None:
    scenario.db.execute(f"INSERT INTO `{v2_home}`.event VALUES (500, 'in v2 only')")
    scenario.db.execute(f"UPDATE `{v2_home}`.parent SET name = 'ANN' WHERE pid = 1")


def _v1_writes(scenario: FastScenario) -> None:
    v1 = scenario.sources[0]
    scenario.db.execute(f"INSERT INTO `{v1}`.event VALUES (900, 'after rollback')")
    scenario.db.execute(f"UPDATE `{v1}`.parent SET name = 'bobby' WHERE pid = 2")
    scenario.db.execute(f"DELETE FROM `{v1}`.child WHERE pid = 3")
    scenario.db.execute(f"INSERT INTO `{v1}`.child VALUES (2, 9, 'new')")
    scenario.db.execute(f"UPDATE `{v1}`.parent SET pid = 30 WHERE pid = 3")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_rollback_of_cutover_refuses_while_v2_holds_later_writes(layout, scenario, server_settings):
    _plan(scenario, layout)
    scenario.forward("70_cutover")
    _v2_writes(scenario, _homes(scenario, layout)[1])
    directory = scenario.run("apply", "--through", "70", str(scenario.out / "rollback"), check=False)
    assert directory.returncode != 0 and "v2_writes" in directory.stderr, directory.stderr
    before = state(server_settings, scenario.prefix)
    message = refused(scenario, "rollback/70_cutover")
    assert f"recorded in {scenario.control}.v2_writes" in message, message
    assert state_difference(before, state(server_settings, scenario.prefix)) == []
    run = scenario.run("apply", "--discard-v2-writes", str(scenario.out / "rollback/70_cutover.sql"), check=False)
    assert run.returncode == 0, run.stderr
    assert scenario.db.query(f"SELECT COUNT(*) AS n FROM `{scenario.control}`.phase_log WHERE phase = '70'") == [
        {"n": 0}]


@pytest.mark.parametrize("v2_written", [False, True], ids=["v2 untouched", "v2 writes discarded"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_after_rollback_of_cutover_v1_writes_reach_v2_again(layout, v2_written, scenario, server_settings):
    _plan(scenario, layout)
    scenario.forward("70_cutover")
    if v2_written:  # given up on purpose: v2 must be transform(v1) again afterwards
        _v2_writes(scenario, _homes(scenario, layout)[1])
    # With v1 archived, v2 holds the names the writer writes to: its inserts before the rollback are writes to
    # v2 made after the cut-over, which the rollback refuses to drop silently; they are given up on purpose.
    discard = v2_written or layout == "v1 to an archive"
    with Writer(server_settings, scenario.sources[0], "event", first_id=2000, every_ms=2) as writer:
        time.sleep(0.05)
        applied(scenario, "rollback/70_cutover", variables="SET @djsqlgen_discard_v2_writes = 'yes';"
                if discard else "")
        time.sleep(0.1)
    v1_ids, v2_ids = set(_ids(scenario, scenario.sources[0])), set(_ids(scenario, scenario.v2()))
    if layout == "v1 to an archive":  # writes made to v2 before it was parked were given up on purpose: in neither
        assert not (set(writer.ok) - v1_ids) & v2_ids, "a write given up is still in v2"
    else:
        assert set(writer.ok) <= v1_ids, "a write to v1 that reported success is not in v1"
    lost = sorted((set(writer.ok) & v1_ids) - v2_ids)
    assert lost == [], f"inserts into v1 during rollback/70 reported success but are not in v2: {lost[:10]}"
    for i, errno, text in writer.failed:
        assert text.startswith("djsqlgen W8 ") or "doesn't exist" in text, f"insert {i}: {errno} {text}"
    _v1_writes(scenario)
    for table in V1_TABLES:
        scenario.same_rows(table)
    verify = client(scenario.db.settings, scenario.out / "50_verify.sql")
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.parametrize("when", ["before 00", "during the window"])
def test_foreign_keys_from_outside_the_plan_refuse_a_cutover_that_archives_v1(when, scenario, server_settings):
    """Such a key would follow v1 into the archive: the outside table would reference the retired rows."""
    outside = f"{scenario.prefix}_other"

    def reference_v1() -> None:
        scenario.db.execute(f"CREATE DATABASE `{outside}`")
        scenario.db.execute(f"CREATE TABLE `{outside}`.note (id int PRIMARY KEY, pid int NOT NULL, CONSTRAINT "
                            f"note_parent FOREIGN KEY (pid) REFERENCES `{scenario.sources[0]}`.parent (pid))")
        scenario.db.execute(f"INSERT INTO `{outside}`.note VALUES (1, 2)")

    if when == "before 00":
        reference_v1()
    _plan(scenario, "v1 to an archive")
    if when == "before 00":
        before = state(server_settings, scenario.prefix)
        refused(scenario, "00_preflight")
    else:
        scenario.forward("60_constraints")
        reference_v1()
        before = state(server_settings, scenario.prefix)
        refused(scenario, "70_cutover")
    assert state_difference(before, state(server_settings, scenario.prefix)) == []
    check = scenario.run("plan", "check", str(scenario.plan_path), check=False)
    assert check.returncode == 2 and outside in check.stdout + check.stderr, \
        f"plan check (online) accepted a foreign key from {outside} into v1:\n{check.stdout}{check.stderr}"


def _recorded(scenario: FastScenario, table: str) -> set[str]:
    rows = scenario.db.query(f"SELECT row_key FROM `{scenario.control}`.v2_writes WHERE target_id LIKE %s",
                             [f"%{table}"])
    return {r["row_key"] for r in rows}


@pytest.mark.parametrize("layout", ["v2 to final names", "v1 to an archive"])
def test_every_write_to_v2_during_cutover_is_recorded(layout, scenario, server_settings):
    """v2 reaches its final names only with its trackers on it: a writer aiming at them from the start either
    fails (the table is not there yet) or is recorded, so rollback/70 cannot lose it silently."""
    _plan(scenario, layout)
    scenario.forward("60_constraints")
    _, v2_home = _homes(scenario, layout)
    if layout == "v2 to final names":
        scenario.db.execute(f"CREATE DATABASE `{v2_home}`")  # users' code may create the schema ahead
    writer = Writer(server_settings, v2_home, "event", first_id=3000, every_ms=0.5)
    with writer:
        time.sleep(0.05)
        result = client(scenario.db.settings, scenario.out / "70_cutover.sql")
        time.sleep(0.1)
    assert result.returncode == 0, result.stderr
    v1_home, _ = _homes(scenario, layout)
    in_v1 = set(_ids(scenario, v1_home))  # with v1 archived, the writes before the cut-over were v1's
    written = [i for i in writer.ok if i not in in_v1]
    assert written, "no write to v2 succeeded after the cut-over: the writer did not run"
    missed = [i for i in written if f"[{i}]" not in _recorded(scenario, "event")]
    assert missed == [], f"{len(missed)} write(s) to v2 succeeded but were not recorded: {missed[:10]}"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_discarding_v2_key_changes_and_their_cascades_gives_back_transform_of_v1(layout, scenario):
    """A key UPDATE in v2 after cut-over leaves its old key and moves the children through v2's ON UPDATE
    CASCADE (no trigger fires for those): giving the writes up brings both back as v1 has them."""
    _plan(scenario, layout)
    scenario.forward("70_cutover")
    _, v2_home = _homes(scenario, layout)
    scenario.db.execute(f"UPDATE `{v2_home}`.parent SET pid = 40 WHERE pid = 1")  # cascades to 2 children
    scenario.db.execute(f"UPDATE `{v2_home}`.event SET id = 50 WHERE id = 5")
    scenario.db.execute(f"UPDATE `{v2_home}`.child SET cid = 8 WHERE pid = 3 AND cid = 7")
    applied(scenario, "rollback/70_cutover", variables="SET @djsqlgen_discard_v2_writes = 'yes';")
    for table in V1_TABLES:
        scenario.same_rows(table)
    verify = client(scenario.db.settings, scenario.out / "50_verify.sql")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_cutover_again_after_writes_were_given_up_needs_a_new_verify(scenario):
    _plan(scenario, "v1 stays")
    scenario.forward("70_cutover")
    _v2_writes(scenario, scenario.v2())
    applied(scenario, "rollback/70_cutover", variables="SET @djsqlgen_discard_v2_writes = 'yes';")
    message = refused(scenario, "70_cutover")
    assert "verify" in message, message
    assert "stale" in scenario.run("status", str(scenario.plan_path)).stdout
    applied(scenario, "50_verify", "70_cutover")


def test_cutover_applied_twice_changes_nothing_the_second_time(scenario, server_settings):
    """With v2 at its final names, a second run finds the trackers' parked tables gone and puts them (the same
    triggers) on the final ones: no error, no change."""
    _plan(scenario, "v1 to an archive")
    scenario.forward("70_cutover")
    before = state(server_settings, scenario.prefix)
    applied(scenario, "70_cutover")
    changed = state_difference(before, state(server_settings, scenario.prefix))
    assert [c for c in changed if "'phase_log'" not in c] == []  # the phase log notes the second run's time
    _v2_writes(scenario, _homes(scenario, "v1 to an archive")[1])
    refused(scenario, "rollback/70_cutover")  # the trackers are still there and recorded them


@pytest.mark.parametrize("layout", ["v2 to final names", "v1 to an archive"])
def test_a_cutover_stopped_halfway_is_finished_not_half_undone(layout, scenario, server_settings):
    """70 stopped after v2 reached its final schema under parking names (trackers on), before its final names:
    rollback/70 refuses, naming the way out, and changes nothing; 70 again finishes; then the rollback works."""
    _plan(scenario, layout)
    scenario.forward("70_cutover")
    _, v2_home = _homes(scenario, layout)
    parked = ", ".join(f"`{v2_home}`.`{t}` TO `{v2_home}`.`{t}__djsqlgen_v2cutover`" for t in V1_TABLES)
    scenario.db.execute(f"RENAME TABLE {parked}")  # the state between 70's two renames
    scenario.db.execute(f"DELETE FROM `{scenario.control}`.phase_log WHERE phase = '70'")
    before = state(server_settings, scenario.prefix)
    message = refused(scenario, "rollback/70_cutover")
    assert "apply 70_cutover.sql again" in message, message
    assert state_difference(before, state(server_settings, scenario.prefix)) == []
    applied(scenario, "70_cutover", "rollback/70_cutover")
    _v1_writes(scenario)
    for table in V1_TABLES:
        scenario.same_rows(table)


V2_KEY_WRITES = [  # after cut-over, in v2: each moves rows through v2's own ON UPDATE CASCADE
    "UPDATE person SET pid = 100 WHERE pid = 1",  # two foreign keys from family to the same parent
    "UPDATE rig SET rig = 9 WHERE site = 'x' AND rig = 1",  # composite; partly-NULL sess rows stay
    "UPDATE a SET a = 50 WHERE a = 1",  # three levels: b, c, d
    "DELETE FROM g WHERE e = 2",
    "INSERT INTO person VALUES (7, 'new in v2')",
]


def test_discarding_v2_writes_follows_every_foreign_key_shape(db, prefix, dj_env, tmp_path):
    """Several keys to one parent, composite and partly-NULL keys, chains three deep: after giving up v2's
    key changes, every table equals v1 again, row for row, and verify is clean."""
    from integration.test_cascades import TABLES
    from integration.test_cascades import V1 as SHAPES

    scenario = FastScenario(db, prefix, dj_env, tmp_path)
    scenario.create_v1(SHAPES)
    scenario.plan()
    scenario.generate()
    scenario.forward("70_cutover")
    scenario.db.execute(f"USE `{scenario.v2()}`")
    for sql in V2_KEY_WRITES:
        scenario.db.execute(sql)
    applied(scenario, "rollback/70_cutover", variables="SET @djsqlgen_discard_v2_writes = 'yes';")
    for table in TABLES:
        scenario.same_rows(table)
    verify = client(scenario.db.settings, scenario.out / "50_verify.sql")
    assert verify.returncode == 0, verify.stdout + verify.stderr
