#!/usr/bin/env bash
# The tenant list a dashboard reads (the side-by-side harness's Q2: first 50 tenants by name,
# userCount, SKUs with purchased and assigned) at two data sizes, on SQLite: each size is
# simulated and imported by `tenantgraph import`, then served by `tenantgraph serve`, and wrk
# sends Q2 at 8 connections. Reported per size: import time, req/s, p50/p99 and CPU per request
# (the server's own; SQLite is in-process), median and range over the rounds.
# With BASE_BIN=/path/to/another/build, that build imports the same simulator into its own
# database and is measured in alternating rounds against this one (A/B on one machine, ratios
# per round); both must answer Q2 identically.
# Usage: bash benches/tenants_list.sh [rounds, default 3] [seconds per run, default 10]
#   SIZES="10x1000 10x100000" (tenants x users per tenant) by default.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-10}
sizes=${SIZES:-10x1000 10x100000}
source benches/bench_lib.sh
bins=("after=$bench_bin")
[[ -n ${BASE_BIN:-} ]] && bins=("before=$BASE_BIN" "${bins[@]}")
ticks=$(getconf CLK_TCK)
export BODY='{"operationName":"TenantsList","query":"query TenantsList { tenants(first: 50) { edges { node { id name userCount subscriptions { skuPartNumber purchased assigned } } } } }"}'
results=$bench_work/results.txt
: >"$results"

for size in $sizes; do
  tenants=${size%x*} users=${size#*x}
  sim_start "$tenants" "$users"
  declare -A port=() pid=()
  for entry in "${bins[@]}"; do
    label=${entry%%=*} bin=${entry#*=}
    db="sqlite://$bench_work/$label-$size.db?mode=rwc"
    start=$(date +%s.%N)
    TENANTGRAPH_DATABASE_URL=$db "$bin" import >/dev/null 2>"$bench_work/$label-$size-import.log"
    end=$(date +%s.%N)
    python3 -c "print('$size $label: import of $((tenants * users)) users %.1f s' % ($end - $start))"
    port[$label]=$(free_port)
    bench_spawn "$label-$size.log" env TENANTGRAPH_DATABASE_URL="$db" TENANTGRAPH_AUTH_MODE=none \
      TENANTGRAPH_METRICS_BIND=off \
      TENANTGRAPH_RATE_LIMIT_PER_SECOND=0 TENANTGRAPH_RATE_LIMIT_UNAUTHENTICATED_PER_SECOND=0 \
      TENANTGRAPH_IMPORT_SCHEDULE=off TENANTGRAPH_LOG_LEVEL=warn \
      "$bin" serve --bind "127.0.0.1:${port[$label]}"
    pid[$label]=${bench_pids[-1]}
    wait_ready "http://127.0.0.1:${port[$label]}/readyz"
    curl -s "http://127.0.0.1:${port[$label]}/graphql" -H 'content-type: application/json' -d "$BODY" \
      >"$bench_work/$label-$size.json"
    python3 - "$bench_work/$label-$size.json" "$size $label" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert "errors" not in r, r
nodes = [e["node"] for e in r["data"]["tenants"]["edges"]]
print(f"{sys.argv[2]}: {len(nodes)} tenants, {sum(n['userCount'] for n in nodes)} users, "
      f"{sum(len(n['subscriptions']) for n in nodes)} SKUs in the answer")
PY
    wrk -t2 -c8 -d2s -s benches/body.lua "http://127.0.0.1:${port[$label]}/graphql" >/dev/null
  done
  if [[ -n ${BASE_BIN:-} ]]; then
    cmp -s "$bench_work/before-$size.json" "$bench_work/after-$size.json" \
      || { echo "the two builds answer Q2 differently at $size" >&2; exit 1; }
  fi
  for round in $(seq 1 "$rounds"); do
    for entry in "${bins[@]}"; do
      label=${entry%%=*}
      before=$(cpu_ticks "${pid[$label]}")
      out=$(wrk -t2 -c8 -d"${secs}s" --latency -s benches/body.lua "http://127.0.0.1:${port[$label]}/graphql")
      after=$(cpu_ticks "${pid[$label]}")
      python3 benches/wrk_row.py "$size" "$label" "$round" "$before" "$after" "$ticks" "$out" >>"$results"
    done
  done
  for label in "${!pid[@]}"; do kill "${pid[$label]}" 2>/dev/null || true; done
done

python3 - "$results" <<'PY'
import collections, statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = collections.defaultdict(list)
for size, label, rnd, rps, p50, p99, cpu in rows:
    by[(size, label)].append((int(rnd), float(rps), float(p50), float(p99), float(cpu)))
def cell(xs, fmt):
    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}-{fmt.format(max(xs))})"
print("| size | build | req/s | p50 ms | p99 ms | CPU ms/request |")
print("|---|---|---|---|---|---|")
for (size, label), runs in sorted(by.items()):
    cols = list(zip(*runs))
    print(f"| {size} | {label} | {cell(cols[1], '{:.0f}')} | {cell(cols[2], '{:.2f}')} | "
          f"{cell(cols[3], '{:.2f}')} | {cell(cols[4], '{:.3f}')} |")
sizes = sorted({s for s, _ in by}, key=lambda s: int(s.split('x')[0]) * int(s.split('x')[1]))
for size in sizes:
    if (size, "before") in by and (size, "after") in by:
        b = {r[0]: r for r in by[(size, "before")]}
        a = {r[0]: r for r in by[(size, "after")]}
        cpu = [a[r][4] / b[r][4] for r in a if r in b]
        rps = [a[r][1] / b[r][1] for r in a if r in b]
        print(f"{size}: after/before per round, CPU per request median {statistics.median(cpu):.3f} "
              f"({min(cpu):.3f}-{max(cpu):.3f}), req/s median {statistics.median(rps):.2f} "
              f"({min(rps):.2f}-{max(rps):.2f})")
for label in ("before", "after"):
    if len(sizes) == 2 and all((s, label) in by for s in sizes):
        small, large = (statistics.median(r[4] for r in by[(s, label)]) for s in sizes)
        print(f"{label}: CPU per request {sizes[1]} / {sizes[0]} = {large / small:.2f}")
PY
