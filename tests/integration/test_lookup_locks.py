"""A lookup's dual-write locks nothing that writers of v1 do not lock themselves (issue 21, item 1 and lookups).

`probe_insertion (id, subject_id, probe, vendor)` becomes `#probe (probe) → vendor` and `probe_insertion (id,
subject_id, probe)`. Many v1 rows share one lookup row, so a trigger that locks it for its write (as every write did
before: a locking read, then an upsert) makes writers that never meet in v1 wait for each other until commit, and
two clients using two existing values in opposite order deadlock every time. Interleaved here step by step, each
client in its own open transaction, the way DataJoint 0.14 clients write (no retry on 1213).

Also the lookup's own rules: a lookup row no v1 row uses any more takes the values of the next row that uses it; an
INSERT that breaks the lookup's assumption is refused at once, naming the lookup, the key and the value; an UPDATE
of one row's moved column never rewrites the row its key shares with other v1 rows; a value renamed by case only
in every row at once is carried byte for byte.
"""

from __future__ import annotations

import threading
import time

import pytest
from support.safety import FastScenario, applied, steps

from djsqlgen.run.db import ServerError, connect

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, PRIMARY KEY (subject_id)) ENGINE=InnoDB;
CREATE TABLE probe_insertion (id int NOT NULL, subject_id int NOT NULL,
  probe varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, vendor varchar(16) NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT insertion_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE CASCADE) ENGINE=InnoDB;
INSERT INTO subject SELECT seq FROM seq_1_to_20;
INSERT INTO probe_insertion SELECT seq, seq, ELT(1 + seq % 3, 'np1', 'np2', 'r2'), 'imec' FROM seq_1_to_20
"""
LOOKUP = {"probe_insertion": {"lookups": [{"table": "#probe", "key": ["probe"], "columns": ["vendor"]}]}}


@pytest.fixture(params=["backfill", "60_constraints"])
def scenario(request, db, prefix, dj_env, tmp_path):
    """The plan applied through the backfill, and (second case) through 60: v2's foreign keys then check each
    referring row's lookup row, which takes a lock of its own."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(lambda plan: s.tables(plan).update(LOOKUP))
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s.backfill(chunk_rows=5)
    if request.param == "60_constraints":
        applied(s, "60_constraints")
    return s


def _lookup(s: FastScenario) -> list[tuple]:
    return [(r["probe"], r["vendor"]) for r in
            s.db.query(f"SELECT CAST(probe AS BINARY) AS probe, vendor FROM `{s.v2()}`.`#probe` ORDER BY 1")]


def _v1_distinct(s: FastScenario) -> list[tuple]:
    return [(r["probe"], r["vendor"]) for r in s.db.query(
        f"SELECT DISTINCT CAST(probe AS BINARY) AS probe, vendor FROM `{s.sources[0]}`.probe_insertion ORDER BY 1")]


def _referring_rows_agree(s: FastScenario) -> None:
    """v2's probe_insertion is v1's without the moved column, byte for byte (an independent comparison)."""
    cols = "id, subject_id, CAST(probe AS BINARY) AS probe"
    assert s.db.query(f"SELECT {cols} FROM `{s.v2()}`.probe_insertion ORDER BY id") == \
        s.db.query(f"SELECT {cols} FROM `{s.sources[0]}`.probe_insertion ORDER BY id")


INSERT = "INSERT INTO `{v1}`.probe_insertion VALUES (%s, %s, %s, 'imec')"
HOLDERS = {  # a first client's open write of a row that uses lookup value np1
    "insert": (INSERT, [101, 1, "np1"]),
    "update1 of a column the lookup does not read": (
        "UPDATE `{v1}`.probe_insertion SET subject_id = 2 WHERE id = 3", None),
    "key moved by v1's cascade": ("UPDATE `{v1}`.subject SET subject_id = 1003 WHERE subject_id = 3", None),
    "cascading delete": ("DELETE FROM `{v1}`.subject WHERE subject_id = 3", None),
    "delete": ("DELETE FROM `{v1}`.probe_insertion WHERE id = 6", None),
}


@pytest.mark.parametrize("holder", HOLDERS)
def test_a_writer_does_not_wait_for_another_writers_open_transaction_on_the_same_lookup_value(
        holder, scenario, server_settings):
    """Before: 2 s behind the first client's transaction (FOR UPDATE and an upsert, the lookup row locked until
    commit); on a trigger-free copy, 0 s. Rows 3 and 6 use np1 (3 % 3 = 0)."""
    s = scenario
    v1 = s.sources[0]
    first, second = connect(server_settings), connect(server_settings)
    try:
        first.execute("BEGIN")
        sql, args = HOLDERS[holder]
        first.execute(sql.format(v1=v1), args)
        second.execute("SET SESSION innodb_lock_wait_timeout = 2")
        started = time.monotonic()
        failures: list = []
        steps(second, [("BEGIN", None), (INSERT.format(v1=v1), [102, 4, "np1"]), ("COMMIT", None)], failures)
        waited = time.monotonic() - started
        first.execute("COMMIT")
    finally:
        first.close()
        second.close()
    assert failures == [] and waited < 1, (failures, waited)
    assert _lookup(s) == _v1_distinct(s)
    _referring_rows_agree(s)
    assert s.verify().returncode == 0


def test_two_clients_using_existing_lookup_values_in_opposite_order_do_not_deadlock(scenario, server_settings):
    """Before: 1213 every time (each client's first write locked its value's lookup row until commit, and its
    second write waited for the other's)."""
    s = scenario
    insert = INSERT.format(v1=s.sources[0])
    first, second = connect(server_settings), connect(server_settings)
    failures: list = []
    try:
        for c in (first, second):
            c.execute("SET SESSION innodb_lock_wait_timeout = 5")
            c.execute("BEGIN")
        steps(first, [(insert, [201, 1, "np1"])], failures)
        steps(second, [(insert, [202, 2, "np2"])], failures)
        waiting = threading.Thread(target=steps, args=(first, [(insert, [203, 1, "np2"]), ("COMMIT", None)],
                                                       failures))
        waiting.start()
        waiting.join(timeout=1)  # before the fix it waits here for the second client's lock on np2
        steps(second, [(insert, [204, 2, "np1"]), ("COMMIT", None)], failures)
        waiting.join()
    finally:
        first.close()
        second.close()
    assert failures == [], failures
    assert _lookup(s) == _v1_distinct(s)
    _referring_rows_agree(s)
    assert s.verify().returncode == 0


def test_an_unused_lookup_value_comes_back_with_other_values(scenario):
    """Before: refused ("row disagrees with #probe"): the unused row kept the values of the row that went."""
    s = scenario
    v1 = f"`{s.sources[0]}`"
    s.db.execute(f"INSERT INTO {v1}.probe_insertion VALUES (301, 1, 'np9', 'old vendor')")
    s.db.execute(f"DELETE FROM {v1}.probe_insertion WHERE id = 301")
    s.db.execute(f"INSERT INTO {v1}.probe_insertion VALUES (302, 1, 'NP9', 'new vendor'), (303, 2, 'NP9', 'new vendor')")
    assert (b"NP9", "new vendor") in _lookup(s)
    assert _lookup(s) == _v1_distinct(s)  # the row of np9 is used again, with the new values
    _referring_rows_agree(s)
    assert s.verify().returncode == 0


def test_an_insert_that_breaks_the_lookup_is_refused_naming_it(scenario):
    s = scenario
    v1 = f"`{s.sources[0]}`"
    before = _lookup(s)
    with pytest.raises(ServerError) as refused:
        s.db.execute(f"INSERT INTO {v1}.probe_insertion VALUES (401, 1, 'np1', 'cambridge')")
    message = str(refused.value)
    assert "#probe" in message and "np1" in message and "cambridge" in message, message
    assert _lookup(s) == before
    assert s.db.query(f"SELECT COUNT(*) AS n FROM {v1}.probe_insertion WHERE id = 401") == [{"n": 0}]


def test_updating_one_rows_vendor_never_rewrites_the_row_others_share(scenario):
    """Before: the upsert rewrote #probe's np1 row, which 6 other v1 rows use, so v2 readers saw every np1 row
    change. (The v1 write cannot be refused at once: row by row it looks the same as the first row of an UPDATE
    that renames the vendor in every np1 row, which is valid; 70's data check refuses the v1 that results.)"""
    s = scenario
    v1 = f"`{s.sources[0]}`"
    before = _lookup(s)
    s.db.execute(f"UPDATE {v1}.probe_insertion SET vendor = 'cambridge' WHERE id = 3")
    assert _lookup(s) == before
    s.db.execute(f"UPDATE {v1}.probe_insertion SET vendor = 'cambridge' WHERE probe = 'np1'")  # then all of them
    assert (b"np1", "cambridge") in _lookup(s) and _lookup(s) == _v1_distinct(s)
    _referring_rows_agree(s)
    assert s.verify().returncode == 0


def test_a_value_renamed_by_case_only_in_every_row_is_carried_byte_for_byte(scenario):
    """Before: the lookup kept 'r2' (its key compared through the _ci collation, only the other columns
    updated), so v2 differed from v1 until the backfill ran again."""
    s = scenario
    v1 = f"`{s.sources[0]}`"
    s.db.execute(f"UPDATE {v1}.probe_insertion SET probe = 'R2' WHERE probe = 'r2'")
    assert (b"R2", "imec") in _lookup(s) and _lookup(s) == _v1_distinct(s)
    _referring_rows_agree(s)
    assert s.verify().returncode == 0
