"""Two-way sync of an AUTO_INCREMENT table (issue 24): v1's counter hands out the ids of both sides.

A DataJoint-shaped v1 (a manual table with an auto_increment key and a unique title, a part referring to it), a
plan that renames and widens a column: both tables sync both ways. From 60 on, writers on both sides insert without
ids at once (autocommit and transactions, single and multi-row), each on its own connection: no id is handed out
twice, every row is on both sides, both sides compared row by row independently of verify, and verify clean. A v2
insert that fails on the unique title leaves no v1 row; a rolled-back v2 transaction leaves nothing anywhere.
"""

from __future__ import annotations

import threading

import pymysql
import pytest
from support.safety import FastScenario, applied

from djsqlgen.run.db import ServerError, connect

V1 = """
CREATE TABLE note (
  note_id int NOT NULL AUTO_INCREMENT,
  title varchar(40) NOT NULL,
  body varchar(64) NOT NULL DEFAULT '',
  PRIMARY KEY (note_id),
  UNIQUE KEY note_title (title)) ENGINE=InnoDB;
CREATE TABLE note__tag (
  note_id int NOT NULL,
  tag varchar(16) NOT NULL,
  PRIMARY KEY (note_id, tag),
  CONSTRAINT tag_note FOREIGN KEY (note_id) REFERENCES note (note_id) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB;
INSERT INTO note (title, body) VALUES ('first', 'a'), ('second', 'b');
INSERT INTO note__tag VALUES (1, 'x'), (2, 'y')
"""
WRITERS = 3  # on each side
ROUNDS = 8


def _edit(s: FastScenario):
    def edit(plan: dict) -> None:
        plan["sync"] = "two-way"
        s.tables(plan)["note"] = {"columns": {"note_id": "keep", "title": "keep",
                                              "body": {"rename": "text", "type": "varchar(100)"}}}
    return edit


def _rows(db, sql: str) -> list[tuple]:
    return [tuple(r.values()) for r in db.query(sql)]


def _same_both_ways(s: FastScenario) -> None:
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    assert _rows(s.db, f"SELECT note_id, title, body FROM {v1}.note ORDER BY note_id") == \
        _rows(s.db, f"SELECT note_id, title, text FROM {v2}.note ORDER BY note_id")
    assert _rows(s.db, f"SELECT * FROM {v1}.note__tag ORDER BY 1, 2") == \
        _rows(s.db, f"SELECT * FROM {v2}.note__tag ORDER BY 1, 2")


def _writer_round(conn, side: str, schema: str, t: str) -> None:
    """Inserts without ids: a row alone (autocommit), two in one statement, and a row and its tag in a
    transaction (the id read back by its title, as a client that does not trust LAST_INSERT_ID would); titles
    ``t`` + a, b, c, d."""
    body = "text" if side == "v2" else "body"
    conn.execute(f"INSERT INTO `{schema}`.note (title, {body}) VALUES ('{t}a', 'one')")
    conn.execute(f"INSERT INTO `{schema}`.note (title, {body}) VALUES ('{t}b', 'two'), ('{t}c', 'three')")
    conn.execute("BEGIN")
    conn.execute(f"INSERT INTO `{schema}`.note (title) VALUES ('{t}d')")
    conn.execute(f"INSERT INTO `{schema}`.note__tag SELECT note_id, '{side}' FROM `{schema}`.note "
                 f"WHERE title = '{t}d'")
    conn.execute("COMMIT")


def _writer(settings, side: str, schema: str, n: int, errors: list[str]) -> None:
    """``ROUNDS`` rounds of :func:`_writer_round` on a connection of its own."""
    conn = connect(settings)
    try:
        for i in range(ROUNDS):
            _writer_round(conn, side, schema, f"{side}w{n}r{i}")
    except ServerError as exc:
        errors.append(f"{side} {n}: {exc}")
    finally:
        conn.close()


def test_two_way_auto_increment(db, prefix, dj_env, tmp_path, server_settings):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan(_edit(s))
    checked = s.run("plan", "check", str(s.plan_path))
    for table in ("note", "note__tag"):
        assert f"sync: {s.v2()}.{table} <-> {s.sources[0]}.{table}: two-way" in checked.stderr, checked.stderr
    s.generate()
    v1, v2 = f"`{s.sources[0]}`", f"`{s.v2()}`"
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    # before 60: a v2 insert without an id is refused (W6) and takes no id from v1
    with pytest.raises(ServerError) as refused:
        db.execute(f"INSERT INTO {v2}.note (title) VALUES ('early')")
    assert refused.value.errno == 1644 and "W6" in refused.value.message, refused.value
    db.execute(f"INSERT INTO {v1}.note (title, body) VALUES ('third', 'c')")
    s.backfill()
    s.verify()
    applied(s, "60_constraints")
    _same_both_ways(s)

    errors: list[str] = []
    threads = [threading.Thread(target=_writer, args=(server_settings, side, schema, n, errors))
               for n in range(WRITERS) for side, schema in (("v1", s.sources[0]), ("v2", s.v2()))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _same_both_ways(s)
    titles = _rows(db, f"SELECT title FROM {v2}.note")
    assert len(titles) == 3 + 2 * WRITERS * ROUNDS * 4, len(titles)  # every row, each id once (the primary key)
    assert _rows(db, f"SELECT COUNT(*) FROM {v2}.note__tag WHERE tag = 'v2'") == [(WRITERS * ROUNDS,)]

    # a v2 row with an id of its own is carried as it is; v1's counter goes on above it
    db.execute(f"INSERT INTO {v2}.note (note_id, title) VALUES (5000, 'explicit')")
    db.execute(f"INSERT INTO {v1}.note (title) VALUES ('after explicit')")
    db.execute(f"INSERT INTO {v2}.note (title) VALUES ('after explicit v2')")
    after = _rows(db, f"SELECT note_id FROM {v2}.note WHERE title LIKE 'after explicit%' ORDER BY 1")
    assert after == [(5001,), (5002,)], after

    # a v1 row whose id is 0 (a client with NO_AUTO_VALUE_ON_ZERO): carried as it is, not given an id in v2
    zero = connect(server_settings)
    try:
        zero.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
        zero.execute(f"INSERT INTO {v1}.note (note_id, title) VALUES (0, 'zero')")
    finally:
        zero.close()
    assert _rows(db, f"SELECT note_id FROM {v2}.note WHERE title = 'zero'") == [(0,)]
    _same_both_ways(s)

    # a v2 insert failing on the unique title, after a row v1 already took an id for: nothing in v1 either
    before = _rows(db, f"SELECT * FROM {v1}.note ORDER BY note_id")
    with pytest.raises(ServerError) as duplicate:
        db.execute(f"INSERT INTO {v2}.note (title) VALUES ('fresh'), ('first')")
    assert duplicate.value.errno == 1062, duplicate.value
    assert _rows(db, f"SELECT * FROM {v1}.note ORDER BY note_id") == before
    # a rolled-back v2 transaction leaves nothing on either side
    db.execute("BEGIN")
    db.execute(f"INSERT INTO {v2}.note (title) VALUES ('gone')")
    db.execute(f"INSERT INTO {v2}.note__tag SELECT note_id, 'gone' FROM {v2}.note WHERE title = 'gone'")
    assert _rows(db, f"SELECT COUNT(*) FROM {v1}.note WHERE title = 'gone'") == [(1,)]  # (in v1 inside it)
    db.execute("ROLLBACK")
    assert _rows(db, f"SELECT * FROM {v1}.note ORDER BY note_id") == before
    _same_both_ways(s)

    # a v2 insert that fails inside v1's insert (a lock-wait timeout on the title another transaction holds), in a
    # session whose clock stands still (NOW(6) the same for every statement): the next v1 insert of that session is
    # still carried into v2 (no token of the failed statement is left to skip it)
    holder, writer_db = connect(server_settings), connect(server_settings)
    try:
        holder.execute("BEGIN")
        holder.execute(f"INSERT INTO {v1}.note (title) VALUES ('held')")
        writer_db.execute("SET SESSION innodb_lock_wait_timeout = 1")
        writer_db.execute("SET SESSION timestamp = UNIX_TIMESTAMP(NOW(6))")
        with pytest.raises(ServerError) as timeout:
            writer_db.execute(f"INSERT INTO {v2}.note (title) VALUES ('held')")
        assert timeout.value.errno == 1205, timeout.value
        holder.execute("ROLLBACK")
        writer_db.execute(f"INSERT INTO {v1}.note (title) VALUES ('same clock')")
    finally:
        holder.close()
        writer_db.close()
    assert _rows(db, f"SELECT COUNT(*) FROM {v2}.note WHERE title IN ('same clock', 'held')") == [(1,)]
    _same_both_ways(s)

    # a duplicate the client asked to skip or update (DataJoint's skip_duplicates, ON DUPLICATE KEY UPDATE)
    db.execute(f"INSERT IGNORE INTO {v2}.note (title) VALUES ('first'), ('ignored new')")
    db.execute(f"INSERT INTO {v2}.note (title, text) VALUES ('second', 'updated') "
               "ON DUPLICATE KEY UPDATE text = VALUES(text)")
    db.execute(f"INSERT INTO {v2}.note (title) VALUES ('first'), ('skipped new') "  # DataJoint's own form
               f"ON DUPLICATE KEY UPDATE `note_id` = {v2}.note.`note_id`")
    assert _rows(db, f"SELECT body FROM {v1}.note WHERE title IN ('second', 'ignored new', 'skipped new') "
                     "ORDER BY title") == [("",), ("updated",), ("",)]
    # REPLACE (DataJoint 2.3's insert(replace=True)) of a row without an id whose title is taken: v2 deletes the row
    # and inserts it again with an id of its own counter, both carried to v1
    db.execute(f"REPLACE INTO {v2}.note (title, text) VALUES ('third', 'replaced')")
    assert _rows(db, f"SELECT body FROM {v1}.note WHERE title = 'third'") == [("replaced",)]
    _same_both_ways(s)

    # the id a client is told: the OK packet's (pymysql's lastrowid) is v1's; LAST_INSERT_ID() is not changed by a
    # v2 insert (the id is given by its trigger, and a trigger's LAST_INSERT_ID() ends with it)
    client = pymysql.connect(host=server_settings.host, port=server_settings.port, user=server_settings.user,
                             password=server_settings.password, autocommit=True)
    try:
        with client.cursor() as cursor:
            cursor.execute(f"INSERT INTO {v1}.note (title) VALUES ('told by v1')")
            cursor.execute(f"INSERT INTO {v2}.note (title) VALUES ('told')")
            told = cursor.lastrowid
            cursor.execute("SELECT LAST_INSERT_ID()")
            last = cursor.fetchone()[0]
    finally:
        client.close()
    assert _rows(db, f"SELECT note_id FROM {v1}.note WHERE title LIKE 'told%' ORDER BY 1") == [(last,), (told,)]
    _same_both_ways(s)
    s.verify()
