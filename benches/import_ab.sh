#!/usr/bin/env bash
# Import time of two builds in alternating rounds (A, B, A, B, …): each round runs
# `benches/import.sh daily DAYS` with build A, then with build B (a fresh store each: the first
# import of 1 x 100,000 users, then DAYS daily imports of the simulator's next days). Prints
# each round's first-import time and daily median per build, and the medians of the per-round
# ratios B/A with their ranges. Used for what writing history costs an import (issue 16): A a
# build as it is, B the same with the history writers returning at once (benches/README.md).
# With BENCH_DATABASE_URL=postgres://… every round imports into that PostgreSQL database (emptied
# first) instead of SQLite.
# Usage: BENCH_A_BIN=… BENCH_B_BIN=… bash benches/import_ab.sh [rounds, default 3] [days, default 4]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
days=${2:-4}
# With BENCH_STORE (and BENCH_DAY) each round is import.sh's `next` instead: DAYS imports of the
# simulator's next day into copies of that saved store (no first import).
mode=daily
[[ -n ${BENCH_STORE:-} ]] && mode=next
: "${BENCH_A_BIN:?set BENCH_A_BIN and BENCH_B_BIN}" "${BENCH_B_BIN:?set BENCH_B_BIN}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq 1 "$rounds"); do
  for b in A B; do
    bin_var=BENCH_${b}_BIN
    log=$(BENCH_BIN=${!bin_var} BENCH_SIM_BIN=$BENCH_A_BIN bash benches/import.sh "$mode" "$days" 2>/dev/null)
    first=$(sed -n 's/^first: .* in \([0-9.]*\) s$/\1/p' <<<"$log")
    daily=$(sed -n 's/^daily: .* median \([0-9.]*\) s .*/\1/p' <<<"$log")
    echo "$r $b $first $daily" | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for r, b, first, daily in rows:
    by.setdefault(r, {})[b] = (float(first), float(daily))
for i, name in enumerate(["first import", "daily import (median)"]):
    ratios = [v["B"][i] / v["A"][i] for v in by.values() if "A" in v and "B" in v and v["A"][i] > 0]
    if not ratios:
        continue
    for b in "AB":
        xs = [v[b][i] for v in by.values() if b in v]
        print(f"{name} {b}: median {statistics.median(xs):.2f} s (range {min(xs):.2f}-{max(xs):.2f})")
    print(f"{name} B/A: median {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f})")
PY
