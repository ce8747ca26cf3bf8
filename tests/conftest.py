"""Test set-up: one real MySQL/MariaDB server per session, unique schemas per test, DataJoint 0.14 on the side.

The server is found in this order: DJSQLGEN_TEST_DSN (mysql://user:pass@host:port), else the
server on 127.0.0.1:3306 as root, else a MySQL 8.0 container through testcontainers when a Docker
engine answers. With none of them the run fails (never skips) and says how to start a server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from djsqlgen.errors import ConnectionFailed
from djsqlgen.run.db import Database, connect
from djsqlgen.run.settings import ConnectionSettings

REPO = Path(__file__).resolve().parents[1]
SUPPORT = Path(__file__).resolve().parent / "support"

# Extra MariaDB servers (binlog primary, replica, restricted DBA): fixtures of tests/support/servers.py.
pytest_plugins = ["support.servers"]

NO_SERVER = """no MySQL/MariaDB server for the tests.
Tried: {tried}.
Start one of:
  - the local MariaDB:  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  - Docker:             docker compose -f docker/compose.yaml up -d mysql80
  - any server:         export DJSQLGEN_TEST_DSN=mysql://user:password@host:port"""


def _settings_from_dsn(dsn: str) -> ConnectionSettings:
    url = urlparse(dsn)
    if url.scheme not in ("mysql", "mariadb"):
        raise pytest.UsageError(f"DJSQLGEN_TEST_DSN must look like mysql://user:pass@host:port, not {dsn!r}")
    return ConnectionSettings(
        host=url.hostname or "127.0.0.1",
        port=url.port or 3306,
        user=unquote(url.username or "root"),
        password=unquote(url.password or ""),
    )


def _reachable(settings: ConnectionSettings) -> bool:
    try:
        connect(settings).close()
        return True
    except ConnectionFailed:
        return False


def _docker_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], check=False, capture_output=True, timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def server_settings() -> ConnectionSettings:
    """Connection settings of the test server (see module docstring for the search order)."""
    tried = []
    dsn = os.environ.get("DJSQLGEN_TEST_DSN")
    if dsn:
        settings = _settings_from_dsn(dsn)
        if _reachable(settings):
            return settings
        pytest.fail(NO_SERVER.format(tried=f"DJSQLGEN_TEST_DSN={settings.describe()} (unreachable)"), pytrace=False)
    local = ConnectionSettings(host="127.0.0.1", port=3306, user="root", password="")
    if _reachable(local):
        return local
    tried.append("root@127.0.0.1:3306 (unreachable)")
    if _docker_answers():
        from testcontainers.mysql import MySqlContainer

        container = MySqlContainer("datajoint/mysql:8.0", username="root", password="simple", dbname="test")
        container.start()
        import atexit

        atexit.register(container.stop)
        return ConnectionSettings(
            host=container.get_container_host_ip(),
            port=int(container.get_exposed_port(3306)),
            user="root",
            password="simple",
        )
    tried.append("a testcontainers MySQL 8.0 (no Docker engine answers)")
    pytest.fail(NO_SERVER.format(tried="; ".join(tried)), pytrace=False)


@pytest.fixture
def db(server_settings: ConnectionSettings, prefix: str):
    """A fresh connection to the test server, closed after the test.

    It asks for ``prefix`` so that pytest closes it before ``prefix`` drops the test's schemas: a test that fails
    with a transaction open here would otherwise hold their metadata locks, and the DROP DATABASE would wait for
    them for lock_wait_timeout (a day by default) with every information_schema query of the server behind it.
    """
    database = connect(server_settings)
    yield database
    database.close()


@pytest.fixture
def dj_env(server_settings: ConnectionSettings) -> dict[str, str]:
    """Environment for subprocesses (DataJoint clients and the djsqlgen command) pointing at the server."""
    env = dict(os.environ)
    env.update(
        DJ_HOST=server_settings.host,
        DJ_PORT=str(server_settings.port),
        DJ_USER=server_settings.user,
        DJ_PASS=server_settings.password,
    )
    return env


def drop_schemas_with_prefix(db: Database, prefix: str) -> None:
    """Drop every schema whose name starts with ``prefix`` (the test's own)."""
    like = prefix.replace("_", "\\_") + "%"
    names = [r["SCHEMA_NAME"] for r in db.query(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s", [like]
    )]
    db.execute("SET SESSION foreign_key_checks = 0")
    for name in names:
        db.execute(f"DROP DATABASE IF EXISTS `{name}`")
    db.execute("SET SESSION foreign_key_checks = 1")


@pytest.fixture
def prefix(server_settings: ConnectionSettings) -> str:
    """A unique schema-name prefix for this test; every schema starting with it is dropped afterwards."""
    name = f"djt{uuid.uuid4().hex[:8]}"
    yield name
    with connect(server_settings) as cleanup:
        drop_schemas_with_prefix(cleanup, name)


@pytest.fixture(scope="session")
def dj014_python() -> Path:
    """Python executable of a cached virtual environment with DataJoint 0.14.6."""
    sys.path.insert(0, str(SUPPORT.parent))
    from support.dj014_venv import ensure_dj014_python

    return ensure_dj014_python()


def run_djsqlgen(args: list[str], env: dict[str, str], cwd: Path | None = None, check: bool = False):
    """Run the installed ``djsqlgen`` command as a user would; returns the CompletedProcess."""
    result = subprocess.run(
        [sys.executable, "-m", "djsqlgen", *args], check=False, env=env, cwd=cwd, capture_output=True, text=True
    )
    if check and result.returncode != 0:
        raise AssertionError(f"djsqlgen {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result
