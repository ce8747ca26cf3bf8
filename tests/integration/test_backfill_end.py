"""The backfill ends where v1 ended when the table's copy began (issue 25's follow-up).

Writers that keep appending rows at the end of the key (a lab's acquisition, one row after another) used to keep the
copy going: each chunk walked to the table's current last key, so a copy slower than the writers never finished.
The dual-write triggers already carry every row written after the copy began, so the copy stops at the last key it
saw when it began, kept in the progress row (a killed or aborted copy resumes up to the same end).

Here a writer appends batches of rows past the end, without pause, from the copy's first chunk on; the copy takes
fixed chunks of 2 rows, far slower than the writer. It must end after the chunks of the rows there when it began,
and v2 must equal v1 row for row once the writer stops. The key is composite, its first column an ENUM whose order
(its index) is not its text's.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from support.safety import FastScenario, applied

from djsqlgen.plan.file import load_plan
from djsqlgen.run import driver
from djsqlgen.run.backfill_control import BackfillAborted, request
from djsqlgen.run.db import connect

ROWS = 400  # 200 chunks of 2 rows
V1 = """
CREATE TABLE event (kind enum('m','b','z') NOT NULL, id int NOT NULL, note varchar(16) NOT NULL,
  PRIMARY KEY (kind, id)) ENGINE=InnoDB;
INSERT INTO event SELECT IF(seq % 2, 'm', 'b'), seq, CONCAT('e', seq) FROM seq_1_to_400
"""


class Appender(threading.Thread):
    """Appends batches of 20 rows past v1's last key ('z' sorts last: its ENUM index is the highest) until stopped."""

    def __init__(self, settings, schema: str):
        super().__init__(daemon=True)
        self.settings, self.schema = settings, schema
        self.appended = 0
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with connect(self.settings, self.schema) as db:  # seq_… tables need a current database
                while not self.halt.is_set():
                    first = self.appended + 1
                    db.execute(f"INSERT INTO `{self.schema}`.event SELECT 'z', seq, 'w' FROM "
                               f"seq_{first}_to_{first + 19}")
                    self.appended += 20
        except BaseException as exc:  # noqa: BLE001 - raised by stop()
            self.error = exc

    def stop(self) -> None:
        self.halt.set()
        self.join(60)
        if self.error:
            raise self.error


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    s.plan()
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    return s


def _progress(s: FastScenario) -> dict:
    return s.db.query(f"SELECT * FROM `{s.control}`.progress")[0]


def _wait_for(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_the_command_ends_at_the_end_it_began_with_while_writers_append(scenario, server_settings):
    plan = load_plan(scenario.plan_path)
    appender = Appender(server_settings, scenario.sources[0])
    chunks = 0

    def after_chunk(_label: str, _rows: int) -> None:
        nonlocal chunks
        chunks += 1
        if chunks == 1:  # the end is taken: from here on every row appended is past it
            appender.start()
            _wait_for(lambda: appender.appended >= 100)
        if chunks == 50:  # a run stopped midway (an abort, a kill) resumes up to the same end
            request(scenario.db, plan, "abort")
        assert chunks <= 2 * ROWS // 2, "the copy chases the rows appended after it began"

    try:
        with connect(server_settings) as conn:
            with pytest.raises(BackfillAborted):
                driver.backfill(conn, plan, chunk_rows=2, sleep_ms=0, show_progress=False, on_chunk=after_chunk)
            stopped = _progress(scenario)
            # before: the resumed run went on copying the appended rows ('z', 1), ('z', 2), … as long as they came
            driver.backfill(conn, plan, chunk_rows=2, sleep_ms=0, show_progress=False, on_chunk=after_chunk)
        assert appender.is_alive() and appender.appended > 100, "the writer stopped before the copy ended"
    finally:
        appender.stop()
    done = _progress(scenario)
    assert json.loads(stopped.get("end_key")) == ["2", "400"]  # the ENUM by its index: 'b' is 2 (400 is even)
    assert done["done"] == 1 and done.get("end_key") == stopped.get("end_key")
    assert done["chunks"] <= ROWS // 2 + 1 and json.loads(done["checkpoint"])[0] != "3"
    scenario.same_rows("event")
    assert scenario.verify().returncode == 0


def test_40_backfill_loop_ends_at_the_end_it_began_with_while_writers_append(scenario, server_settings):
    """40_backfill.sql's server-side loop (backfill_table), with fixed chunks of 2 rows (no chunk time)."""
    target = scenario.db.query(f"SELECT target_id FROM `{scenario.control}`.progress")[0]["target_id"]
    appender = Appender(server_settings, scenario.sources[0])
    failure: list[BaseException] = []

    def copy() -> None:
        try:
            with connect(server_settings) as conn:
                conn.execute(f"CALL `{scenario.control}`.backfill_table(%s, 2, 0, 0, 100000, 4)", [target])
        except BaseException as exc:  # noqa: BLE001 - raised below
            failure.append(exc)

    loop = threading.Thread(target=copy, daemon=True)
    try:
        loop.start()
        _wait_for(lambda: _progress(scenario)["chunks"] >= 1)
        appender.start()
        loop.join(60)
        if loop.is_alive():  # before: still chasing the writer; stop it cleanly
            request(scenario.db, load_plan(scenario.plan_path), "abort")
            loop.join(60)
            pytest.fail(f"the loop chased the rows appended after it began: {_progress(scenario)}")
        assert appender.is_alive(), "the writer stopped before the copy ended"
    finally:
        appender.stop()
    assert failure == []
    done = _progress(scenario)
    assert done["done"] == 1 and json.loads(done.get("end_key")) == ["2", "400"]
    assert done["chunks"] <= ROWS // 2 + 1 and appender.appended > 0
    scenario.same_rows("event")
    assert scenario.verify().returncode == 0


def test_rollback_30_refuses_once_a_copy_has_taken_its_end(scenario, server_settings):
    """A copy that has begun has its end, even if every row it met was in v2 already (nothing copied): rows past the
    end reach v2 only through the triggers, so rollback/30 refuses until rollback/40 has forgotten the copy (before:
    it dropped the triggers, and rows written then were never copied, the resumed copy stopping at its end)."""
    scenario.db.execute(f"UPDATE `{scenario.sources[0]}`.event SET note = 'carried'")  # every row in v2 by its trigger
    plan = load_plan(scenario.plan_path)

    def after_chunk(_label: str, _rows: int) -> None:
        request(scenario.db, plan, "abort")

    with connect(server_settings) as conn:
        with pytest.raises(BackfillAborted):
            driver.backfill(conn, plan, chunk_rows=2, sleep_ms=0, show_progress=False, on_chunk=after_chunk)
    begun = _progress(scenario)
    assert begun["rows_copied"] == 0 and begun["done"] == 0 and begun["end_key"] is not None, begun
    result = scenario.run("apply", str(scenario.out / "rollback/30_dualwrite.sql"), check=False)
    assert result.returncode != 0 and "apply rollback/40_backfill.sql first" in result.stderr, result.stderr
    applied(scenario, "rollback/40_backfill", "rollback/30_dualwrite")


def _moved_before_copied(s: FastScenario, settings, sync: str, table: str, moves: list[str]) -> None:
    """The copy begun (its end taken, its first chunk of 2 rows copied), then stopped; ``moves`` (UPDATEs of v1's
    ``table``) run through the triggers; the copy resumed to its end. v2 must then hold v1's rows, byte for byte,
    and verify be clean."""
    s.plan(lambda plan: plan.update(sync=sync))
    s.generate()
    applied(s, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    plan = load_plan(s.plan_path)

    def after_chunk(_label: str, _rows: int) -> None:
        request(s.db, plan, "abort")

    with connect(settings) as conn:
        with pytest.raises(BackfillAborted):
            driver.backfill(conn, plan, chunk_rows=2, sleep_ms=0, show_progress=False, on_chunk=after_chunk)
        for move in moves:
            s.db.execute(move.format(t=f"`{s.sources[0]}`.{table}"))
        request(s.db, plan, "resume")
        driver.backfill(conn, plan, chunk_rows=50, sleep_ms=0, show_progress=False)
    s.same_rows(table)
    assert s.verify().returncode == 0


@pytest.mark.parametrize("sync", ["one-way", "two-way"])
def test_a_row_moved_past_the_end_or_below_the_checkpoint_before_it_was_copied_reaches_v2(sync, db, prefix, dj_env,
                                                                                         tmp_path, server_settings):
    """A v1 key move of a row the copy has not reached: beyond the end the copy began with, or below its checkpoint,
    the copy never reaches the row's new key. One-way triggers write such a row first at its old key and move it; a
    two-way move found no row there and skipped (found in review: every such row was lost until verify)."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    # the end is taken, ('m', 1) and ('m', 3) copied
    _moved_before_copied(s, server_settings, sync, "event", [
        "UPDATE {t} SET kind = 'z', id = 7 WHERE kind = 'm' AND id = 399",  # past the end
        "UPDATE {t} SET id = 0 WHERE kind = 'm' AND id = 201",  # below the checkpoint
        "UPDATE {t} SET id = 2 WHERE kind = 'm' AND id = 3"])  # copied already: moved in v2


@pytest.mark.parametrize("sync", ["one-way", "two-way"])
def test_a_text_key_moved_by_case_or_trailing_spaces_before_it_was_copied_reaches_v2(sync, db, prefix, dj_env,
                                                                                    tmp_path, server_settings):
    """As above with a _ci text key, whose moves can change only bytes the collation ignores: case, trailing
    spaces. Such a row, not copied yet, moved below the checkpoint or beyond the end the copy began with, must reach
    v2 with its new bytes (a move that found 'a 7' as 'A 7' through the collation would skip it, or keep the old
    bytes)."""
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1("CREATE TABLE tag (name varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, "
                "id int NOT NULL, note varchar(16) NOT NULL, PRIMARY KEY (name, id)) ENGINE=InnoDB;\n"
                "INSERT INTO tag SELECT CONCAT('t', LPAD(seq, 3, '0')), seq, CONCAT('e', seq) FROM seq_1_to_200")
    # the end ('t200', 200) is taken, t001 and t002 copied
    _moved_before_copied(s, server_settings, sync, "tag", [
        "UPDATE {t} SET name = 'T150' WHERE name = 't150'",  # case only, not copied yet
        "UPDATE {t} SET name = 't160 ' WHERE name = 't160'",  # a trailing space only
        "UPDATE {t} SET name = 'T001' WHERE name = 't100'",  # below the checkpoint
        "UPDATE {t} SET name = 'Z999' WHERE name = 't120'",  # past the end
        "UPDATE {t} SET name = 'T002' WHERE name = 't002'"])  # copied already: moved in v2
