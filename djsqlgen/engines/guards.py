"""Refusals at the top of each file: what it depends on, checked before its first change.

Each check is a condition that, when true, stops the file with a message naming what is missing and
the fix. They read only information_schema, server variables and the control schema, so a refused
file leaves the server exactly as it found it. Settings are checked in every file that needs them,
not only in 00: a restart resets SET GLOBAL between two files.
"""

from __future__ import annotations

from djsqlgen.engines.context import Context
from djsqlgen.sqltext.quoting import quote_literal
from djsqlgen.sqltext.statements import Check

# The current account and every role enabled in this session, as information_schema writes grantees
# ('user'@'host'; a MariaDB role as 'role', a MySQL role as 'role'@'%').
_ME = ("CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', "
       "SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')")


def _grantees(ctx: Context) -> str:
    if ctx.dialect.is_mariadb:
        roles = "SELECT CONCAT('''', ROLE_NAME, '''') FROM information_schema.ENABLED_ROLES"
    else:
        roles = "SELECT CONCAT('''', ROLE_NAME, '''@''', ROLE_HOST, '''') FROM information_schema.ENABLED_ROLES"
    return f"SELECT {_ME} UNION {roles}"


def has_privilege(ctx: Context, privilege: str, schema: str, tables: list[str] | None = None) -> str:
    """SQL: this session holds ``privilege`` on ``schema`` (globally, on the schema, or on each of ``tables``),
    directly or through an enabled role."""
    p, grantees = quote_literal(privilege), _grantees(ctx)
    conditions = [
        (f"EXISTS (SELECT 1 FROM information_schema.USER_PRIVILEGES WHERE GRANTEE IN ({grantees}) AND "
        f"PRIVILEGE_TYPE = {p})"),
        # a schema-level grant is a LIKE pattern (`djt%`, `djsqlgen\\_%`)
        (f"EXISTS (SELECT 1 FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE IN ({grantees}) AND "
        f"PRIVILEGE_TYPE = {p} AND {quote_literal(schema)} LIKE TABLE_SCHEMA)"),
    ]
    if tables:
        names = ", ".join(quote_literal(t) for t in sorted(set(tables)))
        conditions.append(
            f"(SELECT COUNT(DISTINCT TABLE_NAME) FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE IN "
            f"({grantees}) AND PRIVILEGE_TYPE = {p} AND TABLE_SCHEMA = {quote_literal(schema)} AND TABLE_NAME IN "
            f"({names})) = {len(set(tables))}")
    # MariaDB's information_schema shows a user none of the grants of its roles (seen on 10.11: a user
    # whose every privilege comes from its default role sees only USAGE). With a role enabled, SQL cannot
    # tell, so the file does not refuse; `djsqlgen apply` checks the file's Needs: line with SHOW GRANTS,
    # which does list them, before running anything. (With no role enabled, MariaDB's ENABLED_ROLES
    # still holds one row, ROLE_NAME NULL.)
    conditions.append("EXISTS (SELECT 1 FROM information_schema.ENABLED_ROLES WHERE ROLE_NAME IS NOT NULL)")
    return "(" + " OR ".join(conditions) + ")"


def privileges(ctx: Context, needs: list[tuple[str, str, list[str] | None]], filename: str) -> list[Check]:
    """One refusal per (privilege, schema[, tables]) this file needs."""
    out = []
    for privilege, schema, tables in needs:
        out.append(Check(
            f"NOT {has_privilege(ctx, privilege, schema, tables)}",
            f"djsqlgen refused {filename}: the {privilege} privilege on {schema} is missing; "
            f"GRANT {privilege} ON `{schema}`.* TO the user running this file (directly or through a role)",
            f"{filename} needs {privilege} on {schema}"))
    return out


def binlog_trust(ctx: Context, filename: str) -> Check:
    """Creating or dropping a trigger with binary logging on needs SUPER or log_bin_trust_function_creators=1
    (error 1419, even for DROP TRIGGER IF EXISTS with no trigger)."""
    return Check(
        f"@@log_bin = 1 AND @@log_bin_trust_function_creators = 0 AND NOT {has_privilege(ctx, 'SUPER', '')}",
        f"djsqlgen refused {filename}: binary logging is on and log_bin_trust_function_creators is 0, so creating or "
        "dropping triggers fails (1419); ask a DBA with SUPER for SET GLOBAL log_bin_trust_function_creators = 1 "
        "(and in my.cnf: a restart resets it)",
        "with binary logging on, CREATE/DROP TRIGGER needs SUPER or log_bin_trust_function_creators=1")


def binlog_row(filename: str) -> Check:
    return Check(
        "@@log_bin = 1 AND (@@GLOBAL.binlog_format <> 'ROW' OR @@SESSION.binlog_format <> 'ROW')",
        f"djsqlgen refused {filename}: binlog_format is not ROW; SET GLOBAL binlog_format = 'ROW' (and in my.cnf) "
        "so replicas apply the copies and trigger writes exactly",
        "statement-based logging replays triggers and INSERT … SELECT on replicas, which can diverge")


def control_exists(ctx: Context, filename: str) -> Check:
    return Check(
        f"NOT EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {quote_literal(ctx.control)} "
        "AND TABLE_NAME = 'phase_log')",
        f"djsqlgen refused {filename}: control schema {ctx.control} is not set up; apply 00_preflight.sql first",
        "every later file records its progress there")


def phase_log(ctx: Context) -> str:
    return ctx.control_table("phase_log")


def applied(ctx: Context, phase: str, same_plan: bool = True) -> str:
    hash_test = f" AND plan_hash = {quote_literal(ctx.migration_hash)}" if same_plan else ""
    return f"EXISTS (SELECT 1 FROM {phase_log(ctx)} WHERE phase = {quote_literal(phase)}{hash_test})"


def needs_phase(ctx: Context, phase: str, file: str, filename: str) -> list[Check]:
    """``file`` applied, from this file's plan: one refusal when it was not applied at all, another when it was
    applied from another plan (edited and regenerated in between), which names both plans and the ways out."""
    installed = f"(SELECT plan_hash FROM {phase_log(ctx)} WHERE phase = {quote_literal(phase)})"
    return [
        Check(f"NOT {applied(ctx, phase, same_plan=False)}",
              f"djsqlgen refused {filename}: {file} has not been applied; apply it first", f"{filename} builds on {file}"),
        Check(f"NOT {applied(ctx, phase)}", "", f"{filename} builds on {file} as this plan made it",
              message_sql=f"CONCAT({quote_literal(f'djsqlgen refused {filename}: {file} was applied from plan ')}, "
                          f"{installed}, {quote_literal(_other_plan(ctx, file))})"),
    ]


def _other_plan(ctx: Context, file: str) -> str:
    return (f", this file comes from plan {ctx.migration_hash}: the plan or v1 changed in between (its chunk settings "
            f"may change, nothing else). Generate this file from the plan {file} was applied with, or roll back to "
            f"before {file} and apply the new files from there")


def not_after(ctx: Context, phase: str, file: str, filename: str, why: str) -> Check:
    return Check(f"{applied(ctx, phase, same_plan=False)}",
                 f"djsqlgen refused {filename}: {file} is applied; {why}",
                 "roll back in order, newest first")


def backfill_done(ctx: Context, filename: str) -> Check:
    return Check(
        f"NOT EXISTS (SELECT 1 FROM {ctx.control_table('progress')}) OR "
        f"EXISTS (SELECT 1 FROM {ctx.control_table('progress')} WHERE done = 0)",
        f"djsqlgen refused {filename}: the backfill has not finished; run `djsqlgen backfill PLAN` or 40_backfill.sql",
        "v2 is missing rows until the backfill finishes")
