"""`djsqlgen status` tells the truth (issue 22, item 5).

A backfill whose process is gone shows as stopped, with how to resume (the running job holds a named lock
on the server: a killed process, or a killed connection of 40_backfill.sql, releases it); the phase follows
`djsqlgen backfill` and `djsqlgen verify` as it follows 40 and 50 applied as files; a lookup counts its own
rows; after a renaming cut-over the names and counts are those of the tables where they now are; and the SQL
loops of 40 and 50 print a line per table that the stock client shows while the file still runs.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest
from support.safety import FastScenario, applied, rows_copied

from djsqlgen.sqltext.naming import run_lock

ROWS = 600
V1 = """
CREATE TABLE event (id int NOT NULL, note varchar(16) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB;
CREATE TABLE tag (id int NOT NULL, label varchar(16) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB
"""


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.db.execute(f"INSERT INTO `{s.sources[0]}`.event SELECT seq, CONCAT('e', seq) FROM seq_1_to_{ROWS}")
    s.db.execute(f"INSERT INTO `{s.sources[0]}`.tag SELECT seq, CONCAT('t', seq) FROM seq_1_to_7")
    s.plan()
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    return s


def _status(scenario: FastScenario) -> str:
    return scenario.run("status", str(scenario.plan_path)).stdout


def _wait_for(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _job_line(status: str) -> str:
    return next((line for line in status.splitlines() if line.startswith(("backfill:", "verify:"))), "")


def _client_command(scenario: FastScenario) -> list[str]:
    settings = scenario.db.settings
    command = ["mariadb", f"--host={settings.host}", f"--port={settings.port}", f"--user={settings.user}"]
    return command + ([f"--password={settings.password}"] if settings.password else [])


def test_a_killed_backfill_shows_as_stopped_with_how_to_resume(scenario):
    copy = subprocess.Popen([sys.executable, "-m", "djsqlgen", "backfill", str(scenario.plan_path), "--chunk-rows",
                             "5", "--sleep-ms", "50"], env=scenario.env, cwd=scenario.tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: rows_copied(scenario) >= 30 and "backfill: copying" in _status(scenario))
    finally:
        copy.send_signal(signal.SIGKILL)
        copy.wait()
    stopped = rows_copied(scenario)
    assert 0 < stopped < ROWS + 7
    _wait_for(lambda: "stopped" in _job_line(_status(scenario)), 10)
    line = _job_line(_status(scenario))
    assert line.startswith("backfill: stopped") and "left" not in line, line
    assert "djsqlgen backfill" in line and "resume" in line, line
    scenario.run("backfill", str(scenario.plan_path), "--chunk-rows", "100")
    assert _job_line(_status(scenario)).startswith("backfill: finished")
    scenario.same_rows("event")


def test_a_killed_verify_shows_as_stopped_with_how_to_go_on(scenario):
    scenario.run("backfill", str(scenario.plan_path))
    check = subprocess.Popen([sys.executable, "-m", "djsqlgen", "verify", str(scenario.plan_path), "--chunk-rows",
                              "5", "--sleep-ms", "50"], env=scenario.env, cwd=scenario.tmp,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: "verify: verifying" in _status(scenario))
    finally:
        check.send_signal(signal.SIGKILL)
        check.wait()
    _wait_for(lambda: "stopped" in _job_line(_status(scenario)), 10)
    line = _job_line(_status(scenario))
    assert line.startswith("verify: stopped") and "left" not in line and "--resume" in line, line
    scenario.run("verify", str(scenario.plan_path), "--resume")
    assert _job_line(_status(scenario)).startswith("verify: verified")


def test_40_backfill_sql_shows_as_at_work_while_it_runs_and_stopped_once_its_connection_is_killed(scenario):
    """The loop of 40_backfill.sql, held by a pause: paused (its session holds the lock); its connection killed
    (the DBA's KILL, a dropped network): stopped; run again: finished."""
    scenario.run("pause", str(scenario.plan_path))
    with open(scenario.out / "40_backfill.sql", encoding="utf-8") as sql:
        loop = subprocess.Popen(_client_command(scenario) + ["--batch"], stdin=sql, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            _wait_for(lambda: scenario.db.query("SELECT IS_USED_LOCK(%s) AS c", [run_lock(scenario.control)])[0]["c"])
            _wait_for(lambda: _job_line(_status(scenario)).startswith("backfill: paused"))
            assert "40_backfill.sql" in _job_line(_status(scenario))
            holder = scenario.db.query("SELECT IS_USED_LOCK(%s) AS c", [run_lock(scenario.control)])[0]["c"]
            scenario.db.execute(f"KILL CONNECTION {int(holder)}")
            loop.communicate(timeout=30)
        finally:
            if loop.poll() is None:
                loop.kill()
    line = _job_line(_status(scenario))
    assert line.startswith("backfill: stopped") and "40_backfill.sql" in line, line
    scenario.run("resume", str(scenario.plan_path))
    applied(scenario, "40_backfill")
    assert _job_line(_status(scenario)).startswith("backfill: finished"), _status(scenario)


def _phase_reached(status: str) -> str:
    return next(line for line in status.splitlines() if line.startswith("phase reached:"))


def test_the_phase_follows_the_command_line_backfill_and_verify(scenario):
    assert "30_dualwrite.sql" in _phase_reached(_status(scenario))
    scenario.run("backfill", str(scenario.plan_path))
    assert "40_backfill.sql" in _phase_reached(_status(scenario))
    scenario.run("verify", str(scenario.plan_path))
    assert "50_verify.sql" in _phase_reached(_status(scenario))
    applied(scenario, "60_constraints")  # 60 accepts the command line's backfill as 40 applied
    assert "60_constraints.sql" in _phase_reached(_status(scenario))


def _read_until(fd: int, text: str, process: subprocess.Popen, seconds: float = 30.0) -> str:
    """What the client printed on its terminal, until ``text`` appears (the client still running)."""
    seen, deadline = b"", time.monotonic() + seconds
    while text.encode() not in seen:
        assert time.monotonic() < deadline and process.poll() is None, seen.decode(errors="replace")
        if select.select([fd], [], [], 0.1)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen.decode(errors="replace")


@pytest.mark.parametrize("runner", ["mariadb", "djsqlgen apply"])
@pytest.mark.parametrize("file", ["40_backfill", "50_verify"])
def test_the_sql_loops_print_a_line_per_table_as_they_go(file, runner, scenario):
    """Run as a DBA runs it, `mariadb < FILE` (or `djsqlgen apply FILE`) on a terminal: a line per table appears
    while the file still runs (held by a pause before the first table's first chunk)."""
    if file == "50_verify":
        applied(scenario, "40_backfill")
    first, second = (f"{scenario.v2()}.event", f"{scenario.v2()}.tag")
    verb = "copying" if file == "40_backfill" else "verifying"
    master, slave = pty.openpty()
    with open(scenario.out / f"{file}.sql", encoding="utf-8") as sql:
        scenario.run("pause", str(scenario.plan_path))
        if runner == "mariadb":
            loop = subprocess.Popen(_client_command(scenario), stdin=sql, stdout=slave, stderr=subprocess.STDOUT)
        else:
            loop = subprocess.Popen([sys.executable, "-m", "djsqlgen", "apply", str(scenario.out / f"{file}.sql")],
                                    env=scenario.env, cwd=scenario.tmp, stdout=slave, stderr=subprocess.STDOUT)
    os.close(slave)
    try:
        try:
            shown = _read_until(master, f"{verb} {first}", loop, 30)
        finally:
            scenario.run("resume", str(scenario.plan_path))
        loop.wait(60)
        try:
            while select.select([master], [], [], 0.5)[0] and (chunk := os.read(master, 4096)):
                shown += chunk.decode(errors="replace")
        except OSError:
            pass
    finally:
        if loop.poll() is None:
            loop.kill()
        os.close(master)
    assert loop.returncode == 0, shown
    assert f"{verb} {second}" in shown and "2 of 2" in shown, shown
    assert f"{first} done" in shown and f"{second} done" in shown, shown


LOOKUP_V1 = """
CREATE TABLE insertion (id int NOT NULL, probe varchar(16) NOT NULL, vendor varchar(16) NOT NULL,
  PRIMARY KEY (id)) ENGINE=InnoDB;
INSERT INTO insertion SELECT seq, ELT(1 + seq % 3, 'np1', 'np2', 'tetrode'), ELT(1 + seq % 3, 'imec', 'imec', 'nlx')
  FROM seq_1_to_300
"""


def _progress_rows(status: str) -> dict[str, dict[str, str]]:
    """The status table's rows by v2 table (columns two or more spaces apart, as `format_rows` writes them)."""
    lines = status.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("v2_table"))
    names = re.split(r"\s{2,}", lines[header].strip())
    out = {}
    for line in lines[header + 2:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) != len(names):
            break
        out[cells[0]] = dict(zip(names, cells))
    return out


def test_a_lookup_counts_its_own_rows(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(LOOKUP_V1)
    s.plan(lambda plan: s.tables(plan).update(
        {"insertion": {"lookups": [{"table": "#probe", "key": ["probe"], "columns": ["vendor"]}]}}))
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.run("backfill", str(s.plan_path))
    rows = _progress_rows(_status(s))
    assert rows[f"{s.v2()}.#probe"]["v2_rows"] == "3", rows
    assert rows[f"{s.v2()}.insertion"]["v2_rows"] == "300", rows


def test_after_a_renaming_cut_over_names_and_counts_follow(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(LOOKUP_V1)

    def edit(plan):
        spec = plan["schemas"][0]
        spec["final"], spec["archive"] = spec["source"], f"{prefix}_archive"
        plan["cutover"] = {"rename_to_final": True}
    s.plan(edit)
    s.generate()
    s.forward("70_cutover")
    status = _status(s)
    rows = _progress_rows(status)
    assert list(rows) == [f"{s.sources[0]}.insertion"], status
    row = rows[f"{s.sources[0]}.insertion"]
    assert row["from_v1"] == f"{prefix}_archive.insertion" and row["v2_rows"] == "300", status
    assert row["v1_rows"] not in ("", "0"), status
