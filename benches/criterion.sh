#!/usr/bin/env bash
# Library benchmarks: runs the criterion benches of scheduler-benches RUNS
# times and prints each benchmark's median over the runs beside its target.
# PostgreSQL's benches run when SCHEDULER_TEST_POSTGRES_URL is set.
#
#   bash benches/criterion.sh
#
# Knobs (environment):
#   RUNS                          how many times to run every bench (default 3)
#   BENCHES                       which bench targets (default "memory sqlite postgres footprint")
#   SCHEDULER_TEST_POSTGRES_URL   a PostgreSQL database for the postgres bench
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
RUNS="${RUNS:-3}"
BENCHES="${BENCHES:-memory sqlite postgres footprint}"
TARGET_DIR="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/scheduler-criterion.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

available="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c '
import json, sys
for package in json.load(sys.stdin)["packages"]:
    if package["name"] == "scheduler-benches":
        print(" ".join(t["name"] for t in package["targets"] if "bench" in t["kind"]))')"

for ((run = 1; run <= RUNS; run++)); do
    for bench in $BENCHES; do
        if [[ " $available " != *" $bench "* ]]; then
            echo "no bench target named $bench; skipped" >&2
            continue
        fi
        echo "== run $run: $bench" >&2
        rm -rf "$TARGET_DIR/criterion"
        (cd "$ROOT" && cargo bench -q -p scheduler-benches --bench "$bench") \
            >"$WORK/$bench.$run.out" 2>&1 || { cat "$WORK/$bench.$run.out" >&2; exit 1; }
        grep -E '^SKIPPED|B/slot' "$WORK/$bench.$run.out" >&2 || true
        python3 "$HERE/criterion_table.py" collect "$TARGET_DIR/criterion" "$WORK/$bench.$run.out" >>"$WORK/results.tsv"
    done
done

echo
echo "criterion, median of $RUNS runs; $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo
python3 "$HERE/criterion_table.py" table "$WORK/results.tsv"
