"""Operations: the order files run in, what never runs, the client's session (issue 10, item 8).

``djsqlgen apply OUT/rollback`` runs the rollback files newest first and leaves v1 byte-identical with
nothing of djsqlgen's left, while v1 keeps taking writes; each rollback file refuses while a later phase is
applied (RUNBOOK.md says so); a stray .sql file in OUT/ or OUT/rollback/ never runs; and every file works
from a client session whose sql_mode has NO_BACKSLASH_ESCAPES and ANSI_QUOTES, with a plan whose added
columns hold a backslash and both kinds of quote.
"""

from __future__ import annotations

import re
import time

import pytest
from support.safety import (
    V1,
    V1_TABLES,
    FastScenario,
    Writer,
    applied,
    djsqlgen_leftovers,
    refused,
    schemas,
    state,
    state_difference,
    table_fingerprint,
)
from support.scenario import PHASES

from djsqlgen.run.db import connect


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    return s


def _v1(scenario: FastScenario) -> dict[str, tuple]:
    return {t: table_fingerprint(scenario.db, scenario.sources[0], t) for t in V1_TABLES}


def _order(output: str) -> list[str]:
    """The files ``djsqlgen apply`` reports running, in order."""
    return [m.group(1) for m in re.finditer(r"^-- \S*?((?:rollback/)?\d\d_\w+\.sql): \d+ statement", output, re.MULTILINE)]


@pytest.mark.parametrize("reached", ["00_preflight", "20_routines", "40_backfill", "60_constraints"])
def test_rollback_directory_runs_newest_first_and_restores_v1(reached, scenario, server_settings):
    scenario.plan()
    scenario.generate()
    v1 = _v1(scenario)
    scenario.forward(reached)
    with Writer(server_settings, scenario.sources[0], "event", first_id=1000, every_ms=2) as writer:
        time.sleep(0.05)
        run = scenario.run("apply", str(scenario.out / "rollback"), check=False)
        time.sleep(0.05)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    ran = _order(run.stdout + run.stderr)
    assert ran == sorted(ran, reverse=True) and ran[-1] == "rollback/00_preflight.sql", ran
    assert writer.failed == [], f"v1 writes failed during the rollback: {writer.failed[:3]}"
    scenario.db.execute(f"DELETE FROM `{scenario.sources[0]}`.event WHERE id >= 1000")
    assert _v1(scenario) == v1
    assert djsqlgen_leftovers(scenario.db, scenario.prefix) == []
    assert schemas(scenario.db, scenario.prefix) == [scenario.sources[0]]


# Each rollback with the phase right after it applied; and rollback/20 after cut-over, where dropping the
# control tables would make every write to v2 (primary by then) fail in its tracking trigger.
ROLLBACK_WHILE_LATER = [(PHASES[i], PHASES[i + 1]) for i in range(6)] + [("20_routines", "70_cutover")]


@pytest.mark.parametrize("rollback, later", ROLLBACK_WHILE_LATER, ids=[f"{r} while {n}" for r, n in
                                                                       ROLLBACK_WHILE_LATER])
def test_a_rollback_refuses_while_a_later_phase_is_applied(rollback, later, scenario, server_settings):
    scenario.plan()
    scenario.generate()
    scenario.forward(later)
    before = state(server_settings, scenario.prefix)
    refused(scenario, f"rollback/{rollback}")
    assert state_difference(before, state(server_settings, scenario.prefix)) == []


EVIL = "DROP DATABASE `{victim}`;\n"


@pytest.mark.parametrize("manifest", [True, False], ids=["with manifest.json", "manifest.json removed"])
def test_stray_files_in_the_directories_never_run(manifest, scenario, server_settings):
    victim = f"{scenario.prefix}_victim"
    scenario.db.execute(f"CREATE DATABASE `{victim}`")
    scenario.db.execute(f"CREATE TABLE `{victim}`.keep (id int PRIMARY KEY)")
    scenario.plan()
    scenario.generate()
    for name in ("99_evil.sql", "45_evil.sql", "rollback/99_evil.sql", "rollback/05_evil.sql", "zz.sql"):
        (scenario.out / name).write_text(EVIL.format(victim=victim))
    if not manifest:
        (scenario.out / "manifest.json").unlink()
    v1 = _v1(scenario)
    forward = scenario.run("apply", "--through", "80", str(scenario.out), check=False)
    assert schemas(scenario.db, victim) == [victim], "a stray file in OUT/ was run"
    if not manifest:  # without it, djsqlgen cannot tell its files from others: it runs none and says why
        assert forward.returncode == 2 and "manifest.json is missing" in forward.stderr, forward.stderr
        assert djsqlgen_leftovers(scenario.db, scenario.prefix) == [] and _v1(scenario) == v1
        return
    assert forward.returncode == 0, forward.stdout[-2000:] + forward.stderr
    assert _order(forward.stdout + forward.stderr) == [f"{p}.sql" for p in PHASES]
    backward = scenario.run("apply", "--through", "80", str(scenario.out / "rollback"), check=False)
    assert schemas(scenario.db, victim) == [victim], "a stray file in OUT/rollback/ was run"
    assert backward.returncode == 0, backward.stdout[-2000:] + backward.stderr
    assert _order(backward.stdout + backward.stderr) == [f"rollback/{p}.sql" for p in reversed(PHASES)]
    assert _v1(scenario) == v1
    assert djsqlgen_leftovers(scenario.db, scenario.prefix) == []


CLIENT_MODE = "SET SESSION sql_mode='NO_BACKSLASH_ESCAPES,ANSI_QUOTES'"
DEFAULT = "a\\b'c\"d"  # a backslash, a single and a double quote
SUFFIX = "\\'\""


def test_files_work_from_a_no_backslash_escapes_ansi_quotes_session(scenario, server_settings):
    def edit(plan):
        scenario.tables(plan)["parent"]["add"] = {
            # SQL literals as the plan's own (pinned) mode reads them: \\ is one backslash, \' a quote
            "quoted": {"type": "varchar(32)", "default": "'a\\\\b\\'c\"d'"},
            "derived": {"type": "varchar(48)", "expr": "CONCAT(name, '\\\\', '''', '\"')", "nullable": True},
        }
    scenario.plan(edit)
    scenario.generate()
    scenario.forward("30_dualwrite", init_command=CLIENT_MODE)
    with connect(server_settings) as writer:  # a user's session in that mode writes through the triggers
        writer.execute(CLIENT_MODE)
        writer.execute(f"INSERT INTO `{scenario.sources[0]}`.parent VALUES (9, 'o''neil \\ x')")
        writer.execute(f"UPDATE `{scenario.sources[0]}`.parent SET name = 'say \"hi\"' WHERE pid = 2")
    scenario.forward("70_cutover", first="40_backfill", init_command=CLIENT_MODE)
    rows = scenario.rows(scenario.v2(), "parent")
    names = {1: "ann", 2: 'say "hi"', 3: "cy", 9: "o'neil \\ x"}
    assert rows == [(pid, name, DEFAULT, name + SUFFIX) for pid, name in sorted(names.items())]
    applied(scenario, *[f"rollback/{p}" for p in reversed(PHASES)], init_command=CLIENT_MODE)
    assert djsqlgen_leftovers(scenario.db, scenario.prefix) == []


def test_every_file_pins_its_session_before_anything_else(scenario):
    scenario.plan()
    scenario.generate()
    pinned = ["SET NAMES utf8mb4", "SET SESSION sql_mode = ", "SET SESSION lock_wait_timeout = "]
    for path in sorted(scenario.out.glob("*.sql")) + sorted(scenario.out.glob("rollback/*.sql")):
        code = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("--")]
        first = [s.strip() for s in "\n".join(code).split(";\n")[:3]]
        assert all(f.startswith(p) for f, p in zip(first, pinned)), f"{path.name} starts with {first}"
        assert "NO_BACKSLASH_ESCAPES" not in first[1] and "ANSI_QUOTES" not in first[1] and "STRICT" in first[1]


def test_refusals_over_many_objects_name_the_missing_ones(scenario):
    """Refusals that list every expected trigger or table (one set query each): 40 names the dual-write
    trigger that is gone, rollback/80 the v1 table that is gone; with both back, both files run."""
    scenario.plan()
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    src = scenario.sources[0]
    trigger = scenario.db.query("SELECT TRIGGER_NAME AS name, ACTION_STATEMENT AS body, EVENT_MANIPULATION AS event, "
                                "ACTION_TIMING AS timing FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s "
                                "AND EVENT_OBJECT_TABLE = 'child' AND EVENT_MANIPULATION = 'UPDATE'", [src])[0]
    scenario.db.execute(f"DROP TRIGGER `{src}`.`{trigger['name']}`")
    message = refused(scenario, "40_backfill")
    assert "dual-write triggers are missing" in message and f"(missing: {src}.{trigger['name']})" in message, message
    applied(scenario, "30_dualwrite", "40_backfill")

    scenario.db.execute(f"RENAME TABLE `{src}`.event TO `{src}`.event_elsewhere")
    try:
        message = refused(scenario, "rollback/80_contract")
        assert f"(missing: {src}.event)" in message, message
    finally:
        scenario.db.execute(f"RENAME TABLE `{src}`.event_elsewhere TO `{src}`.event")
    applied(scenario, "rollback/80_contract")
