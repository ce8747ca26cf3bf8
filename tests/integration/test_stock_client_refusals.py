"""A file applied out of order with the stock client: the refusal is the first and only thing to read. The
mariadb client prints the statement that failed before its error, so the checks (dozens of lines of SQL on
information_schema) must not be that statement: they only find the refusal, and a one-line statement signals it."""

from __future__ import annotations

import pytest
from support.safety import V1, FastScenario, client, state, state_difference


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan()
    s.generate()
    return s


@pytest.mark.parametrize("name, reason", [
    ("70_cutover", "djsqlgen refused 70_cutover.sql: 60_constraints.sql has not been applied"),
    ("60_constraints", "djsqlgen refused 60_constraints.sql: the backfill has not finished"),
])
def test_an_out_of_order_file_prints_its_one_line_refusal_first(scenario, name, reason):
    scenario.forward("30_dualwrite")
    before = state(scenario.db.settings, scenario.prefix)

    result = client(scenario.db.settings, scenario.out / f"{name}.sql")

    assert result.returncode == 1
    printed = [line for line in (result.stdout + result.stderr).splitlines() if line.strip("- ")]
    # the one-line statement that failed, then the reason; nothing else
    assert len(printed) == 2, "\n".join(printed)
    assert "SIGNAL" in printed[0] and "information_schema" not in printed[0]
    assert printed[1].startswith("ERROR 1644 (45000)") and reason in printed[1]
    assert state_difference(before, state(scenario.db.settings, scenario.prefix)) == []


def test_djsqlgen_apply_prints_the_same_refusal_in_one_line(scenario):
    scenario.forward("30_dualwrite")
    result = scenario.apply("70_cutover", check=False)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("djsqlgen: error")]
    assert len(errors) == 1 and "djsqlgen refused 70_cutover.sql: 60_constraints.sql has not been applied" in errors[0]
