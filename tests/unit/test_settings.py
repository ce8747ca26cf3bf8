"""Connection settings: flag > DJ_* variable > one DataJoint config file, each setting on its own; the config file
found as DataJoint 0.14 and 2.x find theirs."""

from __future__ import annotations

import getpass
import json

import pytest

from djsqlgen.errors import DjsqlgenError
from djsqlgen.run.settings import ConnectionSettings, resolve_settings

ENV = ("DJ_HOST", "DJ_PORT", "DJ_USER", "DJ_PASS")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No DJ_* variables from the developer's shell, a working directory without config files, and a home
    directory of the test's own."""
    for name in (*ENV, "DJ_USE_TLS", "DJ_IGNORE_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


def write(path, data) -> None:
    path.write_text(json.dumps(data))


FLAT_014 = {"database.host": "file014", "database.port": 3310, "database.user": "u014", "database.password": "p014"}
NESTED_2X = {"database": {"host": "file2x", "port": 3311, "user": "u2x", "password": "p2x"}}


def test_defaults_without_any_source(tmp_path):
    assert resolve_settings(directory=tmp_path) == ConnectionSettings(
        host="localhost", port=3306, user=getpass.getuser(), password=""
    )


@pytest.mark.parametrize(
    "file_name, data, expected",
    [
        ("dj_local_conf.json", FLAT_014, ConnectionSettings("file014", 3310, "u014", "p014")),
        ("datajoint.json", NESTED_2X, ConnectionSettings("file2x", 3311, "u2x", "p2x")),
        # each style is read whatever the file is called
        ("datajoint.json", FLAT_014, ConnectionSettings("file014", 3310, "u014", "p014")),
        ("dj_local_conf.json", NESTED_2X, ConnectionSettings("file2x", 3311, "u2x", "p2x")),
    ],
)
def test_config_file_styles(tmp_path, file_name, data, expected):
    write(tmp_path / file_name, data)
    assert resolve_settings(directory=tmp_path) == expected


def test_config_file_in_working_directory_is_the_default(tmp_path):
    write(tmp_path / "datajoint.json", NESTED_2X)
    assert resolve_settings().host == "file2x"


def test_dj_local_conf_is_read_before_datajoint_json(tmp_path):
    write(tmp_path / "dj_local_conf.json", {"database.host": "first"})
    write(tmp_path / "datajoint.json", {"database": {"host": "second", "user": "u2x"}})
    settings = resolve_settings(directory=tmp_path)
    # only the first file found is read: its missing keys do not come from the second one
    assert (settings.host, settings.user) == ("first", getpass.getuser())


def test_env_beats_file(tmp_path, monkeypatch):
    write(tmp_path / "dj_local_conf.json", FLAT_014)
    monkeypatch.setenv("DJ_HOST", "envhost")
    monkeypatch.setenv("DJ_PORT", "3320")
    monkeypatch.setenv("DJ_USER", "envuser")
    monkeypatch.setenv("DJ_PASS", "envpass")
    assert resolve_settings(directory=tmp_path) == ConnectionSettings("envhost", 3320, "envuser", "envpass")


def test_flag_beats_env_and_file(tmp_path, monkeypatch):
    write(tmp_path / "datajoint.json", NESTED_2X)
    for name in ENV:
        monkeypatch.setenv(name, "3399" if name == "DJ_PORT" else "env")
    settings = resolve_settings(host="flaghost", port=3330, user="flaguser", password="flagpass", directory=tmp_path)
    assert settings == ConnectionSettings("flaghost", 3330, "flaguser", "flagpass")


def test_each_setting_resolved_independently(tmp_path, monkeypatch):
    write(tmp_path / "dj_local_conf.json", FLAT_014)
    monkeypatch.setenv("DJ_USER", "envuser")
    settings = resolve_settings(host="flaghost", directory=tmp_path)
    assert settings == ConnectionSettings("flaghost", 3310, "envuser", "p014")


def test_empty_values_fall_through(tmp_path, monkeypatch):
    write(tmp_path / "datajoint.json", {"database": {"host": "filehost", "password": ""}})
    monkeypatch.setenv("DJ_HOST", "")
    settings = resolve_settings(host="", directory=tmp_path)
    assert (settings.host, settings.password) == ("filehost", "")


@pytest.mark.parametrize(
    "kwargs, env, expected_host, expected_port",
    [
        ({"host": "db.lab.org:3310"}, {}, "db.lab.org", 3310),
        ({"host": "db.lab.org:3310", "port": 3400}, {}, "db.lab.org", 3400),
        # not pinned here: --host h:3310 with DJ_PORT set currently takes DJ_PORT (see the lead's note)
        ({}, {"DJ_HOST": "envhost:3402"}, "envhost", 3402),
        ({"host": "db.lab.org"}, {}, "db.lab.org", 3306),
    ],
)
def test_host_port_form(tmp_path, monkeypatch, kwargs, env, expected_host, expected_port):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = resolve_settings(directory=tmp_path, **kwargs)
    assert (settings.host, settings.port) == (expected_host, expected_port)


def test_host_port_form_in_config_file(tmp_path):
    write(tmp_path / "dj_local_conf.json", {"database.host": "filehost:3403"})
    settings = resolve_settings(directory=tmp_path)
    assert (settings.host, settings.port) == ("filehost", 3403)


def test_port_that_is_not_a_number(tmp_path, monkeypatch):
    monkeypatch.setenv("DJ_PORT", "abc")
    with pytest.raises(DjsqlgenError, match="DJ_PORT"):
        resolve_settings(directory=tmp_path)


def test_unreadable_config_file_names_the_file(tmp_path):
    (tmp_path / "datajoint.json").write_text("{not json")
    with pytest.raises(DjsqlgenError, match="datajoint.json"):
        resolve_settings(directory=tmp_path)


def test_describe_never_shows_the_password():
    text = ConnectionSettings("h", 3306, "u", "secret").describe()
    assert text == "u@h:3306" and "secret" not in text


def test_an_empty_password_flag_beats_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DJ_PASS", "from-env")
    assert resolve_settings(password="", directory=tmp_path).password == ""


def test_a_port_in_the_host_flag_beats_dj_port(tmp_path, monkeypatch):
    monkeypatch.setenv("DJ_PORT", "3999")
    assert resolve_settings(host="db:3310", directory=tmp_path).port == 3310


def test_datajoint_json_of_a_parent_directory_is_read_as_datajoint_2_reads_it(tmp_path):
    write(tmp_path / "datajoint.json", NESTED_2X)
    deep = tmp_path / "analysis" / "notebooks"
    deep.mkdir(parents=True)
    settings = resolve_settings(directory=deep)
    assert settings == ConnectionSettings("file2x", 3311, "u2x", "p2x")
    assert f"from {tmp_path / 'datajoint.json'}" in settings.origin


def test_the_parent_search_stops_at_the_repository_root(tmp_path):
    write(tmp_path / "datajoint.json", NESTED_2X)
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "src").mkdir()
    assert resolve_settings(directory=repo / "src").host == "localhost"


def test_dj_local_conf_of_a_parent_directory_is_not_read_as_datajoint_014_does_not(tmp_path):
    write(tmp_path / "dj_local_conf.json", FLAT_014)
    (tmp_path / "sub").mkdir()
    assert resolve_settings(directory=tmp_path / "sub").host == "localhost"


def test_home_datajoint_config_is_read_when_there_is_no_other_file(tmp_path):
    write(tmp_path / "home" / ".datajoint_config.json", {"database.host": "homehost", "database.user": "homeuser"})
    (tmp_path / "work").mkdir()
    settings = resolve_settings(directory=tmp_path / "work")
    assert (settings.host, settings.user) == ("homehost", "homeuser")
    assert f"user, host from {tmp_path / 'home' / '.datajoint_config.json'}" in settings.origin


@pytest.mark.parametrize("nearer", ["dj_local_conf.json", "datajoint.json"])
def test_a_file_of_the_working_directory_or_its_parents_beats_the_home_file(tmp_path, nearer):
    write(tmp_path / "home" / ".datajoint_config.json", {"database.host": "homehost", "database.user": "homeuser"})
    write(tmp_path / nearer, {"database.host": "near"})
    settings = resolve_settings(directory=tmp_path)
    assert (settings.host, settings.user) == ("near", getpass.getuser())  # one file only, as DataJoint reads


def test_secrets_beside_datajoint_json_fill_what_it_leaves_out(tmp_path):
    write(tmp_path / "datajoint.json", {"database": {"host": "file2x", "user": "fileuser"}})
    (tmp_path / ".secrets").mkdir()
    (tmp_path / ".secrets" / "database.user").write_text("secretuser\n")
    (tmp_path / ".secrets" / "database.password").write_text("secretpass\n")
    settings = resolve_settings(directory=tmp_path)
    assert (settings.host, settings.user, settings.password) == ("file2x", "fileuser", "secretpass")


def test_dj_ignore_config_file_reads_none(tmp_path, monkeypatch):
    write(tmp_path / "datajoint.json", NESTED_2X)
    monkeypatch.setenv("DJ_IGNORE_CONFIG_FILE", "true")
    assert resolve_settings(directory=tmp_path).host == "localhost"


def test_the_origin_names_each_source_and_the_os_user_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("DJ_HOST", "envhost:3400")
    settings = resolve_settings(directory=tmp_path)
    assert settings.announce() == (f"connecting to {getpass.getuser()}@envhost:3400 (host, port from DJ_HOST; no user "
                                   "given (--user, DJ_USER or a DataJoint config file): the operating-system user "
                                   f"{getpass.getuser()})")


@pytest.mark.parametrize("env, file, expected", [
    (None, None, None),
    (None, {"database.use_tls": True}, True),
    (None, {"database": {"use_tls": False}}, False),
    (None, {"database.use_tls": {"ca": "/etc/ca.pem"}}, True),  # DataJoint's own TLS options: TLS asked for
    ("true", {"database.use_tls": False}, True),
    ("false", {"database.use_tls": True}, False),
])
def test_use_tls_as_datajoint_reads_it(tmp_path, monkeypatch, env, file, expected):
    """DJ_USE_TLS, else the config file's database.use_tls: whether TLS is asked for, refused, or left unset."""
    if env is not None:
        monkeypatch.setenv("DJ_USE_TLS", env)
    if file is not None:
        write(tmp_path / "dj_local_conf.json", file)
    assert resolve_settings(directory=tmp_path).use_tls is expected
