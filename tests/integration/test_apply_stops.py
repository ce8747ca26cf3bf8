"""Stops where people must act (issue 22 item 2).

``djsqlgen apply DIR`` runs up to 60 and stops, saying what comes next; 70 and 80 run only when named
(``--through``, or the file itself). ``apply DIR/rollback`` stops, before running anything, ahead of undoing an
applied 80 or 70 unless named. An 80 that drops v1 (contract.drop_v1) runs only when confirmed: with no terminal
to type the schema name at, it is refused naming --yes.
"""

from __future__ import annotations

import re

import pytest
from support.safety import V1, V1_TABLES, FastScenario, schemas, state, state_difference, table_fingerprint
from support.scenario import PHASES


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    return s


def _order(output: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^-- \S*?((?:rollback/)?\d\d_\w+\.sql): \d+ statement", output, re.MULTILINE)]


def _phases(scenario: FastScenario) -> list[str]:
    return [r["phase"] for r in scenario.db.query(f"SELECT phase FROM `{scenario.control}`.phase_log ORDER BY phase")]


def test_a_directory_stops_before_the_cutover_and_its_rollback_before_undoing_it(scenario, server_settings):
    scenario.plan()
    scenario.generate()
    v1 = {t: table_fingerprint(scenario.db, scenario.sources[0], t) for t in V1_TABLES}
    out = str(scenario.out)
    run = scenario.run("apply", out)
    assert _order(run.stderr) == [f"{p}.sql" for p in PHASES[:7]], run.stderr
    assert f"djsqlgen apply {out} --through 70" in run.stderr and "cut-over" in run.stderr, run.stderr
    assert _phases(scenario) == ["00", "10", "20", "30", "40", "50", "60"]

    run = scenario.run("apply", "--through", "70", out)
    assert _order(run.stderr)[-1] == "70_cutover.sql" and "--through 80" in run.stderr, run.stderr
    assert _phases(scenario)[-1] == "70"

    before = state(server_settings, scenario.prefix)
    back = scenario.run("apply", f"{out}/rollback", check=False)
    assert back.returncode == 2 and f"apply {out}/rollback --through 70" in back.stderr, back.stderr
    assert _order(back.stderr) == [] and state_difference(before, state(server_settings, scenario.prefix)) == []

    back = scenario.run("apply", "--through", "70", f"{out}/rollback")
    assert _order(back.stderr)[0] == "rollback/70_cutover.sql", back.stderr
    assert {t: table_fingerprint(scenario.db, scenario.sources[0], t) for t in V1_TABLES} == v1
    assert schemas(scenario.db, scenario.prefix) == [scenario.sources[0]]


def test_a_contract_that_drops_v1_needs_a_confirmation(scenario, server_settings):
    scenario.plan(lambda plan: plan.update(contract={"drop_v1": True}))
    scenario.generate()
    out = str(scenario.out)
    scenario.run("apply", "--through", "70", out)
    before = state(server_settings, scenario.prefix)
    for args in (["--through", "80", out], [f"{out}/80_contract.sql"]):
        run = scenario.run("apply", *args, check=False)  # standard input is no terminal here
        assert run.returncode == 2 and "--yes" in run.stderr and scenario.sources[0] in run.stderr, run.stderr
        assert _order(run.stderr) == [] and state_difference(before, state(server_settings, scenario.prefix)) == []
    scenario.run("apply", "--yes", f"{out}/80_contract.sql")
    assert scenario.db.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                             [scenario.sources[0]]) == []
