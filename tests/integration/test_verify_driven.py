"""Verify driven chunk by chunk from the command line (issue 14, item 6): paused, aborted, killed, resumed,
throttled and run in parallel while a writer changes v1, and never clean unless it saw every row.

Two tables: `event` keeps its key (aligned comparison) and `visit` is re-keyed (keyed comparison, which
ends with whole-table counts). After each scenario the run's chunks cover every key exactly once and the
result agrees with an independent row-by-row comparison.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time

import pytest
from support.safety import FastScenario, Writer, applied, client

ROWS = 600
V1 = """
CREATE TABLE event (id int NOT NULL, note varchar(16) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB;
CREATE TABLE visit (subject int NOT NULL, sid int NOT NULL, code varchar(12) NOT NULL, PRIMARY KEY (subject, sid),
  UNIQUE KEY (code)) ENGINE=InnoDB
"""


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    src = s.sources[0]
    s.db.execute(f"INSERT INTO `{src}`.event SELECT seq, CONCAT('e', seq) FROM seq_1_to_{ROWS}")
    s.db.execute(f"INSERT INTO `{src}`.visit SELECT seq % 7, seq, CONCAT('c', seq) FROM seq_1_to_{ROWS}")

    def rekey(plan):
        s.tables(plan)["visit"] = {"key": ["code"], "columns": {"subject": "keep", "sid": "keep", "code": "keep"}}
    s.plan(rekey)
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill()
    return s


def _start_verify(scenario: FastScenario, *options: str) -> subprocess.Popen:
    """The command as a DBA runs it: 10 rows a chunk, 20 ms apart (about 120 chunks)."""
    return subprocess.Popen([sys.executable, "-m", "djsqlgen", "verify", str(scenario.plan_path), "--chunk-rows", "10",
                             "--sleep-ms", "20", *options], env=scenario.env, cwd=scenario.tmp,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _chunks(scenario: FastScenario, run_id: int | None = None) -> list[dict]:
    """The chunks recorded by ``run_id`` (by default the newest run; none before it starts)."""
    runs = scenario.db.query(f"SELECT MAX(run_id) AS run FROM `{scenario.control}`.verify_run")
    run = run_id or runs[0]["run"]
    return scenario.db.query(f"SELECT target_id, chunk_no, is_total, lo_key, hi_key, src_rows, dst_rows FROM "
                             f"`{scenario.control}`.verify_chunk WHERE run_id = %s ORDER BY target_id, chunk_no", [run])


def _last_run(scenario: FastScenario) -> dict:
    return scenario.db.query(f"SELECT * FROM `{scenario.control}`.verify_run ORDER BY run_id DESC LIMIT 1")[0]


def _status(scenario: FastScenario) -> str:
    return scenario.run("status", str(scenario.plan_path)).stdout


def _assert_chunks_cover_every_key_once(scenario: FastScenario, run_id: int) -> None:
    """Each table's chunks follow on: numbered 1…n, each starting where the one before ended, the first open
    below and the last open above; a keyed table also has its whole-table counts."""
    chunks = _chunks(scenario, run_id)
    for target in {c["target_id"] for c in chunks}:
        walk = [c for c in chunks if c["target_id"] == target and not c["is_total"]]
        assert [c["chunk_no"] for c in walk] == list(range(1, len(walk) + 1)), target
        assert walk[0]["lo_key"] is None and walk[-1]["hi_key"] is None, target
        assert all(a["hi_key"] == b["lo_key"] for a, b in itertools.pairwise(walk)), target
    totals = [c for c in chunks if c["is_total"]]
    assert [c["target_id"].split(".")[1] for c in totals] == ["visit"], totals


def _v2_rows_agree(scenario: FastScenario) -> None:
    """Independently of verify: v2 holds what v1 holds, row for row."""
    scenario.same_rows("event")
    src, dst = scenario.sources[0], f"{scenario.sources[0]}_v2"
    order = "ORDER BY code"
    assert scenario.db.query(f"SELECT code, subject, sid FROM `{src}`.visit {order}") == \
        scenario.db.query(f"SELECT code, subject, sid FROM `{dst}`.visit {order}")


def test_pause_holds_verify_and_resume_finishes_it_clean_under_a_writer(scenario, server_settings):
    with Writer(server_settings, scenario.sources[0], "event", first_id=10_000, every_ms=5):
        check = _start_verify(scenario)
        _wait_for(lambda: len(_chunks(scenario)) >= 10)
        scenario.run("pause", str(scenario.plan_path))
        _wait_for(lambda: "verify: paused" in _status(scenario))
        held = len(_chunks(scenario))
        time.sleep(1.5)
        assert len(_chunks(scenario)) == held and check.poll() is None, "verify went on while paused"
        scenario.run("resume", str(scenario.plan_path))
        out, err = check.communicate(timeout=120)
    assert check.returncode == 0, out + err
    assert "paused by `djsqlgen pause`" in err and "resumed" in err
    run = _last_run(scenario)
    assert run["bad_chunks"] == 0 and run["finished_at"] is not None
    _assert_chunks_cover_every_key_once(scenario, run["run_id"])
    assert "verify: verified" in (status := _status(scenario)) and "last verify" in status and "clean" in status
    _v2_rows_agree(scenario)


@pytest.mark.parametrize("stop", ["abort", "kill"])
def test_a_verify_stopped_halfway_is_not_clean_and_resume_finishes_the_same_run(scenario, server_settings, stop):
    # 60 first, so that what 70 refuses for below is the verify (70 builds on 60; a resumed run refuses a 60 since)
    assert client(scenario.db.settings, scenario.out / "60_constraints.sql").returncode == 0
    with Writer(server_settings, scenario.sources[0], "event", first_id=20_000, every_ms=5):
        check = _start_verify(scenario)
        _wait_for(lambda: len(_chunks(scenario)) >= 10)
        if stop == "abort":
            scenario.run("abort", str(scenario.plan_path))
        else:
            check.send_signal(signal.SIGKILL)
        _, err = check.communicate(timeout=30)
        assert check.returncode != 0 and "Traceback" not in err, err
        if stop == "abort":
            assert "aborted" in err and "--resume" in err, err
        run = _last_run(scenario)
        assert run["finished_at"] is None and "stopped halfway" in _status(scenario)
        # 70 wants a finished, clean verify: a run stopped halfway does not count
        refused = client(scenario.db.settings, scenario.out / "70_cutover.sql")
        assert refused.returncode != 0 and "last verify run" in refused.stderr, refused.stderr
        done_before = len(_chunks(scenario))
        resumed = scenario.run("verify", str(scenario.plan_path), "--resume", "--chunk-rows", "25")
        assert "every table equals transform(v1)" in resumed.stderr
    after = _last_run(scenario)
    assert after["run_id"] == run["run_id"] and after["bad_chunks"] == 0
    assert len(_chunks(scenario)) > done_before
    _assert_chunks_cover_every_key_once(scenario, run["run_id"])
    _v2_rows_agree(scenario)


def test_a_run_closed_before_every_table_was_checked_counts_as_different(scenario):
    check = _start_verify(scenario)
    _wait_for(lambda: len(_chunks(scenario)) >= 3)
    scenario.run("abort", str(scenario.plan_path))
    check.communicate(timeout=30)
    run_id = _last_run(scenario)["run_id"]
    results = scenario.db.call_results(f"CALL `{scenario.control}`.verify_finish({run_id}, 0)")
    assert any(r["result"] != "OK" for r in results[0]), results[0]
    assert _last_run(scenario)["bad_chunks"] > 0, "a run that did not see every row must not be clean"
    scenario.run("resume", str(scenario.plan_path))


def test_resume_is_refused_without_an_unfinished_run_or_after_a_phase_changed_v2(scenario):
    assert scenario.verify().returncode == 0
    refused = scenario.run("verify", str(scenario.plan_path), "--resume", check=False)
    assert refused.returncode != 0 and "no unfinished verify run" in refused.stderr, refused.stderr
    finished = _last_run(scenario)["run_id"]
    check = _start_verify(scenario)
    _wait_for(lambda: _last_run(scenario)["run_id"] > finished and len(_chunks(scenario)) >= 3)
    scenario.run("abort", str(scenario.plan_path))
    out, err = check.communicate(timeout=30)
    assert check.returncode != 0, out + err
    scenario.run("resume", str(scenario.plan_path))
    time.sleep(0.01)  # applied_at is later than the run's start, even at microsecond resolution
    applied(scenario, "40_backfill")
    refused = scenario.run("verify", str(scenario.plan_path), "--resume", check=False)
    assert refused.returncode != 0 and "40_backfill.sql was applied after verify run" in refused.stderr, refused.stderr


def test_parallel_adaptive_verify_finds_a_difference_in_each_table(scenario):
    src, dst = scenario.sources[0], f"{scenario.sources[0]}_v2"
    clean = scenario.run("verify", str(scenario.plan_path), "--jobs", "2", "--chunk-rows", "50", "--chunk-time", "0.05")
    assert "every table equals transform(v1)" in clean.stderr
    _assert_chunks_cover_every_key_once(scenario, _last_run(scenario)["run_id"])
    scenario.db.execute(f"UPDATE `{dst}`.event SET note = 'changed' WHERE id = 333")
    scenario.db.execute(f"DELETE FROM `{dst}`.visit WHERE code = 'c444'")
    try:
        found = scenario.run("verify", str(scenario.plan_path), "--jobs", "2", "--chunk-rows", "50", check=False)
        assert found.returncode != 0, found.stdout + found.stderr
        assert '["333"]' in found.stdout and "values differ" in found.stdout, found.stdout
        assert '["c444"]' in found.stdout and "missing in v2" in found.stdout, found.stdout
    finally:
        scenario.db.execute(f"UPDATE `{dst}`.event AS d JOIN `{src}`.event AS s USING (id) SET d.note = s.note "
                            "WHERE d.id = 333")
        scenario.db.execute(f"INSERT INTO `{dst}`.visit (subject, sid, code) SELECT subject, sid, code FROM "
                            f"`{src}`.visit WHERE code = 'c444'")
    assert scenario.verify().returncode == 0


def test_verify_stops_at_critical_load_and_resumes(scenario):
    running = int(scenario.db.query("SHOW GLOBAL STATUS LIKE 'Threads_running'")[0]["Value"])
    stopped = scenario.run("verify", str(scenario.plan_path), "--chunk-rows", "10", "--critical-load",
                           f"Threads_running={max(running, 1)}", check=False)
    assert stopped.returncode != 0 and "verify stopped" in stopped.stderr and "--resume" in stopped.stderr, \
        stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert "verify: stopped" in _status(scenario)
    resumed = scenario.run("verify", str(scenario.plan_path), "--resume")
    assert "every table equals transform(v1)" in resumed.stderr


def test_50_verify_sql_waits_while_paused_and_stops_when_aborted(scenario):
    scenario.run("pause", str(scenario.plan_path))
    with open(scenario.out / "50_verify.sql", encoding="utf-8") as sql:
        settings = scenario.db.settings
        loop = subprocess.Popen(["mariadb", f"--host={settings.host}", f"--port={settings.port}",
                                 f"--user={settings.user}", "--batch"], stdin=sql, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        assert loop.poll() is None and _chunks(scenario) == [], "50_verify.sql checked while paused"
        scenario.run("abort", str(scenario.plan_path))
        _, err = loop.communicate(timeout=60)
    assert loop.returncode != 0 and "aborted (djsqlgen abort)" in err, err
    scenario.run("resume", str(scenario.plan_path))
    assert client(settings, scenario.out / "50_verify.sql").returncode == 0


def test_verify_does_not_clear_an_abort_meant_for_a_running_backfill(scenario):
    """Found in review: the pause/abort row is shared, and starting verify cleared an abort a DBA had just given a
    running backfill. With a backfill reporting itself active, verify refuses instead."""
    control = f"`{scenario.control}`.backfill_run"
    scenario.db.execute(f"INSERT INTO {control} (id, requested, state, reported_at) VALUES (1, 'abort', 'copying', "
                        "NOW(6)) ON DUPLICATE KEY UPDATE requested = 'abort', state = 'copying', reported_at = NOW(6)")
    refused = scenario.run("verify", str(scenario.plan_path), check=False)
    assert refused.returncode != 0 and "abort` is pending for a backfill" in refused.stderr, refused.stderr
    assert scenario.db.query(f"SELECT requested FROM {control}")[0]["requested"] == "abort"
    scenario.db.execute(f"UPDATE {control} SET state = 'aborted'")  # the backfill stopped: verify may go on
    assert scenario.verify().returncode == 0
