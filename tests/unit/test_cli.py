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


def _connect_args(monkeypatch, argv: list[str]) -> tuple[dict, str]:
    """The connection settings a hidden command sees for ARGV (its name is _show), and what was printed."""
    seen = {}

    @cli.group("_grp", hidden=True)
    def grp():
        pass

    @grp.command("_show")
    @click.argument("path", required=False)
    @click.option("--flag", is_flag=True)
    @cli_module.pass_context
    def show(obj, path, flag):
        s = obj.settings
        seen.update(host=s.host, port=s.port, user=s.user, password=s.password, path=path, flag=flag)

    for name in ("DJ_HOST", "DJ_PORT", "DJ_USER", "DJ_PASS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DJ_IGNORE_CONFIG_FILE", "true")
    try:
        result = CliRunner().invoke(cli, argv, input="typed\n")
    finally:
        del cli.commands["_grp"]
    assert result.exit_code == 0, result.output
    return seen, result.output


@pytest.mark.parametrize("argv", [
    ["_grp", "_show", "plan.yaml", "--host", "h1", "--port", "3307", "--user", "u1", "--password", "p1", "--flag"],
    ["_grp", "_show", "--host=h1", "plan.yaml", "--port=3307", "--flag", "--user=u1", "--password=p1"],
    ["--host", "h1", "--port", "3307", "_grp", "_show", "plan.yaml", "--user", "u1", "--flag", "--password=p1"],
])
def test_connection_options_are_taken_after_the_command_too(argv, monkeypatch):
    seen, output = _connect_args(monkeypatch, argv)
    assert seen == {"host": "h1", "port": 3307, "user": "u1", "password": "p1", "path": "plan.yaml", "flag": True}
    assert "connecting to u1@h1:3307 (user, host, port from the command line)" in output


def test_a_bare_password_after_the_command_is_asked_for(monkeypatch):
    seen, output = _connect_args(monkeypatch, ["_grp", "_show", "plan.yaml", "--password", "--flag"])
    assert seen["password"] == "typed" and seen["flag"] and seen["path"] == "plan.yaml"
    assert "typed" not in output


def test_nothing_after_a_double_dash_is_moved(monkeypatch):
    seen, _ = _connect_args(monkeypatch, ["_grp", "_show", "--host", "h1", "--", "--host"])
    assert (seen["host"], seen["path"]) == ("h1", "--host")


def test_the_connection_used_is_printed_once_and_says_when_it_falls_back_to_the_os_user(monkeypatch):
    import getpass

    seen, output = _connect_args(monkeypatch, ["_grp", "_show"])
    assert output.count("connecting to") == 1
    assert f"connecting to {getpass.getuser()}@localhost:3306 (no host given: localhost; no user given" in output
    assert f"the operating-system user {getpass.getuser()}" in output


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


def test_an_output_file_in_a_missing_folder_is_written_and_an_unwritable_one_is_an_error(tmp_path, capsys):
    """`plan init -o new/dir/plan.yaml` made a traceback (FileNotFoundError): the folder is made; a path that cannot
    be written is one line and exit 2, through main() as the installed command runs."""
    from pathlib import Path

    heading = Path(__file__).parents[1] / "plans" / "heading.json"
    nested = tmp_path / "new" / "dir" / "plan.yaml"
    cli_module.main(["plan", "init", "--heading", str(heading), "--schema", "lab_v1=lab_v2", "-o", str(nested)])
    assert "lab_v2" in nested.read_text(encoding="utf-8")
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    with pytest.raises(SystemExit) as refused:
        cli_module.main(["plan", "init", "--heading", str(heading), "--schema", "lab_v1=lab_v2",
                         "-o", str(blocked / "plan.yaml")])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "Traceback" not in err
