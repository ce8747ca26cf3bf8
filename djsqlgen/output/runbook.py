"""RUNBOOK.md: the steps of one migration, with the exact commands and what to check after each."""

from __future__ import annotations

from pathlib import Path

from djsqlgen.output.render import environment


def write_runbook(out_dir: Path, migration, files, meta: dict[str, str], plan_path: str) -> Path:
    text = environment().get_template("runbook.md.j2").render(
        plan=migration.plan, meta=meta, plan_path=plan_path, targets=migration.targets, retired=migration.retired,
        notes=migration.built.notes, checks=migration.built.data_checks, forward=[f for f in files if not f.rollback_of],
        moves_v1=migration.plan.cutover.rename_to_final and any(s.archive for s in migration.plan.schemas),
    )
    path = out_dir / "RUNBOOK.md"
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    return path
