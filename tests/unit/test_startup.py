"""`djsqlgen backfill` starts quickly: nothing of the generator is imported on the way to the first chunk (issue 25)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("jinja2", "sqlglot", "djsqlgen.catalog.heading", "djsqlgen.engines.context", "djsqlgen.model.target")


def test_the_backfill_command_imports_nothing_of_the_generator():
    code = ("import sys, djsqlgen.cli, djsqlgen.run.driver, djsqlgen.run.throttle, djsqlgen.plan; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"imported on the way to the first chunk: {loaded}"
