"""New parents, dropped references, tier renames with parts, parts promoted and moved (issue 11, item 6).

A DataJoint-shaped v1 declared in SQL; the plan gives `session` a new parent `#rig` (from an existing
column) and `recording` one through an expression, drops session's reference to subject, renames
session to `_session` (its part follows, another is promoted to a table of its own, a third moves to
the master `recording`). Writers change v1 during the window; then verify is clean, the rows agree
byte for byte, and v2 holds exactly the foreign keys the plan describes.
"""

from __future__ import annotations

import pytest
from support.scenario import Scenario

V1 = """
CREATE TABLE `#rig` (rig varchar(16) NOT NULL, PRIMARY KEY (rig)) ENGINE=InnoDB;
CREATE TABLE subject (subject_id int NOT NULL, PRIMARY KEY (subject_id)) ENGINE=InnoDB;
CREATE TABLE session (subject_id int NOT NULL, session_id smallint NOT NULL, rig_name varchar(16) NOT NULL,
  note varchar(32) NULL, PRIMARY KEY (subject_id, session_id),
  CONSTRAINT session_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB;
CREATE TABLE session__probe (subject_id int NOT NULL, session_id smallint NOT NULL, probe int NOT NULL,
  PRIMARY KEY (subject_id, session_id, probe),
  CONSTRAINT probe_session FOREIGN KEY (subject_id, session_id) REFERENCES session (subject_id, session_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE session__tag (subject_id int NOT NULL, session_id smallint NOT NULL, tag varchar(8) NOT NULL,
  PRIMARY KEY (subject_id, session_id, tag),
  CONSTRAINT tag_session FOREIGN KEY (subject_id, session_id) REFERENCES session (subject_id, session_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE recording (subject_id int NOT NULL, session_id smallint NOT NULL, rec int NOT NULL,
  rig_label varchar(16) NOT NULL, PRIMARY KEY (subject_id, session_id, rec),
  CONSTRAINT recording_session FOREIGN KEY (subject_id, session_id) REFERENCES session (subject_id, session_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE session__channel (subject_id int NOT NULL, session_id smallint NOT NULL, rec int NOT NULL,
  channel int NOT NULL, PRIMARY KEY (subject_id, session_id, rec, channel),
  CONSTRAINT channel_session FOREIGN KEY (subject_id, session_id) REFERENCES session (subject_id, session_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO `#rig` VALUES ('rig-a'), ('rig-b');
INSERT INTO subject VALUES (1), (2);
INSERT INTO session VALUES (1, 1, 'rig-a', 'x'), (1, 2, 'rig-b', NULL), (2, 1, 'rig-a', 'y');
INSERT INTO session__probe VALUES (1, 1, 1), (1, 1, 2), (2, 1, 1);
INSERT INTO session__tag VALUES (1, 1, 'good'), (2, 1, 'bad');
INSERT INTO recording VALUES (1, 1, 1, 'RIG-A'), (1, 2, 1, 'RIG-B'), (2, 1, 1, 'RIG-A');
INSERT INTO session__channel VALUES (1, 1, 1, 1), (1, 1, 1, 2), (2, 1, 1, 1)
"""


def plan_edit(scenario: Scenario):
    def edit(plan):
        tables = scenario.tables(plan)
        tables["session"] = {"rename": "_session", "drop_references": ["subject"],
                             "add_parents": [{"parent": "#rig", "columns": {"rig_name": "rig"}}]}
        tables["session__probe"] = {"rename": "probe"}  # promoted: a table of its own, still referring to _session
        tables["session__channel"] = {"move_to": "recording"}
        tables["recording"] = {  # a parent through an expression: the label, lower-cased, is a rig
            "add": {"rig": {"type": "varchar(16)", "expr": "LOWER(rig_label)"}},
            "add_parents": [{"parent": "#rig"}]}
    return edit


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = Scenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(plan_edit(s))
    s.generate()
    return s


def test_relationship_changes_end_to_end(scenario):
    v1 = f"`{scenario.sources[0]}`"
    scenario.up_to("30_dualwrite")
    scenario.db.execute(f"INSERT INTO {v1}.session VALUES (2, 2, 'rig-b', 'new')")
    scenario.backfill(chunk_rows=2)
    scenario.db.execute(f"INSERT INTO {v1}.recording VALUES (2, 2, 1, 'Rig-B')")
    scenario.db.execute(f"INSERT INTO {v1}.session__channel VALUES (2, 2, 1, 7)")
    scenario.db.execute(f"UPDATE {v1}.subject SET subject_id = 20 WHERE subject_id = 2")  # cascades through all
    scenario.db.execute(f"UPDATE {v1}.session SET rig_name = 'rig-b' WHERE subject_id = 1 AND session_id = 1")
    assert scenario.verify().returncode == 0
    scenario.apply("60_constraints")
    v2 = scenario.v2()
    names = {r["TABLE_NAME"] for r in scenario.db.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE "
                                                          "TABLE_SCHEMA = %s", [v2])}
    assert names == {"#rig", "subject", "_session", "_session__tag", "probe", "recording", "recording__channel"}
    parents = set(scenario.references())
    assert parents == {("_session", "#rig"), ("_session__tag", "_session"), ("probe", "_session"),
                       ("recording", "_session"), ("recording", "#rig"), ("recording__channel", "recording")}
    for v1_table, v2_table in (("session__tag", "_session__tag"), ("session__probe", "probe"),
                               ("session__channel", "recording__channel"), ("subject", "subject")):
        scenario.same_rows(v1_table, v2_table)
    # after 60, v2's own keys hold the moved rows: a key change in v1 cascades through them all again
    scenario.db.execute(f"UPDATE {v1}.subject SET subject_id = 30 WHERE subject_id = 20")
    assert scenario.verify().returncode == 0


def test_a_row_without_its_new_parent_is_refused_before_anything_runs(scenario):
    v1 = f"`{scenario.sources[0]}`"
    scenario.db.execute(f"INSERT INTO {v1}.recording VALUES (1, 1, 2, 'RIG-Z')")  # no rig 'rig-z'
    refused = scenario.apply("00_preflight", check=False)
    assert refused.returncode != 0
    assert f"schemas.{scenario.sources[0]}.tables.recording.add_parents[0]" in refused.stderr
    assert "finds its new parent" in refused.stderr
    plan_check = scenario.run("plan", "check", str(scenario.plan_path), check=False)
    assert plan_check.returncode == 2 and "add_parents[0]" in plan_check.stderr


@pytest.mark.parametrize("edit, message", [
    ({"add_parents": [{"parent": "nope"}]}, "is not a kept table of the plan"),
    ({"add_parents": [{"parent": "#rig"}]}, "has no column 'rig'"),
    ({"drop_references": ["#rig"]}, "has no foreign key to '#rig'"),
    ({"move_to": "recording"}, "is not a part table"),
    ({"joins": {"s": {"table": "session", "by": {"subject_id": "subject_id"}}}}, "a join must find at most one row"),
])
def test_relationship_refusals_name_the_plan_key(edit, message, db, prefix, dj_env, tmp_path):
    s = Scenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(lambda plan: s.tables(plan).__setitem__("subject", edit))
    result = s.run("plan", "check", str(s.plan_path), check=False)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr and f"schemas.{s.sources[0]}.tables.subject" in result.stderr, result.stderr
