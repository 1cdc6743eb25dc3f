#!/usr/bin/env python3
"""Criterion rows counted only while the host moves cache lines at its usual
speed.

    python3 benches/gated.py BENCH ROUNDS [REGEX] [--limit NS]
    python3 benches/gated.py sync 5
    python3 benches/gated.py sync 5 'queue_backpressure|semaphore'
    python3 benches/gated.py --from LOG... [--limit NS]   # the table again

Runs every bench function of `cargo bench -p weft-benches --bench BENCH`
whose id matches REGEX (default: all) alone, once per round, ROUNDS rounds in
the bench's own order, and runs examples/core_to_core.rs (the round trip of
one cache line between CPUs 0 and 1) right before and right after each. A
function's run is *counted* only if both probes read at most LIMIT ns
(default 200). On the shared 2-vCPU machine the probe reads about 60-110 ns
usually and 380-510 ns for spells of seconds; in them the rows whose tasks
hand work between the two workers slow down, weft's by 2.6-3.4x and
tokio's by 1.4-1.9x in the ones measured (docs/benchmarks.md, issue 14
"Against the bar"): such a run measured the host, not the code.

Prints one line per run (kept in a log, `--from` prints the table again
from it, several logs in turn, with another LIMIT if given), then per bench
(per element where the bench declares elements, as `table.py
--per-element`) the median of each peer's counted runs (with their count,
and the median of the runs not counted), weft / tokio and weft / best peer
of those medians, and weft / best peer within each round in which all of
the bench's peers were counted. The columns are `table.py`'s; a bench
without a third peer gets its ratios from the peers it has.
"""
import json
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from table import ORDER, ROOT, RUNTIMES, default_dir, fmt_ratio, fmt_time, load, peer_name  # noqa: E402

# One run's line: round, bench id, ns (per element), the two probes, and
# whether it was counted. `--from` reads these back.
LINE_FORMAT = "round %d %-36s %10s  %.1f ns  probe %4.0f / %4.0f ns%s"
LINE = re.compile(
    r"^round (\d+) (\S+?)/(\S+)\s+.+?  ([\d.]+) ns  probe\s+(\d+) /\s+(\d+) ns(  \(not counted\))?$")


def cargo_executable(args, target):
    """Builds with `cargo ARGS` and returns the executable of `target`."""
    out = subprocess.run(["cargo"] + args + ["--message-format=json"], cwd=ROOT, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == target \
                and msg.get("executable"):
            return msg["executable"]
    sys.exit("cargo built no executable named %s" % target)


def probe(exe):
    """One round of the probe: ns per round trip."""
    out = subprocess.run([exe, "1"], check=True, stdout=subprocess.PIPE, text=True).stdout
    return float(re.search(r"median (\d+) ns", out).group(1))


def bench_ids(exe, pattern):
    out = subprocess.run([exe, "--bench", "--list"], check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    ids = [line.rsplit(": ", 1)[0] for line in out.splitlines() if line.endswith(": benchmark")]
    return [i for i in ids if re.search(pattern, i)]


def summarize(runs, rounds, limit):
    """Prints the table; `runs[(group, peer)]` is `[(round, ns, probe, probe)]`."""
    def counted(run):
        return run[2] <= limit and run[3] <= limit

    groups = sorted({g for g, _ in runs}, key=lambda g: (ORDER.index(g) if g in ORDER else 99, g))
    print("| bench | " + " | ".join("%s (counted runs; others)" % p for p in RUNTIMES)
          + " | weft/tokio | weft/best peer | weft/best peer, each whole round |")
    print("|---|" + "---:|" * len(RUNTIMES) + "---:|---:|---|")
    for g in groups:
        present = [p for p in RUNTIMES if (g, p) in runs]
        cells, medians = [g], {}
        for p in RUNTIMES:
            ok = [run[1] for run in runs.get((g, p), []) if counted(run)]
            bad = [run[1] for run in runs.get((g, p), []) if not counted(run)]
            if ok:
                medians[p] = statistics.median(ok)
            cells.append("%s (%d%s)" % (fmt_time(medians.get(p)), len(ok),
                                        "; %s" % fmt_time(statistics.median(bad)) if bad else ""))
        peers = [medians.get(p) for p in present if p != "weft"]
        best = None if None in peers or not peers else min(peers)
        cells.append(fmt_ratio(medians.get("weft"), medians.get("tokio")))
        to_best = fmt_ratio(medians.get("weft"), best)
        cells.append("**%s**" % to_best if to_best != "-" else to_best)
        each = []
        for r in range(rounds):
            row = {p: run[1] for p in present for run in runs[(g, p)] if run[0] == r and counted(run)}
            if "weft" in row and len(row) == len(present) > 1:
                each.append(fmt_ratio(row["weft"], min(v for p, v in row.items() if p != "weft")))
        cells.append(", ".join(each) or "-")
        print("| " + " | ".join(cells) + " |")


def read_logs(paths):
    """The runs that logs of this script hold, each log's rounds numbered on
    after the one before's; and the rounds in all."""
    runs, rounds = {}, 0
    for path in paths:
        last = rounds
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = LINE.match(line.rstrip("\n"))
                if m:
                    r = rounds + int(m.group(1)) - 1
                    run = (r, float(m.group(4)), float(m.group(5)), float(m.group(6)))
                    runs.setdefault((m.group(2), peer_name(m.group(3))), []).append(run)
                    last = max(last, r + 1)
        rounds = last
    return runs, rounds


def main(argv):
    args = argv[1:]
    limit = 200.0
    if "--limit" in args:
        i = args.index("--limit")
        if i + 1 == len(args):
            sys.exit("--limit needs a number of ns")
        limit = float(args[i + 1])
        del args[i:i + 2]
    if args and args[0] == "--from":
        if len(args) < 2:
            sys.exit("--from needs a log")
        summarize(*read_logs(args[1:]), limit)
        return 0
    if len(args) < 2:
        sys.exit(__doc__)
    bench, rounds = args[0], int(args[1])
    pattern = args[2] if len(args) > 2 else ""
    exe = cargo_executable(["bench", "-p", "weft-benches", "--bench", bench, "--no-run"], bench)
    probe_exe = cargo_executable(
        ["build", "--release", "-p", "weft-benches", "--example", "core_to_core"], "core_to_core")
    ids = bench_ids(exe, pattern)
    if not ids:
        sys.exit("no bench id matches %r" % pattern)
    crit_dir = default_dir()
    # Where criterion writes (it asks cargo otherwise, which only `cargo bench`
    # sets up), and the folder `cargo bench` runs the binary in.
    env = dict(os.environ, CRITERION_HOME=crit_dir)
    cwd = os.path.join(ROOT, "benches")
    runs = {}
    for r in range(rounds):
        for bench_id in ids:
            group, func = bench_id.split("/", 1)
            before = probe(probe_exe)
            subprocess.run([exe, "--bench", "--exact", bench_id], check=True, env=env, cwd=cwd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            after = probe(probe_exe)
            value = load(crit_dir, per_element=True)[group][peer_name(func)]
            runs.setdefault((group, peer_name(func)), []).append((r, value, before, after))
            print(LINE_FORMAT % (r + 1, bench_id, fmt_time(value), value, before, after,
                                 "" if before <= limit and after <= limit else "  (not counted)"),
                  flush=True)
    print()
    summarize(runs, rounds, limit)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
