"""Waiting, in a test, until another connection's statement waits for a row lock (information_schema.INNODB_TRX).

InnoDB serves INNODB_TRX from a cache that it refreshes only when the previous read is more than 0.1 s old
(CACHE_MIN_IDLE_TIME_US in trx0i_s). A loop that reads it more often than that keeps reading the snapshot of its
first read: when that read came before the statement began to wait, the loop never sees the wait and runs to its
deadline (10 s a time in the two-way tests); when an earlier read showed the same connection waiting in an earlier
statement, the loop sees a wait that is over. Waiting 0.15 s before every read, the first included, makes each
read refresh the cache (while no other client reads it more often: the cache is the server's).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from djsqlgen.run.db import Database

POLL_S = 0.15  # more than InnoDB's 0.1 s: each read of INNODB_TRX sees transactions as they are now


def waits_for_a_row_lock(watcher: Database, thread_id: int) -> bool:
    """Whether connection ``thread_id`` has a transaction waiting for a lock (as InnoDB's cache shows it now)."""
    return bool(watcher.query("SELECT 1 FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = %s "
                              "AND trx_state = 'LOCK WAIT'", [thread_id]))


def until_it_waits_for_a_row_lock(watcher: Database, thread_id: int, still_running: Callable[[], bool],
                                  timeout_s: float = 10) -> bool:
    """Return once connection ``thread_id`` waits for a row lock (True), or once ``still_running()`` says its
    statement ended or ``timeout_s`` passed (False)."""
    deadline = time.monotonic() + timeout_s
    while still_running() and time.monotonic() < deadline:
        time.sleep(POLL_S)
        if waits_for_a_row_lock(watcher, thread_id):
            return True
    return False
