"""Key moves carried through every foreign-key shape DataJoint declares, before 60, after it, and after its rollback
(issue 21: the writers' statements must never fail, and v2 must follow v1 row by row).

After 60 a forward UPDATE trigger skips its explicit move of children that v2's own ON UPDATE CASCADE moves
(engines/triggers.v2_cascades); other shapes keep the explicit move. test_cascade_moves.py checks the locks on one
int key. This one checks the rule's class: composite parents (2 and 3 key columns, one or two of them moving), a
nullable foreign key (`-> [nullable] Lab`, partly NULL rows included), two foreign keys to one parent (`.proj()`
renames), children and grandchildren in another schema, and moving columns of type varchar (utf8mb4 _ci and _bin,
latin1 _ci; case- and space-only moves too), date and enum. Each state runs the same v1 statements: key moves (one
back to where it was, several in one statement, an ordered shift), new rows at the old keys, and DataJoint-style
cascading deletes (children first, one transaction); then every table of v2 is compared with v1's, full ordered
SELECTs, and verify is clean.

One-way and two-way plans. In a two-way plan before 60 (and after its rollback) a case- or space-only move of a
parent ('ann' -> 'Ann', 'bob' -> 'bob ') failed with W6 on the child's v2 table: the move carried into v2 fired the
child's reverse trigger, whose probe found v1's row, already moved by v1's own cascade, "at the old key" through the
_ci / PAD SPACE collation, so the move back into v1 looked still to be done (engines/written_row.at_old_key).

Left out, as InnoDB itself refuses them with 1452: a key move reaching one row through two foreign keys, to one
parent row (mother = father) or along a diamond (a child of two tables that share the moving column).
"""

from __future__ import annotations

import re

import pytest
from support.safety import FastScenario, applied

COMMON = """
CREATE TABLE lab (site varchar(8) COLLATE utf8mb4_bin NOT NULL, bld int NOT NULL, PRIMARY KEY (site, bld))
  ENGINE=InnoDB;
CREATE TABLE room (site varchar(8) COLLATE utf8mb4_bin NOT NULL, bld int NOT NULL, room int NOT NULL,
  note varchar(8) NOT NULL DEFAULT '', PRIMARY KEY (site, bld, room),
  CONSTRAINT room_lab FOREIGN KEY (site, bld) REFERENCES lab (site, bld) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB;
CREATE TABLE seat (site varchar(8) COLLATE utf8mb4_bin NOT NULL, bld int NOT NULL, room int NOT NULL, seat int NOT NULL,
  PRIMARY KEY (site, bld, room, seat),
  CONSTRAINT seat_room FOREIGN KEY (site, bld, room) REFERENCES room (site, bld, room)
  ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE booking (bid int NOT NULL, site varchar(8) COLLATE utf8mb4_bin NULL, bld int NULL, PRIMARY KEY (bid),
  CONSTRAINT booking_lab FOREIGN KEY (site, bld) REFERENCES lab (site, bld) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB;
CREATE TABLE person (pid int NOT NULL, name varchar(8) NOT NULL, PRIMARY KEY (pid)) ENGINE=InnoDB;
CREATE TABLE family (mother int NOT NULL, father int NOT NULL, PRIMARY KEY (mother, father),
  CONSTRAINT family_mother FOREIGN KEY (mother) REFERENCES person (pid) ON UPDATE CASCADE ON DELETE RESTRICT,
  CONSTRAINT family_father FOREIGN KEY (father) REFERENCES person (pid) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB;
CREATE TABLE kid (mother int NOT NULL, father int NOT NULL, kid int NOT NULL, PRIMARY KEY (mother, father, kid),
  CONSTRAINT kid_family FOREIGN KEY (mother, father) REFERENCES family (mother, father)
  ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE subject (nick varchar(16) NOT NULL, dob date NOT NULL, sex enum('F','M','U') NOT NULL,
  weight double NULL, PRIMARY KEY (nick, dob, sex)) ENGINE=InnoDB;
CREATE TABLE session (nick varchar(16) NOT NULL, dob date NOT NULL, sex enum('F','M','U') NOT NULL,
  session int NOT NULL, PRIMARY KEY (nick, dob, sex, session),
  CONSTRAINT session_subject FOREIGN KEY (nick, dob, sex) REFERENCES subject (nick, dob, sex)
  ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE tag (tag varchar(8) CHARACTER SET latin1 COLLATE latin1_swedish_ci NOT NULL, PRIMARY KEY (tag))
  ENGINE=InnoDB;
CREATE TABLE tagged (tag varchar(8) CHARACTER SET latin1 COLLATE latin1_swedish_ci NOT NULL, n int NOT NULL,
  PRIMARY KEY (tag, n),
  CONSTRAINT tagged_tag FOREIGN KEY (tag) REFERENCES tag (tag) ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO tag VALUES ('äx'), ('b'), ('c');
INSERT INTO tagged VALUES ('äx', 1), ('äx', 2), ('b', 1), ('c', 1);
INSERT INTO lab VALUES ('x', 1), ('x', 2), ('y', 1), ('w', 1);
INSERT INTO room VALUES ('x', 1, 1, 'a'), ('x', 1, 2, 'b'), ('x', 2, 1, 'c'), ('y', 1, 1, 'd'), ('w', 1, 1, 'e');
INSERT INTO seat VALUES ('x', 1, 1, 1), ('x', 1, 1, 2), ('x', 2, 1, 1), ('x', 2, 1, 2), ('y', 1, 1, 1),
  ('w', 1, 1, 1);
INSERT INTO booking VALUES (1, 'x', 1), (2, 'x', NULL), (3, NULL, 1), (4, 'y', 1), (5, NULL, NULL), (6, 'x', 1),
  (7, 'w', 1);
INSERT INTO person VALUES (1, 'ann'), (2, 'bob'), (3, 'cy'), (4, 'di'), (5, 'ed');
INSERT INTO family VALUES (1, 2), (3, 1), (3, 4), (5, 1);
INSERT INTO kid VALUES (1, 2, 1), (1, 2, 2), (3, 1, 1), (3, 4, 1), (5, 1, 1);
INSERT INTO subject VALUES ('ann', '2020-01-31', 'F', 20), ('bob', '2020-02-28', 'M', 21),
  ('cy', '2021-12-31', 'U', NULL),
  ('di', '2019-06-01', 'U', 19), ('ed', '2019-06-01', 'M', 18);
INSERT INTO session VALUES ('ann', '2020-01-31', 'F', 1), ('ann', '2020-01-31', 'F', 2), ('bob', '2020-02-28', 'M', 1),
  ('cy', '2021-12-31', 'U', 1), ('di', '2019-06-01', 'U', 1), ('di', '2019-06-01', 'U', 2), ('ed', '2019-06-01', 'M', 1)
"""


def _other(common: str) -> str:
    """Children and grandchildren in another schema: of a composite session, of a person, of a lab (nullable)."""
    return f"""
CREATE TABLE probe (nick varchar(16) NOT NULL, dob date NOT NULL, sex enum('F','M','U') NOT NULL, session int NOT NULL,
  probe int NOT NULL, PRIMARY KEY (nick, dob, sex, session, probe),
  CONSTRAINT probe_session FOREIGN KEY (nick, dob, sex, session) REFERENCES `{common}`.session (nick, dob, sex, session)
  ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE channel (nick varchar(16) NOT NULL, dob date NOT NULL, sex enum('F','M','U') NOT NULL,
  session int NOT NULL, probe int NOT NULL, channel int NOT NULL, PRIMARY KEY (nick, dob, sex, session, probe, channel),
  CONSTRAINT channel_probe FOREIGN KEY (nick, dob, sex, session, probe)
  REFERENCES probe (nick, dob, sex, session, probe)
  ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE visit (pid int NOT NULL, day date NOT NULL, PRIMARY KEY (pid, day),
  CONSTRAINT visit_person FOREIGN KEY (pid) REFERENCES `{common}`.person (pid) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB;
CREATE TABLE pairing (first int NOT NULL, second int NOT NULL, PRIMARY KEY (first, second),
  CONSTRAINT pairing_first FOREIGN KEY (first) REFERENCES `{common}`.person (pid) ON UPDATE CASCADE ON DELETE RESTRICT,
  CONSTRAINT pairing_second FOREIGN KEY (second) REFERENCES `{common}`.person (pid) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB;
CREATE TABLE cleaning (cid int NOT NULL, site varchar(8) COLLATE utf8mb4_bin NULL, bld int NULL, room int NULL,
  PRIMARY KEY (cid),
  CONSTRAINT cleaning_room FOREIGN KEY (site, bld, room) REFERENCES `{common}`.room (site, bld, room)
  ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO probe SELECT nick, dob, sex, session, 1 FROM `{common}`.session;
INSERT INTO probe SELECT nick, dob, sex, session, 2 FROM `{common}`.session WHERE session = 1;
INSERT INTO channel SELECT nick, dob, sex, session, probe, 7 FROM probe;
INSERT INTO visit VALUES (1, '2024-01-01'), (1, '2024-01-02'), (3, '2024-01-01'), (5, '2024-02-29');
INSERT INTO pairing VALUES (1, 3), (3, 1), (2, 4);
INSERT INTO cleaning VALUES (1, 'x', 1, 1), (2, 'x', 2, 1), (3, 'x', NULL, 1), (4, NULL, NULL, NULL), (5, 'w', 1, 1)
"""


COMMON_TABLES = ("lab", "room", "seat", "booking", "person", "family", "kid", "subject", "session", "tag", "tagged")
OTHER_TABLES = ("probe", "channel", "visit", "pairing", "cleaning")


def _writes(common: str, other: str) -> list[list[str]]:
    """v1 statements, each inner list one transaction, as clients send them."""
    return [
        # composite parent, one of two key columns: rooms, their seats, the bookings and (other schema) cleanings move
        [f"UPDATE `{common}`.lab SET bld = 9 WHERE site = 'x' AND bld = 1"],
        [f"UPDATE `{common}`.lab SET site = 'z' WHERE site = 'y'"],  # the other column
        [f"UPDATE `{common}`.lab SET site = 'X' WHERE site = 'x' AND bld = 2"],  # case only, binary collation
        # three key columns, the last one moving: seats (and cleanings, nullable, across schemas) follow
        [f"UPDATE `{common}`.room SET room = 5 WHERE site = 'X' AND bld = 2 AND room = 1"],
        # a nullable foreign key's child moved by itself, onto a key and to NULL
        [f"UPDATE `{common}`.booking SET bld = 9 WHERE bid = 2",
         f"UPDATE `{common}`.booking SET site = NULL WHERE bid = 6"],
        # two foreign keys to one parent (mother, father; first, second across schemas)
        [f"UPDATE `{common}`.person SET pid = 100 WHERE pid = 1"],
        [f"UPDATE `{common}`.person SET pid = 30 WHERE pid = 3"],
        [f"UPDATE `{common}`.person SET pid = 1 WHERE pid = 100"],  # back where it was
        # the moving column a varchar under a _ci collation (case only, then a new value), a date, an enum
        [f"UPDATE `{common}`.subject SET nick = 'Ann' WHERE nick = 'ann'"],
        [f"UPDATE `{common}`.subject SET nick = 'cyd' WHERE nick = 'cy'"],
        [f"UPDATE `{common}`.subject SET dob = dob + INTERVAL 1 DAY WHERE nick = 'bob'"],
        [f"UPDATE `{common}`.subject SET nick = 'bob ' WHERE nick = 'bob'"],  # a trailing space (PAD SPACE: equal)
        [f"UPDATE `{common}`.subject SET sex = 'F' WHERE nick = 'di'"],
        [f"UPDATE `{common}`.subject SET dob = '2019-06-02', sex = 'U' WHERE nick = 'ed'"],  # two of three at once
        [f"UPDATE `{common}`.subject SET weight = 22 WHERE nick = 'Ann'"],  # no key moves
        # latin1 under its _ci collation: case only (an accented letter too), then a new value
        [f"UPDATE `{common}`.tag SET tag = 'ÄX' WHERE tag = 'äx'"],
        [f"UPDATE `{common}`.tag SET tag = 'é' WHERE tag = 'b'"],
        # several keys moved by one statement, and a shift that v1 takes in descending order
        [f"UPDATE `{common}`.lab SET bld = bld + 100 WHERE site IN ('x', 'w')"],
        [f"UPDATE `{common}`.room SET room = room + 1 WHERE site = 'x' AND bld = 109 ORDER BY room DESC"],
        # new rows at the old keys
        [f"INSERT INTO `{common}`.lab VALUES ('x', 1), ('y', 1)",
         f"INSERT INTO `{common}`.room VALUES ('x', 1, 1, 'new'), ('y', 1, 1, 'new')",
         f"INSERT INTO `{common}`.seat VALUES ('x', 1, 1, 1)",
         f"INSERT INTO `{common}`.booking VALUES (8, 'x', 1)",
         f"INSERT INTO `{other}`.cleaning VALUES (6, 'y', 1, 1)"],
        [f"INSERT INTO `{common}`.person VALUES (3, 'cy2'), (100, 'hal')",
         f"INSERT INTO `{common}`.family VALUES (3, 100)",
         f"INSERT INTO `{common}`.kid VALUES (3, 100, 1)",
         f"INSERT INTO `{other}`.pairing VALUES (3, 100)",
         f"INSERT INTO `{other}`.visit VALUES (3, '2024-01-01')"],
        [f"INSERT INTO `{common}`.subject VALUES ('cy', '2021-12-31', 'U', 1), ('di', '2019-06-01', 'U', 2)",
         f"INSERT INTO `{common}`.session VALUES ('cy', '2021-12-31', 'U', 1), ('di', '2019-06-01', 'U', 1)",
         f"INSERT INTO `{other}`.probe VALUES ('cy', '2021-12-31', 'U', 1, 1)",
         f"INSERT INTO `{other}`.channel VALUES ('cy', '2021-12-31', 'U', 1, 1, 7)"],
        # DataJoint's cascading delete: children first (across schemas), then the parent, in one transaction
        [f"DELETE FROM `{common}`.seat WHERE site = 'z'", f"DELETE FROM `{other}`.cleaning WHERE site = 'z'",
         f"DELETE FROM `{common}`.room WHERE site = 'z'", f"DELETE FROM `{common}`.booking WHERE site = 'z'",
         f"DELETE FROM `{common}`.lab WHERE site = 'z'"],
        [f"DELETE FROM `{common}`.kid WHERE mother = 30 OR father = 30",
         f"DELETE FROM `{common}`.family WHERE mother = 30 OR father = 30",
         f"DELETE FROM `{other}`.pairing WHERE first = 30 OR second = 30",
         f"DELETE FROM `{other}`.visit WHERE pid = 30", f"DELETE FROM `{common}`.person WHERE pid = 30"],
        [f"DELETE FROM `{other}`.channel WHERE nick = 'Ann'", f"DELETE FROM `{other}`.probe WHERE nick = 'Ann'",
         f"DELETE FROM `{common}`.session WHERE nick = 'Ann'", f"DELETE FROM `{common}`.subject WHERE nick = 'Ann'"],
        [f"DELETE FROM `{common}`.tagged WHERE tag = 'c'", f"DELETE FROM `{common}`.tag WHERE tag = 'c'"],
        # and a move after the deletes, through what is left
        [f"UPDATE `{common}`.subject SET nick = 'dee', dob = '2019-07-01' WHERE nick = 'di' AND sex = 'F'"],
    ]


@pytest.fixture(params=[("one-way", "30_dualwrite"), ("one-way", "backfill"), ("one-way", "60_constraints"),
                        ("one-way", "rollback_60"),
                        ("two-way", "backfill"), ("two-way", "60_constraints"), ("two-way", "rollback_60")],
                ids="-".join)
def scenario(request, db, prefix, dj_env, tmp_path):
    """Dual-writing, not yet backfilled, or backfilled; then 60 applied, or 60 and its rollback (``s.param``)."""
    sync, state = request.param
    s = FastScenario(db, prefix, dj_env, tmp_path, schemas=("common", "other"))
    s.create_v1({s.sources[0]: COMMON, s.sources[1]: _other(s.sources[0])})
    s.plan(lambda plan: plan.update({"sync": sync}))
    checked = s.run("plan", "check", str(s.plan_path), check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr  # nothing here is refused
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    if state != "30_dualwrite":  # (else the writes come first: the triggers meet rows not copied yet)
        s.backfill(chunk_rows=3)
    if state in ("60_constraints", "rollback_60"):
        applied(s, "60_constraints")
    if state == "rollback_60":
        applied(s, "rollback/60_constraints")
    s.param, s.sync = state, sync
    return s


# Per v1 table, the v2 tables whose explicit move its UPDATE trigger skips from 60 on: every shape above is one
SKIPPED_AFTER_60 = {"tag": ["tagged"], "family": ["kid"], "lab": ["room", "seat"],
                    "person": ["family", "kid", "pairing", "visit"],
                    "room": ["seat"], "session": ["channel", "probe"], "subject": ["channel", "probe", "session"],
                    "probe": ["channel"]}


def _skipped_after_60(text: str) -> dict[str, list[str]]:
    """What 30_dualwrite.sql's UPDATE triggers on v1 skip from 60 on (``IF NOT v_sixty``), by v1 table."""
    out = {}
    triggers = re.split(r"\nCREATE OR REPLACE TRIGGER `[^`]+`\.`djsqlgen_[a-z0-9]+_([a-z]+)_upd`", text)
    for name, body in zip(triggers[1::2], triggers[2::2]):
        blocks = re.split(r"\n  -- \S+?\.(\w+): only when a column it depends on changed", body.split("\nEND")[0])
        skipped = sorted(t for t, block in zip(blocks[1::2], blocks[2::2]) if "IF NOT v_sixty" in block)
        if skipped:
            out[name] = skipped
    return out


def _same(s: FastScenario) -> None:
    for source, names in zip(s.sources, (COMMON_TABLES, OTHER_TABLES)):
        for table in names:
            s.same_rows(table, source=source)


def test_key_moves_and_cascading_deletes_reach_v2_in_every_shape(scenario):
    s = scenario
    common, other = s.sources
    assert _skipped_after_60((s.out / "30_dualwrite.sql").read_text()) == SKIPPED_AFTER_60
    expected_keys = 14 if s.param == "60_constraints" else 0
    assert len(s.references(s.v2(common))) + len(s.references(s.v2(other))) == expected_keys
    for transaction in _writes(common, other):
        s.db.execute("BEGIN")
        try:
            for sql in transaction:
                s.db.execute(sql)
        except BaseException:
            s.db.execute("ROLLBACK")  # (else the schemas' drop after the test waits for this transaction)
            raise
        s.db.execute("COMMIT")
        if s.param != "30_dualwrite":
            _same(s)
    if s.param == "30_dualwrite":
        s.backfill(chunk_rows=3)
        _same(s)
    # what v1 holds now, as the statements meant (the comparison above would pass with both sides unchanged)
    assert s.rows(common, "seat") == [
        ("X", 2, 5, 1), ("X", 2, 5, 2), ("w", 101, 1, 1), ("x", 1, 1, 1), ("x", 109, 2, 1), ("x", 109, 2, 2)]
    assert s.rows(other, "channel", "CAST(nick AS BINARY), session, probe") == [
        ("bob ", _d("2020-02-29"), "M", 1, 1, 7), ("bob ", _d("2020-02-29"), "M", 1, 2, 7),
        ("cy", _d("2021-12-31"), "U", 1, 1, 7), ("cyd", _d("2021-12-31"), "U", 1, 1, 7),
        ("cyd", _d("2021-12-31"), "U", 1, 2, 7), ("dee", _d("2019-07-01"), "F", 1, 1, 7),
        ("dee", _d("2019-07-01"), "F", 1, 2, 7), ("dee", _d("2019-07-01"), "F", 2, 1, 7),
        ("ed", _d("2019-06-02"), "U", 1, 1, 7), ("ed", _d("2019-06-02"), "U", 1, 2, 7)]
    assert s.rows(common, "tagged") == [("é", 1), ("ÄX", 1), ("ÄX", 2)]  # (Swedish order)
    assert s.rows(common, "kid") == [(1, 2, 1), (1, 2, 2), (3, 100, 1), (5, 1, 1)]
    verified = s.verify(check=False)
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]
    if s.sync == "two-way" and s.param == "60_constraints":  # v2's clients move keys too, carried back into v1
        v2common, v2other = s.v2(common), s.v2(other)
        for sql in (f"UPDATE `{v2common}`.subject SET nick = 'ED' WHERE nick = 'ed'",
                    f"UPDATE `{v2common}`.subject SET sex = 'M', nick = 'ed' WHERE nick = 'ED'",
                    f"UPDATE `{v2common}`.lab SET site = 'v ' WHERE site = 'w'",
                    f"UPDATE `{v2common}`.person SET pid = 50 WHERE pid = 5",
                    f"DELETE FROM `{v2other}`.channel WHERE nick = 'cyd'"):
            s.db.execute(sql)
            _same(s)
        assert s.rows(other, "cleaning") == [(1, "x", 109, 2), (2, "X", 2, 5), (3, "x", None, 1),
                                              (4, None, None, None), (5, "v ", 101, 1), (6, "y", 1, 1)]
        assert s.verify(check=False).returncode == 0
    if s.param != "60_constraints":  # v2's foreign keys agree with the rows the triggers moved
        applied(s, "60_constraints")
        _same(s)
        assert s.verify(check=False).returncode == 0


def _d(text: str):
    import datetime

    return datetime.date.fromisoformat(text)
