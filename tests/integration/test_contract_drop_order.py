"""80 with contract.drop_v1 drops v1's tables children first: a parent whose name sorts before its child's (`#kind`
before `subject`, which refers to it) was dropped first and failed with 1451. One-way plan, stock client."""

from __future__ import annotations

from integration.test_two_way import V1
from support.safety import FastScenario, applied, tables


def test_drop_v1_drops_children_before_their_parents(db, prefix, dj_env, tmp_path, server_settings):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(lambda plan: plan.update(contract={"drop_v1": True}))
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill()
    s.verify()
    applied(s, "60_constraints", "70_cutover", "80_contract", "80_contract")
    assert tables(db, s.sources[0]) == []
    assert db.query(f"SELECT COUNT(*) AS n FROM `{s.v2()}`.subject") == [{"n": 2}]
