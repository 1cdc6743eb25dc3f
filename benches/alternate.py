#!/usr/bin/env python3
"""Alternating process runs: each binary once per round, ROUNDS rounds, then
the median wall time and CPU time (user + system, by getrusage) of each, and
their ratio to the first binary's. For workloads outside criterion (the
examples under benches/examples), where one process is one measurement.

    python3 benches/alternate.py 15 "100000 gather 2 5" before/spawn_loop after/spawn_loop

Alternating (a, b, a, b, ...) spreads the machine's noise over every binary;
read the ratio of medians, not one run.
"""
import resource
import statistics
import subprocess
import sys
import time


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rounds, args, bins = int(sys.argv[1]), sys.argv[2].split(), sys.argv[3:]
    wall = {b: [] for b in bins}
    cpu = {b: [] for b in bins}
    for _ in range(rounds):
        for b in bins:
            t0, c0 = time.perf_counter(), cpu_seconds()
            subprocess.run([b] + args, stdout=subprocess.DEVNULL, check=True)
            wall[b].append(time.perf_counter() - t0)
            cpu[b].append(cpu_seconds() - c0)
    w0, c0 = statistics.median(wall[bins[0]]), statistics.median(cpu[bins[0]])
    for b in bins:
        w, c = sorted(wall[b]), sorted(cpu[b])
        mw, mc = statistics.median(w), statistics.median(c)
        print(
            f"{b}: wall {mw * 1e3:.1f} ms ({mw / w0:.3f}), "
            f"quartiles {w[len(w) // 4] * 1e3:.1f}-{w[3 * len(w) // 4] * 1e3:.1f} ms; "
            f"cpu {mc * 1e3:.1f} ms ({mc / c0:.3f})"
        )


if __name__ == "__main__":
    main()
