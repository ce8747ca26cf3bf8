"""Identity counters carried over (issue 22 item 6).

v1 handed out id 10 and deleted that row before the migration: its AUTO_INCREMENT counter is 11 while its
largest id is 3. After 70 (whatever the renames, run twice), a row inserted into v2 without an id gets an id
v1 never issued; after rollback/70, a row inserted into v1 gets an id neither v1 nor v2 issued.
"""

from __future__ import annotations

import pytest
from integration.test_cutover_writers import LAYOUTS, _homes
from integration.test_cutover_writers import _plan as layout_plan
from support.safety import FastScenario, applied

V1 = """
CREATE TABLE note (id int NOT NULL AUTO_INCREMENT, txt varchar(16) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB;
INSERT INTO note (txt) VALUES ('a'), ('b'), ('c');
INSERT INTO note VALUES (10, 'top');
DELETE FROM note WHERE id = 10
"""

def _insert(scenario: FastScenario, schema: str) -> int:
    scenario.db.execute(f"INSERT INTO `{schema}`.note (txt) VALUES ('new')")
    return scenario.db.query("SELECT LAST_INSERT_ID() AS id")[0]["id"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_ids_handed_out_after_cutover_and_its_rollback_were_never_issued_before(layout, db, prefix, dj_env, tmp_path):
    scenario = FastScenario(db, prefix, dj_env, tmp_path)
    scenario.create_v1(V1)
    layout_plan(scenario, layout)
    scenario.forward("70_cutover")
    applied(scenario, "70_cutover")  # twice: still above v1's ids
    v2_home = _homes(scenario, layout)[1]
    new_in_v2 = _insert(scenario, v2_home)
    assert new_in_v2 > 10, f"v2 handed out id {new_in_v2}, which v1 had issued (v1's counter was 11)"
    scenario.db.execute(f"DELETE FROM `{v2_home}`.note WHERE id = {new_in_v2}")
    applied(scenario, "rollback/70_cutover", variables="SET @djsqlgen_discard_v2_writes = 'yes';")
    new_in_v1 = _insert(scenario, scenario.sources[0])
    assert new_in_v1 > new_in_v2, f"v1 handed out id {new_in_v1}, which v2 had issued ({new_in_v2})"
    assert [r[0] for r in scenario.rows(scenario.v2(), "note")] == [1, 2, 3, new_in_v1]  # the dual write goes on
