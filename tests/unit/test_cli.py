"""The command line itself: help that lists everything, a password that can be asked for."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from djsqlgen import cli as cli_module
from djsqlgen.cli import cli


def _every_command(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        if command.hidden:
            continue
        if isinstance(command, click.Group):
            names += _every_command(command, f"{prefix}{name} ")
        else:
            names.append(f"{prefix}{name}")
    return names


def test_help_lists_every_command_with_its_whole_first_line():
    out = CliRunner().invoke(cli, ["--help"], terminal_width=120).output
    listed = out.split("Commands:", 1)[1]
    for name in _every_command(cli):
        command = cli
        for part in name.split():
            command = command.commands[part]
        first_line = command.help.strip().splitlines()[0]
        # click re-wraps long lines: compare the words, not the layout
        assert name in listed, f"{name} missing from --help"
        assert " ".join(first_line.split()) in " ".join(listed.split()), f"{name}'s help line is cut: {first_line}"


@pytest.mark.parametrize("argv, prompted", [(["--password"], True), (["--password", "given"], False), ([], False)])
def test_password_alone_is_asked_for_without_echo(argv, prompted, monkeypatch):
    seen = {}

    @cli.command("_show_password", hidden=True)
    @cli_module.pass_context
    def show(obj):
        seen["password"] = obj.settings.password

    monkeypatch.setenv("DJ_PASS", "from-env")
    try:
        result = CliRunner().invoke(cli, [*argv, "_show_password"], input="typed\n")
    finally:
        del cli.commands["_show_password"]
    assert result.exit_code == 0, result.output
    assert ("password" in result.output) == prompted
    assert "typed" not in result.output  # hidden input is not echoed
    expected = "typed" if prompted else ("given" if argv else "from-env")
    assert seen["password"] == expected
