"""Columns moved into a new lookup table while people write (issue 12, item 1).

`probe_insertion (…, probe, vendor, channels, depth)` becomes `#probe (probe) → vendor, channels` and
`probe_insertion (…, probe, depth)` referring to it. The probe name is a _ci varchar and a key of the lookup;
`channels` allows NULL. Writers insert rows with new probes, change a probe's vendor in every row at once, move
an insertion to another probe, delete rows and renumber a subject (v1's cascade); each phase is followed by an
independent comparison: the lookup holds exactly the distinct (probe, vendor, channels) of v1, plus rows no
v1 row uses any more (never deleted), and probe_insertion equals v1 without the moved columns. Refusals: v1
values that disagree for one probe (plan check, 00, 70), and plans that cannot work, each naming its plan key.
"""

from __future__ import annotations

import pytest
from support.engine import (
    build_v1,
    bulk_fill,
    dj014_writers,
    dj2_graph,
    migrate_while_writing,
    migration_files,
)
from support.safety import FastScenario, applied, refused, table_fingerprint

V1 = """
CREATE TABLE subject (subject_id int NOT NULL, name varchar(16) NOT NULL DEFAULT '', PRIMARY KEY (subject_id))
  ENGINE=InnoDB;
CREATE TABLE probe_insertion (subject_id int NOT NULL, insertion_number tinyint NOT NULL,
  probe varchar(32) NOT NULL, vendor varchar(32) NOT NULL, channels smallint NULL, depth float NOT NULL,
  PRIMARY KEY (subject_id, insertion_number),
  CONSTRAINT insertion_subject FOREIGN KEY (subject_id) REFERENCES subject (subject_id)
    ON UPDATE CASCADE ON DELETE RESTRICT) ENGINE=InnoDB;
INSERT INTO subject (subject_id) SELECT seq FROM seq_1_to_40;
INSERT INTO probe_insertion SELECT s.seq, k.seq, ELT(1 + (s.seq + k.seq) % 3, 'np1', 'np2', 'Tetrode'),
  ELT(1 + (s.seq + k.seq) % 3, 'imec', 'imec', 'neuralynx'), ELT(1 + (s.seq + k.seq) % 3, 384, NULL, 4), k.seq / 4
  FROM seq_1_to_40 AS s, seq_1_to_3 AS k
"""
LOOKUP = {"table": "#probe", "key": ["probe"], "columns": ["vendor", "channels"], "comment": "probes in use"}


def _plan(scenario: FastScenario, lookup: dict | None = None):
    def edit(plan):
        scenario.tables(plan)["probe_insertion"] = {"lookups": [lookup or LOOKUP]}
    return edit


@pytest.fixture
def scenario(db, prefix, dj_env, tmp_path):
    s = FastScenario(db, prefix, dj_env, tmp_path)
    s.create_v1(V1)
    return s


def _agree(scenario: FastScenario, unused_allowed: bool = True) -> None:
    """Independently of verify: v2 is what the plan says v1 becomes."""
    src, dst = f"`{scenario.sources[0]}`", f"`{scenario.v2()}`"
    order = "ORDER BY CAST(probe AS BINARY)"
    used = scenario.db.query(f"SELECT DISTINCT probe, vendor, channels FROM {src}.probe_insertion {order}")
    lookup = scenario.db.query(f"SELECT probe, vendor, channels FROM {dst}.`#probe` {order}")
    in_use = [r for r in lookup if r["probe"] in {u["probe"] for u in used}]
    assert in_use == used, (used, lookup)
    if not unused_allowed:
        assert lookup == used
    key = "ORDER BY subject_id, insertion_number"
    assert scenario.db.query(f"SELECT subject_id, insertion_number, probe, depth FROM {dst}.probe_insertion {key}") == \
        scenario.db.query(f"SELECT subject_id, insertion_number, probe, depth FROM {src}.probe_insertion {key}")


def _write(scenario: FastScenario, round_no: int) -> None:
    """What users do meanwhile: new probes, a vendor renamed in every row at once, an insertion moved to another
    probe (the old one left unused), a delete, a subject renumbered (v1 cascades into probe_insertion)."""
    v1 = f"`{scenario.sources[0]}`"
    new = f"np-new-{round_no}"
    scenario.db.execute(f"INSERT INTO {v1}.subject (subject_id) VALUES ({100 + round_no})")
    scenario.db.execute(f"INSERT INTO {v1}.probe_insertion VALUES ({100 + round_no}, 1, '{new}', 'cambridge', 64, 1), "
                        f"({100 + round_no}, 2, '{new}', 'cambridge', 64, 2)")
    scenario.db.execute(f"UPDATE {v1}.probe_insertion SET vendor = 'IMEC {round_no}' WHERE probe = 'np1'")
    scenario.db.execute(f"UPDATE {v1}.probe_insertion SET probe = 'np2', vendor = 'imec', channels = NULL "
                        f"WHERE subject_id = {100 + round_no} AND insertion_number = 1")
    scenario.db.execute(f"DELETE FROM {v1}.probe_insertion WHERE subject_id = {round_no + 1} AND insertion_number = 3")
    scenario.db.execute(f"UPDATE {v1}.subject SET subject_id = {1000 + round_no} WHERE subject_id = {round_no + 10}")


def test_columns_moved_into_a_lookup_while_users_write(scenario):
    scenario.plan(_plan(scenario))
    check = scenario.run("plan", "check", str(scenario.plan_path))
    assert "1 data check(s)" in check.stdout and "lookups[0]: cannot be reversed" in check.stderr, check.stdout
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    _write(scenario, 1)
    scenario.backfill(chunk_rows=7)
    _write(scenario, 2)
    assert scenario.verify().returncode == 0
    _agree(scenario)
    # the insertion moved off np-new-1 left it unused: kept, and verify does not count it as a difference
    assert scenario.db.query(f"SELECT COUNT(*) AS n FROM `{scenario.v2()}`.`#probe` WHERE probe = 'np-new-2'")[0]["n"]
    applied(scenario, "60_constraints")
    assert scenario.references() == [("probe_insertion", "#probe"), ("probe_insertion", "subject")]
    _write(scenario, 3)  # with v2's foreign keys: the lookup row must be there before the row that refers to it
    assert scenario.verify().returncode == 0
    _agree(scenario)
    applied(scenario, "70_cutover")
    comment = scenario.db.query("SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND "
                                "TABLE_NAME = '#probe'", [scenario.v2()])[0]["TABLE_COMMENT"]
    assert comment == "probes in use"



def test_the_rollback_files_leave_v1_byte_identical(scenario):
    scenario.plan(_plan(scenario))
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    _write(scenario, 1)
    scenario.backfill(chunk_rows=5)
    applied(scenario, "50_verify", "60_constraints", "70_cutover")
    before = {t: table_fingerprint(scenario.db, scenario.sources[0], t) for t in ("subject", "probe_insertion")}
    result = scenario.run("apply", "--through", "70", str(scenario.out / "rollback"))
    assert result.returncode == 0, result.stderr
    after = {t: table_fingerprint(scenario.db, scenario.sources[0], t) for t in ("subject", "probe_insertion")}
    assert after == before
    assert scenario.db.query("SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                             [scenario.v2()])[0]["n"] == 0


def test_values_that_disagree_for_one_key_are_refused_before_anything_runs(scenario):
    v1 = f"`{scenario.sources[0]}`"
    scenario.db.execute(f"UPDATE {v1}.probe_insertion SET vendor = 'IMEC' WHERE subject_id = 5 AND probe = 'np1'")
    scenario.plan(_plan(scenario))
    check = scenario.run("plan", "check", str(scenario.plan_path), check=False)
    assert check.returncode != 0 and "probe_insertion.lookups[0]" in check.stderr and "agree on vendor, channels" \
        in check.stderr, check.stderr
    scenario.generate()
    message = refused(scenario, "00_preflight")
    assert "lookups[0]" in message and "agree on vendor, channels" in message, message

    # agreeing at first, then a user makes them disagree: 70 refuses to cut over
    scenario.db.execute(f"UPDATE {v1}.probe_insertion SET vendor = 'imec' WHERE probe = 'np1'")
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    scenario.backfill(chunk_rows=50)
    applied(scenario, "50_verify", "60_constraints")
    scenario.db.execute(f"UPDATE {v1}.probe_insertion SET channels = 385 WHERE subject_id = 7 AND probe = 'np1'")
    message = refused(scenario, "70_cutover")
    assert "lookups[0]" in message, message
    assert scenario.verify(check=False).returncode != 0  # and verify shows the rows the lookup cannot hold


@pytest.mark.parametrize("lookup, problem", [
    ({"table": "#probe", "key": ["insertion_number"], "columns": ["vendor"]}, "NOT_A_PROBLEM"),
    ({"table": "#probe", "key": ["probe"], "columns": ["insertion_number"]}, "is in"),
    ({"table": "#probe", "key": ["probe"], "columns": ["maker"]}, "has no column 'maker'"),
    ({"table": "#probe", "key": ["channels"], "columns": ["vendor"]}, "allows NULL"),
    ({"table": "subject", "key": ["probe"], "columns": ["vendor"]}, "already a table"),
    ({"table": "probe_insertion__probe", "key": ["probe"], "columns": ["vendor"]}, "part table name"),
    ({"table": "#probe", "key": ["probe"], "columns": ["probe"]}, "also in key"),
])
def test_a_lookup_that_cannot_work_is_refused_naming_its_plan_key(scenario, lookup, problem):
    scenario.plan(_plan(scenario, lookup))
    check = scenario.run("plan", "check", str(scenario.plan_path), check=False)
    if problem == "NOT_A_PROBLEM":  # a key column of the table as the lookup's key: allowed, values checked
        assert check.returncode != 0 and "agree on vendor" in check.stderr, check.stderr
        return
    assert check.returncode != 0 and "probe_insertion.lookups[0]" in check.stderr and problem in check.stderr, \
        check.stderr


def test_the_stock_client_runs_every_file_of_a_lookup_plan(scenario):
    scenario.plan(_plan(scenario))
    scenario.generate()
    scenario.forward("80_contract")
    _agree(scenario, unused_allowed=False)


def test_a_datajoint_014_column_moved_into_a_lookup_while_014_clients_write(tmp_path, prefix, dj014_python, dj_env,
                                                                             db):
    """The 0.14 pipeline's subject.sex (an enum, as a lookup key) moved into `#sex`, while 0.14 clients insert
    subjects with sessions and tags, update them, renumber them (cascades) and delete them, during the
    backfill and after 60. Verify is clean, the lookup holds every sex in use, and DataJoint 2.3 reads
    subject as a child of `#sex`."""
    common, ephys = build_v1(dj014_python, prefix, tmp_path / "store", dj_env)
    bulk_fill(db, common, 1500)

    def lookup(plan):
        subject = next(s for s in plan["schemas"] if s["source"] == common)["tables"]["subject"]
        subject["lookups"] = [{"table": "#sex", "key": ["sex"], "comment": "sexes"}]
    plan_path, out = migration_files(tmp_path, prefix, [common, ephys], dj_env, lookup)
    store = tmp_path / "store"
    migrate_while_writing(plan_path, out, dj_env,
                          lambda: dj014_writers(dj014_python, prefix, store, dj_env, 0, ["1000-1700", "1701-2400"]),
                          lambda: dj014_writers(dj014_python, prefix, store, dj_env, 5, ["2401-2499"]))

    used = {r["sex"] for r in db.query(f"SELECT DISTINCT sex FROM `{common}`.subject")}
    held = {r["sex"] for r in db.query(f"SELECT sex FROM `{common}_v2`.`#sex`")}
    assert used <= held <= {"M", "F", "U"} and used
    assert db.query(f"SELECT subject_id, sex FROM `{common}_v2`.subject ORDER BY subject_id") == \
        db.query(f"SELECT subject_id, sex FROM `{common}`.subject ORDER BY subject_id")
    graph = dj2_graph([f"{common}_v2", f"{ephys}_v2"], dj_env)
    assert graph[f"`{common}_v2`.`subject`"][f"`{common}_v2`.`#sex`"] == {"sex": "sex"}


def test_a_lookup_row_never_keeps_values_no_v1_row_has(scenario):
    """Found in review: a lookup row written from a row that then went kept that row's values. An INSERT that
    disagrees with the other v1 rows of its key is refused, naming the key and the values; an UPDATE of one row of
    a shared key leaves the lookup row alone (so deleting or moving that row away leaves nothing to undo)."""
    scenario.plan(_plan(scenario))
    scenario.generate()
    applied(scenario, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    scenario.backfill(chunk_rows=50)
    v1, v2 = f"`{scenario.sources[0]}`", f"`{scenario.v2()}`"
    scenario.db.execute(f"INSERT INTO {v1}.subject (subject_id) VALUES (90), (91)")
    with pytest.raises(Exception, match=r"djsqlgen W3 \S*#probe \(probe='np1'\): other v1 rows of this key hold other values: vendor='WRONG'"):
        scenario.db.execute(f"INSERT INTO {v1}.probe_insertion VALUES (90, 1, 'np1', 'WRONG', 384, 1)")
    with pytest.raises(Exception, match=r"djsqlgen W3 \S*#probe \(probe='NP1'\)"):  # the key byte for byte: 'NP1' is not 'np1'
        scenario.db.execute(f"INSERT INTO {v1}.probe_insertion VALUES (90, 1, 'NP1', 'imec', 384, 1)")
    # one row of a key changed (the lookup row shared with other rows is left alone), then that very row deleted or
    # moved away
    scenario.db.execute(f"UPDATE {v1}.probe_insertion SET vendor = 'other' WHERE subject_id = 1 AND probe = 'np1'")
    scenario.db.execute(f"DELETE FROM {v1}.probe_insertion WHERE subject_id = 1 AND probe = 'np1'")
    scenario.db.execute(f"UPDATE {v1}.probe_insertion SET vendor = 'moved', channels = 1 WHERE subject_id = 2 "
                        "AND probe = 'np2'")
    scenario.db.execute(f"UPDATE {v1}.probe_insertion SET probe = 'np-moved' WHERE subject_id = 2 AND probe = 'np2'")
    assert scenario.db.query(f"SELECT vendor, channels FROM {v2}.`#probe` WHERE probe = 'np2'") == \
        [{"vendor": "imec", "channels": None}]
    assert scenario.verify().returncode == 0
    _agree(scenario)


def test_a_lookup_key_that_differs_only_in_case_is_refused(scenario):
    v1 = f"`{scenario.sources[0]}`"
    scenario.db.execute(f"UPDATE {v1}.probe_insertion SET probe = 'NP1' WHERE subject_id = 5 AND probe = 'np1'")
    scenario.plan(_plan(scenario))
    check = scenario.run("plan", "check", str(scenario.plan_path), check=False)
    assert check.returncode != 0 and "lookups[0]" in check.stderr and "key's bytes" in check.stderr, check.stderr
