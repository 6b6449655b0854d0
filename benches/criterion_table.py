"""Collects criterion results and prints them as a Markdown table.

    python3 criterion_table.py collect CRITERION_DIR BENCH_OUTPUT >> results.tsv
    python3 criterion_table.py table results.tsv

`collect` reads every benchmark's median time (nanoseconds) from criterion's
`new/estimates.json` files, and every `<name> ... <bytes> B/slot` line the
footprint bench printed (heap bytes per stored slot). `table` prints the median over the runs of
each, beside its target.
"""

import json
import pathlib
import re
import statistics
import sys

FOOTPRINT_LINE = re.compile(r"^(\S+)\s.*?([\d.]+) B/slot")

# name -> (limit, unit). Times in nanoseconds, footprints in bytes per slot.
TARGETS = {
    "memory/reserve+confirm": (2_000, "ns"),
    "memory/list-50/1y": (10_000, "ns"),
    "core/normalize-31d": (100_000, "ns"),
    "sqlite/sweep-100k-due-holds": (1e9, "ns"),
    "postgres/sweep-100k-due-holds": (1e9, "ns"),
}
# A 10-year calendar must list within 1.5 times the 1-year figure.
RELATIVE = {"memory/list-50/10y": ("memory/list-50/1y", 1.5)}
FOOTPRINT_LIMIT = 100


def collect(criterion_dir, output):
    for bench in sorted(pathlib.Path(criterion_dir).glob("**/new/benchmark.json")):
        name = json.loads(bench.read_text())["full_id"]
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        print(f"{name}\tns\t{estimates['median']['point_estimate']}")
    for line in open(output):
        found = FOOTPRINT_LINE.match(line)
        if found:
            print(f"{found.group(1)}\tB/slot\t{found.group(2)}")


def show(value, unit):
    if unit == "B/slot":
        return f"{value:.1f} B/slot"
    for scale, suffix in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if value >= scale:
            return f"{value / scale:.2f} {suffix}"
    return f"{value:.0f} ns"


def table(results):
    runs = {}
    for line in open(results):
        if line.strip():
            name, unit, value = line.rstrip("\n").split("\t")
            runs.setdefault((name, unit), []).append(float(value))
    medians = {name: statistics.median(values) for (name, _), values in runs.items()}
    print("| benchmark | median | runs | target | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for (name, unit), values in sorted(runs.items()):
        value = medians[name]
        limit = None
        if unit == "B/slot":
            limit = FOOTPRINT_LIMIT
        elif name in TARGETS:
            limit = TARGETS[name][0]
        elif name in RELATIVE and RELATIVE[name][0] in medians:
            base, factor = RELATIVE[name]
            limit = medians[base] * factor
        goal = show(limit, unit) if limit else "-"
        ratio = f"{value / limit:.2f}" if limit else "-"
        print(f"| {name} | {show(value, unit)} | {len(values)} | ≤ {goal} | {ratio} |".replace("≤ -", "-"))


if __name__ == "__main__":
    if sys.argv[1] == "collect":
        collect(sys.argv[2], sys.argv[3])
    else:
        table(sys.argv[2])
