"""What the target server can do, as flags the templates read (never version strings)."""

from __future__ import annotations

from dataclasses import dataclass

from djsqlgen.catalog.heading import Server
from djsqlgen.errors import UnsupportedError


@dataclass(frozen=True)
class Dialect:
    flavour: str
    version: tuple[int, ...]
    # The backfill copy's locking read, which never waits for a writer's row lock (backfill_chunk). MariaDB
    # gives up at once with innodb_lock_wait_timeout 0; MySQL's least is 1 s (0 is an error under the files'
    # strict sql_mode), so there the copy reads FOR SHARE NOWAIT (8.0.1+; a locked row fails with 3572).
    share_lock_clause: str
    # MariaDB stores JSON as LONGTEXT with a json_valid CHECK; MySQL has a native JSON type.
    native_json: bool
    # CREATE OR REPLACE TRIGGER replaces a trigger in one step (MariaDB 10.1.4+); MySQL has no such form,
    # so a trigger from another plan is dropped first (only while v2 is still empty: nothing is missed), and
    # every trigger is created IF NOT EXISTS (MySQL 8.0.29+, the oldest supported).
    create_or_replace_trigger: bool = False
    # BEGIN NOT ATOMIC … END runs a compound statement outside a stored program (MariaDB 10.1.1+): refusals
    # use SIGNAL there. MySQL has none: a refusal sets sql_mode to its own text, which fails with error 1231.
    anonymous_blocks: bool = False
    # MariaDB 10.11 records an explicit RESTRICT as NO ACTION when a foreign key is added with
    # ALGORITHM=INPLACE (foreign_key_checks=0), but records RESTRICT when the clause is left out (its default).
    # The rule then reads as v1's; InnoDB enforces both the same way.
    restrict_clause_omitted: bool = False
    # innodb_lock_wait_timeout of a backfill chunk: no wait at all where the server allows it.
    chunk_lock_wait_s: int = 0
    # The backfill copy finds its own chunk's end: it copies the next rows in key order (ORDER BY … LIMIT n) and
    # keeps the key of each row it reads in session variables (an assignment in its WHERE), so every row is read
    # once. MySQL deprecates assignments inside expressions (8.0.13+, "User-Defined Variables" in the manual: a
    # warning each time): there the chunk's end is found first by a read of the keys ahead (the walk).
    copy_finds_chunk_end: bool = False
    # lock_wait_timeout of 70's DDL (metadata locks): no wait at all where the server allows it (MySQL's least is 1).
    # A DDL that waits for a writer's transaction makes that writer the victim of any metadata-lock deadlock (the
    # server always chooses the DML); one that gives up at once never does, and `djsqlgen apply` retries it.
    ddl_lock_wait_s: int = 0

    @property
    def is_mariadb(self) -> bool:
        return self.flavour == "mariadb"


def dialect_for(server: Server) -> Dialect:
    """Capabilities of ``server``; refuses servers older than the supported ones by name."""
    version = server.version_tuple
    if server.flavour == "mariadb":
        if version < (10, 6):
            raise UnsupportedError(f"MariaDB {server.version} is older than 10.6, the oldest supported; upgrade")
        return Dialect("mariadb", version, "LOCK IN SHARE MODE", False, create_or_replace_trigger=True,
                       anonymous_blocks=True, restrict_clause_omitted=True, copy_finds_chunk_end=True)
    if version < (8, 0, 29):
        # Before 8.0.29 MySQL has no CREATE TRIGGER IF NOT EXISTS, and no other way to make the files that
        # create triggers safe to run twice (CREATE TRIGGER cannot run in a procedure or a prepared statement).
        raise UnsupportedError(f"MySQL {server.version} is older than 8.0.29, the oldest supported (CREATE TRIGGER "
                               "IF NOT EXISTS); upgrade")
    return Dialect("mysql", version, "FOR SHARE NOWAIT", True, chunk_lock_wait_s=1, ddl_lock_wait_s=1)
