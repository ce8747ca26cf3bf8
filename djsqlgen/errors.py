"""The error kinds a user can meet, each with the exit status the command line gives it."""

from __future__ import annotations


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
    """The plan file is invalid; carries every problem found, each naming its plan key."""

    def __init__(self, problems: list[str], source: str = "plan"):
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


class UnsupportedError(DjsqlgenError):
    """The server or the heading lacks a feature the requested migration needs."""


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
