#!/usr/bin/env bash
# The users page (benches/users_page.lua: 100 users, manager, licenses with SKU part numbers) on
# the embedded store, two builds in alternating rounds: each build serves `serve --demo` on its
# own SQLite file, and wrk sends the page to one, then the other, at 8 and at 32 connections.
# Reported per build and connection count: req/s, p50, p99 and the server's CPU per request
# (SQLite is in-process, so server and database together), then B/A per round, median and range.
# Usage: BENCH_A_BIN=… BENCH_B_BIN=… bash benches/users_page_ab.sh [rounds, default 5] [seconds per run, default 8]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${2:-8}
: "${BENCH_A_BIN:?set BENCH_A_BIN and BENCH_B_BIN}" "${BENCH_B_BIN:?set BENCH_B_BIN}"
BENCH_BIN=$BENCH_A_BIN
source benches/bench_lib.sh
ticks=$(getconf CLK_TCK)
results=$bench_work/results.txt
: >"$results"
declare -A url pid
for label in A B; do
  bin_var=BENCH_${label}_BIN
  bench_bin=${!bin_var}
  demo_start "$label"
  pid[$label]=${demo_pid[$label]}
  url[$label]="http://127.0.0.1:${demo_port[$label]}/graphql"
  tenant=$(demo_tenant "${url[$label]}")
  # Each build must answer the page in full, without errors, before anything is timed.
  check='{"query":"query($id: ID!) { tenant(id: $id) { users(first: 100) { edges { node { manager { id } licenses { subscription { skuPartNumber } } } } } } }","variables":{"id":"'"$tenant"'"}}'
  curl -s "${url[$label]}" -H 'content-type: application/json' -d "$check" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); assert "errors" not in r, r; n=len(r["data"]["tenant"]["users"]["edges"]); assert n == 100, n; print("'"$label"': 100 users in the page")'
  echo "$tenant" >"$bench_work/$label.tenant"
done
run() { # label conns seconds
  TENANT_ID=$(cat "$bench_work/$1.tenant") wrk -t2 -c"$2" -d"$3s" --latency -s benches/users_page.lua "${url[$1]}"
}
for label in A B; do run "$label" 8 3 >/dev/null; done   # warm-up
for round in $(seq 1 "$rounds"); do
  for conns in 8 32; do
    for label in A B; do
      before=$(cpu_ticks "${pid[$label]}")
      out=$(run "$label" "$conns" "$secs")
      after=$(cpu_ticks "${pid[$label]}")
      python3 benches/wrk_row.py "$conns" "$label" "$round" "$before" "$after" "$ticks" "$out" >>"$results"
    done
  done
done
python3 - "$results" <<'PY'
import collections, statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = collections.defaultdict(dict)
for conns, label, rnd, rps, p50, p99, cpu in rows:
    by[(int(conns), label)][int(rnd)] = [float(rps), float(p50), float(p99), float(cpu)]
def cell(xs, fmt):
    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}-{fmt.format(max(xs))})"
print("| connections | build | req/s | p50 ms | p99 ms | CPU ms/request |")
print("|---|---|---|---|---|---|")
for (conns, label), runs in sorted(by.items()):
    cols = list(zip(*runs.values()))
    print(f"| {conns} | {label} | {cell(cols[0], '{:.0f}')} | {cell(cols[1], '{:.2f}')} | "
          f"{cell(cols[2], '{:.2f}')} | {cell(cols[3], '{:.3f}')} |")
for conns in sorted({c for c, _ in by}):
    a, b = by[(conns, "A")], by[(conns, "B")]
    cpu = [b[r][3] / a[r][3] for r in a if r in b]
    rps = [b[r][0] / a[r][0] for r in a if r in b]
    print(f"{conns} connections, B/A per round: CPU per request median {statistics.median(cpu):.3f} "
          f"({min(cpu):.3f}-{max(cpu):.3f}), req/s median {statistics.median(rps):.2f} "
          f"({min(rps):.2f}-{max(rps):.2f})")
PY
