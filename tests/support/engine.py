"""Helpers for the engine's server tests: build v1 with DataJoint 0.14, write plans, run files, snapshot state."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from djsqlgen.run.db import Database
from djsqlgen.run.settings import ConnectionSettings

SUPPORT = Path(__file__).resolve().parent
FORWARD = ("00_preflight", "10_expand", "20_routines", "30_dualwrite", "40_backfill", "50_verify",
           "60_constraints", "70_cutover", "80_contract")


def run_dj014(python: Path, script: str, args: list[str], env: dict[str, str]) -> str:
    """Run a support script under DataJoint 0.14; returns its stdout, raises with stderr on failure."""
    result = subprocess.run([str(python), str(SUPPORT / script), *args], check=False, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def build_v1(python: Path, prefix: str, store: Path, env: dict[str, str]) -> tuple[str, str]:
    """The DataJoint 0.14 pipeline of dj014_pipeline.py; returns its (common, ephys) schema names."""
    run_dj014(python, "dj014_pipeline.py", ["build", "--schemas", prefix, "--store-dir", str(store)], env)
    return f"{prefix}_common", f"{prefix}_ephys"


def mariadb_client(settings: ConnectionSettings, path: Path) -> subprocess.CompletedProcess:
    """Apply a file with the stock client, as a DBA would: ``mariadb < FILE``."""
    command = ["mariadb", f"--host={settings.host}", f"--port={settings.port}", f"--user={settings.user}",
               "--batch", "--show-warnings"]
    if settings.password:
        command.append(f"--password={settings.password}")
    with path.open() as stdin:
        return subprocess.run(command, check=False, stdin=stdin, capture_output=True, text=True)


def djsqlgen(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "djsqlgen", *args], check=False, env=env, cwd=cwd, capture_output=True, text=True)


def write_plan(path: Path, plan: dict) -> Path:
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def transform_plan(plan: dict, common: str) -> dict:
    """Edit an identity plan into a real v2: a table renamed, columns renamed, retyped, added, dropped."""
    tables = next(s for s in plan["schemas"] if s["source"] == common)["tables"]
    tables["lab_note"]["rename"] = "notebook"
    tables["lab_note"]["columns"]["note"] = {"rename": "text"}
    subject = tables["subject"]
    subject["columns"]["notes"] = {"rename": "remarks"}
    subject["columns"]["weight"] = {"type": "decimal(8,3)", "comment": "grams, three decimals"}
    subject["add"] = {
        "cohort": {"type": "varchar(16)", "default": "'v1'", "comment": "added in v2"},
        "label": {"type": "varchar(80)", "expr": "CONCAT(species, '/', subject_id)", "nullable": True},
    }
    tables["experimenter"]["columns"]["email"] = "drop"
    session = tables["session"]
    session["add"] = {"start_date": {"type": "date", "expr": "DATE(session_start)", "nullable": True}}
    return plan


@dataclass(frozen=True)
class Snapshot:
    """What a phase may or may not change: data checksums, table definitions, triggers, routines."""

    checksums: dict
    definitions: dict
    triggers: tuple
    routines: tuple
    schemas: tuple


def snapshot(db: Database, prefix: str, control: str | None = None, exclude_control_data: bool = True) -> Snapshot:
    like = prefix.replace("_", "\\_") + "%"
    schemas = [r["SCHEMA_NAME"] for r in db.query(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s OR SCHEMA_NAME = %s "
        "ORDER BY SCHEMA_NAME", [like, control or ""])]
    checksums, definitions = {}, {}
    for schema in schemas:
        for row in db.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                            "ORDER BY TABLE_NAME", [schema]):
            name = f"`{schema}`.`{row['TABLE_NAME'].replace('`', '``')}`"
            if exclude_control_data and schema == control:
                continue
            checksums[name] = db.query(f"CHECKSUM TABLE {name}")[0]["Checksum"]
            create = db.query(f"SHOW CREATE TABLE {name}")[0]["Create Table"]
            definitions[name] = " ".join(part for part in create.split() if not part.startswith("AUTO_INCREMENT="))
    marks = ", ".join(["%s"] * len(schemas)) or "''"
    triggers = tuple(tuple(r.values()) for r in db.query(
        f"SELECT TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS "
        f"WHERE TRIGGER_SCHEMA IN ({marks}) ORDER BY 1, 2", schemas or None))
    routines = tuple(tuple(r.values()) for r in db.query(
        f"SELECT ROUTINE_SCHEMA, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN ({marks}) "
        "ORDER BY 1, 2", schemas or None))
    return Snapshot(checksums, definitions, triggers, routines, tuple(schemas))


def load_manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def bulk_fill(db: Database, common: str, subjects: int, first_id: int = 1000) -> int:
    """Add ``subjects`` subjects with two sessions of two tags each, server-side; returns rows added.

    Gives the backfill enough chunks to be caught mid-way by writers and kills.
    """
    last = first_id + subjects - 1
    db.execute(f"USE `{common}`")
    db.execute(
        f"INSERT INTO `subject` (subject_id, species, subject_uuid, sex, weight, notes) "
        f"SELECT seq, 'Mus musculus', UNHEX(MD5(CONCAT('bulk', seq))), ELT(1 + seq % 3, 'M', 'F', 'U'), "
        f"ROUND(seq / 7, 2), CONCAT('bulk ', seq) FROM seq_{first_id}_to_{last}")
    db.execute(
        "INSERT INTO `session` (subject_id, session_id, session_start, operator) "
        f"SELECT s.seq, k.seq, '2024-05-01 08:00:00' + INTERVAL (s.seq * 2 + k.seq) MINUTE, 'alice' "
        f"FROM seq_{first_id}_to_{last} AS s, seq_1_to_2 AS k")
    db.execute(
        "INSERT INTO `session__tag` (subject_id, session_id, tag) "
        f"SELECT s.seq, k.seq, t.tag FROM seq_{first_id}_to_{last} AS s, seq_1_to_2 AS k, "
        "(SELECT 'x' AS tag UNION ALL SELECT 'y') AS t")
    return subjects * 7


def prepare_migration(tmp_path: Path, prefix: str, common: str, ephys: str, env: dict[str, str]) -> tuple[Path, Path]:
    """Plan (transforming), generated files; returns (plan path, output directory)."""
    return migration_files(tmp_path, prefix, [common, ephys], env, lambda plan: transform_plan(plan, common))


def migration_files(tmp_path: Path, prefix: str, sources: list[str], env: dict[str, str],
                    edit: Callable[[dict], object], preset: str | None = None) -> tuple[Path, Path]:
    """The identity plan of ``sources`` (each to ``<source>_v2``, control schema ``<prefix>_ctl``; ``preset``
    given to plan init) edited by ``edit``, and its generated files; returns (plan path, output directory)."""
    plan_path = tmp_path / "plan.yaml"
    pairs = [a for s in sources for a in ("--schema", f"{s}={s}_v2")]
    presets = ["--preset", preset] if preset else []
    init = djsqlgen(["plan", "init", *presets, *pairs, "--name", prefix, "-o", str(plan_path)], env)
    assert init.returncode == 0, init.stderr
    plan = yaml.safe_load(plan_path.read_text())
    plan["control_schema"] = f"{prefix}_ctl"
    edit(plan)
    write_plan(plan_path, plan)
    out = tmp_path / "out"
    generated = djsqlgen(["generate", str(plan_path), "-o", str(out)], env)
    assert generated.returncode == 0, generated.stderr
    return plan_path, out


def migrate_while_writing(plan_path: Path, out: Path, env: dict[str, str], during: Callable[[], None],
                          after: Callable[[], None], chunk_rows: int = 200) -> None:
    """00 to 30 applied; the backfill (the command) while ``during`` writes, then verify; 60, ``after`` writes
    again, then verify. Each step must succeed."""
    for name in ("00_preflight", "10_expand", "20_routines", "30_dualwrite"):
        result = djsqlgen(["apply", str(out / f"{name}.sql")], env)
        assert result.returncode == 0, f"{name}: {result.stderr}"
    copy = subprocess.Popen([sys.executable, "-m", "djsqlgen", "backfill", str(plan_path), "--chunk-rows",
                             str(chunk_rows)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    during()
    assert copy.wait(timeout=600) == 0, copy.stderr.read()
    result = djsqlgen(["verify", str(plan_path)], env)
    assert result.returncode == 0, result.stdout + result.stderr
    result = djsqlgen(["apply", str(out / "60_constraints.sql")], env)
    assert result.returncode == 0, result.stderr
    after()
    result = djsqlgen(["verify", str(plan_path)], env)
    assert result.returncode == 0, result.stdout + result.stderr


def dj2_graph(schemas: list[str], env: dict[str, str]) -> dict:
    """DataJoint 2.3's dependency graph of ``schemas`` (dj2_graph.py)."""
    return json.loads(subprocess.run([sys.executable, str(SUPPORT / "dj2_graph.py"), ",".join(schemas)], env=env,
                                     capture_output=True, text=True, check=True).stdout)


def dj014_writers(python: Path, prefix: str, store: Path, env: dict[str, str], first_worker: int,
                  ranges: list[str], iterations: int = 20) -> None:
    """DataJoint 0.14 clients (dj014_writers.py), one per range of bulk subject ids, run to the end; each must
    succeed (inserts with parts, update1, key moves that cascade, deletes, raw writes)."""
    running = [subprocess.Popen(
        [str(python), str(SUPPORT / "dj014_writers.py"), "--schemas", prefix, "--store-dir", str(store),
         "--worker", str(w), "--iterations", str(iterations), "--existing", ranges[i]],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i, w in enumerate(range(first_worker, first_worker + len(ranges)))]
    for w in running:
        _, stderr = w.communicate(timeout=600)
        assert w.returncode == 0, stderr[-3000:]
