"""Helpers of the safety tests (ownership, refusals, cut-over, re-apply, constraints, apply order).

Independent of djsqlgen's own bookkeeping: what is on the server is read from information_schema, CHECKSUM
TABLE and SHOW CREATE, the way a DBA would check it.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from djsqlgen.run.db import Database, ServerError, connect
from djsqlgen.run.settings import ConnectionSettings
from support.scenario import PHASES, Scenario
from support.servers import like_prefix, server_state

REFUSED = "djsqlgen refused"


class On:
    """Anything with connection settings, shaped like a test server for ``server_state``."""

    name = "server"

    def __init__(self, settings: ConnectionSettings):
        self.settings = settings

    @contextmanager
    def session(self, user: str = "root", database: str | None = None) -> Iterator[Database]:
        db = connect(self.settings, database)
        try:
            yield db
        finally:
            db.close()


def state(settings: ConnectionSettings, prefix: str) -> dict[tuple[str, ...], Any]:
    """Schemas, table definitions and checksums, triggers and routines of every schema starting with ``prefix``."""
    return server_state(On(settings), prefix)


def state_difference(before: dict, after: dict) -> list[str]:
    """What changed between two ``state`` snapshots, one line each (empty: nothing)."""
    out = []
    for key in sorted(set(before) | set(after), key=lambda k: tuple(map(str, k))):
        if key not in after:
            out.append(f"gone: {key}")
        elif key not in before:
            out.append(f"new: {key}")
        elif before[key] != after[key]:
            old, new = before[key], after[key]
            if isinstance(old, dict) and isinstance(new, dict):
                old = {k: v for k, v in old.items() if new.get(k) != v}
                new = {k: new.get(k) for k in old}
            out.append(f"changed: {key}: {str(old)[:300]} -> {str(new)[:300]}")
    return out


def env_for(settings: ConnectionSettings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DJ_HOST=settings.host, DJ_PORT=str(settings.port), DJ_USER=settings.user, DJ_PASS=settings.password)
    return env


def client(settings: ConnectionSettings, path: Path, init_command: str | None = None,
           variables: str = "") -> subprocess.CompletedProcess:
    """The stock ``mariadb`` client running ``path`` (``variables``: SQL run first, in the same session)."""
    command = ["mariadb", f"--host={settings.host}", f"--port={settings.port}", f"--user={settings.user}", "--batch"]
    if settings.password:
        command.append(f"--password={settings.password}")
    if init_command:
        command.append(f"--init-command={init_command}")
    text = (variables + "\n" if variables else "") + path.read_text(encoding="utf-8")
    return subprocess.run(command, input=text, capture_output=True, text=True, check=False)


def applied(scenario: Scenario, *names: str, init_command: str | None = None, variables: str = "") -> None:
    """Apply phase files with the stock client; any failure fails the test with the client's message."""
    for name in names:
        result = client(scenario.db.settings, scenario.out / f"{name}.sql", init_command, variables)
        assert result.returncode == 0, f"{name}.sql failed with the stock client:\n{result.stderr[-1500:]}"


def refused(scenario: Scenario, name: str, *, stock: bool = True, init_command: str | None = None) -> str:
    """Apply one file that must refuse: non-zero exit and a djsqlgen refusal naming the file; its message."""
    if stock:
        result = client(scenario.db.settings, scenario.out / f"{name}.sql", init_command)
    else:
        result = scenario.apply(name, check=False)
    assert result.returncode != 0, f"{name}.sql was expected to refuse but succeeded:\n{result.stdout[-2000:]}"
    file = name.split("/")[-1] + ".sql"
    assert f"{REFUSED} " in result.stderr and file in result.stderr, (
        f"{name}.sql failed, but not with a djsqlgen refusal naming {file}:\n{result.stderr}")
    if stock:
        assert "ERROR 1644" in result.stderr, result.stderr  # the SIGNAL of an anonymous block
        # The client prints the statement that failed before the reason: the one-line SIGNAL, not the checks.
        before = [line for line in result.stderr.split("ERROR 1644")[0].splitlines() if line.strip("- ")]
        assert len(before) == 1 and "SIGNAL" in before[0] and "SELECT" not in before[0], (
            f"the client printed more than the refusal's one line:\n{result.stderr[:3000]}")
    return result.stderr


def djsqlgen_leftovers(db: Database, prefix: str) -> list[str]:
    """Triggers, routines and events on the server whose name or schema says djsqlgen (in ``prefix`` schemas)."""
    like = like_prefix(prefix)
    out = [f"trigger {r['s']}.{r['n']}" for r in db.query(
        "SELECT TRIGGER_SCHEMA AS s, TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA LIKE %s "
        "OR TRIGGER_NAME LIKE 'djsqlgen%%' AND EVENT_OBJECT_SCHEMA LIKE %s", [like, like])]
    out += [f"routine {r['s']}.{r['n']}" for r in db.query(
        "SELECT ROUTINE_SCHEMA AS s, ROUTINE_NAME AS n FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA LIKE %s",
        [like])]
    return out


def schemas(db: Database, prefix: str) -> list[str]:
    return [r["SCHEMA_NAME"] for r in db.query(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s ORDER BY 1",
        [like_prefix(prefix)])]


def tables(db: Database, schema: str) -> list[str]:
    return [r["TABLE_NAME"] for r in db.query(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s ORDER BY 1", [schema])]


def triggers(db: Database, schema: str) -> dict[str, str]:
    """Trigger name → ACTION_STATEMENT of the triggers in ``schema``."""
    return {r["TRIGGER_NAME"]: r["ACTION_STATEMENT"] for r in db.query(
        "SELECT TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s", [schema])}


def table_fingerprint(db: Database, schema: str, table: str) -> tuple:
    """(SHOW CREATE TABLE, CHECKSUM TABLE EXTENDED, every row in key order): the table, byte for byte."""
    name = f"`{schema}`.`{table}`"
    create = db.query(f"SHOW CREATE TABLE {name}")[0]["Create Table"]
    checksum = db.query(f"CHECKSUM TABLE {name} EXTENDED")[0]["Checksum"]
    rows = [tuple(r.values()) for r in db.query(f"SELECT * FROM {name} ORDER BY 1, 2")]
    return create, checksum, rows


def migration_hash(scenario: Scenario) -> str:
    import json

    return json.loads((scenario.out / "manifest.json").read_text())["migration_hash"]


def errno_and_message(db: Database, sql: str, args=None) -> tuple[int, str]:
    """(0, '') when ``sql`` succeeds, else the server's error number and message."""
    try:
        db.execute(sql, args)
    except ServerError as exc:
        return exc.errno, exc.message
    return 0, ""


def error_of(db: Database, sql: str) -> ServerError:
    """The server error ``sql`` fails with; the test fails if it succeeds."""
    try:
        db.execute(sql)
    except ServerError as exc:
        return exc
    raise AssertionError(f"expected a server error, but this succeeded: {sql}")


def steps(conn: Database, statements: list[tuple[str, Any]], failures: list) -> None:
    """Run (sql, args) pairs on ``conn``: one client's steps of an interleaving (often in a thread of its own). A
    server error ends them and is kept in ``failures`` as (errno, message)."""
    try:
        for sql, args in statements:
            conn.execute(sql, args)
    except ServerError as exc:
        failures.append((exc.errno, exc.message))


class Writer(threading.Thread):
    """Inserts rows ``(id, note)`` into a table every ``every_ms`` on its own connection until stopped.

    ``ok`` lists the ids whose INSERT reported success; ``failed`` lists (id, errno, message) of the others;
    ``started`` maps each id to the moment (time.monotonic) its INSERT was sent.
    """

    def __init__(self, settings: ConnectionSettings, schema: str, table: str, first_id: int,
                 every_ms: float = 3.0, statement: str | None = None):
        super().__init__(daemon=True)
        self.settings = settings
        self.schema = schema
        self.table = table
        self.next_id = first_id
        self.every = every_ms / 1000
        self.statement = statement or f"INSERT INTO `{schema}`.`{table}` (id, note) VALUES (%s, %s)"
        self.ok: list[int] = []
        self.failed: list[tuple[int, int, str]] = []
        self.started: dict[int, float] = {}
        self.stop_at: float | None = None
        self._halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with connect(self.settings) as db:
                db.execute("SET SESSION innodb_lock_wait_timeout = 20")
                while not self._halt.is_set():
                    i = self.next_id
                    self.next_id += 1
                    self.started[i] = time.monotonic()
                    try:
                        db.execute(self.statement, [i, f"w{i}"])
                        self.ok.append(i)
                    except ServerError as exc:
                        self.failed.append((i, exc.errno, exc.message))
                    time.sleep(self.every)
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc

    def stop(self) -> None:
        self._halt.set()
        self.join(60)
        assert not self.is_alive(), "the writer did not stop"
        if self.error:
            raise self.error

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# A small v1: a parent, a child with a foreign key, and a table without relations (the writers' table).
V1 = """
CREATE TABLE parent (pid int NOT NULL, name varchar(16) NOT NULL, PRIMARY KEY (pid)) ENGINE=InnoDB;
CREATE TABLE child (pid int NOT NULL, cid int NOT NULL, note varchar(16) NULL, PRIMARY KEY (pid, cid),
  CONSTRAINT child_parent FOREIGN KEY (pid) REFERENCES parent (pid) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB;
CREATE TABLE event (id int NOT NULL, note varchar(16) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB;
INSERT INTO parent VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');
INSERT INTO child VALUES (1, 1, 'x'), (1, 2, NULL), (2, 1, 'y'), (3, 7, 'z');
INSERT INTO event VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four'), (5, 'five')
"""
V1_TABLES = ("parent", "child", "event")


def inventory(db: Database, prefix: str) -> set[tuple[str, str, str]]:
    """Every schema, table, trigger and routine of the ``prefix`` schemas as (kind, schema, name)."""
    like = like_prefix(prefix)
    out = {("schema", s, s) for s in schemas(db, prefix)}
    out |= {("table", r["s"], r["n"]) for r in db.query(
        "SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA LIKE %s", [like])}
    out |= {("trigger", r["s"], r["n"]) for r in db.query(
        "SELECT TRIGGER_SCHEMA AS s, TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA LIKE %s",
        [like])}
    out |= {("routine", r["s"], r["n"]) for r in db.query(
        "SELECT ROUTINE_SCHEMA AS s, ROUTINE_NAME AS n FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA LIKE %s",
        [like])}
    return out


def recorded(db: Database, control: str) -> set[tuple[str, str, str]]:
    """What the control schema's ``objects`` table says djsqlgen created (empty when there is none)."""
    try:
        return {(r["kind"], r["schema_name"], r["object_name"]) for r in db.query(
            f"SELECT kind, schema_name, object_name FROM `{control}`.`objects`")}
    except ServerError:
        return set()


# Commands FastScenario runs in this process: each runs start to end on connections it opens and closes itself.
IN_PROCESS = (("plan", "init"), ("generate",), ("backfill",), ("verify",), ("status",))


class FastScenario(Scenario):
    """A Scenario whose ``plan init``, ``generate``, ``backfill``, ``verify`` and ``status`` run in this process
    (the same click commands, with the command line's exit statuses and messages, without the start-up and
    imports of a new interpreter: 0.4 s a command on a loaded 2-core machine), whose files are applied with the
    stock client, and whose plans walk v1 in chunks of 2 rows (so that every procedure loops on these small
    tables)."""

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        if not any(args[:len(command)] == command for command in IN_PROCESS):
            return super().run(*args, check=check)
        from click.testing import CliRunner

        from djsqlgen.cli import cli
        from djsqlgen.errors import DjsqlgenError

        dj_variables = {k: v for k, v in self.env.items() if k.startswith("DJ_")}  # what djsqlgen reads of it
        result = CliRunner().invoke(cli, list(args), env=dj_variables, catch_exceptions=True)
        stderr, code = result.stderr, result.exit_code
        # what djsqlgen.cli.main prints and returns for the failures it expects; anything else is a bug: raised
        if isinstance(result.exception, DjsqlgenError):
            stderr, code = stderr + f"djsqlgen: error: {result.exception}\n", result.exception.exit_status
        elif isinstance(result.exception, ServerError):
            stderr, code = stderr + f"djsqlgen: server error {result.exception.errno}: {result.exception.message}\n", 1
        elif result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        completed = subprocess.CompletedProcess(list(args), code, result.stdout, stderr)
        if check and code != 0:
            raise AssertionError(f"djsqlgen {' '.join(args)} failed ({code}):\n{result.stdout}\n{stderr}")
        return completed

    def plan(self, edit=None, name=None) -> dict:
        def small_chunks(plan: dict) -> None:
            plan["chunk"] = {"rows": 2, "sleep_ms": 0, "verify_rows": 3}
            if edit:
                edit(plan)

        return super().plan(small_chunks, name)

    def open_at_60(self, chunk_rows: int = 3) -> None:
        """00 to 30 with the stock client, the backfill (the command, ``chunk_rows`` a chunk), then 60:
        where a two-way plan starts syncing both ways."""
        applied(self, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
        self.backfill(chunk_rows=chunk_rows)
        applied(self, "60_constraints")

    def forward(self, last: str, first: str = "00_preflight", init_command: str | None = None) -> None:
        """Apply the forward files from ``first`` to ``last`` with the stock client (40 and 50 included)."""
        applied(self, *PHASES[PHASES.index(first): PHASES.index(last) + 1], init_command=init_command)


def rows_copied(scenario: Scenario) -> int:
    """Rows the backfill has recorded as copied, over every table of the plan."""
    return int(scenario.db.query(f"SELECT COALESCE(SUM(rows_copied), 0) AS n FROM `{scenario.control}`.progress")[0]["n"])
