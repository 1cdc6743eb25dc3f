#!/usr/bin/env bash
# hyper hello world on weft against the same service on tokio, loaded by wrk:
# requests/s, p99 latency and requests per server CPU-second, at 64 and 512
# connections, runs alternating weft / tokio, medians and weft/tokio ratios.
#
#     bash benches/http_compare.sh [ROUNDS] [SECONDS] [WORKERS]   # 5 10 2
#
# The server is benches/examples/hyper_hello.rs (release build). CPU time is
# the server process's utime + stime from /proc/PID/stat, read before and
# after each wrk run, so "req/cpu-s" is what one request costs the server,
# whatever else the machine runs. When wrk shares the cores with the server
# (as on a 2-core machine) compare the ratios, not the absolute numbers.
# Installs nothing but wrk (from the system's packages) when it is missing.
set -euo pipefail
rounds=${1:-5}
seconds=${2:-10}
workers=${3:-2}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(mktemp -d)
port=18181

if ! command -v wrk >/dev/null; then
    echo "wrk missing: installing it from the system's packages"
    apt-get update -qq && apt-get install -y -qq wrk
fi
(cd "$top" && cargo build --release -q -p weft-benches --example hyper_hello)
server_bin="$top/target/release/examples/hyper_hello"

cpu_ticks() { # utime + stime of PID, in clock ticks
    awk '{print $14 + $15}' "/proc/$1/stat"
}

for conns in 64 512; do
    for round in $(seq 1 "$rounds"); do
        for rt in weft tokio; do
            port=$((port + 1))
            "$server_bin" "$rt" "$workers" "127.0.0.1:$port" >"$out/server.log" 2>&1 &
            pid=$!
            for _ in $(seq 1 100); do
                grep -q listening "$out/server.log" && break
                sleep 0.05
            done
            # Warm up: connections set up, allocator and caches settled.
            wrk -t2 -c"$conns" -d1s "http://127.0.0.1:$port/" >/dev/null
            before=$(cpu_ticks "$pid")
            wrk -t2 -c"$conns" -d"${seconds}s" --latency "http://127.0.0.1:$port/" \
                >"$out/$rt-$conns-$round.txt"
            after=$(cpu_ticks "$pid")
            echo "cpu_ticks $((after - before))" >>"$out/$rt-$conns-$round.txt"
            kill "$pid"
            wait "$pid" 2>/dev/null || true
        done
    done
done

python3 - "$out" "$(getconf CLK_TCK)" "$workers" <<'PY'
import collections, glob, os, re, statistics, sys
out, tck, workers = sys.argv[1], int(sys.argv[2]), sys.argv[3]
unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for path in sorted(glob.glob(out + "/*-*-*.txt")):
    rt, conns, _ = os.path.basename(path)[:-4].split("-")
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    p99 = float(m.group(1)) * unit[m.group(2)]
    ticks = int(re.search(r"cpu_ticks (\d+)", text).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", text)
    rows[(int(conns), rt)]["rps"].append(rps)
    rows[(int(conns), rt)]["p99"].append(p99)
    rows[(int(conns), rt)]["cpu"].append(total / (ticks / tck) if ticks else float("nan"))
    if errors:
        print(f"note: {os.path.basename(path)}: {errors.group(0)}")
med = lambda xs: statistics.median(xs)
n = len(next(iter(rows.values()))["rps"])
print(f"hyper hello world, {workers} workers each, wrk -t2, median of {n} alternating runs")
print(f"{'conns':>5} {'runtime':>7} {'req/s':>10} {'p99 ms':>8} {'req/cpu-s':>10}")
for conns in sorted({c for c, _ in rows}):
    for rt in ("weft", "tokio"):
        r = rows[(conns, rt)]
        print(f"{conns:>5} {rt:>7} {med(r['rps']):>10.0f} {med(r['p99']):>8.2f} {med(r['cpu']):>10.0f}")
    w, t = rows[(conns, "weft")], rows[(conns, "tokio")]
    print(f"{conns:>5} {'ratio':>7} {med(w['rps'])/med(t['rps']):>10.2f} "
          f"{med(w['p99'])/med(t['p99']):>8.2f} {med(w['cpu'])/med(t['cpu']):>10.2f}")
print("ratio: weft / tokio (req/s and req/cpu-s: higher is better for weft; p99: lower)")
print("runs:", out)
PY
