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
command -v wrk >/dev/null || { echo "install wrk first: apt-get install -y wrk" >&2; exit 1; }
cargo build --release --locked --bin tenantgraph
bin=$PWD/target/release/tenantgraph
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

sim_port=$(free_port)
TENANTGRAPH_LOG_LEVEL=warn "$bin" simulate --bind "127.0.0.1:$sim_port" --tenants 1 \
  --users-per-tenant "$users" --seed 42 >"$work/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$sim_port/v1/customers" && break; sleep 0.1; done
export TENANTGRAPH_LOGIN_URL=http://127.0.0.1:$sim_port TENANTGRAPH_PARTNER_CENTER_URL=http://127.0.0.1:$sim_port \
  TENANTGRAPH_GRAPH_URL=http://127.0.0.1:$sim_port TENANTGRAPH_CLIENT_ID=tenantgraph-sim-client \
  TENANTGRAPH_CLIENT_SECRET=sim-client-secret TENANTGRAPH_REFRESH_TOKEN=sim-initial-refresh-token \
  TENANTGRAPH_PARTNER_TENANT_ID=415f1fc4-a74d-4718-bd84-55532608ad38 \
  TENANTGRAPH_DATABASE_URL="sqlite://$work/bench.db?mode=rwc" TENANTGRAPH_LOG_LEVEL=warn \
  TENANTGRAPH_IMPORT_SCHEDULE=off TENANTGRAPH_AUTH_MODE=none TENANTGRAPH_RATE_LIMIT_PER_SECOND=0
t0=$(date +%s.%N)
"$bin" import >/dev/null
echo "import of $users users (with the allocation evaluated in its transaction): $(python3 -c "print(round($(date +%s.%N) - $t0, 2))") s"

port=$(free_port)
"$bin" serve --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
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
