#!/usr/bin/env bash
# Profiles the server on PostgreSQL under wrk, the way run.sh loads it: a
# fresh database, the 224-slot week (and 95,232 more slots to reserve), a
# warm-up, then `perf record -a` over the
# whole machine for DURATION while wrk runs a scenario. Writes, per scenario,
# the CPU share of each command (server, postgres, wrk, ...) and the server's
# and PostgreSQL's hottest symbols, to benches/http/profiles/postgres-*.txt.
#
#   SCHEDULER_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
#       bash benches/http/profile_pg.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DURATION="${DURATION:-5}"
ADMIN="${SCHEDULER_BENCH_POSTGRES_URL:?set SCHEDULER_BENCH_POSTGRES_URL}"
SERVER="$ROOT/target/release/examples/server"
OUT="$HERE/profiles"
SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
WORK="$(mktemp -d)"
DB="scheduler_profile_$$"
SERVER_PID=""

cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

command -v perf >/dev/null || { echo "perf is required" >&2; exit 1; }
(cd "$ROOT" && cargo build --release --example server --quiet)
psql -q "$ADMIN" -c "CREATE DATABASE \"$DB\"" >/dev/null
URL="$(python3 -c 'import sys, urllib.parse; u = urllib.parse.urlsplit(sys.argv[1]); print(u._replace(path="/" + sys.argv[2]).geturl())' "$ADMIN" "$DB")"

"$SERVER" --bind 127.0.0.1:0 --database-url "$URL" --jwt-secret "$SECRET" --rate-limit 0 \
    --min-lead 0s --max-horizon 1100days >"$WORK/out" 2>"$WORK/log" &
SERVER_PID=$!
for _ in $(seq 300); do
    ADDR="$(sed -n 's|^listening on http://||p' "$WORK/out" | head -n1)"
    [[ -n "$ADDR" ]] && break
    sleep 0.1
done
BASE="http://$ADDR"
token() { "$SERVER" token --role "$1" --sub "$2" --ttl 2h --jwt-secret "$SECRET"; }
PROVIDER="$(token provider bench-week)"
CLIENT="$(token client bench-client)"
publish() { # publish START END
    curl -sS -f -o /dev/null -X POST "$BASE/v1/providers/bench-week/availability" \
        -H "Authorization: Bearer $PROVIDER" -H 'Content-Type: application/json' \
        -d "{\"windows\":[{\"start\":\"$1\",\"end\":\"$2\"}]}"
}
day() { date -u -d "today + $1 days" +%F; }
# The listing's week: 09:00-17:00 on days 2 to 8, 224 slots.
for d in $(seq 2 8); do
    publish "$(day "$d")T09:00:00Z" "$(day "$d")T17:00:00Z"
done
# Whole days from day 9 to day 1,000 for reserving: 95,232 slots.
for ((d = 9; d < 1000; d += 31)); do
    end=$((d + 31 < 1000 ? d + 31 : 1000))
    publish "$(day "$d")T00:00:00Z" "$(day "$end")T00:00:00Z"
done

# Their ids, computed as the server spells them (see run.sh): a quarter for
# the warm-up, the rest for the profiled run, so every hold takes a free slot.
python3 - "$WORK" <<'PY'
import base64, datetime, struct, sys
today = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
first = int((today + datetime.timedelta(days=9)).timestamp())
with open(sys.argv[1] + "/warm.ids", "w") as warm, open(sys.argv[1] + "/run.ids", "w") as run:
    for i in range(991 * 96):
        raw = struct.pack(">q", first + i * 900) + b"bench-week"
        (warm if i % 4 == 0 else run).write(base64.urlsafe_b64encode(raw).decode().rstrip("=") + "\n")
PY

# report NAME: the recording as text. Pipelines here end in `head`, which
# closes early by design, so a broken pipe is not a failure.
report() {
    set +o pipefail
    local data="$WORK/perf.data"
    echo "# $1: wrk -t2 -c32 on the server over PostgreSQL; perf record -a -g -F 499 for ${DURATION}s"
    echo "# $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
    echo "# wrk: $(sed -n 's/^BENCH //p' "$WORK/wrk.txt") (requests/s, p99 ms, non-2xx, socket errors)"
    echo
    echo "## CPU by thread name (whole machine): the server's threads are tokio-rt-worker and log-writer"
    perf report -i "$data" --stdio --no-children -g none --sort comm 2>/dev/null | grep '%' | head -12
    echo
    echo "## The server's threads: top symbols by self time"
    perf report -i "$data" --stdio --no-children -g none --comm tokio-rt-worker,log-writer \
        --sort dso,symbol 2>/dev/null | grep '%' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//' | head -40
    echo
    echo "## The server's threads: time inside sqlx's ping (callers included)"
    perf report -i "$data" --stdio --children -g none --comm tokio-rt-worker \
        --sort symbol 2>/dev/null | grep -E 'ping|check_idle_conn|return_to_pool|fetch_optional|fetch_one|execute' | head -12
    echo
    echo "## PostgreSQL: top symbols by self time"
    perf report -i "$data" --stdio --no-children -g none --comm postgres \
        --sort dso,symbol 2>/dev/null | grep '%' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//' | head -30
    set -o pipefail
}

profile() { # profile NAME SCRIPT WARM_ARGS -- RUN_ARGS
    local name="$1" script="$2" warm=() run=(); shift 2
    while [[ $# -gt 0 && "$1" != "--" ]]; do warm+=("$1"); shift; done
    shift
    run=("$@")
    wrk -t2 -c32 -d2s -s "$HERE/$script" "$BASE" -- "${warm[@]}" >/dev/null
    wrk -t2 -c32 -d"$((DURATION + 2))s" -s "$HERE/$script" "$BASE" -- "${run[@]}" >"$WORK/wrk.txt" &
    local wrk_pid=$!
    sleep 1
    perf record -q -a -g -F 499 -o "$WORK/perf.data" -- sleep "$DURATION" 2>/dev/null
    wait "$wrk_pid"
    report "$name" >"$OUT/postgres-$name.txt"
    echo "wrote $OUT/postgres-$name.txt"
}

profile list-week list.lua bench-week "$CLIENT" -- bench-week "$CLIENT"
profile reserve reserve.lua "$WORK/warm.ids" 2 "$CLIENT" -- "$WORK/run.ids" 2 "$CLIENT"
