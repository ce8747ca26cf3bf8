"""Nothing is installed that will make v1 writes fail (issue 10, item 3; DESIGN.md invariant 3).

Every computed column of the plan is tried on all of v1 before any trigger exists: an expression whose
value does not fit its v2 column, or is NULL for a NOT NULL one, makes 00_preflight.sql refuse naming the
plan key, with nothing changed; one naming a column v1 does not have is refused by plan check already.
"""

from __future__ import annotations

import pytest
from support.safety import V1, FastScenario, client, state, state_difference

BAD = {
    "value too long": ({"type": "varchar(4)", "expr": "CONCAT(name, '-long')"}, "00"),
    "NULL for NOT NULL": ({"type": "int", "expr": "NULLIF(pid, 2)", "nullable": False}, "00"),
    "division by zero": ({"type": "int", "expr": "10 DIV (pid - 3)", "nullable": True}, "plan check"),
    "unknown column": ({"type": "int", "expr": "no_such_column + 1", "nullable": True}, "plan check"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_computed_column_that_fails_on_v1_is_refused_before_any_change(case, db, prefix, dj_env, tmp_path,
                                                                         server_settings):
    column, where = BAD[case]
    scenario = FastScenario(db, prefix, dj_env, tmp_path)
    scenario.create_v1(V1)
    scenario.plan(lambda plan: scenario.tables(plan)["parent"].update(add={"tag": column}))
    key = f"schemas.{scenario.sources[0]}.tables.parent.add.tag"
    check = scenario.run("plan", "check", str(scenario.plan_path), check=False)
    if where == "plan check":
        assert check.returncode == 2 and key in check.stdout + check.stderr, check.stdout + check.stderr
        return
    scenario.generate()
    before = state(server_settings, prefix)
    result = client(scenario.db.settings, scenario.out / "00_preflight.sql")
    assert result.returncode != 0, "00_preflight.sql accepted an expression that fails on v1's rows"
    assert state_difference(before, state(server_settings, prefix)) == []
    message = result.stderr.strip().splitlines()[-1]
    assert "djsqlgen refused 00_preflight.sql" in message and key in message, \
        f"the failure does not name the plan key {key}: {message}"
