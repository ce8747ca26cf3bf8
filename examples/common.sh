# Sourced by every examples/*/run.sh: the example's own database names, and its cleanup.
#
# Every database an example uses starts with DJSQLGEN_DEMO_PREFIX (default djsqlgen_demo_), so that it can run
# on a shared server without touching anyone's data. v1.sql refuses, before creating anything, when one of the
# example's names already exists; it marks each v1 database it creates with a procedure `djsqlgen_demo_owner`.
# `run.sh cleanup` (also the first step of every run) drops only what the example made: v2 and the control
# schema through djsqlgen's own rollback files (they drop only what djsqlgen recorded creating), then each v1
# database that holds the marker.
# Expects $here (the example's directory) and the command line of run.sh; sets prefix, out and inputs.

prefix=${DJSQLGEN_DEMO_PREFIX:-djsqlgen_demo_}
if ! [[ $prefix =~ ^[a-z][a-z0-9_]{0,23}$ ]]; then
    echo "run.sh: DJSQLGEN_DEMO_PREFIX=$prefix: use a lowercase letter then up to 23 letters, digits or _" >&2
    exit 2
fi
out=${OUT:-$here/generated}
example="examples/$(basename "$here")"

# The example's files name its databases with the default prefix; another prefix gets copies of them.
if [ "$prefix" = djsqlgen_demo_ ]; then
    inputs=$here
else
    inputs=$out/inputs
    mkdir -p "$inputs"
    for name in v1.sql plan.yaml cleanup.sql; do
        sed "s/djsqlgen_demo_/$prefix/g" "$here/$name" >"$inputs/$name"
    done
fi

step() { printf '\n==> %s\n' "$*"; }

cleanup() {
    step "drop what an earlier run of $example made (prefix $prefix), nothing else"
    # The rollbacks need the generated files of this plan; they exist once v1 does.
    if [ ! -f "$out/manifest.json" ] && djsqlgen plan check "$inputs/plan.yaml" >/dev/null 2>&1; then
        djsqlgen generate "$inputs/plan.yaml" -o "$out" 2>/dev/null
    fi
    if [ -f "$out/manifest.json" ]; then
        # Named one by one, newest first: each undoes its phase where it was applied and does nothing elsewhere.
        quietly djsqlgen apply "$out"/rollback/{70_cutover,60_constraints,50_verify,40_backfill,30_dualwrite,20_routines,10_expand,00_preflight}.sql
    fi
    quietly djsqlgen apply "$inputs/cleanup.sql"
}

# A command's output only when it fails.
quietly() {
    local log
    if ! log=$("$@" 2>&1); then
        printf '%s\n' "$log" >&2
        return 1
    fi
}

if [ "${1:-}" = cleanup ]; then
    cleanup
    exit 0
elif [ $# -gt 0 ]; then
    echo "usage: bash $example/run.sh [cleanup]" >&2
    exit 2
fi
