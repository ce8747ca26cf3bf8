"""Two-way sync (issue 24): which way each v2 table syncs, and why a table cannot go back.

A table syncs both ways when every operation on it can be undone value by value on v2's side: renames, retypes
(the way back refuses a value v1's type cannot hold), character sets, added v2 columns (dropped going back),
dropped v1 columns that have a v1 default or an ``inverse:`` in the plan (a row inserted into v2 takes it; a
dropped key column's v1 row is then found by the columns v2's key copies), a new primary key that v1's key can
still be read from (model/reverse.py ``way_back``), a child following such a key, a table below a one-way one
whose key moves v1's own ON UPDATE CASCADE repeats (``cascade_repeats``), an AUTO_INCREMENT key v2 keeps as its
own (v1's counter issues the ids of both sides: engines/issued_ids.py), a 2.x external blob of the dj014-to-dj2
preset (model/external_back.py), and a lookup that moves columns
unchanged (its v2 table then goes back through the rows of the table it came from: ``Direction.through``), and
the sides of a split (each owns the v1 rows its filter passes: model/split_back.py), an extracted part (it
goes back through its master's rows) and a merged part (its v1 rows come back from the master's: model/part_back.py).
Every
other change keeps the table one-way, with the reason its operation gives (``Operation.irreversible``) or the shape
that stops it (a join, a filter, a shared row). A one-way table of a two-way plan refuses v2 writes during the
window.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.model.external_back import external_aliases
from djsqlgen.model.part_back import (
    extracted_parts,
    master_of,
    merge_reasons,
    merged_parts,
    part_reasons,
)
from djsqlgen.model.reverse import carried_back, cascade_repeats, issued_column, lookups_of, way_back
from djsqlgen.model.split_back import split_group, split_reasons
from djsqlgen.model.target import DRIVING, Model, Target
from djsqlgen.ops.add_column import AddColumn
from djsqlgen.ops.base import Operation
from djsqlgen.ops.drop_column import DropColumn
from djsqlgen.ops.extract_lookup import ExtractLookup
from djsqlgen.plan import Plan, TableSpec

TWO_WAY, ONE_WAY = "two-way", "one-way"
# At most this many tables of a plan sync back through a re-keyed parent's join (a child or grandchild following
# the new key). Each one's triggers read its parents on both sides, and a statement opens every table the triggers
# it may fire can reach: a re-key followed two-way by its parts, insertions, recordings and units (a two-schema
# DataJoint pipeline) opened 957 tables in one write and ran the server out of memory under three clients. Two
# followers are what the tests prove (tests/integration/test_two_way_rekey.py); beyond the cap a table stays one-way.
MAX_FOLLOWERS = 3


@dataclass(frozen=True)
class Direction:
    """How one v2 table syncs: ``why`` says what stops the way back ('' when it syncs both ways)."""

    target_id: str
    v2: str  # the v2 table, schema.name
    v1: str  # its driving v1 table
    two_way: bool
    why: str = ""
    brief: str = ""  # the one reason a refused v2 client reads (W7, 128 characters): the plan's own words first
    # A lookup of a two-way table: it has no v1 table of its own; its values go back in the rows of that table
    # (the v2 table, schema.name) that refer to it
    through: str = ""
    # An extracted part of a two-way master (the v2 table, schema.name): its columns go back in the master's v1 rows
    part_of: str = ""
    inverted: tuple[str, ...] = ()  # the v1 columns the plan's ``inverse:`` computes for a row inserted into v2

    @property
    def line(self) -> str:
        """One line for plan check, generate and the RUNBOOK."""
        if self.part_of:
            return (f"{self.v2} <-> {self.v1}: two-way through {self.part_of} (its columns go back in its master's "
                    "v1 rows)")
        if self.through:
            return (f"{self.v2} <-> {self.v1}: two-way through {self.through} (its values go back in the v1 rows "
                    "that use them)")
        if self.two_way and self.inverted:
            return (f"{self.v2} <-> {self.v1}: two-way (`inverse:` gives {', '.join(self.inverted)} to a row "
                    "inserted into v2)")
        if self.two_way:
            return f"{self.v2} <-> {self.v1}: two-way"
        return f"{self.v2} <- {self.v1}: one-way ({self.why})"


def table_sync(plan: Plan, target: Target) -> str:
    """The sync the plan asks for ``target``'s driving table: its own entry, else the plan's."""
    spec = plan.schema_for_source(target.source.driving.schema)
    entry = spec.tables.get(target.source.driving.name) if spec is not None else None
    own = entry.sync if isinstance(entry, TableSpec) else None
    return own or plan.sync


def sync_problems(plan: Plan) -> list[str]:
    """A table may go back to one-way in a two-way plan, not the other way round (v2 opens as a whole at 60)."""
    if plan.sync == TWO_WAY:
        return []
    return [f"schemas.{s.source}.tables.{name}.sync: two-way needs `sync: two-way` at the plan's top level (v2 "
            "opens for writes as a whole); write it there and `sync: one-way` on the tables that stay one-way"
            for s in plan.schemas for name, entry in s.tables.items()
            if isinstance(entry, TableSpec) and entry.sync == TWO_WAY]


def _joins_only_follow(target: Target) -> bool:
    """Whether the target's joins only read its parents' (and their parents') v1 rows for the new key it follows
    (ops/follow.py)."""
    aliases = {j.alias for j in target.source.joins} - external_aliases(target)  # (an external blob's goes back)
    return all(c.follows for c in target.columns if c.expr.aliases & aliases) and all(
        e.aliases <= aliases | {DRIVING} for j in target.source.joins for _, e in j.on)


def _shape_reasons(model: Model, target: Target, two_way: set[str]) -> list[str]:
    """What in the target's shape stops a v2 row from naming exactly one v1 row (``two_way``: the parents known to
    sync both ways)."""
    source = target.source
    reasons = []
    if source.distinct:
        reasons.append("one v2 row is shared by several v1 rows (a lookup)")
    # a merged part goes back as a v1 part row made from the v2 row (model/part_back.py); other joins do not
    merged = merged_parts(model, target)
    if source.joins and not _joins_only_follow(target) and len(merged) != len(source.joins):
        reasons.append("its rows read other v1 tables (joins)")
    reasons += merge_reasons(model, target)
    # a split's sides go back to their one v1 table, each owning the v1 rows its filter passes (model/split_back.py)
    sides = {side.id for side in split_group(model, target)}
    # an extracted part goes back through its master's rows, which read it (model/part_back.py)
    master = master_of(model, target) or target
    family = {master.id} | {part.id for part in extracted_parts(model, master)}
    if sides:
        reasons += split_reasons(model, target, carried_back(target))
    elif source.filter is not None and master is target:
        reasons.append("it holds only the v1 rows its filter passes")
    if master is target:
        reasons += part_reasons(model, target)
    lookups = {lookup.id for lookup, _ in lookups_of(model, target)}  # they come back through this table's rows
    if sum(1 for t in model.targets if t.source.driving == source.driving and t.id not in lookups | sides | family) > 1:
        reasons.append(f"{source.driving.label} makes rows of several v2 tables")
    # a new primary key goes back when v2 keeps v1's key columns (or reads them from a parent that syncs back)
    reasons += way_back(model, target, two_way).reasons
    v1 = model.v1_table(source.driving)
    # v1's counter can issue v2's ids where v1's row is v2's row alone, both ways (no lookup, no parent read back)
    issued = issued_column(target) if not way_back(model, target, two_way).joins else None
    for attr in v1.attributes:
        if attr.auto_increment and (issued or ("",))[0] != attr.name:
            # one counter, v1's, hands out the ids of both sides (engines/issued_ids.py): only for a key v2 copies
            # into its own AUTO_INCREMENT key, from the written row alone
            reasons.append(f"AUTO_INCREMENT {attr.name!r} is not v2's own AUTO_INCREMENT key: written on both sides, "
                           "one id could be handed out twice")
        if attr.generated:
            reasons.append(f"v1 column {attr.name!r} is generated")
    return reasons


def _operation_reason(model: Model, op: Operation) -> str:
    """Why ``op`` stops the way back ('' when two-way can undo it)."""
    if isinstance(op, DropColumn):
        target = model.find(op.target_id)
        if target is None:
            return ""
        attr = model.v1_table(target.source.driving).attribute(op.column)
        if attr.default is not None or attr.nullable or target.inverse(op.column) is not None:
            return ""  # a row inserted into v2 gives v1 the column's default, or the plan's inverse (ops/inverse.py)
        return (f"v1 column {op.column!r} is not in v2 and has no default: a row written to v2 cannot give v1 its "
                "value (give it an `inverse:` in the plan or a default in v1, or keep the column)")
    if isinstance(op, ExtractLookup):
        lookup = model.find(op.lookup_id(model))
        if lookup is None:
            return op.irreversible
        changed = [c.name for c in lookup.columns if c.copied_from is None]
        if changed:  # a value written to the lookup would need v1's type checked in every row it reaches
            return (f"{op.table}'s {', '.join(changed)} {'is' if len(changed) == 1 else 'are'} not v1's type: a "
                    "lookup goes back only with the columns it moves unchanged")
        return ""  # its v1 rows read their lookup row back (model/reverse.py)
    if isinstance(op, AddColumn) and op.expr is not None:
        return f"v2 column {op.name!r} is computed from v1: a value written to it in v2 could not be kept"
    return op.irreversible


def directions(plan: Plan, model: Model, operations: tuple[Operation, ...]) -> list[Direction]:
    """Every v2 table's direction, parents first. Empty for a one-way plan."""
    if plan.sync != TWO_WAY:
        return []
    by_target: dict[str, list[Operation]] = {}
    for op in operations:
        by_target.setdefault(getattr(op, "target_id", ""), []).append(op)
    out = []
    two_way: set[str] = set()
    followers = 0
    # Targets whose key a v2 write can move: two-way ones and, through v2's ON UPDATE CASCADE, their descendants.
    movable: set[str] = set()
    for target in model.ordered():
        parents = {fk.parent for fk in target.foreign_keys if fk.parent}
        if table_sync(plan, target) == ONE_WAY:
            reasons = [f"{target.plan_key}.sync is one-way"]
            brief = ["the plan's sync is one-way for this table"]
        else:
            shape = _shape_reasons(model, target, two_way)
            # Below a one-way table whose key still moves from v2, a carried move would reach this table's v1 rows
            # before v1's cascade had moved their one-way parent's (error 1452): the reverse triggers leave such rows
            # to v1's own ON UPDATE CASCADE (model/reverse.py cascade_repeats). Where v1 does not repeat each of v2's
            # cascades into this table, it stays one-way.
            unrepeated = parents & movable - two_way and not all(
                repeated for (_, descendant, _), repeated in cascade_repeats(model).items()
                if descendant == target.ref)
            below = [f"its parent {model.target(p).label} syncs one way, and v1's own ON UPDATE CASCADE would not "
                     "move its rows with it" for p in sorted(parents & movable - two_way)] if unrepeated else []
            ops = [(op.plan_key, why) for op in by_target.get(target.id, ()) if (why := _operation_reason(model, op))]
            reasons = shape + below + [f"{key}: {why}" for key, why in ops]
            # an operation names the cause (a join or a key column that follows is often only its consequence)
            brief = [why for _, why in ops] + below + shape
            # (a lookup's join is no follower's, nor an extracted part's)
            lookups = {lookup.ref for lookup, _ in lookups_of(model, target)} | {
                part.ref for part in extracted_parts(model, target)}
            if not reasons and any(j.table not in lookups for j in way_back(model, target, two_way).joins):
                followers += 1
                if followers > MAX_FOLLOWERS:
                    brief = [f"{MAX_FOLLOWERS} tables already sync back through a re-keyed parent"]
                    reasons.append(f"it follows a re-keyed parent, and {MAX_FOLLOWERS} tables already sync back that "
                                   "way: more would make each write open hundreds of tables (RUNBOOK, Two-way sync)")
        master = master_of(model, target)
        if master is not None and master.id not in two_way:
            why = f"an extracted part goes back through its master's rows, and {master.label} syncs one way"
            reasons, brief = [why], [why]
        if not reasons:
            two_way.add(target.id)
        if not reasons or parents & movable:
            movable.add(target.id)
        out.append(Direction(target.id, target.label, target.source.driving.label, not reasons,
                             "; ".join(dict.fromkeys(reasons)), brief[0] if reasons and brief else "",
                             part_of=master.label if master is not None and not reasons else "",
                             inverted=tuple(i.column for i in target.inverses)))
    # a lookup goes back through the rows of the table it was taken from, or not at all: its own shape (shared
    # rows, no v1 key) is no reason
    referring = {lookup.id: target for target in model.targets for lookup, _ in lookups_of(model, target)}

    def of_lookup(d: Direction) -> Direction:
        table = referring.get(d.target_id)
        if table is None:
            return d
        if table.id in two_way:
            return replace(d, why="", brief="", through=table.label)
        why = f"a lookup goes back through the rows of {table.label}, which syncs one way"
        return replace(d, why=why, brief=why)

    return [of_lookup(d) for d in out]


def lookups_back(found: list[Direction]) -> set[str]:
    """The lookups whose values go back through a two-way table's rows."""
    return {d.target_id for d in found if d.through}
