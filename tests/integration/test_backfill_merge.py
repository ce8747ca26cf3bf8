"""The backfill never merges two v1 rows into one v2 row silently (issue 21, item 4): it stops and names both keys.

`session (subject_id, session_id, session_start)` becomes `visit` keyed by (subject_id, session_start): one to one
only on the data. Two sessions of one subject starting at the same time are two v1 rows and one v2 key. Written
where no trigger saw them (between 00 and 30, here with the triggers dropped for the write), the copy's
no-op upsert would keep one and skip the other, exit 0. Both drivers (the command and 40_backfill.sql with the
stock client) stop instead, naming the table and both v1 keys: before the first chunk with nothing copied, or after
the last one (a merge that slipped in during the copy) with the table's copy started over; fixed in v1, the same
command finishes and verify passes.
"""

from __future__ import annotations

from support.safety import FastScenario, applied, client

V1 = """
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, session_start datetime NOT NULL,
  note varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id, session_id), KEY by_start (subject_id, session_start))
  ENGINE=InnoDB;
INSERT INTO session (subject_id, session_id, session_start) SELECT s.seq, k.seq,
  TIMESTAMP('2024-01-01') + INTERVAL k.seq DAY FROM seq_1_to_4 AS s, seq_1_to_5 AS k
"""


def _scenario(db, prefix, dj_env, tmp_path) -> FastScenario:
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(lambda plan: s.tables(plan)["session"].update(rename="visit", key=["subject_id", "session_start"]))
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    return s


def _unseen(s: FastScenario, statement: str) -> None:
    """``statement`` on v1 with no trigger to see it (as between 00 and 30), then 30 again."""
    for row in s.sql("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = %s",
                     [s.sources[0]]):
        s.db.execute(f"DROP TRIGGER `{s.sources[0]}`.`{row['TRIGGER_NAME']}`")
    s.db.execute(statement.format(v1=f"`{s.sources[0]}`.session"))
    applied(s, "30_dualwrite")


def _visits(s: FastScenario) -> int:
    return s.sql(f"SELECT COUNT(*) AS n FROM `{s.v2()}`.visit")[0]["n"]


COLLIDE = "INSERT INTO {v1} (subject_id, session_id, session_start) VALUES (3, 9, '2024-01-02')"
BOTH_KEYS = ('["3", "1"]', '["3", "9"]')


def _names_both(message: str) -> None:
    assert "djsqlgen B1" in message and "visit" in message, message
    assert all(k in message for k in BOTH_KEYS), message


def test_the_command_stops_before_copying_and_names_both_keys(db, prefix, dj_env, tmp_path):
    s = _scenario(db, prefix, dj_env, tmp_path)
    _unseen(s, COLLIDE)
    result = s.backfill(chunk_rows=4, check=False)
    # a stop of the running job (DESIGN: 1 a database failure; 2 only for bad input, nothing executed)
    assert result.returncode == 1, result.stdout + result.stderr
    _names_both(result.stderr)
    assert _visits(s) == 0  # nothing copied
    s.db.execute(f"DELETE FROM `{s.sources[0]}`.session WHERE subject_id = 3 AND session_id = 9")
    s.backfill(chunk_rows=4)
    assert _visits(s) == 20
    assert s.verify().returncode == 0


def test_40_backfill_with_the_stock_client_stops_and_names_both_keys(db, prefix, dj_env, tmp_path):
    s = _scenario(db, prefix, dj_env, tmp_path)
    _unseen(s, COLLIDE)
    result = client(s.db.settings, s.out / "40_backfill.sql")
    assert result.returncode != 0, result.stdout
    _names_both(result.stderr)
    assert _visits(s) == 0
    s.db.execute(f"UPDATE `{s.sources[0]}`.session SET session_start = '2030-01-01' WHERE subject_id = 3 "
                 "AND session_id = 9")
    applied(s, "40_backfill")
    assert _visits(s) == 21
    assert s.verify().returncode == 0


def test_a_merge_that_slips_in_during_the_copy_stops_it_at_the_end_and_starts_the_table_over(db, prefix, dj_env,
                                                                                                tmp_path):
    s = _scenario(db, prefix, dj_env, tmp_path)
    target = s.sql(f"SELECT target_id FROM `{s.control}`.progress")[0]["target_id"]
    s.db.execute(f"CALL `{s.control}`.backfill_chunk(%s, 4, @rows, @done, @warnings)", [target])  # subject 1
    assert _visits(s) == 4
    _unseen(s, COLLIDE)  # subject 3: not copied yet
    result = s.backfill(chunk_rows=4, check=False)
    assert result.returncode != 0, result.stdout + result.stderr
    _names_both(result.stderr)
    progress = s.sql(f"SELECT checkpoint, done FROM `{s.control}`.progress")[0]
    assert progress["checkpoint"] is None and progress["done"] == 0  # the table starts over
    # fixed by deleting the row the copy kept: v2 loses it (the trigger), the copy from the start brings the other
    s.db.execute(f"DELETE FROM `{s.sources[0]}`.session WHERE subject_id = 3 AND session_id = 1")
    s.backfill(chunk_rows=4)
    assert _visits(s) == 20
    assert s.verify().returncode == 0


def test_whether_there_is_a_merge_is_found_without_a_temporary_table(db, prefix, dj_env, tmp_path):
    """The check's first half (is there a merge at all?) runs on every table that can merge, twice per backfill: it
    counts distinct v2 keys against rows (the server's in-memory set) instead of grouping every row into a temporary
    table and sorting it (GROUP BY … HAVING, about twice the time on 200,000 rows: bench/merge_check_bench.py); and it
    answers the same: no merge, then a merge once two rows share a v2 key."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1.replace(", KEY by_start (subject_id, session_start)", ""))  # nothing to group by in order
    s.plan(lambda plan: s.tables(plan)["session"].update(rename="visit", key=["subject_id", "session_start"]))
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    check = s.sql(f"SELECT merge_check FROM `{s.control}`.chunk_sql")[0]["merge_check"]
    any_merge = "SELECT " + check.split("IF(\n", 1)[1].split(",\n  COALESCE(", 1)[0]
    extras = " ".join(p["Extra"] or "" for p in s.sql("EXPLAIN " + any_merge))
    assert "temporary" not in extras and "filesort" not in extras, extras
    assert list(s.sql(any_merge)[0].values()) == [0]
    _unseen(s, COLLIDE)
    assert list(s.sql(any_merge)[0].values()) == [1]
