"""Dual-write triggers: for each v1 table, one trigger per event recomputes every target row the write reaches.

- AFTER INSERT: upsert the target rows that read the new row (parents first).
- AFTER UPDATE: for each target the write reaches (directly, or through v1's ON UPDATE CASCADE), move
  v2 keys that changed with an UPDATE (so v2's own ON UPDATE CASCADE carries its children once 60 has
  added the foreign keys), then upsert the recomputed rows (parents first). A key change is detected
  byte for byte: under a _ci collation 'alpha' → 'ALPHA' is a change.
- BEFORE DELETE: delete the target rows made from the row, and from the rows v1's ON DELETE CASCADE is
  about to remove (children first); BEFORE, because those rows still exist to compute the keys from. The
  statement's rollback undoes these deletes if the v1 delete fails.
Relationship changes add: a lookup (a distinct target) is written without a lock on its shared row where that row
already agrees (_lookup_write); a row of it that no v1 row uses any more takes the next row's values; an INSERT
that breaks the lookup's assumption is refused, naming the key and the values; a
filtered target (a split side, a new part) loses a row whose UPDATE no longer passes its filter, and a split
refuses a row for no side or two; a row deleted from a LEFT-JOINed table (a merged part) recomputes the rows
that read it.
Upserts are INSERT … SELECT … ON DUPLICATE KEY UPDATE, never REPLACE (REPLACE deletes first, which v2's
foreign keys would refuse or cascade). A target whose key is only one-to-one on the data (``checked``)
gets a plain INSERT for a new driving row, so a row that would merge with another fails the v1 write; a new or
moved key is also looked up in v1 (another v1 row mapping to it, copied by the backfill or not yet) and refused (W1).
"""

from __future__ import annotations

from dataclasses import replace

from djsqlgen.engines import external_rows, issued_ids, part_back, sides, split_back, written_row
from djsqlgen.engines.context import Context
from djsqlgen.engines.guards import phase_log
from djsqlgen.engines.impacts import Impact, impacts
from djsqlgen.engines.two_way import SIXTY
from djsqlgen.engines.source import from_clause, same_bytes, stored_same, table_sql, where_clause
from djsqlgen.engines.values import as_stored_key, stored_key
from djsqlgen.model.expr import Expr, bound
from djsqlgen.model.target import DRIVING, TableRef, Target
from djsqlgen.sqltext import naming
from djsqlgen.sqltext.messages import SIGNAL_LIMIT, short_label, writer_message
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal, quote_qualified
from djsqlgen.sqltext.render import render
from djsqlgen.sqltext.statements import Owned, Statement

# A trigger kind: (the statement it fires on, when). CASCADE_DELETE fires BEFORE the row goes, for the rows
# v1's ON DELETE CASCADE is about to remove: they can only be read then. Everything else fires AFTER, so
# that v1's own checks (a RESTRICT foreign key, DataJoint reads its 1451 message) fail a write first.
# ISSUE (two-way, an AUTO_INCREMENT key): BEFORE INSERT on a v2 table, a row without an id takes v1's
# (engines/issued_ids.py).
KINDS = {"INSERT": ("INSERT", "AFTER"), "UPDATE": ("UPDATE", "AFTER"), "DELETE": ("DELETE", "AFTER"),
         "CASCADE_DELETE": ("DELETE", "BEFORE"), issued_ids.ISSUE: ("INSERT", "BEFORE")}
EVENTS = tuple(KINDS)


def _q(name: str) -> str:
    return quote_identifier(name)


def _indent(text: str, spaces: int) -> str:
    return text.replace("\n", "\n" + " " * spaces)


def _reached(ctx: Context, impact: Impact, record: str) -> tuple[str, str]:
    """FROM and WHERE clauses that find the rows of ``impact``'s target the write reached."""
    t = impact.target
    hits, condition = impact.rows(record, ctx.model.v1_table(t.source.driving).primary_key)
    frm, where = from_clause(t, hits=hits, model=ctx.model), where_clause(t, f"({condition})" if condition else "")
    return (f"{frm}\n{where}" if where else frm), ""


def _upsert(target: Target, reached: tuple[str, str], plain_insert: bool, key_too: bool = False) -> str:
    """INSERT … SELECT the reached rows; unless ``plain_insert``, a row already at the key takes their values (its
    key's bytes too with ``key_too``: under a _ci collation 'r2' and 'R2' are one key)."""
    values = ",\n    ".join(f"{c.expr.render()} AS {_q(c.name)}" for c in target.columns)
    # an insert-only column (two-way: one the other side does not have) keeps the row's own value
    non_key = [c.name for c in target.columns if (key_too or c.name not in target.primary_key) and not c.insert_only] \
        or [target.primary_key[0]]
    body = (f"INSERT INTO {table_sql(target.schema, target.name)}\n"
            f"  ({', '.join(_q(c.name) for c in target.columns)})\n"
            f"SELECT * FROM (\n  SELECT\n    {values}\n  {_indent(reached[0], 2)}\n) AS dt")
    if plain_insert:
        return body
    updates = ",\n  ".join(f"{_q(n)} = dt.{_q(n)}" for n in non_key)
    return f"{body}\nON DUPLICATE KEY UPDATE\n  {updates}"


def _upsert_changes(target: Target, reached: tuple[str, str], impact: Impact | None = None,
                    present: bool = False) -> str:
    """SQL: a row the upsert would write that the target does not hold yet as it would store it (two-way: the echo
    of a carried write finds its row in place). Insert-only columns are the other side's own, not compared. When
    the only row reached is the written one itself (``impact`` of a one-table target, by the driving row), its
    values are computed from NEW: every echo asks this, and reading that row again by its key is work for nothing.
    ``present``: only a row the target holds (a recompute of rows that read a joined row finds nothing to write where
    the row itself is gone: the echo of a delete, its own row deleted first)."""
    if impact is not None and not target.source.joins and target.source.filter is None \
            and all(p.alias == DRIVING and p.direct for p in impact.paths):
        reached = ("", "")
        values = ",\n    ".join(f"{c.expr.render(bound(DRIVING, 'NEW'))} AS {_q(c.name)}" for c in target.columns)
    else:
        values = ",\n    ".join(f"{c.expr.render()} AS {_q(c.name)}" for c in target.columns)
    on = " AND ".join(f"dst.{_q(k)} = dt.{_q(k)}" for k in target.primary_key)
    same = "\n    AND ".join(stored_same(f"dst.{_q(c.name)}", f"dt.{_q(c.name)}", c.decl)
                            for c in target.columns if not c.insert_only)
    source = f"\n  {_indent(reached[0], 2)}" if reached[0] else ""
    missing = "" if present else f"dst.{_q(target.primary_key[0])} IS NULL\n  OR "
    return (f"SELECT 1 FROM (\n  SELECT\n    {values}{source}\n) AS dt\n"
            f"{'' if present else 'LEFT '}JOIN {table_sql(target.schema, target.name)} AS dst ON {on}\n"
            f"WHERE {missing}NOT ({same})")


def _carried(ctx: Context, target: Target, event: str, changes: str | written_row.Lookup, write: str,
             absent: bool = False) -> str:
    """``write``, or on a two-way target, ``write`` only where ``changes`` finds a row it would change: compare before
    write. The echo of a carried write finds the other side already equal and stops, so it neither comes back nor
    meets error 1442; a guard that holds no state cannot go stale when a write ends by 1205, 1213, KILL QUERY or
    max_statement_time (tests/integration/test_two_way_guard.py). ``absent``: ``changes`` finds the row already as
    the write would leave it, so the write is needed where it finds none."""
    if target.id not in ctx.compare_before_write:
        return write
    from djsqlgen.engines import two_way

    if ctx.reverse and event == "INSERT":
        write = written_row.numbered_under_lock(target, write)

    then = ";\n".join(s for s in (two_way.before_carrying(ctx, target, event), write) if s)
    # The rows an UPDATE or DELETE would write are there to lock (the write would lock them anyway), and only the
    # latest committed version tells: a snapshot older than another client's carried change would find the row
    # "already equal" to a value it no longer holds, and skip. An INSERT's new row is in no older snapshot.
    lock = event != "INSERT"
    if isinstance(changes, written_row.Lookup):
        compared = _if_found(changes.found("v_found", lock), then)
    else:
        compared = _unlocked_exists(changes + ("\nLOCK IN SHARE MODE" if lock else ""), then, absent)
    # the echo of a write into the table the statement itself writes: nothing to compare (two_way.statement_mark)
    compared = two_way.unless_statement_writes(ctx, target, compared)
    # a client's own write is no echo: carried without the comparison (two_way.carry_token)
    # (a v2 row whose id v1 issued is in v1 already: compared too)
    carried = two_way.unless_in_carry(ctx, compared, two_way.open_before_carrying(ctx, target, event, write, compared),
                                      issued_ids.issued_here(ctx, target, event))
    carried = issued_ids.unless_issuing(ctx, target, event, carried)  # (v2's statement inserting this row itself)
    if event in ("DELETE", "CASCADE_DELETE"):
        carried = two_way.unless_cascading(ctx, carried)
    return two_way.outside_engine_sessions(ctx, carried)


def _two_way_not_copied(ctx: Context, t: Target) -> str:
    """A v1 client's key move of a two-way target's row, until the backfill has copied the table: NEW's row written
    where v2 has none at its key (one there, the row just moved, kept as it is). The move finds no row that is not
    copied yet, and the copy, which takes the rows from its checkpoint up to the end it began with, misses a row
    moved below the one or beyond the other. An echo (a v2 client's move carried here) has its row in v2 already."""
    from djsqlgen.engines import two_way

    table, first = table_sql(t.schema, t.name), _q(t.primary_key[0])
    insert = (f"{written_row.upsert(t, plain_insert=True)}\n"
              f"ON DUPLICATE KEY UPDATE {table}.{first} = {table}.{first}")
    return (f"IF {written_row.key_moved(t)} AND NOT {_copied(ctx, t)} AND NOT {two_way.IN_CARRY} "
            f"AND {two_way.ENGINE_SESSION} IS NULL THEN\n  {_indent(insert, 2)};\nEND IF")


def _two_way_row(ctx: Context, impact: Impact) -> bool:
    """A two-way target whose reached row is the written row itself: carried from NEW/OLD (engines/written_row.py),
    without the derived tables the general forms read the source through."""
    return impact.target.id in ctx.compare_before_write and written_row.is_written_row(impact.target, impact)


def _move(ctx: Context, impact: Impact, probe: bool = False) -> str:
    """UPDATE the v2 keys of the reached rows from their old to their new value, where they differ."""
    t = impact.target
    old = impact.old_values()
    pairs = []
    for i, c in enumerate(t.key_columns, 1):
        before = c.expr.substitute({r: e for r, e in old.items() if r in c.expr.refs})
        pairs.append((c, as_stored_key(before.render(), c.decl), as_stored_key(c.expr.render(), c.decl), i))
    # Two-way: the row moves with its new values in one UPDATE. Moved first and changed after, it would show the
    # other side's trigger a row that is neither the old nor the new one, which it would carry back (error 1442).
    values = [c for c in t.columns if c.name not in t.primary_key and not c.insert_only] \
        if t.id in ctx.compare_before_write else []
    selected = ",\n    ".join([f"{o} AS {_q(f'o_{i}')}" for _, o, _, i in pairs] +
                              [f"{n} AS {_q(f'n_{i}')}" for _, _, n, i in pairs] +
                              [f"{c.expr.render()} AS {_q(f'v_{i}')}" for i, c in enumerate(values, 1)])
    on = " AND ".join(f"dst.{_q(c.name)} = mv.{_q(f'o_{i}')}" for c, _, _, i in pairs)
    sets = ", ".join([f"dst.{_q(c.name)} = mv.{_q(f'n_{i}')}" for c, _, _, i in pairs] +
                     [f"dst.{_q(c.name)} = mv.{_q(f'v_{i}')}" for i, c in enumerate(values, 1)])
    moved = " AND ".join(same_bytes(f"mv.{_q(f'o_{i}')}", f"mv.{_q(f'n_{i}')}", c.decl) for c, _, _, i in pairs)
    frm, _ = _reached(ctx, impact, "NEW")
    if probe:  # the rows it would move (compare before write)
        return (f"SELECT 1 FROM {table_sql(t.schema, t.name)} AS dst\n"
                f"JOIN (\n  SELECT\n    {selected}\n  {_indent(frm, 2)}\n) AS mv ON {on}\n"
                f"WHERE NOT ({moved})")
    move = (f"UPDATE {table_sql(t.schema, t.name)} AS dst\n"
            f"JOIN (\n  SELECT\n    {selected}\n  {_indent(frm, 2)}\n) AS mv ON {on}\n"
            f"SET {sets}\nWHERE NOT ({moved})")
    # At the old key: the old key, the other columns NEW's (the upsert after the move writes NEW's values anyway;
    # a row whose key does not move is made at its key, where the upsert writes it too).
    if not _fills_gaps(ctx, t):
        return move
    old_keys = {c.name: o for c, o, _, _ in pairs}
    row = [old_keys.get(c.name, c.expr.render()) for c in t.columns]
    return f"{_present_first(ctx, t, row, frm)};\n{move}"


def v2_cascades(ctx: Context, written: TableRef) -> frozenset[str]:
    """Targets whose key move by an UPDATE of ``written`` v2's own ON UPDATE CASCADE makes once 60 has added the
    foreign keys: rows reached only through v1's ON UPDATE CASCADE, each key column that moves one of a v2 foreign key
    ON UPDATE CASCADE to a target this write moves, computed from the child's copy of the parent's v1 key as the
    parent's own key column is. Their explicit move would then find nothing at the old keys, and under REPEATABLE
    READ lock the next row instead, which a write next to it waits for (1213 under load: issues 21, 24)."""
    if ctx.reverse:
        return frozenset()
    cache = ctx.memo.setdefault("v2_cascades", {})
    if written not in cache:
        out: set[str] = set()
        moved = set()
        for impact in impacts(ctx.model, written, "UPDATE"):  # parents first
            t = impact.target
            if not impact.key_reads_changed() or t.source.distinct:
                continue
            moved.add(t.id)
            old = impact.old_values()
            if any(p.direct for p in impact.paths):
                continue
            if all(_v2_cascade_moves(ctx, t, c, moved) for c in t.key_columns
                   if any(r in old for r in c.expr.refs)):
                out.add(t.id)
        cache[written] = frozenset(out)
    return cache[written]


def _v2_cascade_moves(ctx: Context, t: Target, column, moved: set[str]) -> bool:
    """Whether a v2 foreign key ON UPDATE CASCADE of ``t`` to a moved target sets ``column`` as its move would."""
    for fk in t.foreign_keys:
        if fk.on_update.upper() != "CASCADE" or fk.parent not in moved or column.name not in fk.columns:
            continue
        parent = ctx.model.find(fk.parent)
        ref = fk.ref_columns[fk.columns.index(column.name)]
        pairs = dict(zip(fk.v1_ref_columns, fk.v1_columns))  # the parent's v1 key column -> the child's
        expr = next(c.expr for c in parent.columns if c.name == ref)
        if any(r.alias != DRIVING or r.name not in pairs for r in expr.refs):
            continue
        if expr.substitute({r: Expr.column(DRIVING, pairs[r.name]) for r in expr.refs}).render() == column.expr.render():
            return True
    return False


def _taken_key_refusal(ctx: Context, impact: Impact) -> str:
    """Before moving keys: a reached row whose old image is in v2 while another v2 row holds its new key would
    merge into that row. (When the old image is not at its old key, v2's own ON UPDATE CASCADE may have moved
    it already, so the row at the new key is its own; a merge there is left to verify and 70's data check.)"""
    t = impact.target
    old = impact.old_values()
    frm, _ = _reached(ctx, impact, "NEW")
    pairs = []
    for i, c in enumerate(t.key_columns, 1):
        before = c.expr.substitute({r: e for r, e in old.items() if r in c.expr.refs})
        pairs.append((c, as_stored_key(before.render(), c.decl), as_stored_key(c.expr.render(), c.decl), i))
    selected = ", ".join([f"{o} AS {_q(f'o_{i}')}" for _, o, _, i in pairs] + [f"{n} AS {_q(f'n_{i}')}" for _, _, n, i in pairs])
    on = " AND ".join(f"dst.{_q(c.name)} = mv.{_q(f'n_{i}')}" for c, _, _, i in pairs)
    was = " AND ".join(f"was.{_q(c.name)} = mv.{_q(f'o_{i}')}" for c, _, _, i in pairs)
    moved = " AND ".join(same_bytes(f"mv.{_q(f'o_{i}')}", f"mv.{_q(f'n_{i}')}", c.decl) for c, _, _, i in pairs)
    # Under a case- or space-insensitive collation the row at the new key can be the moving row itself
    # ('ALPHA' → 'alpha'): that is a move, not a merge.
    itself = " AND ".join(same_bytes(f"dst.{_q(c.name)}", f"was.{_q(c.name)}", c.decl) for c, _, _, i in pairs)
    message = quote_literal(writer_message("W1", t.label, ", ".join(t.primary_key), _merge_what(ctx)))
    return _unlocked_exists(
        f"SELECT 1 FROM {table_sql(t.schema, t.name)} AS dst\n"
        f"JOIN (SELECT {selected}\n{frm}) AS mv ON {on}\n"
        f"JOIN {table_sql(t.schema, t.name)} AS was ON {was}\nWHERE NOT ({moved}) AND NOT ({itself})",
        f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {message}")


def _fills_gaps(ctx: Context, t: Target) -> bool:
    """Whether a DELETE or key move of ``t`` writes a missing row first (``_present_first``). Not for two-way
    targets: their compare before write finds no row to change where v2 has none and skips the write, and the way
    back writes v1, which is whole."""
    return t.id not in ctx.compare_before_write and not ctx.reverse


def _present_first(ctx: Context, t: Target, values: list[str], frm: str) -> str:
    """Before a DELETE or a key move of v2 rows found by their key: the rows (``values`` over ``frm``) written where
    v2 has none at that key, a row that is there kept as it is.

    A locking read by key that finds no row locks the gap where it would be. v2 is sparser than v1 (empty before the
    backfill; parts, lookups and split sides always): two writers deleting or moving rows not copied yet would hold
    that gap together, and each one's next insert into it would wait for the other (1213), though in v1 they never
    meet. A consistent read cannot decide to skip the DELETE: the backfill may have copied the row after this
    transaction's snapshot. So the row is made certain to be there: an INSERT of a new row takes no gap lock (an
    insert intention, which waits only for a gap lock, and no writer holds one any more), one already there is found
    by its whole primary key (a record lock, ON DUPLICATE KEY UPDATE that changes nothing); then the DELETE or move
    finds a row. The upsert is not preceded by a consistent read asking whether the row is there: the locks it takes
    are the ones the DELETE or move takes next anyway (the row's record lock; the same reads of v1), and the look
    was one statement more in every write (and lines that every open of the v1 table parses again). It runs only
    until the backfill has copied the table (as this transaction's snapshot shows the progress row): then v1's rows
    are all in v2, a filtered
    target's other rows are not looked for at all, and a row missing at its old key is one v2's own ON UPDATE
    CASCADE moved already (after 60), where a row written back would break its foreign key. Before 60 v2 has neither
    foreign keys nor unique indexes besides the key, so the short-lived row meets no constraint."""
    table = table_sql(t.schema, t.name)
    key = t.key_columns
    selected = ",\n    ".join(f"{v} AS {_q(c.name)}" for c, v in zip(t.columns, values))
    # a key that comes out NULL (read through a join that finds no row) has no v2 row, and the DELETE finds none
    whole = " AND ".join(f"dt.{_q(c.name)} IS NOT NULL" for c in key)
    insert = (f"INSERT INTO {table}\n  ({', '.join(_q(c.name) for c in t.columns)})\n"
              f"SELECT * FROM (\n  SELECT\n    {selected}\n  {_indent(frm, 2)}\n) AS dt\nWHERE {whole}\n"
              f"ON DUPLICATE KEY UPDATE {table}.{_q(key[0].name)} = {table}.{_q(key[0].name)}")
    return f"IF NOT {_copied(ctx, t)} THEN\n  {_indent(insert, 2)};\nEND IF"


# ctx.memo key: while one trigger body is built, the targets whose progress it asks for, each with the written table's
# columns one of which must have changed for the question to be asked (None: asked on every row)
_COPIED = "copied_asked"


def _copied(ctx: Context, t: Target) -> str:
    """The local variable saying whether the backfill has copied ``t`` (its progress row's ``done``, as this
    transaction's snapshot shows it). Every target a body asks about is read in one statement at its top
    (``_copied_read``), not each where it is asked: a key move of a pipeline's subject asked ten times."""
    asked = ctx.memo[_COPIED]
    ids = [i for i, _ in asked]
    if t.id not in ids:
        asked.append((t.id, ctx.memo.get(_COPIED + "_when")))
        ids.append(t.id)
    else:
        position = ids.index(t.id)
        when, now = asked[position][1], ctx.memo.get(_COPIED + "_when")
        asked[position] = (t.id, None if when is None or now is None else when | now)
    return f"v_copied_{ids.index(t.id) + 1}"


def _copied_read(ctx: Context, table, asked: list) -> tuple[list[str], tuple[str, str, str] | None]:
    """(declarations, block) reading every flag ``asked`` for, where the body asks for one: a consistent read (a
    plain SELECT … INTO locks nothing; the progress row is locked by every backfill chunk's checkpoint, and a locking
    read would make each writer wait for the chunk in progress). Only when a column whose change makes a block ask has
    changed (an UPDATE of no key column asks nothing)."""
    if not asked:
        return [], None
    names = [f"v_copied_{i}" for i in range(1, len(asked) + 1)]
    flags = ",\n  ".join(f"COALESCE(MAX(target_id = {quote_literal(i)} AND done <> 0), 0)" for i, _ in asked)
    read = (f"SELECT\n  {flags}\nINTO {', '.join(names)}\nFROM {ctx.control_table('progress')}\n"
            f"WHERE target_id IN ({', '.join(quote_literal(i) for i, _ in asked)})")
    whens = [w for _, w in asked]
    if all(w is not None for w in whens):
        read = f"IF NOT ({_unchanged(set().union(*whens), table)}) THEN\n  {_indent(read, 2)};\nEND IF"
    why = ("which of the tables below the backfill has copied (their progress rows, read once): until then a row "
           "not copied yet is written first, and a new key is looked for in v1")
    return [f"{n} INT DEFAULT 0" for n in names], (f"{ctx.control}.progress", why, read)


def _if_found(select_into: str, then: str) -> str:
    """``then`` where ``select_into`` (a SELECT … INTO v_found) sets v_found."""
    return (f"BEGIN\n  DECLARE v_found INT DEFAULT 0;\n  {_indent(select_into, 2)};\n"
            f"  IF v_found THEN\n    {_indent(then, 4)};\n  END IF;\nEND")


def _unlocked_exists(query: str, then: str, absent: bool = False) -> str:
    """``IF EXISTS (query) THEN then``, read without a lock. In a trigger, ``IF EXISTS`` is a locking read, and of a
    table the trigger also writes an exclusive one (InnoDB opens it for writing); on a key that is not there it locks
    the gap where another writer's row is about to go, which v1 never does. A plain ``SELECT … INTO`` is a consistent
    read: no lock. What it may miss (a row committed after this transaction's snapshot) the write that follows meets
    anyway, as a duplicate key or a wait on that row's lock. With ``absent``: IF NOT EXISTS."""
    return (f"BEGIN\n  DECLARE v_found INT DEFAULT 0;\n  SELECT {'NOT ' if absent else ''}EXISTS (\n    {_indent(query, 4)}\n  ) INTO v_found;\n"
            f"  IF v_found THEN\n    {_indent(then, 4)};\n  END IF;\nEND")


def _v1_taken_refusal(ctx: Context, t: Target, insert: bool = False) -> str:
    """A written row whose v2 key (computed from NEW) another v1 row also maps to would merge with it, whether or
    not the backfill has copied that row yet: looked up in v1 (through the driving table's index where the key reads
    its columns), as v2 compares keys. A plain read: it takes no lock, so it waits for no one."""
    key = t.key_columns
    mine = ",\n    ".join(f"{as_stored_key(c.expr.render(bound(DRIVING, 'NEW')), c.decl)} AS {_q(f'k_{i}')}"
                          for i, c in enumerate(key, 1))
    mine_from = from_clause(t, bind=bound(DRIVING, "NEW"), driving_bound=True)
    others = from_clause(t).removeprefix("FROM ")
    same = " AND ".join(f"{as_stored_key(c.expr.render(), c.decl)} = mine.{_q(f'k_{i}')}"
                        for i, c in enumerate(key, 1))
    itself = " AND ".join(f"{_q(DRIVING)}.{_q(k)} = NEW.{_q(k)}"
                          for k in ctx.model.v1_table(t.source.driving).primary_key)
    message = quote_literal(writer_message("W1", t.label, ", ".join(t.primary_key), _merge_what(ctx)))
    if t.source.filter is not None:  # a split side or a new part: only rows of this table can meet here
        mine_from += f"\nWHERE ({t.source.filter.render(bound(DRIVING, 'NEW'))})"
        same += f"\n    AND ({t.source.filter.render()})"
    signal = f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {message}"
    in_v1 = (f"SELECT 1\nFROM (\n  SELECT\n  {mine}\n  {_indent(mine_from, 2)}\n) AS mine\n"
             f"CROSS JOIN {others}\nWHERE {same}\n  AND NOT ({itself})")
    # Once the backfill has copied the whole table, v2 holds every v1 row's key and its own unique key finds the
    # collision: the look-up in v1 (a scan where no index of v1 has the mapped key) is needed only until then.
    if not insert:  # a move: the v2 side is _taken_key_refusal's
        return f"IF NOT {_copied(ctx, t)} THEN\n  {_indent(_unlocked_exists(in_v1, signal), 2)};\nEND IF"
    # A new row: v2 holds no row of it yet, so a row at its key is another's (the plain INSERT after this still
    # fails on one committed meanwhile). Two-way: unless that row is this one's own, carried the other way already.
    on = " AND ".join(f"dst.{_q(c.name)} = mine.{_q(f'k_{i}')}" for i, c in enumerate(key, 1))
    own = _own_row(ctx, t)
    in_v2 = (f"SELECT 1\nFROM (\n  SELECT\n  {mine}\n  {_indent(mine_from, 2)}\n) AS mine\n"
             f"JOIN {table_sql(t.schema, t.name)} AS dst ON {on}" + (f"\nWHERE NOT ({own})" if own else ""))
    if ctx.reverse:  # the way back writes v1, which is whole: its row at the key is all there is to look at
        return _unlocked_exists(in_v2, signal)
    in_v2 = _unlocked_exists(in_v2, signal)
    if not own and t.id in ctx.compare_before_write:
        from djsqlgen.engines.two_way import IN_CARRY

        # v2 does not keep v1's key (an `inverse:` gives it, model/reverse.py located_by): a v1 row a reverse
        # trigger inserts is carried from the v2 row at its key, the one row v2's own key lets be there
        in_v2 = f"IF NOT {IN_CARRY} THEN\n  {_indent(in_v2, 2)};\nEND IF"
    return (f"IF NOT {_copied(ctx, t)} THEN\n  {_indent(_unlocked_exists(in_v1, signal), 2)};\nELSE\n"
            f"  {_indent(in_v2, 2)};\nEND IF")


def _merge_what(ctx: Context) -> str:
    """What a W1 refusal says: forward, two v1 rows would become one v2 row; back, two v2 rows one v1 row."""
    if ctx.reverse:
        return "v1 key taken by another v2 row, would merge the two; write another"
    return "key taken, would merge two v1 rows; write another key"


def _own_row(ctx: Context, t: Target) -> str:
    """SQL (over ``dst``, the target's row at NEW's mapped key): that row is NEW's own, as it holds NEW's driving key
    (two-way: the write carried the other way arrived first, and this is its echo). '' when ``t`` syncs one way or
    does not keep the driving key."""
    if t.id not in ctx.compare_before_write:
        return ""
    kept = {c.expr.refs[0].name: c.name for c in t.columns if c.expr.is_column and c.expr.refs[0].alias == DRIVING}
    driving_key = ctx.model.v1_table(t.source.driving).primary_key
    if not all(k in kept for k in driving_key):
        return ""
    return " AND ".join(f"dst.{_q(kept[k])} = NEW.{_q(k)}" for k in driving_key)


def _delete(ctx: Context, impact: Impact, gone: bool, probe: bool = False) -> str:
    """DELETE the v2 rows made from driving rows that go. ``gone``: the driving row is the trigger's OLD
    (AFTER DELETE), its key computed from OLD and the rows it joins; else the rows are still there to read
    (BEFORE DELETE, v1's cascade about to remove them)."""
    t = impact.target
    bind = bound(DRIVING, "OLD") if gone else None
    keys = ",\n    ".join(f"{as_stored_key(c.expr.render(bind), c.decl)} AS {_q(f'k_{i}')}"
                          for i, c in enumerate(t.key_columns, 1))
    on = " AND ".join(f"dst.{_q(c.name)} = gone.{_q(f'k_{i}')}" for i, c in enumerate(t.key_columns, 1))
    if gone:
        frm = from_clause(t, bind=bind, driving_bound=True)
        where = where_clause(t, bind=bind)
        frm = f"{frm}\n{where}" if where else frm
    else:
        frm, _ = _reached(ctx, Impact(t, tuple(p for p in impact.paths if p.alias == DRIVING)), "OLD")
    # with ``probe``, the rows it would delete (compare before write)
    delete = (f"{'SELECT 1' if probe else 'DELETE dst'} FROM {table_sql(t.schema, t.name)} AS dst\n"
              f"JOIN (\n  SELECT\n    {keys}\n  {_indent(frm, 2)}\n) AS gone ON {on}")
    if probe or not _fills_gaps(ctx, t):
        return delete
    values = [as_stored_key(c.expr.render(bind), c.decl) if c.name in t.primary_key else c.expr.render(bind)
              for c in t.columns]
    return f"{_present_first(ctx, t, values, frm)};\n{delete}"


def _lookup_reference(ctx: Context, t: Target):
    """The v2 table made from the same v1 rows that refers to lookup ``t`` by its key (indexed there), if any."""
    return next(((child, fk) for child, fk in ctx.model.children(t.id)
                 if child.source.driving == t.source.driving and not child.source.distinct
                 and tuple(fk.ref_columns) == tuple(t.primary_key)), None)


def _lookup_others_differ(ctx: Context, t: Target) -> str:
    """SQL setting ``v_differ``: another v1 row with NEW's lookup key holds other values (its key's bytes included),
    found through the referring v2 table's index (no scan of v1), by a consistent read (a plain SELECT … INTO in a
    trigger locks nothing). Rows the backfill has not copied yet are not seen. Without a referring table: 1."""
    found = _lookup_reference(ctx, t)
    if found is None:
        return "SET v_differ = 1"
    child, fk = found
    new = bound(DRIVING, "NEW")
    new_key = {c.name: as_stored_key(c.expr.render(new), c.decl) for c in t.key_columns}
    by_index = " AND ".join(f"r.{_q(col)} = {new_key[ref]}" for col, ref in zip(fk.columns, fk.ref_columns))
    still = " AND ".join(f"{as_stored_key(c.expr.render(), c.decl)} = {new_key[c.name]}" for c in t.key_columns)
    # The referring row's key columns that read only the driving row find it (ON); those computed through a join
    # (a key that follows a re-keyed parent) can be compared only once that join is in scope (WHERE): in the ON
    # they fail with 1054.
    on_driving = [c for c in child.key_columns if c.expr.aliases <= {DRIVING}]
    same_row = " AND ".join(f"r.{_q(c.name)} = {stored_key(c)}" for c in on_driving) or "TRUE"
    by_index = " AND ".join([by_index] + [f"r.{_q(c.name)} = {stored_key(c)}"
                                          for c in child.key_columns if c not in on_driving])
    same = " AND ".join(same_bytes(c.expr.render(), c.expr.render(new), c.decl) for c in t.columns)
    driving, *joins = from_clause(t).split("\n")  # the v1 rows behind the referring rows, by their key
    source = "\n    ".join([f"JOIN {driving.removeprefix('FROM ')} ON {same_row}", *joins])
    # Searched from the highest key down: a statement that changes every row of one lookup key at once (a vendor
    # renamed in all its rows) runs in key order, and the rows it has changed already agree with NEW; from the lowest
    # key up each row read all of those first (8,001 rows in one UPDATE: 40 s, examples/probe_lookup), from the top
    # the first row read is one not changed yet. (The index on the referring column ends with the primary key.)
    down = ", ".join(f"r.{_q(c)} DESC" for c in child.primary_key)
    return (f"SELECT COUNT(*) INTO v_differ FROM (\n  SELECT 1 FROM {table_sql(child.schema, child.name)} AS r\n"
            f"    {source}\n  WHERE {by_index} AND {still}\n    AND NOT ({same})\n  ORDER BY {down}\n  LIMIT 1\n"
            ") AS d")


def _lookup_write(ctx: Context, impact: Impact, insert: bool) -> str:
    """The lookup row of NEW's key, written without locking it when it already agrees (the common case: many v1 rows
    share one lookup row, and a lock on it would make all their writers wait for each other until commit).

    1. A plain INSERT of the row: a new key takes its own new row (a second writer of the same new key waits for
       the first to commit, as a unique key in v1 would make it); a key already there fails with 1062, caught, and
       the duplicate check leaves a shared lock on that one row (record only, no gap; shared locks do not conflict).
    2. Whether that row agrees, byte for byte, by a consistent read (no lock). A locking read of a table this
       trigger also writes is exclusive (InnoDB opens it for writing), which is why the check is not one.
    3. Only when it does not: is the key used by other v1 rows with other values (a consistent read through the
       referring table's index)? If not (a row no v1 row uses any more, or the last row of an UPDATE that changes
       every row of the key, a rename by case only included), the row takes NEW's values, key bytes too (an
       exclusive lock, where the lookup row really changes). If so: an INSERT is refused, naming the key and the
       values; an UPDATE leaves the shared row alone (row by row it cannot be told from the first row of an UPDATE
       of every row of the key; 70's data check refuses the v1 that results)."""
    t = impact.target
    new = bound(DRIVING, "NEW")
    values = [(c, as_stored_key(c.expr.render(new), c.decl)) for c in t.columns]
    key = " AND ".join(f"dst.{_q(c.name)} = {v}" for c, v in values if c.name in t.primary_key)
    same = " AND ".join(same_bytes(f"dst.{_q(c.name)}", v, c.decl) for c, v in values)
    reached = _reached(ctx, impact, "NEW")
    add = _upsert(t, reached, True)
    take = _upsert(t, reached, False, key_too=True)
    if insert:
        # code, lookup and key first, then why, then the values (cut at 128 characters from their end)
        def said(columns) -> str:
            return ", ' ', ".join(f"{quote_literal(c.name + '=')}, QUOTE({c.expr.render(new)})" for c in columns)
        key_said = said([c for c in t.columns if c.name in t.primary_key])
        rest = [c for c in t.columns if c.name not in t.primary_key]
        message = (f"LEFT(CONCAT({quote_literal(f'djsqlgen W3 {short_label(t.label)} (')}, {key_said}, "
                   f"{quote_literal('): other v1 rows of this key hold other values' + (': ' if rest else ''))}"
                   + (f", {said(rest)}" if rest else "") + f"), {SIGNAL_LIMIT})")
        otherwise = f"SET v_message = {message};\n  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_message"
        decide = f"IF v_differ THEN\n  {otherwise};\nEND IF;\n{take};"
    else:
        decide = f"IF NOT v_differ THEN\n  {_indent(take, 2)};\nEND IF;"
    agrees = f"SELECT COUNT(*) INTO v_agrees FROM {table_sql(t.schema, t.name)} AS dst\nWHERE {key} AND {same}"
    body = (f"BEGIN\n  DECLARE CONTINUE HANDLER FOR 1062 SET v_dup = 1;\n  {_indent(add, 2)};\nEND;\n"
            f"IF v_dup THEN\n  {_indent(agrees, 2)};\nEND IF;\n"
            f"IF v_dup AND NOT v_agrees THEN\n  {_indent(_lookup_others_differ(ctx, t), 2)};\n  {_indent(decide, 2)}\n"
            f"END IF")
    if t.id in ctx.lookups_back:
        from djsqlgen.engines import two_way

        # Two-way: inside a write carried from v2 the lookup row already holds these values (a v2 client wrote it, or
        # its row refers to it); looked at first, so the echo writes nothing (a write of the lookup a v2 statement is
        # updating would fail with 1442)
        body = (f"IF {two_way.IN_CARRY} THEN\n  {_indent(agrees, 2)};\nEND IF;\n"
                f"IF NOT v_agrees THEN\n  {_indent(body, 2)};\nEND IF")
    return (f"BEGIN\n  DECLARE v_dup, v_agrees, v_differ INT DEFAULT 0;\n  DECLARE v_message VARCHAR(128);\n"
            f"  {_indent(body, 2)};\nEND")


def _without_child_joins(t: Target, compared: bool = False) -> Target:
    """``t`` as an INSERT of its driving row computes it: a joined table whose rows refer to the driving row (a
    merged part) has none yet, so its columns are NULL and it is not read. Reading it would take a shared lock
    on the gap where the row is about to go, and two clients inserting a master and then its part (as DataJoint
    does) would deadlock on each other's gap (measured: 1213 about once in six runs of two 0.14 writers).
    ``compared``: those columns are left out of a compare before write (insert-only), not NULL: in a two-way plan the
    row the echo of an insert finds has them from its child's row, whose own write carries them."""
    children = {j.alias for j in t.source.joins if j.of_child}
    if not children:
        return t
    columns = tuple(replace(c, expr=Expr.text("NULL"), insert_only=c.insert_only or compared)
                    if c.expr.aliases & children else c for c in t.columns)
    joins = tuple(j for j in t.source.joins if j.alias not in children)
    return replace(t, columns=columns, source=replace(t.source, joins=joins))


def _joined_row_gone(ctx: Context, found: list[Impact]) -> list[tuple[str, str, str]]:
    """A deleted v1 row that targets read through a LEFT JOIN (a merged part, another table's columns): their
    rows are recomputed without it (NULLs where it was). (An inner join's row needs v1's foreign key to keep
    its joined row from going: the plan's joins by a parent's key have it.)"""
    blocks = []
    for impact in found:
        t = impact.target
        left = {j.alias for j in t.source.joins if j.kind == "left"}
        paths = tuple(p for p in impact.paths if p.alias in left and p.direct)
        if paths and not t.source.distinct:
            reached = _reached(ctx, Impact(t, paths), "OLD")
            blocks.append((t.label, f"rows of {t.label} read the deleted row through a join: recomputed without it",
                           _child_recompute(ctx, t, paths, "UPDATE", reached)))
    return blocks


def _child_recompute(ctx: Context, t: Target, paths, event: str, reached: tuple[str, str]) -> str:
    """The upsert of ``t``'s rows that read a joined row at its old key (or a deleted one). Two-way, through a part's
    join (``of_child``: an extracted part read back into its master's v1 row, a merged part), compared first like
    every carried write, and only where the row is there: the echo of a part's write finds it equal, and the echo of
    a delete finds its own row gone. Other joins as before (a 2.x external blob's ~external row: its RUNBOOK limit
    relies on the write failing)."""
    write = _upsert(t, reached, False)
    children = {j.alias for j in t.source.joins if j.of_child}
    if not all(p.alias in children for p in paths):
        return write
    return _carried(ctx, t, event, _upsert_changes(t, reached, present=True), write)


def _leave(ctx: Context, impact: Impact) -> str:
    """A split side's row whose v1 row no longer passes the side's filter: deleted here (by its old key), so that
    the upsert of the side it enters holds it alone."""
    t = impact.target
    passes = t.source.filter.render(bound(DRIVING, "NEW"))
    # By its old key, and by its new one: after 60, v2's ON UPDATE CASCADE may already have moved it there (its
    # master's key moved first, parents first).
    # (two-way: each compared first, as every carried write: the echo of a carried write finds nothing to delete,
    # and a DELETE of the table its statement writes would fail with 1442 even where it deletes nothing)
    at_old = _carried(ctx, t, "UPDATE", _delete(ctx, impact, gone=True, probe=True), _delete(ctx, impact, gone=True))
    at_new = _carried(ctx, t, "UPDATE", _delete_at(t, bound(DRIVING, "NEW"), probe=True),
                      _delete_at(t, bound(DRIVING, "NEW")))
    return f"IF NOT COALESCE({passes}, FALSE) THEN\n  {_indent(at_old, 2)};\n  {_indent(at_new, 2)};\nEND IF"


def _delete_at(t: Target, bind, probe: bool = False) -> str:
    """DELETE the v2 row whose key the driving row (``bind``: NEW or OLD) makes, whatever its filter says (with
    ``probe``, the row it would delete)."""
    keys = ",\n    ".join(f"{as_stored_key(c.expr.render(bind), c.decl)} AS {_q(f'k_{i}')}"
                          for i, c in enumerate(t.key_columns, 1))
    on = " AND ".join(f"dst.{_q(c.name)} = at_key.{_q(f'k_{i}')}" for i, c in enumerate(t.key_columns, 1))
    frm = from_clause(t, bind=bind, driving_bound=True)
    return (f"{'SELECT 1' if probe else 'DELETE dst'} FROM {table_sql(t.schema, t.name)} AS dst\n"
            f"JOIN (\n  SELECT\n    {keys}\n  {_indent(frm, 2)}\n) AS at_key ON {on}")


def _split_refusals(ctx: Context, written: TableRef) -> list[tuple[str, str, str]]:
    """A v1 row of a split table must match exactly one side: else it would be missing from v2, or in two
    sides, and verify (which compares each side with its own filter) could not see it."""
    from djsqlgen.engines.checks import split_matches

    out = []
    for group in ctx.model.splits:
        sides = [ctx.model.target(i) for i in group]
        if sides[0].source.driving != written:
            continue
        labels = ", ".join(s.label for s in sides)
        message = quote_literal(writer_message("W2", written.label, "", "row fits no side or two sides of the "
                                               "split; change the row or the plan's where"))
        refusal = (f"IF {split_matches(sides, bound(DRIVING, 'NEW'))} <> 1 THEN\n"
                   f"  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {message};\nEND IF")
        out.append((sides[0].label, f"the row must go to exactly one of {labels}", refusal))
    return out


def _unchanged(columns: set[str], table) -> str:
    """SQL: none of ``columns`` of the written row changed, byte for byte."""
    parts = [same_bytes(f"OLD.{_q(c)}", f"NEW.{_q(c)}", _decl_of(table, c)) for c in sorted(columns)]
    return " AND ".join(parts) if parts else "TRUE"


def _decl_of(table, column: str):
    from djsqlgen.model.identity import column_decl

    return column_decl(table.attribute(column))


def _depends(t: Target, exprs) -> set[tuple[str, str]]:
    """The (alias, column) pairs of ``t``'s source that the values of ``exprs`` depend on: the columns they read, and
    for each joined alias they read, what finds its row (its join's expressions and its own key columns, the way
    ``Impact.written_columns`` counts them), transitively."""
    joins = {j.alias: j for j in t.source.joins}
    out: set[tuple[str, str]] = set()
    pending = [r for e in exprs for r in e.refs]
    while pending:
        ref = pending.pop()
        if (ref.alias, ref.name) in out:
            continue
        out.add((ref.alias, ref.name))
        join = joins.get(ref.alias)
        if join is not None:
            out |= {(join.alias, column) for column, _ in join.on}
            pending += [r for _, e in join.on for r in e.refs]
    return out


def _changed_inputs(impact: Impact, depends: set[tuple[str, str]]) -> set[str]:
    """Columns of the written table whose change can reach ``depends`` (a cascade path moves rows keyed by the
    driving rows, whatever they read: its columns always count)."""
    return {w for p in impact.paths for column, w in p.columns if (p.alias, column) in depends or not p.direct}


def _values_follow_key_only(impact: Impact) -> bool:
    """Whether the write changes nothing of ``impact``'s target rows but their key: then the key move has written
    them whole, and recomputing them would read and rewrite every row again for nothing (a subject's key move reaches
    ten tables of a pipeline through v1's ON UPDATE CASCADE; a session's new start time re-keys its children, which
    read nothing else of it). Not so when a value, the filter or which rows an inner join finds reads a column
    the write may change (a direct path: any column of the written row; a cascade: the columns it followed)."""
    t = impact.target
    values = [c.expr for c in t.columns if c.name not in t.primary_key]
    if t.source.filter is not None:
        values.append(t.source.filter)
    inner = [j for j in t.source.joins if j.kind != "left"]  # which rows exist at all
    values += [e for j in inner for _, e in j.on] + [Expr.column(j.alias, column) for j in inner for column, _ in j.on]
    changed = {(p.alias, column) for p in impact.paths for column, _ in p.columns}
    return not (_depends(t, values) & changed)


def body_blocks(ctx: Context, written: TableRef, event: str) -> list[tuple[str, str, str]]:
    """(v2 table, comment, SQL) blocks of one trigger body, in the order they run."""
    cache = ctx.memo.setdefault("trigger_bodies", {})
    if (written, event) not in cache:
        outer = ctx.memo.get(_COPIED), ctx.memo.get(_COPIED + "_when")
        ctx.memo[_COPIED], ctx.memo[_COPIED + "_when"] = [], None
        try:
            blocks = _body_blocks(ctx, written, event)
            declarations, read = _copied_read(ctx, ctx.model.v1_table(written), ctx.memo[_COPIED])
        finally:
            ctx.memo[_COPIED], ctx.memo[_COPIED + "_when"] = outer
        if read:
            blocks = [read] + blocks
        if blocks and ctx.one_way and not ctx.reverse:
            from djsqlgen.engines import two_way

            blocks = [two_way.carrying_token(written)] + blocks
        if blocks and event == "CASCADE_DELETE" and ctx.compare_before_write:
            from djsqlgen.engines import two_way

            blocks = [two_way.cascading_token(ctx, written)] + blocks
        if blocks:  # a closed side refuses by its sides row: checked before anything is carried
            blocks = [_side_refusal(ctx, written, event)] + blocks
            sixty = _sixty_read(ctx, written, event)
            declarations = declarations + [sixty[0]] if sixty else declarations
        cache[(written, event)] = blocks
        ctx.memo.setdefault("trigger_declarations", {})[(written, event)] = declarations
    return cache[(written, event)]


def _sixty_applied(ctx: Context, into: str = "", locking: bool = False) -> str:
    """Whether 60 of this migration is applied, counted by primary key: a scalar subquery, or ``SELECT … INTO into``.
    ``locking``: a shared lock on 60's row to the end of the writer's transaction (rollback/60 unrecords 60 first,
    and so waits for the writers that read it applied)."""
    sql = (f"SELECT COUNT(*){f' INTO {into}' if into else ''} FROM {phase_log(ctx)} WHERE phase = '60' AND plan_hash "
           f"= {quote_literal(ctx.migration_hash)}{' ' + sides.share_lock_clause(ctx) if locking else ''}")
    return sql if into else f"({sql})"


def _sixty_read(ctx: Context, written: TableRef, event: str) -> tuple[str, str | None] | None:
    """(declaration, SQL expression read with the sides row, or None) of ``SIXTY``. On the way back, whether v2 takes
    writes (engines/two_way.sixty_read), read with the sides row (_side_refusal): every client's write uses it.
    Forward, for an UPDATE trigger whose cascaded moves v2's foreign keys make from 60 on (v2_cascades): read only
    where a key moves (_body_blocks), since most UPDATEs move none and the read cost each of them a subquery on
    phase_log. Either way a consistent read: before 60 no writer locks anything of phase_log (60, 40 and 50 record
    themselves there); a key move that reads it applied confirms it by a locking read (_body_blocks)."""
    from djsqlgen.engines import two_way

    if ctx.reverse:
        return two_way.sixty_read(ctx)
    if event != "UPDATE" or not v2_cascades(ctx, written):
        return None
    return f"{SIXTY} INT DEFAULT 0", None


def _side_refusal(ctx: Context, written: TableRef, event: str) -> tuple[str, str, str]:
    """The first block of every trigger: W8 once the trigger's side is closed (v1 by the cut-over or `close v1`; v2,
    two-way only, by `close v2`). In a two-way plan a write carried from the other side passes (engines/sides.py)."""
    sixty = _sixty_read(ctx, written, event)
    also = (SIXTY, sixty[1]) if sixty and sixty[1] else None
    if not ctx.reverse and not ctx.compare_before_write:
        why = ("v1 closed (the cut-over): refuse the write, naming v2; a shared lock on v1's row to the end of the "
               "transaction, so the close waits for it")
        return written.label, why, sides.refusal_block(ctx, written, also=also)
    side, other = ("v2", "v1") if ctx.reverse else ("v1", "v2")
    why = (f"{side} closed (`djsqlgen close {side}`{'' if ctx.reverse else ' or the cut-over'}): refuse a client's "
           f"write, naming {other}; a shared lock on {side}'s row to the end of the transaction, so the close waits "
           f"for it. Writes carried from {other} pass")
    if also:
        why += "; and whether 60 is applied (v2 takes writes from 60 on), in the same read"
    return written.label, why, sides.refusal_block(ctx, written, side, clients_only=bool(ctx.compare_before_write),
                                                   also=also)


def body_declarations(ctx: Context, written: TableRef, event: str) -> list[str]:
    """The local variables one trigger body declares besides the template's own (``name TYPE DEFAULT …``)."""
    body_blocks(ctx, written, event)
    return ctx.memo["trigger_declarations"][(written, event)]


def _body_blocks(ctx: Context, written: TableRef, event: str) -> list[tuple[str, str, str]]:
    table = ctx.model.v1_table(written)
    blocks: list[tuple[str, str, str]] = []
    if event == issued_ids.ISSUE:
        issue = issued_ids.issue_block(ctx, written)
        if issue is None:
            return []
        from djsqlgen.engines import two_way

        return two_way.value_refusals(ctx, written) + [issue]  # (a value v1 cannot hold: refused before v1's insert)
    if ctx.lookup_tables:
        from djsqlgen.engines import two_way

        blocks += [b for b in (two_way.lookup_refusal(ctx, written, event),) if b]
    if event in ("INSERT", "UPDATE"):
        blocks += _split_refusals(ctx, written)
    if ctx.reverse and event in ("INSERT", "UPDATE"):  # before anything reaches v1
        from djsqlgen.engines import two_way

        blocks += (two_way.value_refusals(ctx, written) + split_back.side_refusals(ctx, written)
                   + part_back.part_refusals(ctx, written) + part_back.merged_refusals(ctx, written))
        blocks += external_rows.row_blocks(ctx, written, event)
    found = impacts(ctx.model, written, KINDS[event][0])
    cascaded = v2_cascades(ctx, written) if event == "UPDATE" else frozenset()
    if event == "DELETE":
        blocks += _joined_row_gone(ctx, found)
    if event in ("DELETE", "CASCADE_DELETE"):
        for impact in reversed(found):  # children first
            paths = tuple(p for p in impact.paths if p.alias == DRIVING and p.direct == (event == "DELETE"))
            if not paths or impact.target.source.distinct:
                continue
            why = (f"the v1 row is gone: its row of {impact.target.label} goes too" if event == "DELETE" else
                   f"v1's ON DELETE CASCADE is about to remove rows of {impact.target.source.driving.label}")
            if _fills_gaps(ctx, impact.target):
                why += " (a row not copied yet is written first: the delete then finds it and locks no gap)"
            gone = Impact(impact.target, paths)
            if event == "DELETE" and _two_way_row(ctx, gone):
                blocks.append((impact.target.label, why, _carried(
                    ctx, impact.target, event, written_row.at_old_key(gone.target), written_row.delete(gone.target))))
                continue
            blocks.append((impact.target.label, why, _carried(
                ctx, impact.target, event, _delete(ctx, gone, event == "DELETE", probe=True),
                _delete(ctx, gone, gone=event == "DELETE"))))
        # A lookup row is never deleted nor recomputed here: the v1 rows still using its key agree with it (the
        # plan's assumption), and one that no v1 row uses any more is harmless and takes the values of the next row
        # that uses it (_lookup_write). Touching it would lock the row every writer of that key shares.
        return blocks
    for impact in found:  # parents first
        t = impact.target
        direct_driving = any(p.direct and p.alias == "src" for p in impact.paths)
        label = ", ".join(f"{p.alias}{'' if p.direct else ' (cascaded)'}" for p in impact.paths)
        lookup_write = t.source.distinct and direct_driving and all(p.alias == DRIVING for p in impact.paths)
        if event == "INSERT" and lookup_write:
            why = (f"the new row's values must agree with {t.label}'s row of its key (else one of them would be lost); "
                   "that row is locked only where it changes")
            blocks.append((t.label, why, _lookup_write(ctx, impact, insert=True)))
            continue
        if event == "INSERT" and direct_driving and t.key_map.proof == "checked" and not t.source.distinct:
            blocks.append((t.label, f"refuse a row whose key of {t.label} another v1 row maps to (copied to v2 or not "
                                    "yet): the two would merge", _v1_taken_refusal(ctx, t, insert=True)))
        if event == "INSERT":
            plain = direct_driving and t.key_map.proof == "checked" and not t.source.distinct
            why = (f"the new row makes a row of {t.label}" + (" (plain INSERT: a key that would merge with another "
                   "row fails this write)" if plain else "") if direct_driving
                   else f"rows of {t.label} read the new row (as {label})")
            if _two_way_row(ctx, impact):
                # A plain INSERT: the other side holds no row at a new row's key while both sides are equal, and an
                # upsert would make every INSERT statement open and lock the tables the UPDATE triggers of the other
                # side write (MariaDB prelocks what a statement's triggers may write, transitively).
                blocks.append((t.label, why + " (a plain INSERT: one at the key already fails the write)", _carried(
                    ctx, t, event, written_row.row_as_written(t), written_row.upsert(t, True))))
                continue
            inserted = _without_child_joins(t) if direct_driving else t
            reached = _reached(ctx, Impact(inserted, impact.paths), "NEW")
            # (two-way: the echo of an insert compares no child's columns, which the child's own write carries)
            compared = _without_child_joins(t, compared=True) if direct_driving else t
            blocks.append((t.label, why, _carried(ctx, t, event, _upsert_changes(compared, reached, impact),
                                                  _upsert(inserted, reached, plain))))
            continue
        statements = []
        written = impact.written_columns()
        ctx.memo[_COPIED + "_when"] = frozenset(written)  # what the block's guard below asks
        if t.source.filter is not None and direct_driving:
            statements.append((f"the row no longer belongs to {t.label} (its filter): it leaves it",
                               _leave(ctx, Impact(t, tuple(p for p in impact.paths if p.alias == DRIVING)))))
        moves = []  # what a change of the target's key needs: run only when a column its key depends on changed
        key_inputs = _changed_inputs(impact, _depends(t, [c.expr for c in t.key_columns]))
        ctx.memo[_COPIED + "_when"] = frozenset(key_inputs)
        if impact.key_reads_changed() and not t.source.distinct:
            if t.key_map.proof == "checked":
                # Only a key that is one to one on the data alone can merge two rows; a structural one cannot, and
                # is not looked up: the lookup locks the gap at the new key, where another client moving a key
                # to the end of the index then deadlocks with this one. Checked first: MariaDB 10.11 does not let
                # this trigger's handler catch a duplicate key raised by a multi-table UPDATE (the v1 write would
                # fail with a bare 1062 that names no v2 table).
                moves.append(((f"refuse to move a key onto one another row of {t.label} holds: that would "
                               "merge two v1 rows into one v2 row"), _taken_key_refusal(ctx, impact)))
                if direct_driving and not ctx.reverse:  # (v1 is whole: the refusal above found any there)
                    moves.append(("and onto one another v1 row maps to, copied to v2 or not yet",
                                  _v1_taken_refusal(ctx, t)))
            gapless = ("; a row not copied yet is written first at its old key, so the move locks no gap"
                       if _fills_gaps(ctx, t) else "")
            if _two_way_row(ctx, impact):  # looked for only when the key did change
                moved = _carried(ctx, t, event, written_row.at_old_key(t, exact=True), written_row.move(t))
                moves.append(("move the v2 key if it changed (an UPDATE: v2's ON UPDATE CASCADE carries children)",
                              f"IF {written_row.key_moved(t)} THEN\n  {_indent(moved, 2)};\nEND IF"))
                if not ctx.reverse:
                    moves.append(("a row the backfill has not copied yet is at neither key in v2: written at its "
                                  "new one (the copy ends at the key it began with, and has passed this one or "
                                  "will never reach it)", _two_way_not_copied(ctx, t)))
            elif t.id in cascaded:
                moved = _carried(ctx, t, event, _move(ctx, impact, probe=True), _move(ctx, impact))
                moves.append(("60 applied? (read here, where a key moves, not on every UPDATE) If so, confirmed "
                              "by a locking read (a snapshot older than rollback/60 could still see it), which "
                              "rollback/60 waits for before it drops the foreign keys",
                              f"{_sixty_applied(ctx, SIXTY)};\n"
                              f"IF {SIXTY} THEN\n  {_sixty_applied(ctx, SIXTY, True)};\nEND IF"))
                moves.append((f"move the v2 keys that changed{gapless}; until 60 and after rollback/60 only: from 60 "
                              "on v2's ON UPDATE CASCADE has moved them with their parent (looked for again at their "
                              "old keys, they would lock the next row, which a write next to it then waits for)",
                              f"IF NOT {SIXTY} THEN\n  {_indent(moved, 2)};\nEND IF"))
            else:
                moves.append((f"move the v2 keys that changed (an UPDATE: v2's ON UPDATE CASCADE carries "
                              f"children{gapless})",
                              _carried(ctx, t, event, _move(ctx, impact, probe=True), _move(ctx, impact))))
            if key_inputs < written:
                # most UPDATEs change no key (DataJoint's update1 cannot): they skip the checks and the move
                inner = "\n".join(f"-- {why}\n{sql};" for why, sql in moves)
                moves = [("only when a column the key depends on changed",
                          f"IF NOT ({_unchanged(key_inputs, table)}) THEN\n  {_indent(inner, 2)}\nEND IF")]
        statements += moves
        ctx.memo[_COPIED + "_when"] = frozenset(written)
        left = {j.alias for j in t.source.joins if j.kind == "left"}
        joined = tuple(p for p in impact.paths if p.alias in left and p.direct)
        if joined and not t.source.distinct:
            at_old = _reached(ctx, Impact(t, joined), "OLD")
            statements.append((f"the rows of {t.label} that read the joined row at its old key: recomputed without it",
                               _child_recompute(ctx, t, joined, event, at_old)))
        if lookup_write:
            statements.append((f"{t.label}'s row of the new key: locked only where it changes, never rewritten while "
                               "other v1 rows use it with other values", _lookup_write(ctx, impact, insert=False)))
        elif _two_way_row(ctx, impact):
            if written_row.update(t):
                statements.append((f"the row of {t.label} made from it takes its values",
                                   _carried(ctx, t, event, written_row.row_as_written(t), written_row.update(t))))
        elif moves and t.id not in ctx.compare_before_write and _values_follow_key_only(impact):
            pass  # the move above wrote the rows whole
        else:
            reached = _reached(ctx, impact, "NEW")
            statements.append((f"recompute the rows of {t.label} that read it (as {label})",
                               _carried(ctx, t, event, _upsert_changes(t, reached, impact), _upsert(t, reached, False))))
        ctx.memo[_COPIED + "_when"] = None
        if not written:  # a lookup reached by a cascade through columns it does not read
            continue
        guard = _unchanged(written, table)
        inner = "\n".join(f"-- {why}\n{sql};" for why, sql in statements)
        blocks.append((t.label, f"{t.label}: only when a column it depends on changed",
                       f"IF NOT ({guard}) THEN\n  {_indent(inner, 2)}\nEND IF"))
    return blocks


def trigger_statement(ctx: Context, written: TableRef, event: str) -> Statement | None:
    blocks = body_blocks(ctx, written, event)
    if not blocks:
        return None
    name = naming.trigger_name(ctx.plan.name, written.name, event, back=ctx.reverse)
    statement_event, timing = KINDS[event]
    from djsqlgen.engines import two_way

    counted = ""
    if ctx.compare_before_write and event in two_way.COUNTED_EVENTS:  # rows carried, for status (two-way plans)
        table = ctx.model.v1_table(written)
        changed = f"NOT ({_unchanged({a.name for a in table.attributes}, table)})" if event == "UPDATE" else None
        counted = two_way.counted_row(ctx, written, changed)
    carry = two_way.carry_token(ctx, written, counted)
    # Two-way: the refusal runs before the carry token is set, so a refused write leaves no token behind
    first, blocks = (blocks[:1], blocks[1:]) if carry and blocks[0] == _side_refusal(ctx, written, event) else ([], blocks)
    if carry and event == "CASCADE_DELETE" and (removed := _cascade_removes(ctx, written)):
        blocks = blocks + [two_way.counted_cascade(ctx, removed)]
    sql = render("trigger_create.sql.j2", trigger=(written.schema, name), table=(written.schema, written.name),
                 timing=timing, event=statement_event, first=first, blocks=blocks,
                 declarations=body_declarations(ctx, written, event), plan_name=ctx.plan.name,
                 plan_hash=ctx.migration_hash, dialect=ctx.dialect, carry=carry)
    what = (f"a row inserted into {written.label} without an id takes v1's, inserted into v1 first"
            if event == issued_ids.ISSUE else
            f"carry every {statement_event} on {written.label} into {'v1' if ctx.reverse else 'v2'}"
            + (" (rows its cascade removes)" if event == "CASCADE_DELETE" else ""))
    return Statement(f"trigger_create.{written.label}.{event.lower()}", sql, what, compound=True,
                     creates=Owned("trigger", written.schema, name, written.name))


def _cascade_removes(ctx: Context, written: TableRef) -> list[tuple[TableRef, str]]:
    """Each table whose rows the written side's ON DELETE CASCADE removes with a deleted row of ``written`` (children
    and their own cascaded children), and a COUNT(*) of those rows, read by the cascade's key (BEFORE DELETE: OLD)."""
    matches: dict[TableRef, list[str]] = {}
    for impact in impacts(ctx.model, written, "DELETE"):
        driving = impact.target.source.driving
        for p in impact.paths:
            if p.alias == DRIVING and not p.direct:
                matches.setdefault(driving, [])
                if (m := p.match("OLD")) not in matches[driving]:
                    matches[driving].append(m)
    return [(t, f"SELECT COUNT(*) FROM {table_sql(t.schema, t.name)} AS {_q(DRIVING)} WHERE "
                + " OR ".join(f"({m})" for m in ms))
            for t, ms in matches.items()]


def written_tables(ctx: Context) -> list[TableRef]:
    """Every v1 table whose writes reach a target: read by one, or cascading into one that is."""
    read = {r for t in ctx.model.targets for r in t.reads}
    out = set(read)
    for s in ctx.model.v1.schemas:
        for table in s.tables:
            ref = TableRef(table.schema, table.name)
            if ref in out or not any(s.source == table.schema for s in ctx.model.schemas):
                continue
            if any(impacts(ctx.model, ref, e) for e in ("UPDATE", "DELETE")):
                out.add(ref)
    return sorted(out)


def create_all(ctx: Context) -> list[Statement]:
    return [s for ref in written_tables(ctx) for e in EVENTS if (s := trigger_statement(ctx, ref, e))]


def trigger_names(ctx: Context) -> list[tuple[TableRef, str, str]]:
    """(v1 table, event, trigger name) of every dual-write trigger this plan installs."""
    return [(ref, e, naming.trigger_name(ctx.plan.name, ref.name, e, back=ctx.reverse))
            for ref in written_tables(ctx) for e in EVENTS if body_blocks(ctx, ref, e)]


def drop(ctx: Context, ref: TableRef, name: str) -> str:
    return f"DROP TRIGGER IF EXISTS {quote_qualified((ref.schema, name))}"
