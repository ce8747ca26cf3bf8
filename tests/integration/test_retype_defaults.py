"""A retype (`type:` in a plan) keeps v1's DEFAULT in v2 where the default is a value of the new type (issue 23):
an INSERT that leaves the column out works on v2 as it does on v1, from the day people write v2. Where the default
cannot be kept, plan check says why and how to go on, with nothing executed."""

from __future__ import annotations

from support.safety import FastScenario, applied

V1 = """
CREATE TABLE trial (
  trial_id int NOT NULL,
  outcome enum('hit','miss') NOT NULL DEFAULT 'miss',
  n tinyint NOT NULL DEFAULT 3,
  weight float NOT NULL DEFAULT 1.5,
  label varchar(8) NOT NULL DEFAULT 'none',
  note varchar(32) NULL DEFAULT 'later',
  started datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (trial_id)) ENGINE=InnoDB;
INSERT INTO trial (trial_id) VALUES (1)
"""
RETYPES = {"outcome": "enum('hit','miss','late')", "n": "int", "weight": "double", "label": "varchar(16)",
           "note": "text", "started": "datetime(3)"}


def test_a_retype_keeps_v1s_defaults_and_refuses_one_the_new_type_cannot_hold(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)

    def retype(plan: dict, extra: dict | None = None) -> None:
        columns = s.tables(plan)["trial"]["columns"]
        columns.update({name: {"type": sql_type} for name, sql_type in RETYPES.items()})
        columns.update(extra or {})

    s.plan(lambda plan: retype(plan, {"label": {"type": "char(2)", "allow_lossy": True}}))
    refused = s.run("plan", "check", str(s.plan_path), check=False)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert ("trial.columns.label.default: v1's default 'none' cannot be kept in char(2) ('none' is longer than "
            "char(2) holds); give default: a value of char(2), or default: NULL for none") in refused.stderr

    s.plan(retype)
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite", "40_backfill")
    db.execute(f"INSERT INTO `{s.sources[0]}`.trial (trial_id) VALUES (2)")  # v1's defaults, carried by the trigger
    db.execute(f"INSERT INTO `{s.v2()}`.trial (trial_id) VALUES (3)")  # v2's own defaults: the same
    columns = ("outcome", "n", "weight", "label", "note")
    rows = db.query(f"SELECT trial_id, {', '.join(columns)}, started > NOW() - INTERVAL 1 HOUR AS recent "
                    f"FROM `{s.v2()}`.trial ORDER BY trial_id")
    assert rows == [{"trial_id": i, "outcome": "miss", "n": 3, "weight": 1.5, "label": "none", "note": "later",
                     "recent": 1} for i in (1, 2, 3)]
    types = db.query("SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                     "AND TABLE_NAME = 'trial' AND COLUMN_NAME IN ('n', 'started') ORDER BY 1", [s.v2()])
    assert types == [{"c": "n", "t": "int(11)"}, {"c": "started", "t": "datetime(3)"}]
