"""The backfill waits while a replica is behind (issue 14, item 1), measured without SUPER.

On a primary with binary logging and a replica, as the DBA without SUPER: the replica's SQL thread is
stopped, `djsqlgen backfill --replica … --max-lag 1` copies nothing and `status` says it is throttled and
why; once the thread runs again the copy finishes, the replica equals the primary and verify is clean.
Read as root, SHOW REPLICA STATUS names the stopped thread; read as the DBA (no SLAVE MONITOR), the
heartbeat alone tells.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from support.safety import FastScenario, applied, env_for, rows_copied
from support.servers import DBA_USER, compare_servers

from djsqlgen.errors import DjsqlgenError
from djsqlgen.run.db import connect
from djsqlgen.run.throttle import parse_dsn

ROWS = 400


@pytest.fixture
def dba(binlog_pair, binlog_prefix, tmp_path):
    primary, _ = binlog_pair
    primary.set_global("log_bin_trust_function_creators", 1)
    s = FastScenario(connect(primary.dba_settings), binlog_prefix, env_for(primary.dba_settings), tmp_path)
    s.create_v1("CREATE TABLE event (id int NOT NULL, note varchar(16) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB")
    s.db.execute(f"INSERT INTO `{s.sources[0]}`.event SELECT seq, CONCAT('e', seq) FROM seq_1_to_{ROWS}")
    s.plan()
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    yield s
    s.db.close()


@pytest.mark.parametrize("reader", ["root", DBA_USER])
def test_backfill_waits_while_the_replica_is_behind(reader, binlog_pair, dba):
    primary, replica = binlog_pair
    replica.wait_caught_up()
    replica.stop_sql_thread()
    # 20 chunks 0.1 s apart: as the DBA (heartbeat only) the copy goes on until the first heartbeat the replica
    # did not apply is 1 s old, then waits; as root, SHOW REPLICA STATUS stops it at once
    copy = subprocess.Popen([sys.executable, "-m", "djsqlgen", "backfill", str(dba.plan_path), "--chunk-rows", "20",
                             "--sleep-ms", "100", "--replica", replica.dsn_for(reader), "--max-lag", "1"],
                            env=dba.env, cwd=dba.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while "backfill: throttled" not in (status := dba.run("status", str(dba.plan_path)).stdout):
            assert time.monotonic() < deadline and copy.poll() is None, status + (copy.stderr.read() if copy.poll() else "")
            time.sleep(0.1)
        assert f"replica 127.0.0.1:{replica.port}" in status, status
        if reader == "root":
            assert "SQL thread is stopped" in status, status
        else:  # no SLAVE MONITOR: the heartbeat tells
            while "s behind (--max-lag 1)" not in status:
                assert time.monotonic() < deadline, status
                time.sleep(0.1)
                status = dba.run("status", str(dba.plan_path)).stdout
        held = rows_copied(dba)
        assert held < ROWS and (held == 0 or reader != "root"), held
        time.sleep(1.5)
        assert rows_copied(dba) == held and copy.poll() is None, "the copy went on while the replica was behind"
    finally:
        replica.start_sql_thread()
    _, err = copy.communicate(timeout=60)
    assert copy.returncode == 0, err
    assert "throttled: replica" in err and "copying again" in err, err
    assert rows_copied(dba) >= ROWS
    replica.wait_caught_up()
    assert compare_servers(primary, replica, dba.prefix) == []
    dba.same_rows("event")
    assert dba.verify().returncode == 0


@pytest.mark.parametrize("dsn", ["127.0.0.1:3306", "http://u@h", "mysql://"])
def test_a_replica_given_wrong_is_refused_clearly(dsn):
    with pytest.raises(DjsqlgenError, match="mysql://user:password@host:port"):
        parse_dsn(dsn)


def test_a_replica_dsn_is_read_whole():
    s = parse_dsn("mysql://dba:p%40ss@db2.lab:3307")
    assert (s.user, s.password, s.host, s.port) == ("dba", "p@ss", "db2.lab", 3307)


def test_abort_ends_a_copy_waiting_for_a_replica(binlog_pair, dba):
    _, replica = binlog_pair
    replica.wait_caught_up()
    replica.stop_sql_thread()
    try:
        copy = subprocess.Popen([sys.executable, "-m", "djsqlgen", "backfill", str(dba.plan_path), "--jobs", "2",
                                 "--replica", replica.dsn, "--max-lag", "1"],
                                env=dba.env, cwd=dba.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while "backfill: throttled" not in dba.run("status", str(dba.plan_path)).stdout:
            assert time.monotonic() < deadline and copy.poll() is None
            time.sleep(0.1)
        dba.run("abort", str(dba.plan_path))
        _, err = copy.communicate(timeout=15)
    finally:
        replica.start_sql_thread()
    assert copy.returncode != 0 and "aborted" in err and "Traceback" not in err, err
    assert "backfill: aborted" in dba.run("status", str(dba.plan_path)).stdout


def test_verify_on_a_replica_reads_there_and_keeps_the_results_on_the_primary(binlog_pair, dba):
    """As the DBA without SUPER: `verify --on-replica` checks the replica's copy of v1 and v2 (shown by a v2 row
    changed on the replica alone, which only that verify finds) and records on the primary, where `status` and
    70 read it; the same verify on the primary is clean."""
    primary, replica = binlog_pair
    dba.run("backfill", str(dba.plan_path), "--chunk-rows", "100")
    replica.wait_caught_up()
    v2 = f"`{dba.sources[0]}_v2`.event"
    with replica.session() as on_replica:  # root, not logged: the replica alone differs
        on_replica.execute("SET SESSION sql_log_bin = 0")
        on_replica.execute(f"UPDATE {v2} SET note = 'replica only' WHERE id = 123")
    try:
        found = dba.run("verify", str(dba.plan_path), "--on-replica", replica.dsn_for(DBA_USER), "--jobs", "2",
                        check=False)
        assert found.returncode != 0 and '["123"]' in found.stdout and "values differ" in found.stdout, \
            found.stdout + found.stderr
        recorded = dba.db.query(f"SELECT d.row_key FROM `{dba.control}`.verify_diff AS d JOIN "
                                f"`{dba.control}`.verify_run AS r USING (run_id) WHERE r.bad_chunks > 0")
        assert [r["row_key"] for r in recorded] == ['["123"]'], recorded
        assert dba.verify().returncode == 0  # the primary's own data is equal
    finally:
        with replica.session() as on_replica:
            on_replica.execute("SET SESSION sql_log_bin = 0")
            on_replica.execute(f"UPDATE {v2} SET note = 'e123' WHERE id = 123")
    clean = dba.run("verify", str(dba.plan_path), "--on-replica", replica.dsn_for(DBA_USER))
    assert "every table equals transform(v1)" in clean.stderr
    assert "clean" in dba.run("status", str(dba.plan_path)).stdout
    replica.wait_caught_up()
    assert compare_servers(primary, replica, dba.prefix) == []


def test_verify_on_a_replica_without_the_routines_is_refused_clearly(binlog_pair, dba):
    _, replica = binlog_pair
    replica.wait_caught_up()
    installed = dba.db.query(f"SELECT plan_hash FROM `{dba.control}`.phase_log WHERE phase = '20'")[0]["plan_hash"]
    with replica.session() as on_replica:
        on_replica.execute("SET SESSION sql_log_bin = 0")
        on_replica.execute(f"UPDATE `{dba.control}`.phase_log SET plan_hash = 'other' WHERE phase = '20'")
    try:
        refused = dba.run("verify", str(dba.plan_path), "--on-replica", replica.dsn_for(DBA_USER), check=False)
        assert refused.returncode != 0 and "another version of the verify procedures" in refused.stderr, \
            refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        replica.wait_caught_up()
        with replica.session() as on_replica:
            on_replica.execute("SET SESSION sql_log_bin = 0")
            on_replica.execute(f"UPDATE `{dba.control}`.phase_log SET plan_hash = %s WHERE phase = '20'", [installed])


def test_verify_on_a_replica_that_stopped_applying_waits_for_it(binlog_pair, dba):
    """Found in review: a replica whose SQL thread was stopped gave a clean verify of old data. verify now writes a
    heartbeat on the primary and reads the replica only once it holds it."""
    _, replica = binlog_pair
    dba.run("backfill", str(dba.plan_path), "--chunk-rows", "100")
    replica.wait_caught_up()
    replica.stop_sql_thread()
    try:
        check = subprocess.Popen([sys.executable, "-m", "djsqlgen", "verify", str(dba.plan_path), "--on-replica",
                                  replica.dsn_for(DBA_USER)], env=dba.env, cwd=dba.tmp, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        time.sleep(2)
        assert check.poll() is None, "verify read a replica that had stopped applying the primary's writes"
    finally:
        replica.start_sql_thread()
    out, err = check.communicate(timeout=120)
    assert check.returncode == 0 and "waiting for the replica" in err, out + err
