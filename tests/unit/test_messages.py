"""Every SIGNAL message a client can receive fits the server's 128 characters (issue 21, item 7).

MySQL keeps MESSAGE_TEXT as VARCHAR(128), and under the files' strict sql_mode a longer text is an error of its
own instead of the refusal; a trigger's handler cuts what it passes on at 128. So, in every generated file of the
golden cases: a literal message is at most 128 characters; a message in a variable is set only
through LEFT(…, n ≤ 128). The exception is a file's own refusal to run ("djsqlgen refused <file>: …", read by the
DBA applying it), bounded at 400: MariaDB keeps 512 characters (measured on 10.11: a 220-character SIGNAL arrives
whole), and on MySQL a file refuses through sql_mode's error 1231, not SIGNAL.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The golden cases (tests/golden/relations has every trigger refusal). examples/*/generated are written by running
# the examples on a server (fixed schema names), so they follow the code only when regenerated: walk them then.
FILES = sorted(ROOT.glob("tests/golden/*/expected/**/*.sql"))
LIMIT, REFUSAL_LIMIT = 128, 400
REFUSAL = ("djsqlgen refused ", "djsqlgen: nothing to undo in ")  # a file's refusal to run, read by its DBA
_LITERAL = r"'(?:[^'\\]|''|\\.)*'"
SIGNAL = re.compile(rf"SIGNAL SQLSTATE '\w+' SET MESSAGE_TEXT = ({_LITERAL}|@?\w+)")


def statements(text: str) -> list[tuple[str, str]]:
    """(statement id, its SQL) of a generated file, cut at its ``-- [id] why`` headers."""
    pieces = re.split(r"^-- \[([^\]]+)\].*$", text, flags=re.MULTILINE)
    return list(zip(pieces[1::2], pieces[2::2]))


def unquote(literal: str) -> str:
    return re.sub(r"''|\\(.)", lambda m: "'" if m.group() == "''" else m.group(1), literal[1:-1])


def problems(sql: str, file_text: str = "") -> list[str]:
    """What in ``sql`` can signal a message too long; a variable set in no statement of its own is looked for in
    ``file_text`` (a file's refusal is found by one statement and signalled by the next, see sqltext/guard.py)."""
    out = []
    for match in SIGNAL.finditer(sql):
        value = match.group(1)
        if value.startswith("'"):
            limit = REFUSAL_LIMIT if unquote(value).startswith(REFUSAL) else LIMIT
            if len(unquote(value)) > limit:
                out.append(f"{len(unquote(value))} characters: {unquote(value)}")
            continue
        assignments = re.findall(rf"SET {re.escape(value)} = (.*?);\n", sql, flags=re.DOTALL)
        assignments += re.findall(rf"GET DIAGNOSTICS CONDITION 1 [^;]*?\b{re.escape(value)} = ", sql)
        if not assignments and file_text:
            assignments = re.findall(rf"SET {re.escape(value)} = (.*?);\n", file_text, flags=re.DOTALL)
            assignments = [a for a in assignments if a.strip() != "NULL"]
        if not assignments:
            out.append(f"{value}: never set here")
        for assigned in assignments:
            if re.fullmatch(_LITERAL, assigned.strip(), flags=re.DOTALL):
                text = unquote(assigned.strip())
                if len(text) > (REFUSAL_LIMIT if text.startswith(REFUSAL) else LIMIT):
                    out.append(f"{len(text)} characters: {text}")
                continue
            bound = re.fullmatch(r"LEFT\((.*),\s*(\d+)\)", assigned.strip(), flags=re.DOTALL)
            limit = REFUSAL_LIMIT if any(assigned.strip().startswith(f"LEFT(CONCAT('{r}") for r in REFUSAL) else LIMIT
            if not bound or int(bound.group(2)) > limit:
                out.append(f"{value} = {assigned.strip()} is not bounded by LEFT(…, {limit})")
    return out


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_signal_message_fits(path: Path):
    found = []
    for sid, sql in statements(path.read_text()):
        found += [f"[{sid}] {p}" for p in problems(sql, path.read_text())]
    assert not found, "\n".join(found)


def test_the_files_checked_have_trigger_refusals():
    """The cases include triggers that refuse writes (a checked key, a lookup, a split), so their messages count."""
    text = "".join(p.read_text() for p in FILES if p.name == "30_dualwrite.sql")
    assert all(f"djsqlgen {code} " in text for code in ("W1", "W2", "W3")) and "djsqlgen W3 lab_v2.#rig (" in text
