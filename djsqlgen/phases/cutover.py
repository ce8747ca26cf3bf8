"""70 cut-over: v2 becomes primary (v1 guarded or parked, v2 tracked, optional renames); its rollback gives v1
back its writes, refusing while v2 holds rows written since (or giving them up when told). The renames, triggers
and counters both use are in cutover_steps.py. A two-way plan's cut-over only closes v1 by its sides row (v2 keeps
syncing into it), and its rollback only reopens it (phases/two_way.py)."""

from __future__ import annotations

from dataclasses import replace

from djsqlgen.engines import expand, files, guards, lineage, sides, triggers
from djsqlgen.model.target import TableRef
from djsqlgen.phases import two_way
from djsqlgen.phases.builder import FileBuilder, table_exists
from djsqlgen.phases.cutover_steps import (
    archive_charsets,
    counters_to_v1,
    counters_to_v2,
    cutover_parking,
    discard_v2_writes,
    dualwrite_events,
    guard_statements,
    in_place,
    inserted_rows,
    lineage_renames,
    on_parked_or_final,
    record_inserted,
    rename,
    renames,
    tracker_statements,
    untracked_inserts,
)
from djsqlgen.phases.shared import EVENTS, NOTHING_TO_UNDO, Phases
from djsqlgen.sqltext import expected, naming
from djsqlgen.sqltext.guard import MESSAGE_LIMIT
from djsqlgen.sqltext.quoting import quote_literal, quote_qualified
from djsqlgen.sqltext.statements import Check, Owned, Statement

NUMBER, NAME, TITLE = "70", "cutover", "Cut-over"
PURPOSE = "Make v2 primary: v1 writes fail from now on with a message naming v2; optional renames."
RERUN = "Safe to run again: each step runs only when not done yet."


def removes(phases: Phases) -> str:
    v1, v2 = ", ".join(phases.v1_schemas()), ", ".join(phases.v2_schemas())
    if phases.reverse is not None:
        return (f"the cut-over of a two-way plan: v1 ({v1}) takes its clients' writes again; v2 ({v2}) keeps taking "
                "writes and syncing both ways. Nothing v2 took since is lost: the sync carried it into v1")
    return (f"the cut-over: v1 ({v1}) takes writes again and v2 ({v2}) is no longer primary (v2's write trackers "
            "and v1's guards go, names as before 70). It refuses while v2 holds rows written after the cut-over; "
            "told to give them up, it lists their keys and computes those rows again from v1")


def forward(phases: Phases) -> FileBuilder:
    f, fn = phases.file("70"), "70_cutover.sql"
    ctx = phases.ctx
    f.no_wait_ddl("CREATE/DROP TRIGGER and RENAME")
    privileges = [(p, s, None) for s in phases.v1_schemas() + phases.v2_schemas() for p in ("ALTER", "DROP", "TRIGGER")]
    privileges += [(p, s, None) for spec in phases.model.schemas for s in (spec.archive, spec.final)
                   if s and phases.plan.cutover.rename_to_final
                   for p in ("CREATE", "INSERT", "TRIGGER", "ALTER", "DROP")]  # ALTER, DROP: renames in it
    if phases.reverse is not None:  # two-way: its sides row alone
        privileges = [("UPDATE", ctx.control, None)]
    run = ctx.control_table("verify_run")
    phases.common_refusals(f, "60", [
        *([guards.binlog_trust(ctx, fn)] if phases.reverse is None else []),  # two-way: no trigger DDL
        guards.backfill_done(ctx, fn),
        Check(f"{phases.phase_pending('70')} AND NOT EXISTS (SELECT 1 FROM {run} WHERE finished_at IS NOT NULL "
              f"AND bad_chunks = 0 AND plan_hash = {quote_literal(ctx.migration_hash)} AND run_id = "
              f"(SELECT MAX(run_id) FROM {run}))",
              f"djsqlgen refused {fn}: the last verify run did not find v2 equal to transform(v1), did not "
              "finish, or v2 changed since (a cut-over was rolled back); run `djsqlgen verify PLAN` "
              "(or 50_verify.sql) and fix every difference first",
              "cut over only to a v2 proven equal to transform(v1)"),
        # replace: a check that computes what it names first (FOUND, message_sql) keeps doing so
        *[replace(c, fails_when=f"{phases.phase_pending('70')} AND ({c.fails_when})")
          for c in phases.v1_drift(fn, parked_ok=True) + phases.data_refusals(fn)],
        *phases.outside_references(fn),
        *_attachments_pending(phases, fn),
        *_attachments_back_pending(phases, fn),
        *_filepaths_back_pending(phases, fn),
        *(two_way.cutover_refusals(ctx, phases.phase_pending("70"), fn) if phases.reverse is not None else []),
        *f.require(privileges)])
    where = {s: s for s in phases.v1_schemas()}
    park, archive, final = renames(phases)
    cut_over = guards.applied(ctx, "70")  # logged by the same procedure as the last rename
    if phases.reverse is not None:  # two-way: v1's row alone; v2's triggers keep carrying its writes into v1
        f.steps(two_way.closing_v1(ctx, fn))
        f.log()
        return f
    f.add(*_new_schemas(phases, f))
    # v1 closes by its sides row first, whatever the layout: a row update that waits only for the transactions that
    # wrote v1 (each holds the row shared to its end: engines/sides.py), 1 s at a time; every later one reads "closed".
    f.steps([sides.close(ctx, "v1", fn)])
    dualwrite_drops = [s for r, _, n in phases.triggers
                       for s in f.dropping(Owned("trigger", r.schema, n, r.name), triggers.drop(ctx, r, n),
                                           "stop the v1→v2 sync: v1 is read-only from here on")]
    # v2 reaches its final names only once its trackers are on it: it first moves to its final schema under
    # parking names no user writes to (a table with triggers cannot move to another schema, error 1435;
    # triggers do follow a rename inside a schema). So no write to v2 goes unrecorded.
    to_parking = cutover_parking(phases)
    from_parking = [(p, b) for (_, p), (_, b) in zip(to_parking, final)]
    parked = dict(to_parking)
    now = {t.id: parked.get((t.schema, t.name), (t.schema, t.name)) for t in phases.targets}
    if in_place(phases):
        # Nothing moves: v1 stays closed by its row (its dual-write triggers and 30's guards refuse every write), v2's
        # trackers have been on it since 30 and record from the close on (rollback/70 finds v2's new rows by an
        # anti-join, a lookup's by its INSERT tracker). No DDL on a table writers hold.
        f.steps(counters_to_v2(phases, {s: s for s in where}, now, cut_over))
        f.log()
        return f
    if not park:
        # v1 stays where users write: guard it first, so no write slips through between the two triggers.
        for s in guard_statements(phases, where):
            f.add(*f.creating(s, only_if_new=False))
        if not final:  # v2 keeps its names: track it before anything else changes
            for _, s in tracker_statements(phases, now):
                f.add(*f.creating(s, only_if_new=False))
        steps = list(dualwrite_drops)
        if final:
            steps.append(rename(phases, "v2_to_parking", to_parking, "v2 to its final schema under parking names, "
                                                                   "in one atomic step", cut_over))
        else:  # v1 takes no writes any more (guarded): its counter is final
            steps += counters_to_v2(phases, {s: s for s in where}, now, cut_over)
        f.steps(steps)
    else:
        steps = [rename(phases, "park_v1", park, "park v1 under other names in its schema, in one atomic step: "
                                               "from here on writers to v1 fail (the table is not there) instead of "
                                               "writing rows v2 would miss", cut_over)]
        steps += dualwrite_drops  # a table with triggers cannot move to another schema (error 1435)
        steps.append(rename(phases, "final_names", archive + to_parking,
                                  "in one atomic step: v1 to its archive, v2 to its final schema under parking "
                                  "names", cut_over))
        archive_of = {spec.source: spec.archive for spec in phases.model.schemas if spec.archive}
        if not final:  # else just before v2 takes its final names, below
            steps += counters_to_v2(phases, {k: archive_of.get(k, k) for k in where}, now, cut_over)
        f.steps(steps)
        for s in guard_statements(phases, {k: archive_of.get(k, k) for k in where}):
            f.add(*f.creating(s, only_if_new=False))
    if final:
        for t, s in tracker_statements(phases, now):
            first, *rest = on_parked_or_final(phases, s, now[t.id], phases.v2_home(t))
            f.add(*f.creating(first, only_if_new=False), *rest)
        # the log in the same procedure as the rename: once v2 has its names, 70 counts as applied
        lineage_moves, renamed = lineage_renames(phases)
        archive_of = {spec.source: spec.archive for spec in phases.model.schemas if park and spec.archive}
        counters = counters_to_v2(phases, {s: archive_of.get(s, s) for s in where}, now, cut_over)
        f.steps(counters + [rename(phases, "v2_to_final", from_parking + lineage_moves,
                              "v2 takes its final names, trackers on it, in one atomic step: users' writes to v2 "
                              "start here", cut_over),
                 f.log_statement()])
        for _, (schema, _) in lineage_moves:
            f.add(*lineage.rename_origins(phases.ctx, schema, renamed, "DataJoint 2.x's lineage names the schemas "
                                                                     "by their final names"))
        f.add(*archive_charsets(phases, to_v2=True))
    else:
        f.log()
    return f


def rollback(phases: Phases) -> FileBuilder:
    f, fn = phases.file("70", rollback=True), "rollback/70_cutover.sql"
    if phases.reverse is not None:
        return _two_way_rollback(phases, f, fn)
    ctx = phases.ctx
    writes = ctx.control_table("v2_writes")
    objects = ctx.control_table("objects")
    # v2's inserts after the cut-over (no tracker records them: cutover_steps.in_place_events) by anti-join, read
    # only while every v2 table stands at its own name: a run stopped after parking v2 finds them after the park
    # (record_inserted), and a table read here by a name it does not have would fail the refusal with 1146
    untracked = untracked_inserts(phases)
    inserted = " OR\n      ".join(
        f"EXISTS (SELECT 1 {' '.join(line.strip() for line in inserted_rows(t).splitlines())})" for t in untracked)
    unparked = " AND ".join(table_exists(t.schema, t.name) for t in untracked)
    # which tables hold them, for the DBA deciding whether to give them up (read again only when refusing)
    listing = ", ".join(f"IF(EXISTS (SELECT 1 {' '.join(line.strip() for line in inserted_rows(t).splitlines())}), "
                        f"{quote_literal(f'{t.schema}.{t.name}')}, NULL)" for t in untracked)
    way_out = quote_literal("; v1 never saw them. To roll back anyway and give them up, run "
                            "SET @djsqlgen_discard_v2_writes = 'yes'; first (or djsqlgen apply --discard-v2-writes)")
    said = [quote_literal(f'djsqlgen refused {fn}: v2 holds writes made after cut-over ('),
            f"(SELECT COUNT(*) FROM {writes})",
            quote_literal(f" recorded in {ctx.control}.v2_writes, and any rows v1 never had)"), way_out]
    refused = f"CONCAT({', '.join(said)})"
    # with the tables that hold rows v1 never had, named before the way out (the message limit would cut them after)
    recorded = quote_literal(f" recorded in {ctx.control}.v2_writes; rows v1 never had in ")
    named_refusal = f"CONCAT({', '.join(said[:2])}, {recorded}, CONCAT_WS(', ', {listing}), ')', {way_out})"
    phases.common_refusals(f, None, [
        Check(f"NOT {guards.applied(ctx, '70', same_plan=False)} AND NOT EXISTS (SELECT 1 FROM {objects} WHERE "
              f"created_by = '70_cutover.sql') AND {sides.is_open_sql(ctx, 'v1')}",
              f"{NOTHING_TO_UNDO} {fn}: 70_cutover.sql did not run", "the cut-over left nothing to undo"),
        guards.binlog_trust(ctx, fn),
        *_cutover_half_done(phases, fn),
        Check(f"EXISTS (SELECT 1 FROM {writes}) AND COALESCE(@djsqlgen_discard_v2_writes, '') <> 'yes'",
              "djsqlgen refused: v2 holds rows written after cut-over", "rolling back would silently discard "
              "writes users made to v2", message_sql=refused),
        *([Check(f"({inserted}) AND COALESCE(@djsqlgen_discard_v2_writes, '') <> 'yes'",
                 "djsqlgen refused: v2 holds rows inserted after cut-over", "rolling back would silently discard "
                 "rows users inserted into v2", only_if=unparked, message_sql=named_refusal)] if inserted else [])])
    park, archive, final = renames(phases)
    for spec in phases.model.schemas:  # 80 drops the emptied versioned schemas: v2 needs them back
        if final and spec.final and spec.final != spec.target:
            f.add(*f.creating(expand.create_schema(ctx, spec.target, *phases.v2_charset(spec.source),
                                                   spec.source)))
    # First v2 is parked under other names where it stands: from here on no user writes to it, so none can slip
    # in untracked between dropping its trackers (which a move to another schema needs) and its move back.
    v2_park, v2_back = [], []
    for t in phases.targets:
        schema, name = phases.v2_home(t)
        parked = naming.v2_parking_name(name, "rollback")
        v2_park.append(((schema, name), (schema, parked)))
        v2_back.append(((schema, parked), (t.schema, t.name)))
    lineage_moves, renamed = lineage_renames(phases)
    v2_back += [(b, a) for a, b in lineage_moves]
    steps = [rename(phases, "park_v2", v2_park, "park v2 in one atomic step: users' writes to it stop here (they "
                                              "fail: the table is not there), before its trackers go"),
             *record_inserted(phases, {t.id: parked for t, (_, parked) in zip(phases.targets, v2_park)}),
             _writes_since_check(phases, v2_park, message_sql=refused)]
    for t, (_, (schema, _parked)) in zip(phases.targets, v2_park):
        if in_place(phases):
            break  # v2's trackers are 30's, and record nothing once v1 is open again
        for event in EVENTS:
            trig = naming.tracker_trigger_name(phases.plan.name, t.name, event)
            steps += f.dropping(Owned("trigger", schema, trig, phases.v2_home(t)[1]),
                                f"DROP TRIGGER IF EXISTS {quote_qualified((schema, trig))}",
                                "v2 is no longer primary (a table with triggers cannot move either)")
    by_source = {spec.source: spec for spec in phases.model.schemas}
    guard_drops = []
    carried = dualwrite_events(phases)
    for ref in phases.v1_tables():
        home = by_source[ref.schema].archive if park and by_source[ref.schema].archive else ref.schema
        for event in EVENTS:
            if in_place(phases) and (ref, event) not in carried:
                continue  # 30's guard of a write no dual-write trigger sees: it stays, idle while v1 is open
            g = naming.guard_trigger_name(phases.plan.name, ref.name, event)
            guard_drops += f.dropping(Owned("trigger", home, g, ref.name),
                                      f"DROP TRIGGER IF EXISTS {quote_qualified((home, g))}",
                                      "v1 takes writes again (its dual-write triggers are back)")
    if park:
        steps += guard_drops
        # v2 leaves first: InnoDB foreign-key names are unique per schema, and v1 coming into its parking names
        # in the source schema carries the same names as v2 parked there
        steps.append(rename(phases, "back_to_parked", v2_back + [(b, a) for a, b in archive],
                                  "in one atomic step: v2 back to its versioned names, v1 out of the archive "
                                  "into its parking names"))
        f.steps(steps)
        for s in triggers.create_all(ctx):  # onto the parked tables: triggers follow a rename in the schema
            parked_sql = s.sql
            for a, b in park:
                parked_sql = parked_sql.replace(f"ON {quote_qualified(a)}\n", f"ON {quote_qualified(b)}\n")
            f.add(*f.creating(Statement(s.id, parked_sql, s.comment, compound=True, creates=s.creates),
                              only_if_new=False))
        counters = counters_to_v1(phases, {TableRef(*a): b for a, b in park})  # v1 parked, v2 back: no writers
        f.steps(counters + [sides.reopen(ctx, "v1", fn), rename(phases, "unpark_v1", [(b, a) for a, b in park],
                                         "v1 back under its own names, its dual-write triggers already on it")])
        _discard(phases, f)
    else:
        steps.append(rename(phases, "v2_back", v2_back, "v2 back to its versioned names"))
        f.steps(steps)
        for s in triggers.create_all(ctx):  # while the guards still refuse writes: no gap
            f.add(*f.creating(s, only_if_new=False))
        # rows users inserted into v2 since it took its names back are given up with the other writes recorded since
        f.steps(record_inserted(phases, {t.id: (t.schema, t.name) for t in phases.targets}))
        _discard(phases, f)
        # v1 opens by its row once its dual-write triggers are on it (80 dropped them; they are back above)
        f.steps(counters_to_v1(phases, {ref: (ref.schema, ref.name) for ref in phases.v1_tables()})
                + [sides.reopen(ctx, "v1", fn)] + guard_drops)
    f.add(*archive_charsets(phases, to_v2=False))
    for (schema, _), _ in lineage_moves:  # back in its versioned schema
        f.add(*lineage.rename_origins(ctx, schema, [(new, old) for old, new in renamed],
                                      "DataJoint 2.x's lineage names the schemas by their versioned names again"))
    f.steps(phases.drop_empty_schemas(f, _cutover_schemas(phases), "cut-over created it; it is empty again"))
    run = ctx.control_table("verify_run")
    f.add(Statement("v2_writes_given_up", f"SELECT target_id AS v2_table, row_key AS given_up_key FROM {writes}\n"
                                          "ORDER BY target_id, written_at",
                    "the keys of the v2 rows written after cut-over that were given up (none: no output)"),
          Statement("verify_stale", f"INSERT INTO {run} (plan_hash, started_at, finished_at, bad_chunks)\n"
                                    f"SELECT {quote_literal(ctx.migration_hash)}, NOW(6), NOW(6), -1 FROM DUAL"
                                    + ("" if in_place(phases) else f" WHERE EXISTS (SELECT 1 FROM {writes})"),
                    "the last verify no longer holds (70 wants a new one): v2 took users' writes until v1 reopened "
                    "a moment ago, and a row inserted then is recorded by no trigger" if in_place(phases) else
                    "v2 changed if writes were given up: the last verify no longer holds (70 wants a new one)"),
              Statement("v2_writes_clear", f"DELETE FROM {writes}", "forget the writes given up (if any)"))
    f.log()
    return f


def _two_way_rollback(phases: Phases, f: FileBuilder, fn: str) -> FileBuilder:
    """rollback/70 of a two-way plan: v1 takes its clients' writes again, and nothing is refused for v2's writes
    since the cut-over: the sync carried those of two-way tables into v1 as they happened, and one-way v2 tables
    took none (W7). 70 changed only v1's sides row, so that is all this file changes."""
    ctx = phases.ctx
    closed_by_70 = (f"EXISTS (SELECT 1 FROM {sides.sides_table(ctx)} WHERE side = 'v1' AND is_open = 0 "
                    f"AND closed_by = '70_cutover.sql')")  # 70 stopped before its log: v1 closed all the same
    phases.common_refusals(f, None, [
        Check(f"NOT {guards.applied(ctx, '70', same_plan=False)} AND NOT {closed_by_70}",
              f"{NOTHING_TO_UNDO} {fn}: 70_cutover.sql did not run (a v1 closed by `djsqlgen close v1` reopens by "
              "`djsqlgen reopen v1`)", "the cut-over left nothing to undo")])
    f.steps([sides.reopen(ctx, "v1", fn)])
    f.log()
    return f


def _attachments_pending(phases: Phases, filename: str) -> list[Check]:
    """70 refuses while an attachment of the manifest is not recorded in place by `djsqlgen files`: 2.x could
    not read it from v2 once v2 is primary."""
    if not phases.attachments:
        return []
    return [Check(f"{phases.phase_pending('70')} AND {files.pending_sql(phases.ctx.control, list(phases.attachments))}",
                  f"djsqlgen refused {filename}: run `djsqlgen files` first: files_manifest.sql lists 0.14 "
                  "attachments not yet in 2.x's form",
                  "2.x reads an attach@store value only from the file `djsqlgen files` writes")]


def _attachments_back_pending(phases: Phases, filename: str) -> list[Check]:
    """Two-way: 70 refuses while v1 refers to a 2.x attachment whose 0.14 file `djsqlgen files --reverse` has not
    written: 0.14 cannot fetch it (its ~external row has no attachment_name yet: model/external_back.py)."""
    if not phases.attachments_back:
        return []
    return [Check(f"{phases.phase_pending('70')} AND {files.back_pending_sql(list(phases.attachments_back))}",
                  f"djsqlgen refused {filename}: run `djsqlgen files --reverse` first: 0.14 cannot read the 2.x "
                  "attachments it lists",
                  "0.14 reads a 2.x attachment only from the file `djsqlgen files --reverse` writes")]


def _filepaths_back_pending(phases: Phases, filename: str) -> list[Check]:
    """Two-way: 70 refuses while v1 refers to a 2.x filepath whose contents_hash `djsqlgen files --reverse` has not
    filled: 0.14's fetch fails its checksum (model/external_back.py)."""
    back = files.filepaths_back(phases.model, phases.ctx.compare_before_write) if phases.reverse is not None else []
    if not back:
        return []
    return [Check(f"{phases.phase_pending('70')} AND {files.filepath_back_pending_sql(back)}",
                  f"djsqlgen refused {filename}: run `djsqlgen files --reverse` on {files.FILEPATH_BACK_MANIFEST_FILE} "
                  "first",
                  "0.14 fetches a 2.x filepath only once `djsqlgen files --reverse` has filled its contents_hash")]


def _cutover_half_done(phases: Phases, filename: str) -> list[Check]:
    """70 stopped between moving v2 to its final schema under parking names and giving it its final names:
    finishing it is the way back (this file undoes a whole cut-over, not that state)."""
    parked = [p for _, p in cutover_parking(phases)]
    if not parked:
        return []
    return [expected.any_present("TABLES", parked,
                                 f"djsqlgen refused {filename}: 70_cutover.sql stopped halfway (v2 waits under "
                                 f"parking names in {parked[0][0]}); apply 70_cutover.sql again to finish it, then "
                                 "this file", "rollback/70 undoes a finished cut-over")]


def _writes_since_check(phases: Phases, v2_park, message_sql: str) -> Statement:
    """Right after parking v2: writes recorded since the refusal at the top (made while this file ran) are
    refused the same way, with v2 given back to its users first."""
    writes = phases.ctx.control_table("v2_writes")
    back = ",\n    ".join(f"{quote_qualified(b)} TO {quote_qualified(a)}" for a, b in v2_park)
    return Statement(
        "refuse.v2_written_meanwhile",
        f"IF EXISTS (SELECT 1 FROM {writes}) AND COALESCE(@djsqlgen_discard_v2_writes, '') <> 'yes' THEN\n"
        f"  RENAME TABLE\n    {back};\n"
        f"  SET @djsqlgen_refusal = LEFT({message_sql}, {MESSAGE_LIMIT});\n"
        "  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = @djsqlgen_refusal;\nEND IF",
        "users wrote to v2 while this file started: refuse as above (v2 back under its names, nothing lost)")


def _discard(phases: Phases, f: FileBuilder) -> None:
    """The repair of v2 when its later writes are given up (nothing to do when none was recorded)."""
    f.add(Statement("session.foreign_key_checks_off.discard", "SET SESSION foreign_key_checks = 0",
                    "rows are deleted and computed again in v2: its foreign keys hold again once done"))
    # v2's trackers stay on (30's): the repair is no user's write (and reads v2_writes: 1442)
    if in_place(phases):
        f.add(two_way.engine_session(True))
    f.steps(discard_v2_writes(phases))
    if in_place(phases):
        f.add(two_way.engine_session(False))
    f.add(Statement("session.foreign_key_checks_on.discard", "SET SESSION foreign_key_checks = 1", "back to normal"))


def _new_schemas(phases: Phases, f: FileBuilder) -> list[Statement]:
    """Archive and final schemas cut-over moves tables into, recorded as ours when it creates them."""
    out = []
    for spec in phases.model.schemas:
        if not phases.plan.cutover.rename_to_final:
            continue
        source = phases.model.v1.schema(spec.source)
        for schema in (spec.archive, spec.final):
            if schema and schema not in (spec.source, spec.target):
                owned = Owned("schema", schema, schema)
                charset, collation = (phases.v2_charset(spec.source) if schema == spec.final
                                      else (source.charset, source.collation))
                out += [f.register(owned, only_if_new=True),
                        Statement(f"schema_create.{schema}", f"CREATE DATABASE IF NOT EXISTS "
                                                             f"{quote_qualified((schema,))} DEFAULT CHARACTER SET "
                                                             f"{charset} COLLATE {collation}",
                                  "where tables move to, with its tables' character set (the default of tables "
                                  "declared there later)")]
    return out


def _cutover_schemas(phases: Phases) -> list[str]:
    return [s for spec in phases.model.schemas if phases.plan.cutover.rename_to_final
            for s in (spec.archive, spec.final) if s and s not in (spec.source, spec.target)]
