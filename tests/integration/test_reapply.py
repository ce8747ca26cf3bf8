"""Installed objects match the files they came from (issue 10, items 5 and 6; DESIGN.md invariant 5).

Triggers carry the migration hash however the file was applied; a plan fixed and generated again installs
its own trigger bodies (while v2 is empty) and never replaces triggers over rows the old ones wrote; the
backfill refuses before the dual-write triggers exist; progress belongs to the v2 table it describes, so
a v2 re-created under a leftover control schema is copied again instead of being called done.
"""

from __future__ import annotations

import pytest
from support.safety import (
    PHASES,
    REFUSED,
    V1,
    V1_TABLES,
    FastScenario,
    applied,
    client,
    migration_hash,
    refused,
    state,
    state_difference,
    triggers,
)


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    return s


def _tagged(scenario: FastScenario, letter: str) -> None:
    """The plan with an added column computed from v1 (``CONCAT('<letter>-', name)``), generated."""
    def edit(plan):
        scenario.tables(plan)["parent"]["add"] = {
            "tag": {"type": "varchar(32)", "expr": f"CONCAT('{letter}-', name)", "nullable": True}}
    scenario.plan(edit)
    scenario.generate()


def _parent_triggers(scenario: FastScenario) -> dict[str, str]:
    """The insert and update triggers of v1's parent (the ones that compute ``tag``)."""
    return {n: body for n, body in triggers(scenario.db, scenario.sources[0]).items()
            if n.endswith(("_parent_ins", "_parent_upd"))}


def _v2_counts(scenario: FastScenario) -> dict[str, int]:
    return {t: scenario.db.query(f"SELECT COUNT(*) AS n FROM `{scenario.v2()}`.`{t}`")[0]["n"] for t in V1_TABLES}


@pytest.mark.parametrize("tool", ["stock client", "djsqlgen apply"])
def test_dualwrite_triggers_carry_the_migration_hash(tool, scenario):
    scenario.plan()
    scenario.generate()
    scenario.forward("20_routines")
    if tool == "stock client":
        applied(scenario, "30_dualwrite")
    else:
        scenario.apply("30_dualwrite")
    bodies = triggers(scenario.db, scenario.sources[0])
    assert len(bodies) == 3 * len(V1_TABLES)
    unmarked = [name for name, body in bodies.items() if migration_hash(scenario) not in body]
    assert unmarked == [], f"triggers installed by the {tool} without the migration hash {migration_hash(scenario)}"


@pytest.mark.parametrize("path", ["apply 00 to 30 again", "roll back to 10, then 10 to 30"])
def test_a_regenerated_plan_installs_its_own_trigger_bodies(path, scenario):
    _tagged(scenario, "a")
    scenario.forward("30_dualwrite")
    assert all("'a-'" in body for body in _parent_triggers(scenario).values())
    _tagged(scenario, "b")  # the plan fixed, the files generated again; v2 is still empty
    if path == "apply 00 to 30 again":
        scenario.forward("30_dualwrite")
    else:
        applied(scenario, "rollback/30_dualwrite", "rollback/20_routines", "rollback/10_expand")
        scenario.forward("30_dualwrite")
    bodies = _parent_triggers(scenario)
    assert len(bodies) == 2
    stale = [n for n, body in bodies.items() if "'b-'" not in body or "'a-'" in body]
    assert stale == [], f"triggers still carrying the old plan's expression: {stale}"
    hashes = {r["plan_hash"] for r in scenario.db.query(
        f"SELECT plan_hash FROM `{scenario.control}`.objects WHERE kind = 'trigger'")}
    assert hashes == {migration_hash(scenario)}
    scenario.db.execute(f"INSERT INTO `{scenario.sources[0]}`.parent VALUES (9, 'dee')")
    assert scenario.rows(scenario.v2(), "parent") == [(9, "dee", "b-dee")]


def test_triggers_of_another_plan_are_not_replaced_over_rows_they_wrote(scenario, server_settings):
    _tagged(scenario, "a")
    scenario.forward("40_backfill")
    old = _parent_triggers(scenario)
    rows = {t: scenario.rows(scenario.v2(), t) for t in V1_TABLES}
    _tagged(scenario, "b")
    applied(scenario, "00_preflight")
    for name in ("10_expand", "20_routines"):  # whatever these do, 30 must not install over v2's rows
        client(scenario.db.settings, scenario.out / f"{name}.sql")
    before = state(server_settings, scenario.prefix)
    refused(scenario, "30_dualwrite")
    assert state_difference(before, state(server_settings, scenario.prefix)) == []
    assert _parent_triggers(scenario) == old
    assert {t: scenario.rows(scenario.v2(), t) for t in V1_TABLES} == rows


@pytest.mark.parametrize("how", ["30 never applied", "30 rolled back", "a trigger dropped by hand"])
def test_backfill_refuses_without_the_dualwrite_triggers(how, scenario, server_settings):
    scenario.plan()
    scenario.generate()
    scenario.forward("20_routines")
    if how != "30 never applied":
        applied(scenario, "30_dualwrite")
    if how == "30 rolled back":
        applied(scenario, "rollback/30_dualwrite")
    elif how == "a trigger dropped by hand":
        name = next(n for n in triggers(scenario.db, scenario.sources[0]) if n.endswith("_event_ins"))
        scenario.db.execute(f"DROP TRIGGER `{scenario.sources[0]}`.`{name}`")
    before = state(server_settings, scenario.prefix)
    command = scenario.backfill(check=False)
    assert command.returncode != 0, f"djsqlgen backfill copied without the dual-write triggers:\n{command.stderr}"
    assert "30_dualwrite.sql" in command.stderr, command.stderr
    refused(scenario, "40_backfill")
    assert state_difference(before, state(server_settings, scenario.prefix)) == []
    assert _v2_counts(scenario) == {t: 0 for t in V1_TABLES}


@pytest.mark.parametrize("write_first", [False, True], ids=["v2 empty", "a v1 write reached v2 first"])
def test_backfill_copies_again_into_a_recreated_v2(write_first, scenario):
    scenario.plan()
    scenario.generate()
    scenario.forward("40_backfill")
    scenario.db.execute(f"DROP DATABASE `{scenario.v2()}`")  # an earlier attempt's v2 gone; its control schema left
    applied(scenario, "10_expand", "20_routines", "30_dualwrite")
    if write_first:
        v1 = scenario.sources[0]
        scenario.db.execute(f"INSERT INTO `{v1}`.event VALUES (77, 'late')")
        scenario.db.execute(f"UPDATE `{v1}`.parent SET name = 'ANN' WHERE pid = 1")
        scenario.db.execute(f"INSERT INTO `{v1}`.child VALUES (2, 8, 'new')")
    applied(scenario, "40_backfill")
    for table in V1_TABLES:
        scenario.same_rows(table)
    verify = client(scenario.db.settings, scenario.out / "50_verify.sql")
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.parametrize("contract", ["keep v1", "drop v1"])
def test_every_file_applied_again_after_the_contract_is_a_no_op_or_a_refusal(contract, scenario):
    """A DBA who runs an old file again after 80 (a wrong tab, a script re-run) gets nothing done or a djsqlgen
    refusal that names the file, never a server error such as 1146 for a control table 80 dropped."""
    def edit(plan):
        if contract == "drop v1":
            plan["contract"] = {"drop_v1": True}
    scenario.plan(edit)
    scenario.generate()
    scenario.forward("80_contract")
    failed = {}
    for name in PHASES[:-1]:
        result = client(scenario.db.settings, scenario.out / f"{name}.sql")
        if result.returncode != 0 and not (f"{REFUSED} " in result.stderr and f"{name}.sql" in result.stderr):
            failed[name] = result.stderr[-600:]
    assert not failed, f"applied again after 80, failed without a djsqlgen refusal: {failed}"
    for command in ("backfill", "verify"):  # the command line's own runs of 40 and 50
        result = scenario.run(command, str(scenario.plan_path), check=False)
        assert result.returncode == 0 or "djsqlgen: error" in result.stderr and "server error" not in result.stderr, (
            f"djsqlgen {command} after 80: {result.stderr[-800:]}")
