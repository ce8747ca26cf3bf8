"""Every file refuses before its first change when the server changed under it (issue 10, item 2).

On a primary like production (binary logging, log_bin_trust_function_creators=0, a DBA without SUPER,
a replica): a restart between two files puts the setting back to 0, and the next file that creates or drops
triggers must refuse with the server exactly as it was (schemas, tables and their checksums, triggers,
routines); so must files under a statement-based binlog_format and files applied out of order. After the
whole path, every file applied by the stock client as the DBA, the replica equals the primary.
"""

from __future__ import annotations

import pytest
from support.safety import V1, FastScenario, Writer, applied, env_for, refused, state_difference
from support.scenario import PHASES
from support.servers import DBA_USER, compare_servers, server_state

from djsqlgen.run.db import connect

TRUST = "log_bin_trust_function_creators"


@pytest.fixture
def dba(binlog_pair, binlog_prefix, tmp_path):
    """A scenario on the binlog primary, run by the DBA without SUPER; v1 created by the DBA."""
    primary, _ = binlog_pair
    db = connect(primary.dba_settings)
    s = FastScenario(db, binlog_prefix, env_for(primary.dba_settings), tmp_path)
    s.create_v1(V1)
    yield s
    s.db.close()


def _restart(primary, scenario: FastScenario) -> None:
    """Restart the primary (every SET GLOBAL back to my.cnf: trust is 0 again); the scenario reconnects."""
    primary.restart()
    scenario.db.close()
    scenario.db = connect(primary.dba_settings)
    assert primary.variable(TRUST) == 0


def _refused_cleanly(primary, scenario: FastScenario, name: str, naming: str) -> None:
    before = server_state(primary, scenario.prefix)
    message = refused(scenario, name)
    assert naming in message, message
    assert state_difference(before, server_state(primary, scenario.prefix)) == [], f"refused {name} changed the server"


def _archive(scenario: FastScenario):
    def edit(plan):
        spec = plan["schemas"][0]
        spec["final"] = spec["source"]  # v2 takes v1's names; v1 goes to the archive
        spec["archive"] = f"{scenario.prefix}_archive"
        plan["cutover"] = {"rename_to_final": True}
    return edit


@pytest.mark.parametrize("layout", ["v1 stays", "v1 to an archive"])
def test_files_that_create_or_drop_triggers_refuse_after_a_restart(layout, binlog_pair, dba):
    primary, replica = binlog_pair
    dba.plan(_archive(dba) if layout == "v1 to an archive" else None)
    dba.generate()
    trust = "log_bin_trust_function_creators is 0"

    _refused_cleanly(primary, dba, "00_preflight", trust)
    primary.set_global(TRUST, 1)
    applied(dba, "00_preflight", "10_expand", "20_routines")

    _restart(primary, dba)
    _refused_cleanly(primary, dba, "30_dualwrite", trust)
    primary.set_global(TRUST, 1)
    applied(dba, "30_dualwrite", "40_backfill", "50_verify", "60_constraints")

    _restart(primary, dba)
    v1 = {t: dba.rows(dba.sources[0], t) for t in ("parent", "child", "event")}
    _refused_cleanly(primary, dba, "70_cutover", trust)  # nothing renamed: v1 under its names, triggers on it
    assert {t: dba.rows(dba.sources[0], t) for t in v1} == v1
    primary.set_global(TRUST, 1)
    applied(dba, "70_cutover")

    _restart(primary, dba)
    _refused_cleanly(primary, dba, "rollback/70_cutover", trust)
    _refused_cleanly(primary, dba, "80_contract", trust)
    primary.set_global(TRUST, 1)
    applied(dba, "rollback/70_cutover", "rollback/60_constraints", "rollback/50_verify", "rollback/40_backfill")

    _restart(primary, dba)
    _refused_cleanly(primary, dba, "rollback/30_dualwrite", trust)
    primary.set_global(TRUST, 1)
    applied(dba, "rollback/30_dualwrite")
    assert compare_servers(primary, replica, dba.prefix) == []
    dba.forward("80_contract", first="30_dualwrite")
    assert compare_servers(primary, replica, dba.prefix) == []


def test_statement_based_binlog_format_is_refused(binlog_pair, dba):
    primary, replica = binlog_pair
    dba.plan()
    dba.generate()
    primary.set_global(TRUST, 1)
    not_row = "binlog_format is not ROW"

    primary.set_global("binlog_format", "STATEMENT")
    _refused_cleanly(primary, dba, "00_preflight", not_row)
    primary.set_global("binlog_format", "ROW")
    applied(dba, "00_preflight", "10_expand", "20_routines")

    primary.set_global("binlog_format", "STATEMENT")
    _refused_cleanly(primary, dba, "30_dualwrite", not_row)
    primary.set_global("binlog_format", "ROW")
    applied(dba, "30_dualwrite")

    primary.set_global("binlog_format", "MIXED")
    _refused_cleanly(primary, dba, "40_backfill", not_row)
    before = server_state(primary, dba.prefix)
    command = dba.backfill(check=False)
    assert command.returncode != 0 and "ROW" in command.stderr, command.stderr
    assert state_difference(before, server_state(primary, dba.prefix)) == []

    primary.set_global("binlog_format", "ROW")
    applied(dba, "40_backfill", "50_verify")
    assert compare_servers(primary, replica, dba.prefix) == []


ORDER = [
    ((), "10_expand", "00_preflight.sql"),
    (("00_preflight",), "20_routines", "10_expand.sql"),
    (("00_preflight", "10_expand", "20_routines"), "40_backfill", "30_dualwrite.sql"),
    (("00_preflight", "10_expand", "20_routines", "30_dualwrite"), "70_cutover", "60_constraints.sql"),
    (("00_preflight", "10_expand", "20_routines", "30_dualwrite", "40_backfill"), "80_contract", "70_cutover.sql"),
]


@pytest.mark.parametrize("done, attempted, missing", ORDER, ids=[f"{a} before {m}" for _, a, m in ORDER])
def test_a_file_applied_out_of_order_is_refused_naming_the_missing_file(done, attempted, missing, binlog_pair, dba):
    primary, replica = binlog_pair
    dba.plan()
    dba.generate()
    primary.set_global(TRUST, 1)
    applied(dba, *done)
    _refused_cleanly(primary, dba, attempted, f"apply {missing}" if attempted == "10_expand" else missing)
    assert compare_servers(primary, replica, dba.prefix) == []


def test_a_missing_privilege_is_refused_naming_it(binlog_pair, binlog_prefix, tmp_path):
    """A DBA without TRIGGER on v1 (everything else granted): 00 refuses naming the privilege and the fix."""
    primary, replica = binlog_pair
    user, password = f"{binlog_prefix}_nt", "secret-nt"
    with primary.session() as root:
        root.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
    try:
        with primary.session() as root:
            root.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, "
                         f"CREATE TEMPORARY TABLES ON `{binlog_prefix}\\_v1`.* TO '{user}'@'%'")
            for schema in (f"{binlog_prefix}\\_v1\\_v2", f"{binlog_prefix}\\_ctl"):
                root.execute(f"GRANT ALL PRIVILEGES ON `{schema}`.* TO '{user}'@'%'")
        primary.set_global(TRUST, 1)
        with primary.session() as root:  # v1 made by the lab, not by this DBA
            s = FastScenario(root, binlog_prefix, env_for(primary.settings), tmp_path)
            s.create_v1(V1)
        settings = type(primary.settings)(primary.settings.host, primary.port, user, password)
        with connect(settings) as db:
            scenario = FastScenario(db, binlog_prefix, env_for(settings), tmp_path)
            scenario.plan()
            scenario.generate()
            _refused_cleanly(primary, scenario, "00_preflight",
                             f"the TRIGGER privilege on {scenario.sources[0]} is missing")
        assert compare_servers(primary, replica, binlog_prefix) == []
    finally:
        with primary.session() as root:
            root.execute(f"DROP USER IF EXISTS '{user}'@'%'")


@pytest.mark.parametrize("layout", ["v1 stays", "v1 to an archive"])
def test_the_replica_equals_the_primary_after_every_file(layout, binlog_pair, dba):
    """As the DBA, with a writer on v1 all along: every forward file up to 70 and every rollback file back,
    then the whole path again to 80 with the command line's backfill and verify (on the replica); after each
    file the replica has applied it without error and equals the primary (checksums, definitions, triggers,
    routines)."""
    primary, replica = binlog_pair
    primary.set_global(TRUST, 1)
    dba.plan(_archive(dba) if layout == "v1 to an archive" else None)
    dba.generate()

    ids = iter(range(50_000, 10_000_000, 10_000))

    def writing(name: str) -> Writer:
        """A writer on v1 while ``name`` runs (stopped before the servers are compared)."""
        return Writer(primary.settings, dba.sources[0], "event", first_id=next(ids), every_ms=20)

    def same_after(name: str) -> None:
        replica.wait_caught_up()
        assert compare_servers(primary, replica, dba.prefix) == [], f"the replica differs after {name}"

    for name in PHASES[:PHASES.index("50_verify") + 1]:
        with writing(name):
            applied(dba, name)
        same_after(name)
    for name in ("60_constraints", "70_cutover"):
        applied(dba, name)
        same_after(name)
    for name in reversed(PHASES[:PHASES.index("70_cutover") + 1]):
        applied(dba, f"rollback/{name}")
        same_after(f"rollback/{name}")
    with writing("00 to 30"):
        applied(dba, "00_preflight", "10_expand", "20_routines", "30_dualwrite")
    with writing("backfill"):
        dba.run("backfill", str(dba.plan_path), "--chunk-rows", "5", "--jobs", "2", "--replica",
                replica.dsn_for(DBA_USER))
    same_after("djsqlgen backfill")
    with writing("verify"):
        dba.run("verify", str(dba.plan_path), "--on-replica", replica.dsn_for(DBA_USER))
    same_after("djsqlgen verify --on-replica")
    for name in ("60_constraints", "70_cutover", "80_contract"):
        applied(dba, name)
        same_after(name)
