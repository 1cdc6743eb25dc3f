#!/usr/bin/env python3
"""Print a markdown table from criterion's results for the `runtime`, `io`,
`combinators`, `bridge` and `sync` benches.

Reads <criterion dir>/*/*/new/estimates.json (plus the benchmark.json next to
it for the group/function ids) and prints, per bench: the median time for
weft, tokio and the third peer, weft/tokio and weft/best-peer (the faster of
tokio and the third peer). Ratios below 1.00 mean weft is faster. The third
peer is async-executor, or in the `sync` bench async-lock (locks, semaphore)
or async-channel (queues), each on async-executor; the column is headed
"async-executor" and holds whichever of them the bench has.

With --per-element, a bench that declares an element throughput (the
`spawn_*_cost_1_worker` and `submit_wait_*` ones) shows its median per element
(per task, per round trip) instead of per iteration; the ratios are the same.

Usage:
    python3 benches/table.py [--per-element] [CRITERION_DIR]

CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion, else target/criterion
relative to the workspace root (the parent of this script's folder).
Stdlib only.
"""

import glob
import json
import os
import sys

RUNTIMES = ["weft", "tokio", "async-executor"]
# Bench ids that stand for the third peer (the async-executor column).
THIRD_PEER = ["async-executor", "async-lock", "async-channel"]
# Order of the benches in benches/benches/runtime.rs, then io.rs, then
# combinators.rs, then bridge.rs, then sync.rs; others follow sorted.
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
    "unix_echo",
    "timer_storm",
    "gather_100k",
    "as_completed_10k",
    "submit_wait_1thread",
    "submit_wait_4threads",
    "mutex_uncontended",
    "mutex_contended",
    "semaphore_contended",
    "rwlock_contended",
    "queue_1to1",
    "queue_4to4",
    "queue_backpressure",
    "queue_thread_to_task",
]


# The workspace root: the parent of this script's folder.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_dir():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(target, "criterion")


def peer_name(func):
    """The column a bench function id stands in: its own, or the third
    peer's for async-lock / async-channel."""
    return "async-executor" if func in THIRD_PEER else func


def load(crit_dir, per_element=False):
    """Return {bench: {runtime: median_ns}} (per element if asked and declared)."""
    results = {}
    pattern = os.path.join(crit_dir, "*", "*", "new", "estimates.json")
    for est_path in glob.glob(pattern):
        new_dir = os.path.dirname(est_path)
        bench_json = os.path.join(new_dir, "benchmark.json")
        elements = None
        try:
            with open(bench_json) as f:
                meta = json.load(f)
            group, func = meta["group_id"], meta["function_id"]
            elements = (meta.get("throughput") or {}).get("Elements")
        except (OSError, ValueError, KeyError, AttributeError):
            # Fall back to the directory names.
            func_dir = os.path.dirname(new_dir)
            group = os.path.basename(os.path.dirname(func_dir))
            func = os.path.basename(func_dir)
        with open(est_path) as f:
            est = json.load(f)
        median = est["median"]["point_estimate"]
        if per_element and elements:
            median /= elements
        results.setdefault(group, {})[peer_name(func)] = median
    return results


def fmt_time(ns):
    if ns is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return "%.3g %s" % (ns / scale, unit) if ns / scale < 100 else "%.0f %s" % (ns / scale, unit)
    # "%.3g" would print 999.6 as "1e+03".
    return "%.0f ns" % ns if ns >= 100 else "%.3g ns" % ns


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.2f" % (a / b)


def main(argv):
    args = argv[1:]
    per_element = "--per-element" in args
    args = [a for a in args if a != "--per-element"]
    crit_dir = args[0] if args else default_dir()
    results = load(crit_dir, per_element)
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
        peers = [row[p] for p in RUNTIMES if p != "weft" and p in row]
        best = min(peers) if peers else None
        cells = [bench]
        cells += [fmt_time(row.get(r)) for r in RUNTIMES]
        cells += [fmt_ratio(weft, row.get("tokio")), fmt_ratio(weft, best)]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
