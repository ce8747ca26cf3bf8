"""The backfill against one bulk INSERT…SELECT of the same rows, side by side (issue 25).

Three v1 tables, each in its own schema with its own identity plan (schemas ``bench_bs_*``, or ``$BENCH_PREFIX*``):

- ``wide``: ``--wide-rows`` rows (default 300,000) of an int key, a few small columns and a 1 KB blob;
- ``narrow``: ``--narrow-rows`` rows (default 1,000,000) of an int key and two small numbers;
- ``start``: ``--start-rows`` rows (default 200,000) shaped like ``wide``: the command's start-up counts.

In each round, for each table: one bulk ``INSERT … SELECT`` into an empty ``LIKE`` copy (the server's copy
limit), then, after 00-30 are applied (triggers in place), ``djsqlgen backfill plan.yaml`` (the command, default
options), then the rollback, 00-30 again and ``40_backfill.sql`` with the stock ``mariadb`` client; on ``wide``
also ``pt-online-schema-change --alter ENGINE=InnoDB`` of a copy (pt-osc's chunked, trigger-guarded copy, then its
swap), for reference, when installed. The command's start-up is measured in the same round as a second
``djsqlgen backfill`` with nothing left to copy (Python, imports, connection, checks), and left out of the wide and
narrow figures; on ``start`` it is included. Printed: medians over ``--rounds`` interleaved rounds of each
method's throughput against that round's bulk copy (bulk seconds / method seconds; 1.0 is as fast as bulk), and
the rows the server read per row copied during the command's backfill (``Handler_read_*``, server-wide, so
others' queries add to it): 1.0 is one read per row, 2.0 was the walk ahead (its share of the reads). When the
server runs on this machine, also the CPU time of the server thread that did the copy (common.ServerCpu), bulk's
against each method's: steadier than wall time when others load the machine. And the fixed cost of a chunk
(a hundred one-row chunks through backfill_chunk) times the chunks the command took, as a share of its copy.

With ``--baseline DIR`` (another djsqlgen's source: ``git archive COMMIT | tar -x -C DIR`` and ``ln -s
../sql_templates DIR/djsqlgen/sql_templates``, where the wheel has its templates), that version's
command and 40_backfill.sql run in the same rounds against the same bulk copies: before and after, side by side.

Run: ``.venv/bin/python bench/backfill_speed_bench.py [--rounds 5] [--keep] [--baseline DIR]`` (DJ_HOST, DJ_USER, DJ_PASS, else
root on localhost). The machine may be shared: compare ratios of the same round, not seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import ServerCpu, connect, djsqlgen, run

PREFIX = os.environ.get("BENCH_PREFIX", "bench_bs_")  # a name of your own on a shared server (bench_<you>_)
BLOB = "CONCAT(" + ", ".join(f"UNHEX(SHA2(CONCAT(seq, '-{i}'), 512))" for i in range(16)) + ")"  # 1 KB per row
SHAPES = {
    "wide": ("id int NOT NULL, subject int NOT NULL, name varchar(64) CHARACTER SET utf8mb4 NOT NULL, "
             "x float NOT NULL, data longblob NOT NULL, PRIMARY KEY (id)", f"seq, seq DIV 100, CONCAT('rec-', seq), seq / 7, {BLOB}"),
    "narrow": ("id int NOT NULL, a int NOT NULL, b smallint NOT NULL, PRIMARY KEY (id)", "seq, seq DIV 3, seq % 1000"),
}


def schema(case: str, side: str) -> str:
    return f"{PREFIX}{case}_{side}"


def drop_all(db) -> None:
    for (name,) in run(db, f"SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '{PREFIX}%'"):
        run(db, f"DROP DATABASE `{name}`")


def build(db, case: str, shape: str, rows: int, work: Path) -> Path:
    columns, values = SHAPES[shape]
    v1 = schema(case, "v1")
    run(db, f"CREATE DATABASE `{v1}`")
    run(db, f"USE `{v1}`")  # seq_1_to_N needs a current database
    run(db, f"CREATE TABLE `{v1}`.t ({columns}) ENGINE=InnoDB")
    for start in range(0, rows, 100_000):  # in pieces: one huge transaction would stall a shared server
        run(db, f"INSERT INTO `{v1}`.t SELECT {values} FROM seq_{start + 1}_to_{min(start + 100_000, rows)}")
    run(db, f"ANALYZE TABLE `{v1}`.t")
    home = work / case
    home.mkdir()
    subprocess.run([sys.executable, "-m", "djsqlgen", "plan", "init", "--schema", f"{v1}={schema(case, 'v2')}",
                    "--name", f"bs_{case}", "-o", "plan.yaml"], cwd=home, check=True, capture_output=True)
    plan = yaml.safe_load((home / "plan.yaml").read_text())
    plan["control_schema"] = schema(case, "ctl")
    (home / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
    djsqlgen("generate", "plan.yaml", "-o", "out", work=home)
    if BASELINE:
        djsqlgen("generate", "plan.yaml", "-o", "out_base", work=home, code=BASELINE)
    return home


def bulk(db, case: str) -> tuple[float, float | None]:
    """Seconds of one bulk copy, and the server's CPU seconds for it."""
    copy = schema(case, "bulk")
    run(db, f"DROP DATABASE IF EXISTS `{copy}`")
    run(db, f"CREATE DATABASE `{copy}`")
    run(db, f"CREATE TABLE `{copy}`.t LIKE `{schema(case, 'v1')}`.t")
    started = time.monotonic()
    with ServerCpu() as cpu:
        run(db, f"INSERT INTO `{copy}`.t SELECT * FROM `{schema(case, 'v1')}`.t")
    elapsed = time.monotonic() - started
    run(db, f"DROP DATABASE `{copy}`")
    return elapsed, cpu.seconds


def setup(home: Path, out: str = "out", code: str | None = None) -> None:
    """00-30 applied from scratch: the control schema and v2 dropped first, so that one version's routines never
    stand in for another's (20 skips a routine its plan already has)."""
    db = connect()
    for side in ("ctl", "v2"):
        run(db, f"DROP DATABASE IF EXISTS `{schema(home.name, side)}`")
    db.close()
    djsqlgen("apply", *(f"{out}/{name}.sql" for name in ("00_preflight", "10_expand", "20_routines", "30_dualwrite")),
             work=home, code=code)


def rows_read(db) -> int:
    """Rows the server's handlers returned, server-wide (MariaDB 10.11 has no Innodb_rows_read)."""
    return sum(int(v) for _, v in run(db, "SHOW GLOBAL STATUS WHERE Variable_name IN ('Handler_read_first', "
                                          "'Handler_read_key', 'Handler_read_next', 'Handler_read_rnd_next')"))


def client(path: Path) -> float:
    command = ["mariadb", f"--host={os.environ.get('DJ_HOST', '127.0.0.1')}",
               f"--user={os.environ.get('DJ_USER', 'root')}",
               f"--port={os.environ.get('DJ_PORT', '3306')}"] + ([f"--password={os.environ['DJ_PASS']}"]
                                                                 if os.environ.get("DJ_PASS") else [])
    started = time.monotonic()
    with path.open() as sql:
        result = subprocess.run(command, stdin=sql, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{path} failed:\n{result.stderr}")
    return time.monotonic() - started


def pt_osc(db, case: str) -> float | None:
    tool = shutil.which("pt-online-schema-change")
    if tool is None:
        return None
    copy = schema(case, "ptosc")
    run(db, f"DROP DATABASE IF EXISTS `{copy}`")
    run(db, f"CREATE DATABASE `{copy}`")
    run(db, f"CREATE TABLE `{copy}`.t LIKE `{schema(case, 'v1')}`.t")
    run(db, f"INSERT INTO `{copy}`.t SELECT * FROM `{schema(case, 'v1')}`.t")
    # host, port and user in the DSN: pt-online-schema-change left --port out of its connection (to 127.0.0.1)
    dsn = (f"h={os.environ.get('DJ_HOST', '127.0.0.1')},P={os.environ.get('DJ_PORT', '3306')},"
           f"u={os.environ.get('DJ_USER', 'root')},D={copy},t=t")
    command = [tool, "--alter=ENGINE=InnoDB", dsn, "--execute", "--recursion-method=none",
               "--no-check-replication-filters"]
    if os.environ.get("DJ_PASS"):
        command.append(f"--password={os.environ['DJ_PASS']}")
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    run(db, f"DROP DATABASE `{copy}`")
    if result.returncode != 0:
        raise SystemExit(f"pt-online-schema-change failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def chunks_and_overhead(db, case: str, home: Path, calls: int = 100) -> tuple[int, float]:
    """The chunks the last backfill took, and the fixed cost of one chunk in seconds: ``calls`` chunks of one row
    each through backfill_chunk on one connection (its bookkeeping, lock, checkpoint and commit; the copy of one
    row). Leaves the table partly copied: roll back after."""
    ctl = f"`{schema(case, 'ctl')}`"
    (chunks, target), = run(db, f"SELECT chunks, target_id FROM {ctl}.progress")
    djsqlgen("apply", "out/rollback", work=home)
    setup(home)
    started = time.monotonic()
    for _ in range(calls):
        run(db, f"CALL {ctl}.backfill_chunk('{target}', 1, @rows, @done, @warnings)")
    return int(chunks), (time.monotonic() - started) / calls


def one_round(db, case: str, home: Path, rows: int, with_startup: bool, out: dict, baseline_first: bool = False
              ) -> None:
    b, b_cpu = bulk(db, case)
    if BASELINE and baseline_first:  # every other round: neither version always runs right after the bulk copy
        baseline_round(db, case, home, with_startup, b, b_cpu, out)
    setup(home)
    before = rows_read(db)
    with ServerCpu() as cli_cpu:
        command = djsqlgen("backfill", "plan.yaml", work=home)
    read = rows_read(db) - before
    startup = djsqlgen("backfill", "plan.yaml", work=home)  # nothing left to copy: start-up and checks alone
    chunks, per_chunk = chunks_and_overhead(db, case, home)
    djsqlgen("apply", "out/rollback", work=home)
    setup(home)
    with ServerCpu() as server_cpu:
        server = client(home / "out" / "40_backfill.sql")
    djsqlgen("apply", "out/rollback", work=home)
    if b_cpu and cli_cpu.seconds and server_cpu.seconds:  # the server's CPU for the same rows, against bulk's
        out.setdefault(case, {}).setdefault("cli_cpu", []).append(b_cpu / cli_cpu.seconds)
        out[case].setdefault("40_cpu", []).append(b_cpu / server_cpu.seconds)
    cli = command if with_startup else max(command - startup, 1e-6)
    out.setdefault(case, {}).setdefault("cli", []).append(b / cli)
    out[case].setdefault("40", []).append(b / server)
    out[case].setdefault("startup", []).append(startup)
    out[case].setdefault("reads", []).append(read / rows)
    out[case].setdefault("bulk", []).append(b)
    out[case].setdefault("chunks", []).append(chunks)
    out[case].setdefault("overhead", []).append(chunks * per_chunk / max(command - startup, 1e-6))
    out[case].setdefault("per_chunk", []).append(per_chunk)
    if BASELINE and not baseline_first:
        baseline_round(db, case, home, with_startup, b, b_cpu, out)
    if case == "wide":
        seconds = pt_osc(db, case)
        if seconds is not None:
            out[case].setdefault("ptosc", []).append(b / seconds)


def baseline_round(db, case: str, home: Path, with_startup: bool, b: float, b_cpu: float | None, out: dict) -> None:
    """The same command and 40_backfill.sql with the baseline's code and files, against the same bulk copy."""
    setup(home, "out_base", BASELINE)
    with ServerCpu() as cli_cpu:
        command = djsqlgen("backfill", "plan.yaml", work=home, code=BASELINE)
    startup = djsqlgen("backfill", "plan.yaml", work=home, code=BASELINE)
    djsqlgen("apply", "out_base/rollback", work=home, code=BASELINE)
    setup(home, "out_base", BASELINE)
    with ServerCpu() as server_cpu:
        server = client(home / "out_base" / "40_backfill.sql")
    djsqlgen("apply", "out_base/rollback", work=home, code=BASELINE)
    out[case].setdefault("cli@base", []).append(b / (command if with_startup else max(command - startup, 1e-6)))
    out[case].setdefault("40@base", []).append(b / server)
    if b_cpu and cli_cpu.seconds and server_cpu.seconds:
        out[case].setdefault("cli_cpu@base", []).append(b_cpu / cli_cpu.seconds)
        out[case].setdefault("40_cpu@base", []).append(b_cpu / server_cpu.seconds)


BASELINE: str | None = None  # --baseline: another djsqlgen's source, run in the same rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wide-rows", type=int, default=300_000)
    parser.add_argument("--narrow-rows", type=int, default=1_000_000)
    parser.add_argument("--start-rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--cases", help="comma-separated: only these of wide, narrow, start")
    parser.add_argument("--baseline", help="a directory holding another djsqlgen's source (git archive COMMIT | tar -x "
                                           "-C DIR; DIR/djsqlgen/sql_templates a link to DIR/sql_templates): its command and 40 in the same rounds, against the same bulk")
    args = parser.parse_args()
    global BASELINE
    BASELINE = str(Path(args.baseline).resolve()) if args.baseline else None
    db = connect()
    drop_all(db)
    cases = {"wide": ("wide", args.wide_rows, False), "narrow": ("narrow", args.narrow_rows, False),
             "start": ("wide", args.start_rows, True)}
    if args.cases:
        cases = {case: cases[case] for case in args.cases.split(",")}
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        homes = {case: build(db, case, shape, rows, Path(tmp)) for case, (shape, rows, _) in cases.items()}
        for i in range(args.rounds):
            for case, (_, rows, with_startup) in cases.items():
                one_round(db, case, homes[case], rows, with_startup, out, baseline_first=i % 2 == 1)
            print(f"round {i + 1}: " + "  ".join(
                f"{c} cli {out[c]['cli'][-1]:.2f} 40 {out[c]['40'][-1]:.2f}"
                + (f" (baseline: cli {out[c]['cli@base'][-1]:.2f} 40 {out[c]['40@base'][-1]:.2f})" if BASELINE else "")
                for c in cases), flush=True)
    med = lambda case, key: statistics.median(out[case][key])  # noqa: E731
    for case, (shape, rows, with_startup) in cases.items():
        print(f"{case}: {rows:,} {shape} rows, bulk {med(case, 'bulk'):.2f} s; throughput against bulk: "
              f"djsqlgen backfill {med(case, 'cli'):.2f} (start-up {'included' if with_startup else 'left out'}: "
              f"{med(case, 'startup'):.2f} s), 40_backfill.sql {med(case, '40'):.2f}"
              + (f", pt-online-schema-change {med(case, 'ptosc'):.2f}" if "ptosc" in out[case] else "")
              + f"; rows read per row copied {med(case, 'reads'):.2f} (the walk's share of the reads: "
              f"{max(med(case, 'reads') - 1, 0) / med(case, 'reads'):.0%})")
        print(f"  {med(case, 'chunks'):.0f} chunks, each with a fixed cost of {med(case, 'per_chunk') * 1000:.1f} ms "
              f"(a one-row chunk): {med(case, 'overhead'):.1%} of the command's copy")
        if BASELINE:
            print(f"  baseline ({BASELINE}), same rounds: djsqlgen backfill {med(case, 'cli@base'):.2f}, "
                  f"40_backfill.sql {med(case, '40@base'):.2f}"
                  + (f"; server CPU against bulk's: {med(case, 'cli_cpu@base'):.2f}, {med(case, '40_cpu@base'):.2f}"
                     if "cli_cpu@base" in out[case] else ""))
        if "cli_cpu" in out[case]:
            print(f"  the server's CPU time for the copy, bulk's against each (1.0: as little as bulk): djsqlgen "
                  f"backfill {med(case, 'cli_cpu'):.2f}, 40_backfill.sql {med(case, '40_cpu'):.2f}")
    if "wide" in out and "ptosc" not in out["wide"]:
        print("pt-online-schema-change: not installed (apt-get install percona-toolkit), not measured")
    print(f"medians of {args.rounds} interleaved rounds; load average at the end {os.getloadavg()[0]:.1f}")
    if not args.keep:
        drop_all(db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
