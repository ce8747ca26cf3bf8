"""The dual-write triggers on their own: failures are loud, cascades are followed, foreign triggers respected."""

from __future__ import annotations

import pytest
from support.engine import djsqlgen

from djsqlgen.run.db import ServerError

SCHEMA_SQL = """
CREATE TABLE `{a}`.`parent` (pid INT NOT NULL, label VARCHAR(20) NOT NULL DEFAULT '', PRIMARY KEY (pid));
CREATE TABLE `{a}`.`child` (pid INT NOT NULL, cid INT NOT NULL, v DOUBLE NULL, PRIMARY KEY (pid, cid),
  FOREIGN KEY (pid) REFERENCES `{a}`.`parent` (pid) ON UPDATE CASCADE ON DELETE RESTRICT);
CREATE TABLE `{b}`.`grandchild` (pid INT NOT NULL, cid INT NOT NULL, gid INT NOT NULL, PRIMARY KEY (pid, cid, gid),
  FOREIGN KEY (pid, cid) REFERENCES `{a}`.`child` (pid, cid) ON UPDATE CASCADE ON DELETE CASCADE);
INSERT INTO `{a}`.`parent` VALUES (1, 'one'), (2, 'two'), (3, 'three');
INSERT INTO `{a}`.`child` VALUES (1, 1, 0.5), (1, 2, NULL), (2, 1, 2.5), (3, 1, 1);
INSERT INTO `{b}`.`grandchild` VALUES (1, 1, 1), (1, 1, 2), (1, 2, 1), (2, 1, 1), (3, 1, 1)
"""


@pytest.fixture
def dual_write(tmp_path, prefix, db, dj_env):
    """Two schemas (a cross-schema cascade), generated identity files, applied through 30_dualwrite."""
    a, b = f"{prefix}_a", f"{prefix}_b"
    db.execute(f"CREATE DATABASE `{a}`")
    db.execute(f"CREATE DATABASE `{b}`")
    for statement in SCHEMA_SQL.format(a=a, b=b).split(";"):
        db.execute(statement)
    plan = tmp_path / "plan.yaml"
    init = djsqlgen(["plan", "init", "--schema", f"{a}={a}_v2", "--schema", f"{b}={b}_v2", "--name", prefix,
                     "-o", str(plan)], dj_env)
    assert init.returncode == 0, init.stderr
    plan.write_text(plan.read_text() + f"control_schema: {prefix}_ctl\n")
    out = tmp_path / "out"
    assert djsqlgen(["generate", str(plan), "-o", str(out)], dj_env).returncode == 0
    for name in ("00_preflight", "10_expand", "20_routines", "30_dualwrite"):
        result = djsqlgen(["apply", str(out / f"{name}.sql")], dj_env)
        assert result.returncode == 0, result.stderr
    assert djsqlgen(["backfill", str(plan)], dj_env).returncode == 0
    return {"a": a, "b": b, "plan": plan, "out": out}


def _verify(setup, env) -> None:
    result = djsqlgen(["verify", str(setup["plan"])], env)
    assert result.returncode == 0, result.stdout


def test_key_update_cascading_across_schemas_reaches_v2(dual_write, db, dj_env):
    a = dual_write["a"]
    db.execute(f"UPDATE `{a}`.`parent` SET pid = 10 WHERE pid = 1")  # cascades to child and grandchild
    db.execute(f"UPDATE `{a}`.`child` SET cid = 7 WHERE pid = 2 AND cid = 1")  # cascades to grandchild
    rows = db.query(f"SELECT pid, cid, gid FROM `{dual_write['b']}_v2`.`grandchild` ORDER BY pid, cid, gid")
    assert [tuple(r.values()) for r in rows] == [(2, 7, 1), (3, 1, 1), (10, 1, 1), (10, 1, 2), (10, 2, 1)]
    _verify(dual_write, dj_env)


def test_delete_cascading_in_v1_reaches_v2(dual_write, db, dj_env):
    a, b = dual_write["a"], dual_write["b"]
    db.execute(f"DELETE FROM `{a}`.`child` WHERE pid = 1 AND cid = 1")  # ON DELETE CASCADE to grandchild
    assert db.query(f"SELECT COUNT(*) AS n FROM `{b}_v2`.`grandchild` WHERE pid = 1 AND cid = 1")[0]["n"] == 0
    _verify(dual_write, dj_env)


def test_a_failing_trigger_fails_the_v1_write_and_names_the_v2_table(dual_write, db):
    a = dual_write["a"]
    db.execute(f"ALTER TABLE `{a}_v2`.`parent` ADD CONSTRAINT short_label CHECK (CHAR_LENGTH(label) < 10)")
    with pytest.raises(ServerError) as failure:
        db.execute(f"INSERT INTO `{a}`.`parent` VALUES (4, 'far too long a label')")
    assert f"{a}_v2" in failure.value.message and "parent" in failure.value.message
    assert db.query(f"SELECT COUNT(*) AS n FROM `{a}`.`parent` WHERE pid = 4")[0]["n"] == 0, "v1 kept the row"


def test_generate_refuses_a_table_with_someone_elses_trigger(tmp_path, prefix, db, dj_env):
    a = f"{prefix}_t"
    db.execute(f"CREATE DATABASE `{a}`")
    db.execute(f"CREATE TABLE `{a}`.`item` (id INT PRIMARY KEY, n INT)")
    db.execute(f"CREATE TRIGGER `{a}`.`audit_item` AFTER INSERT ON `{a}`.`item` FOR EACH ROW SET @x = NEW.n")
    plan = tmp_path / "plan.yaml"
    assert djsqlgen(["plan", "init", "--schema", f"{a}={a}_v2", "-o", str(plan)], dj_env).returncode == 0
    result = djsqlgen(["generate", str(plan), "-o", str(tmp_path / "out")], dj_env)
    assert result.returncode == 2
    assert "audit_item" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_apply_dry_run_prints_and_changes_nothing(dual_write, db, dj_env):
    before = db.query("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA LIKE %s",
                      [dual_write["a"] + "%"])
    result = djsqlgen(["apply", "--dry-run", str(dual_write["out"] / "rollback" / "10_expand.sql")], dj_env)
    assert result.returncode == 0 and "DROP DATABASE IF EXISTS" in result.stdout
    assert db.query("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA LIKE %s",
                    [dual_write["a"] + "%"]) == before


def test_apply_failure_names_the_statement_and_exits_1(dual_write, dj_env):
    # 70 refuses: 60 was not applied. The refusal is one line with the statement id and the server's errno.
    result = djsqlgen(["apply", str(dual_write["out"] / "70_cutover.sql")], dj_env)
    assert result.returncode == 1
    assert "60_constraints.sql has not been applied" in result.stderr and "[refuse.70]" in result.stderr
    assert "1644" in result.stderr
    assert "Traceback" not in result.stderr
