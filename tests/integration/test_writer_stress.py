"""Invisible to the people at work (DESIGN invariant 10, issue 21): DataJoint 0.14 clients writing to v1 while the
migration goes through the backfill (--jobs 2), verify, 60 and 70 get no more failures than the same clients on a
copy without the migration, in the same run. Short here (CI); bench/writers_bench.py runs it long and prints the
figures side by side. Verify, run while the clients write, must be clean.

Two-way (issue 24 Tests): one shape (support/two_way_stress.py) with DataJoint 2.x clients on v2 from 60 on next to
the 0.14 clients on v1, trigger-free copies of both in the same run, failures per side, and both sides compared row by
row at the end; ``bench/writers_bench.py --two-way`` runs every two-way shape long.
"""

from __future__ import annotations

import os

import pytest
from support.two_way_stress import stress_two_way
from support.two_way_stress import table as two_way_table
from support.writer_stress import LOCKS, PHASES, SHAPES, stress, table

WORKERS = 6
SUBJECTS = int(os.environ.get("DJSQLGEN_STRESS_SUBJECTS", "300"))
# About 4–5 minutes a shape: CI runs the two whose triggers read other rows (a re-key's children, a lookup) and the
# part merge, the cheapest of the others (about 2 minutes of phases) and the only one whose triggers recompute a row
# of another table (the master) from a LEFT JOIN; it met a DDL deadlock in 60 in its first run. Part extraction,
# split, the preset and the combined plan add filtered targets, renames and a DataJoint 2 conversion to triggers the
# CI shapes already run. DJSQLGEN_STRESS_SHAPES=all runs every shape, and bench/writers_bench.py runs them long.
# Stop 30: with 60's DDL giving up after 120 s under these writers (see below) each shape took over 5 minutes and the
# whole CI run 57 minutes; the part merge runs in bench/writers_bench.py and with DJSQLGEN_STRESS_SHAPES=all. A 60
# that stops under the writers (it never waits) is run again at a quiet moment: up to 2 more minutes a shape.
CI_SHAPES = ("re-key with children", "lookup")
RUN_SHAPES = list(SHAPES) if os.environ.get("DJSQLGEN_STRESS_SHAPES") == "all" else [s for s in SHAPES if s in CI_SHAPES]


@pytest.mark.parametrize("shape", RUN_SHAPES)
def test_writers_get_no_more_failures_with_the_migration_than_without(shape, tmp_path, prefix, dj014_python, dj_env,
                                                                      server_settings):
    result = stress(shape, dj014_python, prefix, tmp_path, dj_env, server_settings, workers=WORKERS,
                    subjects=SUBJECTS, jobs=2, settle_s=1.0)
    print(table(shape, result))
    for failure in result["failures"]:
        print("  ", failure)
    for name in ("60, first try", "60"):  # what apply said of 60's DDL: tries, and whether it waited
        if name in result["steps"]:
            print(name, [line for line in result["steps"][name].stderr.splitlines() if "line " in line][-12:])
    # 60 and 70 under six clients that never leave a table free: apply tries their DDL without waiting, every
    # 5-20 ms, and never waits (no --wait). A statement whose table was never free for 120 s stops, safe to run
    # again; the stress then runs it again at a quieter moment (the clients start no new iteration meanwhile), as
    # the RUNBOOK says to. Measured (issue 21 stop, shared server at load 20+): under the clients, the combined
    # plan's 60 stopped once, then went through in 49 s on a second try (a private server: stopped, then 4.3 s in
    # the quiet moment); the lookup's stopped twice (private: through in 8.5 s, 70 tries). Any failure of a step
    # but that first stop fails the test, 70's included: in place it closes v1 by a row, no DDL on v1.
    for name, step in result["steps"].items():
        if name != "60, first try":
            assert step.returncode == 0, f"{name}: {step.stdout[-2000:]}{step.stderr[-2000:]}"
    # Held strictly in every phase, 60 included: a DDL that never waits never queues an exclusive metadata lock, so
    # no writer can lose a metadata-lock deadlock to it (with --wait, one that waited cost about one 1213 a
    # statement: RUNBOOK, Lock discipline). 70 (in place, as every shape here) closes v1 by its sides row, waiting
    # only for the transactions that wrote v1; its only DDL is the AUTO_INCREMENT counter carried to v2 (lab_note).
    for phase in PHASES:
        w, wo = result["errors"][phase]["with"], result["errors"][phase]["without"]
        if phase == "70":  # v1 refuses writes by design once it is closed (1644): lock errors only
            w, wo = ({c: n for c, n in side.items() if c in LOCKS} for side in (w, wo))
        assert sum(w.values()) <= sum(wo.values()), (phase, table(shape, result), result["failures"][:10])
    assert "waiting for it, " not in "".join(step.stderr for step in result["steps"].values())


# Two-way (issue 24 Tests): one shape here, the rest in bench/writers_bench.py --two-way. Four 0.14 clients on v1
# from 30 on and three 2.x clients on v2 from 60 on (v2 refuses writes before), fewer subjects than above: about 3
# minutes.
TWO_WAY_CI_SHAPE = "two-way rename/retype"


def test_writers_on_both_sides_get_no_more_failures_with_two_way_sync_than_without(tmp_path, prefix, dj014_python,
                                                                                   dj_env, server_settings):
    result = stress_two_way(TWO_WAY_CI_SHAPE, dj014_python, prefix, tmp_path, dj_env, server_settings, workers=4,
                            v2_workers=3, subjects=160, jobs=2, settle_s=1.0, two_way_s=20.0)
    print(two_way_table(TWO_WAY_CI_SHAPE, result))
    for failure in result["failures"]:
        print("  ", failure)
    for name, step in result["steps"].items():
        if name == "60, first try":  # starved once, run again (two_way_stress.py)
            continue
        if name == "60" and step.returncode != 0 and "never free in 120 s" in step.stderr:
            pytest.xfail("60: its DDL found its table never free in 120 s under never-idle writers (issue 21 item 1)")
        assert step.returncode == 0, f"{name}: {step.stdout[-2000:]}{step.stderr[-2000:]}"
    shown = (two_way_table(TWO_WAY_CI_SHAPE, result), result["failures"][:10])
    for side in ("v1", "v2"):
        errors = result["errors"][side]
        # no DDL in these: the triggers of both ways and the copy alone
        for phase in ("30", "backfill", "verify", "two-way"):
            assert sum(errors[phase]["with"].values()) <= sum(errors[phase]["without"].values()), (side, phase, shown)
        # 60: as above, lock errors beyond the trigger-free copy's only where its DDL had to wait
        w, wo = errors["60"]["with"], errors["60"]["without"]
        assert sum(n for c, n in w.items() if c not in LOCKS) <= sum(n for c, n in wo.items() if c not in LOCKS), shown
        waited = result["steps"]["60"].stderr.count("waiting for it, ")
        locks_w, locks_wo = (sum(n for c, n in s.items() if c in LOCKS) for s in (w, wo))
        assert locks_w <= locks_wo or waited, (side, "60: lock errors although no DDL waited", shown)
        assert result["iterations"][side]["with"] > 0, shown
    assert result["differences"] == [], result["differences"]
