"""A small DataJoint 0.14 pipeline with a 1:1 part table, and a writer for it (djsqlgen's merge tests).

Runs ONLY under a Python with ``datajoint==0.14.6`` (see ``dj014_venv.py``).

    python dj014_scans.py build --schema DB --subjects N
    python dj014_scans.py write --schema DB --worker W --iterations I

``Scan.Quality`` has exactly its master's key (1:1); most scans have one, some do not. The writer does what
users do: inserts a scan with its quality part in one transaction (and some without), updates a scan with
update1, deletes a quality row alone (delete_quick, as a script fixing data does), renumbers a subject with a
raw UPDATE (v1's ON UPDATE CASCADE carries it into scan and scan__quality), and deletes a subject with
DataJoint's cascading delete (parts first).
"""

from __future__ import annotations

import argparse
import os
import random
import sys

import datajoint as dj

schema = dj.Schema()


@schema
class Subject(dj.Manual):
    definition = """
    subject_id : int
    """


@schema
class Scan(dj.Manual):
    definition = """
    -> Subject
    scan_id : smallint
    ---
    depth : float            # um
    """

    class Quality(dj.Part):
        definition = """
        -> master
        ---
        snr : double
        ok = null : tinyint
        """


def _connect() -> None:
    dj.config["database.host"] = os.environ.get("DJ_HOST", "127.0.0.1")
    dj.config["database.user"] = os.environ.get("DJ_USER", "root")
    dj.config["database.password"] = os.environ.get("DJ_PASS", "")
    dj.config["database.port"] = int(os.environ.get("DJ_PORT", "3306"))
    dj.config["database.use_tls"] = os.environ.get("DJ_USE_TLS", "false").lower() in ("1", "true", "yes")
    dj.config["safemode"] = False


def build(db: str, subjects: int) -> None:
    schema.activate(db)
    Subject.insert([{"subject_id": s} for s in range(1, subjects + 1)], skip_duplicates=True)
    Scan.insert([{"subject_id": s, "scan_id": k, "depth": s + k / 10} for s in range(1, subjects + 1)
                 for k in (1, 2)], skip_duplicates=True)
    Scan.Quality.insert([{"subject_id": s, "scan_id": k, "snr": s * 1.5 + k, "ok": 1 if k == 1 else None}
                         for s in range(1, subjects + 1) for k in (1, 2) if s % 5], skip_duplicates=True)


def write(db: str, worker: int, iterations: int) -> None:
    schema.activate(db, create_tables=False)
    conn = dj.conn()
    rng = random.Random(worker)
    base = 1_000_000 + worker * 10_000
    for i in range(iterations):
        sid = base + i
        with conn.transaction:  # a master with its part, together
            Subject.insert1({"subject_id": sid})
            Scan.insert1({"subject_id": sid, "scan_id": 1, "depth": rng.uniform(1, 9)})
            Scan.Quality.insert1({"subject_id": sid, "scan_id": 1, "snr": rng.uniform(1, 99), "ok": 1})
            if i % 2:
                Scan.insert1({"subject_id": sid, "scan_id": 2, "depth": 2.5})  # a scan without its part
        Scan.update1({"subject_id": sid, "scan_id": 1, "depth": 42.0})
        existing = 1 + worker * 200 + (i * 7) % 200  # bulk subjects of this worker's own, never another's
        (Scan.Quality & {"subject_id": existing}).delete_quick()
        if i % 3 == 1:
            conn.query(f"UPDATE `{db}`.`subject` SET subject_id = subject_id + 500000 WHERE subject_id = %s",
                       args=(sid - 1,))
        if i % 4 == 3:
            (Subject & {"subject_id": sid}).delete()  # DataJoint deletes the part rows, then the scans, first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["build", "write"])
    parser.add_argument("--schema", required=True)
    parser.add_argument("--subjects", type=int, default=500)
    parser.add_argument("--worker", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args(argv)
    _connect()
    if args.command == "build":
        build(args.schema, args.subjects)
    else:
        write(args.schema, args.worker, args.iterations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
