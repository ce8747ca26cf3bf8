"""What a running job reads from the plan file (`djsqlgen backfill`, pause, resume, abort): its name, control
schema, sync and chunk settings, validated by the same rules as the full plan (``file``), without pydantic.

Why a second reader: the backfill's start-up is felt on every run, and the full plan model (pydantic, built on
first use) cost about a tenth of a second of it, to check entries (tables, columns, expressions) the job never
reads. Those were checked by `plan check` and `generate`, which wrote the files the server runs; the job's own
fields are checked here, each error naming its plan key, and a key the plan format does not have is still an
error. The rules (the name's pattern, the chunk limits, the sync values) live here, and ``file`` uses them too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from djsqlgen.errors import PlanError

PLAN_VERSION = 1
NAME_PATTERN = re.compile(r"[A-Za-z0-9_]{1,40}")
NAME_RULE = "use 1-40 letters, digits or underscores (it names the control schema)"
SYNC_VALUES = ("one-way", "two-way")
# chunk key -> (default, least, most)
CHUNK_LIMITS = {"rows": (5000, 1, 10_000_000), "sleep_ms": (0, 0, None), "verify_rows": (10000, 1, 10_000_000)}
TOP_KEYS = ("version", "name", "control_schema", "preset", "chunk", "cutover", "contract", "sync", "schemas")


@dataclass(frozen=True)
class JobChunk:
    rows: int
    sleep_ms: int
    verify_rows: int


@dataclass(frozen=True)
class JobPlan:
    """The plan as a job reads it (the same attribute names as ``file.Plan``)."""

    name: str
    control_schema: str | None
    sync: str
    chunk: JobChunk

    @property
    def control(self) -> str:
        return self.control_schema or f"djsqlgen_{self.name}"


def _int(value: object, key: str, least: int, most: int | None, problems: list[str]) -> int | None:
    # as pydantic's lax mode: 5000, "5000" and 5000.0 are 5000
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        value = int(value)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{key}: Input should be a valid integer")
        return None
    if value < least or (most is not None and value > most):
        bound = f"at least {least}" if most is None else f"between {least} and {most}"
        problems.append(f"{key}: Input should be {bound}")
        return None
    return value


def parse_job_plan(text: str, source: str = "plan") -> JobPlan:
    """The job's fields of plan YAML; every problem with them (and any unknown top-level key) in one PlanError."""
    import yaml  # (here: nothing but this reader needs it)

    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # the C loader when built
    except yaml.YAMLError as exc:
        raise PlanError([f"not valid YAML: {exc}"], source) from None
    if not isinstance(data, dict):
        raise PlanError(["the plan must be a mapping with keys name, schemas, ..."], source)
    problems = [f"{key}: unknown key; remove it or fix its spelling" for key in data if key not in TOP_KEYS]
    if data.get("version", PLAN_VERSION) != PLAN_VERSION:
        problems.append(f"version: Input should be {PLAN_VERSION}")
    name = data.get("name")
    if not isinstance(name, str):
        problems.append("name: Field required" if name is None else "name: Input should be a valid string")
    elif not NAME_PATTERN.fullmatch(name):
        problems.append(f"name: Value error, {NAME_RULE}")
    control = data.get("control_schema")
    if control is not None and not isinstance(control, str):
        problems.append("control_schema: Input should be a valid string")
    sync = data.get("sync", "one-way")
    if sync not in SYNC_VALUES:
        problems.append(f"sync: Input should be {' or '.join(repr(v) for v in SYNC_VALUES)}")
    if not isinstance(data.get("schemas"), list):
        problems.append("schemas: Field required" if "schemas" not in data else "schemas: Input should be a valid list")
    chunk = data.get("chunk", {})
    values = {}
    if not isinstance(chunk, dict):
        problems.append("chunk: Input should be a valid dictionary")
        chunk = {}
    problems += [f"chunk.{key}: unknown key; remove it or fix its spelling" for key in chunk if key not in CHUNK_LIMITS]
    for key, (default, least, most) in CHUNK_LIMITS.items():
        values[key] = _int(chunk.get(key, default), f"chunk.{key}", least, most, problems)
    if problems:
        raise PlanError(sorted(set(problems)), source)
    return JobPlan(name, control, sync, JobChunk(**values))


def read_plan_text(path: Path) -> str:
    """The plan file's text, or a PlanError naming it (both readers: this one and ``file``)."""
    try:
        return path.read_text()
    except OSError as exc:
        raise PlanError([f"cannot read the plan: {exc.strerror}"], str(path)) from None


def load_job_plan(path: Path) -> JobPlan:
    return parse_job_plan(read_plan_text(path), str(path))
