"""Set-based key shifts and merges with a re-keyed table (issue 21, items 3 and 4).

`session (subject_id, session_id, session_start)` becomes `visit` keyed by (subject_id, session_start): one to one
only on the data (checked). v1 has no unique index on the start time, so it accepts any order of a statement that
shifts every session of a subject by one day; row by row, v2 passes through a start another row still holds.
No trigger can resolve that inside the statement (see RUNBOOK, W1): the row that still holds the start moves, or
not, only later in the same statement, and neither server has a statement-level trigger to look after the last
row; a v2 row held back until then would be lost, or merged, if it never moves. So the unordered shift is refused
(W1, naming the way out) and the same shift in key order is carried (`ORDER BY session_start DESC` for a later
start). A write that would make two v1 rows one v2 row is refused whatever the backfill has reached: before it
has copied the other row too (the triggers look in v1 by the mapped key, not only in v2).
"""

from __future__ import annotations

import pytest
from support.safety import FastScenario, applied, refused

V1 = """
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, session_start datetime NOT NULL,
  note varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id, session_id), KEY by_start (subject_id, session_start))
  ENGINE=InnoDB;
INSERT INTO session (subject_id, session_id, session_start) SELECT s.seq, k.seq,
  TIMESTAMP('2024-01-01') + INTERVAL k.seq DAY FROM seq_1_to_4 AS s, seq_1_to_5 AS k
"""


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(lambda plan: s.tables(plan)["session"].update(rename="visit", key=["subject_id", "session_start"]))
    s.generate()
    return s


def _same(scenario: FastScenario) -> None:
    columns = "subject_id, session_start, session_id, note"
    order = "ORDER BY subject_id, session_start"
    assert scenario.sql(f"SELECT {columns} FROM `{scenario.v2()}`.visit {order}") == \
        scenario.sql(f"SELECT {columns} FROM `{scenario.sources[0]}`.session {order}")


def test_a_shift_in_key_order_is_carried_and_an_unordered_one_names_the_order(scenario):
    v1 = f"`{scenario.sources[0]}`.session"
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    scenario.backfill(chunk_rows=4)
    shift = f"UPDATE {v1} SET session_start = session_start + INTERVAL 1 DAY WHERE subject_id = 1"
    with pytest.raises(Exception, match="djsqlgen W1 .*visit .*key taken"):
        scenario.db.execute(shift + " ORDER BY session_start")
    scenario.db.execute(shift + " ORDER BY session_start DESC")
    scenario.db.execute(f"UPDATE {v1} SET session_start = session_start - INTERVAL 2 DAY WHERE subject_id = 2 "
                        "ORDER BY session_start")
    _same(scenario)
    assert scenario.verify().returncode == 0


def test_a_merge_is_refused_before_the_backfill_has_copied_the_other_row(scenario):
    v1 = f"`{scenario.sources[0]}`.session"
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    # v2 is empty: the row at (1, 2024-01-02) is only in v1
    with pytest.raises(Exception, match="djsqlgen W1 .*visit"):
        scenario.db.execute(f"INSERT INTO {v1} (subject_id, session_id, session_start) VALUES (1, 9, '2024-01-02')")
    with pytest.raises(Exception, match="djsqlgen W1 .*visit"):
        scenario.db.execute(f"UPDATE {v1} SET session_start = '2024-01-03' WHERE subject_id = 2 AND session_id = 1")
    scenario.db.execute(f"INSERT INTO {v1} (subject_id, session_id, session_start) VALUES (1, 9, '2025-01-02')")
    scenario.db.execute(f"UPDATE {v1} SET session_start = '2025-01-03' WHERE subject_id = 2 AND session_id = 1")
    scenario.db.execute(f"UPDATE {v1} SET note = 'x' WHERE subject_id = 3")
    scenario.backfill(chunk_rows=4)
    _same(scenario)
    assert scenario.verify().returncode == 0


def test_a_unique_index_whose_collation_merges_values_is_checked_like_a_key(db, prefix, dj_env, tmp_path):
    """`code` is unique under utf8mb4_bin ('a' and 'A' both there); under utf8mb4_general_ci they are one value.
    plan check (on the live server) and 00 refuse with the plan key, as for a key: not 60 with a bare 1062."""
    scenario = FastScenario(db, prefix, dj_env, tmp_path)
    scenario.create_v1("CREATE TABLE item (item_id int NOT NULL, code varchar(8) CHARACTER SET utf8mb4 COLLATE "
                       "utf8mb4_bin NOT NULL, PRIMARY KEY (item_id), UNIQUE KEY code (code)) ENGINE=InnoDB;\n"
                       "INSERT INTO item VALUES (1, 'a'), (2, 'A'), (3, 'b')")
    scenario.plan(lambda plan: scenario.tables(plan)["item"]["columns"].update(
        code={"collation": "utf8mb4_general_ci"}))
    key = f"schemas.{scenario.sources[0]}.tables.item.columns.code"
    check = scenario.run("plan", "check", str(scenario.plan_path), check=False)
    assert check.returncode == 2 and f"{key}: not so in v1's data" in check.stderr, check.stdout + check.stderr
    assert "unique index code" in check.stderr
    scenario.generate()
    message = refused(scenario, "00_preflight")
    assert key in message and "unique index code" in message, message
    scenario.db.execute(f"DELETE FROM `{scenario.sources[0]}`.item WHERE item_id = 2")
    applied(scenario, "00_preflight")
