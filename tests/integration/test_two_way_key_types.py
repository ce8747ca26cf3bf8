"""Two-way sync on keys of every type DataJoint allows (issue 24 on issue 11's key types).

The same values as test_key_types (chosen where the server's orderings and comparisons disagree: enum index against
text, FLOAT's printed digits, case and trailing spaces under _ci and PAD SPACE collations, binary uuids), a two-way
identity plan, and from 60 on writes on both sides that move keys in those ways, delete and insert again: v2's
client moves a key and v1's moves it back, each side deletes a row and inserts it again. After each write the two
sides are compared byte for byte (ordered by the keys' bytes), independently of verify; then verify is clean.
"""

from __future__ import annotations

import pytest
from support.safety import FastScenario

from .test_key_types import KEY_TYPES


def _rows(s: FastScenario, schema: str) -> list[tuple]:
    # the key's bytes (HEX of its binary form: FLOAT and DOUBLE by their exact value) and the value
    return [tuple(r.values()) for r in s.db.query(
        f"SELECT HEX(CAST(k AS BINARY)) AS k, CAST(k AS CHAR) AS shown, v FROM `{schema}`.t "
        "ORDER BY CAST(k AS BINARY), v")]


@pytest.mark.parametrize("kind", sorted(KEY_TYPES))
def test_a_key_of_each_type_moves_and_comes_back_on_both_sides(kind, db, prefix, dj_env, tmp_path):
    sql_type, values, updates = KEY_TYPES[kind]
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(f"CREATE TABLE t (k {sql_type} NOT NULL, v int NOT NULL, PRIMARY KEY (k)) ENGINE=InnoDB;\n"
                f"INSERT INTO t VALUES {', '.join(f'({val}, {i})' for i, val in enumerate(values))}")
    s.plan(lambda plan: plan.update(sync="two-way"))
    s.generate()
    s.open_at_60(chunk_rows=2)
    v1, v2 = f"`{s.sources[0]}`.t", f"`{s.v2()}`.t"

    def same(after: str) -> None:
        assert _rows(s, s.v2()) == _rows(s, s.sources[0]), after

    same("the backfill")
    for index, new in updates:
        s.db.execute(f"UPDATE {v2} SET k = {new} WHERE v = {index}")  # a v2 client moves the key
        same(f"v2 moved {values[index]} to {new}")
        s.db.execute(f"UPDATE {v1} SET k = {values[index]}, v = v + 100 WHERE v = {index}")  # v1 moves it back
        same(f"v1 moved {new} back to {values[index]}")
    last = len(values) - 1
    moved = {index for index, _ in updates}  # their v is 100 more now
    s.db.execute(f"DELETE FROM {v2} WHERE v = {last + 100 * (last in moved)}")  # by v: a FLOAT literal may match no key
    same("v2 deleted a row")
    s.db.execute(f"INSERT INTO {v2} VALUES ({values[last]}, {last})")
    same("v2 inserted it again")
    s.db.execute(f"DELETE FROM {v1} WHERE v = {100 * (0 in moved)}")
    s.db.execute(f"INSERT INTO {v1} VALUES ({values[0]}, 50)")
    same("v1 deleted a row and inserted it again")
    assert s.verify().returncode == 0
