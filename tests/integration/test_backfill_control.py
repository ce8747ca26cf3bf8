"""Pause, resume and abort the backfill without killing anything (issue 14, item 3).

A flag in the control schema is checked between chunks, by `djsqlgen backfill` and by 40_backfill.sql's loop
alike; `djsqlgen status` says what the copy is doing. A writer inserts into v1 all along: after a pause, a
resume, an abort and a second run, v2 equals v1 row for row and verify is clean.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from support.safety import FastScenario, Writer, applied, client, rows_copied

ROWS = 600
V1 = """
CREATE TABLE event (id int NOT NULL, note varchar(16) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB
"""


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.db.execute(f"INSERT INTO `{s.sources[0]}`.event SELECT seq, CONCAT('e', seq) FROM seq_1_to_{ROWS}")
    s.plan()
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    return s


def _start_backfill(scenario: FastScenario) -> subprocess.Popen:
    """The command as a DBA runs it: 10 rows a chunk, 20 ms apart (about 60 chunks)."""
    return subprocess.Popen([sys.executable, "-m", "djsqlgen", "backfill", str(scenario.plan_path), "--chunk-rows",
                             "10", "--sleep-ms", "20"], env=scenario.env, cwd=scenario.tmp, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _status(scenario: FastScenario) -> str:
    return scenario.run("status", str(scenario.plan_path)).stdout


def test_pause_holds_the_copy_and_resume_finishes_it_under_a_writer(scenario, server_settings):
    with Writer(server_settings, scenario.sources[0], "event", first_id=10_000, every_ms=5):
        copy = _start_backfill(scenario)
        _wait_for(lambda: rows_copied(scenario) >= 50)
        scenario.run("pause", str(scenario.plan_path))
        _wait_for(lambda: "backfill: paused" in _status(scenario))
        held = rows_copied(scenario)
        time.sleep(1.5)
        assert rows_copied(scenario) == held, "the copy went on while paused"
        assert copy.poll() is None, "a paused backfill must wait, not exit"
        scenario.run("resume", str(scenario.plan_path))
        _, err = copy.communicate(timeout=60)
    assert copy.returncode == 0, err
    assert "paused by `djsqlgen pause`" in err and "resumed" in err
    assert "backfill: finished" in _status(scenario)
    scenario.same_rows("event")
    assert scenario.verify().returncode == 0


def test_abort_stops_cleanly_and_the_next_run_resumes(scenario, server_settings):
    with Writer(server_settings, scenario.sources[0], "event", first_id=20_000, every_ms=5):
        copy = _start_backfill(scenario)
        _wait_for(lambda: rows_copied(scenario) >= 50)
        scenario.run("abort", str(scenario.plan_path))
        _, err = copy.communicate(timeout=30)
        assert copy.returncode != 0 and "aborted" in err and "Traceback" not in err, err
        stopped = rows_copied(scenario)
        assert 0 < stopped < ROWS
        assert "backfill: aborted" in _status(scenario)
        again = scenario.run("backfill", str(scenario.plan_path), "--chunk-rows", "50")
        assert "backfill complete" in again.stderr
    assert rows_copied(scenario) >= ROWS
    scenario.same_rows("event")
    assert scenario.verify().returncode == 0


def _client(scenario: FastScenario) -> list[str]:
    settings = scenario.db.settings
    return ["mariadb", f"--host={settings.host}", f"--port={settings.port}", f"--user={settings.user}", "--batch"]


def test_40_backfill_sql_waits_while_paused_and_refuses_when_aborted(scenario):
    scenario.run("pause", str(scenario.plan_path))
    with open(scenario.out / "40_backfill.sql", encoding="utf-8") as sql:
        loop = subprocess.Popen(_client(scenario), stdin=sql, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        time.sleep(1.5)
        assert loop.poll() is None and rows_copied(scenario) == 0, "40_backfill.sql copied while paused"
        scenario.run("resume", str(scenario.plan_path))
        _, err = loop.communicate(timeout=60)
    assert loop.returncode == 0, err
    scenario.same_rows("event")

    scenario.run("abort", str(scenario.plan_path))
    scenario.db.execute(f"UPDATE `{scenario.control}`.progress SET done = 0")  # as if not finished yet
    stopped = client(scenario.db.settings, scenario.out / "40_backfill.sql")
    assert stopped.returncode != 0 and "aborted (djsqlgen abort)" in stopped.stderr, stopped.stderr


def _threads_running(db) -> int:
    return int(db.query("SHOW GLOBAL STATUS LIKE 'Threads_running'")[0]["Value"])


def _quiet_threads_running(db, samples: int = 20) -> int:
    """The server's Threads_running without the others' passing queries (the server is shared: one sample taken
    while someone else's statement ran made the base too high, and the busy sessions ended before the count
    reached base + 3): the least of ``samples`` readings 25 ms apart."""
    least = _threads_running(db)
    for _ in range(samples - 1):
        time.sleep(0.025)
        least = min(least, _threads_running(db))
    return least


def _busy(server_settings, sessions: int, seconds: float) -> list:
    """``sessions`` connections each running SELECT SLEEP(seconds): each counts in Threads_running."""
    import threading

    from djsqlgen.run.db import connect

    def sleep() -> None:
        with connect(server_settings) as db:
            db.query(f"SELECT SLEEP({seconds})")

    threads = [threading.Thread(target=sleep, daemon=True) for _ in range(sessions)]
    for t in threads:
        t.start()
    return threads


def test_the_copy_waits_while_the_server_is_busy_and_goes_on_after(scenario, server_settings):
    base = _quiet_threads_running(scenario.db)
    busy = _busy(server_settings, 3, 3)
    _wait_for(lambda: _threads_running(scenario.db) >= base + 3)
    started = time.monotonic()
    run = scenario.run("backfill", str(scenario.plan_path), "--chunk-rows", "50", "--max-load",
                       f"Threads_running={base + 1}")
    for t in busy:
        t.join()
    assert "throttled: Threads_running=" in run.stderr and "copying again" in run.stderr, run.stderr
    assert time.monotonic() - started > 1.5, "the copy did not wait for the load to go"
    scenario.same_rows("event")


def test_critical_load_stops_the_copy_cleanly_and_it_resumes(scenario, server_settings):
    base = _quiet_threads_running(scenario.db)
    busy = _busy(server_settings, 4, 2)
    _wait_for(lambda: _threads_running(scenario.db) >= base + 4)
    stopped = scenario.run("backfill", str(scenario.plan_path), "--critical-load", f"Threads_running={base + 3}",
                           check=False)
    assert stopped.returncode == 1 and "reached --critical-load" in stopped.stderr, stopped.stderr
    assert "Traceback" not in stopped.stderr and rows_copied(scenario) == 0
    assert "backfill: stopped" in _status(scenario)
    for t in busy:
        t.join()
    scenario.run("backfill", str(scenario.plan_path), "--critical-load", f"Threads_running={base + 3}")
    scenario.same_rows("event")


@pytest.mark.parametrize("value", ["Threads_running", "Threads_running=x", "=5"])
def test_a_load_limit_given_wrong_is_refused_clearly(value, scenario):
    run = scenario.run("backfill", str(scenario.plan_path), "--max-load", value, check=False)
    assert run.returncode != 0 and "STATUS_VARIABLE=N" in run.stderr and "Traceback" not in run.stderr, run.stderr


def _chunks(scenario: FastScenario) -> int:
    return int(scenario.db.query(f"SELECT chunks FROM `{scenario.control}`.progress")[0]["chunks"])


def test_the_chunk_size_adapts_unless_given(scenario):
    """The plan starts at 2 rows a chunk: adapting to --chunk-time takes far fewer chunks than 300."""
    scenario.run("backfill", str(scenario.plan_path), "--chunk-time", "0.2")
    adapted = _chunks(scenario)
    assert adapted < ROWS // 2 // 4, adapted
    scenario.same_rows("event")
    scenario.db.execute(f"TRUNCATE TABLE `{scenario.v2()}`.event")
    scenario.db.execute(f"UPDATE `{scenario.control}`.progress SET checkpoint = NULL, done = 0, chunks = 0, "
                        "rows_copied = 0")
    scenario.run("backfill", str(scenario.plan_path), "--chunk-rows", "2")
    assert _chunks(scenario) >= ROWS // 2
    scenario.same_rows("event")


def test_a_warning_from_the_server_during_the_copy_is_shown_not_swallowed(db, prefix, dj_env, tmp_path):
    """v2's column narrowed by hand after 10 (decimal(6,3) → (5,2)): storing rounds, which the server reports
    as note 1265 and strict mode does not refuse. Both the command and 40_backfill.sql show it; verify then
    finds the rounded rows."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1("CREATE TABLE weight (id int NOT NULL, grams decimal(6,3) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB")
    s.db.execute(f"INSERT INTO `{s.sources[0]}`.weight SELECT seq, seq + 0.125 FROM seq_1_to_40")
    s.plan()
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.db.execute(f"ALTER TABLE `{s.sources[0]}_v2`.weight MODIFY grams decimal(5,2) NOT NULL")
    copy = s.run("backfill", str(s.plan_path), "--chunk-rows", "10")
    assert "warning: backfill of" in copy.stderr and "1265 Data truncated for column 'grams'" in copy.stderr, \
        copy.stderr
    s.db.execute(f"TRUNCATE TABLE `{s.sources[0]}_v2`.weight")
    s.db.execute(f"UPDATE `{s.control}`.progress SET checkpoint = NULL, rows_copied = 0, done = 0")
    loop = client(s.db.settings, s.out / "40_backfill.sql")
    assert loop.returncode == 0, loop.stderr
    assert "1265 Data truncated for column 'grams'" in loop.stdout, loop.stdout
    assert s.verify(check=False).returncode != 0


LABELS_V1 = """
CREATE TABLE label (k varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  body varchar(32) CHARACTER SET utf8mb4 NOT NULL, PRIMARY KEY (k)) ENGINE=InnoDB;
INSERT INTO label SELECT CONCAT('k', seq, CHAR(0xF09F9982 USING utf8mb4)), CONCAT('Malmö → μ ', seq)
FROM seq_1_to_9
"""


def test_a_control_schema_in_latin1_still_carries_keys_and_statements_of_any_character(db, prefix, dj_env,
                                                                                       tmp_path):
    """The shared chunk procedures read each table's statements (a literal '→ μ' in an added column) and
    checkpoints (keys with emoji) through the control schema. A DBA who made that schema with a latin1 server
    default had every such character turned into '?' or refused (1366), so the backfill stopped or copied wrong.
    Walked 2 rows a chunk, so every chunk resumes from a checkpoint holding an emoji; then 40 through the stock
    client and verify, and the rows compared in Python."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(LABELS_V1)
    s.db.execute(f"CREATE DATABASE `{s.control}` CHARACTER SET latin1")
    s.plan(lambda plan: s.tables(plan)["label"].update(
        {"columns": {"k": "keep", "body": "keep"},
         "add": {"tagged": {"type": "varchar(48)", "expr": "CONCAT(body, ' → μ')"}}}))
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=2)
    expected = [(f"k{i}🙂", f"Malmö → μ {i}", f"Malmö → μ {i} → μ") for i in range(1, 10)]
    assert sorted(s.rows(s.v2(), "label")) == sorted(expected)
    assert s.verify().returncode == 0
    s.db.execute(f"TRUNCATE `{s.v2()}`.label")
    s.db.execute(f"UPDATE `{s.control}`.progress SET checkpoint = NULL, done = 0, rows_copied = 0, chunks = 0")
    applied(s, "40_backfill")
    assert sorted(s.rows(s.v2(), "label")) == sorted(expected)
