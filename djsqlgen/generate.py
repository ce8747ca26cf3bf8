"""Assemble the phase files of DESIGN.md from the operations, render them, and write the directory."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from djsqlgen import __version__
from djsqlgen.catalog.heading import Catalog
from djsqlgen.operations import CopyTable, MigrationContext, build_operations
from djsqlgen.operations.base import exists_in
from djsqlgen.output import naming
from djsqlgen.output.dialect import dialect_for
from djsqlgen.output.render import quote_literal, quote_qualified, render
from djsqlgen.output.sqlfile import render_file
from djsqlgen.output.statements import PhaseFile, Statement
from djsqlgen.plan import Plan, plan_hash


@dataclass(frozen=True)
class Check:
    """A refusal at the top of a file: if ``fails_when`` holds, nothing in the file runs."""

    fails_when: str
    message: str
    why: str


@dataclass
class FileBuilder:
    """Collects one file's statements; guarded steps and checks go into its step procedure."""

    ctx: MigrationContext
    number: str
    name: str
    statements: list[Statement] = field(default_factory=list)

    def add(self, *statements: Statement) -> None:
        self.statements.extend(statements)

    def add_steps(self, steps: list[Statement], checks: list[Check] = ()) -> None:
        """Run ``steps`` in a procedure created, called and dropped by this file, after ``checks``."""
        if not steps and not checks:
            return
        proc = naming.step_procedure(f"{self.number}_{self.name}")
        target = quote_qualified((self.ctx.control, proc))
        body = render("step_proc_create.sql.j2", control=self.ctx.control, proc=proc, plan_name=self.ctx.plan.name,
                      filename=f"{self.number}_{self.name}.sql", checks=list(checks), steps=steps)
        self.add(
            Statement(f"step_drop_stale.{proc}", f"DROP PROCEDURE IF EXISTS {target}", "left over by an interrupted run"),
            Statement(f"step_create.{proc}", body, "the guarded steps of this file; each skips what is already done",
                      compound=True),
            Statement(f"step_call.{proc}", f"CALL {target}()", "run them"),
            Statement(f"step_drop.{proc}", f"DROP PROCEDURE {target}", "clean up"),
        )


PHASE_FILES = (
    ("00", "preflight", "Preflight", "Check the server, privileges, binary logging and the v1 tables; create the control schema."),
    ("10", "expand", "Expand", "Create the v2 schemas and tables (keys and indexes; foreign keys come in 60)."),
    ("20", "routines", "Routines", "Progress and verify tables, and the backfill and verify procedures, in the control schema."),
    ("30", "dualwrite", "Dual write", "Triggers that carry every v1 insert, update and delete into v2."),
    ("40", "backfill", "Backfill", "Copy v1's history into v2 in chunks, in dependency order; resumable."),
    ("50", "verify", "Verify", "Checksum every v2 table against transform(v1), chunk by chunk; report."),
    ("60", "constraints", "Constraints", "Add v2's foreign keys and unique indexes; the server checks every row."),
    ("70", "cutover", "Cut-over", "Stop the v1→v2 sync and make v2 primary (optionally renaming schemas)."),
    ("80", "contract", "Contract", "Remove triggers, routines and the control schema; retire v1 as the plan says."),
)

RERUN = {
    "00": "Safe to run again: checks only, and CREATE … IF NOT EXISTS.",
    "10": "Safe to run again: CREATE … IF NOT EXISTS; existing v2 tables are left as they are.",
    "20": "Safe to run again: procedures are replaced, bookkeeping tables and rows kept.",
    "30": "Safe to run again: CREATE TRIGGER IF NOT EXISTS.",
    "40": "Safe to run again: resumes from the checkpoints; finished tables are skipped.",
    "50": "Safe to run again: each run is recorded separately.",
    "60": "Safe to run again: each constraint is added only when missing.",
    "70": "Safe to run again: each rename runs only when its source still exists.",
    "80": "Safe to run again: DROP … IF EXISTS.",
}


class Generator:
    """Builds every forward and rollback file for one plan and one set of headings."""

    def __init__(self, plan: Plan, catalog: Catalog):
        self.plan = plan
        self.catalog = catalog
        self.dialect = dialect_for(catalog.server)
        self.ctx, self.operations = build_operations(plan, catalog, self.dialect)
        self.copies = [op for op in self.operations if isinstance(op, CopyTable)]
        self.control = plan.control

    # -- helpers -----------------------------------------------------------------------------
    def _q(self, *parts: str) -> str:
        return quote_qualified(parts)

    def _phase_done(self, number: str, name: str) -> Statement:
        return Statement(
            f"phase_log.{number}",
            f"INSERT INTO {self._q(self.control, 'phase_log')} (phase, file, applied_at)\n"
            f"VALUES ({quote_literal(number)}, {quote_literal(f'{number}_{name}.sql')}, NOW(6))\n"
            "ON DUPLICATE KEY UPDATE applied_at = VALUES(applied_at)",
            "record that this phase was applied (djsqlgen status reads it)",
        )

    def _phase_undone(self, number: str) -> Statement:
        return Statement(f"phase_unlog.{number}",
                         f"DELETE FROM {self._q(self.control, 'phase_log')} WHERE phase = {quote_literal(number)}",
                         "record that this phase was rolled back")

    def _phase_applied(self, number: str) -> str:
        return f"EXISTS (SELECT 1 FROM {self._q(self.control, 'phase_log')} WHERE phase = {quote_literal(number)})"

    def _forward(self, phase: str) -> list[Statement]:
        return [s for op in self.operations for s in op.forward(phase, self.ctx)]

    def _backward(self, phase: str) -> list[Statement]:
        return [s for op in reversed(self.operations) for s in op.rollback(phase, self.ctx)]

    def _table_exists(self, schema: str, table: str) -> str:
        return exists_in("TABLES", {"TABLE_SCHEMA": schema, "TABLE_NAME": table})

    def _schema_has_tables(self, schema: str) -> str:
        return exists_in("TABLES", {"TABLE_SCHEMA": schema})

    def _control_schema(self) -> list[Statement]:
        """The control schema and its phase log: created by 00, and again by the files that drop it."""
        return [
            Statement("control_schema_create", f"CREATE DATABASE IF NOT EXISTS {self._q(self.control)}",
                      "the control schema holds progress, checkpoints, verify results and djsqlgen's procedures"),
            Statement("phase_log_create",
                      f"CREATE TABLE IF NOT EXISTS {self._q(self.control, 'phase_log')} (\n"
                      "  phase CHAR(2) NOT NULL,\n  file VARCHAR(64) NOT NULL,\n  applied_at DATETIME(6) NOT NULL,\n"
                      "  PRIMARY KEY (phase)\n) ENGINE=InnoDB COMMENT='djsqlgen: phases applied'",
                      "which phase files have been applied"),
        ]

    def _all_triggers(self) -> list[tuple[str, str]]:
        return [(op.mapping.source.schema, naming.trigger_name(self.plan.name, op.mapping.source.name, e))
                for op in self.copies for e in ("INSERT", "UPDATE", "DELETE")]

    # -- forward files -------------------------------------------------------------------------
    def preflight(self) -> FileBuilder:
        f = FileBuilder(self.ctx, "00", "preflight")
        f.add(*self._control_schema())
        checks = [
            Check("@@log_bin = 1 AND @@log_bin_trust_function_creators = 0 AND NOT EXISTS (SELECT 1 FROM "
                  "information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SUPER' AND GRANTEE = "
                  "CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), ''''))",
                  "binary logging is on: set log_bin_trust_function_creators=1 (or grant SUPER) to create triggers",
                  "with binary logging on, CREATE TRIGGER needs SUPER or log_bin_trust_function_creators=1 (error 1419)"),
            Check("@@log_bin = 1 AND @@binlog_format <> 'ROW'",
                  "binlog_format is not ROW: set binlog_format=ROW so replicas apply trigger writes identically",
                  "statement-based binary logs replay triggers on replicas, which can diverge"),
        ]
        for op in self.copies:
            t = op.mapping.source
            names = ", ".join(quote_literal(a.name) for a in t.attributes)
            checks.append(Check(
                f"(SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {quote_literal(t.schema)} "
                f"AND TABLE_NAME = {quote_literal(t.name)} AND COLUMN_NAME IN ({names})) <> {len(t.attributes)} OR "
                f"(SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {quote_literal(t.schema)} "
                f"AND TABLE_NAME = {quote_literal(t.name)}) <> {len(t.attributes)}",
                f"{t.schema}.{t.name} differs from the heading: run inspect and generate again"[:128],
                f"{t.full_name} must still have the columns the files were generated from",
            ))
            ours = ", ".join(quote_literal(name) for name in
                             (naming.trigger_name(self.plan.name, t.name, e) for e in ("INSERT", "UPDATE", "DELETE")))
            checks.append(Check(
                f"EXISTS (SELECT 1 FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = {quote_literal(t.schema)} "
                f"AND EVENT_OBJECT_TABLE = {quote_literal(t.name)} AND TRIGGER_NAME NOT IN ({ours}))",
                f"{t.schema}.{t.name} has a trigger djsqlgen did not make; drop or merge it first"[:128],
                "djsqlgen never overwrites or stacks on someone else's trigger",
            ))
        planned = {(m.target_schema, m.target_name) for m in self.ctx.mappings.values()}
        for schema in sorted({s for s, _ in planned}):
            names = ", ".join(quote_literal(t) for s, t in sorted(planned) if s == schema)
            checks.append(Check(
                f"EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {quote_literal(schema)} "
                f"AND TABLE_NAME NOT IN ({names}))",
                f"target schema {schema} holds tables outside the plan; choose another target"[:128],
                "v2 schemas are created by djsqlgen and hold only the plan's tables",
            ))
        f.add_steps([], checks)
        estimates = " UNION ALL\n".join(
            f"SELECT {quote_literal(op.mapping.source.schema)} AS v1_schema, {quote_literal(op.mapping.source.name)} "
            f"AS v1_table, TABLE_ROWS AS estimated_rows FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
            f"{quote_literal(op.mapping.source.schema)} AND TABLE_NAME = {quote_literal(op.mapping.source.name)}"
            for op in self.copies
        )
        if estimates:
            f.add(Statement("row_estimates", estimates, "the size of the work ahead (InnoDB estimates)"))
        f.add(self._phase_done("00", "preflight"))
        return f

    def expand(self) -> FileBuilder:
        f = FileBuilder(self.ctx, "10", "expand")
        for spec in self.plan.schemas:
            source = self.catalog.schema(spec.source)
            f.add(Statement(f"schema_create.{spec.target}",
                            f"CREATE DATABASE IF NOT EXISTS {self._q(spec.target)} "
                            f"DEFAULT CHARACTER SET {source.charset} COLLATE {source.collation}",
                            f"v2 of {spec.source}, with its character set"))
        f.add(*self._forward("expand"))
        f.add(self._phase_done("10", "expand"))
        return f

    def routines(self) -> FileBuilder:
        f = FileBuilder(self.ctx, "20", "routines")
        for i, sql in enumerate(render("control_tables_create.sql.j2", control=self.control).split("-- statement --")):
            f.add(Statement(f"control_table_create.{i}", sql.strip(), "bookkeeping of the control schema"))
        rows = ",\n".join(
            f"({quote_literal(op.keyset.table_id)}, {quote_literal(op.mapping.source.schema)}, "
            f"{quote_literal(op.mapping.source.name)}, {quote_literal(op.mapping.target_schema)}, "
            f"{quote_literal(op.mapping.target_name)}, {i})"
            for i, op in enumerate(self.copies, 1)
        )
        if rows:
            f.add(Statement("progress_rows",
                            f"INSERT IGNORE INTO {self._q(self.control, 'progress')}\n"
                            f"  (table_id, source_schema, source_table, target_schema, target_table, ordinal)\nVALUES\n{rows}",
                            "one progress row per table; IGNORE keeps the checkpoints of an earlier run"))
        f.add(*self._forward("routines"))
        for name, template, extra in (
            ("verify_report", "verify_report_proc_create.sql.j2", {}),
            ("verify_all", "verify_all_proc_create.sql.j2",
             {"procs": [naming.routine_name("verify", op.mapping.source.schema, op.mapping.source.name)
                        for op in self.copies]}),
        ):
            f.add(Statement(f"procedure_drop.{name}", f"DROP PROCEDURE IF EXISTS {self._q(self.control, name)}",
                            "replace an earlier version"),
                  Statement(f"procedure_create.{name}", render(template, control=self.control,
                                                               plan_name=self.plan.name, **extra),
                            f"{name}: {'every table, then the report' if name == 'verify_all' else 'the result of a run'}",
                            compound=True))
        f.add(self._phase_done("20", "routines"))
        return f

    def dualwrite(self) -> FileBuilder:
        f = FileBuilder(self.ctx, "30", "dualwrite")
        f.add(*self._forward("dualwrite"))
        f.add(self._phase_done("30", "dualwrite"))
        return f

    def _triggers_missing(self) -> str:
        pairs = " OR ".join(f"(EVENT_OBJECT_SCHEMA = {quote_literal(s)} AND TRIGGER_NAME = {quote_literal(n)})"
                            for s, n in self._all_triggers())
        return f"(SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE {pairs or 'FALSE'}) <> {len(self._all_triggers())}"

    def _backfill_unfinished(self) -> str:
        return f"EXISTS (SELECT 1 FROM {self._q(self.control, 'progress')} WHERE done = 0)"

    def backfill(self) -> FileBuilder:
        f = FileBuilder(self.ctx, "40", "backfill")
        f.add_steps([], [Check(self._triggers_missing(),
                               "dual-write triggers are missing: apply 30_dualwrite.sql before the backfill",
                               "without the triggers, writes made during the copy would never reach v2")])
        f.add(*self._forward("backfill"))
        f.add(self._phase_done("40", "backfill"))
        return f

    def verify(self) -> FileBuilder:
        f = FileBuilder(self.ctx, "50", "verify")
        f.add(Statement("verify_all", f"CALL {self._q(self.control, 'verify_all')}({self.plan.chunk.verify_rows})",
                        "checksums of every table (one consistent snapshot per chunk), then the report"))
        f.add(self._phase_done("50", "verify"))
        return f

    def constraints(self) -> FileBuilder:
        f = FileBuilder(self.ctx, "60", "constraints")
        f.add_steps(self._forward("constraints"), [Check(
            self._backfill_unfinished(), "the backfill has not finished: run 40_backfill.sql first",
            "foreign keys on a half-copied v2 would reject rows whose parents are not copied yet")])
        f.add(self._phase_done("60", "constraints"))
        return f

    def _last_verify_failed(self) -> str:
        run = self._q(self.control, "verify_run")
        return (f"NOT EXISTS (SELECT 1 FROM {run} WHERE finished_at IS NOT NULL) OR "
                f"(SELECT bad_chunks FROM {run} WHERE finished_at IS NOT NULL ORDER BY run_id DESC LIMIT 1) <> 0")

    def _moves(self) -> tuple[list[tuple[tuple[str, str], tuple[str, str]]], list[tuple[tuple[str, str], tuple[str, str]]]]:
        """Cut-over renames: (park v1 inside its schema), then (parked v1 → archive or back, v2 → final)."""
        park, final = [], []
        for spec in self.plan.schemas:
            schema = self.catalog.schema(spec.source)
            for table in schema.tables:
                parked = naming.cutover_parking_name(table.name)
                park.append(((spec.source, table.name), (spec.source, parked)))
                archive = spec.archive if self.plan.cutover.rename_to_final and spec.archive else None
                final.append(((spec.source, parked), (archive or spec.source, table.name)))
            if self.plan.cutover.rename_to_final:
                for m in self.ctx.mappings.values():
                    if m.target_schema == spec.target:
                        final.append(((m.target_schema, m.target_name), (spec.final, m.target_name)))
        return park, final

    def _rename(self, sid: str, pairs, why: str, done_when: str | None = None) -> Statement:
        """One atomic RENAME TABLE; by default done when its first source no longer exists."""
        body = ",\n  ".join(f"{self._q(*a)} TO {self._q(*b)}" for a, b in pairs)
        return Statement(sid, f"RENAME TABLE\n  {body}", why,
                         done_when=done_when or "NOT " + self._table_exists(*pairs[0][0]))

    def _archive_schemas(self) -> list[str]:
        out = []
        for spec in self.plan.schemas:
            if self.plan.cutover.rename_to_final:
                out += [s for s in (spec.archive, spec.final) if s and s != spec.source]
        return out

    def cutover(self) -> FileBuilder:
        f = FileBuilder(self.ctx, "70", "cutover")
        park, final = self._moves()
        steps = [Statement(f"schema_create.{s}", f"CREATE DATABASE IF NOT EXISTS {self._q(s)}", "where tables move to")
                 for s in self._archive_schemas()]
        # Parked already, or (after a complete run) v1's name may now belong to v2: never park twice.
        moved_on = (f"NOT {self._table_exists(*final[-1][0])}" if self.plan.cutover.rename_to_final and self.ctx.mappings
                    else self._phase_applied("70"))
        steps.append(self._rename("park_v1", park,
                                  "park the v1 tables under other names in one atomic step: from here on, writers to v1 "
                                  "fail loudly instead of writing rows that would never reach v2",
                                  done_when=f"NOT {self._table_exists(*park[0][0])} OR {moved_on}"))
        steps += [Statement(f"trigger_drop.{s}.{n}", f"DROP TRIGGER IF EXISTS {self._q(s, n)}",
                            "stop the v1→v2 sync (a table with triggers cannot move to another schema)")
                  for s, n in self._all_triggers()]
        steps.append(self._rename("final_names", final,
                                  "in one atomic step: v1 to its archive (or back to its name), v2 to its final name"))
        f.add_steps(steps, [
            Check(self._backfill_unfinished(), "the backfill has not finished: run 40_backfill.sql first",
                  "v2 is missing rows until the backfill finishes"),
            Check(f"{self._table_exists(*park[0][0])} AND ({self._last_verify_failed()})",
                  "no clean verify run: run 50_verify.sql and fix every difference first",
                  "cut over only to a v2 proven equal to transform(v1)"),
        ])
        f.add(self._phase_done("70", "cutover"))
        return f

    def _v2_in_place(self, spec) -> str:
        """True when every v2 table of ``spec`` is where cut-over leaves it (its final or versioned schema)."""
        home = spec.final if self.plan.cutover.rename_to_final else spec.target
        names = [m.target_name for m in self.ctx.mappings.values() if m.target_schema == spec.target]
        if not names:
            return "TRUE"
        listed = ", ".join(quote_literal(n) for n in names)
        return (f"(SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {quote_literal(home)} "
                f"AND TABLE_NAME IN ({listed})) = {len(names)}")

    def contract(self) -> FileBuilder:
        f = FileBuilder(self.ctx, "80", "contract")
        # This file ends by dropping the control schema. Remember whether it was there, so that a second
        # run (control schema already gone) passes the guard instead of refusing.
        f.add(Statement("control_schema_seen",
                        "SET @djsqlgen_control_was_there = (SELECT COUNT(*) FROM information_schema.SCHEMATA "
                        f"WHERE SCHEMA_NAME = {quote_literal(self.control)})",
                        "whether this is the first run (the control schema still exists)"),
              *self._control_schema())
        steps = [Statement(f"trigger_drop.{s}.{n}", f"DROP TRIGGER IF EXISTS {self._q(s, n)}", "no sync is left")
                 for s, n in self._all_triggers()]
        for spec in self.plan.schemas:
            if self.plan.cutover.rename_to_final:
                steps.append(Statement(
                    f"schema_drop.{spec.target}", f"DROP DATABASE IF EXISTS {self._q(spec.target)}",
                    f"{spec.target} is empty: its tables now live in {spec.final}",
                    done_when=self._schema_has_tables(spec.target)))
            if self.plan.contract.drop_v1:
                v1 = spec.archive if self.plan.cutover.rename_to_final and spec.archive else spec.source
                if v1 != spec.final:
                    steps.append(Statement(f"schema_drop.{v1}", f"DROP DATABASE IF EXISTS {self._q(v1)}",
                                           f"retire v1 ({spec.source}) as the plan says (contract.drop_v1); "
                                           "only once every v2 table is in place",
                                           done_when=f"NOT {self._v2_in_place(spec)}"))
        f.add_steps(steps, [Check(f"@djsqlgen_control_was_there = 1 AND NOT {self._phase_applied('70')}",
                                  "cut-over has not been applied: run 70_cutover.sql first",
                                  "contract removes what a rollback needs")])
        f.add(Statement("control_schema_drop", f"DROP DATABASE IF EXISTS {self._q(self.control)}",
                        "routines, progress and verify results are no longer needed"))
        return f

    # -- rollback files ------------------------------------------------------------------------
    def rollbacks(self) -> list[FileBuilder]:
        out = []
        r = FileBuilder(self.ctx, "80", "contract")
        r.add(*self._control_schema())
        r.add_steps([], [Check(" OR ".join(f"NOT EXISTS (SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = "
                                           f"{quote_literal(s)})" for s in self._v1_homes()),
                               "v1 was dropped by contract: restore it from a backup; nothing can be rolled back",
                               "contract.drop_v1 removed v1's data")])
        r.add(*[s for s in self.routines().statements if not s.id.startswith("phase_log")])
        for number, name, *_ in PHASE_FILES[:-1]:
            r.add(self._phase_done(number, name))
        out.append(r)

        r = FileBuilder(self.ctx, "70", "cutover")
        park, final = self._moves()
        r.add_steps([self._rename("final_names_undo", [(b, a) for a, b in final],
                                  "v2 back to its versioned name, v1 back to its parking place, in one step"),
                     self._rename("unpark_v1", [(b, a) for a, b in park], "v1 back under its own names")] + [
            Statement(f"schema_drop.{s}", f"DROP DATABASE IF EXISTS {self._q(s)}",
                      f"{s} was created by the cut-over and is empty again",
                      done_when=self._schema_has_tables(s))
            for s in self._archive_schemas()])
        r.add(*self._forward("dualwrite"))
        r.add(self._phase_undone("70"))
        out.append(r)

        r = FileBuilder(self.ctx, "60", "constraints")
        r.add_steps(self._backward("constraints"))
        r.add(self._phase_undone("60"))
        out.append(r)

        r = FileBuilder(self.ctx, "50", "verify")
        r.add(*[Statement(f"verify_{t}_clear", f"DELETE FROM {self._q(self.control, t)}", f"forget verify results ({t})")
                for t in ("verify_diff", "verify_chunk", "verify_run")])
        r.add(self._phase_undone("50"))
        out.append(r)

        r = FileBuilder(self.ctx, "40", "backfill")
        r.add_steps([], [Check(self._phase_applied("60"), "v2 has its foreign keys: apply rollback/60_constraints.sql first",
                               "emptying v2 tables under foreign keys would fail half-way")])
        r.add(*self._backward("backfill"))
        r.add(self._phase_undone("40"))
        out.append(r)

        r = FileBuilder(self.ctx, "30", "dualwrite")
        r.add(*self._backward("dualwrite"))
        r.add(self._phase_undone("30"))
        out.append(r)

        r = FileBuilder(self.ctx, "20", "routines")
        r.add(*self._backward("routines"))
        r.add(*[Statement(f"procedure_drop.{n}", f"DROP PROCEDURE IF EXISTS {self._q(self.control, n)}", "global procedure")
                for n in ("verify_all", "verify_report")])
        r.add(*[Statement(f"control_table_drop.{t}", f"DROP TABLE IF EXISTS {self._q(self.control, t)}", "bookkeeping")
                for t in ("verify_diff", "verify_chunk", "verify_run", "progress")])
        r.add(self._phase_undone("20"))
        out.append(r)

        r = FileBuilder(self.ctx, "10", "expand")
        r.add_steps([], [Check(self._phase_applied("70"), "cut-over is applied: v2 holds live data; apply rollback/70 first",
                               "after cut-over, v2 is the primary copy")])
        r.add(*[Statement(f"schema_drop.{spec.target}", f"DROP DATABASE IF EXISTS {self._q(spec.target)}",
                          f"v2 of {spec.source}: copies only, v1 is untouched") for spec in self.plan.schemas])
        r.add(self._phase_undone("10"))
        out.append(r)

        r = FileBuilder(self.ctx, "00", "preflight")
        r.add(Statement("control_schema_drop", f"DROP DATABASE IF EXISTS {self._q(self.control)}",
                        "the control schema and everything djsqlgen kept in it"))
        out.append(r)
        return out

    def _v1_homes(self) -> list[str]:
        return [spec.archive if self.plan.cutover.rename_to_final and spec.archive else spec.source
                for spec in self.plan.schemas]

    # -- output -----------------------------------------------------------------------------------
    def files(self) -> list[PhaseFile]:
        builders = [self.preflight(), self.expand(), self.routines(), self.dualwrite(), self.backfill(),
                    self.verify(), self.constraints(), self.cutover(), self.contract()]
        out = []
        for b, (number, name, title, purpose) in zip(builders, PHASE_FILES):
            out.append(PhaseFile(number, name, title, purpose, RERUN[number], tuple(b.statements)))
        for b in self.rollbacks():
            title = next(t for n, _, t, _ in PHASE_FILES if n == b.number)
            out.append(PhaseFile(b.number, b.name, f"Rollback of {title.lower()}",
                                 f"Undo {b.number}_{b.name}.sql.", "Safe to run again: each undo step checks first.",
                                 tuple(b.statements), rollback_of=f"{b.number}_{b.name}.sql"))
        return out


def heading_hash(catalog: Catalog) -> str:
    return hashlib.sha256(catalog.to_json().encode()).hexdigest()[:12]


def generate(generator: Generator, out_dir: Path, plan_path: str = "plan.yaml") -> list[Path]:
    """Write every file of ``generator`` into ``out_dir``; the same input gives byte-identical files."""
    plan, catalog = generator.plan, generator.catalog
    files = generator.files()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "rollback").mkdir(exist_ok=True)
    meta = {"plan": plan.name, "plan_hash": plan_hash(plan), "heading_hash": heading_hash(catalog),
            "tool_version": __version__, "server": f"{catalog.server.flavour} {catalog.server.version}"}
    written = []
    for pf in files:
        path = out_dir / ("rollback/" + pf.filename if pf.rollback_of else pf.filename)
        path.write_text(render_file(pf, meta))
        written.append(path)
    from djsqlgen.output.runbook import write_runbook

    written.append(write_runbook(out_dir, plan, generator, files, meta, plan_path))
    manifest = {
        **meta,
        "files": [str(p.relative_to(out_dir)) for p in written if p.suffix == ".sql" and "rollback" not in p.parts],
        "rollback_files": [str(p.relative_to(out_dir)) for p in written if "rollback" in p.parts],
        "tables": [{"v1": f"{op.mapping.source.schema}.{op.mapping.source.name}",
                    "v2": f"{op.mapping.target_schema}.{op.mapping.target_name}"} for op in generator.copies],
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    written.append(out_dir / "manifest.json")
    return written
