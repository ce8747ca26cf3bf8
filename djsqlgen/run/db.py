"""The only module that talks to the server: connect, run statements, map driver errors to ours."""

from __future__ import annotations

import importlib
import ipaddress
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from djsqlgen.errors import ApplyError, ConnectionFailed
from djsqlgen.run.settings import ConnectionSettings


class _NotYet:
    """A finder (sys.meta_path) that refuses cryptography while PyMySQL loads (see _import_pymysql)."""

    def find_spec(self, name, path=None, target=None):
        if name == "cryptography" or name.startswith("cryptography."):
            raise ImportError(f"{name}: loaded when an auth plugin needs it")
        return None


def _import_pymysql():
    """PyMySQL, with cryptography loaded on first use. PyMySQL imports cryptography as it loads (about 30 ms of the
    backfill's 0.12 s start-up) for one thing: encrypting the password with the server's RSA key, which MySQL's
    sha256_password and caching_sha2_password ask for over a connection without TLS. Its one function that does
    that (``_auth.sha2_rsa_encrypt``) imports it here when first called; a PyMySQL without that function gets
    cryptography at once, as it always did."""
    if "cryptography" in sys.modules or "pymysql" in sys.modules:
        import pymysql
        return pymysql
    finder = _NotYet()
    sys.meta_path.insert(0, finder)
    try:
        import pymysql
        import pymysql.cursors
    finally:
        sys.meta_path.remove(finder)
    from pymysql import _auth

    encrypt = getattr(_auth, "sha2_rsa_encrypt", None)
    if encrypt is None or getattr(_auth, "_have_cryptography", None) is not False:
        importlib.reload(_auth)
        return pymysql

    def sha2_rsa_encrypt(password, salt, public_key):
        if not _auth._have_cryptography:
            try:
                from cryptography.hazmat.backends import default_backend
                from cryptography.hazmat.primitives import hashes, serialization
                from cryptography.hazmat.primitives.asymmetric import padding
            except ImportError:
                pass  # not installed: PyMySQL's own error says so
            else:
                vars(_auth).update(default_backend=default_backend, hashes=hashes, serialization=serialization,
                                   padding=padding, _have_cryptography=True)
        return encrypt(password, salt, public_key)

    _auth.sha2_rsa_encrypt = sha2_rsa_encrypt
    return pymysql


pymysql = _import_pymysql()
import pymysql.cursors  # noqa: E402  (loaded above, named here)

# Client-side error numbers of the driver that mean "could not reach or log in".
_CANNOT_CONNECT = {2003: "connection refused or timed out", 2005: "unknown host", 2013: "connection lost"}
ACCESS_DENIED = 1045
SECURE_TRANSPORT_REQUIRED = 3159
DB_ACCESS_DENIED = 1044
TABLE_ACCESS_DENIED = 1142


class ServerError(Exception):
    """A statement failed on the server; carries the server's error number."""

    def __init__(self, errno: int, message: str):
        self.errno = errno
        self.message = message
        super().__init__(f"({errno}) {message}")


def _errno_of(exc: Exception) -> int:
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0


class Database:
    """One connection, counting round trips (the inspect benchmark reports them)."""

    def __init__(self, connection: pymysql.connections.Connection, settings: ConnectionSettings):
        self._connection = connection
        self.settings = settings
        self.round_trips = 0

    # -- statements -------------------------------------------------------------------------
    def query(self, sql: str, args: Sequence[Any] | dict | None = None) -> list[dict[str, Any]]:
        """Run one statement and return its rows as dicts (an empty list when it returns none)."""
        self.round_trips += 1
        try:
            with self._connection.cursor(pymysql.cursors.DictCursor) as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall()) if cursor.description else []
        except pymysql.MySQLError as exc:
            raise ServerError(_errno_of(exc), str(exc.args[1] if len(exc.args) > 1 else exc)) from exc

    def execute(self, sql: str, args: Sequence[Any] | dict | None = None) -> int:
        """Run one statement, draining any result sets (a CALL may return several); return affected rows."""
        self.round_trips += 1
        try:
            with self._connection.cursor() as cursor:
                affected = cursor.execute(sql, args)
                while cursor.nextset():
                    pass
                return affected
        except pymysql.MySQLError as exc:
            raise ServerError(_errno_of(exc), str(exc.args[1] if len(exc.args) > 1 else exc)) from exc

    def call_results(self, sql: str, each: Callable[[list[dict[str, Any]]], None] | None = None
                     ) -> list[list[dict[str, Any]]]:
        """Run a CALL and return every result set it produced, as lists of dict rows; ``each`` sees each set as
        it arrives (a procedure's progress lines, while it still runs)."""
        self.round_trips += 1
        results: list[list[dict[str, Any]]] = []
        try:
            with self._connection.cursor(pymysql.cursors.DictCursor) as cursor:
                cursor.execute(sql)
                while True:
                    if cursor.description:
                        results.append(list(cursor.fetchall()))
                        if each is not None:
                            each(results[-1])
                    if not cursor.nextset():
                        break
        except pymysql.MySQLError as exc:
            raise ServerError(_errno_of(exc), str(exc.args[1] if len(exc.args) > 1 else exc)) from exc
        return results

    @property
    def thread_id(self) -> int:
        """The server's id of this connection (what KILL takes)."""
        return self._connection.thread_id()

    def close(self) -> None:
        try:
            self._connection.close()
        except pymysql.MySQLError:
            pass

    def __enter__(self):  # -> Self (typing.Self needs Python 3.11)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def query_each_schema(db: Database, sql: str, schemas) -> list[dict[str, Any]]:
    """``sql`` (one ``%s``: a schema name) run once for each schema: information_schema answers a query naming its
    schema in a few milliseconds, where one that matches schemas row by row (a join, or an IN list) opens every
    table of the server."""
    return [r for schema in sorted(set(schemas)) for r in db.query(sql, [schema])]

def on_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (localhost, 127.0.0.0/8, ::1): traffic that never leaves it."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name
        return False


def connect(settings: ConnectionSettings, database: str | None = None) -> Database:
    """Open a connection in autocommit mode, or raise ConnectionFailed naming host and user.

    TLS as PyMySQL does it (used when the server offers it), except on the loopback unless DataJoint's use_tls asks
    for it there: what never leaves the machine needs no encryption, and building a TLS context (the system's
    certificates read) was 17-48 ms of every command's start-up. use_tls false turns it off everywhere, as it
    does for DataJoint."""
    no_tls = settings.use_tls is False or (settings.use_tls is None and on_loopback(settings.host))

    def open_connection(without_tls: bool):
        return pymysql.connect(host=settings.host, port=settings.port, user=settings.user, password=settings.password,
                               database=database, autocommit=True, charset="utf8mb4", connect_timeout=10,
                               ssl_disabled=without_tls)

    try:
        try:
            connection = open_connection(no_tls)
        except pymysql.MySQLError as exc:
            # a server with require_secure_transport refuses a loopback TCP connection without TLS (3159; MariaDB
            # before 11.4 says 1045): when TLS was left out only for speed, the connection tries again with it
            if not (no_tls and settings.use_tls is None and _errno_of(exc) in (SECURE_TRANSPORT_REQUIRED,
                                                                               ACCESS_DENIED)):
                raise
            connection = open_connection(False)
    except pymysql.MySQLError as exc:
        errno = _errno_of(exc)
        if errno == ACCESS_DENIED:
            reason = "access denied (wrong user or password)"
        else:
            reason = _CANNOT_CONNECT.get(errno) or str(exc.args[-1] if exc.args else exc)
        raise ConnectionFailed(
            f"cannot connect to the MySQL server at {settings.host}:{settings.port} as user "
            f"{settings.user!r}: {reason}. Check --host/--port/--user/--password (or DJ_HOST, DJ_PORT, "
            f"DJ_USER, DJ_PASS)."
        ) from None
    return Database(connection, settings)


@contextmanager
def connected(settings: ConnectionSettings) -> Iterator[Database]:
    """``with connected(settings) as db:`` — closes the connection however the block ends."""
    db = connect(settings)
    try:
        yield db
    finally:
        db.close()


def as_apply_error(exc: ServerError, statement_id: str | None) -> ApplyError:
    """Turn a server error into the error a user sees, keeping the statement id and errno."""
    return ApplyError(exc.message, statement_id=statement_id, errno=exc.errno)
