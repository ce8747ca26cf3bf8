#!/usr/bin/env bash
# The session of an ephys pipeline re-keyed by its start time, children following, while a user writes.
# Exits non-zero unless verify is clean. Needs a MySQL/MariaDB server (DJ_HOST/DJ_USER/DJ_PASS).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../common.sh"
cd "$here"
cleanup

step "create the v1 pipeline (${prefix}rekey_common, ${prefix}rekey_ephys) with its history"
djsqlgen apply "$inputs/v1.sql" >/dev/null
step "check the plan: the new key must be unique on v1's data (a data check, also run by 00 and 70)"
djsqlgen plan check "$inputs/plan.yaml"
step "generate the SQL files into $out"
djsqlgen generate "$inputs/plan.yaml" -o "$out"
step "expand, routines, dual-write triggers"
djsqlgen apply "$out/00_preflight.sql" "$out/10_expand.sql" "$out/20_routines.sql" "$out/30_dualwrite.sql" >/dev/null
step "a user writes to v1 meanwhile: a new session with an insertion, a session moved in time, a subject renumbered"
djsqlgen apply - >/dev/null <<SQL
INSERT INTO ${prefix}rekey_common.session (subject_id, session_id, session_start) VALUES (1, 4, '2026-01-01 10:00:00');
INSERT INTO ${prefix}rekey_ephys.probe_insertion VALUES (1, 4, 1, 'neuropixels 2.0');
UPDATE ${prefix}rekey_common.session SET session_start = session_start + INTERVAL 30 MINUTE WHERE subject_id = 2 AND session_id = 1;
UPDATE ${prefix}rekey_common.subject SET subject_id = 9001 WHERE subject_id = 3;
SQL
step "backfill (chunked, resumable)"
djsqlgen backfill "$inputs/plan.yaml"
step "verify: v2 equals transform(v1)"
djsqlgen verify "$inputs/plan.yaml"
step "constraints; then a start time moves again: v2's own ON UPDATE CASCADE carries it to the children"
djsqlgen apply "$out/60_constraints.sql" >/dev/null
djsqlgen apply - >/dev/null <<SQL
UPDATE ${prefix}rekey_common.session SET session_start = session_start - INTERVAL 5 MINUTE WHERE subject_id = 5 AND session_id = 2;
SQL
djsqlgen verify "$inputs/plan.yaml"
step "cut-over"
djsqlgen apply "$out/70_cutover.sql" >/dev/null
djsqlgen status "$inputs/plan.yaml"
step "done: the v2 key of a unit is (subject_id, session_start, insertion_number, unit_id):"
djsqlgen apply - <<SQL
SELECT * FROM ${prefix}rekey_ephys_v2.__clustering__unit WHERE subject_id = 2 ORDER BY session_start, insertion_number, unit_id LIMIT 4;
SQL
echo
echo "Everything this example made stays to look at; to drop it (and nothing else): bash $example/run.sh cleanup"
