#!/usr/bin/env bash
# The whole expand-and-contract path on the example pipeline, as a DBA would run it.
# Needs a MySQL/MariaDB server (DJ_HOST/DJ_USER/DJ_PASS, default localhost as the current user).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/generated}
cd "$here"
step() { printf '\n==> %s\n' "$*"; }

step "create the v1 pipeline (example_common, example_ephys) with its history"
djsqlgen apply v1.sql >/dev/null
step "check the plan against the live headings"
djsqlgen plan check plan.yaml
step "generate the SQL files into $out"
djsqlgen generate plan.yaml -o "$out"
step "expand, routines, dual-write triggers"
djsqlgen apply "$out/00_preflight.sql" "$out/10_expand.sql" "$out/20_routines.sql" "$out/30_dualwrite.sql"
step "a user writes to v1 meanwhile: a new subject with a session, a key change that cascades"
djsqlgen apply - >/dev/null <<'SQL'
INSERT INTO example_common.subject (subject_id, species, subject_uuid, notes) VALUES (5000, 'Mus musculus', UNHEX(MD5('new')), 'cohort 50');
INSERT INTO example_common.session (subject_id, session_id, session_start) VALUES (5000, 1, NOW());
UPDATE example_common.subject SET subject_id = 7000 WHERE subject_id = 42;
SQL
step "backfill (chunked, resumable)"
djsqlgen backfill plan.yaml
step "verify: v2 equals transform(v1)"
djsqlgen verify plan.yaml
step "constraints, cut-over"
djsqlgen apply "$out/60_constraints.sql" "$out/70_cutover.sql"
djsqlgen status plan.yaml
step "done: v2 is in example_common_v2 / example_ephys_v2; see $out/RUNBOOK.md. To undo it all:"
echo "  djsqlgen apply $out/rollback/70_cutover.sql $out/rollback/60_constraints.sql $out/rollback/50_verify.sql \\"
echo "    $out/rollback/40_backfill.sql $out/rollback/30_dualwrite.sql $out/rollback/20_routines.sql $out/rollback/10_expand.sql $out/rollback/00_preflight.sql"
