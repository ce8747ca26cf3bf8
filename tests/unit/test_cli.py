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


def test_plan_check_prints_each_v2_tables_2x_definition(tmp_path):
    """Issue 23: `plan check --definitions` prints, per v2 table, the definition DataJoint 2.x declares it from (the
    same text RUNBOOK.md and manifest.json carry); a plan without the preset is refused with exit 2."""
    from pathlib import Path

    from djsqlgen.catalog.heading import Catalog
    from djsqlgen.ops import build_model
    from djsqlgen.plan import parse_plan
    from djsqlgen.presets.definitions import dj2_definitions

    heading = Path(__file__).parents[1] / "plans" / "heading.json"
    plan = tmp_path / "plan.yaml"
    runner = CliRunner()
    made = runner.invoke(cli, ["plan", "init", "--heading", str(heading), "--preset", "dj014-to-dj2", "--schema",
                               "lab_v1=lab_v2", "-o", str(plan)])
    assert made.exit_code == 0, made.output
    checked = runner.invoke(cli, ["plan", "check", str(plan), "--heading", str(heading), "--definitions"])
    assert checked.exit_code == 0, checked.output
    model = build_model(parse_plan(plan.read_text()), Catalog.from_json(heading.read_text())).model
    for d in dj2_definitions(model):
        assert f"# `lab_v2`.`{d.table}`: {d.class_name} ({d.tier})" in checked.stdout
        assert "\n".join(f"    {line}" for line in d.definition.splitlines()) in checked.stdout
    assert "    -> master" in checked.stdout and "---" in checked.stdout
    identity = tmp_path / "identity.yaml"
    runner.invoke(cli, ["plan", "init", "--heading", str(heading), "--schema", "lab_v1=lab_v2", "-o", str(identity)])
    with pytest.raises(SystemExit) as refused:  # through main(), as the installed command runs
        cli_module.main(["plan", "check", str(identity), "--heading", str(heading), "--definitions"])
    assert refused.value.code == 2
