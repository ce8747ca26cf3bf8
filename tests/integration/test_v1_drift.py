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


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("before", ["30_dualwrite", "70_cutover"])
def test_a_v1_table_altered_after_preflight_is_refused_by_the_next_file(before, change, scenario, server_settings):
    done = "20_routines" if before == "30_dualwrite" else "60_constraints"
    scenario.forward(done)
    scenario.db.execute(f"ALTER TABLE `{scenario.sources[0]}`.event {CHANGES[change]}")
    snapshot = state(server_settings, scenario.prefix)
    message = refused(scenario, before)
    assert f"{scenario.sources[0]}.event differs from the heading" in message, message
    assert state_difference(snapshot, state(server_settings, scenario.prefix)) == []


def test_an_unchanged_v1_passes_every_check(scenario):
    scenario.forward("20_routines")
    scenario.db.execute(f"ALTER TABLE `{scenario.sources[0]}`.event COMMENT 'a comment is not a change'")
    applied(scenario, "30_dualwrite")
