"""What `djsqlgen backfill` and `djsqlgen verify` share: tables worked chunk by chunk from the command line.

Before every chunk: the DBA's pause or abort (``<control>.backfill_run``), then the throttle (replica lag,
load). With ``jobs`` > 1, that many tables at once, each on its own connection; the first failure stops
the others after their chunk in flight. A progress bar on stderr, and a report at most once a second in
the control row for `djsqlgen status`.
"""

from __future__ import annotations

import io
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import click

from djsqlgen.run.backfill_control import between_chunks, job_state, report, requested_now
from djsqlgen.run.db import Database, connect
from djsqlgen.run.throttle import LoadCritical, Throttle

if TYPE_CHECKING:  # annotations only: a job reads the plan as plan.job.JobPlan (pydantic stays unloaded)
    from djsqlgen.plan import JobPlan, Plan

Table = TypeVar("Table")


class ChunkedRun:
    """One run of ``job`` ("backfill" or "verify") over some tables, ``total`` rows of which ``already`` are done."""

    def __init__(self, db: Database, plan: Plan, job: str, total: int, already: int, *, resume_hint: str,
                 throttle: Throttle | None = None, show_progress: bool = True,
                 on_chunk: Callable[[str, int], None] | None = None):
        self.db, self.plan, self.job, self.throttle = db, plan, job, throttle
        self.total, self.already, self.resume_hint = total, already, resume_hint
        self.show_progress, self.on_chunk = show_progress, on_chunk
        self.started = time.monotonic()
        self.labels: list[str] = []
        self.warnings: list[str] = []
        self.rows = 0  # rows done in this run
        self.redone = 0  # chunks tried again because a writer held rows of them
        self._reported = 0.0
        self._lock = threading.Lock()  # the counters and the progress bar
        self._throttle_lock = threading.Lock()  # the throttle's replica connections are shared by the jobs
        self.stop = threading.Event()  # one job failed: the others end after their chunk in flight
        self._bar = click.progressbar(length=max(total, 1), label=job, show_eta=True, show_percent=True,
                                      item_show_func=self._show,
                                      file=sys.stderr if show_progress else io.StringIO())

    def say(self, text: str) -> None:
        if self.show_progress:
            click.echo(f"\n{text}", err=True)

    def warn(self, text: str) -> None:
        """A warning from the server: always shown (also without a progress bar), once per distinct text."""
        with self._lock:
            if text in self.warnings:
                return
            self.warnings.append(text)
        click.echo(f"\nwarning: {text}", err=True)

    def _show(self, _item) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return f"{', '.join(self.labels)}  {self.rows:,} rows  {self.rows / elapsed:,.0f} rows/s"

    def report(self, conn: Database, state: str, why: str = "", rate: float | None = None,
               eta: float | None = None) -> None:
        report(conn, self.plan, job_state(self.job, state), why, rate, eta)

    def redo(self) -> None:
        with self._lock:
            self.redone += 1

    def before_chunk(self, conn: Database, requested: str | None = None) -> None:
        """Pause and abort requests (``requested``: as just read with the last chunk's results), then the throttle;
        a request or another job's failure while throttled is seen within a poll."""
        while True:
            between_chunks(conn, self.plan, self.say, self.stop, job=self.job, resume_hint=self.resume_hint,
                           requested=requested)
            requested = None
            if self.stop.is_set() or not self.throttle:
                return
            try:
                with self._throttle_lock:
                    clear = self.throttle.wait(conn, lambda why: self.report(conn, "throttled", why), self.say,
                                               lambda: self.stop.is_set() or requested_now(conn, self.plan) != "run")
            except LoadCritical as critical:
                self.report(conn, "stopped", str(critical))
                raise LoadCritical(f"{self.job} stopped: {critical}; nothing is lost: {self.resume_hint}") from None
            if clear:
                return

    def done(self, conn: Database, label: str, rows: int) -> None:
        """``rows`` more of ``label`` done: the bar, and at most once a second a report for `status`."""
        with self._lock:
            self.rows += rows
            self._bar.update(rows, label)
            if self.on_chunk:
                self.on_chunk(label, rows)
            now = time.monotonic()
            if now - self._reported < 1.0:  # a control-row write per chunk adds up
                return
            self._reported = now
            rate = self.rows / max(now - self.started, 1e-6)
            left = max(self.total - self.already - self.rows, 0)
        self.report(conn, "working", ", ".join(self.labels), rate, left / rate if rate > 0 else None)

    def run(self, tables: Sequence[Table], label: Callable[[Table], str], jobs: int,
            work: Callable[[Database, Table], None], session: Callable[[Database], None] = lambda _: None) -> None:
        """``work`` on every table: on ``self.db`` one after the other, or ``jobs`` at once on connections of
        their own (``session`` prepares each connection)."""

        def one(conn: Database, table: Table) -> None:
            with self._lock:
                self.labels.append(label(table))
            try:
                work(conn, table)
            finally:
                with self._lock:
                    self.labels.remove(label(table))

        self.report(self.db, "working")  # at once: status shows the run (and its lock) before the first chunk ends
        with self._bar:
            self._bar.update(self.already)
            if jobs <= 1 or len(tables) <= 1:
                session(self.db)
                for table in tables:
                    if self.stop.is_set():
                        break
                    one(self.db, table)
            else:
                self._in_parallel(list(tables), jobs, one, session)

    def _in_parallel(self, tables: list, jobs: int, one: Callable[[Database, Table], None],
                     session: Callable[[Database], None]) -> None:
        queue = list(reversed(tables))  # pop() from the end: taken in the order given
        taken = threading.Lock()
        failures: list[BaseException] = []

        def worker() -> None:
            try:
                with connect(self.db.settings) as conn:
                    session(conn)
                    while not self.stop.is_set():
                        with taken:
                            if not queue:
                                return
                            table = queue.pop()
                        one(conn, table)
            except BaseException as exc:  # noqa: BLE001 - raised in the main thread below
                failures.append(exc)
                self.stop.set()

        threads = [threading.Thread(target=worker, name=f"djsqlgen-{self.job}-{i}", daemon=True)
                   for i in range(min(jobs, len(tables)))]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)
        except KeyboardInterrupt:
            self.stop.set()
            raise
        if failures:
            raise failures[0]

    def finish(self, why: str) -> float:
        """Report the run finished; returns its rate in rows per second."""
        rate = self.rows / max(time.monotonic() - self.started, 1e-6)
        self.report(self.db, "finished", why, rate)
        return rate
