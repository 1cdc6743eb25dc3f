#!/usr/bin/env python3
"""Criterion rows counted only while the host moves cache lines at its usual
speed.

    python3 benches/gated.py BENCH ROUNDS [REGEX] [--limit NS]
    python3 benches/gated.py sync 5
    python3 benches/gated.py sync 5 'queue_backpressure|semaphore'
    python3 benches/gated.py --from LOG     # the table again, from its run lines

Runs every bench function of `cargo bench -p weft-benches --bench BENCH`
whose id matches REGEX (default: all) alone, once per round, ROUNDS rounds in
the bench's own order, and runs examples/core_to_core.rs (the round trip of
one cache line between CPUs 0 and 1) right before and right after each. A
function's run is *counted* only if both probes read at most LIMIT ns
(default 200). On the shared 2-vCPU machine the probe reads 65-100 ns
usually and 380-510 ns for spells of seconds, during which every row whose
tasks hand work between the two workers slows 2.5-3.5x, for weft and its
peers alike but not by the same factor (docs/benchmarks.md, issue 14
"Against the bar"): such a run measured the host, not the code.

Prints, per bench (per element where the bench declares elements, as
`table.py --per-element`), the median of each peer's counted runs (with
their count, and the median of the runs not counted), weft / tokio and
weft / best peer of those medians, and weft / best peer taken within each
round in which all of the bench's peers were counted. The spells come
often (on some hours every other run falls in one), so the ratios of the
medians use more runs than the rounds that are whole.
"""
import json
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from table import ORDER, RUNTIMES, THIRD_PEER, default_dir, fmt_time, load  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench_executable(bench):
    """Builds `--bench BENCH` and returns its executable's path."""
    out = subprocess.run(
        ["cargo", "bench", "-p", "weft-benches", "--bench", bench, "--no-run",
         "--message-format=json"],
        cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == bench \
                and msg.get("executable"):
            return msg["executable"]
    sys.exit("no executable for bench %s" % bench)


def probe_executable():
    out = subprocess.run(
        ["cargo", "build", "--release", "-p", "weft-benches", "--example", "core_to_core",
         "--message-format=json"],
        cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "core_to_core":
            return msg["executable"]
    sys.exit("no core_to_core executable")


def probe(exe):
    """One round of the probe: ns per round trip."""
    out = subprocess.run([exe, "1"], check=True, stdout=subprocess.PIPE, text=True).stdout
    return float(re.search(r"median (\d+) ns", out).group(1))


def bench_ids(exe, pattern):
    out = subprocess.run([exe, "--bench", "--list"], check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    ids = [line.rsplit(": ", 1)[0] for line in out.splitlines() if line.endswith(": benchmark")]
    return [i for i in ids if re.search(pattern, i)]


def peer_of(func):
    return "async-executor" if func in THIRD_PEER else func


def summarize(runs, rounds):
    """Prints the table; `runs[(group, peer)]` is `[(round, ns, counted)]`."""
    groups = sorted({g for g, _ in runs}, key=lambda g: (ORDER.index(g) if g in ORDER else 99, g))
    print("| bench | " + " | ".join("%s (counted runs; others)" % p for p in RUNTIMES)
          + " | weft/tokio | weft/best peer | weft/best peer, each whole round |")
    print("|---|" + "---:|" * len(RUNTIMES) + "---:|---:|---|")
    for g in groups:
        cells, medians = [g], {}
        for p in RUNTIMES:
            rs = runs.get((g, p), [])
            ok = [v for _, v, c in rs if c]
            bad = [v for _, v, c in rs if not c]
            if ok:
                medians[p] = statistics.median(ok)
            cells.append("%s (%d%s)" % (
                fmt_time(medians.get(p)), len(ok),
                "; %s" % fmt_time(statistics.median(bad)) if bad else ""))
        peers = [v for p, v in medians.items() if p != "weft"]
        whole = "weft" in medians and len(peers) == len(RUNTIMES) - 1
        cells.append("%.2f" % (medians["weft"] / medians["tokio"]) if whole else "-")
        cells.append("**%.2f**" % (medians["weft"] / min(peers)) if whole else "-")
        each = []
        for r in range(rounds):
            row = {p: v for p in RUNTIMES for rr, v, c in runs.get((g, p), []) if rr == r and c}
            if len(row) == len(RUNTIMES):
                each.append(row["weft"] / min(v for p, v in row.items() if p != "weft"))
        cells.append(", ".join("%.2f" % x for x in each) or "-")
        print("| " + " | ".join(cells) + " |")


UNITS = {"ns": 1.0, "µs": 1e3, "ms": 1e6, "s": 1e9}
LINE = re.compile(r"^round (\d+) (\S+)/(\S+)\s+([\d.]+) (ns|µs|ms|s)  probe\s+\d+ /\s+\d+ ns(  \(not counted\))?$")


def read_log(path):
    """The runs a log of this script's run lines holds, and its rounds."""
    runs, rounds = {}, 0
    with open(path) as f:
        for line in f:
            m = LINE.match(line.rstrip("\n"))
            if m:
                r, group, func = int(m.group(1)) - 1, m.group(2), m.group(3)
                value = float(m.group(4)) * UNITS[m.group(5)]
                runs.setdefault((group, peer_of(func)), []).append((r, value, not m.group(6)))
                rounds = max(rounds, r + 1)
    return runs, rounds


def main(argv):
    args = argv[1:]
    limit = 200.0
    if "--limit" in args:
        i = args.index("--limit")
        limit = float(args[i + 1])
        del args[i:i + 2]
    if len(args) == 2 and args[0] == "--from":
        summarize(*read_log(args[1]))
        return 0
    if len(args) < 2:
        sys.exit(__doc__)
    bench, rounds = args[0], int(args[1])
    pattern = args[2] if len(args) > 2 else ""
    exe, probe_exe = bench_executable(bench), probe_executable()
    ids = bench_ids(exe, pattern)
    if not ids:
        sys.exit("no bench id matches %r" % pattern)
    crit_dir = default_dir()
    # runs[(group, peer)] = [(round, value, counted)]
    runs = {}
    for r in range(rounds):
        for bench_id in ids:
            group, func = bench_id.split("/", 1)
            before = probe(probe_exe)
            subprocess.run([exe, "--bench", "--exact", bench_id], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            after = probe(probe_exe)
            value = load(crit_dir, per_element=True)[group][peer_of(func)]
            counted = before <= limit and after <= limit
            runs.setdefault((group, peer_of(func)), []).append((r, value, counted))
            print("round %d %-36s %10s  probe %4.0f / %4.0f ns%s" % (
                r + 1, bench_id, fmt_time(value), before, after,
                "" if counted else "  (not counted)"), flush=True)
    print()
    summarize(runs, rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
