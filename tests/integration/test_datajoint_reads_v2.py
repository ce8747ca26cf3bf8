"""After the backfill, DataJoint itself loads the v2 tables and reads the same rows as from v1:
DataJoint 0.14 on a pipeline it declared, DataJoint 2.3 on one it declared."""

from __future__ import annotations

import json
import subprocess
import sys

from support.engine import SUPPORT, build_v1, djsqlgen

THROUGH_CONSTRAINTS = ("00_preflight", "10_expand", "20_routines", "30_dualwrite", "40_backfill", "50_verify",
                       "60_constraints")


def _migrate_identity(tmp_path, prefix, schemas: list[str], env) -> list[str]:
    plan = tmp_path / "plan.yaml"
    args = ["plan", "init", "--name", prefix, "-o", str(plan)]
    for schema in schemas:
        args += ["--schema", f"{schema}={schema}_v2"]
    assert djsqlgen(args, env).returncode == 0
    text = plan.read_text().replace("control_schema: null\n", "")
    plan.write_text(text + f"control_schema: {prefix}_ctl\n")
    out = tmp_path / "out"
    result = djsqlgen(["generate", str(plan), "-o", str(out)], env)
    assert result.returncode == 0, result.stderr
    for name in THROUGH_CONSTRAINTS:
        result = djsqlgen(["apply", str(out / f"{name}.sql")], env)
        assert result.returncode == 0, f"{name}: {result.stderr}"
    return [f"{s}_v2" for s in schemas]


def _read(python, script: str, schemas: list[str], store, env) -> dict:
    result = subprocess.run([str(python), str(SUPPORT / script), "--schemas", ",".join(schemas),
                             "--store-dir", str(store)], check=False, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout)


def test_datajoint_014_reads_v2_like_v1(tmp_path, prefix, dj014_python, dj_env):
    store = tmp_path / "store"
    v1 = list(build_v1(dj014_python, prefix, store, dj_env))
    v2 = _migrate_identity(tmp_path, prefix, v1, dj_env)
    # 0.14 files external objects under {location}/{schema}/: the v2 schemas see the same objects.
    for old, new in zip(v1, v2):
        (store / new).symlink_to(store / old, target_is_directory=True)
    before = _read(dj014_python, "dj014_read.py", v1, store, dj_env)
    after = _read(dj014_python, "dj014_read.py", v2, store, dj_env)
    assert set(after) == set(before) and len(before) >= 10
    for table in before:
        assert after[table] == before[table], f"DataJoint 0.14 reads {table} differently from v2"


def test_datajoint_23_reads_v2_like_v1(tmp_path, prefix, dj_env):
    store = tmp_path / "store"
    build = subprocess.run([sys.executable, str(SUPPORT / "dj2_pipeline.py"), "build", "--schemas", prefix,
                            "--store-dir", str(store)], check=False, env=dj_env, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-4000:]
    v1 = [f"{prefix}_dj2"]
    v2 = _migrate_identity(tmp_path, prefix, v1, dj_env)
    before = _read(sys.executable, "dj2_read.py", v1, store, dj_env)
    after = _read(sys.executable, "dj2_read.py", v2, store, dj_env)
    assert set(after) == set(before) and len(before) >= 8
    for table in before:
        assert after[table] == before[table], f"DataJoint 2.3 reads {table} differently from v2"
