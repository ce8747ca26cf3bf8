"""How a file refuses: the checks at its top rendered for the server at hand, changing nothing."""

from __future__ import annotations

from dataclasses import replace

from djsqlgen.sqltext.dialect import Dialect
from djsqlgen.sqltext.quoting import quote_literal
from djsqlgen.sqltext.statements import FOUND, Check, Statement

# MariaDB: the one short statement that stops a file with the refusal the checks found.
REFUSE_STATEMENT = ("BEGIN NOT ATOMIC IF @djsqlgen_refusal IS NOT NULL THEN "
                    "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = @djsqlgen_refusal; END IF; END")

# MariaDB keeps up to 512 characters of a SIGNAL message; MySQL's error text holds about as many.
MESSAGE_LIMIT = 400


def refusal_statements(checks: list[Check], dialect: Dialect, block_id: str) -> list[Statement]:
    """Statements that stop the file at the first failing check, having changed nothing.

    MariaDB runs the checks as an anonymous compound statement (BEGIN NOT ATOMIC) that keeps the first
    refusal in a user variable, then a one-line compound statement that SIGNALs it. MySQL has no
    SIGNAL outside a stored program and no anonymous blocks, and a procedure would need a schema this
    file may not have created yet: there the refusal is computed into a user variable, then set as the
    session's sql_mode, which fails with error 1231 quoting the refusal (and, with no refusal, sets the
    mode to itself).
    """
    if not checks:
        return []
    if dialect.anonymous_blocks:
        # The checks only find the refusal; a one-line statement after them signals it. The stock client prints
        # the statement that failed before its error, so that is all it prints before the reason.
        lines = ["BEGIN NOT ATOMIC", "  SET @djsqlgen_refusal = NULL;", "  checks: BEGIN"]
        for check in checks:
            inner = [f"  -- Refuse: {check.why}"]
            if check.found:
                inner.append(f"  SET {FOUND} = (\n{check.found}\n  );")
            inner += [f"  IF {check.fails_when} THEN", f"    SET @djsqlgen_refusal = {_message(check)};",
                      "    LEAVE checks;", "  END IF;"]
            if check.only_if:  # nested: the inner condition's tables are only opened when it runs
                inner = [f"  IF {check.only_if} THEN"] + ["  " + line for line in inner] + ["  END IF;"]
            lines += ["  " + line for line in inner]
        lines += ["  END;", "END"]
        return [Statement(f"{block_id}.find", "\n".join(lines), "find the first condition below that fails (each "
                          "names what is missing and the fix), changing nothing", compound=True),
                Statement(block_id, REFUSE_STATEMENT, "refuse here, before the first change, if a condition above "
                          "failed: a client that prints the failing statement prints only this line", compound=True)]
    # Each check's FOUND in a variable of its own, computed before the CASE that reads them all.
    plain = [_own_found(c, i) for i, c in enumerate(c for c in checks if not c.only_if)]
    cases = "\n".join(f"  -- {check.why}\n  WHEN {check.fails_when}\n    THEN {_message(check)}" for check in plain)
    out = [Statement(f"{block_id}.found_{i}", f"SET {_found_variable(i)} = (\n{c.found}\n)",
                     f"for the check below: {c.why}") for i, c in enumerate(plain) if c.found]
    for i, check in enumerate(c for c in checks if c.only_if):
        if check.found:
            raise ValueError(f"refusal {check.why!r}: a conditional check cannot compute FOUND first on MySQL")
        # MySQL resolves every table of a statement before running it: a check on tables that may be missing
        # is prepared, and only when its precondition holds.
        query = f"SELECT CASE WHEN {check.fails_when} THEN {_message(check)} END INTO @djsqlgen_refusal"
        out += [Statement(f"{block_id}.conditional_{i}",
                          f"SET @djsqlgen_check = IF({check.only_if}, {quote_literal(query)}, 'DO 0')",
                          f"{check.why} (only when it applies)"),
                Statement(f"{block_id}.conditional_{i}.prepare", "PREPARE djsqlgen_check FROM @djsqlgen_check", "—"),
                Statement(f"{block_id}.conditional_{i}.run", "EXECUTE djsqlgen_check", "—"),
                Statement(f"{block_id}.conditional_{i}.stop",
                          "SET SESSION sql_mode = COALESCE(@djsqlgen_refusal, @@SESSION.sql_mode)",
                          "stop here with error 1231 quoting the refusal, if there is one")]
    if not plain:
        return [Statement(f"{block_id}.clear", "SET @djsqlgen_refusal = NULL", "no refusal yet")] + out
    return [Statement(f"{block_id}.clear", "SET @djsqlgen_refusal = NULL", "no refusal yet")] + out + [
        Statement(f"{block_id}.find", f"SET @djsqlgen_refusal = CASE\n{cases}\nEND",
                  "the first condition below that fails, as a refusal message (NULL: none fails)"),
        Statement(f"{block_id}.stop", "SET SESSION sql_mode = COALESCE(@djsqlgen_refusal, @@SESSION.sql_mode)",
                  "stop here with error 1231 quoting the refusal, if there is one (MySQL cannot SIGNAL outside "
                  "a stored program); otherwise this sets sql_mode to itself"),
    ]


def _found_variable(index: int) -> str:
    return f"{FOUND}_{index}"


def _own_found(check: Check, index: int) -> Check:
    if not check.found:
        return check
    mine = _found_variable(index)
    return replace(check, fails_when=check.fails_when.replace(FOUND, mine),
                   message_sql=check.message_sql.replace(FOUND, mine) if check.message_sql else None)


def _message(check: Check) -> str:
    return f"LEFT({check.message_sql}, {MESSAGE_LIMIT})" if check.message_sql else \
        quote_literal(check.message[:MESSAGE_LIMIT])
