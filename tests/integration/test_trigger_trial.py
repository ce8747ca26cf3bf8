"""Generated triggers that run (issue 21 item 2): every trigger body of a combined plan runs on real writes.

A re-key in one schema (session keyed by its start time), followed across schemas by a child that also moves
columns into a lookup and renames columns: the child's v2 key then reads a join to its parent's v1 table, and
every statement that finds the child's rows by that key must keep the join in scope. Each event (INSERT,
UPDATE of key and non-key columns, DELETE, v1's cascades) is fired after 30 and compared with an independent
SELECT.
"""

from __future__ import annotations

import pytest
from support.safety import FastScenario, applied, refused

COMMON = """
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, session_start datetime NOT NULL,
  PRIMARY KEY (subject_id, session_id), UNIQUE KEY session_start (subject_id, session_start)) ENGINE=InnoDB;
INSERT INTO session SELECT s.seq, k.seq, TIMESTAMP('2024-01-01') + INTERVAL (s.seq * 10 + k.seq) HOUR
  FROM seq_1_to_6 AS s, seq_1_to_3 AS k
"""


def _ephys(common: str) -> str:
    return f"""
CREATE TABLE recording (subject_id int NOT NULL, session_id int NOT NULL, rec int NOT NULL,
  probe varchar(16) NOT NULL, vendor varchar(16) NOT NULL, depth int NOT NULL,
  PRIMARY KEY (subject_id, session_id, rec),
  CONSTRAINT recording_session FOREIGN KEY (subject_id, session_id) REFERENCES `{common}`.session (subject_id, session_id)
    ON UPDATE CASCADE ON DELETE CASCADE) ENGINE=InnoDB;
INSERT INTO recording SELECT subject_id, session_id, 1, IF(session_id = 2, 'np2', 'np1'), 'imec', 10
  FROM `{common}`.session
"""


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path, schemas=("common", "ephys"))
    s.create_v1({s.sources[0]: COMMON, s.sources[1]: _ephys(s.sources[0])})
    return s


def _edit(scenario: FastScenario):
    def edit(plan):
        common, ephys = scenario.tables(plan, scenario.sources[0]), scenario.tables(plan, scenario.sources[1])
        common["session"].update(rename="visit", key=["subject_id", "session_start"])
        ephys["recording"].update(rename="take", lookups=[{"table": "#probe", "key": ["probe"], "columns": ["vendor"]}])
        ephys["recording"]["columns"]["depth"] = {"rename": "depth_um"}
    return edit


def _agree(scenario: FastScenario) -> None:
    common, ephys = scenario.sources
    v2c, v2e = scenario.v2(common), scenario.v2(ephys)
    assert scenario.sql(f"SELECT subject_id, session_start, session_id FROM `{v2c}`.visit "
                        "ORDER BY subject_id, session_start") == \
        scenario.sql(f"SELECT subject_id, session_start, session_id FROM `{common}`.session "
                     "ORDER BY subject_id, session_start")
    assert scenario.sql(f"SELECT subject_id, session_start, rec, probe, depth_um FROM `{v2e}`.take "
                        "ORDER BY subject_id, session_start, rec") == \
        scenario.sql(f"SELECT r.subject_id, s.session_start, r.rec, r.probe, r.depth AS depth_um "
                     f"FROM `{ephys}`.recording AS r JOIN `{common}`.session AS s USING (subject_id, session_id) "
                     "ORDER BY r.subject_id, s.session_start, r.rec")
    used = scenario.sql(f"SELECT DISTINCT probe, vendor FROM `{ephys}`.recording ORDER BY probe")
    lookup = scenario.sql(f"SELECT probe, vendor FROM `{v2e}`.`#probe` ORDER BY probe")
    assert [r for r in lookup if r["probe"] in {u["probe"] for u in used}] == used


def test_rekey_lookup_and_renames_across_schemas_fire_every_trigger(scenario):
    common, ephys = scenario.sources
    scenario.plan(_edit(scenario))
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    scenario.backfill(chunk_rows=4)
    _agree(scenario)
    writes = [
        f"INSERT INTO `{ephys}`.recording VALUES (1, 1, 2, 'np3', 'cambridge', 5)",
        f"UPDATE `{ephys}`.recording SET depth = 20 WHERE subject_id = 2 AND session_id = 1 AND rec = 1",
        f"UPDATE `{ephys}`.recording SET probe = 'np2' WHERE subject_id = 2 AND session_id = 3 AND rec = 1",
        f"UPDATE `{ephys}`.recording SET rec = 7 WHERE subject_id = 3 AND session_id = 1 AND rec = 1",
        f"DELETE FROM `{ephys}`.recording WHERE subject_id = 4 AND session_id = 1",
        f"UPDATE `{common}`.session SET session_start = session_start + INTERVAL 1 MINUTE WHERE subject_id = 5",
        f"UPDATE `{common}`.session SET session_id = 9 WHERE subject_id = 5 AND session_id = 2",
        f"DELETE FROM `{common}`.session WHERE subject_id = 6 AND session_id = 1",
        f"INSERT INTO `{common}`.session VALUES (7, 1, '2025-01-01 10:00:00')",
        f"INSERT INTO `{ephys}`.recording VALUES (7, 1, 1, 'np1', 'imec', 3)",
    ]
    for write in writes:
        scenario.db.execute(write)
        _agree(scenario)
    assert scenario.verify().returncode == 0


def test_30_refuses_a_trigger_that_cannot_run_and_installs_nothing(scenario):
    """Every trigger statement is prepared before the first trigger exists: one that names a column v2 does not
    have (here dropped by hand after 10) stops 30 with the trigger's name and the server's error."""
    common, ephys = scenario.sources
    scenario.plan(_edit(scenario))
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines")
    scenario.db.execute(f"ALTER TABLE `{scenario.v2(ephys)}`.take DROP COLUMN depth_um")
    message = refused(scenario, "30_dualwrite")
    assert "cannot run" in message and "Unknown column 'depth_um'" in message, message  # the first trigger that reads it
    assert not scenario.sql("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA IN "
                            "(%s, %s)", [common, ephys])
