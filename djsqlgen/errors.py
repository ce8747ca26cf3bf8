"""The error kinds a user can meet, each with the exit status the command line gives it."""

from __future__ import annotations

import re


class DjsqlgenError(Exception):
    """Base of every error djsqlgen reports as one clear line instead of a traceback.

    ``exit_status`` 2 means bad input (nothing was done); 1 means a runtime or database failure.
    """

    exit_status = 2


class ConnectionFailed(DjsqlgenError):
    """The server could not be reached or refused the credentials."""


class HeadingError(DjsqlgenError):
    """A schema or table is missing, empty, or not readable by this user."""


class PlanError(DjsqlgenError):
    """The plan file is invalid; carries every problem found, each naming its plan key.

    Problems with one cause repeated over many tables (a leftover migration's triggers on 150 tables)
    are shown as one line per cause, with the first few places and a count.
    """

    def __init__(self, problems: list[str], source: str = "plan"):
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in group_problems(self.problems))
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


_NAMES = re.compile(r"`[^`]*`(?:\.`[^`]*`)*|'[^']*'|\b[\w#~]+(?:\.[\w#~]+)+\b")


def group_problems(problems: list[str], at_least: int = 4, shown: int = 3) -> list[str]:
    """One line per cause: problems whose messages differ only in the names they quote are grouped."""
    groups: dict[str, list[str]] = {}
    for problem in problems:
        _key, sep, message = problem.partition(": ")
        cause = _NAMES.sub("…", message if sep else problem)
        groups.setdefault(cause, []).append(problem)
    out = []
    for members in groups.values():
        if len(members) < at_least:
            out += members
            continue
        places = ", ".join(m.partition(": ")[0] for m in members[1:shown + 1])
        out.append(f"{members[0]} [the same for {len(members) - 1} more: {places}"
                   + (f" and {len(members) - 1 - shown} others" if len(members) - 1 > shown else "") + "]")
    return out


class UnsupportedError(DjsqlgenError):
    """The server or the heading lacks a feature the requested migration needs."""


class JobStopped(DjsqlgenError):
    """A backfill or verify stopped partway (a server error in a chunk, writers' locks, the load limit): work was
    done, and the same command resumes it, so not bad input."""

    exit_status = 1


class ApplyError(DjsqlgenError):
    """A generated statement failed on the server."""

    exit_status = 1

    def __init__(self, message: str, statement_id: str | None = None, errno: int | None = None):
        self.statement_id = statement_id
        self.errno = errno
        where = f" [{statement_id}]" if statement_id else ""
        code = f" (server error {errno})" if errno else ""
        super().__init__(f"{message}{where}{code}")


class VerifyMismatch(DjsqlgenError):
    """Verification found differences between v2 and transform(v1)."""

    exit_status = 1
