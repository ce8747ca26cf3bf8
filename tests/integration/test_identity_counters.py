"""Identity counters carried over (issue 22 item 6).

v1 handed out id 10 and deleted that row before the migration: its AUTO_INCREMENT counter is 11 while its
largest id is 3. After 70 (whatever the renames, run twice), a row inserted into v2 without an id gets an id
v1 never issued; after rollback/70, a row inserted into v1 gets an id neither v1 nor v2 issued.
"""

from __future__ import annotations

import pytest
from support.safety import FastScenario, applied

V1 = """
CREATE TABLE note (id int NOT NULL AUTO_INCREMENT, txt varchar(16) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB;
INSERT INTO note (txt) VALUES ('a'), ('b'), ('c');
INSERT INTO note VALUES (10, 'top');
DELETE FROM note WHERE id = 10
"""

LAYOUTS = ["v1 stays", "v2 to final names", "v1 to an archive"]


def _homes(scenario: FastScenario, layout: str) -> tuple[str, str]:
    """(where v1's table is, where v2's is) after the cut-over."""
    source = scenario.sources[0]
    return {"v1 stays": (source, scenario.v2()), "v2 to final names": (source, f"{scenario.prefix}_final"),
            "v1 to an archive": (f"{scenario.prefix}_archive", source)}[layout]


def _insert(scenario: FastScenario, schema: str) -> int:
    scenario.db.execute(f"INSERT INTO `{schema}`.note (txt) VALUES ('new')")
    return scenario.db.query("SELECT LAST_INSERT_ID() AS id")[0]["id"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_ids_handed_out_after_cutover_and_its_rollback_were_never_issued_before(layout, db, prefix, dj_env, tmp_path):
    scenario = FastScenario(db, prefix, dj_env, tmp_path)
    scenario.create_v1(V1)

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
    scenario.forward("70_cutover")
    applied(scenario, "70_cutover")  # twice: still above v1's ids
    v1_home, v2_home = _homes(scenario, layout)
    new_in_v2 = _insert(scenario, v2_home)
    assert new_in_v2 > 10, f"v2 handed out id {new_in_v2}, which v1 had issued (v1's counter was 11)"
    scenario.db.execute(f"DELETE FROM `{v2_home}`.note WHERE id = {new_in_v2}")
    applied(scenario, "rollback/70_cutover", variables="SET @djsqlgen_discard_v2_writes = 'yes';")
    new_in_v1 = _insert(scenario, scenario.sources[0])
    assert new_in_v1 > new_in_v2, f"v1 handed out id {new_in_v1}, which v2 had issued ({new_in_v2})"
    assert [r[0] for r in scenario.rows(scenario.v2(), "note")] == [1, 2, 3, new_in_v1]  # the dual write goes on
