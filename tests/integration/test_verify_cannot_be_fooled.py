"""Verify finds, and names by key, every difference that changes a row (issue 10, item 6).

v2 is copied exactly, then changed behind the triggers' back in the ways a CRC32 of CONCAT_WS folded
with BIT_XOR misses: values swapped between rows, the same change in an even number of rows, a value
moved across the separator, a FLOAT changed in its 7th digit, NULL against '' against 'NULL', a key's
case or trailing space under a _ci collation, one byte of a value as large as the server accepts. Both
verify strategies are exercised: aligned ranges (identity) and keyed (a re-keyed target).
"""

from __future__ import annotations

import pytest
from support.scenario import Scenario

V1 = """
CREATE TABLE t (
  k int NOT NULL,
  name varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL,
  a varchar(16) NULL,
  b varchar(16) NULL,
  f float NULL,
  d double NULL,
  blob_ longblob NULL,
  PRIMARY KEY (k),
  UNIQUE KEY name (name)
) ENGINE=InnoDB;
INSERT INTO t VALUES
  (10, 'alpha', 'x#y', 'z', 1.2345678, 0.1, 'one'),
  (11, 'beta', 'aaaa', 'aaaa', 2.5, 0.2, 'two'),
  (12, 'gamma', 'aaaa', 'aaaa', 3.5, 0.3, 'three'),
  (13, 'delta', 'aaaa', 'aaaa', 4.5, 0.4, 'four'),
  (14, 'eps', 'aaaa', 'aaaa', 5.5, 0.5, 'five'),
  (15, 'zeta', '', NULL, NULL, NULL, NULL),
  (16, 'eta', 'p', 'q', 6.5, 0.6, 'six')
"""

# (description, SQL run on the v2 table `T`, the key that must be named)
TAMPERS = {
    "values swapped between two rows": ("UPDATE {T} SET a = IF(k = 10, 'p', 'x#y') WHERE k IN (10, 16)", "10"),
    "same change in two rows": ("UPDATE {T} SET a = 'aaab' WHERE k IN (11, 12)", "11"),
    "same change in four rows": ("UPDATE {T} SET b = 'aaab' WHERE k IN (11, 12, 13, 14)", "13"),
    "value moved across the separator": ("UPDATE {T} SET a = 'x', b = 'y#z' WHERE k = 10", "10"),
    "float changed in its 7th digit": ("UPDATE {T} SET f = 1.2345679 WHERE k = 10", "10"),
    "empty string made NULL": ("UPDATE {T} SET a = NULL WHERE k = 15", "15"),
    "NULL made the string NULL": ("UPDATE {T} SET b = 'NULL' WHERE k = 15", "15"),
    "case of a unique value under _ci": ("UPDATE {T} SET name = 'ALPHA' WHERE k = 10", "10"),
    "trailing space under PAD SPACE": ("UPDATE {T} SET name = 'beta ' WHERE k = 11", "11"),
    "row missing in v2": ("DELETE FROM {T} WHERE k = 12", "12"),
    "row only in v2": ("INSERT INTO {T} (k, name, a, b) VALUES (99, 'extra', 'a', 'b')", "99"),
}


def _scenario(db, prefix, dj_env, tmp_path, keyed: bool) -> tuple[Scenario, str]:
    s = Scenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)

    def rekey(plan):  # v2 keyed by the unique name: the keyed strategy (v2 rows found by their mapped key)
        s.tables(plan)["t"]["key"] = ["name"]
    s.plan(rekey if keyed else None)
    s.generate()
    s.up_to("30_dualwrite")
    s.backfill(chunk_rows=2)
    assert s.verify().returncode == 0
    return s, f"`{s.v2()}`.`t`"


@pytest.mark.parametrize("keyed", [False, True], ids=["aligned", "keyed"])
@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_verify_finds_and_names_the_changed_row(tamper, keyed, db, prefix, dj_env, tmp_path):
    s, table = _scenario(db, prefix, dj_env, tmp_path, keyed)
    sql, key = TAMPERS[tamper]
    db.execute(sql.format(T=table))
    result = s.verify(check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "DIFFERENT" in result.stdout
    named = [line for line in result.stdout.splitlines() if "missing" in line or "differ" in line
             or "not in transform" in line]
    assert named, result.stdout
    if not keyed:  # aligned: rows are named by their key, which is k
        assert any(f'"{key}"' in line for line in named), result.stdout


def test_one_byte_of_a_value_as_large_as_the_server_accepts(db, prefix, dj_env, tmp_path):
    """A row near max_allowed_packet: CONCAT of the whole row would be NULL (warning 1301) and skipped."""
    s, table = _scenario(db, prefix, dj_env, tmp_path, keyed=False)
    packet = db.query("SELECT @@max_allowed_packet AS p")[0]["p"]
    db.execute(f"UPDATE `{s.sources[0]}`.t SET blob_ = REPEAT('b', {packet - 4096}) WHERE k = 16")
    assert s.verify().returncode == 0  # the trigger copied it; equal
    db.execute(f"UPDATE {table} SET blob_ = INSERT(blob_, 1000, 1, 'c') WHERE k = 16")
    result = s.verify(check=False)
    assert result.returncode == 1 and '"16"' in result.stdout, result.stdout


def test_50_verify_sql_fails_the_stock_client_on_a_difference(db, prefix, dj_env, tmp_path):
    s, table = _scenario(db, prefix, dj_env, tmp_path, keyed=False)
    db.execute(f"UPDATE {table} SET a = 'tampered' WHERE k = 11")
    result = s.client(s.out / "50_verify.sql")
    assert result.returncode != 0
    assert "v2 differs from transform(v1)" in result.stderr
