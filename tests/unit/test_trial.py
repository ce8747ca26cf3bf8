"""30's trial of the trigger bodies: each block cut into statements a session can PREPARE (no server here)."""

from __future__ import annotations

from djsqlgen.engines.trial import statements_of, unbound


def test_if_conditions_become_selects_and_signals_are_left_out():
    body = ("IF NOT (OLD.`a` <=> NEW.`a`) THEN\n  -- v2's row moves (a why with an apostrophe)\n"
            "  UPDATE `s`.`t` AS dst SET dst.`a` = 1 WHERE dst.`a` = 'x;y';\n"
            "  IF EXISTS (SELECT 1 FROM `s`.`t` WHERE `a` = ';') THEN\n"
            "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'djsqlgen W1 t (a): key taken; write another';\n"
            "  END IF;\nEND IF")
    assert statements_of(body) == [
        "SELECT NOT (OLD.`a` <=> NEW.`a`)",
        "UPDATE `s`.`t` AS dst SET dst.`a` = 1 WHERE dst.`a` = 'x;y'",
        "SELECT EXISTS (SELECT 1 FROM `s`.`t` WHERE `a` = ';')",
    ]


def test_an_insert_select_also_reads_its_column_list():
    body = "INSERT INTO `s`.`t`\n  (`a`, `b`)\nSELECT * FROM (SELECT 1 AS `a`, 2 AS `b`) AS dt"
    assert statements_of(body)[1] == "SELECT `a`, `b` FROM `s`.`t`"


def test_new_and_old_become_null_outside_string_literals():
    assert unbound("SELECT NEW.`a` + OLD.`b` AS x, 'NEW.`a`' AS y, dst.NEW") == \
        "SELECT NULL + NULL AS x, 'NEW.`a`' AS y, dst.NEW"
