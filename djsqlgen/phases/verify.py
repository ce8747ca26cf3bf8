"""50 verify: every v2 table checksummed against transform(v1), and each two-way v1 table against reverse(v2); its
rollback forgets the results."""

from __future__ import annotations

from djsqlgen.engines import guards
from djsqlgen.phases.builder import FileBuilder, table_exists
from djsqlgen.phases.shared import Phases
from djsqlgen.sqltext.statements import Check, Statement

NUMBER, NAME, TITLE = "50", "verify", "Verify"
PURPOSE = ("Checksum every v2 table against transform(v1), and each two-way v1 table against reverse(v2), chunk by "
           "chunk; report per direction; fail on any difference.")
RERUN = "Safe to run again: each run is recorded separately."


def removes(phases: Phases) -> str:
    return f"the verify results in {phases.ctx.control}"


def forward(phases: Phases) -> FileBuilder:
    f = phases.file("50")
    # once 80 has dropped v1 there is nothing to check v2 against: say so rather than fail on a missing table
    v1_gone = [Check(guards.applied(phases.ctx, "80", same_plan=False),
                     "djsqlgen refused 50_verify.sql: 80_contract.sql dropped v1 (contract.drop_v1); nothing to verify "
                     "v2 against", "contract.drop_v1 removed v1")] if phases.plan.contract.drop_v1 else []
    phases.common_refusals(f, "30", v1_gone + phases.v1_drift_until_cutover("50_verify.sql"))
    f.log()
    f.add(Statement("verify_all", f"CALL {phases.ctx.control_table('verify_all')}({phases.plan.chunk.verify_rows}, 1)",
                    "checksums of every table (one consistent snapshot per chunk), the report, and an error "
                    "if any table differs"))
    return f


def rollback(phases: Phases) -> FileBuilder:
    f = phases.file("50", rollback=True)
    phases.common_refusals(f, None)
    f.steps([Statement(f"verify_{t}_clear", f"DELETE FROM {phases.ctx.control_table(t)}", f"forget verify results ({t})",
                       done_when=f"NOT {table_exists(phases.ctx.control, t)}")
             for t in ("verify_diff", "verify_chunk", "verify_run")])
    f.log()
    return f
