"""Triggers follow every foreign key v1 cascades, each separately (issue 11, item 1).

v1's ON UPDATE/DELETE CASCADE changes child rows without firing their triggers, so the parent's trigger
must carry each cascade into v2: two foreign keys from one table to the same parent (DataJoint's renamed
``.proj`` references), composite and nullable ones whose partly-NULL rows InnoDB leaves alone, chains
three deep, and, once 60_constraints added v2's own foreign keys, key moves under RESTRICT children
(a delete-and-reinsert would fail with 1451 there).
"""

from __future__ import annotations

import pytest
from support.scenario import Scenario

V1 = """
CREATE TABLE person (pid int NOT NULL, name varchar(16) NOT NULL, PRIMARY KEY (pid)) ENGINE=InnoDB;
CREATE TABLE family (child int NOT NULL, mother int NOT NULL, father int NOT NULL, PRIMARY KEY (child),
  CONSTRAINT family_mother FOREIGN KEY (mother) REFERENCES person (pid) ON UPDATE CASCADE ON DELETE RESTRICT,
  CONSTRAINT family_father FOREIGN KEY (father) REFERENCES person (pid) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB;
CREATE TABLE rig (site varchar(8) NOT NULL, rig int NOT NULL, PRIMARY KEY (site, rig)) ENGINE=InnoDB;
CREATE TABLE sess (sid int NOT NULL, site varchar(8) NULL, rig int NULL, PRIMARY KEY (sid),
  CONSTRAINT sess_rig FOREIGN KEY (site, rig) REFERENCES rig (site, rig) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB;
CREATE TABLE a (a int NOT NULL, PRIMARY KEY (a)) ENGINE=InnoDB;
CREATE TABLE b (a int NOT NULL, b int NOT NULL, PRIMARY KEY (a, b),
  CONSTRAINT b_a FOREIGN KEY (a) REFERENCES a (a) ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE c (a int NOT NULL, b int NOT NULL, c int NOT NULL, PRIMARY KEY (a, b, c),
  CONSTRAINT c_b FOREIGN KEY (a, b) REFERENCES b (a, b) ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE d (a int NOT NULL, b int NOT NULL, c int NOT NULL, note varchar(8) NOT NULL, PRIMARY KEY (a, b, c),
  CONSTRAINT d_c FOREIGN KEY (a, b, c) REFERENCES c (a, b, c) ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE e (e int NOT NULL, PRIMARY KEY (e)) ENGINE=InnoDB;
CREATE TABLE f (e int NOT NULL, f int NOT NULL, PRIMARY KEY (e, f),
  CONSTRAINT f_e FOREIGN KEY (e) REFERENCES e (e) ON UPDATE CASCADE ON DELETE CASCADE) ENGINE=InnoDB;
CREATE TABLE g (e int NOT NULL, f int NOT NULL, g int NOT NULL, PRIMARY KEY (e, f, g),
  CONSTRAINT g_f FOREIGN KEY (e, f) REFERENCES f (e, f) ON UPDATE CASCADE ON DELETE CASCADE) ENGINE=InnoDB;
INSERT INTO person VALUES (1, 'ann'), (2, 'bob'), (3, 'cy'), (4, 'di');
INSERT INTO family VALUES (10, 1, 2), (11, 3, 1), (12, 1, 1), (13, 3, 4);
INSERT INTO rig VALUES ('x', 1), ('x', 2), ('y', 1);
INSERT INTO sess VALUES (1, 'x', 1), (2, 'x', NULL), (3, NULL, 1), (4, 'y', 1), (5, NULL, NULL), (6, 'x', 1);
INSERT INTO a VALUES (1), (2);
INSERT INTO b VALUES (1, 1), (1, 2), (2, 1);
INSERT INTO c VALUES (1, 1, 1), (1, 2, 1), (2, 1, 1);
INSERT INTO d VALUES (1, 1, 1, 'one'), (1, 2, 1, 'two'), (2, 1, 1, 'three');
INSERT INTO e VALUES (1), (2);
INSERT INTO f VALUES (1, 1), (1, 2), (2, 1);
INSERT INTO g VALUES (1, 1, 1), (1, 2, 1), (2, 1, 1)
"""

TABLES = ("person", "family", "rig", "sess", "a", "b", "c", "d", "e", "f", "g")

WRITES = [
    "UPDATE person SET pid = 100 WHERE pid = 1",  # mother of 10 and 12, father of 11 and 12
    "UPDATE person SET pid = 300 WHERE pid = 3",
    "UPDATE rig SET rig = 9 WHERE site = 'x' AND rig = 1",  # (x, NULL) and (NULL, 1) stay untouched
    "UPDATE rig SET site = 'z' WHERE site = 'y'",
    "UPDATE a SET a = 50 WHERE a = 1",  # three levels: b, c, d (d is a RESTRICT child of c)
    "UPDATE b SET b = 7 WHERE a = 2 AND b = 1",
    "DELETE FROM e WHERE e = 1",  # ON DELETE CASCADE through f into g
    "UPDATE e SET e = 20 WHERE e = 2",
    "INSERT INTO person VALUES (5, 'ed')",
    "UPDATE family SET father = 5 WHERE child = 13",
    "UPDATE sess SET site = 'x', rig = 2 WHERE sid = 5",
]


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = Scenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan()
    s.generate()
    return s


def _write(scenario: Scenario, statements) -> None:
    scenario.db.execute(f"USE `{scenario.sources[0]}`")
    for sql in statements:
        scenario.db.execute(sql)


@pytest.mark.parametrize("when", ["before the backfill", "after the backfill", "after 60_constraints"])
def test_cascades_reach_v2(when, scenario):
    scenario.up_to("30_dualwrite")
    if when == "before the backfill":
        _write(scenario, WRITES)
        scenario.backfill(chunk_rows=2)
    else:
        scenario.backfill(chunk_rows=2)
        if when == "after 60_constraints":
            scenario.apply("60_constraints")
        _write(scenario, WRITES)
    assert scenario.verify().returncode == 0
    for table in TABLES:
        scenario.same_rows(table)
    if when == "after 60_constraints":  # v2's own foreign keys agree with the rows the triggers moved
        orphans = scenario.db.query(f"SELECT COUNT(*) AS n FROM `{scenario.v2()}`.family AS f LEFT JOIN "
                                    f"`{scenario.v2()}`.person AS p ON p.pid = f.father WHERE p.pid IS NULL")
        assert orphans[0]["n"] == 0
