"""DataJoint 0.14 clients at work on v1 while a migration runs, and the same clients on a copy without it, side by side.

Two copies of the dj014_pipeline (``PREFIX`` and ``PREFIXn``), each bulk-filled the same way. The plan of one shape is
generated for the first and applied through 30; then ``workers`` DataJoint 0.14 clients per copy (dj014_writers.py
--keep-going: inserts with parts, update1, key moves that cascade, cascading deletes, raw writes, moves and deletes
of bulk rows) write to both copies at once while the first copy goes through the backfill (``--jobs``), verify, 60
and 70. Every failure a client gets is one line with its error code and time, counted by the phase it fell in.
Used by tests/integration/test_writer_stress.py (short) and bench/writers_bench.py (long).
"""

from __future__ import annotations

import collections
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from support.engine import SUPPORT, build_v1, bulk_fill, djsqlgen, migration_files

from djsqlgen.run.db import connect


def _common(plan: dict, common: str) -> dict:
    return next(s for s in plan["schemas"] if s["source"] == common)["tables"]


def _ephys(plan: dict, common: str) -> dict:
    return next(s for s in plan["schemas"] if s["source"] != common)["tables"]


def _table(tables: dict, name: str) -> dict:
    if not isinstance(tables[name], dict):  # "keep"
        tables[name] = {"columns": {}}
    tables[name].setdefault("columns", {})
    return tables[name]


def _rekey(plan: dict, common: str) -> None:
    """session keyed by its start time; its Tag part (and ephys children) follow the new key."""
    tables = _common(plan, common)
    _table(tables, "session")["key"] = ["subject_id", "session_start"]
    tables["session"]["columns"]["session_id"] = "drop"
    # block_trial's key comes through two parents that both follow session (a diamond): not followed yet (plan
    # check refuses), so left out, as in test_rekey_datajoint
    for spec in plan["schemas"]:
        if spec["source"] != common and "block_trial" in spec.get("tables", {}):
            spec["tables"]["block_trial"] = "drop"


def _lookup(plan: dict, common: str) -> None:
    """Lookups every writer shares: one species row for every subject, three operators for every session."""
    tables = _common(plan, common)
    _table(tables, "subject")["lookups"] = [{"table": "#species_used", "key": ["species"]}]
    _table(tables, "session")["lookups"] = [{"table": "#operator_used", "key": ["operator"]}]


def _part(plan: dict, common: str) -> None:
    """subject's weight goes to a new part subject__body, a row only where it is not NULL: a writer's new subject
    has none until its update1 sets the weight (an insert into a sparse v2 table)."""
    _common(plan, common)["subject"] = {"parts": [{"name": "body", "columns": ["weight"]}]}


def _merge(plan: dict, common: str) -> None:
    """session__quality (MERGED_PART, 1:1 with session) merged into v2's session."""
    _common(plan, common)["session__quality"] = {"merge_into_master": True}


def _split(plan: dict, common: str) -> None:
    """lab_note (an auto_increment key every writer inserts into and updates) split by the parity of its id."""
    _common(plan, common)["lab_note"] = {"split": [{"table": "lab_note_even", "where": "note_id % 2 = 0"},
                                                  {"table": "lab_note_odd", "where": "note_id % 2 = 1"}]}


def _combined(plan: dict, common: str) -> None:
    """Issue 21's combined plan: the re-key and the lookups above, with tables and columns renamed in both
    schemas (subject → animal, its notes → remarks, lab_note → notebook; probe_insertion → insertion, its depth
    → depth_um)."""
    _rekey(plan, common)
    _lookup(plan, common)
    tables = _common(plan, common)
    tables["subject"]["rename"] = "animal"
    tables["subject"]["columns"]["notes"] = {"rename": "remarks"}
    _table(tables, "lab_note")["rename"] = "notebook"
    insertion = _table(_ephys(plan, common), "probe_insertion")
    insertion["rename"] = "insertion"
    insertion["columns"]["depth"] = {"rename": "depth_um"}


# A 1:1 part the pipeline does not have (DataJoint's naming and foreign key, made with SQL so that the other shapes'
# pipeline stays as it is); the writers given --merged-part write it with raw SQL, DataJoint's delete cascades into it.
MERGED_PART = """
CREATE TABLE `{db}`.`session__quality` (subject_id int unsigned NOT NULL, session_id smallint unsigned NOT NULL,
  snr double NOT NULL, ok tinyint DEFAULT NULL, PRIMARY KEY (subject_id, session_id),
  CONSTRAINT `session__quality_ibfk_1` FOREIGN KEY (subject_id, session_id)
    REFERENCES `{db}`.`session` (subject_id, session_id) ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB
"""


def _merged_part(db, common: str) -> None:
    db.execute(MERGED_PART.format(db=common))
    db.execute(f"INSERT INTO `{common}`.`session__quality` SELECT subject_id, session_id, "
               f"subject_id / 10 + session_id, IF(session_id = 1, 1, NULL) FROM `{common}`.`session` "
               "WHERE subject_id % 5 <> 0")  # most sessions have their part, some not


@dataclass(frozen=True)
class Shape:
    edit: Callable[[dict, str], None]  # the identity plan (of the common and ephys schemas) made into this shape
    preset: str | None = None  # given to plan init
    prepare: Callable[[object, str], None] | None = None  # on each copy of v1 (db, common schema) before the plan
    writer_args: tuple[str, ...] = ()  # what the writers do besides the usual (dj014_writers.py)


SHAPES = {
    "identity": Shape(lambda plan, common: None),
    "re-key with children": Shape(_rekey),
    "lookup": Shape(_lookup),
    "part extraction": Shape(_part),
    "part merge": Shape(_merge, prepare=_merged_part, writer_args=("--merged-part",)),
    "split": Shape(_split),
    "preset": Shape(lambda plan, common: None, preset="dj014-to-dj2"),
    "combined": Shape(_combined),
}
PHASES = ("30", "backfill", "verify", "60", "70")
# throughput is also counted apart after 60's DDL is done (its foreign keys in place, nothing waiting for a table)
WINDOWS = ("30", "backfill", "verify", "60", "after 60", "70")
LOCKS = {1205, 1213}  # what a lock costs a writer
STARVED = "never free in 120 s"  # apply's stop when a DDL's table was never free (run/apply.py, _call_retrying)
QUIET_S = 3.0  # a paused client's iteration under way ends within this (several DataJoint writes, 2 loaded cores)


def client(command: list[str], env: dict) -> subprocess.Popen:
    """A writer process whose output goes to temporary files, read by ``finished``. Not pipes: DataJoint logs every
    delete, and a pipe nobody reads before the end fills (64 KB) and stops the client inside its transaction, its
    locks held, for as long as the run lasts (in CI it starved 60's DDL for 2 × 120 s, and idled both copies'
    clients: the "nothing completed for 38 s" the benches saw)."""
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True)
    proc.output_files = (out, err)  # type: ignore[attr-defined]
    return proc


def finished(proc: subprocess.Popen, timeout: float = 300) -> tuple[str, str]:
    """(stdout, stderr) of a ``client`` once it stopped; one still running after ``timeout`` is ended (never left
    behind), its stderr then saying so (the caller's check that it printed its counts fails with it)."""
    note = ""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        note = f"\nstill running {timeout:g} s after the stop: ended"
    texts = []
    for f in proc.output_files:  # type: ignore[attr-defined]
        f.seek(0)
        texts.append(f.read())
        f.close()
    return texts[0], texts[1] + note


def _writers(python: Path, prefix: str, store: Path, env: dict, workers: int, until: Path, first: int,
             per_worker: int, extra: tuple[str, ...]) -> list[subprocess.Popen]:
    return [client(
        [str(python), str(SUPPORT / "dj014_writers.py"), "--schemas", prefix, "--store-dir", str(store),
         "--worker", str(w), "--iterations", "100000", "--keep-going", "--until-file", str(until),
         "--pause-file", str(until.with_name("pause_writers")),
         "--existing", f"{first + w * per_worker}-{first + (w + 1) * per_worker - 1}", *extra], env)
        for w in range(workers)]


def _started(db, common: str, workers: int) -> bool:
    n = db.query(f"SELECT COUNT(DISTINCT subject_id DIV 100000) AS n FROM `{common}`.subject "
                 "WHERE subject_id >= 10000000 AND subject_id < 20000000")[0]["n"]
    return int(n) >= workers


def stress(shape: str, python: Path, prefix: str, tmp: Path, env: dict, settings, workers: int = 6,
           subjects: int = 600, jobs: int = 2, chunk_rows: int = 50, settle_s: float = 2.0) -> dict:
    """Run one shape; returns {"errors": {phase: {"with"/"without": {code: n}}}, "iterations": {...}, "steps": {...},
    "failures": [...], "phase_s": {window: s}, "per_phase": {window: {"with"/"without": iterations completed}}}
    (WINDOWS: the phases, and the time after 60's DDL apart). Raises when a step of the migration itself fails."""
    sides = {"with": prefix, "without": f"{prefix}n"}
    spec = SHAPES[shape]
    commons = {}
    with connect(settings) as db:
        for side, pre in sides.items():
            common, _ephys = build_v1(python, pre, tmp / f"store_{side}", env)
            bulk_fill(db, common, subjects)
            if spec.prepare:
                spec.prepare(db, common)
            commons[side] = common
    with_common = commons["with"]
    (tmp / "plan_dir").mkdir(exist_ok=True)
    plan_path, out = migration_files(tmp / "plan_dir", prefix, [with_common, f"{prefix}_ephys"], env,
                                     lambda plan: spec.edit(plan, with_common), preset=spec.preset)
    for name in ("00_preflight", "10_expand", "20_routines", "30_dualwrite"):
        result = djsqlgen(["apply", str(out / f"{name}.sql")], env)
        assert result.returncode == 0, f"{name}: {result.stderr}"
    until = tmp / "stop_writers"
    per_worker = max(1, subjects // workers)
    running = {side: _writers(python, pre, tmp / f"store_{side}", env, workers, until, 1000, per_worker,
                                spec.writer_args)
               for side, pre in sides.items()}
    marks = []
    steps: dict[str, subprocess.CompletedProcess] = {}
    try:
        with connect(settings) as db:  # every client at work on both copies before the first phase
            deadline = time.monotonic() + 120
            while not all(_started(db, c, workers) for c in commons.values()):
                assert time.monotonic() < deadline, "the writers did not start"
                time.sleep(0.2)
        marks.append(("30", time.time()))
        time.sleep(settle_s)
        marks.append(("backfill", time.time()))
        steps["backfill"] = djsqlgen(["backfill", str(plan_path), "--chunk-rows", str(chunk_rows), "--jobs", str(jobs)],
                                     env)
        marks.append(("verify", time.time()))
        steps["verify"] = djsqlgen(["verify", str(plan_path)], env)
        marks.append(("60", time.time()))
        steps["60"] = djsqlgen(["apply", str(out / "60_constraints.sql")], env)
        if steps["60"].returncode != 0 and STARVED in steps["60"].stderr:
            # its DDL never waits (apply without --wait): stopped safely, no writer made to wait. Run again "at a
            # quieter moment", as the RUNBOOK says: every client on both copies starts no new iteration meanwhile
            # (QUIET_S for the ones under way to end), then goes on; the quiet is counted in 60's window.
            steps["60, first try"] = steps["60"]
            pause = until.with_name("pause_writers")
            pause.write_text("quiet")
            try:
                time.sleep(QUIET_S)
                steps["60"] = djsqlgen(["apply", str(out / "60_constraints.sql")], env)
            finally:
                pause.unlink()
        after_60 = time.time()
        if (out / "files_manifest.sql").exists():  # the preset: 0.14's attachments put in 2.x's form before 70
            steps["files"] = djsqlgen(["files", str(out / "files_manifest.sql"), "--store",
                                       f"extstore={tmp / 'store_with'}"], env)
        time.sleep(settle_s)
        marks.append(("70", time.time()))
        steps["70"] = djsqlgen(["apply", str(out / "70_cutover.sql")], env)
        ended = time.time()
    finally:
        until.write_text("stop")
        outputs = {side: [finished(w) for w in procs] for side, procs in running.items()}
    errors = {phase: {side: collections.Counter() for side in sides} for phase in PHASES}
    iterations, failures = {}, []
    per_phase = {phase: {side: 0 for side in sides} for phase in WINDOWS}  # iterations completed in each window
    windows = sorted(marks + [("after 60", after_60)], key=lambda m: m[1])
    # Throughput from the first phase until 70 starts: from then on v1 refuses writes by design (1644), so the
    # clients with the migration stop completing iterations while those without go on.
    window = (marks[0][1], dict(marks)["70"])
    for side, results in outputs.items():
        iterations[side] = 0
        for stdout, stderr in results:
            lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
            assert lines and "done_at" in lines[-1], stderr[-3000:]
            iterations[side] += sum(1 for t in lines[-1]["done_at"] if window[0] <= t < window[1])
            for t in lines[-1]["done_at"]:
                if marks[0][1] <= t < ended:
                    per_phase[[p for p, m in windows if m <= t][-1]][side] += 1
            for e in lines[:-1]:
                if e["at"] < marks[0][1]:
                    continue
                phase = [p for p, t in marks if t <= e["at"]][-1]
                if phase == "70" and e["at"] > ended:
                    continue  # after the cut-over v1 refuses writes by design
                errors[phase][side][e["error"]] += 1
                failures.append((side, phase, e["error"], e["what"], e["message"]))
    phase_s = {p: round((windows[i + 1][1] if i + 1 < len(windows) else ended) - t, 1)
               for i, (p, t) in enumerate(windows)}
    return {"errors": errors, "iterations": iterations, "steps": steps, "failures": failures, "phase_s": phase_s,
            "per_phase": per_phase}


def table(shape: str, result: dict) -> str:
    """The side-by-side lines of one shape: failures by phase and code, with and without the migration."""
    lines = [f"{shape}: iterations from 30 to 70 with/without {result['iterations']['with']}/"
             f"{result['iterations']['without']} "
             f"(throughput ratio {result['iterations']['with'] / max(1, result['iterations']['without']):.2f})"]
    for phase in WINDOWS:
        errors = result["errors"].get(phase, {"with": {}, "without": {}})  # "after 60": counted in 60
        w, wo = errors["with"], errors["without"]
        done = result["per_phase"][phase]
        # iterations completed in the phase, with/without (70: v1 refuses writes by design once it cuts over)
        lines.append(f"  {phase:9} {result['phase_s'].get(phase, 0):6.1f} s   iterations {done['with']:5d}/"
                     f"{done['without']:5d} ({done['with'] / max(1, done['without']):.2f})   "
                     f"with: {dict(w) or '-'}   without: {dict(wo) or '-'}")
    return "\n".join(lines)
