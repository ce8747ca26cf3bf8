"""The start-up of `djsqlgen backfill` (issue 25): the command run with nothing left to copy, so that all it does is
start Python, import, read the plan, connect, check (phases, triggers, v1's definitions, progress) and finish.

One small v1 table in schema ``bench_bst_v1`` (control ``bench_bst_ctl``), 00-30 applied and copied once; then
``--rounds`` interleaved runs of this source's command and, with ``--baseline DIR`` (another djsqlgen's source:
``git archive COMMIT | tar -x -C DIR`` and ``ln -s ../sql_templates DIR/djsqlgen/sql_templates``), that version's,
each timed on the wall and in the command's own CPU time (the client's: the imports and the plan reading), medians
printed with the ratio. The machine may be shared: compare the two of the same run, not seconds across runs.

Run: ``.venv/bin/python bench/backfill_startup_bench.py [--rounds 10] [--baseline DIR]`` (DJ_HOST, DJ_USER, DJ_PASS,
else root on localhost).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import connect, create_own, djsqlgen, drop_own, mark_own, run

V1, V2, CONTROL = "bench_bst_v1", "bench_bst_v2", "bench_bst_ctl"


def timed(work: Path, code: str | None) -> tuple[float, float]:
    """Wall and CPU seconds of one `djsqlgen backfill plan.yaml` (``code``: another source to run instead)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if code:
        env["PYTHONPATH"] = code
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "djsqlgen", "backfill", "plan.yaml"], cwd=work, env=env, check=True,
                   capture_output=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--baseline", help="a directory holding another djsqlgen's source, run in the same rounds")
    args = parser.parse_args()
    baseline = str(Path(args.baseline).resolve()) if args.baseline else None
    db = connect()
    drop_own(db, V2, CONTROL)
    create_own(db, V1)
    run(db, f"USE `{V1}`")  # the seq_ tables need a current database
    run(db, f"CREATE TABLE `{V1}`.t (id int NOT NULL, a int NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB")
    run(db, f"INSERT INTO `{V1}`.t SELECT seq, seq FROM seq_1_to_1000")
    codes = {"this source": None, **({"baseline": baseline} if baseline else {})}
    times: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in codes}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            djsqlgen("plan", "init", "--schema", f"{V1}={V2}", "--name", "bench_bst", "-o", "plan.yaml", work=work)
            plan = yaml.safe_load((work / "plan.yaml").read_text())
            plan["control_schema"] = CONTROL
            (work / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
            djsqlgen("generate", "plan.yaml", "-o", "out", work=work)
            djsqlgen("apply", *(f"out/{n}.sql" for n in ("00_preflight", "10_expand", "20_routines", "30_dualwrite")),
                     work=work)
            mark_own(db, V2)
            djsqlgen("backfill", "plan.yaml", work=work)  # copied: from here on each run only starts and checks
            for _ in range(args.rounds):
                for name, code in codes.items():
                    wall, cpu = timed(work, code)
                    times[name]["wall"].append(wall)
                    times[name]["cpu"].append(cpu)
    finally:
        drop_own(db, V1, V2, CONTROL)
    med = {name: {k: statistics.median(v) for k, v in t.items()} for name, t in times.items()}
    for name, m in med.items():
        print(f"{name}: start-up {m['wall']:.3f} s on the wall, {m['cpu']:.3f} s of the command's CPU")
    if baseline:
        print(f"this source / baseline, same rounds: wall {med['this source']['wall'] / med['baseline']['wall']:.2f}, "
              f"CPU {med['this source']['cpu'] / med['baseline']['cpu']:.2f}")
    print(f"medians of {args.rounds} interleaved rounds; load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
