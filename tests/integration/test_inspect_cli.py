"""``djsqlgen inspect`` as a user runs it: clear one-line refusals, and the JSON of a DataJoint-shaped schema."""

from __future__ import annotations

import json
import uuid

import pytest
from conftest import run_djsqlgen

from djsqlgen.catalog.heading import Catalog, inspect_schemas


def assert_one_line_refusal(result, *names: str) -> str:
    """Exit 2, nothing on stdout, exactly one line on stderr naming every one of ``names`` (after the one line that
    says which connection is used, where the command got that far)."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    if len(lines) == 2 and lines[0].startswith("connecting to "):
        lines = lines[1:]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for name in names:
        assert name in lines[0]
    return lines[0]


def flags(settings, **override) -> list[str]:
    values = {"host": settings.host, "port": str(settings.port), "user": settings.user,
              "password": settings.password, **override}
    return [f"--{key}={value}" for key, value in values.items()]


@pytest.fixture
def limited_user(db, server_settings):
    """A user with a password and no privilege beyond USAGE; dropped afterwards."""
    name, password = f"djt_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    hosts = ("%", "localhost")
    for host in hosts:
        db.execute("CREATE USER %s@%s IDENTIFIED BY %s", [name, host, password])
    try:
        yield name, password
    finally:
        for host in hosts:
            db.execute("DROP USER IF EXISTS %s@%s", [name, host])


def test_unknown_schema(prefix, dj_env, tmp_path):
    missing = f"{prefix}_no_such_schema"
    result = run_djsqlgen(["inspect", missing], env=dj_env, cwd=tmp_path)
    assert_one_line_refusal(result, missing)


def test_schema_without_tables(db, prefix, dj_env, tmp_path):
    empty = f"{prefix}_empty"
    db.execute(f"CREATE DATABASE `{empty}`")
    result = run_djsqlgen(["inspect", empty], env=dj_env, cwd=tmp_path)
    assert_one_line_refusal(result, empty)


def test_user_without_privileges(db, prefix, dj_env, tmp_path, server_settings, limited_user):
    schema = f"{prefix}_private"
    db.execute(f"CREATE DATABASE `{schema}`")
    db.execute(f"CREATE TABLE `{schema}`.`subject` (subject_id int NOT NULL, PRIMARY KEY (subject_id))")
    user, password = limited_user
    args = flags(server_settings, user=user, password=password)
    result = run_djsqlgen([*args, "inspect", schema], env=dj_env, cwd=tmp_path)
    assert_one_line_refusal(result, schema, user)


def test_wrong_password(dj_env, tmp_path, server_settings, limited_user):
    user, _ = limited_user
    args = flags(server_settings, user=user, password="not-the-password")
    result = run_djsqlgen([*args, "inspect", "anything"], env=dj_env, cwd=tmp_path)
    line = assert_one_line_refusal(result, server_settings.host, user)
    assert "not-the-password" not in line


def test_refused_port(dj_env, tmp_path, server_settings):
    args = flags(server_settings, host="127.0.0.1", port="1")
    result = run_djsqlgen([*args, "inspect", "anything"], env=dj_env, cwd=tmp_path)
    assert_one_line_refusal(result, "127.0.0.1:1")


# ---------------------------------------------------------------------------------------------
# happy path
# ---------------------------------------------------------------------------------------------
LAB_DDL = [
    """CREATE TABLE `{s}`.`#subject_type` (
         `type_name` varchar(16) NOT NULL COMMENT ':varchar(16):',
         PRIMARY KEY (`type_name`)
       ) ENGINE=InnoDB COMMENT='kinds of subject'""",
    """CREATE TABLE `{s}`.`subject` (
         `subject_id` int NOT NULL COMMENT ':int32:subject id',
         `type_name` varchar(16) NOT NULL COMMENT ':varchar(16):',
         `nickname` varchar(64) NOT NULL COMMENT ':varchar(64):',
         `mother_id` int DEFAULT NULL COMMENT ':int32:',
         PRIMARY KEY (`subject_id`),
         UNIQUE KEY `nickname` (`nickname`),
         CONSTRAINT `subject_ibfk_1` FOREIGN KEY (`type_name`) REFERENCES `#subject_type` (`type_name`)
           ON UPDATE CASCADE ON DELETE RESTRICT,
         CONSTRAINT `subject_ibfk_2` FOREIGN KEY (`mother_id`) REFERENCES `subject` (`subject_id`)
           ON UPDATE CASCADE ON DELETE RESTRICT
       ) ENGINE=InnoDB COMMENT='a subject'""",
    """CREATE TABLE `{s}`.`subject__photo` (
         `subject_id` int NOT NULL COMMENT ':int32:',
         `photo_idx` smallint NOT NULL COMMENT ':int16:',
         `image` longblob NOT NULL COMMENT ':<blob>:the picture',
         PRIMARY KEY (`subject_id`, `photo_idx`),
         CONSTRAINT `subject__photo_ibfk_1` FOREIGN KEY (`subject_id`) REFERENCES `subject` (`subject_id`)
           ON UPDATE CASCADE ON DELETE RESTRICT
       ) ENGINE=InnoDB COMMENT=''""",
]


@pytest.fixture
def lab_schema(db, prefix) -> str:
    schema = f"{prefix}_lab"
    db.execute(f"CREATE DATABASE `{schema}`")
    for ddl in LAB_DDL:
        db.execute(ddl.format(s=schema))
    return schema


def test_inspect_json(lab_schema, dj_env, tmp_path):
    result = run_djsqlgen(["inspect", lab_schema], env=dj_env, cwd=tmp_path, check=True)
    data = json.loads(result.stdout)
    (schema,) = data["schemas"]
    tables = {t["name"]: t for t in schema["tables"]}
    assert {name: t["tier"] for name, t in tables.items()} == {
        "#subject_type": "lookup", "subject": "manual", "subject__photo": "part",
    }
    assert tables["subject__photo"]["master"] == "subject"
    assert tables["subject__photo"]["class_name"] == "Subject.Photo"
    assert tables["subject__photo"]["primary_key"] == ["subject_id", "photo_idx"]

    fks = {fk["name"]: fk for fk in tables["subject"]["foreign_keys"]}
    assert (fks["subject_ibfk_1"]["ref_table"], fks["subject_ibfk_1"]["columns"], fks["subject_ibfk_1"]["ref_columns"]) \
        == ("#subject_type", ["type_name"], ["type_name"])
    assert (fks["subject_ibfk_2"]["ref_table"], fks["subject_ibfk_2"]["columns"], fks["subject_ibfk_2"]["ref_columns"]) \
        == ("subject", ["mother_id"], ["subject_id"])
    assert fks["subject_ibfk_2"]["ref_schema"] == lab_schema
    assert (fks["subject_ibfk_1"]["on_update"], fks["subject_ibfk_1"]["on_delete"]) == ("CASCADE", "RESTRICT")
    (part_fk,) = tables["subject__photo"]["foreign_keys"]
    assert (part_fk["ref_table"], part_fk["columns"]) == ("subject", ["subject_id"])

    indexes = {i["name"]: i for i in tables["subject"]["indexes"]}
    assert indexes["nickname"] == {"name": "nickname", "columns": ["nickname"], "unique": True}

    image = next(a for a in tables["subject__photo"]["attributes"] if a["name"] == "image")
    assert (image["dj_type"]["marker"], image["comment"]) == ("<blob>", "the picture")


def test_output_file_and_round_trip(lab_schema, dj_env, tmp_path):
    stdout = run_djsqlgen(["inspect", lab_schema], env=dj_env, cwd=tmp_path, check=True).stdout
    out = tmp_path / "heading.json"
    written = run_djsqlgen(["inspect", lab_schema, "-o", str(out)], env=dj_env, cwd=tmp_path, check=True)
    assert written.stdout == ""
    assert out.read_text() == stdout
    catalog = Catalog.from_json(stdout)
    assert catalog.to_json() == stdout
    assert Catalog.from_json(catalog.to_json()) == catalog


def test_round_trips_do_not_grow_with_tables(db, lab_schema, prefix):
    single = f"{prefix}_single"
    db.execute(f"CREATE DATABASE `{single}`")
    db.execute(LAB_DDL[0].format(s=single))

    def trips(schema: str, expected_tables: int) -> int:
        before = db.round_trips
        catalog = inspect_schemas(db, [schema])
        assert len(catalog.schema(schema).tables) == expected_tables
        return db.round_trips - before

    assert trips(lab_schema, 3) == trips(single, 1)


def test_inspect_directly_matches_command(db, lab_schema, dj_env, tmp_path):
    stdout = run_djsqlgen(["inspect", lab_schema], env=dj_env, cwd=tmp_path, check=True).stdout
    direct = inspect_schemas(db, [lab_schema], tool_version=Catalog.from_json(stdout).tool_version)
    assert direct == Catalog.from_json(stdout)
