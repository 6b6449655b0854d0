#!/usr/bin/env bash
# Soak test of the server example: a bounded run of mixed load (reserve,
# confirm, cancel, list) against one server, sampling the server's memory
# every few seconds and counting every answer by status. Not run in CI.
#
#   bash benches/soak/soak.sh
#
# Knobs (environment):
#   DURATION      how long the load runs (default 10m; wrk syntax: 90s, 10m)
#   SAMPLE_EVERY  seconds between memory samples (default 5)
#   STORE         sqlite (default), memory, or postgres
#   SCHEDULER_SOAK_POSTGRES_URL  for STORE=postgres: a URL allowed to CREATE
#                 DATABASE; a fresh database is created and dropped
#   PROFILE       release (default) or debug: which server build to run
#   CONNECTIONS   wrk connections (default 16), over 2 threads (one client each)
#   OUT           also write the report to this file
#
# Exit status: 0 when the run had no 5xx and no socket errors, 1 otherwise.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DURATION="${DURATION:-10m}"
SAMPLE_EVERY="${SAMPLE_EVERY:-5}"
STORE="${STORE:-sqlite}"
PROFILE="${PROFILE:-release}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS=2
OUT="${OUT:-}"
SERVER="$ROOT/target/$PROFILE/examples/server"
SECRET="$(openssl rand -hex 32 2>/dev/null || python3 -c 'import secrets; print(secrets.token_hex(32))')"
PROVIDER="soak-provider"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/scheduler-soak.XXXXXX")"
SERVER_PID=""
SAMPLER_PID=""
PG_DB=""
PG_ADMIN_URL="${SCHEDULER_SOAK_POSTGRES_URL:-}"

cleanup() {
    [[ -n "$SAMPLER_PID" ]] && kill "$SAMPLER_PID" 2>/dev/null || true
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -n "$PG_DB" ]]; then
        psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }

command -v wrk >/dev/null || { log "wrk is required (apt-get install wrk)"; exit 1; }
command -v curl >/dev/null || { log "curl is required"; exit 1; }
PYTHON="$(python3 -c 'import sys; print(sys.executable)')"

case "$PROFILE" in
    release) (cd "$ROOT" && cargo build --release --example server --quiet) ;;
    debug) (cd "$ROOT" && cargo build --example server --quiet) ;;
    *) log "PROFILE must be release or debug"; exit 1 ;;
esac

case "$STORE" in
    sqlite) DB_URL="sqlite://$WORK/soak.db" ;;
    memory) DB_URL="memory:" ;;
    postgres)
        [[ -n "$PG_ADMIN_URL" ]] || { log "STORE=postgres needs SCHEDULER_SOAK_POSTGRES_URL"; exit 1; }
        PG_DB="scheduler_soak_$$"
        psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
        DB_URL="${PG_ADMIN_URL%/*}/$PG_DB"
        ;;
    *) log "STORE must be sqlite, memory or postgres"; exit 1 ;;
esac

# --- the server ----------------------------------------------------------------

"$SERVER" --bind 127.0.0.1:0 --database-url "$DB_URL" --jwt-secret "$SECRET" \
    --rate-limit 0 --min-lead 0s --hold-ttl 1h --sweep-interval 5s \
    >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
ADDR=""
for _ in $(seq 1 300); do
    ADDR="$(sed -n 's|^listening on http://||p' "$WORK/server.out" | head -n1)"
    [[ -n "$ADDR" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { log "the server exited:"; tail -n 20 "$WORK/server.log" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$ADDR" ]] || { log "the server did not start in 30s"; exit 1; }
BASE="http://$ADDR"

token() { "$SERVER" token --role "$1" --sub "$2" --ttl 24h --jwt-secret "$SECRET"; }
PROVIDER_TOKEN="$(token provider "$PROVIDER")"
SOAK_TOKENS="$(token client soak-client-1),$(token client soak-client-2)"
export SOAK_TOKENS

# 2,000 slots: 500 hours of 15-minute slots from two days out, in one window.
start="$(date -u -d "today + 2 days" +%FT00:00:00Z)"
end="$(date -u -d "$start + 500 hours" +%FT%H:%M:%SZ)"
curl -sS -f -o /dev/null -X POST "$BASE/v1/providers/$PROVIDER/availability" \
    -H "Authorization: Bearer $PROVIDER_TOKEN" -H 'Content-Type: application/json' \
    -d "{\"windows\":[{\"start\":\"$start\",\"end\":\"$end\"}]}"
: >"$WORK/slots"
cursor=""
while :; do
    page="$(curl -sS -f "$BASE/v1/providers/$PROVIDER/slots?limit=500${cursor:+&cursor=$cursor}" \
        -H "Authorization: Bearer $PROVIDER_TOKEN")"
    cursor="$(printf '%s' "$page" | "$PYTHON" -c '
import json, sys, urllib.parse
page = json.load(sys.stdin)
with open(sys.argv[1], "a") as ids:
    for slot in page["slots"]:
        ids.write(slot["id"] + "\n")
print(urllib.parse.quote(page.get("nextCursor") or "", safe=""))
' "$WORK/slots")"
    [[ -n "$cursor" ]] || break
done
log "soak: $STORE, $PROFILE server at $BASE, $(wc -l <"$WORK/slots") slots, $DURATION of load"

# --- memory samples ------------------------------------------------------------

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }
began=$SECONDS
(
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        printf '%d\t%s\n' "$((SECONDS - began))" "$(rss_kib)"
        sleep "$SAMPLE_EVERY"
    done
) >"$WORK/rss.tsv" &
SAMPLER_PID=$!

# --- the load ------------------------------------------------------------------

wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 30s -s "$HERE/mixed.lua" "$BASE" \
    -- "$WORK/slots" "$PROVIDER" >"$WORK/wrk.out"
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
alive=yes
kill -0 "$SERVER_PID" 2>/dev/null || alive=no
health="$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz" || true)"

# --- the report ----------------------------------------------------------------

report() {
    echo "soak run: $(date -u +%FT%TZ), store $STORE, $PROFILE build, $DURATION, $THREADS clients over $CONNECTIONS connections"
    read -r requests rps p50 p99 e_connect e_read e_write e_timeout e_status \
        <<<"$(sed -n 's/^SOAKSUM //p' "$WORK/wrk.out")"
    echo "requests: $requests ($rps/s), latency p50 ${p50} ms, p99 ${p99} ms"
    echo "socket errors: connect $e_connect, read $e_read, write $e_write, timeout $e_timeout"
    echo "answers by status and kind:"
    sed -n 's/^SOAK //p' "$WORK/wrk.out" | sort | awk '{ printf "  %s %-20s %d\n", $1, $2, $3 }'
    server_errors="$(sed -n 's/^SOAK //p' "$WORK/wrk.out" | awk '$1 >= 500 { n += $3 } END { print n + 0 }')"
    echo "5xx answers: $server_errors"
    echo "server after the run: alive $alive, /healthz $health"
    echo "server RSS (MiB) over time:"
    awk -F'\t' '$2 != "" { printf "  t=%5ss  %7.1f\n", $1, $2 / 1024 }' "$WORK/rss.tsv"
    awk -F'\t' '$2 != "" { if (n == 0) first = $2; last = $2; if ($2 > max) max = $2; n++;
                 if ($1 >= 60 && warm == "") warm = $2 }
        END { mark = "after 1 min"; if (warm == "") { warm = first; mark = "first (run under 1 min)" }
              printf "RSS first %.1f MiB, peak %.1f MiB, last %.1f MiB; growth from %s: %+.1f MiB\n",
                     first / 1024, max / 1024, last / 1024, mark, (last - warm) / 1024 }' "$WORK/rss.tsv"
    if [[ "$server_errors" == 0 && "$e_connect$e_read$e_write$e_timeout" == 0000 && "$alive" == yes && "$health" == 200 ]]; then
        echo "result: PASS (no 5xx, no socket errors, server healthy)"
    else
        echo "result: FAIL"
    fi
}
report >"$WORK/report.txt"
cat "$WORK/report.txt"
[[ -z "$OUT" ]] || cp "$WORK/report.txt" "$OUT"
grep -q '^result: PASS' "$WORK/report.txt"
