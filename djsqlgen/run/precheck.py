"""``plan check`` on a live server: what 00_preflight.sql would refuse, found before any file exists.

The same checks as 00 (settings, v1's definitions, foreign triggers, what already sits in the control and
target schemas, references from outside the plan), privileges from SHOW GRANTS (roles included), every
computed column tried on all of v1 in temporary tables, and the data checks. Nothing is changed: the
trial writes only temporary tables of this session, dropped at once.
"""

from __future__ import annotations

from djsqlgen.output.generate import Migration
from djsqlgen.phases import Phases
from djsqlgen.phases.preflight import preflight_checks, transform_trial
from djsqlgen.run.db import Database, ServerError
from djsqlgen.run.privileges import missing
from djsqlgen.sqltext.statements import FOUND

PREFIX = "djsqlgen refused 00_preflight.sql: "


def _failed(db: Database, check) -> bool:
    """Whether ``check`` refuses; its condition is read only when its precondition holds (its tables exist)."""
    if check.only_if and not db.query(f"SELECT ({check.only_if}) AS applies")[0]["applies"]:
        return False
    if check.found:  # what the condition and the message read, computed first (as the files do)
        db.execute(f"SET {FOUND} = ({check.found})")
    return bool(db.query(f"SELECT ({check.fails_when}) AS failed")[0]["failed"])


def _message(db: Database, check) -> str:
    """The refusal's words, computed on the server when it says more than a literal (names, counts)."""
    if check.message_sql:
        return str(db.query(f"SELECT {check.message_sql} AS m")[0]["m"])
    return check.message


def online_problems(db: Database, migration: Migration) -> list[str]:
    """Every problem 00_preflight.sql would stop at, as plan-check lines."""
    phases = Phases(migration.ctx, migration.data_checks)
    checks, privileges = preflight_checks(phases)
    problems = [f"server: {_message(db, c).removeprefix(PREFIX)}" for c in checks if _failed(db, c)]
    needs = list(dict.fromkeys((p, s) for p, s, _ in privileges if s))
    problems += [f"privileges: {grant} is missing (SHOW GRANTS)" for grant in missing(db, needs)]
    if problems:
        return problems  # the trial and data checks read all of v1: only once the rest is in order
    trial = transform_trial(phases)
    for statement in trial:
        try:
            db.execute(statement.sql)
        except ServerError as exc:
            text = exc.message.removeprefix(PREFIX)
            problems.append(text if text != exc.message else f"{statement.comment.split(':')[0]}: the expression "
                            f"fails on v1's data: server error {exc.errno}: {exc.message}")
            drops = [s for s in trial if s.id.startswith("trial_drop_stale.")]
            for drop in drops:
                db.execute(drop.sql)
            break
    for check in phases.data_refusals("00_preflight.sql"):
        if _failed(db, check):
            problems.append(_message(db, check).removeprefix(PREFIX))
    return problems
