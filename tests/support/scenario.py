"""A migration scenario for server tests: a v1 schema written in SQL, a plan, the generated files, each step.

Shorter than a DataJoint pipeline where a test is about one shape (a key type, a foreign key, a collation):
the v1 tables are declared directly, the plan is `plan init`'s identity plan edited by the test, and every
step runs as a user runs it (the djsqlgen command, or the stock mariadb client).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from djsqlgen.run.db import Database

PHASES = ("00_preflight", "10_expand", "20_routines", "30_dualwrite", "40_backfill", "50_verify",
          "60_constraints", "70_cutover", "80_contract")


class Scenario:
    def __init__(self, db: Database, prefix: str, env: dict[str, str], tmp_path: Path, schemas: tuple[str, ...] = ("v1",)):
        self.db = db
        self.prefix = prefix
        self.env = env
        self.tmp = tmp_path
        self.sources = [f"{prefix}_{s}" for s in schemas]
        self.out = tmp_path / "out"
        self.plan_path = tmp_path / "plan.yaml"

    @property
    def control(self) -> str:
        return f"{self.prefix}_ctl"

    def v2(self, source: str | None = None) -> str:
        return f"{source or self.sources[0]}_v2"

    # -- v1 ---------------------------------------------------------------------------------------
    def create_v1(self, sql_by_schema: dict[str, str] | str) -> None:
        """Create the source schemas and run their SQL (statements separated by ';' at line ends)."""
        if isinstance(sql_by_schema, str):
            sql_by_schema = {self.sources[0]: sql_by_schema}
        for schema in self.sources:
            self.db.execute(f"CREATE DATABASE `{schema}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        for schema, sql in sql_by_schema.items():
            self.db.execute(f"USE `{schema}`")
            for statement in (s.strip() for s in sql.split(";\n")):
                if statement:
                    self.db.execute(statement)

    def sql(self, statement: str, args=None):
        return self.db.query(statement, args)

    # -- the command line -------------------------------------------------------------------------
    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "djsqlgen", *args], check=False, env=self.env,
                                capture_output=True, text=True, cwd=self.tmp)
        if check and result.returncode != 0:
            raise AssertionError(f"djsqlgen {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n"
                                 f"{result.stderr}")
        return result

    def plan(self, edit: Callable[[dict], None] | None = None, name: str | None = None) -> dict:
        """The identity plan of the source schemas, edited by ``edit``; written to plan.yaml."""
        pairs = [a for s in self.sources for a in ("--schema", f"{s}={s}_v2")]
        self.run("plan", "init", *pairs, "--name", name or self.prefix, "-o", str(self.plan_path))
        plan = yaml.safe_load(self.plan_path.read_text())
        plan["control_schema"] = self.control
        if edit:
            edit(plan)
        self.plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
        return plan

    def tables(self, plan: dict, source: str | None = None) -> dict:
        return next(s for s in plan["schemas"] if s["source"] == (source or self.sources[0]))["tables"]

    def generate(self, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("generate", str(self.plan_path), "-o", str(self.out), check=check)

    def apply(self, *names: str, check: bool = True, client: bool = False) -> subprocess.CompletedProcess:
        """Apply phase files by name (``"30_dualwrite"``, ``"rollback/30_dualwrite"``)."""
        paths = [str(self.out / f"{n}.sql") for n in names]
        if client:
            results = [self.client(Path(p)) for p in paths]
            bad = [r for r in results if r.returncode != 0]
            if check and bad:
                raise AssertionError(bad[0].stderr)
            return bad[0] if bad else results[-1]
        return self.run("apply", *paths, check=check)

    def client(self, path: Path) -> subprocess.CompletedProcess:
        """The stock client, as a DBA runs a file."""
        s = self.db.settings
        command = ["mariadb", f"--host={s.host}", f"--port={s.port}", f"--user={s.user}", "--batch"]
        if s.password:
            command.append(f"--password={s.password}")
        with path.open() as stdin:
            return subprocess.run(command, stdin=stdin, capture_output=True, text=True, check=False)

    def up_to(self, last: str) -> None:
        """Apply every forward file up to ``last`` (the backfill through the command, small chunks)."""
        for name in PHASES[: PHASES.index(last) + 1]:
            if name == "40_backfill":
                self.backfill()
            elif name == "50_verify":
                self.verify()
            else:
                self.apply(name)

    def backfill(self, chunk_rows: int = 3, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("backfill", str(self.plan_path), "--chunk-rows", str(chunk_rows), check=check)

    def verify(self, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("verify", str(self.plan_path), check=check)

    # -- the data, compared independently -------------------------------------------------------
    def rows(self, schema: str, table: str, order_by: str | None = None) -> list[tuple]:
        """Every row, in key order, values as the driver returns them (bytes for binary columns)."""
        order = order_by or ", ".join(f"`{c}`" for c in self.key(schema, table))
        return [tuple(r.values()) for r in self.db.query(f"SELECT * FROM `{schema}`.`{table}` ORDER BY {order}")]

    def references(self, schema: str | None = None) -> list[tuple[str, str]]:
        """(table, referenced table) of every foreign key in a schema (v2 by default), sorted."""
        return sorted((r["TABLE_NAME"], r["REFERENCED_TABLE_NAME"]) for r in self.db.query(
            "SELECT TABLE_NAME, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = %s", [schema or self.v2()]))

    def key(self, schema: str, table: str) -> list[str]:
        return [r["COLUMN_NAME"] for r in self.db.query(
            "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
            "AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX", [schema, table])]

    def same_rows(self, table: str, v2_table: str | None = None, source: str | None = None) -> None:
        """v1's and v2's rows are equal, byte for byte (an identity target), compared in Python."""
        source = source or self.sources[0]
        v1 = self.rows(source, table, self._binary_order(source, table))
        v2 = self.rows(self.v2(source), v2_table or table, self._binary_order(source, table))
        assert v2 == v1, _first_difference(v1, v2)

    def _binary_order(self, schema: str, table: str) -> str:
        # BINARY order: the same on both sides whatever the collation
        return ", ".join(f"CAST(`{c}` AS BINARY)" for c in self.key(schema, table))


def _first_difference(v1: list[tuple], v2: list[tuple]) -> str:
    if len(v1) != len(v2):
        extra = set(v2) - set(v1)
        missing = set(v1) - set(v2)
        return f"{len(v1)} v1 rows, {len(v2)} v2 rows; missing in v2: {sorted(missing, key=repr)[:5]}; " \
               f"only in v2: {sorted(extra, key=repr)[:5]}"
    for a, b in zip(v1, v2):
        if a != b:
            return f"first difference: v1 {a!r} v2 {b!r}"
    return "equal"
