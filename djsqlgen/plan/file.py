"""The plan file: what v2 looks like, as changes to v1. Load, validate against the headings, write.

Pure data: no SQL here. ``load_plan`` checks the file's shape (unknown keys are errors);
``check_plan`` checks it against the live headings and collects every problem, each naming
its plan key and the fix.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from djsqlgen.errors import PlanError
from djsqlgen.plan.job import CHUNK_LIMITS, NAME_PATTERN, NAME_RULE, PLAN_VERSION, read_plan_text

MAX_IDENTIFIER = 64
KEEP, DROP = "keep", "drop"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built on first use: a quicker start


# What goes into CREATE TABLE as written: a column type (a name, its parameters: numbers or quoted enum/set
# values, then attributes) and character set or collation names. Anything else (a ';', a comment, a clause)
# is refused here, with its plan key, so that no plan text reaches a file unparsed.
_QUOTED = r"'(?:[^'\\]|''|\\.)*'"
_SQL_TYPE = re.compile(rf"[A-Za-z][A-Za-z0-9]*(?:\s+precision)?\s*(?:\(\s*(?:\d+\s*(?:,\s*\d+\s*)?|{_QUOTED}"
                       rf"(?:\s*,\s*{_QUOTED})*\s*)\))?(?:\s+(?:unsigned|signed|zerofill))*", re.IGNORECASE)
_CHARSET_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")


def _sql_type(value: str | None) -> str | None:
    if value is not None and not _SQL_TYPE.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not an SQL column type (such as int unsigned, varchar(16), decimal(8,3), "
                         "enum('a','b'))")
    return value


def _charset_name(value: str | None) -> str | None:
    if value is not None and not _CHARSET_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a character set or collation name (letters, digits, underscores)")
    return value


class _TypedColumn(_Strict):
    """A column spec's type, character set and collation, checked for their shape (each is written into the files)."""

    @field_validator("type", check_fields=False)
    @classmethod
    def _type_is_a_type(cls, value: str | None) -> str | None:
        return _sql_type(value)

    @field_validator("charset", "collation", check_fields=False)
    @classmethod
    def _names_are_names(cls, value: str | None) -> str | None:
        return _charset_name(value)


class ColumnChange(_TypedColumn):
    """A v1 column that changes on its way to v2 (rename and/or retype)."""

    rename: str | None = None
    type: str | None = Field(None, description="new SQL type of the v2 column")
    expr: str | None = Field(None, description="SQL expression over the v1 row giving the v2 value")
    comment: str | None = None
    nullable: bool | None = None
    default: str | None = Field(None, description="SQL default of the v2 column (a literal or expression)")
    charset: str | None = Field(None, description="character set of the v2 column (text)")
    collation: str | None = Field(None, description="collation of the v2 column (text)")
    allow_lossy: bool = False


class AddedColumn(_TypedColumn):
    """A column that exists only in v2: filled with ``default`` or computed by ``expr``."""

    type: str
    expr: str | None = None
    default: str | None = None
    nullable: bool = False
    comment: str = ""
    charset: str | None = None
    collation: str | None = None


ColumnSpec = Literal["keep", "drop"] | ColumnChange


class JoinSpec(_Strict):
    """Another v1 table read for each row, found by its whole primary key."""

    table: str = Field(description="v1 table: name in the same schema, or schema.table")
    # (not "on": YAML 1.1 reads an unquoted on: as the boolean true)
    by: dict[str, str] = Field(description="each primary-key column of the joined table: an expression over this row")
    kind: Literal["left", "inner"] = "left"


class ParentSpec(_Strict):
    """A foreign key v1 does not have: v2's rows of this table refer to a parent table."""

    parent: str = Field(description="v1 table of the plan whose v2 table is the parent: name, or schema.table")
    columns: dict[str, str] = Field(default_factory=dict,
                                    description="v2 column of this table -> the parent's v2 key column it holds")
    name: str | None = Field(None, description="constraint name (default: <table>_<parent>_fk)")
    on_update: Literal["CASCADE", "RESTRICT", "NO ACTION"] = "CASCADE"
    on_delete: Literal["CASCADE", "RESTRICT", "NO ACTION"] = "RESTRICT"


class LookupSpec(_Strict):
    """Columns of this table moved into a new lookup table, which this table then refers to."""

    table: str = Field(description="the new v2 lookup table (DataJoint: a name starting with #)")
    key: list[str] = Field(description="v2 columns of this table that make the lookup's key; they stay here and "
                                       "refer to it")
    columns: list[str] = Field(default_factory=list, description="v2 columns of this table moved into the lookup")
    comment: str = ""


class SplitSpec(_Strict):
    """One side of a table split by a row filter."""

    table: str = Field(description="the v2 table of this side (the first side keeps the table's progress and id)")
    where: str = Field(description="SQL condition over the v1 row: the rows of this side")


class PartSpec(_Strict):
    """Secondary attributes of this table moved into a new part table of it."""

    name: str = Field(description="the part's own name: the table is <this table>__<name>")
    columns: list[str] = Field(description="v2 columns of this table the part takes (one part row per row where any "
                                           "is not NULL)")


class NextFor(_Strict):
    """An ``inverse:`` that numbers a v2 insert's v1 row: one more than the largest value v1 holds among the rows
    with the same values of ``next_for`` (a DataJoint ``session_idx`` per subject). Taken under a lock on the
    parent's v1 row those columns refer to (RUNBOOK, lock discipline)."""

    next_for: list[str] = Field(min_length=1, description="v2 columns (a foreign key to the parent, in v2 names)")


class TableSpec(_Strict):
    rename: str | None = None
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    add: dict[str, AddedColumn] = Field(default_factory=dict)
    key: list[str] | None = Field(None, description="the v2 primary key (v2 column names, in order)")
    joins: dict[str, JoinSpec] = Field(default_factory=dict, description="alias -> a v1 table read for each row")
    add_parents: list[ParentSpec] = Field(default_factory=list)
    drop_references: list[str] = Field(default_factory=list,
                                       description="v1 parent tables whose foreign keys v2 leaves out")
    move_to: str | None = Field(None, description="for a part table: the v1 master table it moves to")
    lookups: list[LookupSpec] = Field(default_factory=list,
                                      description="columns moved into new lookup tables this table refers to")
    parts: list[PartSpec] = Field(default_factory=list, description="secondary attributes moved into new parts")
    merge_into_master: bool = Field(False, description="for a 1:1 part table: its attributes become its master's")
    split: list[SplitSpec] = Field(default_factory=list,
                                   description="v2 tables this table's rows go to, each by a filter; every row to one")
    sync: Literal["one-way", "two-way"] | None = Field(
        None, description="overrides the plan's sync for this table (one-way: v2 refuses writes during the window)")
    inverse: dict[str, str | NextFor] = Field(
        default_factory=dict, description="two-way: a v1 column v2 dropped -> its value for a row inserted into v2 "
                                          "(an SQL expression over the v2 row, or {next_for: [columns]})")


class SchemaSpec(_Strict):
    source: str
    target: str
    final: str | None = Field(None, description="name of the schema after cut-over (rename_to_final)")
    archive: str | None = Field(None, description="where v1's tables go at cut-over when final == source")
    tables: dict[str, Literal["keep", "drop"] | TableSpec]


def _chunk_field(key: str):
    default, least, most = CHUNK_LIMITS[key]  # the rules a job's reader (plan/job.py) checks too
    return Field(default, ge=least, le=most)


class ChunkSpec(_Strict):
    rows: int = _chunk_field("rows")
    sleep_ms: int = _chunk_field("sleep_ms")
    verify_rows: int = _chunk_field("verify_rows")


class CutoverSpec(_Strict):
    rename_to_final: bool = False


class ContractSpec(_Strict):
    drop_v1: bool = False
    v1: Literal["keep-synced"] | None = Field(
        None, description="keep-synced (two-way plans): 80 keeps the closed v1 as read-only tables v2 keeps filling, "
                          "until 90_retire_v1.sql retires it (as drop_v1 says)")


class PresetSpec(_Strict):
    """A conversion of every table and column, applied before the plan's own entries (``djsqlgen.presets``)."""

    name: Literal["dj014-to-dj2"] = Field(description="dj014-to-dj2: v2 as DataJoint 2.x declares it")
    unsigned: Literal["widen", "keep-native"] = Field(
        "widen", description="unsigned integers: the next wider signed 2.x core type, or kept native")
    charset: str = Field("utf8mb4", description="character set of v2's text columns and tables")
    collation: str = Field("utf8mb4_general_ci", description="collation of v2's text columns and tables")
    subfolding: dict[str, list[int]] = Field(
        default_factory=dict, description="0.14 store name -> its `subfolding` setting, when not [2, 2] (0.14's default)")

    @field_validator("charset", "collation")
    @classmethod
    def _names_are_names(cls, value: str | None) -> str | None:
        return _charset_name(value)


class Plan(_Strict):
    version: Literal[1] = PLAN_VERSION
    name: str
    control_schema: str | None = None
    preset: PresetSpec | None = None
    chunk: ChunkSpec = Field(default_factory=ChunkSpec)
    cutover: CutoverSpec = Field(default_factory=CutoverSpec)
    contract: ContractSpec = Field(default_factory=ContractSpec)
    sync: Literal["one-way", "two-way"] = Field(
        "one-way", description="two-way: v2 takes writes from 60 on and triggers carry them back to v1")
    schemas: list[SchemaSpec]

    @field_validator("name")
    @classmethod
    def _name_is_identifier_part(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError(NAME_RULE)
        return value

    @property
    def control(self) -> str:
        """The control schema: progress, checkpoints, verify results and routines live here."""
        return self.control_schema or f"djsqlgen_{self.name}"

    def schema_for_source(self, source: str) -> SchemaSpec | None:
        return next((s for s in self.schemas if s.source == source), None)

    @model_validator(mode="after")
    def _keep_synced_needs_two_way(self) -> Plan:
        # only v2's reverse triggers can fill a closed v1; a renaming cut-over is refused for two-way plans (70)
        if self.contract.v1 == "keep-synced" and (self.sync != "two-way" or self.cutover.rename_to_final):
            raise ValueError("contract.v1: keep-synced keeps v1 filled by two-way sync's reverse triggers; "
                             "it needs sync: two-way and cutover.rename_to_final: false")
        return self


# ---------------------------------------------------------------------------------------------
# reading and writing
# ---------------------------------------------------------------------------------------------
_MODEL_NAMES = {"ColumnChange", "AddedColumn", "TableSpec", "SchemaSpec", "ChunkSpec", "CutoverSpec", "ContractSpec",
                "JoinSpec", "ParentSpec", "PresetSpec", "NextFor", "str"}


def _error_location(loc: tuple, data: dict) -> str:
    """A pydantic error location as a plan key: union branch names dropped, schema list indexes
    replaced by the schema's source name (``schemas.lab_v1.tables.subject``)."""
    parts: list[str] = []
    for i, part in enumerate(loc):
        text = str(part)
        if text in _MODEL_NAMES or text.startswith(("function-", "literal[")):
            continue
        if isinstance(part, int) and i > 0 and loc[i - 1] == "schemas":
            entries = data.get("schemas") or []
            source = entries[part].get("source") if part < len(entries) and isinstance(entries[part], dict) else None
            text = str(source or part)
        parts.append(text)
    return ".".join(parts)


def parse_plan(text: str, source: str = "plan") -> Plan:
    """Parse plan YAML; shape errors become one PlanError listing every problem with its key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PlanError([f"not valid YAML: {exc}"], source) from None
    if not isinstance(data, dict):
        raise PlanError(["the plan must be a mapping with keys name, schemas, ..."], source)
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        located = [(_error_location(err["loc"], data), err) for err in errors]
        deeper = {where for where, err in located if not any(str(p).startswith("literal[") for p in err["loc"])}
        problems = []
        for where, err in located:
            is_literal_branch = any(str(p).startswith("literal[") for p in err["loc"])
            if is_literal_branch and any(d.startswith(where + ".") or d == where for d in deeper):
                continue  # the mapping form of this entry failed too, and says why more precisely
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                message = "unknown key; remove it or fix its spelling"
            problems.append(f"{where or '(top)'}: {message}")
        raise PlanError(sorted(set(problems)), source) from None


def load_plan(path: Path) -> Plan:
    return parse_plan(read_plan_text(path), str(path))


def plan_hash(plan: Plan) -> str:
    """A short, stable hash of the plan's meaning (not its formatting)."""
    # a plan without a preset hashes as before presets existed: migrations under way keep their hash
    exclude: dict = {"preset": True} if plan.preset is None else {}
    # nor without two-way sync: a plan that does not name it hashes as before it existed
    if plan.sync == "one-way":
        exclude["sync"] = True
    if plan.contract.v1 is None:  # likewise without contract.v1
        exclude["contract"] = {"v1": True}
    for i, spec in enumerate(plan.schemas):
        # (nor without ``inverse:``)
        unnamed = {name: {k: True for k, unset in (("sync", table.sync is None), ("inverse", not table.inverse))
                          if unset}
                   for name, table in spec.tables.items() if isinstance(table, TableSpec)}
        if unnamed:
            exclude.setdefault("schemas", {})[i] = {"tables": unnamed}
    # The chunk settings are the copy's pace, not its meaning: passed to the routines by 40, 50 and 60 and read by the
    # commands, never installed, so a DBA may change them between two files. Hashed as their defaults (a plan that
    # keeps the defaults hashes as before).
    meaning = plan.model_copy(update={"chunk": ChunkSpec()})
    return hashlib.sha256(meaning.model_dump_json(exclude=exclude or None).encode()).hexdigest()[:12]


def dump_plan(plan: Plan) -> str:
    """YAML for a plan, keys in model order, defaults written out so users see every knob."""
    data = plan.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
