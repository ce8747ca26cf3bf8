"""Command line: click commands that parse, call and print; the work is done elsewhere."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

import djsqlgen
from djsqlgen.errors import DjsqlgenError
from djsqlgen.run.db import ServerError, connected
from djsqlgen.run.settings import ConnectionSettings, resolve_settings

if TYPE_CHECKING:  # the heading reader (and what it imports) is loaded by the commands that read headings
    from djsqlgen.catalog.heading import Catalog


class _Context:
    def __init__(self, settings_args: dict):
        self._settings_args = settings_args
        self._settings: ConnectionSettings | None = None

    @property
    def settings(self) -> ConnectionSettings:
        if self._settings is None:
            self._settings = resolve_settings(**self._settings_args)
            click.echo(self._settings.announce(), err=True)  # once, before the first connection
        return self._settings


pass_context = click.make_pass_decorator(_Context)
ASK = "\0ask"  # --password given without a value: ask for it


CONNECTION_OPTIONS = ("--host", "--port", "--user", "--password")


def _connection_options_first(args: list[str], commands) -> list[str]:
    """Connection options written after the command (`djsqlgen status plan.yaml --host h`) moved before it,
    where click reads them; a bare --password there asks for it. Nothing after `--` is touched."""
    start = next((i for i, arg in enumerate(args) if arg in commands), None)
    if start is None:
        return args
    moved, rest, i = [], args[:start + 1], start + 1
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg.partition("=")[0] in CONNECTION_OPTIONS and "=" in arg:
            moved.append(arg)
        elif arg == "--password" and (i + 1 == len(args) or args[i + 1].startswith("-")):
            moved.append(f"--password={ASK}")
        elif arg in CONNECTION_OPTIONS and i + 1 < len(args):
            moved += [arg, args[i + 1]]
            i += 1
        else:
            rest.append(arg)
        i += 1
    return args[:start] + moved + rest[start:]


class _FullHelpGroup(click.Group):
    """``--help`` lists every command with its whole first line, not cut at 45 characters."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = _connection_options_first(list(args), self.commands)
        # click would take the command after a bare --password as its value (`--password status PLAN`
        # would try the password "status"): a bare --password before the command name asks instead.
        # --password=VALUE is always the value.
        for i, arg in enumerate(args):
            if arg in self.commands:
                break
            if arg == "--password" and (i + 1 == len(args) or args[i + 1] in self.commands):
                args[i] = f"--password={ASK}"
        return super().parse_args(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            if isinstance(command, click.Group):
                for sub in command.list_commands(ctx):
                    text = (command.get_command(ctx, sub).help or "").strip().splitlines()
                    rows.append((f"{name} {sub}", text[0] if text else ""))
            else:
                rows.append((name, (command.help or "").strip().splitlines()[0]))
        with formatter.section("Commands"):
            formatter.write_dl(rows, col_max=20)


def _show_version(ctx: click.Context) -> None:
    """--version, as click's version_option prints it; the version is read only when asked for."""
    click.echo(f"djsqlgen, version {djsqlgen.__version__}")
    ctx.exit()


@click.group(cls=_FullHelpGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.option("--host", help="MySQL host (else DJ_HOST, else a DataJoint config file). Connection options go "
              "before or after the command.")
@click.option("--port", type=int, help="MySQL port (else DJ_PORT, else 3306).")
@click.option("--user", help="MySQL user (else DJ_USER).")
@click.option("--password", is_flag=False, flag_value=ASK, default=None,
              help="MySQL password (else DJ_PASS); --password alone asks for it without echo.")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, help="Show the version and exit.",
              callback=lambda ctx, _param, wanted: _show_version(ctx) if wanted else None)
@click.pass_context
def cli(ctx: click.Context, host, port, user, password) -> None:
    """Expand-and-contract migrations for live DataJoint pipelines, as plain SQL files."""
    if password == ASK:
        password = click.prompt("password", hide_input=True, default="", show_default=False, err=True)
    ctx.obj = _Context({"host": host, "port": port, "user": user, "password": password})


@cli.command()
@click.argument("schemas", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON here.")
@pass_context
def inspect(obj: _Context, schemas: tuple[str, ...], output: Path | None) -> None:
    """Read the heading metadata of SCHEMAS (tables, attributes, keys, DataJoint types) as JSON."""
    from djsqlgen.catalog.heading import inspect_schemas

    with connected(obj.settings) as db:
        catalog = inspect_schemas(db, list(schemas), tool_version=djsqlgen.__version__)
    text = catalog.to_json()
    if output:
        _write_file(output, text)
        tables = sum(len(s.tables) for s in catalog.schemas)
        click.echo(f"wrote {output}: {len(catalog.schemas)} schema(s), {tables} table(s)", err=True)
    else:
        click.echo(text, nl=False)


# ---------------------------------------------------------------------------------------------
# plan, generate, apply, backfill, verify, status
# ---------------------------------------------------------------------------------------------
heading_option = click.option(
    "--heading", "heading_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Work offline from a file written by `djsqlgen inspect` instead of the live server.",
)


def _catalog_for(obj: _Context, schemas: list[str], heading_path: Path | None) -> Catalog:
    from djsqlgen.catalog.heading import inspect_schemas

    if heading_path:
        catalog = load_heading(heading_path)
        missing = [s for s in schemas if s not in {x.name for x in catalog.schemas}]
        if missing:
            raise DjsqlgenError(f"{heading_path} has no schema {missing[0]!r}; inspect it together with the others")
        return catalog
    with connected(obj.settings) as db:
        return inspect_schemas(db, schemas, tool_version=djsqlgen.__version__)


@cli.group()
def plan() -> None:
    """Write and check plan files."""


@plan.command("init")
@click.option("--schema", "pairs", multiple=True, required=True, metavar="SRC=DST",
              help="A v1 schema and the name of its v2 (repeat for several schemas).")
@click.option("--name", help="Plan name (names the control schema); default: the first DST.")
@click.option("--preset", type=click.Choice(["dj014-to-dj2"]),
              help="Start from a whole-plan conversion: dj014-to-dj2 makes v2 what DataJoint 2.x declares.")
@heading_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@pass_context
def plan_init(obj: _Context, pairs: tuple[str, ...], name: str | None, preset: str | None, heading_path: Path | None,
              output: Path) -> None:
    """Write an identity plan listing every table and column of the SRC schemas, to edit."""
    from djsqlgen.plan.init import identity_plan

    mapping = []
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or not source or not target:
            raise DjsqlgenError(f"--schema {pair!r}: write it as SRC=DST, e.g. lab_ephys_v1=lab_ephys_v2")
        mapping.append((source, target))
    catalog = _catalog_for(obj, [s for s, _ in mapping], heading_path)
    _write_file(output, identity_plan(catalog, mapping, name, preset))
    click.echo(f"wrote {output}: edit it, then run `djsqlgen plan check {output}`", err=True)


def _write_file(path: Path, text: str) -> None:
    """Write a file the user named, its folder made if missing; a path that cannot be written is an error, not a
    traceback."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DjsqlgenError(f"cannot write {path}: {exc.strerror or exc}") from None


def _load_checked(obj: _Context, plan_path: Path, heading_path: Path | None):
    """The plan, its headings and its migration; online (no --heading), also what 00_preflight.sql would
    refuse, so that every problem is known before a file is generated."""
    from djsqlgen.errors import PlanError
    from djsqlgen.plan import load_plan

    loaded = load_plan(plan_path)
    catalog = _catalog_for(obj, [s.source for s in loaded.schemas], heading_path)
    migration = _generator(loaded, catalog, plan_path)
    if heading_path is None:
        from djsqlgen.run.precheck import online_problems

        with connected(obj.settings) as db:
            problems = online_problems(db, migration)
        if problems:
            raise PlanError(problems, str(plan_path))
    return loaded, catalog, migration


def _generator(loaded, catalog: Catalog, plan_path: Path):
    """The migration of a plan, with plan errors reported under the plan file's name."""
    from djsqlgen.errors import PlanError
    from djsqlgen.output.generate import Migration

    try:
        return Migration(loaded, catalog)
    except PlanError as exc:
        raise PlanError(exc.problems, str(plan_path)) from None


@plan.command("check")
@click.argument("plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@heading_option
@click.option("--definitions", is_flag=True, help="Also print, per v2 table, the definition DataJoint 2.x declares "
              "it from (plans with preset dj014-to-dj2).")
@pass_context
def plan_check(obj: _Context, plan_path: Path, heading_path: Path | None, definitions: bool) -> None:
    """Validate PLAN against the headings; every problem names its plan key and the fix."""
    loaded, _, migration = _load_checked(obj, plan_path, heading_path)
    for note in migration.notes:
        click.echo(f"note: {note}", err=True)
    for direction in migration.directions:
        click.echo(f"sync: {direction.line}", err=True)
    if definitions:
        from djsqlgen.errors import PlanError
        from djsqlgen.presets.definitions import dj2_definitions, definitions_text

        if loaded.preset is None:
            raise PlanError(["preset: --definitions prints what DataJoint 2.x declares for a plan with preset "
                             "dj014-to-dj2; this plan has none"], str(plan_path))
        click.echo(definitions_text(dj2_definitions(migration.built.model)), nl=False)
    click.echo(f"{plan_path}: OK ({len(migration.targets)} v2 table(s), {len(migration.retired)} v1 table(s) left "
               f"out, {len(migration.data_checks)} data check(s))")


@cli.command()
@click.argument("plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@heading_option
@pass_context
def generate(obj: _Context, plan_path: Path, out_dir: Path, heading_path: Path | None) -> None:
    """Write the phase files, their rollbacks, RUNBOOK.md and manifest.json into OUT_DIR."""
    from djsqlgen.output.generate import generate as write_files
    from djsqlgen.plan import load_plan

    loaded = load_plan(plan_path)
    catalog = _catalog_for(obj, [s.source for s in loaded.schemas], heading_path)
    migration = _generator(loaded, catalog, plan_path)
    written = write_files(migration, out_dir, plan_path=str(plan_path))
    for direction in migration.directions:
        click.echo(f"sync: {direction.line}", err=True)
    click.echo(f"wrote {len(written)} files to {out_dir}; start with {out_dir}/RUNBOOK.md", err=True)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the statements instead of running them.")
@click.option("--through", type=click.Choice(["60", "70", "80", "90"]), default=None,
              help="The last phase a directory runs (or, for DIR/rollback, undoes): 60 unless named; 70 is the cut-over, "
                   "80 the contract, 90 the retirement of a v1 kept synced (contract.v1: keep-synced).")
@click.option("--yes", is_flag=True, help="Run a file that drops v1 (contract.drop_v1) without typing its schema name.")
@click.option("--discard-v2-writes", is_flag=True,
              help="Let rollback/70_cutover.sql give up rows written to v2 after the cut-over (it refuses otherwise).")
@click.option("--wait", "wait_for_tables", is_flag=True,
              help="Let 60's and 70's DDL wait (1 s at a time) for a table writers left busy for 30 s. It then goes "
                   "through, but a writer holding that table can lose a metadata-lock deadlock (1213). Without it "
                   "the DDL never waits, and stops after 120 s: run it again at a quieter moment.")
@pass_context
def apply(obj: _Context, paths: tuple[Path, ...], dry_run: bool, through: str | None, yes: bool,
          discard_v2_writes: bool, wait_for_tables: bool) -> None:
    """Run SQL files, DELIMITER-aware: a directory up to 60 (--through 70/80 goes on), rollback/ newest first; - is stdin."""
    from djsqlgen.run.apply import apply_files

    if dry_run:
        apply_files(None, list(paths), dry_run=True, echo=click.echo, through=through)
        return
    ask = (lambda text: click.prompt(text, err=True)) if sys.stdin.isatty() else None
    with connected(obj.settings) as db:
        count = apply_files(db, list(paths), echo=lambda text: click.echo(text, err=text.startswith("-- ")),
                            discard_v2_writes=discard_v2_writes, through=through, yes=yes, ask=ask,
                            wait_for_tables=wait_for_tables)
    click.echo(f"applied {count} statement(s)", err=True)


@cli.command()
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--store", "stores", multiple=True, required=True, metavar="NAME=LOCATION",
              help="Where a store's files are: a directory or file:// URL (repeat for several stores).")
@click.option("--dry-run", is_flag=True, help="List what would be written, write nothing.")
@click.option("--reverse", is_flag=True,
              help="Two-way: write 2.x's attachments as 0.14 reads them (MANIFEST: files_back_manifest.sql), or "
                   "fill the md5 0.14 checks of 2.x's filepaths (filepaths_back_manifest.sql).")
@pass_context
def files(obj: _Context, manifest: Path, stores: tuple[str, ...], dry_run: bool, reverse: bool) -> None:
    """Write 0.14 attachments as DataJoint 2.x reads them (MANIFEST: the generated files_manifest.sql); run it
    again to resume, and once more after 70_cutover.sql. With --reverse, the attachments 2.x users wrote, as 0.14
    reads them (files_back_manifest.sql), never changing 2.x's files."""
    from djsqlgen.run.files import carry_out, control_schema_of, manifest_rows, record, store_locations

    locations = store_locations(stores)
    if reverse:
        _files_back(obj, manifest, locations, dry_run)
        return
    from djsqlgen.engines.files import BACK_MANIFEST_FILE, FILEPATH_BACK_MANIFEST_FILE

    if manifest.name in (BACK_MANIFEST_FILE, FILEPATH_BACK_MANIFEST_FILE):
        raise DjsqlgenError(f"{manifest.name} lists 2.x's files for 0.14: run it with --reverse")
    control = control_schema_of(manifest)
    with connected(obj.settings) as db:
        rows = manifest_rows(db, manifest)
    report = carry_out(rows, locations, dry_run=dry_run, echo=click.echo)
    _files_said(report, len(rows), "attachment(s)", dry_run)
    if not dry_run:
        with connected(obj.settings) as db:
            kept = record(db, control, report.in_place)
        click.echo(f"files: {len(report.in_place):,} recorded in {control}.files_written (70_cutover.sql reads it)"
                   if kept else f"files: {control} has no files_written table (before 20 or after 80): nothing "
                   "recorded", err=True)
    if report.problems:
        raise SystemExit(1)


def _files_said(report, listed: int, what: str, dry_run: bool) -> None:
    """What `djsqlgen files` did (or would do), its problems first."""
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    verb = "would write" if dry_run else "wrote"
    click.echo(f"files: {listed:,} {what} in the manifest: {verb} {report.written:,}, "
               f"{report.present:,} already in place, {len(report.problems):,} problem(s)", err=True)


def _files_back(obj: _Context, manifest: Path, locations: dict, dry_run: bool) -> None:
    """`djsqlgen files --reverse`: 0.14's copies of the attachments 2.x users wrote (run/files_back.py)."""
    from djsqlgen.engines.files import BACK_MANIFEST_FILE, FILEPATH_BACK_MANIFEST_FILE
    from djsqlgen.run.files import manifest_rows
    from djsqlgen.run.files_back import carry_back, record

    if manifest.name == FILEPATH_BACK_MANIFEST_FILE:
        _filepaths_back(obj, manifest, locations, dry_run)
        return
    if manifest.name != BACK_MANIFEST_FILE:
        raise DjsqlgenError(f"--reverse reads {BACK_MANIFEST_FILE} or {FILEPATH_BACK_MANIFEST_FILE} (generate writes "
                            f"them for two-way plans with attach@store, filepath@store), not {manifest.name}")
    with connected(obj.settings) as db:
        rows = manifest_rows(db, manifest)
    report = carry_back(rows, locations, dry_run=dry_run, echo=click.echo)
    _files_said(report, len(rows), "2.x attachment(s)", dry_run)
    if not dry_run:
        with connected(obj.settings) as db:
            named = record(db, report.in_place)
        click.echo(f"files: {named:,} ~external row(s) named: 0.14 reads them now", err=True)
    if report.problems:
        raise SystemExit(1)


def _filepaths_back(obj: _Context, manifest: Path, locations: dict, dry_run: bool) -> None:
    """`djsqlgen files --reverse` on the filepaths 2.x users wrote: each file read in place, its size checked, its md5
    filled in as 0.14's contents_hash (run/files_back.py); no file written."""
    from djsqlgen.run.files import manifest_rows
    from djsqlgen.run.files_back import check_filepaths, record_filepaths

    with connected(obj.settings) as db:
        rows = manifest_rows(db, manifest)
    report = check_filepaths(rows, locations)
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    click.echo(f"files: {len(rows):,} 2.x filepath(s) in the manifest: {len(report.in_place):,} read, "
               f"{len(report.problems):,} problem(s)", err=True)
    if not dry_run:
        with connected(obj.settings) as db:
            filled = record_filepaths(db, report.in_place)
        click.echo(f"files: {filled:,} ~external row(s) given contents_hash: 0.14 fetches them now", err=True)
    if report.problems:
        raise SystemExit(1)


def _plan_only(plan_path: Path):
    from djsqlgen.plan import load_plan

    return load_plan(plan_path)


def _job_plan(plan_path: Path):
    """The plan as a running job reads it: its own fields validated, without loading the full plan model."""
    from djsqlgen.plan.job import load_job_plan

    return load_job_plan(plan_path)


def _chunked_options(command):
    """The options `backfill` and `verify` share: chunk size, parallel jobs, and the throttle."""
    for option in reversed((
        click.option("--chunk-rows", type=click.IntRange(1, 10_000_000),
                     help="Rows per chunk, fixed (default: the plan's, as the starting size for --chunk-time)."),
        click.option("--chunk-time", type=click.FloatRange(0), help="Seconds a chunk should take: the chunk size "
                     "adapts (default 0.5 unless --chunk-rows is given; 0 turns it off)."),
        click.option("--sleep-ms", type=click.IntRange(0), help="Pause between chunks, to spare a busy server."),
        click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
                     help="Tables worked at once, each on its own connection (each still chunked and throttled)."),
        click.option("--replica", "replicas", multiple=True, metavar="mysql://USER:PASS@HOST:PORT",
                     help="A replica to watch (repeatable): the work waits while it is behind. Read with plain "
                          "SELECTs of a heartbeat row (no SUPER needed), and SHOW REPLICA STATUS where allowed."),
        click.option("--max-lag", type=click.FloatRange(0, min_open=True), default=1.5, show_default=True,
                     help="Seconds a replica may be behind before the work waits."),
        click.option("--max-load", metavar="VAR=N[,…]", help="Wait while a status counter is above N, e.g. "
                     "Threads_running=25 (as pt-online-schema-change)."),
        click.option("--critical-load", metavar="VAR=N[,…]", help="Stop cleanly (resumable) when a status counter "
                     "reaches N, e.g. Threads_running=50."),
    )):
        command = option(command)
    return command


def _adapt(chunk_rows: int | None, chunk_time: float | None) -> float:
    # As pt-online-schema-change: an explicit chunk size is kept, else it adapts to the chunk time.
    return chunk_time if chunk_time is not None else (0.0 if chunk_rows else 0.5)


@cli.command()
@click.argument("plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_chunked_options
@pass_context
def backfill(obj: _Context, plan_path: Path, chunk_rows: int | None, chunk_time: float | None, sleep_ms: int | None,
             jobs: int, replicas: tuple[str, ...], max_lag: float, max_load: str | None,
             critical_load: str | None) -> None:
    """Copy v1's history into v2 chunk by chunk with a progress bar; stop any time, run again to resume."""
    from djsqlgen.run import driver as drive
    from djsqlgen.run.throttle import Throttle

    loaded = _job_plan(plan_path)
    throttle = Throttle.from_options(loaded.control, replicas, max_lag, max_load, critical_load)
    with connected(obj.settings) as db:
        try:
            copied = drive.backfill(db, loaded, chunk_rows or loaded.chunk.rows,
                                    loaded.chunk.sleep_ms if sleep_ms is None else sleep_ms, throttle=throttle,
                                    chunk_time_s=_adapt(chunk_rows, chunk_time), jobs=jobs)
        finally:
            throttle.close()
    click.echo(f"backfill complete: {copied:,} row(s) copied in this run", err=True)


def _request(obj: _Context, plan_path: Path, what: str) -> None:
    """Record a pause, resume or abort for the running backfill or verify, and say what it does."""
    from djsqlgen.run.backfill_control import request

    loaded = _job_plan(plan_path)
    with connected(obj.settings) as db:
        said = request(db, loaded, what)
    click.echo(f"{what}: {said}", err=True)


@cli.command()
@click.argument("plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def pause(obj: _Context, plan_path: Path) -> None:
    """Hold the running backfill or verify between two chunks (the loops of 40_backfill.sql and 50_verify.sql too)."""
    _request(obj, plan_path, "pause")


@cli.command()
@click.argument("plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def resume(obj: _Context, plan_path: Path) -> None:
    """Let a paused backfill or verify go on."""
    _request(obj, plan_path, "resume")


@cli.command()
@click.argument("plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def abort(obj: _Context, plan_path: Path) -> None:
    """Stop the running backfill or verify after its chunk in flight; run it again to resume."""
    _request(obj, plan_path, "abort")


@cli.command()
@click.argument("plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_chunked_options
@click.option("--on-replica", metavar="mysql://USER:PASS@HOST:PORT",
              help="Read the checksums on this replica, so the primary does no checksum work; results are kept "
                   "on the primary.")
@click.option("--resume", is_flag=True, help="Go on with the last verify run, stopped halfway, from its last chunk.")
@pass_context
def verify(obj: _Context, plan_path: Path, chunk_rows: int | None, chunk_time: float | None, sleep_ms: int | None,
           jobs: int, replicas: tuple[str, ...], max_lag: float, max_load: str | None, critical_load: str | None,
           on_replica: str | None, resume: bool) -> None:
    """Checksum v2 against transform(v1) (two-way: and v1 against reverse(v2)) chunk by chunk; print a line per table
    and direction; exit 1 on any difference."""
    from djsqlgen.sqltext.naming import BACK_DIRECTION
    from djsqlgen.errors import VerifyMismatch
    from djsqlgen.run import verify as check
    from djsqlgen.run.apply import format_rows
    from djsqlgen.run.throttle import Throttle, parse_dsn

    loaded = _plan_only(plan_path)
    reader = parse_dsn(on_replica) if on_replica else None
    throttle = Throttle.from_options(loaded.control, replicas, max_lag, max_load, critical_load)
    with connected(obj.settings) as db:
        try:
            result = check.verify(db, loaded, chunk_rows or loaded.chunk.verify_rows,
                                  chunk_time_s=_adapt(chunk_rows, chunk_time), sleep_ms=sleep_ms or 0, jobs=jobs,
                                  throttle=throttle, on_replica=reader, resume=resume)
        finally:
            throttle.close()
    click.echo(format_rows(result.tables) if result.tables else "no tables")
    if result.diffs:
        click.echo("\nrows that differ (up to 20 per table):")
        click.echo(format_rows(result.diffs))
    if not result.ok:
        bad = [t for t in result.tables if t["result"] != "OK"]
        ways = sorted({t["direction"] for t in bad})
        raise VerifyMismatch(f"{len(bad)} table(s) differ ({', '.join(ways)}); see the direction and keys above")
    two_way = any(t["direction"] == BACK_DIRECTION for t in result.tables)
    click.echo("verify: every table equals transform(v1)" + (", and every two-way v1 table reverse(v2)" if two_way
                                                              else ""), err=True)


@cli.command()
@click.argument("plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def status(obj: _Context, plan_path: Path) -> None:
    """Phase reached, triggers present, backfill progress per table, last verify result."""
    from djsqlgen.run import driver as drive
    from djsqlgen.run.apply import format_rows

    loaded = _plan_only(plan_path)
    with connected(obj.settings) as db:
        state = drive.status(db, loaded)
    click.echo(f"plan {loaded.name}, control schema {loaded.control}")
    if state["finished"]:
        applied = next(p["applied_at"] for p in state["phases"] if p["phase"] == "80")
        if "kept_synced" in state:
            closed = state["kept_synced"][0] if state["kept_synced"] else {"closed_at": "?", "closed_by": "?"}
            click.echo(f"contract applied at {applied}: v1 read-only since {closed['closed_at']} ({closed['closed_by']}),"
                       f" kept in sync by v2 since {applied}; once its last user is done: 90_retire_v1.sql")
            _carried_lines(state.get("carried"))
            return
        last = state["phases"][-1]
        click.echo(f"migration finished: {last['file']} applied at {last['applied_at']}; v2 is in place and v1 "
                   "retired as the plan says")
        _carried_lines(state.get("carried"))
        return
    phases = state["phases"]
    click.echo("phase reached: " + (f"{phases[-1]['file']} at {phases[-1]['applied_at']}" if phases else "none"))
    dual = [t for t in state["triggers"] if "_guard_" not in t["name_"] and "_track_" not in t["name_"]]
    guards = [t for t in state["triggers"] if "_guard_" in t["name_"]]
    click.echo(f"dual-write triggers present: {len(dual)}" + (f"; v1 guards (refuse once v1 is closed): {len(guards)}" if guards else ""))
    if state.get("sides"):  # which side takes writes: a closed one's triggers refuse them, naming v2
        click.echo("; ".join(f"{s['side']}: writable" if s["is_open"] else
                             f"{s['side']}: read-only since {s['closed_at']} ({s['closed_by']})" for s in state["sides"]))
    _carried_lines(state.get("carried"))
    if state["progress"]:
        click.echo(format_rows([
            {"v2_table": p.v2_table, "from_v1": p.from_v1, "v1_rows": _count(p.v1_rows), "v2_rows": _count(p.v2_rows),
             "rows_copied": p.rows_copied, "backfill": "done" if p.done else "pending"}
            for p in state["progress"]]))
    run = state.get("backfill")
    if run and run["reported_at"]:
        click.echo(_job_line(run))
    elif run and run["requested"] != "run":
        click.echo(f"backfill/verify: {run['requested']} requested")
    last = state["last_verify"]
    if last:
        verdict = "running, or stopped halfway (`djsqlgen verify --resume` goes on)" if last["finished_at"] is None else (
            "clean" if last["bad_chunks"] == 0 else
            "stale: a rolled-back cut-over gave up v2's later writes since; verify again" if last["bad_chunks"] < 0
            else f"{last['bad_chunks']} chunk(s) differ")
        click.echo(f"last verify: run {last['run_id']} at {last['started_at']}: {verdict}")
        for d in last.get("differences", []):  # which way differs (two-way sync checks both), and where
            where = f"differs at {', '.join(d['keys'])}" if d["keys"] else d["result"].lower()
            click.echo(f"  {d['direction']}: {d['table']} {where}")
    else:
        click.echo("last verify: none")


def _carried_lines(carried: list[dict] | None) -> None:
    """Two-way: the rows each direction carried since 30, per table written (committed rows, cascades included)."""
    if carried is None:
        return
    from djsqlgen.run.apply import format_rows

    totals = {d: sum(int(r["rows_"]) for r in carried if r["direction"] == d) for d in ("v1>v2", "v2>v1")}
    click.echo("rows carried since 30 (committed, cascades included): "
               + "; ".join(f"{d} {n}" for d, n in totals.items()))
    if carried:
        click.echo(format_rows([{"direction": r["direction"], "written_table": r["table_name"],
                                 "rows_carried": int(r["rows_"])} for r in carried]))


def _side_command(action: str):
    """`djsqlgen close|reopen v1|v2 PLAN`: the statements of sides/<action>_<side>.sql, run as `apply` runs a file."""

    @cli.command(action, help=(
        f"{'Close' if action == 'close' else 'Reopen'} one side of a two-way plan: "
        + ("its clients' writes refused (W8), the other side's still synced into it (sides/close_SIDE.sql)."
           if action == "close" else "it takes its clients' writes again (sides/reopen_SIDE.sql).")))
    @click.argument("side", type=click.Choice(["v1", "v2"]))
    @click.argument("plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @heading_option
    @click.option("--wait", "wait_s", type=click.IntRange(1, 99999), default=None,
                  help="Seconds to wait for the transactions that hold the side (default 300); then it stops, the "
                       "side unchanged.")
    @pass_context
    def command(obj: _Context, side: str, plan_path: Path, heading_path: Path | None, wait_s: int | None) -> None:
        from djsqlgen.errors import PlanError
        from djsqlgen.plan import load_plan
        from djsqlgen.run.sides import run_side_file

        loaded = load_plan(plan_path)
        if loaded.sync != "two-way":
            raise PlanError([f"sync: `djsqlgen {action}` is for plans with sync: two-way; this plan syncs one way, "
                             "so v1 closes only by 70_cutover.sql and reopens by rollback/70_cutover.sql (a bare "
                             "close would skip their AUTO_INCREMENT carry and v2 write tracking)"], str(plan_path))
        catalog = _catalog_for(obj, [s.source for s in loaded.schemas], heading_path)
        with connected(obj.settings) as db:
            # v1's headings read after 30 carry our triggers: Migration leaves them out, its hash is the installed one
            migration = _generator(loaded, catalog, plan_path)
            rows = run_side_file(db, migration, action, side, wait_s, lambda text: click.echo(text, err=True))
        click.echo("; ".join(f"{r['side']}: writable" if r["is_open"] else f"{r['side']}: read-only since "
                             f"{r['closed_at']}" for r in rows))

    return command


close = _side_command("close")
reopen = _side_command("reopen")


def _count(rows: int | None) -> str:
    return "(not there)" if rows is None else str(rows)


def _job_line(run: dict) -> str:
    """What the backfill or verify is doing; a job that says it works but whose session is gone is stopped."""
    from djsqlgen.sqltext.naming import ACTIVE_STATES

    job = "verify" if run["state"].startswith("verif") else "backfill"
    if run["state"] in ACTIVE_STATES and not run["alive"]:
        again = ("`djsqlgen verify PLAN --resume` goes on from its last chunk (50_verify.sql starts a new run)"
                 if job == "verify"
                 else "run `djsqlgen backfill PLAN` (or 40_backfill.sql) again to resume from the checkpoint")
        return (f"{job}: stopped: the process or connection that ran it is gone (it last said "
                f"{run['state']}{': ' + run['why'] if run['why'] else ''}, {run['age_s']} s ago); nothing is lost: "
                f"{again}")
    line = f"{job}: {run['state'].removeprefix('verify ')}"
    line += f": {run['why']}" if run["why"] else ""
    if run["state"] in ("copying", "throttled", "verifying", "verify throttled"):
        if run["rows_per_s"]:
            line += f", {run['rows_per_s']:,.0f} rows/s"
        if run["eta_s"] is not None:
            line += f", about {run['eta_s']:,.0f} s left"
        if run["age_s"] is not None and run["age_s"] > 30:
            line += f" (last report {run['age_s']} s ago)"
    if run["requested"] != "run" and run["state"] not in ("paused", "aborted", "verify paused", "verify aborted"):
        line += f"; {run['requested']} requested, seen before the next chunk"
    return line


def load_heading(path: Path) -> Catalog:
    """Read a heading file written by ``inspect``."""
    from djsqlgen.catalog.heading import Catalog

    try:
        return Catalog.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DjsqlgenError(f"cannot read heading file {path}: {exc}; write it again with `djsqlgen inspect`")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command; turn every expected failure into one line and an exit status."""
    try:
        cli.main(args=argv, prog_name="djsqlgen", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("djsqlgen: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DjsqlgenError as exc:
        click.echo(f"djsqlgen: error: {exc}", err=True)
        sys.exit(exc.exit_status)
    except ServerError as exc:
        click.echo(f"djsqlgen: server error {exc.errno}: {exc.message}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("djsqlgen: interrupted", err=True)
        sys.exit(130)
