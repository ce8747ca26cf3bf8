"""The backfill reads each v1 row once (issue 25, item 1).

Each chunk copies the next rows in key order and takes its end from the rows it copied, instead of first walking
the same rows to find where the chunk ends. Counted with the server's own handler counters; and the copy reads
in key order (no filesort, no temporary table, no join buffer) whatever indexes tempt the optimizer, which is what
makes the last key it reads the chunk's end.
"""

from __future__ import annotations

import pytest
from support.safety import FastScenario, applied

from djsqlgen.run.db import connect

ROWS = 3000
READS = ("Handler_read_first", "Handler_read_key", "Handler_read_next", "Handler_read_prev", "Handler_read_rnd_next",
         "Handler_read_rnd")
V1 = f"""
CREATE TABLE subject (subject_id int NOT NULL, name varchar(16) NOT NULL, PRIMARY KEY (subject_id),
  KEY by_name (name)) ENGINE=InnoDB;
CREATE TABLE recording (subject_id int NOT NULL, rec int NOT NULL, modality varchar(16) NOT NULL,
  note varchar(200) NOT NULL, PRIMARY KEY (subject_id, rec), KEY by_modality (modality),
  CONSTRAINT recording_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO subject SELECT seq, CONCAT('s', seq) FROM seq_1_to_{ROWS // 10};
INSERT INTO recording SELECT s.seq, k.seq, IF(k.seq % 5 = 0, 'imaging', 'ephys'), REPEAT('x', 200)
  FROM seq_1_to_{ROWS // 10} AS s, seq_1_to_10 AS k
"""


def _reads(conn) -> int:
    rows = conn.query("SHOW SESSION STATUS WHERE Variable_name IN (" + ", ".join(["%s"] * len(READS)) + ")",
                      list(READS))
    return sum(int(r["Value"]) for r in rows)


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    return s


def test_each_chunk_reads_its_rows_once(scenario, server_settings):
    scenario.plan()
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    proc = f"`{scenario.control}`.`backfill_chunk`"
    target = next(r["target_id"] for r in scenario.db.query(f"SELECT target_id FROM `{scenario.control}`.progress")
                  if r["target_id"].endswith(".recording"))
    with connect(server_settings) as conn:
        # as the command line and 40_backfill.sql do: v2's write trackers (from 30) skip the engine's own copies
        # without reading anything (else each copied row reads the sides row)
        conn.execute("SET @djsqlgen_engine_session = 1")
        idle = _reads(conn)
        overhead = _reads(conn) - idle  # what reading the counters reads
        before, chunks, done = _reads(conn), 0, 0
        while not done:
            conn.execute(f"CALL {proc}(%s, 500, @rows, @done, @warnings)", [target])
            done = int(conn.query("SELECT @done AS d")[0]["d"])
            chunks += 1
        read = _reads(conn) - before - overhead * (chunks + 1)
    assert chunks in (ROWS // 500, ROWS // 500 + 1)
    # Every row once, plus a few bookkeeping reads a chunk (its chunk_sql, progress and objects rows); walking
    # ahead to each chunk's end read every row twice (about 6,300 here).
    assert read <= ROWS + 20 * chunks, f"{read} rows read to copy {ROWS}"
    scenario.same_rows("recording")


def test_the_copy_reads_in_key_order_however_the_table_is_indexed(scenario):
    """A filter on an indexed column, a join to a parent: the copy still reads the driving table's primary key in
    order and joins row by row, so its last key read is the chunk's end; and the result equals v1's rows."""
    def edit(plan):
        scenario.tables(plan)["recording"] = {
            "joins": {"s": {"table": "subject", "by": {"subject_id": "subject_id"}, "kind": "inner"}},
            "add": {"subject_name": {"type": "varchar(16)", "expr": "s.name"}},
            "split": [{"table": "ephys_recording", "where": "modality = 'ephys'"},
                      {"table": "imaging_recording", "where": "modality = 'imaging'"}]}
    scenario.plan(edit)
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    copies = scenario.db.query(f"SELECT target_id, copy_chunk, after_lo FROM `{scenario.control}`.chunk_sql")
    assert copies and all("{chunk rows}" in r["copy_chunk"] for r in copies)
    for r in copies:
        select = r["copy_chunk"][r["copy_chunk"].index("SELECT"):r["copy_chunk"].index("LOCK IN SHARE MODE")]
        for lo in ("TRUE", r["after_lo"]):
            scenario.db.execute("SET @djsqlgen_read = 0, @djsqlgen_lo_1 = 100, @djsqlgen_lo_2 = 3")
            plan = scenario.db.query("EXPLAIN " + select.replace("{chunk range}", lo).replace("{chunk rows}", "50"))
            assert plan[0]["table"] == "src" and plan[0]["key"] == "PRIMARY", (r["target_id"], plan)
            extras = " ".join(p["Extra"] or "" for p in plan)
            for bad in ("filesort", "temporary", "join buffer"):
                assert bad not in extras, (r["target_id"], plan)
    assert scenario.run("backfill", str(scenario.plan_path), "--chunk-rows", "7").returncode == 0
    v1, v2 = f"`{scenario.sources[0]}`", f"`{scenario.v2()}`"
    for modality in ("ephys", "imaging"):
        assert scenario.db.query(f"SELECT subject_id, rec, modality, note, subject_name FROM {v2}.{modality}_recording "
                                 "ORDER BY subject_id, rec") == scenario.db.query(
            f"SELECT r.subject_id, r.rec, r.modality, r.note, s.name AS subject_name FROM {v1}.recording AS r "
            f"JOIN {v1}.subject AS s USING (subject_id) WHERE modality = '{modality}' ORDER BY subject_id, rec")
    assert scenario.verify().returncode == 0


def test_the_command_line_makes_two_round_trips_a_chunk(scenario, server_settings):
    """The chunk's CALL, then its results read together with the DBA's pause/abort request (issue 25, item 4);
    the checks before the first chunk are a handful of queries, not one per trigger or table."""
    from djsqlgen.plan import load_plan
    from djsqlgen.run import driver

    scenario.plan()
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    chunks = []
    with connect(server_settings) as conn:
        copied = driver.backfill(conn, load_plan(scenario.plan_path), 100, 0, show_progress=False,
                                 on_chunk=lambda label, rows: chunks.append(rows))
        trips = conn.round_trips
    assert copied == ROWS + ROWS // 10
    # on top, about 20 once per run (the checks at start-up: phase, triggers, v1's definitions, the progress rows;
    # the run's lock and reports) and at most one progress report a second; three round trips a chunk before
    assert trips <= 2 * len(chunks) + 30, f"{trips} round trips for {len(chunks)} chunks"
    scenario.same_rows("recording")


def test_a_missing_trigger_is_named_before_anything_is_copied(scenario):
    scenario.plan()
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    v1 = scenario.sources[0]
    name = scenario.db.query("SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s "
                             "AND EVENT_OBJECT_TABLE = 'recording' AND EVENT_MANIPULATION = 'DELETE'", [v1])[0]["n"]
    scenario.db.execute(f"DROP TRIGGER `{v1}`.`{name}`")
    refused = scenario.run("backfill", str(scenario.plan_path), check=False)
    assert refused.returncode != 0 and f"dual-write triggers are missing ({v1}.{name})" in refused.stderr, \
        refused.stderr
    assert "Traceback" not in refused.stderr
    assert scenario.db.query(f"SELECT COUNT(*) AS n FROM `{scenario.v2()}`.recording")[0]["n"] == 0


def test_chunks_are_tried_again_only_when_a_writer_holds_their_rows_and_the_run_says_how_many(scenario,
                                                                                             server_settings):
    import re
    import subprocess
    import sys
    import time

    scenario.plan()
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    quiet = scenario.run("backfill", str(scenario.plan_path), "--chunk-rows", "500")
    assert "tried again" not in quiet.stderr, quiet.stderr  # no writer: no chunk copied twice
    applied(scenario, "rollback/40_backfill")
    with connect(server_settings) as writer:
        writer.execute("START TRANSACTION")
        writer.query(f"SELECT * FROM `{scenario.sources[0]}`.recording WHERE subject_id = 150 AND rec = 5 FOR UPDATE")
        copy = subprocess.Popen([sys.executable, "-m", "djsqlgen", "backfill", str(scenario.plan_path), "--chunk-rows",
                                 "500"], env=scenario.env, cwd=scenario.tmp, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while scenario.db.query(f"SELECT rows_copied AS n FROM `{scenario.control}`.progress WHERE target_table = "
                                "'recording'")[0]["n"] < 1000:  # the next chunk holds the locked row (the 1,495th)
            assert time.monotonic() < deadline and copy.poll() is None, "the copy never reached the locked row"
            time.sleep(0.05)
        time.sleep(1.0)
        writer.execute("COMMIT")
    _, err = copy.communicate(timeout=120)
    assert copy.returncode == 0, err
    assert re.search(r"\b[1-9]\d* chunk\(s\) tried again: a writer held rows of them", err), err
    scenario.same_rows("recording")


def test_the_heartbeat_is_written_at_most_every_half_second_while_replicas_keep_up(scenario, server_settings):
    """--replica: the copy still waits for a lagging replica (tests/integration/test_replica_lag.py), but a replica
    that keeps up is asked at most every 0.5 s, not before every chunk (here the server stands in for its own
    replica: never behind)."""
    import time
    from urllib.parse import quote

    from djsqlgen.plan import load_plan
    from djsqlgen.run import driver
    from djsqlgen.run.throttle import Throttle

    scenario.plan()
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    s = server_settings
    dsn = f"mysql://{quote(s.user, safe='')}:{quote(s.password or '', safe='')}@{s.host}:{s.port}"
    plan = load_plan(scenario.plan_path)
    throttle = Throttle.from_options(plan.control, (dsn,))
    chunks = []
    with connect(server_settings) as conn:
        started = time.monotonic()
        try:
            driver.backfill(conn, plan, 100, 0, show_progress=False, throttle=throttle,
                            on_chunk=lambda label, rows: chunks.append(rows))
        finally:
            throttle.close()
        seconds = time.monotonic() - started
    beats = len(throttle._beats)
    assert 1 <= beats <= seconds / 0.5 + 2 and beats < len(chunks), (beats, len(chunks), seconds)
    scenario.same_rows("recording")


def test_a_tables_statements_are_prepared_once_not_per_chunk(scenario, server_settings):
    """Issue 25, item 4: the chunk procedure prepares a table's statements on its first chunk in a session (the
    copy from the start and after a bound, the checkpoint's decoding and encoding, the end's query and decoding) and
    only executes them after; a resumed session prepares them again. Three PREPAREs a chunk before."""
    scenario.plan()
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    proc = f"`{scenario.control}`.`backfill_chunk`"
    target = next(r["target_id"] for r in scenario.db.query(f"SELECT target_id FROM `{scenario.control}`.progress")
                  if r["target_id"].endswith(".recording"))

    def prepares(conn) -> int:
        return int(conn.query("SHOW SESSION STATUS LIKE 'Com_prepare_sql'")[0]["Value"])

    def chunks(conn, n: int) -> None:
        for _ in range(n):
            conn.execute(f"CALL {proc}(%s, 200, @rows, @done, @warnings)", [target])

    with connect(server_settings) as conn:
        before = prepares(conn)
        chunks(conn, 6)
        assert prepares(conn) - before == 6
    with connect(server_settings) as conn:  # a new session (a resumed run): prepared again, once
        before = prepares(conn)
        done = 0
        while not done:
            chunks(conn, 1)
            done = int(conn.query("SELECT @done AS d")[0]["d"])
        assert prepares(conn) - before == 6
    scenario.same_rows("recording")


def test_the_copy_keeps_only_the_key_of_each_row_it_reads(scenario):
    """Issue 25, narrow rows: the copy assigns the driving key's variables per row and nothing else (a row counter
    assigned per row cost about 1 % of a bulk copy's server CPU on 1,000,000 rows of three ints); the table's end
    is where the last key read is the end key."""
    scenario.plan()
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    copies = {r["target_id"].rsplit(".", 1)[-1]: r["copy_chunk"] for r in scenario.db.query(
        f"SELECT target_id, copy_chunk FROM `{scenario.control}`.chunk_sql")}
    assert copies["recording"].count(":=") == 2 and copies["subject"].count(":=") == 1, copies
    scenario.backfill(chunk_rows=ROWS // 10)  # the last chunk ends exactly on the end key
    chunks = {r["t"]: int(r["chunks"]) for r in scenario.db.query(
        f"SELECT SUBSTRING_INDEX(target_id, '.', -1) AS t, chunks FROM `{scenario.control}`.progress")}
    assert chunks == {"subject": 1, "recording": 10}, chunks
    scenario.same_rows("recording")
    scenario.same_rows("subject")


def test_40_sizes_its_chunks_by_time_as_the_command_line(scenario):
    """Issue 25: 40_backfill.sql's loop starts at the plan's chunk rows (2 here) and then sizes each chunk to about
    0.5 s at the rate of the chunks before, as `djsqlgen backfill` does: far fewer chunks than 3,000 / 2."""
    scenario.plan()
    scenario.generate()
    scenario.forward("40_backfill")
    chunks = int(scenario.db.query(f"SELECT SUM(chunks) AS n FROM `{scenario.control}`.progress")[0]["n"])
    assert chunks <= 20, f"{chunks} chunks for {ROWS + ROWS // 10} rows"  # 1,650 chunks of 2 rows before
    scenario.same_rows("recording")
    scenario.same_rows("subject")


def test_40s_chunks_stay_within_their_share_of_the_buffer_pool(scenario):
    """However fast the copy, a chunk of 40's loop holds at most 1/p_pool_share of the buffer pool in v1's bytes
    (its average row length): with a share of the pool so small that it is a few rows, the chunks stay that
    small, and the copy is whole."""
    scenario.plan()
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    v1 = scenario.sources[0]
    scenario.db.execute(f"ANALYZE TABLE `{v1}`.recording")
    facts = scenario.db.query("SELECT @@GLOBAL.innodb_buffer_pool_size AS pool, AVG_ROW_LENGTH AS b FROM "
                              "information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'recording'", [v1])[0]
    share = int(facts["pool"]) // (int(facts["b"]) * 50)  # a pool share of about 50 rows
    target = next(r["target_id"] for r in scenario.db.query(f"SELECT target_id FROM `{scenario.control}`.progress")
                  if r["target_id"].endswith(".recording"))
    # the stock client's CALL as 40 writes it: 2 rows first, then about 0.5 s a chunk, at most 100,000 rows or 1/share
    scenario.db.call_results(f"CALL `{scenario.control}`.backfill_table('{target}', 2, 0, 0.5, 100000, {share})")
    chunks = int(scenario.db.query(f"SELECT chunks FROM `{scenario.control}`.progress WHERE target_id = %s",
                                   [target])[0]["chunks"])
    assert chunks >= ROWS // 60, f"{chunks} chunks for {ROWS} rows"  # 2 chunks with the whole pool's share
    scenario.same_rows("recording")


def test_the_trigger_check_at_start_up_reads_one_schema_not_the_whole_server(scenario):
    """The check that the dual-write triggers exist reads information_schema.TRIGGERS for each v1 schema by the
    column the server can look up (EVENT_OBJECT_SCHEMA): by TRIGGER_SCHEMA it opened every database on the server
    ("Scanned all databases"), 0.13-0.37 s on a shared server and stuck behind any DDL anywhere (issue 25)."""
    from djsqlgen.run.driver import TRIGGER_EVENTS_OF_SCHEMA, TRIGGERS_OF_SCHEMA

    scenario.plan()
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    v1 = scenario.sources[0]
    for query in (TRIGGERS_OF_SCHEMA, TRIGGER_EVENTS_OF_SCHEMA):  # the backfill's check; `djsqlgen status`
        extra = scenario.db.query("EXPLAIN " + query, [v1])[0]["Extra"]
        assert "Scanned 1 database" in extra, (query, extra)
    found = {r["n"] for r in scenario.db.query(TRIGGERS_OF_SCHEMA, [v1])}
    expected = {r["n"] for r in scenario.db.query(
        "SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s", [v1])}
    assert found == expected and len(found) >= 6


@pytest.mark.parametrize("view", ["TRIGGERS", "TABLES"])
def test_the_files_read_information_schema_one_schema_at_a_time(scenario, view):
    """The refusals of 40 (its triggers) and of later files (their tables) read one schema's directory, not every
    database on the server: the same trigger check as the command line's, in SQL (sqltext/expected.py)."""
    from djsqlgen.sqltext.expected import present_objects

    scenario.plan()
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    v1 = scenario.sources[0]
    plan = scenario.db.query("EXPLAIN " + present_objects(view, [v1]))
    assert all("Scanned 1 database" in p["Extra"] for p in plan), plan
    assert len(scenario.db.query(present_objects(view, [v1]))) >= 2


def test_each_trigger_existence_check_reads_one_schema(scenario):
    """The files' checks that one trigger exists (70, 80 and the rollbacks: one per trigger) read its schema alone,
    not every database on the server."""
    from djsqlgen.phases.builder import trigger_exists

    scenario.plan()
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    v1 = scenario.sources[0]
    name = scenario.db.query("SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = "
                             "%s LIMIT 1", [v1])[0]["n"]
    plan = scenario.db.query(f"EXPLAIN SELECT {trigger_exists(v1, name)}")
    extras = [p["Extra"] for p in plan if p["table"] == "TRIGGERS"]
    assert extras and all("Scanned 1 database" in e for e in extras), plan
    assert list(scenario.db.query(f"SELECT {trigger_exists(v1, name)} AS e")[0].values()) == [1]
    assert list(scenario.db.query(f"SELECT {trigger_exists(v1, name + 'x')} AS e")[0].values()) == [0]




def test_the_command_copies_without_importing_the_generator(scenario):
    """Nothing heavy is imported on the way to the first chunk (tests/unit/test_startup.py), nor during the copy:
    setting the backfill's session variable imported engines.two_way, and with it the generator (jinja2, the model;
    0.3-0.8 s on this machine), inside the copy's time: about 30 ms a chunk on the benches' 11-13 chunks."""
    import subprocess
    import sys

    scenario.plan()
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    heavy = ("pydantic", "jinja2", "sqlglot", "djsqlgen.engines.context", "djsqlgen.engines.two_way",
             "djsqlgen.model.target", "djsqlgen.plan.file")
    code = ("import sys\n"
            "from djsqlgen.cli import main\n"
            "try:\n"
            f"    main(['backfill', {str(scenario.plan_path)!r}])\n"
            "except SystemExit as stop:\n"
            "    assert not stop.code, stop.code\n"
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], env=scenario.env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "backfill complete" in done.stderr and scenario.db.query(
        f"SELECT MIN(done) AS d FROM `{scenario.control}`.progress")[0]["d"] == 1, done.stderr
    assert done.stdout.strip() == "", f"imported by the copy: {done.stdout.strip()}"
