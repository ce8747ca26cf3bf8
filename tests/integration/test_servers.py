"""The extra-server fixtures work: a binlog primary like production, a DBA without SUPER, a replica, comparison.

Each test proves one piece on the real servers started by tests/support/servers.py (once per session).
"""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import pytest
from support.servers import (
    DBA_ROLE,
    DBA_USER,
    ROLE_DBA_USER,
    TMP_PREFIX,
    MariaDBServer,
    ReplicaBehind,
    ServerStartError,
    ServerUnavailable,
    compare_servers,
    find_binary,
    start_or_fail,
)

from djsqlgen.run.db import ServerError
from djsqlgen.sqltext.quoting import quote_identifier

NEED_SUPER = 1419  # ER_BINLOG_CREATE_ROUTINE_NEED_SUPER
NOT_DECLARED = 1418  # ER_BINLOG_UNSAFE_ROUTINE: no DETERMINISTIC / NO SQL / READS SQL DATA
SPECIFIC_ACCESS_DENIED = 1227


def errno_of(db, sql: str) -> int:
    """The error number ``sql`` fails with (0 when it succeeds)."""
    try:
        db.execute(sql)
    except ServerError as exc:
        return exc.errno
    return 0


def test_primary_logs_rows_and_distrusts_function_creators(binlog_primary):
    row = binlog_primary.query("SELECT @@log_bin AS log_bin, @@binlog_format AS fmt, "
                               "@@log_bin_trust_function_creators AS trust, @@server_id AS id")[0]
    assert row == {"log_bin": 1, "fmt": "ROW", "trust": 0, "id": 1}
    assert binlog_primary.port not in (0, 3306)
    assert binlog_primary.settings.user == "root"
    assert binlog_primary.dsn == f"mysql://root:@127.0.0.1:{binlog_primary.port}"


def test_restricted_dba_has_no_super(binlog_primary):
    dba = binlog_primary.dba_settings
    assert (dba.host, dba.port, dba.user) == ("127.0.0.1", binlog_primary.port, DBA_USER) and dba.password
    with binlog_primary.session(DBA_USER) as db:
        grants = " ".join(next(iter(r.values())) for r in db.query("SHOW GRANTS"))
        assert "PROCESS" in grants and "BINLOG MONITOR" in grants
        for missing in ("SUPER", "BINLOG ADMIN", "SLAVE MONITOR"):
            assert missing not in grants
        assert errno_of(db, "SHOW SLAVE STATUS") == SPECIFIC_ACCESS_DENIED
        assert errno_of(db, "SET GLOBAL log_bin_trust_function_creators = 1") == SPECIFIC_ACCESS_DENIED
        assert db.query("SELECT @@gtid_binlog_pos AS p")[0]["p"]  # BINLOG MONITOR-level reads work


def test_dba_needs_trust_function_creators_for_triggers(binlog_primary_defaults, binlog_prefix):
    primary = binlog_primary_defaults
    schema = quote_identifier(f"{binlog_prefix}_s")
    with primary.session(DBA_USER) as db:
        db.execute(f"CREATE DATABASE {schema}")
        db.execute(f"CREATE TABLE {schema}.t (a INT PRIMARY KEY)")
        trigger = f"CREATE TRIGGER {schema}.t_ins BEFORE INSERT ON {schema}.t FOR EACH ROW SET NEW.a = NEW.a"
        assert errno_of(db, trigger) == NEED_SUPER
        assert errno_of(db, f"DROP TRIGGER IF EXISTS {schema}.no_such_trigger") == NEED_SUPER
        assert errno_of(db, f"CREATE FUNCTION {schema}.f() RETURNS INT RETURN 1") == NOT_DECLARED
        assert errno_of(db, f"CREATE FUNCTION {schema}.g() RETURNS INT DETERMINISTIC RETURN 1") == NEED_SUPER
        assert errno_of(db, f"CREATE PROCEDURE {schema}.p() SQL SECURITY INVOKER SELECT 1") == 0

        primary.set_global("log_bin_trust_function_creators", 1)  # root: the DBA cannot
        assert errno_of(db, trigger) == 0
        assert errno_of(db, f"CREATE FUNCTION {schema}.g() RETURNS INT DETERMINISTIC RETURN 1") == 0


def test_restart_resets_set_global(binlog_primary_defaults):
    primary = binlog_primary_defaults
    primary.set_global("log_bin_trust_function_creators", 1)
    assert primary.variable("log_bin_trust_function_creators") == 1
    port = primary.port
    primary.restart()
    assert primary.port == port
    assert primary.variable("log_bin_trust_function_creators") == 0
    with primary.session(DBA_USER) as db:  # users and their grants survive the restart
        assert db.query("SELECT CURRENT_USER() AS u")[0]["u"] == f"{DBA_USER}@%"


def test_role_dba_has_its_privileges_through_the_role(binlog_primary, binlog_prefix):
    with binlog_primary.session(ROLE_DBA_USER) as db:
        assert db.query("SELECT CURRENT_ROLE() AS r")[0]["r"] == DBA_ROLE
        own = " ".join(next(iter(r.values())) for r in db.query("SHOW GRANTS FOR CURRENT_USER()"))
        assert "ALL PRIVILEGES" not in own and "PROCESS" not in own
        assert f"GRANT `{DBA_ROLE}` TO" in own and "SET DEFAULT ROLE" in own
        # Measured: privileges held through a role are absent from these views for the user itself.
        assert db.query("SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES") == [
            {"PRIVILEGE_TYPE": "USAGE"}]
        assert db.query("SELECT * FROM information_schema.SCHEMA_PRIVILEGES") == []
        assert db.query("SELECT ROLE_NAME FROM information_schema.ENABLED_ROLES") == [{"ROLE_NAME": DBA_ROLE}]
        schema = quote_identifier(f"{binlog_prefix}_r")
        db.execute(f"CREATE DATABASE {schema}")
        db.execute(f"CREATE TABLE {schema}.t (a INT PRIMARY KEY)")
        db.execute(f"CREATE DATABASE {quote_identifier(f'djsqlgen_{binlog_prefix}')}")
        assert errno_of(db, "CREATE DATABASE elsewhere_djt") == 1044
        assert errno_of(db, f"CREATE TRIGGER {schema}.t_ins BEFORE INSERT ON {schema}.t "
                            "FOR EACH ROW SET NEW.a = NEW.a") == NEED_SUPER
        assert errno_of(db, "SHOW SLAVE STATUS") == SPECIFIC_ACCESS_DENIED
        assert db.query("SHOW PROCESSLIST")  # PROCESS comes through the role


def test_row_written_on_primary_reaches_replica(binlog_pair, binlog_prefix):
    primary, replica = binlog_pair
    schema = quote_identifier(binlog_prefix)
    with primary.session(DBA_USER) as db:
        db.execute(f"CREATE DATABASE {schema}")
        db.execute(f"CREATE TABLE {schema}.t (a INT PRIMARY KEY, b VARCHAR(10))")
        db.execute(f"INSERT INTO {schema}.t VALUES (1, 'one')")
    replica.wait_caught_up()
    assert replica.query(f"SELECT a, b FROM {schema}.t") == [{"a": 1, "b": "one"}]
    assert replica.replication_errors()["Last_SQL_Errno"] == 0
    assert replica.variable("server_id") == 2


def test_stopped_sql_thread_falls_behind_then_catches_up(binlog_pair, binlog_prefix):
    primary, replica = binlog_pair
    schema = quote_identifier(binlog_prefix)
    primary.query(f"CREATE DATABASE {schema}")
    primary.query(f"CREATE TABLE {schema}.t (a INT PRIMARY KEY)")
    replica.wait_caught_up()
    replica.stop_sql_thread()
    assert replica.replication_errors()["Slave_SQL_Running"] == "No"
    primary.query(f"INSERT INTO {schema}.t VALUES (1)")
    with pytest.raises(ReplicaBehind, match="did not reach"):
        replica.wait_caught_up(timeout=0.5)
    assert not replica.is_caught_up()
    assert replica.query(f"SELECT COUNT(*) AS n FROM {schema}.t")[0]["n"] == 0
    replica.start_sql_thread()
    replica.wait_caught_up()
    assert replica.is_caught_up()
    assert replica.query(f"SELECT COUNT(*) AS n FROM {schema}.t")[0]["n"] == 1


def test_replication_error_is_readable(binlog_pair, binlog_prefix):
    primary, replica = binlog_pair
    schema = quote_identifier(binlog_prefix)
    primary.query(f"CREATE DATABASE {schema}")
    primary.query(f"CREATE TABLE {schema}.t (a INT PRIMARY KEY)")
    replica.wait_caught_up()
    with replica.session() as db:
        db.execute("SET SESSION sql_log_bin = 0")
        db.execute(f"INSERT INTO {schema}.t VALUES (7)")  # diverge: the primary's insert will collide
    primary.query(f"INSERT INTO {schema}.t VALUES (7)")
    deadline = time.monotonic() + 10
    while replica.replication_errors()["Last_SQL_Errno"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    errors = replica.replication_errors()
    assert errors["Last_SQL_Errno"] == 1062, errors
    assert "Duplicate entry '7'" in errors["Last_SQL_Error"]
    assert errors["Slave_SQL_Running"] == "No"
    with replica.session() as db:  # repair, so the replica applies the event again
        db.execute("SET SESSION sql_log_bin = 0")
        db.execute(f"DELETE FROM {schema}.t WHERE a = 7")
    replica.start_sql_thread()
    replica.wait_caught_up()
    assert replica.replication_errors()["Last_SQL_Errno"] == 0


def test_compare_servers_finds_a_change_made_on_the_replica(binlog_pair, binlog_prefix):
    primary, replica = binlog_pair
    schema = quote_identifier(f"{binlog_prefix}_c")
    primary.set_global("log_bin_trust_function_creators", 1)
    with primary.session(DBA_USER) as db:
        db.execute(f"CREATE DATABASE {schema}")
        db.execute(f"CREATE TABLE {schema}.t (a INT PRIMARY KEY AUTO_INCREMENT, b VARCHAR(10))")
        db.execute(f"INSERT INTO {schema}.t (b) VALUES ('x'), ('y')")
        db.execute(f"CREATE TRIGGER {schema}.t_ins BEFORE INSERT ON {schema}.t FOR EACH ROW SET NEW.b = UPPER(NEW.b)")
        db.execute(f"CREATE PROCEDURE {schema}.p(IN n INT) SQL SECURITY INVOKER SELECT n")
    assert compare_servers(primary, replica, binlog_prefix) == []

    with replica.session() as db:
        db.execute("SET SESSION sql_log_bin = 0")
        db.execute(f"UPDATE {schema}.t SET b = 'z' WHERE a = 1")
        db.execute(f"DROP TRIGGER {schema}.t_ins")
        db.execute(f"CREATE TRIGGER {schema}.t_ins BEFORE INSERT ON {schema}.t FOR EACH ROW SET NEW.b = LOWER(NEW.b)")
        db.execute(f"CREATE DATABASE {quote_identifier(f'{binlog_prefix}_only_here')}")
    differences = compare_servers(primary, replica, binlog_prefix)
    assert any(d.startswith(f"checksum {binlog_prefix}_c.t:") for d in differences), differences
    assert any(d.startswith(f"trigger {binlog_prefix}_c.t_ins:") and "LOWER" in d for d in differences), differences
    assert any(d.startswith("schemas:") for d in differences), differences
    assert not any(d.startswith(("routine", "table")) for d in differences), differences
    with replica.session() as db:  # the primary's clean-up drop does not know this schema
        db.execute("SET SESSION sql_log_bin = 0")
        db.execute(f"DROP DATABASE {quote_identifier(f'{binlog_prefix}_only_here')}")


def test_server_without_binlog_restarts_stops_and_cleans_up():
    server = MariaDBServer("nobinlog", server_id=9, log_bin=False, extra={"max_connections": 37}).start()
    try:
        assert server.query("SELECT @@log_bin AS b, @@max_connections AS m")[0] == {"b": 0, "m": 37}
        server.stop()
        # Someone else took the port meanwhile (and never answers: the probe must not hang on it).
        with socket.create_server(("127.0.0.1", server.port)), pytest.raises(ServerStartError, match="was taken"):
            server.restart()
        server.restart()
        directory, pid = server.directory, int(server.pid_file.read_text())
    finally:
        server.close()
    assert not directory.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    server.close()  # a second close does nothing


def test_a_server_that_cannot_start_fails_the_test_with_its_error_log():
    with pytest.raises(pytest.fail.Exception, match="could not start the broken test server") as failed:
        start_or_fail(lambda: MariaDBServer("broken", extra={"no_such_option": 1}))  # mariadb-install-db fails
    assert "unknown variable 'no_such_option=1'" in str(failed.value)
    with pytest.raises(ServerStartError, match="exited with status") as exited:  # mariadbd fails
        MariaDBServer("broken", extra={"init_file": "/nonexistent/init.sql"}).start()
    message = str(exited.value)
    assert "/nonexistent/init.sql" in message and "Aborting" in message
    error_log = Path(re.search(r"tail of (\S+/error\.log)", message).group(1))
    assert error_log.parent.name.startswith(f"{TMP_PREFIX}broken-") and not error_log.parent.exists()
    with pytest.raises(ServerUnavailable, match="apt-get install"):
        find_binary("mariadbd-not-installed")
