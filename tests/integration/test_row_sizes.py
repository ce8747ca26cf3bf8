"""Rows of every size the server accepts go through every path (the brief: "every row size the server accepts").

A row as large as one statement can carry (a LONGBLOB of max_allowed_packet less room for the statement around it),
rows of the widest in-page shape InnoDB accepts (a dozen VARCHAR(255) columns plus a wide CHAR), an empty value and a
NULL, on a table whose v2 converts its text to utf8mb4 as the 0.14 → 2.x move does. Copied by the backfill in chunks
sized by bytes (a chunk of one huge row is still a chunk), written through the triggers, one way and both ways (a
v2 client writes the largest row back into v1), then compared by their hashes independently of verify, and verify
clean.
"""

from __future__ import annotations

import pytest
from support.safety import FastScenario

WIDE = ", ".join(f"c{i} varchar(255) NOT NULL DEFAULT ''" for i in range(12))
V1 = f"""
CREATE TABLE blob_row (id int NOT NULL, payload longblob NULL, {WIDE}, tag char(255) NOT NULL DEFAULT '',
  PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=latin1
"""


def _largest(db) -> int:
    """The largest value one INSERT can carry here: max_allowed_packet less a margin for the statement."""
    return int(db.query("SELECT @@max_allowed_packet AS p")[0]["p"]) - 64 * 1024


def _hashes(s: FastScenario, schema: str) -> list[tuple]:
    cols = ", ".join(f"c{i}" for i in range(12))
    return [tuple(r.values()) for r in s.db.query(
        f"SELECT id, SHA2(payload, 256) AS p, LENGTH(payload) AS n, MD5(CONCAT_WS('|', {cols}, tag)) AS text_hash "
        f"FROM `{schema}`.blob_row ORDER BY id")]


def _fill(s: FastScenario, table: str, first: int, largest: int) -> None:
    wide = ", ".join(f"REPEAT('{chr(97 + i)}', 255)" for i in range(12))
    s.db.execute(f"INSERT INTO {table} VALUES ({first}, NULL, {', '.join(['DEFAULT'] * 12)}, DEFAULT)")
    s.db.execute(f"INSERT INTO {table} VALUES ({first + 1}, '', {wide}, REPEAT('z', 255))")
    s.db.execute(f"INSERT INTO {table} VALUES ({first + 2}, REPEAT(UNHEX('00FF'), 32768), {wide}, 'x')")
    s.db.execute(f"INSERT INTO {table} (id, payload) VALUES ({first + 3}, REPEAT('L', %s))", [largest])


@pytest.mark.parametrize("sync", ["one-way", "two-way"])
def test_rows_of_every_size_reach_v2_and_come_back(sync, db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    v1 = f"`{s.sources[0]}`.blob_row"
    largest = _largest(db)
    _fill(s, v1, 1, largest)  # history the backfill copies

    def utf8(plan: dict) -> None:
        plan["sync"] = sync
        columns = s.tables(plan)["blob_row"]["columns"]
        for i in range(12):
            columns[f"c{i}"] = {"type": "varchar(255)", "charset": "utf8mb4", "collation": "utf8mb4_general_ci"}

    s.plan(utf8)
    s.generate()
    if sync == "two-way":
        s.open_at_60(chunk_rows=1)
    else:
        s.forward("30_dualwrite")
        s.backfill(chunk_rows=1)
    _fill(s, v1, 11, largest)  # through the triggers
    s.db.execute(f"UPDATE {v1} SET payload = REPEAT('M', %s) WHERE id = 2", [largest])  # grown to the largest
    assert _hashes(s, s.v2()) == _hashes(s, s.sources[0])
    if sync == "two-way":
        v2 = f"`{s.v2()}`.blob_row"
        s.db.execute(f"UPDATE {v2} SET payload = REPEAT('N', %s) WHERE id = 3", [largest])
        _fill(s, v2, 21, largest)  # a v2 client's rows, carried into latin1 v1
        assert _hashes(s, s.v2()) == _hashes(s, s.sources[0])
    assert s.verify().returncode == 0
