"""What 70 and rollback/70 both build: the renames and parking names, v1's guard triggers and v2's write
trackers, the AUTO_INCREMENT counters carried across, and the repair of v2 when its later writes are given up."""

from __future__ import annotations

from djsqlgen.catalog.sqltypes import parse_sql_type
from djsqlgen.engines import sides
from djsqlgen.engines.source import from_clause, table_sql, where_clause
from djsqlgen.engines.triggers import KINDS
from djsqlgen.engines.two_way import ENGINE_SESSION
from djsqlgen.engines.values import stored_key
from djsqlgen.model.target import TableRef, Target
from djsqlgen.phases.builder import table_exists
from djsqlgen.phases.shared import EVENTS, Phases
from djsqlgen.presets.lineage import LINEAGE_TABLE
from djsqlgen.sqltext import naming
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal, quote_qualified
from djsqlgen.sqltext.statements import Owned, Statement


def in_place(phases: Phases) -> bool:
    """Whether the cut-over leaves every table where it is (no renames): then it closes v1 by its sides row alone,
    without DDL, and 30 installs v2's write trackers (in_place_events; a renaming cut-over moves tables, which
    triggers cannot follow across schemas, error 1435, so it keeps creating and dropping them)."""
    park, _, final = renames(phases)
    return not park and not final and phases.reverse is None


# An in-place cut-over's v2 write trackers are 30's, installed while no writer holds a v2 table (no DDL on v2 under
# writers later): the UPDATE and DELETE ones, which the backfill fires only for a row the triggers carried first (its
# rows are new to v2). An INSERT tracker would fire for every row the backfill copies (1,000,000 narrow rows: 1.5 s by
# one INSERT…SELECT, 3.7 s with a tracker that returns at its first line; issue 25), and in 60 its CREATE TRIGGER
# needed the v2 table free of writers that never pause (writers_bench: 60 stopped, never free in 120 s). None is
# needed: 70 proves every v2 row is transform(v1)'s and v1 takes no write after it, so a v2 row that transform(v1)
# does not have was inserted after the cut-over, and rollback/70 finds those by an anti-join (inserted_rows). A lookup
# keeps rows no v1 row uses any more (engines/verify.py), which an anti-join cannot tell from new ones: it keeps an
# INSERT tracker from 30, firing once per distinct value the copy adds.
def in_place_events(t: Target) -> tuple[str, ...]:
    """The write trackers 30 puts on ``t`` for a cut-over that renames nothing."""
    return tuple(e for e in EVENTS if e != "INSERT" or t.source.distinct)


def dualwrite_events(phases: Phases) -> set[tuple[TableRef, str]]:
    """(v1 table, INSERT/UPDATE/DELETE) pairs a dual-write trigger sees: its first block refuses them once v1 is
    closed."""
    return {(ref, KINDS[kind][0]) for ref, kind, _ in phases.triggers}


def guard_statements(phases: Phases, where: dict[str, str], only=None, carried_pass: bool = False) -> list[Statement]:
    """BEFORE triggers on the v1 tables (in schema ``where[source]``) that fail every write once v1 is closed (its
    sides row), naming v2. ``only``: a test on (v1 table, event) that picks the pairs wanted. ``carried_pass``: but
    the writes v2's reverse triggers carry (sides.guard_trigger)."""
    out = []
    for ref in phases.v1_tables():
        for event in EVENTS:
            if only is not None and not only((ref, event)):
                continue
            name = naming.guard_trigger_name(phases.plan.name, ref.name, event)
            out.append(sides.guard_trigger(phases.ctx, ref, where[ref.schema], event, name, carried_pass))
    return out


def tracker_statements(phases: Phases, on: dict[str, tuple[str, str]],
                       events=lambda t: EVENTS) -> list[tuple[Target, Statement]]:
    """AFTER triggers on v2 tables that record the key of each row written after cut-over (rollback/70
    refuses while any is recorded). ``on``: where each target's table is while they are created. An UPDATE
    records the old key too (the row left it). One INSERT IGNORE of small rows: writers do not queue on a
    counter. ``events``: the events wanted on a target (an in-place cut-over's: in_place_events)."""
    out = []
    for t in phases.targets:
        schema, name = on[t.id]
        home = phases.v2_home(t)[1]
        for event in events(t):
            images = {"INSERT": ["NEW"], "UPDATE": ["NEW", "OLD"], "DELETE": ["OLD"]}[event]
            rows = ",\n  ".join(f"({quote_literal(t.id)}, MD5({k}), {k}, NOW(6))"
                                for k in (written_key(t, image) for image in images))
            trig = naming.tracker_trigger_name(phases.plan.name, t.name, event)
            # Only while v1 is closed, read with a shared lock like the dual-write triggers (engines/sides.py): a v2
            # write either ends before the close commits (v1 was open: no cut-over yet) or reads "closed" and is
            # recorded. A carried v1 write reads "open" (its transaction holds the row): v1 has that row anyway.
            # The backfill's session (ENGINE_SESSION) skips it before reading anything: a read per copied row
            # would cost the copy more than the copy itself.
            sql = (f"{create_trigger(phases)}{quote_qualified((schema, trig))}\nAFTER {event} ON "
                   f"{quote_qualified((schema, name))}\nFOR EACH ROW\nBEGIN\n  DECLARE v_open TINYINT DEFAULT 1;\n"
                   f"  DECLARE v_since DATETIME(6) DEFAULT NULL;\n  IF {ENGINE_SESSION} IS NULL THEN\n"
                   f"    {sides.read_side(phases.ctx, 'v1').replace(chr(10), chr(10) + '  ')};\n  END IF;\n"
                   f"  IF v_open = 0 THEN\n    INSERT IGNORE INTO {phases.ctx.control_table('v2_writes')} "
                   f"(target_id, key_md5, row_key, written_at)\n    VALUES {rows.replace(chr(10), chr(10) + '  ')};\n"
                   "  END IF;\nEND")
            out.append((t, Statement(f"tracker_create.{schema}.{home}.{event.lower()}", sql,
                                     f"remember v2 rows written after cut-over ({event})", compound=True,
                                     creates=Owned("trigger", schema, trig, home))))
    return out


def on_parked_or_final(phases: Phases, statement: Statement, parked: tuple[str, str],
                       final: tuple[str, str]) -> list[Statement]:
    """A tracker for the parked v2 table, or for the final one when a run of 70 before this one moved it
    there already: on MariaDB a prepared statement chooses, so 70 runs twice without error. (MySQL cannot
    prepare CREATE TRIGGER: there the trigger, already present under its name, is skipped by IF NOT EXISTS.)"""
    if not phases.ctx.dialect.is_mariadb:
        return [statement]
    on_final = statement.sql.replace(f" ON {quote_qualified(parked)}\n", f" ON {quote_qualified(final)}\n")
    sid = statement.id
    return [Statement(f"{sid}.choose", f"SET @djsqlgen_ddl = IF({table_exists(*parked)}, "
                                       f"{quote_literal(statement.sql)}, {quote_literal(on_final)})",
                      statement.comment + ": on the parked table, or on the final one once 70 has run",
                      creates=statement.creates),
            Statement(f"{sid}.prepare", "PREPARE djsqlgen_ddl FROM @djsqlgen_ddl", "—"),
            Statement(f"{sid}.run", "EXECUTE djsqlgen_ddl", "—"),
            Statement(f"{sid}.done", "DEALLOCATE PREPARE djsqlgen_ddl", "—")]


def create_trigger(phases: Phases) -> str:
    """CREATE [OR REPLACE] TRIGGER [IF NOT EXISTS]: a re-run replaces (MariaDB) or keeps (MySQL 8.0.29+)."""
    if phases.ctx.dialect.create_or_replace_trigger:
        return "CREATE OR REPLACE TRIGGER "
    return "CREATE TRIGGER IF NOT EXISTS "


def written_key(t: Target, record: str) -> str:
    """The v2 key of a trigger's row as JSON text; binary columns as hex (JSON holds text)."""
    return key_json(t, [f"{record}.{quote_identifier(c.name)}" for c in t.key_columns])


def key_json(t: Target, values: list[str]) -> str:
    """JSON text of ``values`` (one per key column of ``t``), as the trackers record a key."""
    parts = [f"HEX({v})" if parse_sql_type(c.decl.sql_type).family == "binary" else v
             for c, v in zip(t.key_columns, values)]
    return f"JSON_ARRAY({', '.join(parts)})"


def recorded_keys(phases: Phases, t: Target) -> str:
    """SELECT of the keys of ``t`` recorded in v2_writes, one column ``k_i`` per key column."""
    decoded = ", ".join(
        ("UNHEX({v})" if parse_sql_type(c.decl.sql_type).family == "binary" else "{v}").format(
            v=f"JSON_UNQUOTE(JSON_EXTRACT(row_key, '$[{i}]'))") + f" AS {quote_identifier(f'k_{i}')}"
        for i, c in enumerate(t.key_columns))
    return (f"SELECT {decoded} FROM {phases.ctx.control_table('v2_writes')} "
            f"WHERE target_id = {quote_literal(t.id)}")


def untracked_inserts(phases: Phases) -> list[Target]:
    """The targets whose v2 inserts after an in-place cut-over no tracker records (in_place_events): rollback/70 finds
    them by inserted_rows."""
    return [t for t in phases.targets if "INSERT" not in in_place_events(t)] if in_place(phases) else []


def inserted_rows(t: Target, at: tuple[str, str] | None = None) -> str:
    """FROM … WHERE of the v2 rows of ``t`` that transform(v1) has no row for: inserted after the cut-over, as 70
    proved v2 equal to transform(v1) and v1 took no write since. Keys compared as verify compares them; transform(v1)'s
    keys are materialised once, a read of both tables at a rollback: DISTINCT keeps the optimizer from merging the
    derived table into the join (derived_merge), which for a converted key (latin1 to utf8mb4, say) no index of v1
    serves, so each v2 row scanned v1 (20,000 rows: 22 s, against 0.07 s materialised and indexed as key0).
    ``at``: where the v2 table is (rollback/70 parks it), if not at its own name."""
    keys = t.key_columns
    mapped = ", ".join(f"{stored_key(c)} AS {quote_identifier(f'k_{i}')}" for i, c in enumerate(keys))
    on = " AND ".join(f"m.{quote_identifier(f'k_{i}')} = dst.{quote_identifier(c.name)}" for i, c in enumerate(keys))
    where = f"\n  {where_clause(t)}" if where_clause(t) else ""
    source = from_clause(t).replace("\n", "\n  ")
    return (f"FROM {table_sql(*(at or (t.schema, t.name)))} AS dst\nLEFT JOIN (\n  SELECT DISTINCT {mapped}\n  {source}{where}\n"
            f") AS m ON {on}\nWHERE m.{quote_identifier('k_0')} IS NULL")


def record_inserted(phases: Phases, at: dict[str, tuple[str, str]]) -> list[Statement]:
    """rollback/70: record, as the trackers would have, the keys of the rows inserted into v2 after the cut-over.
    ``at``: where each target's v2 table is (by target id) while this runs."""
    writes = phases.ctx.control_table("v2_writes")
    return [Statement(f"record_inserted.{t.label}",
                      f"INSERT IGNORE INTO {writes} (target_id, key_md5, row_key, written_at)\n"
                      f"SELECT {quote_literal(t.id)}, MD5(k), k, NOW(6) FROM (\n  SELECT "
                      f"{key_json(t, [f'dst.{quote_identifier(c.name)}' for c in t.key_columns])} AS k\n  "
                      f"{inserted_rows(t, at[t.id]).replace(chr(10), chr(10) + '  ')}\n) AS x",
                      f"the rows of {t.label} that users inserted into v2 after the cut-over (no row of v1 maps to "
                      "them)")
            for t in untracked_inserts(phases)]


def cascaded_keys(phases: Phases, child: Target) -> list[Statement]:
    """v2's ON UPDATE CASCADE moved children of written rows without firing a trigger: record, as written,
    every row of ``child`` that references a recorded parent key, in v2 (where the cascade put it) and in
    transform(v1) (where it comes back from). Parents first, so this reaches grandchildren too."""
    out = []
    parents = {t.id: t for t in phases.targets}
    writes = phases.ctx.control_table("v2_writes")
    for fk in child.foreign_keys:
        parent = parents.get(fk.parent)
        if parent is None or not set(fk.ref_columns) <= set(parent.primary_key):
            continue
        index = {c.name: i for i, c in enumerate(parent.key_columns)}
        recorded = recorded_keys(phases, parent)
        on = " AND ".join(f"c.{quote_identifier(col)} = w.{quote_identifier(f'k_{index[ref]}')}"
                          for col, ref in zip(fk.columns, fk.ref_columns))
        in_v2 = key_json(child, [f"c.{quote_identifier(c.name)}" for c in child.key_columns])
        mapped = key_json(child, [c.expr.render() for c in child.key_columns])
        refs = ", ".join(child.column(col).expr.render() for col in fk.columns)
        labels = ", ".join(quote_identifier(f"k_{index[ref]}") for ref in fk.ref_columns)
        insert = f"INSERT IGNORE INTO {writes} (target_id, key_md5, row_key, written_at)\n"
        out += [
            Statement(f"discard_cascaded_v2.{child.label}.{fk.name}",
                      f"{insert}SELECT {quote_literal(child.id)}, MD5(k), k, NOW(6) FROM (\n  SELECT {in_v2} AS k\n"
                      f"  FROM {table_sql(child.schema, child.name)} AS c\n  JOIN ({recorded}) AS w ON {on}\n) AS x",
                      f"rows of {child.label} under a written {parent.label} (v2's cascade may have moved them)"),
            Statement(f"discard_cascaded_v1.{child.label}.{fk.name}",
                      f"{insert}SELECT {quote_literal(child.id)}, MD5(k), k, NOW(6) FROM (\n  SELECT {mapped} AS k\n"
                      f"  {from_clause(child)}\n  {where_clause(child, f'({refs}) IN (SELECT {labels} FROM ({recorded}) AS w)')}"
                      f"\n) AS x",
                      f"and the rows of {child.label} that transform(v1) puts there"),
        ]
    return out


def discard_v2_writes(phases: Phases) -> list[Statement]:
    """Give up the rows written to v2 after cut-over: each recorded key's v2 row is deleted and computed
    again from v1 (where v1 has a row for it), so that v2 is transform(v1) once more. The children v2's
    cascades moved are recorded first. Runs with foreign key checks off (deleted parents come back; v2's
    cascades must not touch children)."""
    cascaded, out = [], []
    for t in phases.targets:
        cascaded += cascaded_keys(phases, t)
        keys = t.key_columns
        written = recorded_keys(phases, t)
        on = " AND ".join(f"dst.{quote_identifier(c.name)} = w.{quote_identifier(f'k_{i}')}"
                          for i, c in enumerate(keys))
        mapped = ", ".join(c.expr.render() for c in keys)
        labels = ", ".join(quote_identifier(f"k_{i}") for i in range(len(keys)))
        values = ",\n  ".join(f"{c.expr.render()} AS {quote_identifier(c.name)}" for c in t.columns)
        updates = ", ".join(f"{quote_identifier(c.name)} = dt.{quote_identifier(c.name)}" for c in t.columns
                            if c.name not in t.primary_key) or \
            f"{quote_identifier(t.primary_key[0])} = dt.{quote_identifier(t.primary_key[0])}"
        target = table_sql(t.schema, t.name)
        out += [
            Statement(f"discard_delete.{t.label}",
                      f"DELETE dst FROM {target} AS dst\nJOIN ({written}) AS w ON {on}",
                      f"the v2 rows of {t.label} written after cut-over go"),
            Statement(f"discard_recompute.{t.label}",
                      f"INSERT INTO {target} ({', '.join(quote_identifier(c.name) for c in t.columns)})\n"
                      f"SELECT * FROM (\n  SELECT\n  {values}\n  {from_clause(t)}\n  "
                      f"{where_clause(t, f'({mapped}) IN (SELECT {labels} FROM ({written}) AS w)')}\n) AS dt\n"
                      f"ON DUPLICATE KEY UPDATE {updates}",
                      "and come back as v1 has them (parents first)"),
        ]
    # deletes children first, recomputes parents first
    deletes = [s for s in reversed(out) if s.id.startswith("discard_delete")]
    return cascaded + deletes + [s for s in out if s.id.startswith("discard_recompute")]


def carry_counter(phases: Phases, into: tuple[str, str], issued_by: list[tuple[str, str]], why: str,
                  done_when: str | None = None) -> Statement:
    """Set ``into``'s AUTO_INCREMENT above every id that it and the tables ``issued_by`` ever handed out: their
    counters, not their largest ids (a row inserted then deleted at the top keeps its id issued). GREATEST with
    its own counter: safe to run twice, never lowers it. The ALTER takes a literal, so a prepared statement; it
    changes metadata only (INPLACE, LOCK=NONE: refused rather than copying the table, on both servers)."""
    counter = "COALESCE((SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND " \
              "TABLE_NAME = {}), 1)"
    counters = ",\n    ".join(counter.format(quote_literal(a), quote_literal(b)) for a, b in [into, *issued_by])
    alter = quote_literal(f"ALTER TABLE {quote_qualified(into)} AUTO_INCREMENT = ")
    # MySQL 8 serves information_schema.TABLES.AUTO_INCREMENT from a cache for information_schema_stats_expiry
    # seconds (a day by default): read it fresh. MariaDB has no such cache (nor the variable).
    fresh = "" if phases.ctx.dialect.is_mariadb else "SET SESSION information_schema_stats_expiry = 0;\n"
    sql = (f"{fresh}SET @djsqlgen_next_id = GREATEST(\n    {counters});\n"
           f"SET @djsqlgen_ddl = CONCAT({alter}, @djsqlgen_next_id, ', ALGORITHM=INPLACE, LOCK=NONE');\n"
           "PREPARE djsqlgen_ddl FROM @djsqlgen_ddl;\nEXECUTE djsqlgen_ddl;\nDEALLOCATE PREPARE djsqlgen_ddl")
    skip = f"NOT {table_exists(*into)}" + (f" OR {done_when}" if done_when else "")
    return Statement(f"counter.{into[0]}.{into[1]}", sql, why, done_when=skip)


def counters_to_v2(phases: Phases, v1_home: dict[str, str], v2_at: dict[str, tuple[str, str]],
                   done_when: str | None = None) -> list:
    """70: each v2 table with an AUTO_INCREMENT column counts on above every id its v1 table issued."""
    return [carry_counter(phases, v2_at[t.id], [(v1_home[t.source.driving.schema], t.source.driving.name)],
                                f"new rows in {t.label} get ids v1 never issued (v1's counter, not its largest id)",
                                done_when)
            for t in phases.targets if any(c.decl.auto_increment for c in t.columns)]


def counters_to_v1(phases: Phases, v1_at: dict[TableRef, tuple[str, str]]) -> list:
    """rollback/70: each v1 table counts on above every id its v2 tables issued after the cut-over."""
    by_v1: dict[TableRef, list[Target]] = {}
    for t in phases.targets:
        if any(c.decl.auto_increment for c in t.columns):
            by_v1.setdefault(t.source.driving, []).append(t)
    return [carry_counter(phases, v1_at.get(ref, (ref.schema, ref.name)), [(t.schema, t.name) for t in targets],
                                f"new rows in v1's {ref.name} get ids v2 never issued")
            for ref, targets in by_v1.items()]


def renames(phases: Phases) -> tuple[list, list, list]:
    """(park v1 in its schema, parked v1 → archive, v2 → final) pairs of cut-over."""
    park, archive, final = [], [], []
    for spec in phases.model.schemas:
        for table in phases.model.v1.schema(spec.source).tables:
            if phases.moves_v1() and spec.archive:
                parked = naming.cutover_parking_name(table.name)
                park.append(((spec.source, table.name), (spec.source, parked)))
                archive.append(((spec.source, parked), (spec.archive, table.name)))
        if phases.plan.cutover.rename_to_final and spec.final and spec.final != spec.target:
            for t in phases.targets:
                if t.schema == spec.target:
                    final.append(((t.schema, t.name), (spec.final, t.name)))
    return park, archive, final


def cutover_parking(phases: Phases) -> list:
    """(v2 table, its parking name in its final schema) pairs: where 70 holds v2 until its trackers are on."""
    return [(a, (b[0], naming.v2_parking_name(b[1], "cutover"))) for a, b in renames(phases)[2]]


def rename(phases: Phases, sid: str, pairs, why: str, done_if: str | None = None) -> Statement:
    """One atomic RENAME TABLE of ``pairs``, skipped once its first table has moved (or ``done_if`` holds:
    after the cut-over v2 holds v1's names, so a name alone cannot tell whether v1 was parked)."""
    body = ",\n  ".join(f"{quote_qualified(a)} TO {quote_qualified(b)}" for a, b in pairs)
    done = "NOT " + table_exists(*pairs[0][0])
    return Statement(sid, f"RENAME TABLE\n  {body}", why, done_when=f"{done_if} OR {done}" if done_if else done)


def archive_charsets(phases: Phases, to_v2: bool) -> list[Statement]:
    """When v2 takes v1's schema (v1 to its archive) under a preset, that schema's default character set becomes
    the preset's at cut-over (tables users declare there later take it), and v1's again on its rollback."""
    if phases.plan.preset is None or not phases.plan.cutover.rename_to_final:
        return []
    out = []
    for spec in phases.model.schemas:
        if spec.final == spec.source and spec.archive:
            charset, collation = (phases.v2_charset(spec.source) if to_v2 else
                                  (phases.model.v1.schema(spec.source).charset,
                                   phases.model.v1.schema(spec.source).collation))
            out.append(Statement(f"schema_charset.{spec.source}", f"ALTER DATABASE {quote_qualified((spec.source,))} "
                                 f"DEFAULT CHARACTER SET {charset} COLLATE {collation}",
                                 "the schema v2 now holds takes v2's character set" if to_v2 else
                                 "the schema v1 holds again takes v1's character set"))
    return out


def lineage_renames(phases: Phases) -> tuple[list, list[tuple[str, str]]]:
    """(~lineage table moves, (versioned, final) schema names) of a cut-over that renames the v2 schemas."""
    renamed = [(spec.target, spec.final) for spec in phases.model.schemas
               if phases.plan.cutover.rename_to_final and spec.final and spec.final != spec.target]
    lineage_schemas = phases.lineage
    moves = [((old, LINEAGE_TABLE), (new, LINEAGE_TABLE)) for old, new in renamed if old in lineage_schemas]
    return moves, renamed
