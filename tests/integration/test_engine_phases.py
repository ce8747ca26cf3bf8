"""Every phase file on a DataJoint 0.14 pipeline: applied with the stock client and with djsqlgen apply,
each twice (the second run changes nothing), and rolled back from every phase to a byte-identical v1."""

from __future__ import annotations

import pytest
import yaml
from support.engine import FORWARD, build_v1, djsqlgen, mariadb_client, snapshot, transform_plan, write_plan


@pytest.fixture
def migration(tmp_path, prefix, dj014_python, dj_env, db):
    """A built v1 (two schemas), a transforming plan and its generated files."""
    common, ephys = build_v1(dj014_python, prefix, tmp_path / "store", dj_env)
    v1_only = snapshot(db, prefix)
    plan_path = tmp_path / "plan.yaml"
    init = djsqlgen(["plan", "init", "--schema", f"{common}={common}_v2", "--schema", f"{ephys}={ephys}_v2",
                     "--name", prefix, "-o", str(plan_path)], dj_env)
    assert init.returncode == 0, init.stderr
    plan = transform_plan(yaml.safe_load(plan_path.read_text()), common)
    plan["control_schema"] = f"{prefix}_ctl"  # cleaned up with the test's other schemas
    write_plan(plan_path, plan)
    check = djsqlgen(["plan", "check", str(plan_path)], dj_env)
    assert check.returncode == 0, check.stderr + check.stdout
    out = tmp_path / "out"
    generated = djsqlgen(["generate", str(plan_path), "-o", str(out)], dj_env)
    assert generated.returncode == 0, generated.stderr
    return {"common": common, "ephys": ephys, "plan": plan_path, "out": out, "v1": v1_only,
            "control": f"{prefix}_ctl"}


def _apply(how: str, path, server_settings, dj_env) -> None:
    if how == "mariadb":
        result = mariadb_client(server_settings, path)
    else:
        result = djsqlgen(["apply", str(path)], dj_env)
    assert result.returncode == 0, f"{path.name} via {how}:\n{result.stderr}"
    assert "ERROR" not in result.stderr, result.stderr


@pytest.mark.parametrize("how", ["mariadb", "djsqlgen"])
def test_every_file_applies_and_is_a_no_op_the_second_time(how, migration, db, prefix, server_settings, dj_env):
    v1_tables = set(migration["v1"].checksums)
    for name in FORWARD:
        path = migration["out"] / f"{name}.sql"
        _apply(how, path, server_settings, dj_env)
        first = snapshot(db, prefix, migration["control"])
        _apply(how, path, server_settings, dj_env)
        second = snapshot(db, prefix, migration["control"])
        assert second == first, f"running {name}.sql twice changed the server"
        on_v2 = [trigger for schema, trigger, _ in first.triggers if schema.endswith("_v2")]
        if name >= "30":  # 30's UPDATE and DELETE trackers, and no trigger on v2 that the backfill's inserts fire
            # (rollback/70 finds v2's inserts after the cut-over by anti-join; a lookup's, which keeps rows no v1 row
            # uses, by an INSERT tracker: this plan has none), nor any DDL on v2 after 30 for them
            assert on_v2 and not [t for t in on_v2 if not t.endswith(("_track_upd", "_track_del"))], on_v2
        if name < "70":
            unchanged = {t: c for t, c in first.checksums.items() if t in v1_tables}
            assert unchanged == migration["v1"].checksums, f"{name}.sql changed v1"
        if name == "50_verify":
            result = djsqlgen(["verify", str(migration["plan"])], dj_env)
            assert result.returncode == 0, result.stdout + result.stderr
    final = snapshot(db, prefix, migration["control"])
    # contract keeps v1 (drop_v1 is off) frozen: only the cut-over guards remain, and v2's write trackers (a rollback
    # must not lose v2's writes while v1 stays), no sync, no routine
    assert final.triggers and all("_guard_" in name or "_track_" in name for _, name, _ in final.triggers), \
        final.triggers
    assert not final.routines
    # the control schema keeps its phase log, its record of what djsqlgen left and of v2's writes, and the sides row
    # v1's guards and v2's trackers read (v1 closed), nothing else
    assert {r["TABLE_NAME"] for r in db.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                                              [migration["control"]])} == {"phase_log", "objects", "v2_writes", "sides"}
    assert "migration finished" in djsqlgen(["status", str(migration["plan"])], dj_env).stdout
    assert {t: c for t, c in final.checksums.items() if t in v1_tables} == migration["v1"].checksums


@pytest.mark.parametrize("reached", FORWARD)
def test_rollback_from_every_phase_restores_v1_exactly(reached, migration, db, prefix, dj_env):
    out = migration["out"]
    forward = FORWARD[: FORWARD.index(reached) + 1]
    for name in forward:
        result = djsqlgen(["apply", str(out / f"{name}.sql")], dj_env)
        assert result.returncode == 0, f"{name}: {result.stderr}"
    for name in reversed(forward):
        result = djsqlgen(["apply", str(out / "rollback" / f"{name}.sql")], dj_env)
        assert result.returncode == 0, f"rollback/{name}: {result.stderr}"
    after = snapshot(db, prefix, migration["control"], exclude_control_data=False)
    assert after == migration["v1"], "v1 differs after the rollback, or something was left behind"


def test_rename_to_final_names_and_back(migration, db, prefix, dj_env):
    """Cut-over with renames: v2 takes v1's schema names, v1 moves to an archive; rollback reverses it."""
    plan = yaml.safe_load(migration["plan"].read_text())
    plan["cutover"]["rename_to_final"] = True
    for spec in plan["schemas"]:
        spec["final"] = spec["source"]
        spec["archive"] = f"{spec['source']}_archive"
    write_plan(migration["plan"], plan)
    out = migration["out"]
    assert djsqlgen(["generate", str(migration["plan"]), "-o", str(out)], dj_env).returncode == 0
    for name in FORWARD[:-1]:
        result = djsqlgen(["apply", str(out / f"{name}.sql")], dj_env)
        assert result.returncode == 0, f"{name}: {result.stderr}"
    common = migration["common"]
    tables = {r["TABLE_NAME"] for r in db.query(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", [common])}
    assert "notebook" in tables and "lab_note" not in tables, "v2 did not take the final name"
    archived = {r["TABLE_NAME"] for r in db.query(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", [f"{common}_archive"])}
    assert "lab_note" in archived
    assert db.query(f"SELECT COUNT(*) AS n FROM `{common}`.`notebook`")[0]["n"] == db.query(
        f"SELECT COUNT(*) AS n FROM `{common}_archive`.`lab_note`")[0]["n"]
    for name in reversed(FORWARD[:-1]):
        result = djsqlgen(["apply", str(out / "rollback" / f"{name}.sql")], dj_env)
        assert result.returncode == 0, f"rollback/{name}: {result.stderr}"
    assert snapshot(db, prefix, migration["control"], exclude_control_data=False) == migration["v1"]
