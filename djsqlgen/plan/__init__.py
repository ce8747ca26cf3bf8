"""The plan file: what v2 looks like, as changes to v1 (``file``), and the identity plan ``plan init`` writes (``init``)."""

from djsqlgen.plan.file import (
    DROP,
    KEEP,
    AddedColumn,
    ChunkSpec,
    ColumnChange,
    ContractSpec,
    CutoverSpec,
    JoinSpec,
    ParentSpec,
    Plan,
    PresetSpec,
    SchemaSpec,
    TableSpec,
    dump_plan,
    load_plan,
    parse_plan,
    plan_hash,
)

__all__ = ["DROP", "KEEP", "AddedColumn", "ChunkSpec", "ColumnChange", "ContractSpec", "CutoverSpec", "JoinSpec", "ParentSpec", "Plan", "PresetSpec",
           "SchemaSpec", "TableSpec", "dump_plan", "load_plan", "parse_plan", "plan_hash"]
