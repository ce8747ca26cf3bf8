"""What the benches share: a connection as the command line makes it (DJ_HOST, DJ_USER, DJ_PASS, DJ_PORT, else
root on localhost), one statement, and a timed `djsqlgen` command. Not collected by pytest (bench/ is outside
testpaths)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pymysql


def connect():
    return pymysql.connect(host=os.environ.get("DJ_HOST", "127.0.0.1"), user=os.environ.get("DJ_USER", "root"),
                           password=os.environ.get("DJ_PASS", ""), port=int(os.environ.get("DJ_PORT", "3306")),
                           autocommit=True)


def run(db, sql: str):
    """One statement; its rows, if it returns any."""
    with db.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def djsqlgen(*args: str, work: Path, code: str | None = None) -> float:
    """``djsqlgen ARGS`` in ``work`` (``code``: another copy of djsqlgen's source to run instead, e.g. a baseline
    commit unpacked by ``git archive``); its wall time in seconds. A failure ends the bench with its output."""
    started = time.monotonic()
    # Python's byte code cached as an installed djsqlgen has it (a shell may say not to write it: each start would
    # then compile every module again)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if code:
        env["PYTHONPATH"] = code
    result = subprocess.run([sys.executable, "-m", "djsqlgen", *args], cwd=work, capture_output=True, text=True,
                            check=False, env=env)
    if result.returncode != 0:
        raise SystemExit(f"djsqlgen {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return time.monotonic() - started


# -- the databases a bench uses: its own, never someone else's ------------------------------------------------
MARKER = "djsqlgen_bench_owner"  # a procedure in every database a bench creates


def _rows(db, sql: str, args=None) -> list[tuple]:
    """Rows as tuples, from a pymysql connection or djsqlgen's Database."""
    if not isinstance(db, pymysql.connections.Connection):  # djsqlgen's Database
        return [tuple(r.values()) for r in db.query(sql, args)]
    with db.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def _exec(db, sql: str) -> None:
    if not isinstance(db, pymysql.connections.Connection):
        db.execute(sql)
    else:
        run(db, sql)


def _owned(db, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` exist, each made by a bench: it holds the marker, or djsqlgen made it for a bench's plan
    (a control schema among ``names``, or a schema recorded as created in one). Stops the bench, having dropped
    nothing, when one of them exists and is someone else's."""
    present = [n for n in names if _rows(db, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [n])]
    controls = [n for n in present if len(_rows(db, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                                               "AND TABLE_NAME IN ('objects', 'phase_log')", [n])) == 2]
    recorded = {r[0] for c in controls for r in _rows(
        db, f"SELECT schema_name FROM `{c}`.`objects` WHERE kind = 'schema'")}
    for name in present:
        marked = _rows(db, "SELECT 1 FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s AND ROUTINE_NAME = %s",
                       [name, MARKER])
        if not (marked or name in controls or name in recorded):
            raise SystemExit(f"bench: database {name} exists and no bench made it (no {MARKER} procedure, not "
                             "recorded by a bench's migration); it is left alone: drop it yourself if it is yours")
    return present


def drop_own(db, *names: str) -> None:
    """Drop those of ``names`` that exist, after checking that a bench made every one of them."""
    owned = _owned(db, names)
    _exec(db, "SET SESSION foreign_key_checks = 0")
    for name in owned:
        _exec(db, f"DROP DATABASE `{name}`")
    _exec(db, "SET SESSION foreign_key_checks = 1")


def create_own(db, name: str, options: str = "") -> None:
    """CREATE DATABASE ``name`` (``options``: its character set) marked as a bench's; an earlier bench run's copy is
    dropped first, someone else's database of that name stops the bench."""
    drop_own(db, name)
    _exec(db, f"CREATE DATABASE `{name}` {options}".rstrip())
    _exec(db, f"CREATE PROCEDURE `{name}`.`{MARKER}`() COMMENT 'made by a djsqlgen bench; it drops this database' "
              "DO 0")


def mark_own(db, name: str) -> None:
    """Mark ``name``, which this run has just had another tool create (it was checked absent or a bench's before),
    as a bench's, so that ``drop_own`` drops it."""
    if _rows(db, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [name]) and not _rows(
            db, "SELECT 1 FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s AND ROUTINE_NAME = %s",
            [name, MARKER]):
        _exec(db, f"CREATE PROCEDURE `{name}`.`{MARKER}`() COMMENT 'made by a djsqlgen bench; it drops this "
                  "database' DO 0")


# -- the server's own CPU time for one piece of work: steadier than wall time on a shared machine ------------------
def _server_threads() -> dict[str, int] | None:
    """CPU ticks of each thread of a mariadbd/mysqld on this machine (None when there is none to read)."""
    import glob

    for comm in glob.glob("/proc/[0-9]*/comm"):
        try:
            name = Path(comm).read_text().strip()
        except OSError:
            continue
        if name in ("mariadbd", "mysqld"):
            ticks = {}
            for stat in glob.glob(str(Path(comm).parent / "task" / "*" / "stat")):
                try:
                    fields = Path(stat).read_text().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                ticks[stat] = int(fields[11]) + int(fields[12])  # utime + stime
            return ticks
    return None


class ServerCpu:
    """``with ServerCpu() as cpu: …``; then ``cpu.seconds``: the CPU time of the server thread that worked most
    meanwhile (one connection's statements run on one thread: the work measured, when it is the busiest), or
    None when the server is not on this machine. Others' queries on other threads do not count."""

    def __enter__(self):
        self._before = _server_threads()
        self.seconds = None
        return self

    def __exit__(self, *exc_info) -> None:
        after = _server_threads()
        if self._before is None or after is None:
            return
        busiest = max((ticks - self._before.get(t, 0) for t, ticks in after.items()), default=0)
        self.seconds = busiest / os.sysconf("SC_CLK_TCK")
