#!/usr/bin/env bash
# Every benchmark of benches/README.md in one command: the criterion benches
# (library costs and memory per slot) and the HTTP benches (requests/s per
# store, peak RSS, the pgbench ceiling), each the median of RUNS runs, printed
# as the tables of benches/README.md.
#
#   SCHEDULER_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres bash benches/run.sh
#
# SCHEDULER_BENCH_POSTGRES_URL (a role that may CREATE DATABASE) adds
# PostgreSQL to both: a database is created for the run and dropped after.
# RUNS, DURATION, WARMUP and STORES pass through to the two scripts.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ADMIN_URL="${SCHEDULER_BENCH_POSTGRES_URL:-}"
DB=""

cleanup() {
    if [[ -n "$DB" ]]; then
        psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

if [[ -n "$ADMIN_URL" ]]; then
    DB="scheduler_criterion_$(date +%s)_$$"
    psql -q -v ON_ERROR_STOP=1 "$ADMIN_URL" -c "CREATE DATABASE \"$DB\"" >/dev/null
    SCHEDULER_TEST_POSTGRES_URL="$(python3 -c '
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(u._replace(path="/" + sys.argv[2]).geturl())
' "$ADMIN_URL" "$DB")"
    export SCHEDULER_TEST_POSTGRES_URL
fi

echo "## Library (criterion)"
bash "$HERE/criterion.sh"
echo
echo "## HTTP (wrk)"
bash "$HERE/http/run.sh"
