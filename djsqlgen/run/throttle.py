"""Pacing of the backfill: when it waits (replicas behind, the server busy) and how big its chunks are.

Replica lag: a heartbeat row the backfill keeps fresh on the primary, read on each replica.

The backfill writes ``NOW(6)`` into ``<control>.heartbeat`` before a chunk (at most every 0.5 s while the
replicas keep up) and while it waits; the row reaches each replica through replication, so a replica's lag is
its own clock minus the heartbeat it holds (pt-heartbeat's method: it assumes the servers' clocks agree, as NTP
keeps them). Reading it is a plain SELECT, which a DBA without SUPER or SLAVE MONITOR may run. Where the user
may, ``SHOW REPLICA STATUS`` (MariaDB 10.5+, MySQL 8.0.22+), else ``SHOW SLAVE STATUS`` (older servers; MySQL 8.4
dropped it), also tells a stopped SQL thread at once.

Load: status counters of the primary (``Threads_running`` as pt-online-schema-change reads it): above
``--max-load`` the copy waits, at ``--critical-load`` it stops cleanly (resumable).

Chunk size: adapted to a target chunk time, as pt-online-schema-change's --chunk-time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from djsqlgen.errors import DjsqlgenError, JobStopped
from djsqlgen.engines.chunk_sizing import MAX_CHUNK_ROWS, POOL_SHARE
from djsqlgen.run.db import Database, ServerError, connect
from djsqlgen.run.settings import ConnectionSettings
from djsqlgen.sqltext.quoting import quote_qualified

POLL_S = 0.25
BEAT_EVERY_S = 0.5  # while replicas keep up, the heartbeat is written and read at most this often
LOST = (2003, 2006, 2013)  # cannot connect, server gone, connection lost: a replica restarting
NOT_ALLOWED = (1044, 1142, 1227)


def parse_dsn(dsn: str) -> ConnectionSettings:
    """``mysql://user:password@host:port`` (password and port optional) as connection settings."""
    url = urlparse(dsn)
    shown = f"{url.scheme}://{url.hostname or ''}"  # never the password
    try:
        port = url.port
    except ValueError:  # e.g. a / # ? in the password, not percent-encoded
        port = -1
    if url.scheme not in ("mysql", "mariadb") or not url.hostname or port == -1:
        raise DjsqlgenError(f"a replica is given as mysql://user:password@host:port (percent-encode / # ? @ in the "
                            f"password), not {shown}…")
    return ConnectionSettings(host=url.hostname, port=port or 3306, user=unquote(url.username or ""),
                              password=unquote(url.password or ""))


@dataclass
class Replica:
    settings: ConnectionSettings
    db: Database | None = None
    status_readable: bool = True  # until SHOW REPLICA STATUS is refused (no SUPER / SLAVE MONITOR)

    @property
    def label(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"


def parse_load(text: str | None, option: str) -> dict[str, int]:
    """``Threads_running=25[,Threads_connected=400]`` (pt-online-schema-change's form) as {counter: limit}."""
    limits = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        if not name.strip() or not value.strip().isdigit():
            raise DjsqlgenError(f"{option} takes STATUS_VARIABLE=N[,…], e.g. Threads_running=25, not {text!r}")
        limits[name.strip()] = int(value)
    return limits


class LoadCritical(JobStopped):
    """The server crossed --critical-load: the job stopped after its last chunk (resumable)."""


@dataclass
class Throttle:
    """Waits before a chunk while any replica is more than ``max_lag_s`` behind the heartbeat or a status
    counter is above ``max_load``; stops at ``critical_load``."""

    control: str
    replicas: list[Replica] = field(default_factory=list)
    max_lag_s: float = 1.5
    max_load: dict[str, int] = field(default_factory=dict)
    critical_load: dict[str, int] = field(default_factory=dict)
    _beats: list = field(default_factory=list)  # the heartbeats written in this run, oldest first
    _replicas_clear_until: float = 0.0  # replicas were found keeping up: not asked again before this (monotonic)

    @classmethod
    def from_options(cls, control: str, dsns: tuple[str, ...] = (), max_lag_s: float = 1.5,
                     max_load: str | None = None, critical_load: str | None = None) -> Throttle:
        return cls(control, [Replica(parse_dsn(d)) for d in dsns], max_lag_s,
                   parse_load(max_load, "--max-load"), parse_load(critical_load, "--critical-load"))

    def _load(self, primary: Database) -> str | None:
        """Why the server is too busy to copy now (or None); raises LoadCritical past a critical limit."""
        names = sorted(set(self.max_load) | set(self.critical_load))
        if not names:
            return None
        rows = primary.query("SHOW GLOBAL STATUS WHERE Variable_name IN (" + ", ".join(["%s"] * len(names)) + ")",
                             names)
        values = {}
        for r in rows:
            try:
                values[r["Variable_name"].lower()] = int(float(r["Value"]))
            except ValueError:
                raise DjsqlgenError(f"status counter {r['Variable_name']} is {r['Value']!r}, not a number: it "
                                    "cannot be a --max-load/--critical-load limit") from None
        for name in names:
            value = values.get(name.lower())
            if value is None:
                raise DjsqlgenError(f"the server has no status counter {name} (--max-load/--critical-load)")
            if name in self.critical_load and value >= self.critical_load[name]:
                raise LoadCritical(f"{name}={value} reached --critical-load {name}={self.critical_load[name]}")
            if name in self.max_load and value > self.max_load[name]:
                return f"{name}={value} is above --max-load {name}={self.max_load[name]}"
        return None

    @property
    def _table(self) -> str:
        return quote_qualified((self.control, "heartbeat"))

    def beat(self, primary: Database):
        """A new heartbeat: the primary's UTC time, remembered here with the order it was written in; returned."""
        now = primary.query("SELECT UTC_TIMESTAMP(6) AS now")[0]["now"]
        primary.execute(f"INSERT INTO {self._table} (id, ts) VALUES (1, %s) ON DUPLICATE KEY UPDATE ts = VALUES(ts)",
                        [now])
        self._beats.append(now)
        del self._beats[:-1000]
        return now

    def _lag(self, held, primary_now) -> float:
        """How far behind a replica holding the heartbeat ``held`` is, on the primary's clock alone: it has
        not applied the first beat written after ``held``, so it is at least that beat's age behind (0 when it
        holds the newest). No two servers' clocks or time zones are compared."""
        later = [b for b in self._beats if held is None or b > held]
        return 0.0 if not later else (primary_now - later[0]).total_seconds()

    def behind(self, primary_now) -> str | None:
        """Why the copy must wait (the first replica too far behind, and by how much), or None; ``primary_now``:
        the primary's UTC time, that of the beat just written."""
        for replica in self.replicas:
            try:
                if replica.db is None:
                    replica.db = connect(replica.settings)
                stopped = self._sql_thread_stopped(replica)
                if stopped:
                    return f"replica {replica.label}: {stopped}"
                rows = replica.db.query(f"SELECT ts FROM {self._table} WHERE id = 1")
            except ServerError as exc:
                if exc.errno in (1049, 1146):  # the control schema has not reached it yet
                    rows = []
                elif exc.errno in LOST:
                    replica.db = None
                    return f"replica {replica.label} is unreachable ({exc.errno}); waiting for it"
                else:
                    raise
            except DjsqlgenError as exc:  # connect() failed
                replica.db = None
                return f"replica {replica.label} is unreachable ({exc}); waiting for it"
            lag = self._lag(rows[0]["ts"] if rows else None, primary_now)
            if lag > self.max_lag_s:
                return f"replica {replica.label} is {lag:.1f} s behind (--max-lag {self.max_lag_s:g})"
        return None

    @staticmethod
    def _sql_thread_stopped(replica: Replica) -> str | None:
        if not replica.status_readable:
            return None
        for statement in ("SHOW REPLICA STATUS", "SHOW SLAVE STATUS"):
            try:
                rows = replica.db.query(statement)
            except ServerError as exc:
                if exc.errno == 1064:  # this server knows only the other spelling
                    continue
                if exc.errno in NOT_ALLOWED:  # no SLAVE MONITOR: the heartbeat alone tells the lag
                    replica.status_readable = False
                    return None
                raise
            if not rows:
                return None  # not a replica of anything: only the heartbeat can tell
            row = rows[0]
            sql = row.get("Replica_SQL_Running", row.get("Slave_SQL_Running"))
            return "its SQL thread is stopped" if sql == "No" else None
        replica.status_readable = False
        return None

    def wait(self, primary: Database, report: Callable[[str], None], say: Callable[[str], None],
             interrupted: Callable[[], bool] = lambda: False) -> bool:
        """Keep the heartbeat fresh and wait while a replica is behind or the server busy, reporting why once
        per cause. False when ``interrupted`` (a pause, an abort, another job's failure) ended the wait."""
        if not (self.replicas or self.max_load or self.critical_load):
            return True
        said = None
        while True:
            now = time.monotonic()
            replicas = bool(self.replicas) and (said is not None or now >= self._replicas_clear_until)
            beat = self.beat(primary) if replicas else None
            why = self._load(primary) or (self.behind(beat) if replicas else None)
            if why is None:
                if replicas:
                    self._replicas_clear_until = now + BEAT_EVERY_S
                if said:
                    say("no longer throttled: copying again")
                return True
            report(why)
            if why != said:
                say(f"throttled: {why}")
                said = why
            time.sleep(POLL_S)
            if interrupted():
                return False

    def close(self) -> None:
        for replica in self.replicas:
            if replica.db is not None:
                replica.db.close()
                replica.db = None


# How large a backfill chunk may grow (MAX_CHUNK_ROWS, POOL_SHARE), and why: engines/chunk_sizing.py, which
# 40_backfill.sql's loop follows too.
# verify's chunks (both sides read and hashed) keep their earlier bounds: 4 × the start, at least 10,000 rows.
GROWTH = 4
CEILING = 10_000


def backfill_ceiling(start: int, row_bytes: int, buffer_pool_bytes: int) -> int:
    """The largest chunk the backfill grows to, in rows: MAX_CHUNK_ROWS, fewer for wide rows (by bytes); never
    below ``start`` (a size the user chose)."""
    known = row_bytes > 0 and buffer_pool_bytes > 0
    by_bytes = buffer_pool_bytes // POOL_SHARE // row_bytes if known else MAX_CHUNK_ROWS
    return max(start, min(MAX_CHUNK_ROWS, by_bytes))


@dataclass
class ChunkSizer:
    """The chunk size that makes a chunk take about ``target_s`` (pt-online-schema-change's --chunk-time): the
    rate of the chunks so far (rows per second, smoothed) times the target, between a tenth of the starting size
    and ``ceiling`` rows (default: GROWTH times the start, at least CEILING). ``target_s`` 0: always the starting
    size."""

    start: int
    target_s: float = 0.0
    rate: float | None = None
    ceiling: int = 0

    def __post_init__(self) -> None:
        self.size = self.start
        self.ceiling = self.ceiling or max(self.start * GROWTH, CEILING)

    def observe(self, size: int, seconds: float) -> None:
        if self.target_s <= 0 or seconds <= 0:
            return
        rate = size / seconds
        self.rate = rate if self.rate is None else 0.75 * self.rate + 0.25 * rate
        low = max(1, self.start // 10)
        self.size = int(min(max(self.rate * self.target_s, low), self.ceiling))
