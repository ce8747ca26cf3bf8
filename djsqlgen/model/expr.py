"""SQL expressions of the target model: parsed by sqlglot, kept as the user wrote them, columns as references.

An ``Expr`` is the user's text cut at its column references: ``parts`` are the literal pieces between
them and ``refs`` the references, each an (alias, column) of the target's source. sqlglot (MySQL dialect)
parses the text to find the references and to refuse what a transform must not contain (subqueries,
aggregates, variables, functions whose value changes between calls); everything else is kept byte for
byte, so a MariaDB-only function survives (sqlglot would print MySQL spellings, e.g. REGEXP_LIKE).

Rendering fills each reference in: ``src``.`col` in the backfill, ``NEW.`col``` in a trigger, or another
expression (a key attribute the parent computes) through ``substitute``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from djsqlgen.output.quoting import quote_identifier


@dataclass(frozen=True, order=True)
class ColumnRef:
    """A column of one of the source's tables, by its alias in the source (``src`` is the driving table)."""

    alias: str
    name: str

    def sql(self) -> str:
        return f"{quote_identifier(self.alias)}.{quote_identifier(self.name)}"


@dataclass(frozen=True)
class Expr:
    """SQL text with its column references cut out: ``parts[0] ref[0] parts[1] ref[1] … parts[-1]``."""

    parts: tuple[str, ...]
    refs: tuple[ColumnRef, ...] = ()

    def __post_init__(self) -> None:
        if len(self.parts) != len(self.refs) + 1:
            raise ValueError("an Expr has one more text part than references")

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def column(cls, alias: str, name: str) -> Expr:
        return cls(("", ""), (ColumnRef(alias, name),))

    @classmethod
    def text(cls, sql: str) -> Expr:
        """SQL without column references (a literal, a default)."""
        return cls((sql,))

    # -- inspection -----------------------------------------------------------------------------
    @property
    def is_column(self) -> bool:
        """Whether this is one bare column reference (a plain copy)."""
        return len(self.refs) == 1 and self.parts == ("", "")

    @property
    def aliases(self) -> frozenset[str]:
        return frozenset(r.alias for r in self.refs)

    def reads(self, alias: str) -> tuple[str, ...]:
        """Columns of ``alias`` this expression reads, in order of first use."""
        return tuple(dict.fromkeys(r.name for r in self.refs if r.alias == alias))

    # -- rewriting ------------------------------------------------------------------------------
    def substitute(self, replacement: Mapping[ColumnRef, Expr]) -> Expr:
        """References replaced by expressions (parenthesised unless a bare column)."""
        parts: list[str] = [self.parts[0]]
        refs: list[ColumnRef] = []
        for ref, after in zip(self.refs, self.parts[1:]):
            new = replacement.get(ref)
            if new is None:
                refs.append(ref)
                parts.append(after)
                continue
            if not new.is_column:
                new = Expr(("(" + new.parts[0],) + new.parts[1:-1] + (new.parts[-1] + ")",), new.refs) \
                    if new.refs else Expr.text(f"({new.parts[0]})")
            # splice: the last text part so far joins new.parts[0]; new.parts[-1] joins ``after``
            parts[-1] += new.parts[0]
            parts.extend(new.parts[1:])
            refs.extend(new.refs)
            parts[-1] += after
        return Expr(tuple(parts), tuple(refs))

    def rename_alias(self, old: str, new: str) -> Expr:
        return Expr(self.parts, tuple(ColumnRef(new, r.name) if r.alias == old else r for r in self.refs))

    # -- rendering ------------------------------------------------------------------------------
    def render(self, bind: Callable[[ColumnRef], str] | None = None) -> str:
        """The SQL text; ``bind`` writes each reference (default: `alias`.`column`)."""
        write = bind or ColumnRef.sql
        out = [self.parts[0]]
        for ref, after in zip(self.refs, self.parts[1:]):
            out.append(write(ref))
            out.append(after)
        return "".join(out)

    def sql(self) -> str:
        return self.render()


def bound(alias: str, record: str) -> Callable[[ColumnRef], str]:
    """A ``bind`` for ``Expr.render`` that writes ``alias``'s columns as ``NEW.`c``` (or OLD) in a trigger."""

    def write(ref: ColumnRef) -> str:
        return f"{record}.{quote_identifier(ref.name)}" if ref.alias == alias else ref.sql()

    return write


# ---------------------------------------------------------------------------------------------
# parsing user expressions
# ---------------------------------------------------------------------------------------------
class ExprError(ValueError):
    """A user expression that cannot be a transform; the message says why and what to write instead."""


# Functions whose value differs between the backfill and a trigger, or between v1 and verify.
_VOLATILE = (exp.Rand, exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime, exp.CurrentUser, exp.Uuid)
_VOLATILE_NAMES = {"NOW", "SYSDATE", "UUID", "UUID_SHORT", "RAND", "CURTIME", "CURDATE", "UNIX_TIMESTAMP",
                   "UTC_TIMESTAMP", "UTC_DATE", "UTC_TIME", "CONNECTION_ID", "LAST_INSERT_ID", "USER",
                   "CURRENT_USER", "SESSION_USER", "SYSTEM_USER", "FOUND_ROWS", "ROW_COUNT", "SLEEP",
                   "GET_LOCK", "RELEASE_LOCK", "NEXTVAL", "LASTVAL", "SETVAL", "LOCALTIME", "LOCALTIMESTAMP"}


def parse(text: str, resolve: Callable[[str | None, str], ColumnRef]) -> Expr:
    """Parse a user expression and resolve each column reference with ``resolve(qualifier, name)``.

    ``resolve`` raises ExprError for an unknown or ambiguous column. Raises ExprError when the text is
    not one expression, or contains a subquery, an aggregate, a variable or a volatile function.
    """
    try:
        tree = sqlglot.parse_one(text, read="mysql")
    except (ParseError, TokenError) as exc:
        raise ExprError(f"not an SQL expression ({str(exc).splitlines()[0]})") from None
    if isinstance(tree, (exp.Select, exp.Union, exp.Insert, exp.Update, exp.Delete, exp.Command)) \
            or not isinstance(tree, exp.Expression):
        raise ExprError("write one expression over the row, not a statement")
    for node in tree.walk():
        if isinstance(node, (exp.Subquery, exp.Select, exp.Exists)):
            raise ExprError("a subquery cannot be a transform; join the table in the plan instead")
        if isinstance(node, exp.AggFunc):
            raise ExprError(f"{node.sql('mysql')} is an aggregate; a transform computes one row from one row")
        if isinstance(node, (exp.Parameter, exp.SessionParameter, exp.Placeholder)):
            raise ExprError("variables differ between sessions; write the value itself")
        name = node.name.upper() if isinstance(node, exp.Anonymous) else ""
        if isinstance(node, _VOLATILE) or name in _VOLATILE_NAMES:
            raise ExprError(f"{node.sql('mysql')} gives another value in the backfill, the triggers and verify; "
                            "use a constant or a column")
    columns = sorted(tree.find_all(exp.Column), key=lambda c: c.this.meta.get("start", 0))
    parts: list[str] = []
    refs: list[ColumnRef] = []
    position = 0
    for column in columns:
        qualifier = column.args.get("table")
        if column.args.get("db") or column.args.get("catalog"):
            raise ExprError(f"{column.sql('mysql')}: name a column as column or alias.column, not schema.table.column")
        start = (qualifier or column.this).meta.get("start")
        end = column.this.meta.get("end")
        if start is None or end is None:
            raise ExprError(f"cannot locate {column.sql('mysql')} in the text")
        refs.append(resolve(qualifier.name if qualifier else None, column.this.name))
        parts.append(text[position:start])
        position = end + 1
    parts.append(text[position:])
    return Expr(tuple(parts), tuple(refs))
