"""Prints run.sh's results as Markdown tables: the median of each scenario's
runs beside its target (the performance targets in benches/README.md), and
each store's peak memory.

    python3 table.py RESULTS.tsv MEMORY.tsv
"""

import statistics
import sys

# requests/s each scenario must reach; PostgreSQL reserving is measured
# against pgbench instead (80% of its conditional UPDATE, same run).
TARGETS = {
    ("sqlite", "list"): 48_000,
    ("memory", "list"): 60_000,
    ("postgres", "list"): 20_000,
    ("sqlite", "reserve, distinct slots"): 15_000,
    ("memory", "reserve, distinct slots"): 50_000,
}
PGBENCH = "pgbench: conditional UPDATE"
RSS_TARGET_BYTES = 100e6


def load_runs(path):
    runs = {}
    for line in open(path):
        if line.strip():
            store, scenario, rps, p99, non2xx, sockerr = line.rstrip("\n").split("\t")
            runs.setdefault((store, scenario), []).append(
                (float(rps), float(p99), int(non2xx), int(sockerr))
            )
    return runs


def target(store, scenario, medians):
    if store == "postgres" and scenario == "reserve, distinct slots":
        ceiling = medians.get(("postgres", PGBENCH))
        return 0.8 * ceiling if ceiling else None
    kind = "list" if scenario.startswith("list") else scenario
    return TARGETS.get((store, kind))


def main(results, memory):
    runs = load_runs(results)
    medians = {key: statistics.median(r[0] for r in rows) for key, rows in runs.items()}
    print("| store | scenario | requests/s | p99 latency | non-2xx | target | ratio |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for (store, scenario), rows in runs.items():
        rps = medians[(store, scenario)]
        goal = target(store, scenario, medians)
        goal_text = f"{goal:,.0f}" if goal else "-"
        ratio = f"{rps / goal:.2f}" if goal else "-"
        if scenario == PGBENCH:
            p99_text = errors = "-"
        else:
            p99_text = f"{statistics.median(r[1] for r in rows):.2f} ms"
            non2xx = sum(r[2] for r in rows)
            sockerr = sum(r[3] for r in rows)
            errors = f"{non2xx:,}" + (f" (+{sockerr:,} socket errors)" if sockerr else "")
        print(f"| {store} | {scenario} | {rps:,.0f} | {p99_text} | {errors} | {goal_text} | {ratio} |")

    peaks = [line.rstrip("\n").split("\t") for line in open(memory) if line.strip()]
    if peaks:
        print()
        print("| store | server peak RSS, 1,008,224 slots stored, after every run | target | ratio |")
        print("| --- | ---: | ---: | ---: |")
        for store, mib in peaks:
            # The memory target is set for the default store, SQLite; the
            # memory store keeps every slot in the heap by design.
            if store == "sqlite":
                ratio = f"{int(mib) * 1024 * 1024 / RSS_TARGET_BYTES:.2f}"
                print(f"| {store} | {int(mib):,} MiB | 100 MB | {ratio} |")
            else:
                print(f"| {store} | {int(mib):,} MiB | - | - |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
