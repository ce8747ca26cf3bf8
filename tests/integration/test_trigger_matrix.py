"""Every combination of operations generates triggers that run (issue 21, item 2): a generated matrix.

One small v1 schema holds a table for each operation of the plan language; each case is one operation or a pair,
applied to its own copy of that schema (its own prefix). For each: generate, 00–30 with the stock client (30
prepares every trigger statement before installing any), the backfill, then writes that fire every trigger: an
INSERT into each table (a master with its part), an UPDATE of a non-key column and of a key column, a DELETE, and
v1's cascades (a subject renumbered, a subject deleted). Then, independently of the triggers and of verify, v2 as
the triggers left it is compared, row by row (ordered SELECTs), with v2 rebuilt from scratch by the backfill
(rollback/40, then the backfill again): the same transform applied in one set-based copy.

Pairs: see CI_PAIRS (all of them with DJSQLGEN_FULL_MATRIX=1). The preset (dj014-to-dj2) is covered with the
DataJoint pipeline in test_dj2_preset, not here.
"""

from __future__ import annotations

import itertools
import os

import pytest
from support.safety import FastScenario, applied

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, name varchar(16) NOT NULL, weight float NULL,
  PRIMARY KEY (subject_id)) ENGINE=InnoDB;
CREATE TABLE session (subject_id int NOT NULL, session_id int NOT NULL, session_start datetime NOT NULL,
  rig varchar(16) NOT NULL, rig_room varchar(16) NOT NULL, weather varchar(16) NULL, comment varchar(32) NOT NULL DEFAULT '',
  PRIMARY KEY (subject_id, session_id), KEY session_start (subject_id, session_start),
  CONSTRAINT session_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE CASCADE) ENGINE=InnoDB;
CREATE TABLE session__extra (subject_id int NOT NULL, session_id int NOT NULL, quality int NOT NULL,
  PRIMARY KEY (subject_id, session_id),
  CONSTRAINT extra_session FOREIGN KEY (subject_id, session_id) REFERENCES session (subject_id, session_id)
    ON UPDATE CASCADE ON DELETE CASCADE) ENGINE=InnoDB;
CREATE TABLE trial (subject_id int NOT NULL, session_id int NOT NULL, trial_id int NOT NULL,
  outcome varchar(8) NOT NULL, PRIMARY KEY (subject_id, session_id, trial_id),
  CONSTRAINT trial_session FOREIGN KEY (subject_id, session_id) REFERENCES session (subject_id, session_id)
    ON UPDATE CASCADE ON DELETE CASCADE) ENGINE=InnoDB;
INSERT INTO subject SELECT seq, CONCAT('s', seq), seq * 1.5 FROM seq_1_to_4;
INSERT INTO session SELECT s.seq, k.seq, TIMESTAMP('2024-01-01') + INTERVAL (s.seq * 10 + k.seq) HOUR,
  CONCAT('rig', k.seq), CONCAT('room', k.seq), IF(k.seq = 2, 'rain', NULL), '' FROM seq_1_to_4 AS s, seq_1_to_3 AS k;
INSERT INTO session__extra SELECT subject_id, session_id, session_id * 10 FROM session;
INSERT INTO trial SELECT subject_id, session_id, t.seq, IF(t.seq = 1, 'hit', 'miss') FROM session, seq_1_to_2 AS t
"""


def _table(plan_tables: dict, name: str) -> dict:
    if plan_tables[name] == "keep":
        plan_tables[name] = {}
    return plan_tables[name]


# operation -> how it edits the identity plan's tables
OPERATIONS = {
    "rename_table": lambda t: _table(t, "subject").update(rename="animal"),
    "rename_column": lambda t: _table(t, "subject")["columns"].update(name={"rename": "nickname"}),
    "retype": lambda t: _table(t, "subject")["columns"].update(weight={"type": "double"}),
    "add_column": lambda t: _table(t, "subject").setdefault("add", {}).update(
        label={"type": "varchar(40)", "expr": "CONCAT(name, '/', subject_id)", "nullable": True}),
    "drop_column": lambda t: _table(t, "session")["columns"].update(comment="drop"),
    "rekey": lambda t: _table(t, "session").update(key=["subject_id", "session_start"]),
    "lookup": lambda t: _table(t, "session").setdefault("lookups", []).append(
        {"table": "#rig", "key": ["rig"], "columns": ["rig_room"]}),
    "part": lambda t: _table(t, "session").setdefault("parts", []).append({"name": "weather", "columns": ["weather"]}),
    "merge_part": lambda t: _table(t, "session__extra").update(merge_into_master=True),
    "split": lambda t: _table(t, "trial").update(split=[{"table": "trial_hit", "where": "outcome = 'hit'"},
                                                      {"table": "trial_other", "where": "outcome <> 'hit'"}]),
}
ALL_PAIRS = list(itertools.combinations(OPERATIONS, 2))
# CI runs every operation alone and these pairs (each operation in at least two, the same table and parent/child
# combinations first); DJSQLGEN_FULL_MATRIX=1 runs all 45 pairs (about 25 minutes on a busy 2-core machine, 53 of
# them passing and the two below refused by the plan, when this was written).
CI_PAIRS = [("rename_table", "rekey"), ("rename_table", "split"), ("rename_column", "add_column"),
            ("rename_column", "lookup"), ("retype", "lookup"), ("add_column", "merge_part"), ("drop_column", "part"),
            ("rekey", "lookup"), ("rekey", "split"), ("lookup", "part"), ("part", "merge_part"),
            ("merge_part", "split"), ("retype", "drop_column")]
CASES = [(name,) for name in OPERATIONS] + (ALL_PAIRS if os.environ.get("DJSQLGEN_FULL_MATRIX") == "1" else CI_PAIRS)
# Pairs the plan refuses (with the plan key and the way out), instead of generating files: limits of composing
# these operations on one table today, kept here so that lifting one shows up.
REFUSED = {
    ("rekey", "part"): "whose key is (subject_id, session_start) in v2; map its columns to the new key",
    ("rekey", "merge_part"): "reads other tables or a part of its rows; merge it as v1 has it",
}


def _writes(v1: str) -> list[str]:
    return [
        f"INSERT INTO {v1}.subject VALUES (7, 'new', 2.5)",
        f"INSERT INTO {v1}.session VALUES (7, 1, '2025-02-01 10:00:00', 'rig9', 'room9', 'sun', 'c')",
        f"INSERT INTO {v1}.session__extra VALUES (7, 1, 70)",
        f"INSERT INTO {v1}.trial VALUES (7, 1, 1, 'hit'), (7, 1, 2, 'miss')",
        f"UPDATE {v1}.subject SET name = 'renamed', weight = 3.25 WHERE subject_id = 1",
        f"UPDATE {v1}.session SET rig_room = 'room1b', weather = 'snow', comment = 'x' WHERE rig = 'rig1'",
        f"UPDATE {v1}.session SET session_start = session_start + INTERVAL 1 MINUTE WHERE subject_id = 2 AND session_id = 1",
        f"UPDATE {v1}.session SET session_id = 9 WHERE subject_id = 2 AND session_id = 3",
        f"UPDATE {v1}.session__extra SET quality = quality + 1 WHERE subject_id = 3",
        f"UPDATE {v1}.trial SET outcome = 'hit' WHERE subject_id = 3 AND trial_id = 2",
        f"UPDATE {v1}.trial SET trial_id = 5 WHERE subject_id = 4 AND session_id = 1 AND trial_id = 2",
        f"DELETE FROM {v1}.trial WHERE subject_id = 1 AND session_id = 2",
        f"DELETE FROM {v1}.session__extra WHERE subject_id = 1 AND session_id = 3",
        f"UPDATE {v1}.subject SET subject_id = 40 WHERE subject_id = 4",  # cascades into every table
        f"DELETE FROM {v1}.subject WHERE subject_id = 3",  # cascades too
    ]


def _v2_rows(scenario: FastScenario) -> dict[str, list]:
    v2 = scenario.v2()
    out = {}
    for row in scenario.sql("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", [v2]):
        table = row["TABLE_NAME"]
        columns = [r["COLUMN_NAME"] for r in scenario.sql(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
            "ORDER BY ORDINAL_POSITION", [v2, table])]
        order = ", ".join(f"CAST(`{c}` AS BINARY)" for c in columns)
        out[table] = [tuple(r.values()) for r in scenario.sql(f"SELECT * FROM `{v2}`.`{table}` ORDER BY {order}")]
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: "+".join(c))
def test_every_trigger_runs_and_agrees_with_the_backfill(case, db, prefix, dj_env, tmp_path):
    scenario = FastScenario(db, prefix, dj_env, tmp_path)
    scenario.create_v1(V1)

    def edit(plan):
        tables = scenario.tables(plan)
        for name in case:
            OPERATIONS[name](tables)

    scenario.plan(edit)
    if case in REFUSED:
        result = scenario.generate(check=False)
        assert result.returncode != 0 and REFUSED[case] in result.stderr, result.stdout + result.stderr
        return
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    scenario.backfill(chunk_rows=5)
    for write in _writes(f"`{scenario.sources[0]}`"):
        scenario.db.execute(write)
    by_triggers = _v2_rows(scenario)
    applied(scenario, "rollback/40_backfill")
    scenario.backfill(chunk_rows=5)
    by_backfill = _v2_rows(scenario)
    for table in by_backfill:
        lookup = table.startswith("#")  # a lookup keeps rows no v1 row uses any more (test_lookup)
        if lookup:
            assert set(by_backfill[table]) <= set(by_triggers[table]), table
        else:
            assert by_triggers[table] == by_backfill[table], table


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_every_trigger_runs_before_the_backfill_and_agrees_with_it(name, db, prefix, dj_env, tmp_path):
    """The same writes while v2 is still empty (issue 21, item 1: a DELETE or key move of a row not copied yet first
    writes that row, so that it locks no gap): then the backfill, and v2 equals v2 rebuilt from scratch."""
    scenario = FastScenario(db, prefix, dj_env, tmp_path)
    scenario.create_v1(V1)
    scenario.plan(lambda plan: OPERATIONS[name](scenario.tables(plan)))
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    for write in _writes(f"`{scenario.sources[0]}`"):
        scenario.db.execute(write)
    scenario.backfill(chunk_rows=5)
    by_triggers = _v2_rows(scenario)
    applied(scenario, "rollback/40_backfill")
    scenario.backfill(chunk_rows=5)
    by_backfill = _v2_rows(scenario)
    for table in by_backfill:
        if table.startswith("#"):  # a lookup keeps rows no v1 row uses any more (test_lookup)
            assert set(by_backfill[table]) <= set(by_triggers[table]), table
        else:
            assert by_triggers[table] == by_backfill[table], table
