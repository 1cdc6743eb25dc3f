#!/usr/bin/env python3
"""Print a markdown table from criterion's results for the `runtime`, `io` and
`combinators` benches.

Reads <criterion dir>/*/*/new/estimates.json (plus the benchmark.json next to
it for the group/function ids) and prints, per bench: the median time for
weft, tokio and async-executor, weft/tokio and weft/best-peer (the faster of
tokio and async-executor). Ratios below 1.00 mean weft is faster.

Usage:
    python3 benches/table.py [CRITERION_DIR]

CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion, else target/criterion
relative to the workspace root (the parent of this script's folder).
Stdlib only.
"""

import glob
import json
import os
import sys

RUNTIMES = ["weft", "tokio", "async-executor"]
PEERS = ["tokio", "async-executor"]
# Order of the benches in benches/benches/runtime.rs, then io.rs, then
# combinators.rs; others follow sorted.
ORDER = [
    "spawn_many_local",
    "spawn_many_remote",
    "chained_spawn",
    "yield_many",
    "ping_pong",
    "spawn_tree",
    "spawn_cost_1_worker",
    "spawn_detached_cost_1_worker",
    "tcp_echo",
    "timer_storm",
    "gather_100k",
    "as_completed_10k",
]


def default_dir():
    target = os.environ.get("CARGO_TARGET_DIR")
    if not target:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        target = os.path.join(root, "target")
    return os.path.join(target, "criterion")


def load(crit_dir):
    """Return {bench: {runtime: median_ns}}."""
    results = {}
    pattern = os.path.join(crit_dir, "*", "*", "new", "estimates.json")
    for est_path in glob.glob(pattern):
        new_dir = os.path.dirname(est_path)
        bench_json = os.path.join(new_dir, "benchmark.json")
        try:
            with open(bench_json) as f:
                meta = json.load(f)
            group, func = meta["group_id"], meta["function_id"]
        except (OSError, ValueError, KeyError):
            # Fall back to the directory names.
            func_dir = os.path.dirname(new_dir)
            group = os.path.basename(os.path.dirname(func_dir))
            func = os.path.basename(func_dir)
        with open(est_path) as f:
            est = json.load(f)
        results.setdefault(group, {})[func] = est["median"]["point_estimate"]
    return results


def fmt_time(ns):
    if ns is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return "%.3g %s" % (ns / scale, unit) if ns / scale < 100 else "%.0f %s" % (ns / scale, unit)
    return "%.3g ns" % ns


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.2f" % (a / b)


def main(argv):
    crit_dir = argv[1] if len(argv) > 1 else default_dir()
    results = load(crit_dir)
    if not results:
        sys.stderr.write("no criterion results under %s\n" % crit_dir)
        return 1

    benches = [b for b in ORDER if b in results]
    benches += sorted(b for b in results if b not in ORDER)

    header = ["bench"] + ["%s median" % r for r in RUNTIMES] + ["weft/tokio", "weft/best-peer"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    for bench in benches:
        row = results[bench]
        weft = row.get("weft")
        peers = [row[p] for p in PEERS if p in row]
        best = min(peers) if peers else None
        cells = [bench]
        cells += [fmt_time(row.get(r)) for r in RUNTIMES]
        cells += [fmt_ratio(weft, row.get("tokio")), fmt_ratio(weft, best)]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
