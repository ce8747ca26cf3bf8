"""Constraints without stalling writers (issue 10, item 7; DESIGN.md invariant 8).

60_constraints.sql checks every reference of v2 with a chunked anti-join first: an orphan (put into v2
directly) makes it refuse naming the foreign key and the row, with no constraint added. Otherwise it adds
every foreign key v1 has, which then hold (an independent anti-join; an orphan insert fails), while a v1
writer keeps working and its rows reach v2.
"""

from __future__ import annotations

import re
import time

import pytest
from support.safety import FastScenario, Writer, applied, client, state, state_difference

# Short names, and names as DataJoint makes them (part tables, the server's own foreign key names), long
# enough that a message cut at 128 characters loses the end.
NAMES = {
    "short": ("parent", "child", "child_parent"),
    "datajoint": ("session__trial", "session__trial__spike_waveform", "session__trial__spike_waveform_ibfk_1"),
}

V1 = """
CREATE TABLE `{parent}` (pid int NOT NULL, name varchar(16) NOT NULL, PRIMARY KEY (pid)) ENGINE=InnoDB;
CREATE TABLE `{child}` (pid int NOT NULL, cid int NOT NULL, note varchar(16) NULL, PRIMARY KEY (pid, cid),
  CONSTRAINT `{fk}` FOREIGN KEY (pid) REFERENCES `{parent}` (pid) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB;
CREATE TABLE rig (site varchar(8) NOT NULL, rig int NOT NULL, PRIMARY KEY (site, rig)) ENGINE=InnoDB;
CREATE TABLE sess (sid int NOT NULL, site varchar(8) NULL, rig int NULL, PRIMARY KEY (sid),
  CONSTRAINT sess_rig FOREIGN KEY (site, rig) REFERENCES rig (site, rig) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB;
INSERT INTO `{parent}` VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');
INSERT INTO `{child}` VALUES (1, 1, 'x'), (1, 2, NULL), (2, 1, 'y'), (3, 7, 'z'), (3, 8, 'w');
INSERT INTO rig VALUES ('x', 1), ('y', 2);
INSERT INTO sess VALUES (1, 'x', 1), (2, 'x', NULL), (3, NULL, 5), (4, NULL, NULL), (5, 'y', 2)
"""


def _scenario(db, prefix, dj_env, tmp_path, names: str) -> FastScenario:
    parent, child, fk = NAMES[names]
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1.format(parent=parent, child=child, fk=fk))
    s.plan()
    s.generate()
    return s


def _foreign_keys(scenario: FastScenario, schema: str) -> set[tuple]:
    """(table, constraint, referenced table, columns, referenced columns, update rule, delete rule) of a schema."""
    rows = scenario.db.query(
        "SELECT k.TABLE_NAME AS t, k.CONSTRAINT_NAME AS c, k.REFERENCED_TABLE_NAME AS r, "
        "GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION) AS cols, "
        "GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION) AS refs, "
        "rc.UPDATE_RULE AS u, rc.DELETE_RULE AS d, MAX(k.REFERENCED_TABLE_SCHEMA) AS rs "
        "FROM information_schema.KEY_COLUMN_USAGE AS k JOIN information_schema.REFERENTIAL_CONSTRAINTS AS rc "
        "ON rc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND rc.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
        "AND rc.TABLE_NAME = k.TABLE_NAME WHERE k.TABLE_SCHEMA = %s AND k.REFERENCED_TABLE_NAME IS NOT NULL "
        "GROUP BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.REFERENCED_TABLE_NAME, rc.UPDATE_RULE, rc.DELETE_RULE",
        [schema])
    assert all(r["rs"] == schema for r in rows), f"a foreign key of {schema} points into another schema: {rows}"
    return {(r["t"], r["c"], r["r"], r["cols"], r["refs"], r["u"], r["d"]) for r in rows}


def _orphans(scenario: FastScenario, schema: str, fk: tuple) -> int:
    """Rows of the child whose complete reference finds no parent row (MATCH SIMPLE, as InnoDB checks)."""
    table, _, parent, cols, refs = fk[:5]
    cols, refs = cols.split(","), refs.split(",")
    complete = " AND ".join(f"c.`{c}` IS NOT NULL" for c in cols)
    join = " AND ".join(f"p.`{r}` = c.`{c}`" for c, r in zip(cols, refs))
    return scenario.db.query(
        f"SELECT COUNT(*) AS n FROM `{schema}`.`{table}` AS c WHERE {complete} AND NOT EXISTS "
        f"(SELECT 1 FROM `{schema}`.`{parent}` AS p WHERE {join})")[0]["n"]


@pytest.mark.parametrize("names", list(NAMES))
def test_an_orphan_in_v2_refuses_60_naming_the_foreign_key_and_the_row(names, db, prefix, dj_env, tmp_path,
                                                                      server_settings):
    scenario = _scenario(db, prefix, dj_env, tmp_path, names)
    _, child, fk = NAMES[names]
    scenario.forward("50_verify")
    scenario.db.execute(f"INSERT INTO `{scenario.v2()}`.`{child}` VALUES (99, 4, 'orphan')")
    before = state(server_settings, prefix)
    result = client(scenario.db.settings, scenario.out / "60_constraints.sql")
    assert result.returncode != 0 and "ERROR 1644" in result.stderr, result.stderr[-1500:]
    message = result.stderr.strip().splitlines()[-1]
    assert fk in message, f"the refusal does not name the foreign key {fk}: {message}"
    assert re.search(r"\b99\b", message), f"the refusal does not name the orphan row (pid 99): {message}"
    assert state_difference(before, state(server_settings, prefix)) == []
    assert _foreign_keys(scenario, scenario.v2()) == set()


@pytest.mark.parametrize("names", list(NAMES))
def test_60_adds_every_foreign_key_online_and_they_hold(names, db, prefix, dj_env, tmp_path, server_settings):
    scenario = _scenario(db, prefix, dj_env, tmp_path, names)
    parent, child, _ = NAMES[names]
    v1, v2 = scenario.sources[0], scenario.v2()
    scenario.forward("50_verify")
    text = (scenario.out / "60_constraints.sql").read_text()
    adds = re.findall(r"ADD CONSTRAINT[^;]*", text)
    assert adds and all("ALGORITHM=INPLACE, LOCK=NONE" in a for a in adds)
    assert text.index("SET SESSION foreign_key_checks = 0") < text.index("ADD CONSTRAINT")

    statement = f"INSERT INTO `{v1}`.`{child}` (pid, cid, note) VALUES (2, %s, %s)"
    with Writer(server_settings, v1, child, first_id=100, every_ms=2, statement=statement) as writer:
        time.sleep(0.05)
        applied(scenario, "60_constraints")
        time.sleep(0.05)
    assert writer.failed == [], f"v1 writes failed while 60 ran: {writer.failed[:5]}"
    assert writer.ok
    for table in (parent, child, "rig", "sess"):
        scenario.same_rows(table)

    v1_keys, v2_keys = _foreign_keys(scenario, v1), _foreign_keys(scenario, v2)
    assert {k[:6] for k in v2_keys} == {k[:6] for k in v1_keys}, f"v1 {sorted(v1_keys)}\nv2 {sorted(v2_keys)}"
    assert all(_orphans(scenario, v2, fk) == 0 for fk in v2_keys)
    with pytest.raises(Exception, match="foreign key constraint fails"):
        scenario.db.execute(f"INSERT INTO `{v2}`.`{child}` VALUES (98, 1, 'orphan')")
    with pytest.raises(Exception, match="foreign key constraint fails"):
        scenario.db.execute(f"INSERT INTO `{v2}`.sess VALUES (9, 'x', 2)")
    # declared as in v1, the delete rule included (SHOW CREATE TABLE of v2 is what users get after cut-over)
    assert v2_keys == v1_keys, f"v1 {sorted(v1_keys)}\nv2 {sorted(v2_keys)}"
