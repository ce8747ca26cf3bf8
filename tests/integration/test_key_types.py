"""Keys of every type DataJoint allows chunk, compare and move correctly (issue 11, item 2).

Each key type gets a v1 table whose values are chosen where the server's orderings and comparisons
disagree (enum index vs text, FLOAT's 6 printed digits, case and trailing spaces under a _ci or PAD SPACE
collation, binary uuids), a backfill in chunks of 2 rows so that chunk bounds land on them, and writes
through the triggers that change keys in those ways. Then verify is clean and an independent, byte-wise
ordered comparison of every row agrees.
"""

from __future__ import annotations

import pytest
from support.scenario import Scenario

# (type, values as SQL literals, key updates as (index of the value, its new value) SQL literals)
KEY_TYPES = {
    "tinyint": ("tinyint", ["-128", "-1", "0", "1", "7", "127"], [(4, "8")]),
    "smallint_unsigned": ("smallint unsigned", ["0", "1", "300", "65535"], [(2, "301")]),
    "int": ("int", ["-2147483648", "-5", "0", "5", "2147483647"], [(3, "6")]),
    "bigint_unsigned": ("bigint unsigned", ["0", "9007199254740993", "18446744073709551615"],
                        [(1, "9007199254740995")]),
    "decimal": ("decimal(10,3)", ["-1.500", "0.001", "0.002", "1234567.891"], [(2, "0.003")]),
    "float": ("float", ["0.1", "1.2345678", "1.2345679", "1.234568", "-3.4e38"], [(2, "1.2345677")]),
    "double": ("double", ["0.1", "1.0000000000000002", "1", "1e-300"], [(1, "1.0000000000000004")]),
    "char_latin1_ci": ("char(8) CHARACTER SET latin1 COLLATE latin1_swedish_ci",
                       ["'alpha'", "'beta'", "'\u00c4rger'", "'zeta'", "'\u00f6l'"], [(0, "'ALPHA'")]),
    "varchar_ci": ("varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
                   ["'alpha'", "'beta'", "'\u00df'", "'\u00e9mile'", "'zz'"],
                   [(0, "'ALPHA'"), (1, "'beta '")]),
    # 'B' sorts before 'a': a chunk ends on it, equal to the end key 'b' under any _ci comparison of the two
    "varchar_bin": ("varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", ["'a'", "'A'", "'ab'", "'aB'", "'b'",
                                                                              "'B'"], [(2, "'Ab'")]),
    "enum": ("enum('left','right','center')", ["'left'", "'right'"], [(0, "'center'")]),
    "date": ("date", ["'1999-12-31'", "'2024-02-29'", "'2024-03-01'"], [(1, "'2024-02-28'")]),
    "datetime6": ("datetime(6)", ["'2024-05-01 08:00:00.000001'", "'2024-05-01 08:00:00.000002'",
                                  "'2024-05-01 08:00:01'"], [(1, "'2024-05-01 08:00:00.000003'")]),
    "timestamp3": ("timestamp(3)", ["'1970-01-01 00:00:01.000'", "'2024-06-01 12:00:00.001'", "'2038-01-19 03:14:07'"],
                   [(1, "'2024-06-01 12:00:00.002'")]),
    "time3": ("time(3)", ["'-838:59:59'", "'00:00:00.001'", "'12:00:00'", "'838:59:59'"],
              [(2, "'12:00:00.5'")]),
    "uuid": ("binary(16)", ["UNHEX('00000000000000000000000000000000')", "UNHEX('7fffffffffffffffffffffffffffffff')",
                            "UNHEX('80000000000000000000000000000000')", "UNHEX('ffffffffffffffffffffffffffffffff')"],
             [(2, "UNHEX('80000000000000000000000000000001')")]),
}


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    return Scenario(db, prefix, dj_env, tmp_path)


@pytest.mark.parametrize("kind", sorted(KEY_TYPES))
@pytest.mark.parametrize("composite", [False, True], ids=["single", "composite"])
def test_key_type_copies_moves_and_verifies(kind, composite, scenario):
    sql_type, values, updates = KEY_TYPES[kind]
    key = "(grp, k)" if composite else "(k)"
    grp = "grp tinyint NOT NULL, " if composite else ""
    scenario.create_v1(f"CREATE TABLE t ({grp}k {sql_type} NOT NULL, v int NOT NULL, PRIMARY KEY {key}) "
                       "ENGINE=InnoDB")

    def insert(vals, v0):
        groups = (1, 2) if composite else (None,)
        rows = [f"({f'{g}, ' if g else ''}{val}, {v0 + i})" for g in groups for i, val in enumerate(vals)]
        scenario.db.execute(f"INSERT INTO `{scenario.sources[0]}`.t VALUES {', '.join(rows)}")

    insert(values, 0)
    scenario.plan()
    scenario.generate()
    scenario.apply("00_preflight", "10_expand", "20_routines", "30_dualwrite")
    t = f"`{scenario.sources[0]}`.t"
    for index, new in updates:  # key changes through the triggers, before the backfill copied the rows
        scenario.db.execute(f"UPDATE {t} SET k = {new} WHERE v = {index}")
    scenario.backfill(chunk_rows=2)
    for index, _ in updates:  # and back, after it: v2 has the rows now, the triggers move them
        scenario.db.execute(f"UPDATE {t} SET k = {values[index]}, v = v + 100 WHERE v = {index}")
    scenario.db.execute(f"DELETE FROM {t} WHERE v = 0")
    assert scenario.verify().returncode == 0
    scenario.same_rows("t")


def test_key_collation_change_that_merges_rows_is_refused_before_anything_runs(scenario):
    """latin1_swedish_ci tells 'a' from 'ä'; utf8mb4_unicode_ci does not: two v1 rows would become one."""
    scenario.create_v1("CREATE TABLE t (k varchar(8) CHARACTER SET latin1 COLLATE latin1_swedish_ci NOT NULL, "
                       "v int, PRIMARY KEY (k)) ENGINE=InnoDB;\n"
                       "INSERT INTO t VALUES ('a', 1), ('\u00e4', 2), ('b', 3)")

    def to_unicode(plan):
        scenario.tables(plan)["t"]["columns"]["k"] = {"type": "varchar(8)", "charset": "utf8mb4",
                                                      "collation": "utf8mb4_unicode_ci"}
    scenario.plan(to_unicode)
    check = scenario.run("plan", "check", str(scenario.plan_path), check=False)  # on the live server: the data
    assert check.returncode == 2 and "tables.t.columns.k: not so in v1's data" in check.stderr, check.stderr
    scenario.generate()
    refused = scenario.apply("00_preflight", check=False)
    assert refused.returncode != 0
    assert "schemas." + scenario.sources[0] + ".tables.t.columns.k" in refused.stderr
    assert "unique" in refused.stderr
    assert not scenario.db.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                                 [scenario.control]), "a refused 00 created the control schema"
    # Without the merging row the same plan goes through, and the triggers refuse a write that would merge.
    scenario.db.execute(f"DELETE FROM `{scenario.sources[0]}`.t WHERE v = 2")
    scenario.apply("00_preflight", "10_expand", "20_routines", "30_dualwrite")
    scenario.backfill()
    with pytest.raises(Exception, match="djsqlgen W1 .*would merge two v1 rows"):
        scenario.db.execute(f"INSERT INTO `{scenario.sources[0]}`.t VALUES ('\u00e4', 9)")
    assert scenario.verify().returncode == 0


def test_widened_binary_collation_key_keeps_its_collation(scenario):
    """A utf8mb4_bin key widened to varchar(32) must stay _bin: 'a' and 'A' are two rows."""
    scenario.create_v1("CREATE TABLE t (k varchar(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, v int, "
                       "PRIMARY KEY (k)) ENGINE=InnoDB;\nINSERT INTO t VALUES ('a', 1), ('A', 2), ('b', 3)")
    scenario.plan(lambda plan: scenario.tables(plan)["t"]["columns"].update(k={"type": "varchar(32)"}))
    scenario.generate()
    scenario.up_to("30_dualwrite")
    scenario.backfill(chunk_rows=1)
    scenario.db.execute(f"INSERT INTO `{scenario.sources[0]}`.t VALUES ('B', 4)")
    collation = scenario.db.query("SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                                  "AND TABLE_NAME = 't' AND COLUMN_NAME = 'k'", [scenario.v2()])[0]["COLLATION_NAME"]
    assert collation == "utf8mb4_bin"
    assert scenario.verify().returncode == 0
    assert [r[0] for r in scenario.rows(scenario.v2(), "t", "CAST(k AS BINARY)")] == ["A", "B", "a", "b"]


def test_a_write_that_would_merge_two_rows_under_a_new_key_fails(scenario):
    """session re-keyed by its day: two v1 sessions of one day would be one v2 row. The triggers refuse the
    write that makes it so (a move onto a taken key, a new row on a taken key); 70 would refuse otherwise."""
    scenario.create_v1("CREATE TABLE session (subject int NOT NULL, sid int NOT NULL, day date NOT NULL, "
                       "PRIMARY KEY (subject, sid)) ENGINE=InnoDB;\n"
                       "INSERT INTO session VALUES (1, 1, '2024-01-01'), (1, 2, '2024-01-02'), (2, 1, '2024-01-01')")

    def rekey(plan):
        scenario.tables(plan)["session"] = {"key": ["subject", "day"], "columns": {"subject": "keep", "sid": "drop",
                                                                                   "day": "keep"}}
    scenario.plan(rekey)
    scenario.generate()
    scenario.up_to("30_dualwrite")
    scenario.backfill()
    t = f"`{scenario.sources[0]}`.session"
    with pytest.raises(Exception, match="would merge two v1 rows"):
        scenario.db.execute(f"UPDATE {t} SET day = '2024-01-01' WHERE subject = 1 AND sid = 2")
    with pytest.raises(Exception, match="djsqlgen W1 .*would merge two v1 rows"):
        scenario.db.execute(f"INSERT INTO {t} VALUES (2, 2, '2024-01-01')")
    assert scenario.verify().returncode == 0
