#!/usr/bin/env bash
# Cost report benchmark (release build, SQLite): one tenant of 100,000 users imported from
# `tenantgraph simulate`, a cost group and a rule per department, 200 split overrides and a price
# per SKU; then
#   report     latency of `Tenant.costReport` with every group, SKU line and amount (wrk, 1 and 4
#              connections), after the evaluation is stored
#   mutation   `setUserAllocation` then `costReport` in sequence: the time of each and whether the
#              report shows the change at once (it must, every time)
# Usage: bash benches/cost_report.sh [seconds per wrk run, default 20] [users, default 100000]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
users=${2:-100000}
source benches/bench_lib.sh
bin=$bench_bin

sim_start 1 "$users"
export TENANTGRAPH_IMPORT_SCHEDULE=off TENANTGRAPH_AUTH_MODE=none TENANTGRAPH_RATE_LIMIT_PER_SECOND=0
t0=$(date +%s.%N)
"$bin" import >/dev/null
echo "import of $users users (with the allocation evaluated in its transaction): $(python3 -c "print(round($(date +%s.%N) - $t0, 2))") s"

port=$(free_port)
bench_spawn server.log "$bin" serve --bind "127.0.0.1:$port"
wait_ready "http://127.0.0.1:$port/readyz"
url="http://127.0.0.1:$port/graphql"

# Cost groups, rules, overrides and prices through the API; prints the tenant id.
export TENANT_ID=$(python3 benches/cost_report_setup.py "$url")
echo "tenant $TENANT_ID set up"

for conns in 1 4; do
  out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency -s benches/cost_report.lua "$url")
  echo "== costReport, $conns connection(s)"
  echo "$out" | grep -E 'Requests/sec|Latency|50%|75%|90%|99%|requests in|Non-2xx'
done

python3 benches/cost_report_setup.py "$url" --mutations 20
