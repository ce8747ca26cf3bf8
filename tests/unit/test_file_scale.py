"""Issue 14, item 7: a DBA reviews a migration a table at a time, so what 20_routines.sql holds per v2 table stays
small however many tables there are: a table's own statements (its key walk, chunk copy and row hashes) are one
row of the control table chunk_sql, and the shared procedures run them. Before, each table had its own backfill
and verify procedures of 8–9 KB each (about 20 KB per table in 20_routines.sql, twice that with rollback/80).

Measured on copies of tests/plans/heading.json (4 tables each) planned and generated without a server.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
HEADING = TESTS / "plans" / "heading.json"
PER_TABLE_LIMIT = 6_500  # bytes of 20_routines.sql per v2 table (6,000 before the backfill's end bound: upto_end and
# end_from_checkpoint, about 300 bytes on a table of four key columns)


def _generate(tmp: Path, copies: int) -> Path:
    """``copies`` schemas shaped like the test heading's, planned with `plan init` and generated."""
    source = json.loads(HEADING.read_text())
    (schema,) = source["schemas"]
    text = json.dumps(schema)
    schemas = [json.loads(text.replace(f'"{schema["name"]}"', f'"scale_{i}"')) for i in range(copies)]
    work = tmp / str(copies)
    work.mkdir()
    (work / "heading.json").write_text(json.dumps({**source, "schemas": schemas}))
    pairs = [a for i in range(copies) for a in ("--schema", f"scale_{i}=scale_{i}_v2")]
    for args in (["plan", "init", *pairs, "--name", "scale", "--heading", "heading.json", "-o", "plan.yaml"],
                 ["generate", "plan.yaml", "--heading", "heading.json", "-o", "out"]):
        subprocess.run([sys.executable, "-m", "djsqlgen", *args], cwd=work, check=True, capture_output=True)
    return work / "out"


def _statements(path: Path) -> dict[str, str]:
    parts = re.split(r"^-- \[([^\]]+)\]", path.read_text(), flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_each_table_adds_a_few_kilobytes_of_routines_not_procedures_of_its_own(tmp_path):
    one, five = _generate(tmp_path, 1), _generate(tmp_path, 5)
    tables_added = 4 * 4
    growth = (five / "20_routines.sql").stat().st_size - (one / "20_routines.sql").stat().st_size
    assert growth / tables_added < PER_TABLE_LIMIT, f"{growth / tables_added:,.0f} bytes per table"

    statements = _statements(five / "20_routines.sql")
    rows = {sid: sql for sid, sql in statements.items() if sid.startswith("chunk_sql.")}
    assert len(rows) == 20
    assert all(len(sql) < PER_TABLE_LIMIT for sql in rows.values())
    # The chunk procedures are shared: no per-table backfill or verify chunk procedure is created.
    assert not [sid for sid in statements if re.match(r"procedure_create\..+\.(backfill_chunk|verify_chunk)$", sid)]
    shared = {sid.split(".", 1)[1] for sid in statements if sid.count(".") == 1 and sid.startswith("procedure_create")}
    assert {"backfill_chunk", "backfill_table", "checksum_chunk", "verify_table"} <= shared
    # rollback/80 restores the same rows, not procedures per table either.
    restored = _statements(five / "rollback" / "80_contract.sql")
    assert {sid for sid in restored if sid.startswith("chunk_sql.")} == set(rows)


def test_a_tables_row_holds_its_walk_copy_and_row_hashes_with_the_range_marked(tmp_path):
    statements = _statements(_generate(tmp_path, 1) / "20_routines.sql")
    row = statements["chunk_sql.scale_0.session__trial"]
    assert "INSERT INTO `scale_0_v2`.`session__trial`" in row
    assert row.count("{chunk range}") == 3  # the copy, transform(v1)'s rows and (aligned) nothing more
    assert "{v2 chunk range}" in row  # aligned: v2's rows over the same key range
    assert "@djsqlgen_lo_1 = " in row and "INTO @djsqlgen_hi_1" in row


def test_the_plans_own_sql_cannot_hold_the_chunk_range_marker(tmp_path):
    """The shared procedures put each chunk's key range where `{chunk range}` stands: a user expression holding
    that text would be rewritten, so generate refuses it and says how to write it."""
    plan = (TESTS / "golden" / "transform" / "plan.yaml").read_text()
    edited = plan.replace("expr: weight / 1000", "expr: \"IF(kind = '{chunk range}', 0, weight / 1000)\"")
    assert edited != plan
    (tmp_path / "plan.yaml").write_text(edited)
    result = subprocess.run([sys.executable, "-m", "djsqlgen", "generate", "plan.yaml", "--heading", str(HEADING),
                             "-o", "out"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "contains the text {chunk range}" in result.stderr and "Traceback" not in result.stderr, result.stderr
