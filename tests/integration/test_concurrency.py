"""The backfill while people keep working on v1, and while its connection is killed: nothing lost or doubled."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time

import pytest
from support.engine import SUPPORT, build_v1, bulk_fill, djsqlgen, prepare_migration

from djsqlgen.plan import load_plan
from djsqlgen.run import driver as drive
from djsqlgen.run.db import connect

SETUP = ("00_preflight", "10_expand", "20_routines", "30_dualwrite")


def _setup(tmp_path, prefix, dj014_python, dj_env, server_settings, subjects):
    common, ephys = build_v1(dj014_python, prefix, tmp_path / "store", dj_env)
    with connect(server_settings) as filler:
        bulk_fill(filler, common, subjects)
    plan_path, out = prepare_migration(tmp_path, prefix, common, ephys, dj_env)
    for name in SETUP:
        result = djsqlgen(["apply", str(out / f"{name}.sql")], dj_env)
        assert result.returncode == 0, f"{name}: {result.stderr}"
    return common, plan_path


def _verify_clean(plan_path, dj_env) -> None:
    result = djsqlgen(["verify", str(plan_path), "--chunk-rows", "997"], dj_env)
    assert result.returncode == 0, f"verify found differences:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("jobs", [1, 2])
def test_backfill_while_datajoint_014_clients_write(jobs, tmp_path, prefix, dj014_python, dj_env, server_settings):
    subjects = 6000
    _common, plan_path = _setup(tmp_path, prefix, dj014_python, dj_env, server_settings, subjects)
    writers = [
        subprocess.Popen(
            [str(dj014_python), str(SUPPORT / "dj014_writers.py"), "--schemas", prefix,
             "--store-dir", str(tmp_path / "store"), "--worker", str(w), "--iterations", "40",
             "--existing", f"{1000 + w * 2000}-{1000 + w * 2000 + 1999}"],
            env=dj_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(3)
    ]
    backfill = djsqlgen(["backfill", str(plan_path), "--chunk-rows", "300", "--sleep-ms", "20", "--jobs", str(jobs)],
                        dj_env)
    backfill_ended = time.monotonic()
    results = [w.communicate(timeout=600) for w in writers]
    writers_ended = time.monotonic()
    assert backfill.returncode == 0, backfill.stderr
    for w, (stdout, stderr) in zip(writers, results):
        assert w.returncode == 0, stderr[-3000:]
        assert '"key_moves"' in stdout and '"bulk_moves"' in stdout, stdout
    # The writers must still have been at work when the backfill finished, or this proves nothing.
    assert writers_ended >= backfill_ended - 0.5, "writers finished before the backfill: raise their iterations"
    _verify_clean(plan_path, dj_env)


def test_backfill_killed_at_random_moments_resumes_exactly(tmp_path, prefix, dj014_python, dj_env, server_settings, db):
    _common, plan_path = _setup(tmp_path, prefix, dj014_python, dj_env, server_settings, subjects=5000)
    plan = load_plan(plan_path)
    rng = random.Random(7)
    kills = 0
    while kills < 6:
        worker = connect(server_settings)
        failure: list[BaseException] = []

        def run(worker=worker, failure=failure) -> None:
            try:
                drive.backfill(worker, plan, chunk_rows=50, sleep_ms=2, show_progress=False)
            except Exception as exc:  # the kill surfaces here as a lost connection  # noqa: BLE001
                failure.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(rng.uniform(0.02, 0.3))
        if thread.is_alive():
            db.execute(f"KILL CONNECTION {worker.thread_id}")
        thread.join(timeout=120)
        worker.close()
        if failure:
            kills += 1
        else:
            break  # finished before the kill landed: the loop has nothing left to interrupt
    assert kills >= 5, f"only {kills} kills landed mid-backfill; make the table bigger"
    resumed = djsqlgen(["backfill", str(plan_path)], dj_env)
    assert resumed.returncode == 0, resumed.stderr
    # Nothing doubled: rows counted as copied equal the rows of v1 (a killed chunk is rolled back whole).
    for row in db.query(f"SELECT source_schema, source_table, rows_copied FROM `{prefix}_ctl`.`progress`"):
        count = db.query(f"SELECT COUNT(*) AS n FROM `{row['source_schema']}`.`{row['source_table']}`")[0]["n"]
        assert row["rows_copied"] == count, row
    _verify_clean(plan_path, dj_env)


def test_parallel_backfill_killed_at_random_moments_resumes_exactly(tmp_path, prefix, dj014_python, dj_env,
                                                                    server_settings, db):
    """--jobs 2: the process (both connections) killed mid-copy again and again, then run to the end."""
    _common, plan_path = _setup(tmp_path, prefix, dj014_python, dj_env, server_settings, subjects=5000)
    rng = random.Random(11)
    kills = 0
    copied = f"SELECT COALESCE(SUM(rows_copied), 0) AS n FROM `{prefix}_ctl`.`progress`"
    for _ in range(8):
        before = db.query(copied)[0]["n"]
        copy = subprocess.Popen([sys.executable, "-m", "djsqlgen", "backfill", str(plan_path), "--jobs", "2",
                                 "--chunk-rows", "50", "--sleep-ms", "2"], env=dj_env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # past the command's start-up, into the copy (its first chunk committed), however fast it starts
        while copy.poll() is None and db.query(copied)[0]["n"] == before:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.25))
        if copy.poll() is not None:
            break  # finished before the kill: nothing left to interrupt
        copy.kill()
        copy.wait()
        kills += 1
    assert kills >= 3, f"only {kills} kills landed mid-backfill; make the table bigger"
    resumed = djsqlgen(["backfill", str(plan_path), "--jobs", "2"], dj_env)
    assert resumed.returncode == 0, resumed.stderr
    for row in db.query(f"SELECT source_schema, source_table, rows_copied FROM `{prefix}_ctl`.`progress`"):
        count = db.query(f"SELECT COUNT(*) AS n FROM `{row['source_schema']}`.`{row['source_table']}`")[0]["n"]
        assert row["rows_copied"] == count, row
    _verify_clean(plan_path, dj_env)
