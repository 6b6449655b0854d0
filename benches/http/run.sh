#!/usr/bin/env bash
# HTTP benchmarks of the server example: for each store (SQLite, memory, and
# PostgreSQL when SCHEDULER_BENCH_POSTGRES_URL is set) start the release
# server on loopback, seed two providers, run wrk on four scenarios and print
# one table.
#
#   bash benches/http/run.sh
#
# Knobs (environment):
#   DURATION                      wrk run length per scenario (default 10s)
#   WARMUP                        wrk warm-up length per scenario (default 2s)
#   SCHEDULER_BENCH_POSTGRES_URL  a PostgreSQL URL allowed to CREATE DATABASE;
#                                 a fresh database is created and dropped
#   STORES                        which stores to run (default "sqlite memory postgres")
#   RUST_LOG                      server log filter (default: the server's, info)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
STORES="${STORES:-sqlite memory postgres}"
THREADS=2
CONNECTIONS=32
SERVER="$ROOT/target/release/examples/server"
SECRET="$(openssl rand -hex 32 2>/dev/null || python3 -c 'import secrets; print(secrets.token_hex(32))')"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/scheduler-http-bench.XXXXXX")"
SERVER_PID=""
PG_DB=""
PG_ADMIN_URL="${SCHEDULER_BENCH_POSTGRES_URL:-}"

stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}

cleanup() {
    stop_server
    if [[ -n "$PG_DB" ]]; then
        psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------

if ! command -v wrk >/dev/null; then
    log "installing wrk"
    SUDO=""
    if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk >/dev/null
fi
for tool in curl python3; do
    command -v "$tool" >/dev/null || { log "$tool is required"; exit 1; }
done
# The interpreter itself, not a version manager's shim: it runs once a page.
PYTHON="$(python3 -c 'import sys; print(sys.executable)')"
if [[ -n "$PG_ADMIN_URL" ]] && ! command -v psql >/dev/null; then
    log "psql is required when SCHEDULER_BENCH_POSTGRES_URL is set"
    exit 1
fi

log "building the release server"
(cd "$ROOT" && cargo build --release --example server --quiet)

# --- helpers -----------------------------------------------------------------

# start_server DATABASE_URL: starts the server on a free loopback port, sets BASE.
start_server() {
    local url="$1" out="$WORK/server.out" err="$WORK/server.log"
    : >"$out"
    "$SERVER" \
        --bind 127.0.0.1:0 \
        --database-url "$url" \
        --jwt-secret "$SECRET" \
        --rate-limit 0 \
        --min-lead 0s \
        --max-horizon 1100days \
        --request-timeout 60s \
        >"$out" 2>"$err" &
    SERVER_PID=$!
    local addr=""
    for _ in $(seq 1 300); do
        addr="$(sed -n 's|^listening on http://||p' "$out" | head -n1)"
        [[ -n "$addr" ]] && break
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "the server exited:"; tail -n 20 "$err" >&2; exit 1
        fi
        sleep 0.1
    done
    [[ -n "$addr" ]] || { log "the server did not start in 30s"; tail -n 20 "$err" >&2; exit 1; }
    BASE="http://$addr"
}

token() { # token ROLE SUB
    "$SERVER" token --role "$1" --sub "$2" --ttl 2h --jwt-secret "$SECRET"
}

# publish PROVIDER TOKEN START END: one availability window (at most 31 days).
publish() {
    local body
    body="$(printf '{"windows":[{"start":"%s","end":"%s"}]}' "$3" "$4")"
    curl -sS -f -o /dev/null -X POST "$BASE/v1/providers/$1/availability" \
        -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d "$body"
}

# collect_ids PROVIDER TOKEN FILE: every slot id of the provider, in order, by cursor.
collect_ids() {
    local provider="$1" auth="$2" file="$3" cursor="" page
    : >"$file"
    while :; do
        page="$(curl -sS -f "$BASE/v1/providers/$provider/slots?limit=500${cursor:+&cursor=$cursor}" \
            -H "Authorization: Bearer $auth")"
        cursor="$(printf '%s' "$page" | "$PYTHON" -c '
import json, sys, urllib.parse
page = json.load(sys.stdin)
with open(sys.argv[1], "a") as ids:
    for slot in page["slots"]:
        ids.write(slot["id"] + "\n")
print(urllib.parse.quote(page.get("nextCursor") or "", safe=""))
' "$file")"
        [[ -n "$cursor" ]] || break
    done
}

# day OFFSET [TIME]: the UTC date OFFSET days from today, as RFC 3339.
day() {
    printf '%sT%sZ\n' "$(date -u -d "today + $1 days" +%F)" "${2:-00:00:00}"
}

RESULTS="$WORK/results.tsv"
: >"$RESULTS"

# bench STORE SCENARIO SCRIPT ARGS...: a warm-up, then the measured run.
# The warm-up and the run take their own script arguments, split by "--".
bench() {
    local store="$1" scenario="$2" script="$3"; shift 3
    local warm_args=() run_args=() seen=0 out line
    for a in "$@"; do
        if [[ "$a" == "--" && $seen == 0 ]]; then seen=1; continue; fi
        if [[ $seen == 0 ]]; then warm_args+=("$a"); else run_args+=("$a"); fi
    done
    log "  $scenario: warm-up $WARMUP, run $DURATION"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$HERE/$script" "$BASE" -- "${warm_args[@]}" >/dev/null
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$HERE/$script" "$BASE" -- "${run_args[@]}")"
    printf '%s\n' "$out" | grep '^WARNING' >&2 || true
    line="$(printf '%s\n' "$out" | sed -n 's/^BENCH //p')"
    [[ -n "$line" ]] || { log "wrk printed no result:"; printf '%s\n' "$out" >&2; exit 1; }
    read -r rps p99 non2xx sockerr <<<"$line"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$store" "$scenario" "$rps" "$p99" "$non2xx" "$sockerr" >>"$RESULTS"
}

# --- one store ---------------------------------------------------------------

run_store() {
    local store="$1" url="$2"
    log "== $store"
    local began=$SECONDS
    start_server "$url"

    local week="bench-week" big="bench-large"
    local week_token big_token client_token
    week_token="$(token provider "$week")"
    big_token="$(token provider "$big")"
    client_token="$(token client bench-client)"

    # A week of 8-hour days: 7 x 09:00-17:00 UTC from two days out = 224 slots.
    for d in 2 3 4 5 6 7 8; do
        publish "$week" "$week_token" "$(day "$d" 09:00:00)" "$(day "$d" 17:00:00)"
    done
    # 100,800 slots: 1,050 whole days of 96 slots from tomorrow, in windows of
    # at most 31 days (the longest a window may be).
    local start=1 end=$((1 + 1050)) stop
    while ((start < end)); do
        stop=$((start + 31 < end ? start + 31 : end))
        publish "$big" "$big_token" "$(day "$start")" "$(day "$stop")"
        start=$stop
    done

    log "  published in $((SECONDS - began))s"
    collect_ids "$week" "$client_token" "$WORK/week.ids"
    collect_ids "$big" "$client_token" "$WORK/large.ids"
    local nweek nbig
    nweek="$(wc -l <"$WORK/week.ids")"
    nbig="$(wc -l <"$WORK/large.ids")"
    log "  seeded in $((SECONDS - began))s: $week has $nweek slots, $big has $nbig slots"
    if [[ "$nweek" != 224 || "$nbig" != 100800 ]]; then
        log "unexpected slot counts"; exit 1
    fi

    # The reserve warm-up holds the week's first 220 slots; the contended
    # warm-up and run each take one more of the week's slots, free until then.
    head -n 220 "$WORK/week.ids" >"$WORK/warm.ids"
    local warm_slot hot_slot
    warm_slot="$(sed -n 221p "$WORK/week.ids")"
    hot_slot="$(sed -n 224p "$WORK/week.ids")"

    bench "$store" "list, 224-slot provider" list.lua \
        "$week" "$client_token" -- "$week" "$client_token"
    bench "$store" "list, 100,800-slot provider" list.lua \
        "$big" "$client_token" -- "$big" "$client_token"
    bench "$store" "reserve, distinct slots" reserve.lua \
        "$WORK/warm.ids" "$THREADS" "$client_token" -- "$WORK/large.ids" "$THREADS" "$client_token"
    bench "$store" "reserve, one contended slot" contended.lua \
        "$warm_slot" "$client_token" -- "$hot_slot" "$client_token"

    stop_server
}

for store in $STORES; do
    case "$store" in
        sqlite) run_store sqlite "sqlite://$WORK/bench.db" ;;
        memory) run_store memory "memory:" ;;
        postgres)
            if [[ -z "$PG_ADMIN_URL" ]]; then
                log "== postgres skipped (set SCHEDULER_BENCH_POSTGRES_URL to include it)"
                continue
            fi
            PG_DB="scheduler_bench_$(date +%s)_$$"
            psql -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
            PG_URL="$(python3 -c '
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(u._replace(path="/" + sys.argv[2]).geturl())
' "$PG_ADMIN_URL" "$PG_DB")"
            run_store postgres "$PG_URL"
            ;;
        *) log "unknown store in STORES: $store"; exit 1 ;;
    esac
done

# --- the table ---------------------------------------------------------------

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION after a $WARMUP warm-up; server and wrk on this machine ($(nproc) cores)"
echo
python3 - "$RESULTS" <<'EOF'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
print("| store | scenario | requests/s | p99 latency | non-2xx |")
print("| --- | --- | ---: | ---: | ---: |")
for store, scenario, rps, p99, non2xx, sockerr in rows:
    errors = f"{int(non2xx):,}"
    if int(sockerr):
        errors += f" (+{int(sockerr):,} socket errors)"
    print(f"| {store} | {scenario} | {float(rps):,.0f} | {float(p99):.2f} ms | {errors} |")
EOF
