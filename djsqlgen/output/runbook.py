"""RUNBOOK.md: the steps of one migration, with the exact commands and what to check after each."""

from __future__ import annotations

from pathlib import Path

from djsqlgen.sqltext.messages import TWO_WAY_CODES, WRITER_CODES
from djsqlgen.sqltext.render import environment


def dj2_facts(migration) -> dict:
    """What the DataJoint 2.x section of the runbook lists: stores, codecs, attachments, notes, definitions."""
    from djsqlgen.catalog.types import KIND_ANGLE, builtin_codec_names, split_comment
    from djsqlgen.ops.convert_external import ConvertExternal
    from djsqlgen.presets.definitions import dj2_definitions
    from djsqlgen.presets.dj2 import preset_notes

    model, ops = migration.built.model, migration.built.operations
    converted = [op for op in ops if isinstance(op, ConvertExternal)]
    markers = [split_comment(c.decl.comment)[0] for t in model.targets for c in t.columns]
    codecs = {m.name for m in markers if m is not None and m.kind == KIND_ANGLE and m.store is None}
    return {"stores": sorted({op.store for op in converted}), "codecs": sorted(codecs - builtin_codec_names()),
            "attachments": any(op.kind == "attach" for op in converted),
            "notes": preset_notes(migration.catalog, [s.source for s in migration.plan.schemas], migration.plan.preset),
            "definitions": dj2_definitions(model), "mariadb": migration.catalog.server.flavour == "mariadb"}


def _numbered(migration) -> list[tuple[str, str, str]]:
    """(v1 table, column, v1 parent) of each ``inverse: {next_for: …}`` of a two-way table: its lock, for the Lock
    discipline section."""
    two_way = {d.target_id for d in migration.directions if d.two_way}
    return [(t.source.driving.label, i.column, i.lock.label) for t in migration.built.model.ordered()
            if t.id in two_way for i in t.inverses if i.lock is not None]


def write_runbook(out_dir: Path, migration, files, meta: dict[str, str], plan_path: str) -> Path:
    text = environment().get_template("runbook.md.j2").render(
        plan=migration.plan, meta=meta, plan_path=plan_path, targets=migration.targets, retired=migration.retired,
        notes=migration.notes, checks=migration.data_checks, forward=[f for f in files if not f.rollback_of],
        moves_v1=migration.plan.cutover.rename_to_final and any(s.archive for s in migration.plan.schemas),
        # 70 renames nothing: it closes v1 by its sides row, no DDL (as phases.cutover_steps.in_place decides)
        closes_by_row=not (migration.plan.cutover.rename_to_final
                           and any(s.archive or (s.final and s.final != s.target) for s in migration.plan.schemas)),
        v1_schemas=[s.source for s in migration.plan.schemas],
        dj2=dj2_facts(migration) if migration.plan.preset is not None else None, writer_codes=WRITER_CODES,
        directions=migration.directions, two_way_codes=TWO_WAY_CODES, numbered=_numbered(migration),
    )
    path = out_dir / "RUNBOOK.md"
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    return path
