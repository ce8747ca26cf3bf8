#!/usr/bin/env bash
# A legacy master table retired and its part promoted to a table of its own, while 0.14 users keep writing both.
# Exits non-zero unless verify is clean. Needs a MySQL/MariaDB server (DJ_HOST/DJ_USER/DJ_PASS).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../common.sh"
cd "$here"
cleanup

step "create the v1 pipeline (${prefix}retire_ephys) with its history"
djsqlgen apply "$inputs/v1.sql" >/dev/null
step "check the plan: every unit must find its probe insertion (a data check, also run by 00)"
djsqlgen plan check "$inputs/plan.yaml"
step "generate the SQL files into $out"
djsqlgen generate "$inputs/plan.yaml" -o "$out"
step "expand, routines, dual-write triggers"
djsqlgen apply "$out/00_preflight.sql" "$out/10_expand.sql" "$out/20_routines.sql" "$out/30_dualwrite.sql" >/dev/null
step "a 0.14 user writes to v1 meanwhile: a new sorting with its units, a unit deleted, a subject renumbered"
djsqlgen apply - >/dev/null <<SQL
INSERT INTO ${prefix}retire_ephys.session VALUES (1, 3, '2026-02-02 10:00:00');
INSERT INTO ${prefix}retire_ephys.probe_insertion VALUES (1, 3, 1, 'neuropixels 2.0');
INSERT INTO ${prefix}retire_ephys.__legacy_sorting VALUES (1, 3, 1, 'kilosort4', NULL);
INSERT INTO ${prefix}retire_ephys.__legacy_sorting__unit VALUES (1, 3, 1, 1, 4.5, NULL), (1, 3, 1, 2, 7.25, x'0102');
DELETE FROM ${prefix}retire_ephys.__legacy_sorting__unit WHERE subject_id = 2 AND session_id = 1 AND insertion_number = 1 AND unit_id = 6;
UPDATE ${prefix}retire_ephys.subject SET subject_id = 9001 WHERE subject_id = 3;
SQL
step "backfill (chunked, resumable)"
djsqlgen backfill "$inputs/plan.yaml"
step "verify: v2 equals transform(v1)"
djsqlgen verify "$inputs/plan.yaml"
step "constraints; then the user re-sorts an insertion: the old units go, new ones come"
djsqlgen apply "$out/60_constraints.sql" >/dev/null
djsqlgen apply - >/dev/null <<SQL
DELETE FROM ${prefix}retire_ephys.__legacy_sorting__unit WHERE subject_id = 5 AND session_id = 2 AND insertion_number = 2;
INSERT INTO ${prefix}retire_ephys.__legacy_sorting__unit VALUES (5, 2, 2, 1, 11.5, NULL);
UPDATE ${prefix}retire_ephys.__legacy_sorting__unit SET firing_rate = 12 WHERE subject_id = 5 AND session_id = 1 AND insertion_number = 1 AND unit_id = 1;
SQL
djsqlgen verify "$inputs/plan.yaml"
step "cut-over"
djsqlgen apply "$out/70_cutover.sql" >/dev/null
djsqlgen status "$inputs/plan.yaml"
step "done: v2 has no __legacy_sorting; its units are the computed table __unit, a child of probe_insertion:"
djsqlgen apply - <<SQL
SELECT TABLE_NAME, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = '${prefix}retire_ephys_v2' ORDER BY TABLE_NAME;
SELECT subject_id, session_id, insertion_number, unit_id, firing_rate FROM ${prefix}retire_ephys_v2.__unit WHERE subject_id = 1 ORDER BY session_id, insertion_number, unit_id LIMIT 4;
SQL
echo
echo "Everything this example made stays to look at; to drop it (and nothing else): bash $example/run.sh cleanup"
