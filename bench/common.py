"""What the benches share: a connection as the command line makes it (DJ_HOST, DJ_USER, DJ_PASS, DJ_PORT, else
root on localhost), one statement, and a timed `djsqlgen` command. Not collected by pytest (bench/ is outside
testpaths)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pymysql


def connect():
    return pymysql.connect(host=os.environ.get("DJ_HOST", "127.0.0.1"), user=os.environ.get("DJ_USER", "root"),
                           password=os.environ.get("DJ_PASS", ""), port=int(os.environ.get("DJ_PORT", "3306")),
                           autocommit=True)


def run(db, sql: str):
    """One statement; its rows, if it returns any."""
    with db.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def djsqlgen(*args: str, work: Path) -> float:
    """``djsqlgen ARGS`` in ``work``; its wall time in seconds. A failure ends the bench with its output."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "djsqlgen", *args], cwd=work, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise SystemExit(f"djsqlgen {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return time.monotonic() - started
