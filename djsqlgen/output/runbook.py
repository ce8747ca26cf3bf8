"""RUNBOOK.md: the steps of one migration, with the exact commands and what to check after each."""

from __future__ import annotations

from pathlib import Path

from djsqlgen.operations import CopyTable, DropTable
from djsqlgen.output.render import environment


def write_runbook(out_dir: Path, plan, generator, files, meta: dict[str, str], plan_path: str) -> Path:
    text = environment().get_template("runbook.md.j2").render(
        plan=plan, meta=meta, plan_path=plan_path,
        copies=[op for op in generator.operations if isinstance(op, CopyTable)],
        drops=[op for op in generator.operations if isinstance(op, DropTable)],
        forward=[f for f in files if not f.rollback_of],
    )
    path = out_dir / "RUNBOOK.md"
    path.write_text(text.rstrip("\n") + "\n")
    return path
