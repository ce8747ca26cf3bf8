"""Helpers of the two-way sync tests (tests/integration/test_two_way*.py), each used by more than one module.

What verify reports per table and direction, a write refused by a trigger, and DataJoint clients of both versions
writing at once; the row-by-row comparisons stay in each module, next to the shape they check.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.safety import FastScenario

from djsqlgen.run.db import Database, ServerError

SUPPORT = Path(__file__).resolve().parent
# verify_report's direction column
FORWARD, BACK = "v2 from v1", "v1 from v2"


def verify_report(s: FastScenario) -> tuple[int, list[dict], list[dict]]:
    """`djsqlgen verify`'s exit status, and its two tables (per table and direction; the keys that differ) as the
    verify_report procedure returns them for that run."""
    done = s.run("verify", str(s.plan_path), check=False)
    run_id = s.db.query(f"SELECT MAX(run_id) AS r FROM `{s.control}`.verify_run")[0]["r"]
    results = s.db.call_results(f"CALL `{s.control}`.verify_report({int(run_id)})")
    return done.returncode, results[0], results[1] if len(results) > 1 else []


def verified_both_ways(s: FastScenario, checked: set[tuple[str, str]]) -> None:
    """`djsqlgen verify` clean, ``checked`` (v2 table, direction) among what it checked."""
    code, tables, diffs = verify_report(s)
    assert code == 0 and diffs == [], (tables, diffs)
    ways = {(t["v2_table"].split(".")[1], t["direction"]) for t in tables}
    assert checked <= ways, ways


def refused_at_write(db: Database, sql: str, code: str, table: str) -> None:
    """``sql`` fails with a trigger's refusal ``code`` (1644), naming ``table``, within 128 characters."""
    with pytest.raises(ServerError) as failed:
        db.execute(sql)
    e = failed.value
    assert e.errno == 1644 and f"djsqlgen {code}" in e.message and table in e.message, (sql, e)
    assert len(e.message) <= 128, e.message


def two_way_at_60(s: FastScenario, v1_sql: str, edit: Callable[[FastScenario], Callable[[dict], None]]) -> None:
    """v1 from ``v1_sql``, the plan ``edit(s)`` makes, its files generated and applied through 60."""
    s.create_v1(v1_sql)
    s.plan(edit(s))
    s.generate()
    s.open_at_60()


def datajoint_on_both_sides(s: FastScenario, dj014_python, shape: str, iterations: int = 12) -> None:
    """DataJoint 2.3 users on v2 and DataJoint 0.14 users on v1 at once, two of each (tests/support/
    dj_parts_writers.py): inserts with parts, update1, cascading deletes. Each must finish every iteration."""
    script = str(SUPPORT / "dj_parts_writers.py")
    writers = [subprocess.Popen([str(python), script, "--schema", schema, "--shape", shape, "--side", side,
                                 "--worker", str(w), "--iterations", str(iterations)],
                                env=s.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for python, schema, side in ((sys.executable, s.v2(), "v2"), (dj014_python, s.sources[0], "v1"))
               for w in (1, 2)]
    for w in writers:
        stdout, stderr = w.communicate(timeout=600)
        assert w.returncode == 0, stderr[-3000:]
        assert json.loads(stdout.splitlines()[-1])["inserted"] == iterations, stdout
