"""The plan file: what v2 looks like, as changes to v1 (``file``), the identity plan ``plan init`` writes (``init``),
and what a running job reads of it (``job``, without pydantic).

The names below are loaded when first used (PEP 562): importing ``djsqlgen.plan.job`` (the backfill's start-up)
must not load the full plan model and pydantic with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_FROM_FILE = ("DROP", "KEEP", "AddedColumn", "ChunkSpec", "ColumnChange", "ContractSpec", "CutoverSpec", "JoinSpec",
              "NextFor", "ParentSpec", "Plan", "PresetSpec", "SchemaSpec", "TableSpec", "dump_plan", "load_plan",
              "parse_plan", "plan_hash")
_FROM_JOB = ("JobPlan", "load_job_plan", "parse_job_plan")

__all__ = [*_FROM_FILE, *_FROM_JOB]

if TYPE_CHECKING:
    from djsqlgen.plan.file import (DROP, KEEP, AddedColumn, ChunkSpec, ColumnChange, ContractSpec,  # noqa: F401
                                    CutoverSpec, JoinSpec, NextFor, ParentSpec, Plan, PresetSpec, SchemaSpec,
                                    TableSpec, dump_plan, load_plan, parse_plan, plan_hash)
    from djsqlgen.plan.job import JobPlan, load_job_plan, parse_job_plan  # noqa: F401


def __getattr__(name: str):
    if name in _FROM_FILE:
        return getattr(importlib.import_module("djsqlgen.plan.file"), name)
    if name in _FROM_JOB:
        return getattr(importlib.import_module("djsqlgen.plan.job"), name)
    raise AttributeError(f"module 'djsqlgen.plan' has no attribute {name!r}")
