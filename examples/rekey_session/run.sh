#!/usr/bin/env bash
# The session of an ephys pipeline re-keyed by its start time, children following, while a user writes.
# Exits non-zero unless verify is clean. Needs a MySQL/MariaDB server (DJ_HOST/DJ_USER/DJ_PASS).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/generated}
cd "$here"
step() { printf '\n==> %s\n' "$*"; }

step "create the v1 pipeline (rekey_common, rekey_ephys) with its history"
djsqlgen apply v1.sql >/dev/null
step "check the plan: the new key must be unique on v1's data (a data check, also run by 00 and 70)"
djsqlgen plan check plan.yaml
step "generate the SQL files into $out"
djsqlgen generate plan.yaml -o "$out"
step "expand, routines, dual-write triggers"
djsqlgen apply "$out/00_preflight.sql" "$out/10_expand.sql" "$out/20_routines.sql" "$out/30_dualwrite.sql" >/dev/null
step "a user writes to v1 meanwhile: a new session with an insertion, a session moved in time, a subject renumbered"
djsqlgen apply - >/dev/null <<'SQL'
INSERT INTO rekey_common.session (subject_id, session_id, session_start) VALUES (1, 4, '2026-01-01 10:00:00');
INSERT INTO rekey_ephys.probe_insertion VALUES (1, 4, 1, 'neuropixels 2.0');
UPDATE rekey_common.session SET session_start = session_start + INTERVAL 30 MINUTE WHERE subject_id = 2 AND session_id = 1;
UPDATE rekey_common.subject SET subject_id = 9001 WHERE subject_id = 3;
SQL
step "backfill (chunked, resumable)"
djsqlgen backfill plan.yaml
step "verify: v2 equals transform(v1)"
djsqlgen verify plan.yaml
step "constraints; then a start time moves again: v2's own ON UPDATE CASCADE carries it to the children"
djsqlgen apply "$out/60_constraints.sql" >/dev/null
djsqlgen apply - >/dev/null <<'SQL'
UPDATE rekey_common.session SET session_start = session_start - INTERVAL 5 MINUTE WHERE subject_id = 5 AND session_id = 2;
SQL
djsqlgen verify plan.yaml
step "cut-over"
djsqlgen apply "$out/70_cutover.sql" >/dev/null
djsqlgen status plan.yaml
step "done: the v2 key of a unit is (subject_id, session_start, insertion_number, unit_id):"
djsqlgen apply - <<'SQL'
SELECT * FROM rekey_ephys_v2.__clustering__unit WHERE subject_id = 2 ORDER BY session_start, insertion_number, unit_id LIMIT 4;
SQL
