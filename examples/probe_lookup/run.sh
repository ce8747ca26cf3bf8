#!/usr/bin/env bash
# Columns of probe_insertion moved into a new lookup table while 0.14 users keep writing the old columns.
# Exits non-zero unless verify is clean. Needs a MySQL/MariaDB server (DJ_HOST/DJ_USER/DJ_PASS).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../common.sh"
cd "$here"
cleanup

step "create the v1 pipeline (${prefix}lookup_ephys) with its history"
djsqlgen apply "$inputs/v1.sql" >/dev/null
step "check the plan: each probe model must have one vendor and one channel count in v1's data"
djsqlgen plan check "$inputs/plan.yaml"
step "generate the SQL files into $out"
djsqlgen generate "$inputs/plan.yaml" -o "$out"
step "expand, routines, dual-write triggers"
djsqlgen apply "$out/00_preflight.sql" "$out/10_expand.sql" "$out/20_routines.sql" "$out/30_dualwrite.sql" >/dev/null
step "a 0.14 user writes to v1 meanwhile: an insertion with a new probe model, one moved to another model, one deleted"
djsqlgen apply - >/dev/null <<SQL
INSERT INTO ${prefix}lookup_ephys.probe_insertion VALUES (1, 1, 4, 'neuropixels ultra', 'IMEC', 384, 750);
UPDATE ${prefix}lookup_ephys.probe_insertion SET probe_model = 'neuropixels 2.0' WHERE subject_id = 2 AND session_id = 1 AND insertion_number = 1;
DELETE FROM ${prefix}lookup_ephys.__spikes WHERE subject_id = 3 AND session_id = 2 AND insertion_number = 3;
DELETE FROM ${prefix}lookup_ephys.probe_insertion WHERE subject_id = 3 AND session_id = 2 AND insertion_number = 3;
UPDATE ${prefix}lookup_ephys.subject SET subject_id = 9001 WHERE subject_id = 4;
SQL
step "backfill (chunked, resumable)"
djsqlgen backfill "$inputs/plan.yaml"
step "verify: every insertion's values equal its lookup row's"
djsqlgen verify "$inputs/plan.yaml"
step "constraints; then the vendor is renamed in every row at once (the lookup row follows)"
djsqlgen apply "$out/60_constraints.sql" >/dev/null
djsqlgen apply - >/dev/null <<SQL
UPDATE ${prefix}lookup_ephys.probe_insertion SET probe_vendor = 'imec' WHERE probe_vendor = 'IMEC';
INSERT INTO ${prefix}lookup_ephys.probe_insertion VALUES (5, 1, 4, 'silicon h32', 'Cambridge NeuroTech', 32, 1200);
SQL
djsqlgen verify "$inputs/plan.yaml"
step "cut-over"
djsqlgen apply "$out/70_cutover.sql" >/dev/null
djsqlgen status "$inputs/plan.yaml"
step "done: each model once, referred to by probe_insertion:"
djsqlgen apply - <<SQL
SELECT * FROM ${prefix}lookup_ephys_v2.\`#probe_model\` ORDER BY probe_model;
SELECT TABLE_NAME, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = '${prefix}lookup_ephys_v2' ORDER BY TABLE_NAME, REFERENCED_TABLE_NAME;
SQL
echo
echo "Everything this example made stays to look at; to drop it (and nothing else): bash $example/run.sh cleanup"
