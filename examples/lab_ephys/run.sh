#!/usr/bin/env bash
# The whole expand-and-contract path on the example pipeline, as a DBA would run it.
# Its databases start with DJSQLGEN_DEMO_PREFIX (default djsqlgen_demo_); `run.sh cleanup` drops them.
# Needs a MySQL/MariaDB server (DJ_HOST/DJ_USER/DJ_PASS, default localhost as the current user).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../common.sh"
cd "$here"
cleanup

step "create the v1 pipeline (${prefix}example_common, ${prefix}example_ephys) with its history"
djsqlgen apply "$inputs/v1.sql" >/dev/null
step "check the plan against the live headings"
djsqlgen plan check "$inputs/plan.yaml"
step "generate the SQL files into $out"
djsqlgen generate "$inputs/plan.yaml" -o "$out"
step "expand, routines, dual-write triggers"
djsqlgen apply "$out/00_preflight.sql" "$out/10_expand.sql" "$out/20_routines.sql" "$out/30_dualwrite.sql"
step "a user writes to v1 meanwhile: a new subject with a session, a key change that cascades"
djsqlgen apply - >/dev/null <<SQL
INSERT INTO ${prefix}example_common.subject (subject_id, species, subject_uuid, notes) VALUES (5000, 'Mus musculus', UNHEX(MD5('new')), 'cohort 50');
INSERT INTO ${prefix}example_common.session (subject_id, session_id, session_start) VALUES (5000, 1, NOW());
UPDATE ${prefix}example_common.subject SET subject_id = 7000 WHERE subject_id = 42;
SQL
step "backfill (chunked, resumable)"
djsqlgen backfill "$inputs/plan.yaml"
step "verify: v2 equals transform(v1)"
djsqlgen verify "$inputs/plan.yaml"
step "constraints, cut-over"
djsqlgen apply "$out/60_constraints.sql" "$out/70_cutover.sql"
djsqlgen status "$inputs/plan.yaml"
step "done: v2 is in ${prefix}example_common_v2 / ${prefix}example_ephys_v2; see $out/RUNBOOK.md"
echo
echo "Everything this example made stays to look at; to drop it (and nothing else): bash $example/run.sh cleanup"
