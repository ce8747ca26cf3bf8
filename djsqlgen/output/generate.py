"""``generate``: a plan and the v1 headings made into the phase files, RUNBOOK.md and manifest.json."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

from djsqlgen import __version__
from djsqlgen.catalog.heading import Catalog
from djsqlgen.engines.context import Context
from djsqlgen.engines.files import (BACK_MANIFEST_FILE, FILEPATH_BACK_MANIFEST_FILE, attachment_sources,
                                   attachments_back, back_manifest_sql, filepath_back_manifest_sql, filepaths_back,
                                   manifest_sql)
from djsqlgen.model.checks import inverse_checks, round_trip_checks
from djsqlgen.model.external_back import prefer_kept_json
from djsqlgen.model.part_back import merged_of
from djsqlgen.model.reverse import forward_two_way, reverse_model
from djsqlgen.ops import Built, build_model
from djsqlgen.ops.directions import TWO_WAY, directions, lookups_back
from djsqlgen.output.runbook import write_runbook
from djsqlgen.output.sqlfile import render_file
from djsqlgen.phases import phase_files, side_files
from djsqlgen.plan import Plan, plan_hash
from djsqlgen.sqltext.dialect import dialect_for
from djsqlgen.sqltext.naming import own_trigger_prefix
from djsqlgen.sqltext.statements import PhaseFile

MANIFEST_FILE = "files_manifest.sql"


def definition_hash(catalog: Catalog) -> str:
    """A hash of what v1 is (its definitions), not of how full it is: row estimates and the tool version
    are left out, so inspecting again yields the same hash while v1's definitions stay the same."""
    data = asdict(catalog)
    data["tool_version"] = ""
    for schema in data["schemas"]:
        for table in schema["tables"]:
            table["estimated_rows"] = 0
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def without_own_triggers(catalog: Catalog, plan_name: str) -> Catalog:
    """v1's headings as before 30: without the triggers this plan installs on them (``naming.own_trigger_prefix``,
    as ops/invariants.py tells ours from a foreign trigger). Read after 30 they would change the migration's hash,
    and files generated again then (a chunk setting changed, files lost) would refuse to build on the files applied
    before them."""
    own = own_trigger_prefix(plan_name)
    if not any(tr.name.startswith(own) for s in catalog.schemas for t in s.tables for tr in t.triggers):
        return catalog
    schemas = tuple(replace(s, tables=tuple(replace(t, triggers=tuple(tr for tr in t.triggers
                                                                          if not tr.name.startswith(own)))
                                            for t in s.tables)) for s in catalog.schemas)
    return replace(catalog, schemas=schemas)


def migration_hash(plan: Plan, catalog: Catalog) -> str:
    """What every installed object is tagged with: the plan and v1's definitions together."""
    return hashlib.sha256(f"{plan_hash(plan)}:{definition_hash(catalog)}".encode()).hexdigest()[:12]


class Migration:
    """One plan on one set of headings: its model, its context for the engines, its files."""

    def __init__(self, plan: Plan, catalog: Catalog):
        self.plan = plan
        self.catalog = catalog = without_own_triggers(catalog, plan.name)
        self.dialect = dialect_for(catalog.server)
        self.built: Built = build_model(plan, catalog)
        self.hash = migration_hash(plan, catalog)
        # two-way sync (issue 24): each table's direction; the two-way ones written only where they differ, and
        # their v1 tables as targets of v2 for the reverse triggers (None for a one-way plan)
        self.directions = directions(plan, self.built.model, self.built.operations)
        two_way = {d.target_id for d in self.directions if d.two_way}
        model = forward_two_way(self.built.model, two_way)
        # the plan's data checks, and the round trip of each two-way table (reverse(forward(v1)) is v1)
        self.data_checks = (self.built.data_checks + tuple(round_trip_checks(model, two_way))
                            + tuple(inverse_checks(model, two_way)))
        # a lookup of a two-way table goes back through that table's rows: neither one-way nor a v1 table's target
        lookups = lookups_back(self.directions)
        # a 2.x filepath comes forward as the JSON its way back kept (made by 30: not for plan check's round trip)
        model = prefer_kept_json(model, two_way, plan.control)
        self.ctx = Context(model, plan, self.dialect, self.hash, compare_before_write=frozenset(two_way),
                           one_way=tuple((d.target_id, d.why, d.brief) for d in self.directions
                                         if not d.two_way and d.target_id not in lookups),
                           data_checks=self.data_checks, lookups_back=frozenset(lookups))
        back = reverse_model(self.built.model, two_way) if plan.sync == TWO_WAY else None
        # (a merged part's v1 table compares before it writes, as its master's does: model/part_back.py)
        merged = {t.id for t in back.targets if merged_of(t.id)} if back is not None else set()
        self.reverse_ctx = (Context(back, plan, self.dialect, self.hash,
                                    compare_before_write=frozenset(two_way | merged), reverse=True,
                                    lookup_tables=tuple(sorted(model.target(i).ref for i in lookups)))
                            if plan.sync == TWO_WAY else None)

    @property
    def notes(self) -> list[str]:
        """What cannot be carried back from v2 to v1, for plan check and the runbook: not the changes of a table that
        syncs both ways (two-way undoes them: a dropped column takes its v1 default)."""
        two_way = self.ctx.compare_before_write
        return [f"{op.plan_key}: cannot be reversed: {op.irreversible}" for op in self.built.operations
                if op.irreversible and getattr(op, "target_id", None) not in two_way]

    @property
    def targets(self):
        return self.built.model.ordered()

    @property
    def retired(self) -> list[str]:
        """v1 tables of the plan that no v2 table reads (dropped from v2)."""
        read = {r for t in self.built.model.targets for r in t.reads}
        return [f"{s.source}.{t.name}" for s in self.built.model.schemas for t in self.catalog.schema(s.source).tables
                if not any(r.schema == s.source and r.name == t.name for r in read)]

    def files(self) -> list[PhaseFile]:
        return phase_files(self.ctx, self.data_checks, tuple(self.attachments), self.reverse_ctx,
                           tuple(self.attachments_back))

    def side_files(self) -> list[PhaseFile]:
        """Two-way plans: sides/close_v1.sql … (phases/sides.py), outside the phase sequence."""
        return side_files(self.ctx, self.reverse_ctx)

    @property
    def attachments(self) -> list:
        """The 0.14 attach@store sources whose files 2.x reads only rewritten (files_manifest.sql lists them)."""
        return attachment_sources(self.built.model, self.built.operations)

    @property
    def attachments_back(self) -> list:
        """Two-way: the v1 external tables 2.x attachments go back into (files_back_manifest.sql lists their files)."""
        if self.reverse_ctx is None:
            return []
        return attachments_back(self.built.model, self.built.operations, self.ctx.compare_before_write)

    def meta(self) -> dict[str, str]:
        return {"plan": self.plan.name, "plan_hash": plan_hash(self.plan), "heading_hash": definition_hash(self.catalog),
                "migration_hash": self.hash, "tool_version": __version__,
                "server": f"{self.catalog.server.flavour} {self.catalog.server.version}"}


def generate(migration: Migration, out_dir: Path, plan_path: str = "plan.yaml") -> list[Path]:
    """Write every file of ``migration`` into ``out_dir``; the same input gives byte-identical files."""
    files = migration.files()
    meta = migration.meta()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "rollback").mkdir(exist_ok=True)
    written = []
    for pf in files + migration.side_files():
        path = out_dir / pf.path
        path.parent.mkdir(exist_ok=True)
        path.write_text(render_file(pf, meta), encoding="utf-8")
        written.append(path)
    sources = migration.attachments
    if sources:  # 0.14 attachments in a store: 2.x reads them only rewritten (`djsqlgen files` does it)
        path = out_dir / MANIFEST_FILE
        path.write_text(manifest_sql(migration.plan.name, sources), encoding="utf-8")
        written.append(path)
    back = migration.attachments_back
    if back:  # two-way: 2.x's attachments, written for 0.14 by `djsqlgen files --reverse`
        path = out_dir / BACK_MANIFEST_FILE
        path.write_text(back_manifest_sql(migration.plan.name, back), encoding="utf-8")
        written.append(path)
    filepaths = filepaths_back(migration.ctx.model, migration.ctx.compare_before_write)
    if filepaths:  # two-way: the files 2.x's filepaths name, read by `djsqlgen files --reverse` for contents_hash
        path = out_dir / FILEPATH_BACK_MANIFEST_FILE
        path.write_text(filepath_back_manifest_sql(migration.plan.name, filepaths), encoding="utf-8")
        written.append(path)
    written.append(write_runbook(out_dir, migration, files, meta, plan_path))
    manifest = {
        **meta,
        "files": [p.relative_to(out_dir).as_posix() for p in written
                  if p.suffix == ".sql" and not {"rollback", "sides"} & set(p.relative_to(out_dir).parts)
                  and p.name not in (MANIFEST_FILE, BACK_MANIFEST_FILE, FILEPATH_BACK_MANIFEST_FILE)],
        # newest first: the order a full rollback applies them in
        "rollback_files": sorted((p.relative_to(out_dir).as_posix() for p in written if "rollback" in p.parts),
                                 reverse=True),
        # two-way plans: close or reopen one side, applied one by one when the lab chooses (never by `apply DIR`)
        **({"side_files": [p.relative_to(out_dir).as_posix() for p in written if "sides" in p.relative_to(out_dir).parts]}
           if migration.reverse_ctx is not None else {}),
        # `djsqlgen apply DIR/rollback` reads its phase log to stop before undoing a cut-over or a contract
        "control_schema": migration.ctx.control,
        "tables": [{"v2": t.label, "from_v1": t.source.driving.label, "id": t.id,
                    "key_map": {"aligned": t.key_map.aligned, "proof": t.key_map.proof}} for t in migration.targets],
        "retired_v1_tables": migration.retired,
    }
    if sources:  # where `djsqlgen files` records the attachments it put in place (70 reads the record)
        manifest["control_schema"] = migration.plan.control
    if migration.plan.preset is not None:  # what the lab's DataJoint 2.x code declares for each v2 table
        from djsqlgen.presets.definitions import dj2_definitions

        manifest["dj2_definitions"] = [asdict(d) for d in dj2_definitions(migration.built.model)]
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    written.append(out_dir / "manifest.json")
    return written


__all__ = ["Migration", "definition_hash", "generate", "migration_hash"]
