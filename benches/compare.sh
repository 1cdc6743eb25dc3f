#!/usr/bin/env bash
# Before/after comparison of weft's own rows of every criterion bench:
# builds the benches at BASE (a git revision, in a worktree beside this
# checkout) and at the working tree, then runs the two alternately, ROUNDS
# times each, and prints the median of each side and their ratio.
#
#     bash benches/compare.sh ee64018 3
#     bash benches/compare.sh ee64018 5 'chained_spawn/weft$'   # some rows only
#
# Alternating (base, current, base, current, ...) spreads the machine's noise
# over both sides; read the ratio of medians, not one run.
set -euo pipefail
base_rev=${1:?usage: compare.sh BASE_REV [ROUNDS]}
rounds=${2:-3}
filter=${3:-/weft$}   # a criterion filter (a regex over the bench ids)
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base_dir="$top/../weft-compare-base"
out=$(mktemp -d)

if [[ ! -d "$base_dir" ]]; then
    git -C "$top" worktree add --detach "$base_dir" "$base_rev"
else
    git -C "$base_dir" checkout --quiet --detach "$base_rev"
fi
for dir in "$base_dir" "$top"; do
    (cd "$dir" && cargo bench -p weft-benches --no-run)
done

exe() { # the newest bench binary named $2 under checkout $1
    ls -t "$1"/target/release/deps/"$2"-* | grep -v '\.d$' | head -n 1
}
for round in $(seq 1 "$rounds"); do
    for side in base current; do
        dir=$top
        [[ $side == base ]] && dir=$base_dir
        for bench in runtime io combinators bridge; do
            (cd "$dir/benches" && CRITERION_HOME="$out/criterion-$side" \
                "$(exe "$dir" "$bench")" --bench --noplot "$filter") \
                > "$out/$side-$bench-$round.txt" 2>&1
        done
    done
done

python3 - "$out" <<'PY'
import collections, glob, os, re, statistics, sys
unit = {"ns": 1e-3, "µs": 1, "us": 1, "ms": 1e3, "s": 1e6}
runs = collections.defaultdict(lambda: collections.defaultdict(list))
for path in sorted(glob.glob(sys.argv[1] + "/*.txt")):
    side = os.path.basename(path).split("-")[0]
    for m in re.finditer(r"^(\S+)/weft\s*\n?\s*time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]",
                         open(path).read(), re.M):
        runs[m.group(1)][side].append(float(m.group(2)) * unit[m.group(3)])
print("| bench | before (median µs) | after (median µs) | after/before | runs |")
print("|---|---:|---:|---:|---:|")
for name, sides in runs.items():
    before, after = sides["base"], sides["current"]
    if before and after:
        b, a = statistics.median(before), statistics.median(after)
        print(f"| {name} | {b:.1f} | {a:.1f} | {a / b:.3f} | {len(before)} + {len(after)} |")
PY
echo "raw criterion output: $out"
