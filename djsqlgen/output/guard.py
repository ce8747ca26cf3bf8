"""How a file refuses: the checks at its top rendered for the server at hand, changing nothing."""

from __future__ import annotations

from djsqlgen.output.dialect import Dialect
from djsqlgen.output.quoting import quote_literal
from djsqlgen.output.statements import Check, Statement

# MariaDB keeps up to 512 characters of a SIGNAL message; MySQL's error text holds about as many.
MESSAGE_LIMIT = 400


def refusal_statements(checks: list[Check], dialect: Dialect, block_id: str) -> list[Statement]:
    """Statements that stop the file at the first failing check, having changed nothing.

    MariaDB runs them as an anonymous compound statement (BEGIN NOT ATOMIC) with SIGNAL. MySQL has no
    SIGNAL outside a stored program and no anonymous blocks, and a procedure would need a schema this
    file may not have created yet: there the refusal is computed into a user variable, then set as the
    session's sql_mode, which fails with error 1231 quoting the refusal (and, with no refusal, sets the
    mode to itself).
    """
    if not checks:
        return []
    if dialect.anonymous_blocks:
        lines = ["BEGIN NOT ATOMIC"]
        for check in checks:
            lines += [f"  -- Refuse: {check.why}",
                      f"  IF {check.fails_when} THEN",
                      f"    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {quote_literal(check.message[:MESSAGE_LIMIT])};",
                      "  END IF;"]
        lines.append("END")
        return [Statement(block_id, "\n".join(lines), "refuse before changing anything if a condition below "
                                                       "fails (each names what is missing and the fix)",
                          compound=True)]
    cases = "\n".join(f"  -- {check.why}\n  WHEN {check.fails_when}\n    THEN {quote_literal(check.message[:MESSAGE_LIMIT])}"
                      for check in checks)
    return [
        Statement(f"{block_id}.find", f"SET @djsqlgen_refusal = CASE\n{cases}\nEND",
                  "the first condition below that fails, as a refusal message (NULL: none fails)"),
        Statement(f"{block_id}.stop", "SET SESSION sql_mode = COALESCE(@djsqlgen_refusal, @@SESSION.sql_mode)",
                  "stop here with error 1231 quoting the refusal, if there is one (MySQL cannot SIGNAL outside "
                  "a stored program); otherwise this sets sql_mode to itself"),
    ]
