"""Command line: click commands that parse, call and print; the work is done elsewhere."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from .db import ServerError, connected
from .errors import DjsqlgenError
from .heading import Catalog, inspect_schemas
from .settings import ConnectionSettings, resolve_settings


class _Context:
    def __init__(self, settings_args: dict):
        self._settings_args = settings_args
        self._settings: ConnectionSettings | None = None

    @property
    def settings(self) -> ConnectionSettings:
        if self._settings is None:
            self._settings = resolve_settings(**self._settings_args)
        return self._settings


pass_context = click.make_pass_decorator(_Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", help="MySQL host (else DJ_HOST, else dj_local_conf.json / datajoint.json).")
@click.option("--port", type=int, help="MySQL port (else DJ_PORT, else 3306).")
@click.option("--user", help="MySQL user (else DJ_USER).")
@click.option("--password", help="MySQL password (else DJ_PASS).")
@click.version_option(__version__, prog_name="djsqlgen")
@click.pass_context
def cli(ctx: click.Context, host, port, user, password) -> None:
    """Expand-and-contract migrations for live DataJoint pipelines, as plain SQL files."""
    ctx.obj = _Context({"host": host, "port": port, "user": user, "password": password})


@cli.command()
@click.argument("schemas", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON here.")
@pass_context
def inspect(obj: _Context, schemas: tuple[str, ...], output: Path | None) -> None:
    """Read the heading metadata of SCHEMAS (tables, attributes, keys, DataJoint types) as JSON."""
    with connected(obj.settings) as db:
        catalog = inspect_schemas(db, list(schemas), tool_version=__version__)
    text = catalog.to_json()
    if output:
        output.write_text(text)
        tables = sum(len(s.tables) for s in catalog.schemas)
        click.echo(f"wrote {output}: {len(catalog.schemas)} schema(s), {tables} table(s)", err=True)
    else:
        click.echo(text, nl=False)


def load_heading(path: Path) -> Catalog:
    """Read a heading file written by ``inspect``."""
    try:
        return Catalog.from_json(path.read_text())
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
