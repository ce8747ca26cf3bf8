"""Every name djsqlgen gives to a server object, deterministic, at most 64 characters.

A name that would be longer is cut and ends in a short hash of the full name, never a random
suffix, so the same plan always yields the same names.
"""

from __future__ import annotations

import hashlib
import re

MAX_IDENTIFIER = 64
# Set by a generated file whose own writes to v2 must not reach v1 (and unset at its end), and by the backfill
# (here, not in engines.two_way: the backfill command sets it without importing the generator, 0.3-0.8 s).
ENGINE_SESSION = "@djsqlgen_engine_session"


def fit(name: str, limit: int = MAX_IDENTIFIER) -> str:
    """``name`` itself when short enough, else its head plus ``_`` and 8 hex characters of its hash."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9]}_{digest}"


def _slug(name: str) -> str:
    """A table name reduced to letters, digits and underscores, still unique.

    DataJoint writes the tier into the name (``#kind``, ``_rec``, ``__rec``, ``~~rec``), so names
    differing only there must not meet: when anything is removed, a short hash of the full
    name is appended.
    """
    cleaned = re.sub(r"[^A-Za-z0-9_]", "", name).strip("_") or "t"
    if cleaned == name:
        return cleaned
    return f"{cleaned}_{hashlib.sha1(name.encode()).hexdigest()[:6]}"


def table_id(schema: str, table: str) -> str:
    """The key of a v1 table in the control schema's progress and verify tables."""
    return f"{schema}.{table}"


def own_trigger_prefix(plan_name: str) -> str:
    """How every trigger a plan installs starts (trigger_name, guard, tracker, one-way names): what tells djsqlgen's
    own triggers from a foreign one on the same table."""
    return f"djsqlgen_{plan_name}_"


def trigger_name(plan_name: str, table: str, event: str, back: bool = False) -> str:
    """Dual-write trigger on a v1 table, e.g. ``djsqlgen_ephys2_session_ins`` (pt-osc's pattern); with ``back``, the
    two-way trigger on a v2 table that carries its writes to v1 (``…_ins_to_v1``)."""
    suffix = {"INSERT": "ins", "UPDATE": "upd", "DELETE": "del", "CASCADE_DELETE": "cdel", "ISSUE": "iid"}[event]
    return fit(f"{own_trigger_prefix(plan_name)}{_slug(table)}_{suffix}" + ("_to_v1" if back else ""))


def routine_name(kind: str, schema: str, table: str) -> str:
    """A per-table procedure in the control schema, e.g. ``backfill_chunk__lab_common__subject`` (earlier
    versions had them; generate names them only to drop them)."""
    return fit(f"{kind}__{_slug(schema)}__{_slug(table)}")


def step_procedure(phase_file: str) -> str:
    """The procedure a phase file creates, calls and drops to run its guarded steps."""
    return fit(f"step_{_slug(phase_file)}")


def cutover_parking_name(table: str) -> str:
    """Where a v1 table is parked inside its own schema during cut-over (triggers may stay on it)."""
    return fit(f"{table}__djsqlgen_cutover")


def v2_parking_name(table: str, why: str) -> str:
    """Where a v2 table waits under a name no user writes to: ``why`` is "cutover" (moved to its final schema,
    its trackers not yet on it) or "rollback" (taken away from users before its trackers go)."""
    return fit(f"{table}__djsqlgen_v2{why}")


def target_routine(kind: str, target_id: str) -> str:
    """A per-target procedure in the control schema of earlier versions, e.g. ``backfill_chunk__lab_common__subject``."""
    schema, _, table = target_id.partition(".")
    return routine_name(kind, schema, table)


def guard_trigger_name(plan_name: str, table: str, event: str) -> str:
    """A cut-over guard on a v1 table: fails every write with a message naming v2."""
    suffix = {"INSERT": "ins", "UPDATE": "upd", "DELETE": "del"}[event]
    return fit(f"{own_trigger_prefix(plan_name)}{_slug(table)}_guard_{suffix}")


def one_way_trigger_name(plan_name: str, table: str, event: str) -> str:
    """Two-way sync: a trigger on a v2 table that syncs one way, refusing its clients' writes."""
    suffix = {"INSERT": "ins", "UPDATE": "upd", "DELETE": "del"}[event]
    return fit(f"{own_trigger_prefix(plan_name)}{_slug(table)}_one_way_{suffix}")


def tracker_trigger_name(plan_name: str, table: str, event: str) -> str:
    """A trigger on a v2 table after cut-over: records the key of each row written, for rollback/70."""
    suffix = {"INSERT": "ins", "UPDATE": "upd", "DELETE": "del"}[event]
    return fit(f"{own_trigger_prefix(plan_name)}{_slug(table)}_track_{suffix}")


# The states of a backfill or verify at work, as it reports them in the control row (the command line, and the loops
# of 40 and 50 through run_report): in these, the job's session holds the named lock run_lock(control), so that
# `djsqlgen status` tells a job at work from one whose process or connection is gone.
ACTIVE_STATES = ("copying", "throttled", "paused", "verifying", "verify throttled", "verify paused")


def run_lock(control: str) -> str:
    """The named lock (GET_LOCK) a running backfill or verify holds: free while its control row says it runs,
    the process or connection that ran it is gone (`djsqlgen status` then says stopped)."""
    return fit(f"djsqlgen {control} run")


# Two-way sync: the way back of a two-way table (v1 against reverse(v2)) is verified under the forward target's id
# with this suffix (its row of chunk_sql, its verify results); the report names the two directions so.
WAY_BACK = " <- v2"
FORWARD_DIRECTION, BACK_DIRECTION = "v2 from v1", "v1 from v2"


def way_back_id(target_id: str) -> str:
    return target_id + WAY_BACK
