"""Which files ``djsqlgen apply`` runs for a directory (the stops of issue 22 item 2), and the typed confirmation
of a file that drops v1, without a server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from djsqlgen.errors import DjsqlgenError
from djsqlgen.run.apply import _confirm_drops, select_files

FORWARD = ["00_preflight", "10_expand", "20_routines", "30_dualwrite", "40_backfill", "50_verify", "60_constraints",
           "70_cutover", "80_contract"]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    (tmp_path / "rollback").mkdir()
    for name in FORWARD:
        (tmp_path / f"{name}.sql").write_text(f"-- {name}.sql: x\n")
        (tmp_path / "rollback" / f"{name}.sql").write_text(f"-- {name}.sql: x\n")
    (tmp_path / "manifest.json").write_text(json.dumps({
        "files": [f"{n}.sql" for n in FORWARD], "rollback_files": [f"rollback/{n}.sql" for n in reversed(FORWARD)],
        "control_schema": "ctl"}))
    return tmp_path


@pytest.mark.parametrize("through, last", [(None, "60_constraints"), ("70", "70_cutover"), ("80", "80_contract")])
def test_a_directory_runs_up_to_its_stop(out, through, last):
    selection = select_files([out], through)
    assert [p.stem for p in selection.files] == FORWARD[: FORWARD.index(last) + 1]
    if last != "80_contract":
        following = FORWARD[FORWARD.index(last) + 1][:2]
        assert selection.stops and f"--through {following}" in selection.stops[0]
    else:
        assert selection.stops == []


@pytest.mark.parametrize("through, held", [(None, ["80", "70"]), ("70", ["80"]), ("80", [])])
def test_a_rollback_directory_holds_back_undoing_70_and_80(out, through, held):
    selection = select_files([out / "rollback"], through)
    assert [path.name[:2] for path, _ in selection.held] == held
    assert [p.name[:2] for p in selection.files] == [n[:2] for n in reversed(FORWARD) if n[:2] not in held]


def test_a_file_named_runs_whatever_the_stop(out):
    assert select_files([out / "80_contract.sql"]).files == [out / "80_contract.sql"]


def test_a_file_that_drops_v1_runs_only_when_its_schema_is_typed(out):
    contract = out / "80_contract.sql"
    contract.write_text("-- 80_contract.sql: Contract\n-- Drops v1: lab_v1, lab_v1b\n")
    _confirm_drops([contract], yes=False, ask=lambda text: "lab_v1 lab_v1b")
    _confirm_drops([contract], yes=True, ask=None)
    with pytest.raises(DjsqlgenError, match="not confirmed"):
        _confirm_drops([contract], yes=False, ask=lambda text: "lab_v1")
    with pytest.raises(DjsqlgenError, match="--yes"):
        _confirm_drops([contract], yes=False, ask=None)
    _confirm_drops([out / "70_cutover.sql"], yes=False, ask=None)  # nothing to confirm
