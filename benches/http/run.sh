#!/usr/bin/env bash
# HTTP benchmarks of the server example: for each store (SQLite, memory, and
# PostgreSQL when SCHEDULER_BENCH_POSTGRES_URL is set) start the release
# server on loopback, seed 1,008,224 slots across eleven providers, run wrk on
# five scenarios (each the median of RUNS runs), measure the server's peak
# memory, compare PostgreSQL with pgbench, and print one table.
#
#   bash benches/http/run.sh
#
# Knobs (environment):
#   DURATION                      wrk run length per scenario (default 10s)
#   WARMUP                        wrk warm-up length per scenario (default 2s)
#   RUNS                          measured runs per scenario; the table shows
#                                 the median (default 3)
#   SCHEDULER_BENCH_POSTGRES_URL  a PostgreSQL URL allowed to CREATE DATABASE;
#                                 a fresh database is created and dropped
#   STORES                        which stores to run (default "sqlite memory postgres")
#   RUST_LOG                      server log filter (default: the server's, info)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
RUNS="${RUNS:-3}"
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

# slot_ids PROVIDER FIRST_DAY DAYS FILE: appends the ids of the provider's
# whole-day slots (96 a day, from FIRST_DAY days ahead), computed as the server
# spells them (base64url of the start's epoch seconds, big-endian, then the
# provider), so that a million ids need no paging. `check_ids` compares a
# sample with the server's own listing.
slot_ids() {
    "$PYTHON" - "$@" <<'PY'
import base64, datetime, struct, sys
provider, first, days, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
today = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
start = int((today + datetime.timedelta(days=first)).timestamp())
tail = provider.encode()
with open(path, "a") as out:
    for i in range(days * 96):
        raw = struct.pack(">q", start + i * 900) + tail
        out.write(base64.urlsafe_b64encode(raw).decode().rstrip("=") + "\n")
PY
}

# check_ids PROVIDER TOKEN FILE: the provider's first listed page must be the
# first 50 lines of FILE.
check_ids() {
    local listed
    listed="$(curl -sS -f "$BASE/v1/providers/$1/slots?limit=50" -H "Authorization: Bearer $2" |
        "$PYTHON" -c 'import json, sys; print("\n".join(s["id"] for s in json.load(sys.stdin)["slots"]))')"
    if [[ "$listed" != "$(head -n 50 "$3")" ]]; then
        log "computed slot ids of $1 differ from the server's"; exit 1
    fi
}

# publish_days PROVIDER TOKEN FIRST_DAY DAYS: whole days from FIRST_DAY days
# ahead, in windows of at most 31 days (the longest a window may be).
publish_days() {
    local start="$3" end=$(($3 + $4)) stop
    while ((start < end)); do
        stop=$((start + 31 < end ? start + 31 : end))
        publish "$1" "$2" "$(day "$start")" "$(day "$stop")"
        start=$stop
    done
}

RESULTS="$WORK/results.tsv"
MEMORY="$WORK/memory.tsv"
CPU="$WORK/cpu.tsv"
: >"$RESULTS"
: >"$MEMORY"
: >"$CPU"

# --- where the CPU goes ------------------------------------------------------
# Clock ticks (1/CLK_TCK s) spent so far, read from /proc: the server's, the
# PostgreSQL server processes' (its backends included), and the whole
# machine's busy time. Sampled around each measured run, they split the two
# cores between the server, the database and the rest (wrk, the kernel's
# loopback work outside those processes, anything else running).
TICK_US=$((1000000 / $(getconf CLK_TCK)))

proc_ticks() { # proc_ticks PID...: CPU ticks of the processes still alive
    local pid sum=0 stat words
    for pid in "$@"; do
        stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
        stat="${stat##*) }"
        # After the command name: field 3 is the state, so utime, stime,
        # cutime and cstime (fields 14 to 17) are words 11 to 14 here. The
        # children's share counts the backends PostgreSQL has already reaped
        # (pgbench's connections end with its run).
        read -r -a words <<<"$stat"
        sum=$((sum + words[11] + words[12] + words[13] + words[14]))
    done
    echo "$sum"
}

busy_ticks() { # the machine's non-idle ticks, all cores
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# cpu_row STORE SCENARIO RATE BEFORE AFTER: one run's CPU microseconds per
# request (server, PostgreSQL, other, busy), from two samples DURATION apart.
cpu_row() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(seconds "$DURATION")" \
        "${4// /$'\t'}" "${5// /$'\t'}" |
        awk -F'\t' -v tick="$TICK_US" -v OFS='\t' '{
            requests = $3 * $4
            server = ($8 - $5) * tick / requests
            pg = ($9 - $6) * tick / requests
            busy = ($10 - $7) * tick / requests
            print $1, $2, server, pg, busy - server - pg, busy
        }' >>"$CPU"
}

cpu_sample() { # "server postgres busy" ticks now
    local pg_pids=()
    mapfile -t pg_pids < <(pgrep -x postgres || true)
    echo "$(proc_ticks "$SERVER_PID") $(proc_ticks "${pg_pids[@]}") $(busy_ticks)"
}

# wrk_once SCRIPT ARGS...: one measured wrk run; prints "rps p99 non2xx sockerr".
wrk_once() {
    local script="$1" out line; shift
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$HERE/$script" "$BASE" -- "$@")"
    printf '%s\n' "$out" | grep '^WARNING' >&2 || true
    line="$(printf '%s\n' "$out" | sed -n 's/^BENCH //p')"
    [[ -n "$line" ]] || { log "wrk printed no result:"; printf '%s\n' "$out" >&2; exit 1; }
    printf '%s\n' "$line"
}

# bench STORE SCENARIO SCRIPT WARM_ARGS... -- RUN_ARGS_1... [-- RUN_ARGS_2... ...]:
# a warm-up, then RUNS measured runs. With one RUN_ARGS group every run takes
# it; otherwise run k takes group k (reserve runs need slots of their own).
bench() {
    local store="$1" scenario="$2" script="$3"; shift 3
    local groups=() current="" a
    for a in "$@"; do
        if [[ "$a" == "--" ]]; then groups+=("$current"); current=""; continue; fi
        current+="${current:+$'\x1f'}$a"
    done
    groups+=("$current")
    log "  $scenario: warm-up $WARMUP, $RUNS x $DURATION"
    local warm=()
    IFS=$'\x1f' read -r -a warm <<<"${groups[0]}"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$HERE/$script" "$BASE" -- "${warm[@]}" >/dev/null
    local run args=() line group
    for ((run = 1; run <= RUNS; run++)); do
        group="${groups[1]}"
        if ((${#groups[@]} > 2)); then group="${groups[run]}"; fi
        IFS=$'\x1f' read -r -a args <<<"$group"
        local before after
        before="$(cpu_sample)"
        line="$(wrk_once "$script" "${args[@]}")"
        after="$(cpu_sample)"
        log "    run $run: $line"
        printf '%s\t%s\t%s\n' "$store" "$scenario" "${line// /$'\t'}" >>"$RESULTS"
        cpu_row "$store" "$scenario" "${line%% *}" "$before" "$after"
    done
}

# peak_rss STORE: the server's peak resident memory so far, in MiB.
peak_rss() {
    local kib
    kib="$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVER_PID/status")"
    printf '%s\t%s\n' "$1" "$((kib / 1024))" >>"$MEMORY"
}

# --- one store ---------------------------------------------------------------

run_store() {
    local store="$1" url="$2"
    log "== $store"
    local began=$SECONDS
    start_server "$url"

    local week="bench-week" big="bench-large" pools=9
    local week_token big_token client_token
    week_token="$(token provider "$week")"
    big_token="$(token provider "$big")"
    client_token="$(token client bench-client)"

    # A week of 8-hour days: 7 x 09:00-17:00 UTC from two days out = 224 slots.
    for d in 2 3 4 5 6 7 8; do
        publish "$week" "$week_token" "$(day "$d" 09:00:00)" "$(day "$d" 17:00:00)"
    done
    collect_ids "$week" "$client_token" "$WORK/week.ids"
    [[ "$(wc -l <"$WORK/week.ids")" == 224 ]] || { log "$week should have 224 slots"; exit 1; }
    bench "$store" "list, 224-slot provider, 224 stored" list.lua \
        "$week" "$client_token" -- "$week" "$client_token"

    # 100,800 slots: 1,050 whole days of 96 slots from tomorrow.
    publish_days "$big" "$big_token" 1 1050
    : >"$WORK/large.ids"
    slot_ids "$big" 1 1050 "$WORK/large.ids"
    check_ids "$big" "$client_token" "$WORK/large.ids"
    log "  seeded 101,024 slots in $((SECONDS - began))s"
    bench "$store" "list, 100,800-slot provider" list.lua \
        "$big" "$client_token" -- "$big" "$client_token"

    # Nine more providers of 100,800 slots each: 1,008,224 slots stored. Their
    # ids, interleaved by provider, are dealt into a warm-up share and one
    # share per measured reserve run, so that every run reserves fresh slots.
    local p provider provider_token
    for ((p = 0; p < pools; p++)); do
        provider="bench-pool-$p"
        provider_token="$(token provider "$provider")"
        publish_days "$provider" "$provider_token" 1 1050
        : >"$WORK/$provider.ids"
        slot_ids "$provider" 1 1050 "$WORK/$provider.ids"
        check_ids "$provider" "$client_token" "$WORK/$provider.ids"
    done
    paste -d '\n' "$WORK"/bench-pool-*.ids >"$WORK/pool.ids"
    local shares=$((RUNS + 1)) reserve_args=() k
    for ((k = 0; k < shares; k++)); do
        awk -v k="$k" -v n="$shares" 'NR % n == k' "$WORK/pool.ids" >"$WORK/pool.$k.ids"
        if ((k > 0)); then reserve_args+=(--); fi
        reserve_args+=("$WORK/pool.$k.ids" "$THREADS" "$client_token")
    done
    log "  seeded 1,008,224 slots in $((SECONDS - began))s"
    bench "$store" "list, 224-slot provider, 1,008,224 stored" list.lua \
        "$week" "$client_token" -- "$week" "$client_token"
    bench "$store" "reserve, distinct slots" reserve.lua "${reserve_args[@]}"

    # Contended: the warm-up and each run take one more of the week's slots,
    # free until then.
    local contended_args=("$(sed -n 220p "$WORK/week.ids")" "$client_token")
    for ((k = 1; k <= RUNS; k++)); do
        contended_args+=(-- "$(sed -n "$((220 + k))p" "$WORK/week.ids")" "$client_token")
    done
    bench "$store" "reserve, one contended slot" contended.lua "${contended_args[@]}"

    peak_rss "$store"
    stop_server
}

# pgbench_reserve URL: the PostgreSQL ceiling for reserving: pgbench running
# the equivalent single-statement conditional UPDATE at the same concurrency
# (benches/pg/), RUNS times; adds a row per run to the results.
pgbench_reserve() {
    log "== pgbench: conditional UPDATE, $CONNECTIONS clients"
    psql -q -v ON_ERROR_STOP=1 "$1" -f "$ROOT/benches/pg/setup.sql" >/dev/null
    local run out tps
    for ((run = 1; run <= RUNS; run++)); do
        local before after
        before="$(cpu_sample)"
        out="$(pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$(seconds "$DURATION")" \
            -f "$ROOT/benches/pg/reserve.sql" "$1" 2>&1)"
        after="$(cpu_sample)"
        tps="$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n1)"
        [[ -n "$tps" ]] || { log "pgbench printed no tps:"; printf '%s\n' "$out" >&2; exit 1; }
        log "    run $run: $tps tps"
        printf 'postgres\tpgbench: conditional UPDATE\t%s\t0\t0\t0\n' "$tps" >>"$RESULTS"
        cpu_row postgres "pgbench: conditional UPDATE" "$tps" "$before" "$after"
    done
}

# seconds DURATION: wrk's 10s / 2m / 1h as whole seconds, for pgbench's -T.
seconds() {
    case "$1" in
        *h) echo $((${1%h} * 3600)) ;;
        *m) echo $((${1%m} * 60)) ;;
        *s) echo "${1%s}" ;;
        *) echo "$1" ;;
    esac
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
            command -v pgbench >/dev/null || { log "pgbench is required for postgres"; exit 1; }
            PG_DB="scheduler_bench_$(date +%s)_$$"
            psql -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
            PG_URL="$(python3 -c '
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(u._replace(path="/" + sys.argv[2]).geturl())
' "$PG_ADMIN_URL" "$PG_DB")"
            run_store postgres "$PG_URL"
            pgbench_reserve "$PG_URL"
            ;;
        *) log "unknown store in STORES: $store"; exit 1 ;;
    esac
done

# --- the table ---------------------------------------------------------------

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION after a $WARMUP warm-up, median of $RUNS runs;"
echo "server and wrk on this machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo
python3 "$HERE/table.py" "$RESULTS" "$MEMORY" "$CPU"
