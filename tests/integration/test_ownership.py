"""djsqlgen drops only what it created (issue 10, item 1; DESIGN.md safety invariant 1).

A control schema or target schema that already holds someone else's tables is refused before anything
changes (plan check online, 00, 10); after the whole path and every rollback the user's tables are intact,
byte for byte, and each rollback removed only objects djsqlgen recorded creating; a schema the DBA created
(empty, for djsqlgen) or one a user put a table into is never dropped.
"""

from __future__ import annotations

import pytest
from support.safety import (
    V1,
    V1_TABLES,
    FastScenario,
    applied,
    client,
    djsqlgen_leftovers,
    inventory,
    recorded,
    refused,
    schemas,
    state,
    state_difference,
    table_fingerprint,
    tables,
)
from support.scenario import PHASES

ROLLBACKS = [f"rollback/{p}" for p in reversed(PHASES)]


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    return s


def _user_table(db, schema: str, table: str) -> None:
    db.execute(f"CREATE DATABASE IF NOT EXISTS `{schema}`")
    db.execute(f"CREATE TABLE `{schema}`.`{table}` (id int NOT NULL PRIMARY KEY, what varchar(32) NOT NULL) "
               "ENGINE=InnoDB")
    db.execute(f"INSERT INTO `{schema}`.`{table}` VALUES (1, 'lab notebook'), (2, 'do not lose')")


@pytest.mark.parametrize("where", ["control", "target"])
def test_plan_check_online_refuses_a_schema_holding_user_tables(where, scenario):
    schema = scenario.control if where == "control" else scenario.v2()
    _user_table(scenario.db, schema, "notes")
    scenario.plan()
    check = scenario.run("plan", "check", str(scenario.plan_path), check=False)
    output = check.stdout + check.stderr
    assert check.returncode == 2, f"plan check accepted {where} schema {schema} holding a user table:\n{output}"
    assert schema in output


# "progress" and "objects" are names djsqlgen uses for its own bookkeeping tables.
@pytest.mark.parametrize("table", ["notes", "progress", "objects"])
def test_preflight_refuses_a_control_schema_holding_user_tables(table, scenario, server_settings):
    _user_table(scenario.db, scenario.control, table)
    scenario.plan()
    generated = scenario.generate(check=False)
    if generated.returncode != 0:  # refusing to generate is refusing too
        assert "control_schema" in generated.stdout + generated.stderr
        return
    before = state(server_settings, scenario.prefix)
    refused(scenario, "00_preflight")
    assert state_difference(before, state(server_settings, scenario.prefix)) == []


@pytest.mark.parametrize("table", ["other", "parent"], ids=["table outside the plan", "table named as planned"])
@pytest.mark.parametrize("when", ["before 00", "after 00"])
def test_target_schema_holding_a_user_table_is_refused(when, table, scenario, server_settings):
    scenario.plan()
    scenario.generate()
    if when == "before 00":
        _user_table(scenario.db, scenario.v2(), table)
        before = state(server_settings, scenario.prefix)
        refused(scenario, "00_preflight")
        assert state_difference(before, state(server_settings, scenario.prefix)) == []
        return
    applied(scenario, "00_preflight")
    _user_table(scenario.db, scenario.v2(), table)
    before = state(server_settings, scenario.prefix)
    refused(scenario, "10_expand")
    assert state_difference(before, state(server_settings, scenario.prefix)) == []
    applied(scenario, "rollback/00_preflight")
    assert tables(scenario.db, scenario.v2()) == [table]
    assert scenario.rows(scenario.v2(), table) == [(1, "lab notebook"), (2, "do not lose")]


LAYOUTS = {
    "djsqlgen creates every schema": (),
    "the DBA created control and target schemas empty": ("control", "target"),
    "users put tables into djsqlgen's schemas": ("user tables",),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_whole_path_and_every_rollback_drop_only_what_djsqlgen_made(layout, scenario, server_settings):
    db, prefix = scenario.db, scenario.prefix
    given = LAYOUTS[layout]
    elsewhere = f"{prefix}_lab"
    _user_table(db, elsewhere, "notes")
    if "control" in given:
        db.execute(f"CREATE DATABASE `{scenario.control}`")
    if "target" in given:
        db.execute(f"CREATE DATABASE `{scenario.v2()}`")
    scenario.plan()
    scenario.generate()
    user = {(s, t): table_fingerprint(db, s, t) for s, t in
            [(scenario.sources[0], name) for name in V1_TABLES] + [(elsewhere, "notes")]}
    scenario.forward("80_contract")
    status = scenario.run("status", str(scenario.plan_path))
    assert "migration finished" in status.stdout
    # 80 keeps the record of what djsqlgen left behind: v1's guard triggers and, while v1 stays, v2's write
    # trackers and their records (a rollback must not lose v2's writes), the sides row v1's guards read (v1 closed),
    # and nothing else of its own
    assert tables(db, scenario.control) == ["objects", "phase_log", "sides", "v2_writes"]
    left_behind = {(k, s, o) for k, s, o in inventory(db, prefix) if k == "trigger"}
    assert left_behind == {r for r in recorded(db, scenario.control) if r[0] == "trigger"}
    assert left_behind and all("_guard_" in name or "_track_" in name for _, _, name in left_behind)
    if "user tables" in given:  # made during the migration, in schemas djsqlgen created
        _user_table(db, scenario.v2(), "scratch")
        _user_table(db, scenario.control, "dba_notes")
        user[(scenario.v2(), "scratch")] = table_fingerprint(db, scenario.v2(), "scratch")
        user[(scenario.control, "dba_notes")] = table_fingerprint(db, scenario.control, "dba_notes")

    for name in ROLLBACKS:
        ours = recorded(db, scenario.control)
        before = inventory(db, prefix)
        result = client(db.settings, scenario.out / f"{name}.sql")
        assert result.returncode == 0, f"{name}.sql failed:\n{result.stderr}"
        gone = before - inventory(db, prefix)
        for kind, schema, obj in gone:
            in_control = schema == scenario.control and kind in ("table", "routine")
            assert (kind, schema, obj) in ours or in_control, f"{name}.sql dropped {kind} {schema}.{obj}, which " \
                                                               "djsqlgen had not recorded creating"
        for (schema, table), fingerprint in user.items():
            assert table_fingerprint(db, schema, table) == fingerprint, f"{name}.sql changed {schema}.{table}"

    for (schema, table), fingerprint in user.items():
        assert table_fingerprint(db, schema, table) == fingerprint, f"{schema}.{table} differs after the rollbacks"
    assert djsqlgen_leftovers(db, prefix) == []
    left = schemas(db, prefix)
    if given == ():
        assert left == sorted([scenario.sources[0], elsewhere])
    else:  # never dropped: created by the DBA, or holding a user's table
        assert scenario.control in left and scenario.v2() in left
        expected = {"control": [], "target": []} if "user tables" not in given else \
            {"control": ["dba_notes"], "target": ["scratch"]}
        assert tables(db, scenario.control) == expected["control"]
        assert tables(db, scenario.v2()) == expected["target"]
