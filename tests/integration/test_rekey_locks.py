"""Key moves of a re-keyed table lock no gap that v1's own writes do not (issue 21, item 1).

`session (subject_id, session_id) → start` is re-keyed by `(subject_id, start)`: one v1 row still makes one v2 row,
but only the data proves it (a ``checked`` key), so a move onto a key another row holds is refused by name. That
look-up was a locking read of the v2 table the trigger writes, so exclusive, and on a free key it locked the gap
where the row was about to go: two clients moving sessions of one subject into the same gap then waited for each
other's gap (1213, up to 16 of 25 rounds under DataJoint 0.14 clients). In v1 the same writes change a non-key
column of different rows and never meet. Interleaved here step by step.
"""

from __future__ import annotations

import threading
import time

import pytest
from support.safety import FastScenario, applied, steps

from djsqlgen.run.db import ServerError, connect

V1 = """
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, start datetime NOT NULL,
  PRIMARY KEY (subject_id, session_id)) ENGINE=InnoDB;
CREATE TABLE session__tag (subject_id int NOT NULL, session_id int NOT NULL, tag varchar(8) NOT NULL,
  PRIMARY KEY (subject_id, session_id, tag),
  CONSTRAINT tag_session FOREIGN KEY (subject_id, session_id) REFERENCES session (subject_id, session_id)
  ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO session SELECT 1, seq, '2024-01-01' + INTERVAL seq DAY FROM seq_1_to_6;
INSERT INTO session__tag SELECT 1, seq, 'x' FROM seq_1_to_6
"""


@pytest.fixture(params=["backfill", "60_constraints"])
def scenario(request, db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(lambda plan: s.tables(plan)["session"].update({"key": ["subject_id", "start"],
                                                          "columns": {"subject_id": "keep", "session_id": "drop",
                                                                      "start": "keep"}}))
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=5)
    if request.param == "60_constraints":  # v2's ON UPDATE CASCADE then carries the tags
        applied(s, "60_constraints")
    return s


def _v2_equals_v1(s: FastScenario) -> None:
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    assert s.db.query(f"SELECT subject_id, start, tag FROM {v2}.session__tag ORDER BY 1, 2, 3") == s.db.query(
        f"SELECT s.subject_id, s.start, t.tag FROM {v1}.session__tag AS t JOIN {v1}.session AS s "
        "USING (subject_id, session_id) ORDER BY 1, 2, 3")
    assert s.db.query(f"SELECT subject_id, start FROM {v2}.session ORDER BY 1, 2") == \
        s.db.query(f"SELECT subject_id, start FROM {v1}.session ORDER BY 1, 2")


def test_two_clients_moving_sessions_of_one_subject_into_the_same_gap_do_not_deadlock(scenario, server_settings):
    """Before: the second client waited for the first one's gap lock, then the first one's second move waited for
    the second one's: 1213."""
    s = scenario
    move = f"UPDATE `{s.sources[0]}`.session SET start = %s WHERE subject_id = 1 AND session_id = %s"
    first, second = connect(server_settings), connect(server_settings)
    failures: list = []
    try:
        for c in (first, second):
            c.execute("SET SESSION innodb_lock_wait_timeout = 5")
            c.execute("BEGIN")
        steps(first, [(move, ["2025-01-01 10:00", 1])], failures)  # all three into the gap after the last session
        started = time.monotonic()
        waiting = threading.Thread(target=steps, args=(second, [(move, ["2025-01-01 11:00", 2])], failures))
        waiting.start()
        waiting.join(timeout=1)  # before the fix it waits here for the first client's gap lock
        steps(first, [(move, ["2025-01-01 12:00", 3]), ("COMMIT", None)], failures)
        waiting.join()
        waited = time.monotonic() - started
        if not failures:
            second.execute("COMMIT")
    finally:
        first.close()
        second.close()
    assert failures == [], failures
    assert waited < 1, waited
    _v2_equals_v1(s)
    assert s.verify().returncode == 0


def test_a_move_onto_a_key_another_row_holds_is_still_refused_by_name(scenario):
    s = scenario
    with pytest.raises(ServerError) as refused:
        s.db.execute(f"UPDATE `{s.sources[0]}`.session SET start = '2024-01-03' WHERE subject_id = 1 AND session_id = 1")
    assert "djsqlgen W1 " in str(refused.value) and "would merge two v1 rows" in str(refused.value), refused.value
    _v2_equals_v1(s)
