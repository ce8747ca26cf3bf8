"""SQL expressions of the target model: parsed by sqlglot, written from the syntax tree, columns as references.

An ``Expr`` is SQL text cut at its column references: ``parts`` are the literal pieces between them and
``refs`` the references, each an (alias, column) of the target's source. sqlglot (MySQL dialect) parses the
user's text, which must be exactly one expression, and refuses what a transform must not contain
(subqueries, aggregates, variables, functions whose value changes between calls); the SQL kept is written
from the tree, never the user's text (``1; DROP TABLE x`` is refused, a comment is dropped). A function
sqlglot does not know (MariaDB-only) is written as called; ``a REGEXP b`` stays that (not REGEXP_LIKE).

Rendering fills each reference in: ``src``.`col` in the backfill, ``NEW.`col``` in a trigger, or another
expression (a key attribute the parent computes) through ``substitute``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import ParseError, TokenError

from djsqlgen.sqltext.quoting import quote_identifier


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


class _Server(MySQL):
    """sqlglot's MySQL dialect, rendering what MariaDB 10.6+ and MySQL 8 both read: ``a REGEXP b`` (MariaDB has
    no REGEXP_LIKE, which sqlglot's MySQL generator writes), JSON_EXTRACT for ``->`` and ``->>``."""

    class Generator(MySQL.Generator):
        TRANSFORMS = {
            **MySQL.Generator.TRANSFORMS,
            exp.RegexpLike: lambda self, e: (f"{self.sql(e, 'this')} REGEXP {self.sql(e, 'expression')}"
                                             if not e.args.get("flag") else self.function_fallback_sql(e)),
            # MariaDB has no -> / ->> operators: the functions they stand for (MySQL manual, "JSON Functions")
            exp.JSONExtract: lambda self, e: f"JSON_EXTRACT({self.sql(e, 'this')}, {self.sql(e, 'expression')})",
            exp.JSONExtractScalar: lambda self, e: (f"JSON_UNQUOTE(JSON_EXTRACT({self.sql(e, 'this')}, "
                                                    f"{self.sql(e, 'expression')}))"),
        }


def _one_expression(text: str) -> exp.Expression:
    """The syntax tree of ``text``, which must be exactly one SQL expression (read as the one column of a SELECT,
    so that functions named like statements, such as REPLACE(), are functions)."""
    try:
        statements = sqlglot.parse(f"SELECT {text}", read="mysql")
    except (ParseError, TokenError) as exc:
        raise ExprError(f"not an SQL expression ({str(exc).splitlines()[0]})") from None
    select = statements[0] if len(statements) == 1 else None
    if not isinstance(select, exp.Select) or len(select.expressions) != 1 or \
            any(v for k, v in select.args.items() if k != "expressions"):
        raise ExprError("write one SQL expression over the row, not a statement or a list (no ';', FROM or ',')")
    tree = select.expressions[0]
    if isinstance(tree, exp.Alias):
        raise ExprError("write the expression without AS: the plan key names the column")
    return tree


def _checked(tree: exp.Expression, volatile_ok: bool = False) -> None:
    for node in tree.walk():
        if isinstance(node, (exp.Subquery, exp.Select, exp.Exists, exp.Query)):
            raise ExprError("a subquery cannot be a transform; join the table in the plan instead")
        if isinstance(node, exp.AggFunc):
            raise ExprError(f"{node.sql('mysql')} is an aggregate; a transform computes one row from one row")
        if isinstance(node, (exp.Parameter, exp.SessionParameter, exp.Placeholder)):
            raise ExprError("variables differ between sessions; write the value itself")
        if isinstance(node, exp.Command):
            raise ExprError(f"{node.sql('mysql')[:40]!r} is not an expression")
        name = node.name.upper() if isinstance(node, exp.Anonymous) else ""
        if not volatile_ok and (isinstance(node, _VOLATILE) or name in _VOLATILE_NAMES):
            raise ExprError(f"{node.sql('mysql')} gives another value in the backfill, the triggers and verify; "
                            "use a constant or a column")


def render_tree(tree: exp.Expression) -> str:
    """An expression's SQL, written from its syntax tree (never the user's text): comments dropped."""
    return tree.sql(dialect=_Server, comments=False)


def parse(text: str, resolve: Callable[[str | None, str], ColumnRef],
          type_of: Callable[[str | None, str], str | None] | None = None) -> Expr:
    """Parse a user expression and resolve each column reference with ``resolve(qualifier, name)``.

    ``resolve`` raises ExprError for an unknown or ambiguous column. Raises ExprError when the text is
    not one expression, or contains a subquery, an aggregate, a variable or a volatile function, or (with
    ``type_of``, the v1 type of a column) an operation that fails on some value (``model.hazards``). The SQL of
    the result is written from the syntax tree, each column reference cut out.
    """
    tree = _one_expression(text)
    _checked(tree)
    if type_of is not None:
        from djsqlgen.model.hazards import failure

        reason = failure(tree, type_of)
        if reason:
            raise ExprError(reason)
    marker = "djsqlgen_ref_"
    while marker in text.lower():
        marker = "x" + marker
    refs: list[ColumnRef] = []

    def cut(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Column):
            return node
        qualifier = node.args.get("table")
        if node.args.get("db") or node.args.get("catalog"):
            raise ExprError(f"{node.sql('mysql')}: name a column as column or alias.column, not schema.table.column")
        refs.append(resolve(qualifier.name if qualifier else None, node.this.name))
        return exp.column(f"{marker}{len(refs) - 1}")

    tree = tree.transform(cut)
    pieces = re.split(rf"\b{marker}(\d+)\b", render_tree(tree))
    # pieces: text, index, text, index, …, text (sqlglot may write arguments in another order than the user did)
    return Expr(tuple(pieces[0::2]), tuple(refs[int(i)] for i in pieces[1::2]))


def parse_constant(text: str, volatile_ok: bool = False) -> str:
    """A user default: one expression without columns, written from its syntax tree (raises ExprError)."""
    tree = _one_expression(text)
    _checked(tree, volatile_ok)
    if tree.find(exp.Column):
        raise ExprError(f"a default cannot name a column ({tree.find(exp.Column).sql('mysql')}); give an expr instead")
    return render_tree(tree)
