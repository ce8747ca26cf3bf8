"""No rollback throws away a user's write (issue 22 item 3; DESIGN.md safety invariant 11).

Writes to v2 after the cut-over (between 70 and 80, or after 80) stay recorded through 80 and its rollback:
``djsqlgen apply DIR/rollback`` (told to go past the stops) and the stock client running rollback/80 then
rollback/70 both refuse at rollback/70, nothing of v2 dropped, the writes still there. A ``drop_v1``
contract's rollback refuses before any change, with the backup advice.
"""

from __future__ import annotations

import pytest
from support.safety import V1, FastScenario, applied, client, refused, state, state_difference


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    return s


LAYOUTS = ["v1 stays", "v1 to an archive"]


def _plan(scenario: FastScenario, layout: str, drop_v1: bool = False) -> str:
    """Write the plan and the files; where v2's tables are after the cut-over."""
    def edit(plan):
        if layout == "v1 to an archive":
            spec = plan["schemas"][0]
            spec["final"] = spec["source"]
            spec["archive"] = f"{scenario.prefix}_archive"
            plan["cutover"] = {"rename_to_final": True}
        if drop_v1:
            plan["contract"] = {"drop_v1": True}
    scenario.plan(edit)
    scenario.generate()
    return scenario.sources[0] if layout == "v1 to an archive" else scenario.v2()


def _write_v2(scenario: FastScenario, v2_home: str, event_id: int) -> None:
    scenario.db.execute(f"INSERT INTO `{v2_home}`.event VALUES ({event_id}, 'in v2 only')")
    scenario.db.execute(f"UPDATE `{v2_home}`.parent SET name = 'ANN{event_id}' WHERE pid = 1")


def _v2_rows(scenario: FastScenario, v2_home: str) -> list:
    return [scenario.rows(v2_home, t) for t in ("parent", "event")]


@pytest.mark.parametrize("when", ["between 70 and 80", "after 80"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_rollback_directory_refuses_while_v2_holds_writes_made_after_the_cutover(layout, when, scenario):
    v2_home = _plan(scenario, layout)
    scenario.forward("70_cutover")
    _write_v2(scenario, v2_home, 500)
    applied(scenario, "80_contract")
    if when == "after 80":
        _write_v2(scenario, v2_home, 600)
    written = _v2_rows(scenario, v2_home)
    # with the stock client, file by file, as the RUNBOOK has it
    applied(scenario, "rollback/80_contract")
    refused(scenario, "rollback/70_cutover")
    assert _v2_rows(scenario, v2_home) == written, "rows written to v2 after the cut-over changed"
    # and the whole directory, told to go past the stops
    run = scenario.run("apply", "--through", "80", str(scenario.out / "rollback"), check=False)
    assert run.returncode != 0, "apply DIR/rollback undid a cut-over whose v2 holds later writes:\n" + run.stderr
    assert "rollback/70_cutover.sql" in run.stderr and "v2_writes" in run.stderr, run.stderr
    assert _v2_rows(scenario, v2_home) == written
    # told to give them up: the rollback names the rows it drops
    run = scenario.run("apply", "--discard-v2-writes", str(scenario.out / "rollback/70_cutover.sql"), check=False)
    assert run.returncode == 0, run.stderr
    assert "[500]" in run.stdout, f"the rows given up are not named:\n{run.stdout}"


def test_rollback_of_a_drop_v1_contract_refuses_before_any_change(scenario, server_settings):
    _plan(scenario, "v1 stays", drop_v1=True)
    scenario.forward("80_contract")
    before = state(server_settings, scenario.prefix)
    message = refused(scenario, "rollback/80_contract")
    assert "backup" in message, message
    run = scenario.run("apply", "--through", "80", str(scenario.out / "rollback"), check=False)
    assert run.returncode != 0 and "backup" in run.stderr, run.stderr
    assert state_difference(before, state(server_settings, scenario.prefix)) == []


def test_every_rollback_says_first_what_it_removes(scenario):
    _plan(scenario, "v1 stays")
    for path in sorted((scenario.out / "rollback").glob("*.sql")):
        head = path.read_text().splitlines()[:8]
        assert any(line.startswith("-- Removes: ") for line in head), f"{path.name}:\n" + "\n".join(head)
    assert client(scenario.db.settings, scenario.out / "rollback/00_preflight.sql").returncode == 0
