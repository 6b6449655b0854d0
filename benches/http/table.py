"""Prints run.sh's results as Markdown tables: the median of each scenario's
runs beside its target (the performance targets in benches/README.md), each
store's peak memory, and where the machine's CPU time went per request.

    python3 table.py RESULTS.tsv MEMORY.tsv [CPU.tsv]
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


def cpu_table(path):
    """CPU microseconds per request, medians over the runs: the server
    process, PostgreSQL's processes, everything else that was busy, and the
    total, beside the rate two fully busy cores would allow at that total."""
    rows = {}
    for line in open(path):
        if line.strip():
            store, scenario, *figures = line.rstrip("\n").split("\t")
            rows.setdefault((store, scenario), []).append([float(f) for f in figures])
    if not rows:
        return
    print()
    print("| store | scenario | server µs/request | PostgreSQL µs/request | other µs/request | busy µs/request | 2 cores' worth |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for (store, scenario), runs in rows.items():
        server, pg, other, busy = (statistics.median(r[i] for r in runs) for i in range(4))
        server_text = "-" if scenario == PGBENCH else f"{server:.0f}"
        pg_text = f"{pg:.0f}" if store == "postgres" else "-"
        print(
            f"| {store} | {scenario} | {server_text} | {pg_text} | {other:.0f} | {busy:.0f} "
            f"| {2e6 / busy:,.0f}/s |"
        )


def main(results, memory, cpu=None):
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

    if cpu:
        cpu_table(cpu)


if __name__ == "__main__":
    main(*sys.argv[1:4])
