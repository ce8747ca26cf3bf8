"""A trial of every dual-write trigger's statements before 30 installs them: each is PREPAREd, never run.

The server resolves a trigger body's table and column names only when the body first runs, so a trigger that
cannot run (an alias out of scope, a column that is not there: error 1054) is created without complaint and
then fails every v1 write that fires it. PREPARE resolves the same names without reading or locking a row, so
30 prepares each statement of each body first (NEW and OLD columns written as NULL, an ``IF`` condition as a
SELECT of it) and refuses, naming the trigger and the server's error, before its first change.
"""

from __future__ import annotations

import re

from djsqlgen.engines import triggers
from djsqlgen.engines.context import Context
from djsqlgen.model.target import TableRef
from djsqlgen.sqltext import naming
from djsqlgen.sqltext.guard import REFUSE_STATEMENT
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal
from djsqlgen.sqltext.statements import Statement

# INSERT INTO `s`.`t` (`a`, `b`) SELECT …: the table and its column list (names in backticks, no parentheses)
_INSERT_COLUMNS = re.compile(r"INSERT INTO ((?:`(?:[^`]|``)*`\.?)+)\s*\(((?:\s*`(?:[^`]|``)*`\s*,?)+)\)\s*SELECT\b")
_RECORD = re.compile(r"(?<![\w`.])(?:NEW|OLD)\.`(?:[^`]|``)*`")
# A body's own local variables (DECLAREd in its blocks, always named v_…, never backquoted): a prepared statement
# has none, so they are read as NULL, and a SELECT … INTO them is tried without its INTO.
_LOCAL = re.compile(r"(?<![\w`.@])v_\w+\b")
_INTO_LOCALS = re.compile(r"\s+INTO\s+v_\w+(?:\s*,\s*v_\w+)*\b")


def _outside_quotes(text: str):
    """(start, end, quoted) runs of ``text``: quoted runs are string literals and quoted identifiers."""
    i, start, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"`":
            if start < i:
                yield start, i, False
            j = i + 1
            while j < n:
                if text[j] == "\\" and ch != "`":
                    j += 2
                    continue
                if text[j] == ch:
                    if j + 1 < n and text[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            yield i, min(j + 1, n), True
            i = start = min(j + 1, n)
            continue
        i += 1
    if start < n:
        yield start, n, False


def _split(text: str) -> list[str]:
    """``text`` cut at each ``;`` outside quotes and parentheses."""
    out, depth, current = [], 0, []
    for start, end, quoted in _outside_quotes(text):
        run = text[start:end]
        if quoted:
            current.append(run)
            continue
        last = 0
        for i, ch in enumerate(run):
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == ";" and depth == 0:
                current.append(run[last:i])
                out.append("".join(current))
                current, last = [], i + 1
        current.append(run[last:])
    out.append("".join(current))
    return [s.strip() for s in out if s.strip()]


def _then(text: str) -> int:
    """Where the ``THEN`` of the ``IF`` that ``text`` starts with begins (outside quotes and parentheses)."""
    depth = 0
    for start, end, quoted in _outside_quotes(text):
        if quoted:
            continue
        for match in re.finditer(r"[()]|\bTHEN\b", text[start:end]):
            token = match.group()
            depth += 1 if token == "(" else -1 if token == ")" else 0
            if token == "THEN" and depth == 0:
                return start + match.start()
    raise ValueError(f"an IF without THEN in a trigger body: {text[:80]}")


def statements_of(body: str) -> list[str]:
    """The statements a trigger body block runs, each one preparable: an ``IF cond THEN`` is ``SELECT cond``, a
    ``SET v_x = expr`` of a local variable ``SELECT expr``; SIGNALs, DECLAREs (a handler's statement too) and
    control words are left out (they resolve no names)."""
    out = []
    # the blocks' own comment lines (a why, which may hold an apostrophe); user text is re-rendered, no comments
    body = "\n".join(line for line in body.split("\n") if not line.lstrip().startswith("-- "))
    for piece in _split(body):
        while piece:
            if re.match(r"BEGIN\b", piece):
                piece = piece[len("BEGIN"):].strip()
            elif piece.startswith("END IF"):
                piece = piece[len("END IF"):].strip()
            elif re.fullmatch(r"END\b.*", piece, flags=re.DOTALL):
                piece = piece[len("END"):].strip()
            elif piece.startswith("DECLARE "):
                piece = ""
            elif re.match(r"SET v_\w+\s*=", piece):
                out.append(f"SELECT {piece.split('=', 1)[1].strip()}")
                piece = ""
            elif piece.startswith("ELSE"):
                piece = piece[len("ELSE"):].strip()
            elif piece.startswith("IF "):
                at = _then(piece)
                out.append(f"SELECT {piece[3:at].strip()}")
                piece = piece[at + len("THEN"):].strip()
            elif piece.startswith("SIGNAL"):
                piece = ""
            else:
                out.append(piece)
                into = _INSERT_COLUMNS.match(piece)
                if into:  # MariaDB defers an INSERT … SELECT's column list to its first run: read them here
                    out.append(f"SELECT {into.group(2)} FROM {into.group(1)}")
                piece = ""
    return [_without_locals(s) for s in out]


def _without_locals(sql: str) -> str:
    """``sql`` with its INTO of local variables dropped and every other mention of one read as NULL (outside
    quotes)."""
    out = []
    for start, end, quoted in _outside_quotes(sql):
        run = sql[start:end]
        out.append(run if quoted else _LOCAL.sub("NULL", _INTO_LOCALS.sub("", run)))
    return "".join(out)


def unbound(sql: str) -> str:
    """``sql`` with every NEW/OLD column written as NULL (outside string literals): a statement a session can
    prepare."""
    out, position = [], 0
    for match in _RECORD.finditer(sql):
        if _inside_string(sql, match.start()):
            continue
        out += [sql[position:match.start()], "NULL"]
        position = match.end()
    out.append(sql[position:])
    return "".join(out)


def _inside_string(text: str, at: int) -> bool:
    return any(s <= at < e and text[s] in "'\"" for s, e, quoted in _outside_quotes(text) if quoted)


def trial(ctx: Context) -> list[tuple[TableRef, str, str]]:
    """(v1 table, trigger name, preparable statement) of every statement of every trigger this plan installs."""
    out = []
    for ref in triggers.written_tables(ctx):
        for event in triggers.EVENTS:
            name = naming.trigger_name(ctx.plan.name, ref.name, event)
            for _, _, sql in triggers.body_blocks(ctx, ref, event):
                out += [(ref, name, unbound(s)) for s in statements_of(sql)]
    return out


def trial_statements(ctx: Context, filename: str) -> list[Statement]:
    """MariaDB: one block preparing every trigger statement, a failure refused naming the trigger. MySQL (no
    anonymous blocks): the plain PREPAREs, each naming its trigger; a failure stops the client there with the
    server's own error, before the file's first change."""
    found = trial(ctx)
    if not found:
        return []
    # A trigger runs in its table's schema; a session may have none selected, and `DELETE dst FROM … AS dst`
    # then fails to prepare (1046). Any schema resolves the aliases: the control schema, there since 00.
    use = Statement("trigger_trial.use", f"USE {quote_identifier(ctx.control)}",
                    "a default schema for the trial below, as a trigger has its table's")
    if not ctx.dialect.anonymous_blocks:
        return [use] + [Statement(f"trigger_trial.{i}", f"PREPARE djsqlgen_trial FROM {quote_literal(sql)}",
                          f"a statement of trigger {ref.schema}.{name}, prepared (names resolved, nothing run)")
                for i, (ref, name, sql) in enumerate(found, 1)] + [
            Statement("trigger_trial.done", "DEALLOCATE PREPARE djsqlgen_trial", "the trial is over")]
    lines = ["SET @djsqlgen_refusal = NULL;"]
    for ref, name, sql in found:
        lines += [f"SET v_trigger = {quote_literal(name)};",
                  f"PREPARE djsqlgen_trial FROM {quote_literal(sql)};"]
    lines.append("DEALLOCATE PREPARE djsqlgen_trial;")
    # The trial only finds the refusal (kept in @djsqlgen_refusal, as a file's checks do); the one-line statement
    # after it signals it, so the stock client prints that line and the reason, not the whole trial.
    handler = ("DECLARE EXIT HANDLER FOR SQLEXCEPTION\n  BEGIN\n    DECLARE v_text TEXT DEFAULT '';\n"
               "    GET DIAGNOSTICS CONDITION 1 v_text = MESSAGE_TEXT;\n"
               f"    SET @djsqlgen_refusal = LEFT(CONCAT({quote_literal(f'djsqlgen refused {filename}: trigger ')}, "
               "v_trigger, ' cannot run: ', v_text), 400);\n  END;")
    body = "\n  ".join(["DECLARE v_trigger VARCHAR(200) DEFAULT '';", handler, *lines])
    return [use, Statement("trigger_trial.find", f"BEGIN NOT ATOMIC\n  {body}\nEND",
                           "every trigger statement prepared (names resolved, nothing run, no row read) before any "
                           "trigger is installed, changing nothing: a trigger that cannot run is found here",
                           compound=True),
            Statement("trigger_trial", REFUSE_STATEMENT, "refuse here, before the first trigger, if one above cannot "
                      "run: a client that prints the failing statement prints only this line", compound=True)]
