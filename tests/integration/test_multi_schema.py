"""Relationship changes across schemas (issue 12, item 5): a change in one schema carries through to its
dependants in the plan's other schemas.

`common.session` gets a lookup `#rig` (its rig and rig room move there) and a new part `session__weather`;
`common.legacy` is removed while nothing depends on it; `ephys.recording` refers to `common.session` across
schemas and is itself split by modality. Writers change both schemas (a subject renumbered in common cascades
into ephys); verify is clean, hand-written queries agree, the v2 foreign keys cross schemas as v1's did, and a
removal refused names its dependant in the other schema.
"""

from __future__ import annotations

import pytest
from support.safety import FastScenario, applied

COMMON = """
CREATE TABLE subject (subject_id int NOT NULL, PRIMARY KEY (subject_id)) ENGINE=InnoDB;
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, rig varchar(16) NOT NULL,
  rig_room varchar(16) NOT NULL, weather varchar(16) NULL, PRIMARY KEY (subject_id, session_id),
  CONSTRAINT session_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE legacy (legacy_id int NOT NULL, PRIMARY KEY (legacy_id)) ENGINE=InnoDB;
INSERT INTO subject SELECT seq FROM seq_1_to_20;
INSERT INTO session SELECT s.seq, k.seq, CONCAT('rig', k.seq), CONCAT('room', k.seq), IF(s.seq % 3 = 0, 'rain', NULL)
  FROM seq_1_to_20 AS s, seq_1_to_3 AS k;
INSERT INTO legacy VALUES (1), (2)
"""


def _ephys(common: str) -> str:
    return f"""
CREATE TABLE recording (subject_id int NOT NULL, session_id int NOT NULL, rec int NOT NULL,
  modality varchar(8) NOT NULL, PRIMARY KEY (subject_id, session_id, rec),
  CONSTRAINT recording_session FOREIGN KEY (subject_id, session_id) REFERENCES `{common}`.session (subject_id, session_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO recording SELECT subject_id, session_id, 1, IF(session_id = 2, 'imaging', 'ephys') FROM `{common}`.session
"""


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path, schemas=("common", "ephys"))
    s.create_v1({s.sources[0]: COMMON, s.sources[1]: _ephys(s.sources[0])})
    return s


def _edit(scenario: FastScenario, removal: str = "drop"):
    def edit(plan):
        common, ephys = scenario.tables(plan, scenario.sources[0]), scenario.tables(plan, scenario.sources[1])
        common["session"] = {"lookups": [{"table": "#rig", "key": ["rig"], "columns": ["rig_room"]}],
                             "parts": [{"name": "weather", "columns": ["weather"]}]}
        common["legacy"] = removal
        ephys["recording"] = {"split": [{"table": "ephys_recording", "where": "modality = 'ephys'"},
                                        {"table": "imaging_recording", "where": "modality = 'imaging'"}]}
    return edit


def test_changes_in_one_schema_carry_through_to_the_other(scenario):
    common, ephys = scenario.sources
    scenario.plan(_edit(scenario))
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    scenario.db.execute(f"INSERT INTO `{common}`.session VALUES (1, 9, 'rig9', 'room9', 'snow')")
    scenario.db.execute(f"INSERT INTO `{ephys}`.recording VALUES (1, 9, 1, 'imaging')")
    scenario.backfill(chunk_rows=5)
    scenario.db.execute(f"UPDATE `{common}`.subject SET subject_id = 100 WHERE subject_id = 2")  # cascades into ephys
    scenario.db.execute(f"UPDATE `{common}`.session SET weather = NULL WHERE subject_id = 3")
    assert scenario.verify().returncode == 0
    applied(scenario, "60_constraints")
    scenario.db.execute(f"UPDATE `{common}`.subject SET subject_id = 200 WHERE subject_id = 100")
    scenario.db.execute(f"UPDATE `{ephys}`.recording SET modality = 'ephys' WHERE subject_id = 200 AND session_id = 2")
    assert scenario.verify().returncode == 0

    references = {(r["CONSTRAINT_SCHEMA"], r["TABLE_NAME"], r["UNIQUE_CONSTRAINT_SCHEMA"], r["REFERENCED_TABLE_NAME"])
                  for r in scenario.db.query(
                      "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME FROM "
                      "information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA IN (%s, %s)",
                      [f"{common}_v2", f"{ephys}_v2"])}
    c2, e2 = f"{common}_v2", f"{ephys}_v2"
    assert references == {(c2, "session", c2, "subject"), (c2, "session", c2, "#rig"),
                          (c2, "session__weather", c2, "session"),
                          (e2, "ephys_recording", c2, "session"), (e2, "imaging_recording", c2, "session")}
    assert not scenario.db.query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND "
                                 "TABLE_NAME = 'legacy'", [c2])
    q = scenario.db.query
    assert q(f"SELECT rig, rig_room FROM `{c2}`.`#rig` ORDER BY rig") == \
        q(f"SELECT DISTINCT rig, rig_room FROM `{common}`.session ORDER BY rig")
    assert q(f"SELECT * FROM `{c2}`.session__weather ORDER BY 1, 2") == \
        q(f"SELECT subject_id, session_id, weather FROM `{common}`.session WHERE weather IS NOT NULL ORDER BY 1, 2")
    for side, modality in (("ephys_recording", "ephys"), ("imaging_recording", "imaging")):
        assert q(f"SELECT * FROM `{e2}`.{side} ORDER BY 1, 2, 3") == \
            q(f"SELECT * FROM `{ephys}`.recording WHERE modality = '{modality}' ORDER BY 1, 2, 3")


def test_removing_a_table_another_schema_depends_on_is_refused_naming_it(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path, schemas=("common", "ephys"))
    s.create_v1({s.sources[0]: COMMON, s.sources[1]: _ephys(s.sources[0])})
    s.plan(lambda plan: s.tables(plan, s.sources[0]).update({"session": "drop"}))
    check = s.run("plan", "check", str(s.plan_path), check=False)
    assert check.returncode != 0 and f"schemas.{s.sources[0]}.tables.session" in check.stderr, check.stderr
    assert f"{s.sources[1]}`.`recording" in check.stderr or f"{s.sources[1]}.recording" in check.stderr, check.stderr
