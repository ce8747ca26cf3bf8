"""split_sql reads files the way the mysql client does; render_file → split_sql gives the statements back."""

from __future__ import annotations

from pathlib import Path

import pytest

from djsqlgen.cli import load_heading
from djsqlgen.errors import DjsqlgenError
from djsqlgen.output.generate import Migration as Generator
from djsqlgen.output.sqlfile import render_file, split_sql
from djsqlgen.plan import load_plan
from djsqlgen.sqltext.statements import PhaseFile, Statement

TESTS = Path(__file__).resolve().parents[1]
HEADING = TESTS / "plans" / "heading.json"
GOLDEN = TESTS / "golden"
META = {"tool_version": "0.0.test", "plan": "p", "plan_hash": "0" * 12, "heading_hash": "1" * 12, "server": "mariadb 10.11"}

PROCEDURE = """\
DELIMITER ;;
-- [proc] a procedure with a handler and nested blocks
CREATE PROCEDURE p()
BEGIN
  DECLARE EXIT HANDLER FOR SQLEXCEPTION
  BEGIN
    ROLLBACK;
    RESIGNAL;
  END;
  START TRANSACTION;
  IF 1 = 1 THEN
    BEGIN
      SELECT 'a;b'; -- it's; a comment
    END;
  END IF;
  COMMIT;
END;;
DELIMITER ;
SELECT 2;
"""

TRIGGER = """\
delimiter $$
CREATE TRIGGER t AFTER INSERT ON `x;y` FOR EACH ROW
BEGIN
  /* copy; always */
  INSERT INTO b VALUES (NEW.a); # no; stop
  SET @g = NULL;
END$$
delimiter ;
"""

# (text, [(sql, line, id), ...])
CASES = {
    "plain": ("SELECT 1;\nSELECT 2;\n", [("SELECT 1", 1, None), ("SELECT 2", 2, None)]),
    "same line": ("SELECT 1;SELECT 2;", [("SELECT 1", 1, None), ("SELECT 2", 1, None)]),
    "no final delimiter": ("SELECT 1;\n\nSELECT 2\n", [("SELECT 1", 1, None), ("SELECT 2", 3, None)]),
    "ids and lines": (
        "-- header\n\n-- [a] first\nSELECT 1;\n\n-- [b.lab_v1.#kind] second\nSELECT\n  2;\n",
        [("SELECT 1", 4, "a"), ("SELECT\n  2", 7, "b.lab_v1.#kind")],
    ),
    "plain comment is no id": ("-- a note\nSELECT 1;", [("SELECT 1", 2, None)]),
    "strings": ("SELECT 'a;b', \"c;d\";\nSELECT 2;", [("SELECT 'a;b', \"c;d\"", 1, None), ("SELECT 2", 2, None)]),
    "escaped quotes": (
        "SELECT 'it\\'s; ok', 'x''y;z', \"q\\\";\";\nSELECT 2;",
        [("SELECT 'it\\'s; ok', 'x''y;z', \"q\\\";\"", 1, None), ("SELECT 2", 2, None)],
    ),
    "escaped backslash": ("SELECT 'a\\\\';SELECT 2;", [("SELECT 'a\\\\'", 1, None), ("SELECT 2", 1, None)]),
    "backticks": (
        "SELECT `a;b`, `x``;y` FROM `#t;--`;\nSELECT 2;",
        [("SELECT `a;b`, `x``;y` FROM `#t;--`", 1, None), ("SELECT 2", 2, None)],
    ),
    "dash comment": (
        "SELECT 1 -- not the end; it's\n, 2;\nSELECT 3;",
        [("SELECT 1 -- not the end; it's\n, 2", 1, None), ("SELECT 3", 3, None)],
    ),
    "double dash without space": ("SELECT 1--1;\nSELECT 2;", [("SELECT 1--1", 1, None), ("SELECT 2", 2, None)]),
    "hash comment": ("SELECT 1 # x; y's\n;\nSELECT 2;", [("SELECT 1 # x; y's", 1, None), ("SELECT 2", 3, None)]),
    "block comment": (
        "SELECT /* a; b's\n c; */ 1;\nSELECT 2;",
        [("SELECT /* a; b's\n c; */ 1", 1, None), ("SELECT 2", 3, None)],
    ),
    "crlf": ("SELECT 1;\r\n-- [x] y\r\nSELECT 2;\r\n", [("SELECT 1", 1, None), ("SELECT 2", 3, "x")]),
    "procedure": (PROCEDURE, [(PROCEDURE.split("\n", 2)[2].split(";;")[0], 3, "proc"), ("SELECT 2", 19, None)]),
    "trigger": (TRIGGER, [(TRIGGER.split("\n", 1)[1].split("$$")[0], 2, None)]),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES.keys())
def test_split_sql(text: str, expected: list[tuple]):
    assert [(s.sql, s.line, s.statement_id) for s in split_sql(text)] == expected


@pytest.mark.parametrize("text", ["SELECT 'open;\nSELECT 2;", "SELECT `open;", "SELECT 1 /* open;\n"],
                         ids=["quote", "backtick", "block comment"])
def test_unterminated_text_is_an_error(text: str):
    with pytest.raises(DjsqlgenError, match="unterminated"):
        split_sql(text)


@pytest.mark.parametrize("text", ["SELECT 1; -- done\n", "SELECT 1;\n/* closing note */\n"], ids=["dash", "block"])
def test_trailing_comment_is_not_a_statement(text: str):
    assert [s.sql for s in split_sql(text)] == ["SELECT 1"]


def test_id_after_block_comment():
    assert [s.statement_id for s in split_sql("/* header */\n-- [a] x\nSELECT 1;")] == ["a"]


# -- render_file → split_sql ---------------------------------------------------------------------
BODY = "CREATE PROCEDURE `c`.`p`()\nBEGIN\n  DECLARE CONTINUE HANDLER FOR NOT FOUND SET @done = 1;\n  BEGIN\n    SELECT ';;';\n  END;\nEND"
ROUND_TRIPS = {
    "plain": [Statement("a", "SELECT 1", "one")],
    "string with delimiters": [Statement("a", "SELECT 'x;y', `b;c` FROM `#t`", "why; not")],
    "compound": [Statement("drop", "DROP PROCEDURE IF EXISTS `c`.`p`", "x"), Statement("create", BODY, "y", compound=True),
                 Statement("call", "CALL `c`.`p`()", "z")],
    "multi-line with comment": [Statement("x.lab_v1.#kind", "SELECT 1,\n  2 -- two; really\nFROM dual", "w")],
    "empty": [],
}


@pytest.mark.parametrize("statements", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_render_then_split_gives_the_statements_back(statements: list[Statement]):
    text = render_file(PhaseFile("30", "dualwrite", "Dual write", "why", "safe", tuple(statements)), META)
    assert [(s.sql, s.statement_id) for s in split_sql(text)] == [(s.sql, s.id) for s in statements]


def test_render_refuses_a_plain_statement_that_is_two():
    with pytest.raises(DjsqlgenError, match="renders as more than one statement"):
        render_file(PhaseFile("10", "expand", "t", "p", "r", (Statement("x", "SELECT 1; SELECT 2", "c"),)), META)
    # a ; inside quotes, names or comments is not a second statement
    one = Statement("y", "SELECT ';', `a;b`, \"x;\" -- c;\nFROM t /* ; */ WHERE c = 'it''s;'", "c")
    assert "SELECT ';'" in render_file(PhaseFile("10", "expand", "t", "p", "r", (one,)), META)


def _generated_files() -> list[tuple[str, PhaseFile]]:
    out = []
    for case in sorted(p.parent for p in GOLDEN.glob("*/plan.yaml")):
        for pf in Generator(load_plan(case / "plan.yaml"), load_heading(HEADING)).files():
            out.append((f"{case.name}/{'rollback/' if pf.rollback_of else ''}{pf.filename}", pf))
    return out


GENERATED = _generated_files()


@pytest.mark.parametrize("pf", [pf for _, pf in GENERATED], ids=[name for name, _ in GENERATED])
def test_generated_files_round_trip(pf: PhaseFile):
    """Real procedure and trigger bodies (handlers, nested BEGIN…END, `;` in strings) come back whole,
    with their ids, and each statement's line is where its text starts."""
    text = render_file(pf, META)
    lines = text.splitlines()
    parsed = split_sql(text)
    assert [(s.sql, s.statement_id) for s in parsed] == [(s.sql, s.id) for s in pf.statements]
    assert [s for s in parsed if not lines[s.line - 1].startswith(s.sql.splitlines()[0])] == []


def _golden_sql_files() -> list:
    """Every golden .sql file."""
    return [pytest.param(p, id=str(p.relative_to(GOLDEN))) for p in sorted(GOLDEN.glob("*/expected/**/*.sql"))]


@pytest.mark.parametrize("path", _golden_sql_files())
def test_golden_files_split_into_named_statements(path: Path):
    ids = [s.statement_id for s in split_sql(path.read_text())]
    assert None not in ids and len(ids) == len(set(ids))
