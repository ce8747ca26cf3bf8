"""Two-way sync on a replicated primary (issue 24, Tests: "the primary + replica fixture stays equal through all of
it"). The triggers run on the primary only; with binlog_format=ROW the replica applies the rows they wrote without
firing any, so whatever a trigger computes from its session (guards, LAST_INSERT_ID, NOW(), counters) must end up in
the binlog as rows, and a refused write must leave nothing half applied in it.

Three plan shapes (test_two_way's rename and retype with a part and key moves, test_two_way_autoinc's one
AUTO_INCREMENT counter, test_two_way_lookup's lookup extraction), each as the DBA without SUPER on the binlog primary,
every file applied with the stock client and the command line for the rest: 00..60 with writers on both sides during
the backfill (v2's refused, W6), writers on both sides after 60 (inserts with parts, key and non-key updates, key
moves their cascades carry, child-first deletes), `djsqlgen close v1` / `reopen v1`, 70, a v2 write, 80 with
contract.v1: keep-synced, a v2 write, 90_retire_v1. After each step the replica has caught up and equals the primary
(definitions, checksums, and every table of the plan's schemas by a full ordered SELECT), and v1 equals v2 both ways
(the shape's own comparisons). Refusals (W3, W5, W8, a duplicate key) alone, on the second row of a statement and
inside an explicit transaction leave the two servers equal.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import pytest
from integration import test_two_way, test_two_way_autoinc, test_two_way_lookup
from integration.test_sides_close import _v1_writes, _v2_writes
from support.safety import FastScenario, applied, env_for, error_of
from support.servers import compare_servers, like_prefix

from djsqlgen.run.db import ServerError, connect

TRUST = "log_bin_trust_function_creators"


def _all_rows(server, prefix: str) -> dict[tuple[str, str], list[tuple]]:
    """Every base table of the ``prefix`` schemas (v1, v2, control) by a full SELECT ordered by every column."""
    out = {}
    with server.session() as db:
        for t in db.query("SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n FROM information_schema.TABLES "
                          "WHERE TABLE_SCHEMA LIKE %s AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1, 2",
                          [like_prefix(prefix)]):
            width = db.query("SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                             "AND TABLE_NAME = %s", [t["s"], t["n"]])[0]["n"]
            order = ", ".join(str(i) for i in range(1, width + 1))
            out[(t["s"], t["n"])] = [tuple(r.values()) for r in
                                     db.query(f"SELECT * FROM `{t['s']}`.`{t['n']}` ORDER BY {order}")]
    return out


def _equal_everywhere(s: FastScenario, primary, replica, after: str, both_ways: bool = True) -> None:
    """The replica caught up equals the primary (definitions, checksums, rows), and (once backfilled) v1 equals v2
    both ways."""
    replica.wait_caught_up()
    assert compare_servers(primary, replica, s.prefix) == [], f"the replica differs after {after}"
    left, right = _all_rows(primary, s.prefix), _all_rows(replica, s.prefix)
    assert set(left) == set(right), after
    for table in left:
        assert left[table] == right[table], (after, table, left[table][:20], right[table][:20])
    if both_ways:
        s.same_both_ways(s)


class _Writers:
    """A v1 client and a v2 client, each in a thread of its own, calling ``write(conn, side, schema, i, n)`` in rounds
    n = 0, 1, … (``i``: ids of their own for each round and side) until stopped. ``v2_refused``: each v2 round is
    expected to be refused (before 60: W6)."""

    def __init__(self, settings, write, v1: str, v2: str, first: int, v2_refused: bool = False):
        self.settings, self.write, self.schemas = settings, write, {"v1": v1, "v2": v2}
        self.first, self.v2_refused = first, v2_refused
        self.halt = threading.Event()
        self.errors: list[str] = []
        self.refusals: list[str] = []
        self.rounds = {"v1": 0, "v2": 0}
        self.threads = [threading.Thread(target=self._run, args=(side,), daemon=True) for side in ("v1", "v2")]

    def _run(self, side: str) -> None:
        base = self.first + (0 if side == "v1" else 5000)
        conn = connect(self.settings)
        try:
            n = 0
            while not self.halt.is_set():
                try:
                    self.write(conn, side, self.schemas[side], base + 10 * n, n)
                except ServerError as exc:
                    if side == "v2" and self.v2_refused and exc.errno == 1644 and "W6" in exc.message:
                        self.refusals.append(exc.message)
                        conn.execute("ROLLBACK")  # a transaction the refusal interrupted
                    else:
                        self.errors.append(f"{side} round {n}: {exc}")
                        return
                n += 1
                self.rounds[side] = n
                time.sleep(0.02)  # a client's pace: the backfill's walk chases v1's last key (it has no end set)
        finally:
            conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def wait_rounds(self, rounds: int) -> None:
        for t, side in zip(self.threads, ("v1", "v2")):
            while self.rounds[side] < rounds and t.is_alive():
                t.join(0.05)

    def __exit__(self, *exc) -> None:
        self.halt.set()
        for t in self.threads:
            t.join(60)
        assert self.errors == [], self.errors


def _subjects(conn, side: str, schema: str, i: int, n: int) -> None:
    """test_sides_close's writes (a subject, its session and trial, key and non-key updates, a key move), and every
    other round a delete in DataJoint's order (trials, sessions, the subject, one transaction) of the subject written
    two rounds before (moved to its id + 1)."""
    (_v1_writes if side == "v1" else _v2_writes)(conn, schema, i)
    if n >= 2 and n % 2 == 0:
        conn.execute("BEGIN")
        for table in ("session__trial", "session", "subject" if side == "v1" else "animal"):
            conn.execute(f"DELETE FROM {schema}.{table} WHERE subject_id = {i - 20 + 1}")
        conn.execute("COMMIT")


def _subject_refusals(s: FastScenario, primary, replica) -> None:
    """W5 (a value v1 cannot hold) from a v2 client: alone, after a good statement in a transaction then committed,
    and in a transaction rolled back; nothing of the refused statement on either side of either server."""
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    with connect(primary.dba_settings) as conn:
        refusal = error_of(conn, f"INSERT INTO {v2}.animal (subject_id, kind, name) "
                                 "VALUES (900, 'rat', 'x😀')")
        assert refusal.errno == 1644 and "W5" in refusal.message, refusal
        # the second row refused: the first, carried into v1 by then, goes with the statement
        assert "W5" in error_of(conn, f"INSERT INTO {v2}.animal (subject_id, kind, name) VALUES "
                                "(902, 'rat', 'ok'), (903, 'rat', 'x😀')").message
        conn.execute("BEGIN")
        conn.execute(f"INSERT INTO {v2}.animal (subject_id, kind, name) VALUES (901, 'rat', 'kept')")
        conn.execute(f"INSERT INTO {v2}.session VALUES (901, 1, '2024-04-01', 'rig1')")
        refusal = error_of(conn, f"INSERT INTO {v2}.session VALUES (901, 70000, '2024-04-01', 'rig1')")
        assert "W5" in refusal.message, refusal
        refusal = error_of(conn, f"UPDATE {v2}.animal SET weight = 0.1 WHERE subject_id = 901")
        assert "W5" in refusal.message, refusal
        conn.execute("COMMIT")
        conn.execute("BEGIN")
        conn.execute(f"UPDATE {v2}.animal SET name = 'gone' WHERE subject_id = 901")
        error_of(conn, f"UPDATE {v2}.animal SET name = REPEAT('x', 33) WHERE subject_id = 901")
        conn.execute("ROLLBACK")
    rows = s.db.query(f"SELECT subject_id, nickname, weight FROM {v1}.subject WHERE subject_id BETWEEN 900 AND 903")
    assert rows == [{"subject_id": 901, "nickname": "kept", "weight": None}], rows
    assert s.db.query(f"SELECT session_idx FROM {v1}.session WHERE subject_id = 901") == [{"session_idx": 1}]
    _equal_everywhere(s, primary, replica, "W5 refusals")


def _v1_closed(conn, alone: str, v2_writes: list[str], refused: list[str]) -> None:
    """A closed v1 refuses its clients (W8): ``alone`` in autocommit, ``refused`` inside a transaction whose
    ``v2_writes`` (carried into v1) then commit."""
    assert "W8" in error_of(conn, alone).message
    conn.execute("BEGIN")
    for sql in v2_writes:
        conn.execute(sql)
    for sql in refused:
        assert "W8" in error_of(conn, sql).message
    conn.execute("COMMIT")


def _subject_closed(s: FastScenario, conn, first: int) -> None:
    v1 = f"`{s.sources[0]}`"
    _v1_closed(conn, f"INSERT INTO {v1}.subject VALUES ({first}, 'rat', 'no', NULL, NULL)",
               [f"INSERT INTO `{s.v2()}`.animal (subject_id, kind, name) VALUES ({first + 1}, 'rat', 'via v2')"],
               [f"UPDATE {v1}.subject SET nickname = 'no' WHERE subject_id = {first + 1}",
                f"DELETE FROM {v1}.session__trial"])
    assert s.db.query(f"SELECT nickname FROM {v1}.subject WHERE subject_id IN ({first}, {first + 1})") == [
        {"nickname": "via v2"}]


def _notes(conn, side: str, schema: str, i: int, n: int) -> None:
    """test_two_way_autoinc's inserts without ids (alone, two in a statement, a row and its part in a transaction),
    then a non-key update, a duplicate skipped (INSERT IGNORE: v1's 1062 caught in v2's trigger), a key update its
    part follows (to a negative id, one the counter never issues), and every other round a delete of the round's tagged note (its part first, one transaction)."""
    test_two_way_autoinc._writer_round(conn, side, schema.strip("`"), f"{side}{i}")
    body = "text" if side == "v2" else "body"
    conn.execute(f"UPDATE {schema}.note SET {body} = 'edited' WHERE title = '{side}{i}b'")
    conn.execute(f"INSERT IGNORE INTO {schema}.note (title) VALUES ('{side}{i}a'), ('{side}{i}e')")
    conn.execute(f"UPDATE {schema}.note SET note_id = -note_id WHERE title = '{side}{i}d'")
    if n % 2:
        conn.execute("BEGIN")
        conn.execute(f"DELETE FROM {schema}.note__tag WHERE note_id = "
                     f"(SELECT note_id FROM {schema}.note WHERE title = '{side}{i}d')")
        conn.execute(f"DELETE FROM {schema}.note WHERE title = '{side}{i}d'")
        conn.execute("COMMIT")


def _note_refusals(s: FastScenario, primary, replica) -> None:
    """A v2 insert failing on the unique title after v1 issued an id for a first row, alone and inside a transaction
    then committed; a v2 transaction rolled back after v1 issued ids: nothing of them on either side, either server."""
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    with connect(primary.dba_settings) as conn:
        assert error_of(conn, f"INSERT INTO {v2}.note (title) VALUES ('fresh'), ('first')").errno == 1062
        conn.execute("BEGIN")
        conn.execute(f"INSERT INTO {v2}.note (title) VALUES ('kept')")
        assert error_of(conn, f"INSERT INTO {v2}.note (title) VALUES ('fresh2'), ('kept')").errno == 1062
        conn.execute("COMMIT")
        conn.execute("BEGIN")
        conn.execute(f"INSERT INTO {v2}.note (title) VALUES ('gone')")
        conn.execute(f"INSERT INTO {v2}.note__tag SELECT note_id, 'gone' FROM {v2}.note WHERE title = 'gone'")
        conn.execute("ROLLBACK")
    assert s.db.query(f"SELECT title FROM {v1}.note WHERE title IN ('fresh', 'fresh2', 'kept', 'gone')") == [
        {"title": "kept"}]
    _equal_everywhere(s, primary, replica, "refused v2 inserts")


def _note_closed(s: FastScenario, conn, first: int) -> None:
    v1 = f"`{s.sources[0]}`"
    _v1_closed(conn, f"INSERT INTO {v1}.note (title) VALUES ('closed{first}')",
               [f"INSERT INTO `{s.v2()}`.note (title) VALUES ('via v2 {first}')"],
               [f"UPDATE {v1}.note SET body = 'no' WHERE title = 'via v2 {first}'", f"DELETE FROM {v1}.note__tag"])
    assert s.db.query(f"SELECT body FROM {v1}.note WHERE title IN ('closed{first}', 'via v2 {first}')") == [
        {"body": ""}]


def _note_v2_write(conn, v2: str, first: int) -> None:
    conn.execute(f"INSERT INTO {v2}.note (title, text) VALUES ('v2 after {first}', 'x'), ('v2 after {first}b', 'y')")
    conn.execute(f"INSERT INTO {v2}.note__tag SELECT note_id, 'late' FROM {v2}.note WHERE title LIKE 'v2 after%'"
                 f" AND note_id NOT IN (SELECT note_id FROM {v2}.note__tag WHERE tag = 'late')")


def _probes(conn, side: str, schema: str, i: int, n: int) -> None:
    """test_two_way_lookup's writers: a subject with insertions on a probe of its own and on a shared one (v2 adds
    its probe to the lookup in the same transaction), the probe's values changed (v1: every row of the probe; v2: the
    lookup row, rewriting the v1 rows), a non-key update, a key move (v1: the subject, its cascade; v2: the probe
    renamed, its cascade), and every other round a delete of the subject of two rounds before (insertions first)."""
    own = f"{side}-probe-{i}"
    if side == "v1":
        conn.execute(f"INSERT INTO {schema}.subject VALUES ({i}, 'v1 {i}')")
        conn.execute(f"INSERT INTO {schema}.probe_insertion VALUES ({i}, 1, '{own}', 'cambridge', 32, 1), "
                     f"({i}, 2, 'np2', 'imec', NULL, 2)")
        conn.execute(f"UPDATE {schema}.probe_insertion SET vendor = 'Cambridge NT', channels = 64 WHERE probe = '{own}'")
        conn.execute(f"UPDATE {schema}.probe_insertion SET depth = depth + 0.5 WHERE subject_id = {i}")
        conn.execute(f"UPDATE {schema}.subject SET subject_id = {i + 1} WHERE subject_id = {i}")
    else:
        conn.execute("BEGIN")
        conn.execute(f"INSERT INTO {schema}.subject VALUES ({i}, 'v2 {i}')")
        conn.execute(f"INSERT INTO {schema}.`#probe` VALUES ('{own}', 'atlas', 16)")
        conn.execute(f"INSERT INTO {schema}.probe_insertion VALUES ({i}, 1, '{own}', 1), ({i}, 2, 'np2', 2)")
        conn.execute("COMMIT")
        conn.execute(f"UPDATE {schema}.`#probe` SET vendor = 'Atlas Neuro', channels = NULL WHERE probe = '{own}'")
        conn.execute(f"UPDATE {schema}.probe_insertion SET depth = depth + 0.25 WHERE subject_id = {i}")
        conn.execute(f"UPDATE {schema}.`#probe` SET probe = '{own}-renamed' WHERE probe = '{own}'")
        conn.execute(f"UPDATE {schema}.subject SET subject_id = {i + 1} WHERE subject_id = {i}")
    if n >= 2 and n % 2 == 0:
        conn.execute("BEGIN")
        for table in ("probe_insertion", "subject"):
            conn.execute(f"DELETE FROM {schema}.{table} WHERE subject_id = {i - 20 + 1}")
        conn.execute("COMMIT")


def _probe_refusals(s: FastScenario, primary, replica) -> None:
    """W3 (a v1 row disagreeing with its probe's values in the lookup), from v1's forward trigger: alone, and after a
    good row in a transaction then committed; nothing of the refused row on either side of either server."""
    v1 = f"`{s.sources[0]}`"
    bad = f"INSERT INTO {v1}.probe_insertion VALUES (1, 90, 'np2', 'not imec', NULL, 1)"
    with connect(primary.dba_settings) as conn:
        assert "W3" in error_of(conn, bad).message
        # the second row refused: the first, carried into v2 by then, goes with the statement
        assert "W3" in error_of(conn, f"INSERT INTO {v1}.probe_insertion VALUES (1, 92, 'np-92', 'x', 1, 1), "
                                    "(1, 93, 'np2', 'not imec', NULL, 1)").message
        conn.execute("BEGIN")
        conn.execute(f"INSERT INTO {v1}.probe_insertion VALUES (1, 91, 'np2', 'imec', NULL, 1)")
        assert "W3" in error_of(conn, bad).message
        conn.execute("COMMIT")
    assert s.db.query(f"SELECT insertion_number FROM {v1}.probe_insertion WHERE subject_id = 1 "
                      "AND insertion_number >= 90") == [{"insertion_number": 91}]
    _equal_everywhere(s, primary, replica, "W3 refusals")


def _probe_closed(s: FastScenario, conn, first: int) -> None:
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    _v1_closed(conn, f"INSERT INTO {v1}.subject VALUES ({first}, 'no')",
               [f"INSERT INTO {v2}.subject VALUES ({first + 1}, 'via v2')",
                f"INSERT INTO {v2}.probe_insertion VALUES ({first + 1}, 1, 'np2', 4)"],
               [f"UPDATE {v1}.probe_insertion SET depth = 0 WHERE subject_id = {first + 1}"])
    assert s.db.query(f"SELECT subject_id, vendor, depth FROM {v1}.probe_insertion WHERE subject_id IN ({first}, "
                      f"{first + 1})") == [{"subject_id": first + 1, "vendor": "imec", "depth": 4.0}]


def _probe_v2_write(conn, v2: str, first: int) -> None:
    conn.execute(f"INSERT INTO {v2}.subject VALUES ({first}, 'late')")
    conn.execute(f"INSERT INTO {v2}.`#probe` VALUES ('late-{first}', 'atlas', 8)")
    conn.execute(f"INSERT INTO {v2}.probe_insertion VALUES ({first}, 1, 'late-{first}', 1), ({first}, 2, 'np2', 2)")
    conn.execute(f"UPDATE {v2}.`#probe` SET channels = 9 WHERE probe = 'late-{first}'")


@dataclass
class Shape:
    v1: str
    edit: Callable  # scenario -> plan edit (sync: two-way and the tables' changes)
    same_both_ways: Callable  # scenario -> None: v1 against v2 by full ordered SELECTs
    write: Callable  # one round of a side's writes (_Writers)
    refusals: Callable  # (scenario, primary, replica): refused writes leave both servers equal
    closed: Callable  # (scenario, conn, first): v1's clients refused (W8), v2's writes carried
    v2_write: Callable  # (conn, v2, first): a v2 client after 70 and after 80


SHAPES = {
    # a rename and retype, a part, key moves both sides' cascades carry, a one-way lookup
    "rename_retype": Shape(test_two_way.V1, test_two_way._two_way, test_two_way._same_both_ways, _subjects,
                           _subject_refusals, _subject_closed, _v2_writes),
    # one AUTO_INCREMENT counter (v1's) for both sides' ids: LAST_INSERT_ID and session marks in the triggers
    "auto_increment": Shape(test_two_way_autoinc.V1, test_two_way_autoinc._edit, test_two_way_autoinc._same_both_ways,
                            _notes, _note_refusals, _note_closed, _note_v2_write),
    # a lookup extracted from v1's rows: a v2 write of the lookup rewrites every v1 row of its key
    "lookup": Shape(test_two_way_lookup.V1, test_two_way_lookup._two_way, test_two_way_lookup._same_both_ways,
                    _probes, _probe_refusals, _probe_closed, _probe_v2_write),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_primary_and_replica_stay_equal_through_a_two_way_migration(binlog_pair, binlog_prefix, tmp_path, shape):
    primary, replica = binlog_pair
    shape = SHAPES[shape]
    primary.set_global(TRUST, 1)  # as test_refusals_binlog: the DBA's server allows trigger creation
    s = FastScenario(connect(primary.dba_settings), binlog_prefix, env_for(primary.dba_settings), tmp_path)
    try:
        _walk(s, primary, replica, shape)
    finally:
        s.db.close()


def _walk(s: FastScenario, primary, replica, shape: Shape) -> None:
    s.same_both_ways = shape.same_both_ways  # (read by _equal_everywhere)
    s.create_v1(shape.v1)

    def edit(plan: dict) -> None:
        shape.edit(s)(plan)
        plan["contract"] = {"v1": "keep-synced"}
    s.plan(edit)
    s.generate()
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    for name in ("00_preflight", "10_expand", "20_routines", "30_dualwrite"):
        applied(s, name)
        _equal_everywhere(s, primary, replica, name, both_ways=False)

    # the backfill and verify with a v1 client writing and a v2 client refused (W6) all along
    with _Writers(primary.dba_settings, shape.write, v1, v2, 1000, v2_refused=True) as writers:
        writers.wait_rounds(2)
        s.backfill()
        writers.wait_rounds(writers.rounds["v1"] + 2)
    assert writers.refusals, "the v2 client was never refused before 60"
    s.verify()
    _equal_everywhere(s, primary, replica, "djsqlgen backfill")
    applied(s, "60_constraints")
    _equal_everywhere(s, primary, replica, "60_constraints")

    # from 60: both sides write at once
    with _Writers(primary.dba_settings, shape.write, v1, v2, 20_000) as writers:
        writers.wait_rounds(8)
    _equal_everywhere(s, primary, replica, "writers on both sides after 60")
    s.verify()
    shape.refusals(s, primary, replica)

    # close v1 and reopen it with the command line; v2 writes while v1 is closed
    s.run("close", "v1", str(s.plan_path))
    with connect(primary.dba_settings) as conn:
        shape.closed(s, conn, 950)
    shape.v2_write(s.db, v2, 30_000)
    _equal_everywhere(s, primary, replica, "djsqlgen close v1")
    s.run("reopen", "v1", str(s.plan_path))
    with _Writers(primary.dba_settings, shape.write, v1, v2, 40_000) as writers:
        writers.wait_rounds(3)
    _equal_everywhere(s, primary, replica, "djsqlgen reopen v1")

    applied(s, "70_cutover")
    _equal_everywhere(s, primary, replica, "70_cutover")
    with connect(primary.dba_settings) as conn:
        shape.closed(s, conn, 960)
    shape.v2_write(s.db, v2, 50_000)
    _equal_everywhere(s, primary, replica, "a v2 write after 70")

    applied(s, "80_contract")
    _equal_everywhere(s, primary, replica, "80_contract (keep-synced)")
    shape.v2_write(s.db, v2, 60_000)
    _equal_everywhere(s, primary, replica, "a v2 write after 80")

    _counters_carried(replica, s, "80_contract")
    applied(s, "90_retire_v1")
    _equal_everywhere(s, primary, replica, "90_retire_v1")
    _counters_carried(replica, s, "90_retire_v1")
    shape.v2_write(s.db, v2, 70_000)  # v2 alone now
    _equal_everywhere(s, primary, replica, "a v2 write after 90", both_ways=False)


def _counters_carried(replica, s: FastScenario, after: str) -> None:
    """On the replica too (a failover), each v2 AUTO_INCREMENT counter is above every id v1's counter issued there:
    the ALTER of 80 replicates as a statement with the primary's value."""
    with replica.session() as db:
        counters = {(r["s"], r["n"]): r["a"] for r in db.query(
            "SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, AUTO_INCREMENT AS a FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA IN (%s, %s) AND AUTO_INCREMENT IS NOT NULL", [s.sources[0], s.v2()])}
    for (schema, table), counter in counters.items():
        if schema == s.sources[0] and (s.v2(), table) in counters:
            assert counters[(s.v2(), table)] >= counter, (after, table, counters)

