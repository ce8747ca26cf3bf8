"""v1 changed between two files (DESIGN.md safety invariant 2: refuse before changing anything).

The files are generated from v1's heading. If a DBA or a user alters a v1 table after 00 (a type, NULL
allowed, a collation, the primary key), the triggers 30 installs would fail users' writes or compare keys
differently, and a cut-over would promote a v2 built for another v1. 30 and 70 check v1 again, name the
table, and change nothing.
"""

from __future__ import annotations

import pytest
from support.safety import V1, FastScenario, applied, refused, state, state_difference

CHANGES = {
    "type": "MODIFY note varchar(40) NOT NULL",
    "nullability": "MODIFY note varchar(16) NULL",
    "collation": "MODIFY note varchar(16) CHARACTER SET latin1 COLLATE latin1_bin NOT NULL",
    "primary key": "DROP PRIMARY KEY, ADD PRIMARY KEY (id, note)",
}


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan()
    s.generate()
    return s


FILES = ("20_routines", "30_dualwrite", "40_backfill", "50_verify", "60_constraints", "70_cutover")


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("before", FILES[1:])
def test_a_v1_table_altered_after_preflight_is_refused_by_the_next_file(before, change, scenario, server_settings):
    """Every file from 30 on, each naming the table and what to do: generate again before the triggers exist,
    undo the ALTER or roll back to before 30 once they do."""
    scenario.forward(FILES[FILES.index(before) - 1])
    scenario.db.execute(f"ALTER TABLE `{scenario.sources[0]}`.event {CHANGES[change]}")
    snapshot = state(server_settings, scenario.prefix)
    message = refused(scenario, before)
    assert f"{scenario.sources[0]}.event differs from the heading" in message, message
    assert "undo that ALTER" in message, message
    way = "generate again, then apply from 00" if before == "30_dualwrite" else "roll back to before 30"
    assert way in message, message
    assert state_difference(snapshot, state(server_settings, scenario.prefix)) == []


@pytest.mark.parametrize("command", ["backfill", "verify"])
def test_the_command_line_backfill_and_verify_refuse_a_v1_altered_since_at_start_up(command, scenario,
                                                                                   server_settings):
    scenario.forward("40_backfill" if command == "verify" else "30_dualwrite")
    scenario.db.execute(f"ALTER TABLE `{scenario.sources[0]}`.event {CHANGES['type']}")
    snapshot = state(server_settings, scenario.prefix)
    run = scenario.run(command, str(scenario.plan_path), check=False)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert f"{command} refused: v1 table {scenario.sources[0]}.event differs" in run.stderr, run.stderr
    assert "Undo that ALTER, or roll back to before 30" in run.stderr, run.stderr
    assert state_difference(snapshot, state(server_settings, scenario.prefix)) == []
    scenario.db.execute(f"ALTER TABLE `{scenario.sources[0]}`.event MODIFY note varchar(16) NOT NULL")  # undone
    scenario.run(command, str(scenario.plan_path))


def test_an_unchanged_v1_passes_every_check(scenario):
    scenario.forward("20_routines")
    scenario.db.execute(f"ALTER TABLE `{scenario.sources[0]}`.event COMMENT 'a comment is not a change'")
    applied(scenario, "30_dualwrite")
