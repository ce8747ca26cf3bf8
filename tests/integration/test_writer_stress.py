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
from support.writer_stress import LOCKS, SHAPES, stress, table

WORKERS = 6
SUBJECTS = int(os.environ.get("DJSQLGEN_STRESS_SUBJECTS", "300"))
# About 4–5 minutes a shape: CI runs the two whose triggers read other rows (a re-key's children, a lookup) and the
# part merge, the cheapest of the others (about 2 minutes of phases) and the only one whose triggers recompute a row
# of another table (the master) from a LEFT JOIN; it met a DDL deadlock in 60 in its first run. Part extraction,
# split, the preset and the combined plan add filtered targets, renames and a DataJoint 2 conversion to triggers the
# CI shapes already run. DJSQLGEN_STRESS_SHAPES=all runs every shape, and bench/writers_bench.py runs them long.
# Stop 30: with 60's DDL giving up after 120 s under these writers (see below) each shape took over 5 minutes and the
# whole CI run 57 minutes; the part merge runs in bench/writers_bench.py and with DJSQLGEN_STRESS_SHAPES=all until 60 completes
# here again.
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
    # 60 and 70 under six clients that never leave a table free: apply tries their DDL without waiting for 30 s, then
    # waits 1 s at a time (run/apply.py), so they complete; before, one 10 s wait timed out (1205) and 70 then refused.
    for name, step in result["steps"].items():
        if name == "60" and step.returncode != 0 and "never free in 120 s" in step.stderr:
            # issue 21's open end, measured in this stop's CI runs (60 of the lookup shape once): six clients that
            # never leave a table free for 2 minutes starve a DDL; apply stops it, safe to run again, and says so.
            # Any other failure of a step fails the test, 70's included: it closes v1 by a row, no DDL on v1.
            pytest.xfail(f"{name}: its DDL found its table never free in 120 s under never-idle writers "
                         "(issue 21 item 1; RUNBOOK Lock discipline)")
        assert step.returncode == 0, f"{name}: {step.stdout[-2000:]}{step.stderr[-2000:]}"
    for phase in ("30", "backfill", "verify"):  # no DDL here: the triggers and the copy alone
        w, wo = result["errors"][phase]["with"], result["errors"][phase]["without"]
        assert sum(w.values()) <= sum(wo.values()), (phase, table(shape, result), result["failures"][:10])
    # 60 runs DDL (ALTER TABLE ADD FOREIGN KEY, ADD UNIQUE). A statement that finds its table
    # free never costs a writer anything; one that has to wait (apply says so: "waiting for it") queues an exclusive
    # metadata lock, and a writer whose open transaction already holds that table for read and asks for it again to
    # write (a master's insert then its part's; a cascading delete) loses the deadlock (1213: the server always
    # chooses the DML; RUNBOOK, Lock discipline). Errors that are not lock errors must not grow; lock errors beyond the
    # trigger-free copy's are expected only in a phase whose DDL waited.
    # Measured before apply's 5-20 ms no-wait retries, on the shapes added later (1,300-3,000 iterations each): part
    # extraction 1 (70), part merge 1 (60), split 3 (70), the preset 5 (60) in one run and 0 in the next, the
    # combined plan 2 + 1 and 1 + 3 (60 + 70); none in 30, the backfill or verify.
    # 70 (in place, as every shape here) closes v1 by its sides row, waiting only for the transactions that wrote v1
    # (each holds the row shared to its end; the close waits 1 s at a time, and a deadlock rolls the close back); its
    # only DDL is the AUTO_INCREMENT counter carried to v2 (lab_note), on a table refused writers hold only for a
    # moment. It is held strictly: no lock error beyond the trigger-free copy's.
    w, wo = result["errors"]["70"]["with"], result["errors"]["70"]["without"]
    locks_w, locks_wo = (sum(n for c, n in side.items() if c in LOCKS) for side in (w, wo))
    assert locks_w <= locks_wo, ("70", table(shape, result), result["failures"][:10])
    excess = {}
    for phase in ("60",):
        w, wo = result["errors"][phase]["with"], result["errors"][phase]["without"]
        other_w, other_wo = (sum(n for c, n in side.items() if c not in LOCKS) for side in (w, wo))
        assert other_w <= other_wo, (phase, table(shape, result), result["failures"][:10])
        locks_w, locks_wo = (sum(n for c, n in side.items() if c in LOCKS) for side in (w, wo))
        waited = result["steps"][phase].stderr.count("waiting for it, ")
        assert locks_w <= locks_wo or waited, (phase, "lock errors although no DDL waited", table(shape, result),
                                               result["failures"][:10])
        if locks_w > locks_wo:
            excess[phase] = f"{locks_w} lock errors with, {locks_wo} without; {waited} statement(s) waited"
    if excess:
        pytest.xfail(f"DDL that had to wait for never-idle writers' tables cost them metadata-lock deadlocks: {excess} "
                     "(issue 21 item 1: a server fact, RUNBOOK Lock discipline)")


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
