"""`djsqlgen backfill` starts quickly: nothing of the generator, nor the full plan model (pydantic), is imported on
the way to the first chunk (issue 25)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("pydantic", "importlib.metadata", "jinja2", "sqlglot", "djsqlgen.plan.file", "djsqlgen.catalog.heading",
         "djsqlgen.engines.context", "djsqlgen.model.target")
PLAN = Path(__file__).resolve().parents[2] / "examples" / "lab_ephys" / "plan.yaml"


def test_the_backfill_command_imports_nothing_heavy_on_the_way_to_the_server():
    """The command itself, run up to its connection (to a port where nothing listens): the plan read and checked,
    the driver and throttle loaded, and none of the heavy modules."""
    code = ("import sys\n"
            "from djsqlgen.cli import main\n"
            "import djsqlgen.run.driver, djsqlgen.run.throttle, djsqlgen.run.chunked\n"
            "try:\n"
            f"    main(['--host', '127.0.0.1', '--port', '1', '--user', 'nobody', 'backfill', {str(PLAN)!r}])\n"
            "except SystemExit as stop:\n"
            "    assert stop.code == 2, stop.code  # the connection refused, after the plan was read\n"
            "assert 'djsqlgen.plan.job' in sys.modules\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported on the way to the first chunk: {done.stdout.strip()}"
