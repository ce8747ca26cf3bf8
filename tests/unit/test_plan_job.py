"""A job's reading of the plan (plan/job.py, no pydantic) agrees with the full plan model: the same fields from
every plan the model accepts, and a refusal, naming the key, wherever the model refuses a field the job reads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from djsqlgen.errors import PlanError
from djsqlgen.plan.file import parse_plan
from djsqlgen.plan.job import parse_job_plan

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*/plan.yaml"))
BASE = {"name": "lab", "schemas": [{"source": "a", "target": "b", "tables": {"t": "keep"}}]}


def _fields(plan) -> tuple:
    return (plan.name, plan.control, plan.sync, plan.chunk.rows, plan.chunk.sleep_ms, plan.chunk.verify_rows)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_the_examples_read_the_same(path: Path):
    text = path.read_text()
    assert _fields(parse_job_plan(text)) == _fields(parse_plan(text))


@pytest.mark.parametrize("extra", [
    {}, {"control_schema": "ctl_x"}, {"sync": "two-way"}, {"chunk": {"rows": 7, "sleep_ms": 3, "verify_rows": 9}},
    {"chunk": {"rows": "250"}}, {"chunk": {"rows": 10_000_000}}, {"version": 1},
])
def test_accepted_plans_read_the_same(extra: dict):
    text = yaml.safe_dump({**BASE, **extra})
    assert _fields(parse_job_plan(text)) == _fields(parse_plan(text))


@pytest.mark.parametrize("extra, key", [
    ({"name": "lab-1"}, "name"), ({"name": None}, "name"), ({"sync": "both"}, "sync"),
    ({"chunk": {"rows": 0}}, "chunk.rows"), ({"chunk": {"rows": 10_000_001}}, "chunk.rows"),
    ({"chunk": {"sleep_ms": -1}}, "chunk.sleep_ms"), ({"chunk": {"rows": "many"}}, "chunk.rows"),
    ({"chunk": {"row": 5}}, "chunk.row"), ({"chunks": {"rows": 5}}, "chunks"), ({"version": 2}, "version"),
    ({"control_schema": 5}, "control_schema"), ({"schemas": None}, "schemas"), ({"chunk": None}, "chunk"),
])
def test_refused_fields_are_refused_by_both_naming_the_key(extra: dict, key: str):
    text = yaml.safe_dump({**BASE, **extra})
    for parse in (parse_plan, parse_job_plan):
        with pytest.raises(PlanError) as refused:
            parse(text)
        assert any(p.startswith(f"{key}:") for p in refused.value.problems), (parse.__name__, refused.value.problems)
