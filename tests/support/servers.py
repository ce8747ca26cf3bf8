"""Extra MariaDB servers for the tests: a binary-logging primary, its replica, a DBA without SUPER.

Each server is started from the installed ``mariadbd`` in its own temporary directory (datadir from
``mariadb-install-db``, socket, pid file, error log, generated my.cnf) on a free port of 127.0.0.1, so
several test sessions can run side by side with the shared server on port 3306, which is never touched.
A server is stopped only through what this module created (its socket, its pid file, the process it
spawned), at the end of the session, at interpreter exit, on SIGTERM, or by a watchdog when the owning
process dies without cleaning up.

The pytest fixtures at the bottom are exposed to every test through ``tests/conftest.py``.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pymysql
import pytest

from djsqlgen.errors import ConnectionFailed
from djsqlgen.run.db import Database, ServerError, connect
from djsqlgen.run.settings import ConnectionSettings
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal, quote_qualified

SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/usr/local/sbin"])
HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 60.0
TMP_PREFIX = "djsqlgen-mariadb-"

# The restricted DBA: what a DBA running a migration typically holds. REPLICATION CLIENT is shown as
# BINLOG MONITOR on MariaDB 10.5+. Deliberately absent: SUPER, BINLOG ADMIN, SLAVE MONITOR.
DBA_USER = "djsqlgen_dba"
ROLE_DBA_USER = "djsqlgen_dba_r"
DBA_ROLE = "djsqlgen_dba_role"
DBA_GRANTS = (
    "GRANT ALL PRIVILEGES ON `djt%`.* TO {grantee}",
    "GRANT ALL PRIVILEGES ON `djsqlgen\\_%`.* TO {grantee}",
    "GRANT PROCESS, REPLICATION CLIENT ON *.* TO {grantee}",
)
REPLICATION_USER = "djsqlgen_repl"

# Globals a test may change with SET GLOBAL and that the fixtures put back afterwards.
RESET_GLOBALS = ("log_bin_trust_function_creators", "binlog_format", "read_only", "sql_mode",
                 "lock_wait_timeout", "innodb_lock_wait_timeout", "max_allowed_packet", "foreign_key_checks")


class ServerUnavailable(RuntimeError):
    """The MariaDB binaries needed to start a server are not installed."""


class ServerStartError(RuntimeError):
    """A server did not install or start; the message carries the tail of its error log."""


class ReplicaBehind(AssertionError):
    """The replica did not reach the primary's position in time; the message carries its status."""


def find_binary(name: str) -> str:
    """Full path of an installed MariaDB program.

    Parameters
    ----------
    name : str
        Program name, e.g. ``mariadbd`` or ``mariadb-install-db``.

    Returns
    -------
    str
        Its path (``/usr/sbin`` and ``/usr/bin`` are searched even when not on PATH).

    Raises
    ------
    ServerUnavailable
        When the program is not installed.
    """
    path = shutil.which(name, path=SEARCH_PATH)
    if path is None:
        raise ServerUnavailable(
            f"{name} is not installed (searched {SEARCH_PATH}); the binlog/replica tests start their own "
            "MariaDB servers: install the server package, e.g. `apt-get install mariadb-server`."
        )
    return path


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching names that start with ``prefix`` (its ``\\``, ``%`` and ``_`` escaped)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# -- cleanup however the session ends -----------------------------------------------------------------
_LIVE: dict[int, MariaDBServer] = {}
_LIVE_LOCK = threading.Lock()
_CLEANUP_REGISTERED = False


def _close_all() -> None:
    with _LIVE_LOCK:
        servers = list(_LIVE.values())
    for server in reversed(servers):  # replicas were started after their primary: stop them first
        try:
            server.close()
        except Exception as exc:  # noqa: BLE001 - at exit, report and carry on with the others
            print(f"djsqlgen test servers: could not stop {server.name}: {exc}")


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _register_cleanup() -> None:
    """At exit, and on SIGTERM (turned into KeyboardInterrupt so pytest runs its finalizers), stop servers."""
    global _CLEANUP_REGISTERED
    if _CLEANUP_REGISTERED:
        return
    _CLEANUP_REGISTERED = True
    atexit.register(_close_all)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_interrupt)


# Started next to each server, in its own session: when the owning process is gone and the server's
# directory is still there (the owner was killed with SIGKILL), it shuts the server down and removes it.
_WATCHDOG = r"""
owner=$1; dir=$2; admin=$3
while kill -0 "$owner" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done
[ -d "$dir" ] || exit 0
if ! "$admin" --defaults-file="$dir/my.cnf" shutdown >/dev/null 2>&1; then
  pid=$(cat "$dir/mariadbd.pid" 2>/dev/null)
  [ -n "$pid" ] && grep -qaF -- "$dir/my.cnf" "/proc/$pid/cmdline" 2>/dev/null && kill -9 "$pid"
fi
rm -rf "$dir"
"""


class MariaDBServer:
    """One extra MariaDB server in a temporary directory, started and stopped by this object only.

    Parameters
    ----------
    name : str
        A label for messages and the temporary directory name.
    server_id : int
        ``server_id`` (distinct for a primary and its replica).
    log_bin : bool
        Binary logging on (``log_bin`` in the temporary directory) or off (``skip-log-bin``).
    binlog_format : str
        ``ROW``, ``STATEMENT`` or ``MIXED``.
    log_bin_trust_function_creators : int
        0 by default, as production servers have it.
    extra : dict, optional
        More ``[mariadbd]`` settings: ``{"read_only": 1, "skip-slave-start": None}`` (None: a bare option).
    """

    def __init__(
        self,
        name: str = "extra",
        *,
        server_id: int = 1,
        log_bin: bool = True,
        binlog_format: str = "ROW",
        log_bin_trust_function_creators: int = 0,
        extra: dict[str, object] | None = None,
    ):
        self.name = name
        self.server_id = server_id
        self.log_bin = log_bin
        self.binlog_format = binlog_format
        self.log_bin_trust_function_creators = log_bin_trust_function_creators
        self.extra = dict(extra or {})
        self.mariadbd = find_binary("mariadbd")
        self.install_db = find_binary("mariadb-install-db")
        self.admin = find_binary("mariadb-admin")
        self.setsid = find_binary("setsid")
        self.directory: Path | None = None
        self.port = 0
        self.users: dict[str, ConnectionSettings] = {}
        self.start_seconds: float | None = None
        self.startup_globals: dict[str, Any] = {}
        self._process: subprocess.Popen | None = None
        self._watchdog: subprocess.Popen | None = None

    # -- paths --------------------------------------------------------------------------------------
    def _path(self, name: str) -> Path:
        if self.directory is None:
            raise RuntimeError(f"server {self.name} has not been started")
        return self.directory / name

    @property
    def datadir(self) -> Path:
        """The server's data directory."""
        return self._path("data")

    @property
    def socket(self) -> Path:
        """The server's Unix socket."""
        return self._path("mariadbd.sock")

    @property
    def pid_file(self) -> Path:
        """The server's pid file."""
        return self._path("mariadbd.pid")

    @property
    def error_log(self) -> Path:
        """The server's error log."""
        return self._path("error.log")

    @property
    def config_file(self) -> Path:
        """The generated my.cnf passed with ``--defaults-file``."""
        return self._path("my.cnf")

    # -- connection settings ------------------------------------------------------------------------
    @property
    def settings(self) -> ConnectionSettings:
        """djsqlgen's connection settings for root (empty password, TCP on 127.0.0.1)."""
        return ConnectionSettings(host=HOST, port=self.port, user="root", password="")

    @property
    def dsn(self) -> str:
        """``mysql://root:@127.0.0.1:PORT`` (the form of DJSQLGEN_TEST_DSN)."""
        return self.dsn_for("root")

    @property
    def dba_settings(self) -> ConnectionSettings:
        """Connection settings of the restricted DBA (created by :func:`create_dba_user`)."""
        return self.settings_for(DBA_USER)

    @property
    def role_dba_settings(self) -> ConnectionSettings:
        """Connection settings of the DBA whose privileges come through a default role."""
        return self.settings_for(ROLE_DBA_USER)

    def settings_for(self, user: str) -> ConnectionSettings:
        """Connection settings of ``root`` or of a user created on this server by this module.

        Parameters
        ----------
        user : str
            The user name.

        Returns
        -------
        ConnectionSettings
        """
        if user == "root":
            return self.settings
        if user not in self.users:
            raise KeyError(f"no user {user!r} was created on {self.name} (have: {sorted(self.users)})")
        return self.users[user]

    def dsn_for(self, user: str) -> str:
        """``mysql://user:password@127.0.0.1:PORT`` for ``root`` or a user created by this module."""
        s = self.settings_for(user)
        return f"mysql://{s.user}:{s.password}@{s.host}:{s.port}"

    def connect(self, user: str = "root", database: str | None = None) -> Database:
        """A new autocommit connection (the caller closes it).

        Parameters
        ----------
        user : str
            ``root`` or a user created by this module.
        database : str, optional
            Default schema of the session.

        Returns
        -------
        Database
        """
        return connect(self.settings_for(user), database)

    @contextmanager
    def session(self, user: str = "root", database: str | None = None) -> Iterator[Database]:
        """``with server.session() as db:`` — a connection closed however the block ends."""
        db = self.connect(user, database)
        try:
            yield db
        finally:
            db.close()

    def query(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        """Run one statement as root on a short-lived connection; returns its rows."""
        with self.session() as db:
            return db.query(sql, args)

    def variable(self, name: str) -> Any:
        """The current global value of a server variable (read as root)."""
        return self.query(f"SELECT @@GLOBAL.{name} AS v")[0]["v"]

    def set_global(self, name: str, value: object) -> None:
        """``SET GLOBAL name = value`` as root."""
        with self.session() as db:
            db.execute(f"SET GLOBAL {name} = {quote_literal(value)}")

    def variables(self, names: tuple[str, ...] | list[str]) -> dict[str, Any]:
        """Current global values of several server variables, in one query as root."""
        columns = ", ".join(f"@@GLOBAL.{name} AS {quote_identifier(name)}" for name in names)
        return self.query(f"SELECT {columns}")[0]

    def restore_globals(self) -> list[str]:
        """Put back, as root, every global of RESET_GLOBALS that differs from its value after start.

        Returns
        -------
        list of str
            The names that had to be put back.
        """
        current = self.variables(list(self.startup_globals))
        changed = [name for name, value in self.startup_globals.items() if current[name] != value]
        with self.session() as db:
            for name in changed:
                db.execute(f"SET GLOBAL {name} = {quote_literal(self.startup_globals[name])}")
        return changed

    # -- life cycle ---------------------------------------------------------------------------------
    def _config(self) -> str:
        lines = [
            "[client]",
            f"socket={self.socket}",
            "user=root",
            "",
            "[mariadbd]",
            f"datadir={self.datadir}",
            f"port={self.port}",
            f"bind-address={HOST}",
            f"socket={self.socket}",
            f"pid-file={self.pid_file}",
            f"log-error={self.error_log}",
            # Its own tmpdir: at start-up mariadbd deletes every #sql* file in its tmpdir, which with the
            # default /tmp removes the internal temporary tables of the machine's main server mid-query
            # (seen: "Error on delete of '/tmp/#sql-temptable-….MAI'", errno 6, in other tests' statements).
            f"tmpdir={self._path('tmp')}",
            "skip-name-resolve",
            "innodb_buffer_pool_size=64M",
            "innodb_log_file_size=32M",
            f"server_id={self.server_id}",
            f"binlog_format={self.binlog_format}",
            f"log_bin_trust_function_creators={self.log_bin_trust_function_creators}",
        ]
        if os.geteuid() == 0:
            lines.append("user=root")  # mariadbd refuses to run as root unless told to
        if self.log_bin:
            lines += [f"log_bin={self._path('binlog')}", "log_slave_updates=ON"]
        else:
            lines.append("skip-log-bin")
        for key, value in self.extra.items():
            lines.append(key if value is None else f"{key}={value}")
        return "\n".join(lines) + "\n"

    def error_log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the error log (empty when there is none yet)."""
        try:
            text = self.error_log.read_text(errors="replace")
        except (OSError, RuntimeError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> MariaDBServer:
        """Create the temporary directory and datadir, start the server and wait until it answers.

        Returns
        -------
        MariaDBServer
            ``self``, started.

        Raises
        ------
        ServerStartError
            When installing or starting fails, or the server does not answer within 30 s.
        """
        if self.directory is not None:
            raise RuntimeError(f"server {self.name} is already started")
        _register_cleanup()
        # A Unix socket path must stay under 108 bytes: fall back to /tmp when TMPDIR is deep.
        parent = tempfile.gettempdir() if len(tempfile.gettempdir()) < 50 else "/tmp"
        self.directory = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{self.name}-", dir=parent))
        self._path("tmp").mkdir()
        with _LIVE_LOCK:
            _LIVE[id(self)] = self
        self._start_watchdog()
        begun = time.monotonic()
        try:
            self.port = free_port()
            self.config_file.write_text(self._config())
            self._install()
            for _attempt in range(3):
                if self._launch():
                    break
                # Another process took the port between free_port() and the bind: take another one.
                self.port = free_port()
                self.config_file.write_text(self._config())
            else:
                raise ServerStartError(f"{self.name}: no free port after 3 attempts\n{self.error_log_tail()}")
        except BaseException:
            self.close()
            raise
        self.start_seconds = time.monotonic() - begun
        self.startup_globals = self.variables(RESET_GLOBALS)
        return self

    def _start_watchdog(self) -> None:
        self._watchdog = subprocess.Popen(
            [self.setsid, "sh", "-c", _WATCHDOG, "watchdog", str(os.getpid()), str(self.directory), self.admin],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def _install(self) -> None:
        command = [self.install_db, f"--defaults-file={self.config_file}", f"--datadir={self.datadir}",
                   "--auth-root-authentication-method=normal", "--skip-test-db"]
        try:
            result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired as exc:
            raise ServerStartError(f"{self.name}: mariadb-install-db did not finish in 120 s") from exc
        if result.returncode != 0:
            output = "\n".join((result.stdout + result.stderr).splitlines()[:4])  # the rest is boilerplate
            raise ServerStartError(
                f"{self.name}: {shlex.join(command)} failed ({result.returncode}):\n{output}\n"
                f"tail of {self.error_log}:\n{self.error_log_tail(15)}"
            )

    def _launch(self) -> bool:
        """Start mariadbd; True once it answers, False when it exited because its port was taken."""
        self.error_log.write_text("")  # only this start's messages in the tail
        self._process = subprocess.Popen(
            [self.setsid, self.mariadbd, f"--defaults-file={self.config_file}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                log = self.error_log_tail()
                if "Address already in use" in log or "Bind on TCP/IP port" in log:
                    return False
                raise ServerStartError(
                    f"{self.name}: mariadbd exited with status {code} while starting on port {self.port}; "
                    f"tail of {self.error_log}:\n{log}"
                )
            if self._answers():
                return True
            time.sleep(0.05)
        self._kill()
        raise ServerStartError(
            f"{self.name}: mariadbd did not answer on {HOST}:{self.port} within {START_TIMEOUT:.0f} s; "
            f"tail of {self.error_log}:\n{self.error_log_tail()}"
        )

    def _answers(self) -> bool:
        """True when this server answers on its own Unix socket (a TCP probe could reach whoever took
        the port, and a listener that never speaks would block the handshake)."""
        try:
            pymysql.connect(unix_socket=str(self.socket), user="root", password="", connect_timeout=2,
                            read_timeout=2, write_timeout=2).close()
        except (pymysql.MySQLError, OSError):
            return False
        return True

    def _pid(self) -> int | None:
        """Pid of this object's mariadbd while it runs, never another process.

        The process it spawned (``setsid`` execs in place, so that is mariadbd itself), else the pid in
        its pid file if that process's command line names this server's my.cnf.
        """
        if self._process is not None and self._process.poll() is None:
            return self._process.pid
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError, RuntimeError):
            return None
        return pid if _runs_with(pid, self.config_file) else None

    def _kill(self) -> None:
        pid = self._pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reap()

    def _reap(self) -> None:
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._process = None

    def stop(self) -> None:
        """Shut the server down through its socket and wait; kill it by pid if that fails. Keeps the datadir."""
        if self._pid() is None:
            self._reap()
            return
        if self.socket.exists():
            try:
                subprocess.run([self.admin, f"--defaults-file={self.config_file}", "shutdown"], check=False,
                               capture_output=True, timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + STOP_TIMEOUT
        while self._pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        self._kill()

    def restart(self) -> None:
        """Stop and start again on the same port and datadir: every ``SET GLOBAL`` is back to my.cnf's value."""
        self.stop()
        if not self._launch():
            raise ServerStartError(f"{self.name}: port {self.port} was taken while restarting\n"
                                   f"{self.error_log_tail()}")

    def close(self) -> None:
        """Stop the server and remove its temporary directory (safe to call twice)."""
        try:
            if self.directory is not None:
                self.stop()
        finally:
            if self._watchdog is not None:
                self._watchdog.kill()
                self._watchdog.wait()
                self._watchdog = None
            if self.directory is not None:
                shutil.rmtree(self.directory, ignore_errors=True)
                self.directory = None
            with _LIVE_LOCK:
                _LIVE.pop(id(self), None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {HOST}:{self.port} dir={self.directory}>"


def _runs_with(pid: int, config_file: Path) -> bool:
    """True when process ``pid`` exists and its command line names ``config_file``."""
    try:
        return str(config_file).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


# -- users ------------------------------------------------------------------------------------------
def create_dba_user(
    server: MariaDBServer, user: str = DBA_USER, password: str | None = None, *, role: str | None = None
) -> ConnectionSettings:
    """Create the restricted DBA (no SUPER, BINLOG ADMIN or SLAVE MONITOR) on ``server`` as root.

    Grants ALL on ```djt%`.*`` and ```djsqlgen\\_%`.*``, plus PROCESS and REPLICATION CLIENT (BINLOG
    MONITOR). With ``role``, the grants go to that role instead, which is granted to the user and set as
    its default role, so every privilege of the user comes through the role.

    Parameters
    ----------
    server : MariaDBServer
        A started server (on a primary, the statements replicate to its replicas).
    user : str
        User name; the account is ``user@'%'``.
    password : str, optional
        Generated when not given.
    role : str, optional
        Name of the role to grant through.

    Returns
    -------
    ConnectionSettings
        Also recorded in ``server.users[user]``.
    """
    password = password or secrets.token_hex(8)
    account = f"{quote_literal(user)}@'%'"
    grantee = quote_identifier(role) if role else account
    with server.session() as db:
        db.execute(f"CREATE USER {account} IDENTIFIED BY {quote_literal(password)}")
        if role:
            db.execute(f"CREATE ROLE {quote_identifier(role)}")
        for grant in DBA_GRANTS:
            db.execute(grant.format(grantee=grantee))
        if role:
            db.execute(f"GRANT {quote_identifier(role)} TO {account}")
            db.execute(f"SET DEFAULT ROLE {quote_identifier(role)} FOR {account}")
    settings = ConnectionSettings(host=HOST, port=server.port, user=user, password=password)
    server.users[user] = settings
    return settings


# -- replication ------------------------------------------------------------------------------------
class ReplicaServer(MariaDBServer):
    """A MariaDB server replicating from ``primary`` with GTID (``MASTER_USE_GTID=slave_pos``).

    It starts from an empty datadir and replays the primary's whole binary log, so it holds the same
    users and schemas. The replica logs what it applies (``log_slave_updates``), as production replicas do.

    Parameters
    ----------
    primary : MariaDBServer
        A started server with ``log_bin`` on.
    name, server_id, **options
        As for :class:`MariaDBServer`.
    """

    def __init__(self, primary: MariaDBServer, name: str = "replica", *, server_id: int = 2, **options: Any):
        super().__init__(name, server_id=server_id, **options)
        self.primary = primary

    def start(self) -> ReplicaServer:
        """Start the server, point it at the primary, start replicating and wait until it caught up."""
        if not self.primary.log_bin:
            raise ServerStartError(f"{self.primary.name} has no binary log: it cannot be replicated")
        super().start()
        try:
            if REPLICATION_USER not in self.primary.users:
                secret = secrets.token_hex(8)
                with self.primary.session() as db:
                    db.execute(f"CREATE USER {quote_literal(REPLICATION_USER)}@'%' IDENTIFIED BY "
                               f"{quote_literal(secret)}")
                    db.execute(f"GRANT REPLICATION SLAVE ON *.* TO {quote_literal(REPLICATION_USER)}@'%'")
                self.primary.users[REPLICATION_USER] = ConnectionSettings(HOST, self.primary.port,
                                                                          REPLICATION_USER, secret)
            repl = self.primary.users[REPLICATION_USER]
            with self.session() as db:
                db.execute(
                    f"CHANGE MASTER TO MASTER_HOST={quote_literal(HOST)}, MASTER_PORT={int(self.primary.port)}, "
                    f"MASTER_USER={quote_literal(repl.user)}, MASTER_PASSWORD={quote_literal(repl.password)}, "
                    "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1"
                )
                db.execute("START SLAVE")
            self.wait_caught_up()
            # The users created on the primary arrived with its binary log.
            self.users.update({k: ConnectionSettings(HOST, self.port, v.user, v.password)
                               for k, v in self.primary.users.items()})
        except BaseException:
            self.close()
            raise
        return self

    def replication_status(self) -> dict[str, Any]:
        """``SHOW SLAVE STATUS`` as root on the replica, as one dict (empty if replication is not set up)."""
        rows = self.query("SHOW SLAVE STATUS")
        return rows[0] if rows else {}

    def replication_errors(self) -> dict[str, Any]:
        """Thread states and the last errors of the replica (errno 0 and '' when there is none).

        Returns
        -------
        dict
            ``Slave_IO_Running``, ``Slave_SQL_Running``, ``Last_IO_Errno``, ``Last_IO_Error``,
            ``Last_SQL_Errno``, ``Last_SQL_Error``, ``Last_Errno``, ``Last_Error``.
        """
        status = self.replication_status()
        keys = ("Slave_IO_Running", "Slave_SQL_Running", "Last_IO_Errno", "Last_IO_Error", "Last_SQL_Errno",
                "Last_SQL_Error", "Last_Errno", "Last_Error")
        return {key: status.get(key) for key in keys}

    def stop_sql_thread(self) -> None:
        """``STOP SLAVE SQL_THREAD``: events keep arriving but are not applied."""
        with self.session() as db:
            db.execute("STOP SLAVE SQL_THREAD")

    def start_sql_thread(self) -> None:
        """``START SLAVE SQL_THREAD``."""
        with self.session() as db:
            db.execute("START SLAVE SQL_THREAD")

    def start_replication(self) -> None:
        """``START SLAVE`` (both threads; a no-op for a thread already running)."""
        with self.session() as db:
            db.execute("START SLAVE")

    def primary_position(self) -> str:
        """The primary's ``@@gtid_binlog_pos`` (what the replica must reach)."""
        return self.primary.variable("gtid_binlog_pos")

    def is_caught_up(self) -> bool:
        """True when the replica has applied everything the primary logged so far (no waiting)."""
        wanted = set(filter(None, self.primary_position().split(",")))
        applied = set(filter(None, str(self.variable("gtid_slave_pos")).split(",")))
        return wanted <= applied

    def wait_caught_up(self, timeout: float = 30.0) -> None:
        """Wait with ``MASTER_GTID_WAIT`` until the replica applied the primary's current position.

        Parameters
        ----------
        timeout : float
            Seconds to wait.

        Raises
        ------
        ReplicaBehind
            With both positions and the replica's thread states and last errors.
        """
        position = self.primary_position()
        with self.session() as db:
            waited = db.query("SELECT MASTER_GTID_WAIT(%s, %s) AS r", [position, timeout])[0]["r"]
        if waited != 0:
            raise ReplicaBehind(
                f"{self.name} did not reach the primary's GTID position {position!r} within {timeout} s "
                f"(it applied {self.variable('gtid_slave_pos')!r}); {self.replication_errors()}"
            )


# -- comparison -------------------------------------------------------------------------------------
def server_state(server: MariaDBServer, schemas_like_prefix: str) -> dict[tuple[str, ...], Any]:
    """What :func:`compare_servers` compares, read as root, keyed by what it describes.

    Parameters
    ----------
    server : MariaDBServer
        A started server.
    schemas_like_prefix : str
        Only schemas whose name starts with it.

    Returns
    -------
    dict
        ``("schemas",)`` → sorted names; ``("table", schema, name)`` → its SHOW CREATE text (the
        AUTO_INCREMENT counter removed: the primary counts rolled-back inserts the replica never sees);
        ``("checksum", schema, name)`` → (CHECKSUM TABLE EXTENDED, row count) of a base table;
        ``("trigger", schema, name)`` and ``("routine", schema, type, name)`` → their definitions.
    """
    state: dict[tuple[str, ...], Any] = {}
    like = like_prefix(schemas_like_prefix)
    with server.session() as db:
        schemas = [r["SCHEMA_NAME"] for r in db.query(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s ORDER BY 1", [like])]
        state[("schemas",)] = schemas
        for schema in schemas:
            for row in db.query("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
                                "WHERE TABLE_SCHEMA = %s ORDER BY 1", [schema]):
                name = quote_qualified((schema, row["TABLE_NAME"]))
                create = db.query(f"SHOW CREATE TABLE {name}")[0]
                text = create.get("Create Table") or create.get("Create View") or ""
                state[("table", schema, row["TABLE_NAME"])] = " ".join(
                    part for part in text.split(" ") if not part.startswith("AUTO_INCREMENT="))
                if row["TABLE_TYPE"] == "BASE TABLE":
                    checksum = db.query(f"CHECKSUM TABLE {name} EXTENDED")[0]["Checksum"]
                    count = db.query(f"SELECT COUNT(*) AS n FROM {name}")[0]["n"]
                    state[("checksum", schema, row["TABLE_NAME"])] = (checksum, count)
        for row in db.query(
            "SELECT TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, "
            "ACTION_ORDER, ACTION_STATEMENT, SQL_MODE, DEFINER FROM information_schema.TRIGGERS "
            "WHERE TRIGGER_SCHEMA LIKE %s", [like]
        ):
            state[("trigger", row.pop("TRIGGER_SCHEMA"), row.pop("TRIGGER_NAME"))] = row
        parameters: dict[tuple[str, str, str], list[tuple]] = {}
        for row in db.query(
            "SELECT SPECIFIC_SCHEMA, SPECIFIC_NAME, ROUTINE_TYPE, ORDINAL_POSITION, PARAMETER_MODE, PARAMETER_NAME, "
            "DTD_IDENTIFIER FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA LIKE %s "
            "ORDER BY SPECIFIC_SCHEMA, SPECIFIC_NAME, ROUTINE_TYPE, ORDINAL_POSITION", [like]
        ):
            key = (row["SPECIFIC_SCHEMA"], row["ROUTINE_TYPE"], row["SPECIFIC_NAME"])
            parameters.setdefault(key, []).append(
                (row["ORDINAL_POSITION"], row["PARAMETER_MODE"], row["PARAMETER_NAME"], row["DTD_IDENTIFIER"]))
        for row in db.query(
            "SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION, DTD_IDENTIFIER, "
            "IS_DETERMINISTIC, SQL_DATA_ACCESS, SECURITY_TYPE, SQL_MODE, DEFINER "
            "FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA LIKE %s", [like]
        ):
            key = (row.pop("ROUTINE_SCHEMA"), row.pop("ROUTINE_TYPE"), row.pop("ROUTINE_NAME"))
            row["PARAMETERS"] = parameters.get(key, [])
            state[("routine", *key)] = row
    return state


def compare_servers(primary: MariaDBServer, replica: MariaDBServer, schemas_like_prefix: str,
                    timeout: float = 30.0) -> list[str]:
    """The differences between two servers for the schemas whose name starts with a prefix.

    When ``replica`` is a :class:`ReplicaServer`, waits first until it caught up with its primary.
    Compared: the list of schemas; per table its SHOW CREATE TABLE text, CHECKSUM TABLE and row count;
    triggers (table, timing, event, order, statement, sql_mode, definer); routines (type, body,
    parameters, characteristics, sql_mode, definer).

    Parameters
    ----------
    primary, replica : MariaDBServer
        Started servers (read as root).
    schemas_like_prefix : str
        Schema-name prefix (matched literally, ``_`` included).
    timeout : float
        Seconds to wait for the replica to catch up.

    Returns
    -------
    list of str
        One line per difference, e.g. ``checksum djt1.t: primary (123, 4) != replica (456, 4)``;
        empty when the servers are equal.
    """
    if isinstance(replica, ReplicaServer):
        replica.wait_caught_up(timeout)
    left = server_state(primary, schemas_like_prefix)
    right = server_state(replica, schemas_like_prefix)
    differences = []
    for key in sorted(set(left) | set(right), key=lambda k: tuple(map(str, k))):
        what = f"{key[0]} {'.'.join(map(str, key[1:]))}".rstrip()
        if key not in right:
            differences.append(f"{what}: only on {primary.name}: {left[key]!r}")
        elif key not in left:
            differences.append(f"{what}: only on {replica.name}: {right[key]!r}")
        elif left[key] != right[key]:
            differences.append(f"{what}: {primary.name} {left[key]!r} != {replica.name} {right[key]!r}")
    return differences


def drop_schemas(server: MariaDBServer, *prefixes: str) -> None:
    """Drop, as root, every schema whose name starts with one of ``prefixes`` (replicated from a primary)."""
    with server.session() as db:
        db.execute("SET SESSION foreign_key_checks = 0")
        for prefix in prefixes:
            for row in db.query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                                [like_prefix(prefix)]):
                db.execute(f"DROP DATABASE IF EXISTS {quote_identifier(row['SCHEMA_NAME'])}")


# -- pytest fixtures (exposed through tests/conftest.py) ----------------------------------------------
def start_or_fail(factory: Callable[[], MariaDBServer]) -> MariaDBServer:
    """Build a server with ``factory`` and start it; on any failure ``pytest.fail`` with the reason (never skip).

    Parameters
    ----------
    factory : callable
        Returns an unstarted :class:`MariaDBServer`.

    Returns
    -------
    MariaDBServer
        Started.
    """
    name = "extra"
    try:
        server = factory()
        name = server.name
        return server.start()
    except (ServerUnavailable, ServerStartError, ReplicaBehind, ServerError, ConnectionFailed, OSError) as exc:
        pytest.fail(f"could not start the {name} test server: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def binlog_primary() -> Iterator[MariaDBServer]:
    """A primary like production: log_bin ON, binlog_format ROW, log_bin_trust_function_creators=0.

    It holds the restricted DBA (``server.dba_settings``) and the DBA whose privileges come through
    a default role (``server.role_dba_settings``).
    """
    server = start_or_fail(lambda: MariaDBServer("primary", server_id=1, log_bin=True, binlog_format="ROW",
                                                 log_bin_trust_function_creators=0))
    try:
        create_dba_user(server, DBA_USER)
        create_dba_user(server, ROLE_DBA_USER, role=DBA_ROLE)
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def binlog_replica(binlog_primary: MariaDBServer) -> Iterator[ReplicaServer]:
    """A replica of ``binlog_primary`` (GTID, started caught up); it holds the same users."""
    server = start_or_fail(lambda: ReplicaServer(binlog_primary, "replica", server_id=2))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def binlog_primary_defaults(binlog_primary: MariaDBServer) -> Iterator[MariaDBServer]:
    """The primary, guaranteed back at its start-up globals (RESET_GLOBALS) before and after the test.

    Use it in any test that runs ``SET GLOBAL`` on the primary.
    """
    binlog_primary.restore_globals()
    yield binlog_primary
    binlog_primary.restore_globals()


@pytest.fixture
def binlog_pair(binlog_primary: MariaDBServer, binlog_replica: ReplicaServer) -> Iterator[
        tuple[MariaDBServer, ReplicaServer]]:
    """(primary, replica): caught up before the test; after it, globals restored, both threads run, caught up.

    The teardown fails loudly (with the replica's last errors) if the test left replication broken.
    """
    binlog_primary.restore_globals()
    binlog_replica.start_replication()
    binlog_replica.wait_caught_up()
    yield binlog_primary, binlog_replica
    binlog_primary.restore_globals()
    binlog_replica.start_replication()
    binlog_replica.wait_caught_up()


@pytest.fixture
def binlog_prefix(binlog_primary: MariaDBServer) -> Iterator[str]:
    """A unique schema prefix ``djt<hex>``; afterwards its schemas and ``djsqlgen_<prefix>…`` are dropped.

    The drop runs on the primary and replicates; nothing is dropped on a replica directly.
    """
    name = f"djt{uuid.uuid4().hex[:8]}"
    yield name
    drop_schemas(binlog_primary, name, f"djsqlgen_{name}")
