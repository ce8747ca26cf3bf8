"""Which rows of which targets a write to one v1 table changes, and how to find their old values.

A write to v1 table T reaches a target X along paths:
- direct: an alias of X's source reads T itself; the rows of X affected are those whose alias row is
  the written row (its primary key equals NEW's, or OLD's for a delete);
- cascade: v1's ON UPDATE/DELETE CASCADE changed rows of a descendant D of T without firing D's
  triggers (MySQL fires none for cascaded changes); an alias of X reads D. Each foreign key is a path of
  its own, composite ones whole (InnoDB cascades only rows matching the whole key, so a partly-NULL
  reference is untouched, and matching on every column finds exactly the cascaded rows).
The old value of a column the write changed is OLD's (direct) or the old key of T it followed
(cascade), chosen per row by which path matched it.
"""

from __future__ import annotations

from dataclasses import dataclass

from djsqlgen.catalog.cascades import cascades as _cascades
from djsqlgen.catalog.cascades import children as _children
from djsqlgen.model.expr import ColumnRef, Expr
from djsqlgen.model.target import DRIVING, Model, TableRef, Target
from djsqlgen.sqltext.quoting import quote_identifier


@dataclass(frozen=True)
class Path:
    alias: str  # in the target's source
    # this alias's table's columns -> the written table's columns they equal (all of T's for direct)
    columns: tuple[tuple[str, str], ...]
    direct: bool
    # the columns that identify the reached row: T's primary key (direct), the whole foreign key (cascade)
    match_columns: tuple[tuple[str, str], ...] = ()

    def match(self, record: str, target: Target | None = None) -> str:
        """SQL: the alias row is the one the write reached (``record`` is NEW or OLD).

        For a joined alias, when ``target`` is given, the condition is written on the join's own
        expressions (the joined row is the written one exactly when they equal its key): that reads
        the driving table through its index instead of scanning it from the joined side.
        """
        pairs = self.match_columns or self.columns
        if target is not None and self.direct and self.alias != DRIVING:
            join = next(j for j in target.source.joins if j.alias == self.alias)
            on = dict(join.on)
            if all(c in on for c, _ in pairs):
                return " AND ".join(f"{on[c].render()} = {record}.{quote_identifier(t)}" for c, t in pairs)
        return " AND ".join(f"{quote_identifier(self.alias)}.{quote_identifier(c)} = {record}.{quote_identifier(t)}"
                            for c, t in pairs)


@dataclass(frozen=True)
class Impact:
    target: Target
    paths: tuple[Path, ...]

    def rows(self, record: str, driving_key: tuple[str, ...]) -> tuple[str | None, str]:
        """(hits, condition): how the target's source finds the reached rows. One path: a condition on
        the source. Several: ``hits``, a UNION of each path's driving keys (each an index lookup; an OR
        across tables would scan), joined to the driving table, and no condition."""
        matches = list(dict.fromkeys(p.match(record, self.target) for p in self.paths))
        if len(matches) == 1:
            return None, matches[0]
        from djsqlgen.engines.source import from_clause

        keys = ", ".join(f"{quote_identifier(DRIVING)}.{quote_identifier(k)}" for k in driving_key)
        selects = [f"SELECT {keys}\n{from_clause(self.target)}\nWHERE {m}" for m in matches]
        return "\nUNION\n".join(selects), ""

    def old_values(self) -> dict[ColumnRef, Expr]:
        """Each column a path changed, as its value before the write (OLD's), chosen by the path that
        matched the row when several could have."""
        out: dict[ColumnRef, Expr] = {}
        by_column: dict[ColumnRef, list[tuple[Path, str]]] = {}
        for p in self.paths:
            for column, t_column in p.columns:
                by_column.setdefault(ColumnRef(p.alias, column), []).append((p, t_column))
        one_row_set = len({p.match("NEW", self.target) for p in self.paths}) == 1  # every path reaches the same rows
        for ref, choices in by_column.items():
            sql = ref.sql()
            for p, t_column in reversed(choices):
                old = f"OLD.{quote_identifier(t_column)}"
                sql = old if one_row_set else f"IF({p.match('NEW')}, {old}, {sql})"
            out[ref] = Expr.text(sql)
        return out

    def written_columns(self) -> set[str]:
        """Columns of the written table whose change can change this target's rows."""
        reads = {(r.alias, r.name) for c in self.target.columns for r in c.expr.refs}
        reads |= {(r.alias, r.name) for j in self.target.source.joins for _, e in j.on for r in e.refs}
        # the joined table's own key columns too: moving a joined row to another key changes which rows read it
        reads |= {(j.alias, column) for j in self.target.source.joins for column, _ in j.on}
        if self.target.source.filter is not None:
            reads |= {(r.alias, r.name) for r in self.target.source.filter.refs}
        out = set()
        for p in self.paths:
            for column, t_column in p.columns:
                # a cascade moves the rows of a target keyed by the driving rows, whatever it reads; a distinct
                # target (a lookup) is keyed by what it reads, so a cascade through other columns leaves it alone
                if (p.alias, column) in reads or (not p.direct and not self.target.source.distinct):
                    out.add(t_column)
        return out

    def key_reads_changed(self) -> bool:
        old = self.old_values()
        return any(r in old for c in self.target.key_columns for r in c.expr.refs)

    @property
    def drives(self) -> bool:
        """Whether a path reaches the target's driving rows (a delete there removes target rows)."""
        return any(p.alias == DRIVING for p in self.paths)


def _index(model: Model) -> tuple[dict, dict]:
    """(v1 foreign-key children, v1 table -> positions of the targets reading it) of ``model``, computed once per
    model: asked per v1 table and event, a scan of every table and target each time made generate quadratic."""
    if "impacts_index" not in model.memo:
        tables = [t for s in model.v1.schemas for t in s.tables]
        readers: dict[TableRef, list[int]] = {}
        for position, target in enumerate(model.ordered()):
            for ref in target.reads:
                readers.setdefault(ref, []).append(position)
        model.memo["impacts_index"] = (_children(tables), readers)
    return model.memo["impacts_index"]


def _parent_joins(model: Model, t: Target) -> set[str]:
    """Aliases of ``t``'s joins to a table its driving table refers to by a v1 foreign key, on exactly that key (a
    parent whose new key a child follows, an ~external_<store> row): no driving row can refer to a parent row
    being inserted, so an INSERT there reaches none of ``t``'s rows. Looking would take a shared lock on the gap
    of the driving table where the child rows are about to go: two DataJoint clients inserting a session and then
    its parts deadlocked on it (1213, seen in CI; InnoDB status: both held S on session__tag's supremum)."""
    def keys(alias: str) -> set:
        table = model.v1_table(t.source.table_of(alias))
        return {(fk.ref_schema, fk.ref_table, tuple(sorted(zip(fk.ref_columns, fk.columns)))) for fk in table.foreign_keys}

    out = set()
    for j in t.source.joins:
        on = dict(j.on)
        # on exactly a foreign key of one alias's table: the driving table's, or a joined one's (a merged part's
        # reference into ~external_<store>, read through the part's row)
        readers = {e.refs[0].alias for e in on.values() if e.is_column}
        if all(e.is_column for e in on.values()) and len(readers) == 1:
            (reader,) = readers
            pairs = tuple(sorted((k, e.refs[0].name) for k, e in on.items()))
            if (j.table.schema, j.table.name, pairs) in keys(reader):
                out.add(j.alias)
    return out


def impacts(model: Model, written: TableRef, event: str) -> list[Impact]:
    """The targets a write (``INSERT``, ``UPDATE`` or ``DELETE``) to ``written`` changes, parents first. A new row
    reaches no target through a join as a parent (``_parent_joins``): nothing refers to it yet."""
    table = model.v1_table(written)
    children, readers = _index(model)
    cascade_rule = {"UPDATE": "on_update", "DELETE": "on_delete"}.get(event)
    cascades = _cascades(children, table, cascade_rule) if cascade_rule else []
    if event == "UPDATE" and model.repeated_cascades:
        # the other side's own ON UPDATE CASCADE moves these rows when the written row's image moves (parents
        # first): carried here as well, a move could reach a row before its parent there had moved (1452)
        cascades = [(d, columns) for d, columns in cascades
                    if (written, TableRef(d.schema, d.name), columns) not in model.repeated_cascades]
    ordered = model.ordered()
    reached = {written, *(TableRef(d.schema, d.name) for d, _ in cascades)}
    positions = sorted({p for ref in reached for p in readers.get(ref, ())})
    out = []
    for target in (ordered[p] for p in positions):
        parents = _parent_joins(model, target) if event == "INSERT" else set()
        paths = [Path(alias, tuple((a.name, a.name) for a in table.attributes), True,
                      tuple((k, k) for k in table.primary_key))
                 for alias in target.source.alias_of(written) if alias not in parents]
        for descendant, columns in cascades:
            for alias in target.source.alias_of(TableRef(descendant.schema, descendant.name)):
                paths.append(Path(alias, columns, False))
        if paths:
            out.append(Impact(target, tuple(paths)))
    return out
