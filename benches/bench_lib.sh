# Sourced by the benchmark scripts: builds the release binary, gives them a scratch directory
# ($bench_work) and starts servers that are killed (and the directory removed) when the script
# exits. Set BENCH_TOOL (wrk, hyperfine) before sourcing to check that it is installed, and
# BENCH_BIN to use a binary already built, BENCH_SIM_BIN to run the simulator from another binary
# than the one measured (so two builds are measured against the same simulator).
#   free_port                     prints a free loopback port
#   bench_spawn LOG CMD...        runs CMD in the background, output to $bench_work/LOG; kills it on exit
#   wait_ready URL                waits until URL answers 2xx (60 s at most: a debug build on a
#                                 busy machine takes more than 10 s to open a large store)
#   demo_start NAME [VAR=VALUE…]  starts `serve --demo` on its own SQLite file with logs at warn
#                                 and no rate limit (VAR=VALUE overrides, e.g. the database URL);
#                                 sets demo_port[NAME], demo_pid[NAME]
#   demo_tenant URL [BEARER]      prints the id of the demo tenant the benchmarks query (Alpenhof)
#   cpu_ticks PID…                prints the user plus system clock ticks the processes have used
#   sim_start TENANTS USERS [MS] [DAY]  (re)starts `tenantgraph simulate` with MS ms added to each
#                                 answer, on simulator day DAY (default 0), and exports the settings `tenantgraph import` needs to reach it,
#                                 on the SQLite file $bench_work/bench.db, or on BENCH_DATABASE_URL
#                                 when set (a PostgreSQL database the caller empties)
#   price_paid_skus URL TENANT    prices TENANT's paid simulator SKUs as the demo does
tool=${BENCH_TOOL:-wrk}
command -v "$tool" >/dev/null || { echo "install $tool first: apt-get install -y $tool" >&2; exit 1; }
# BENCH_BIN runs an already built binary instead (an A/B comparison of two builds).
if [[ -n ${BENCH_BIN:-} ]]; then
  bench_bin=$BENCH_BIN
else
  cargo build --release --locked --bin tenantgraph
  bench_bin=$PWD/target/release/tenantgraph
fi
bench_work=$(mktemp -d)
bench_pids=()
declare -A demo_port demo_pid
trap 'kill "${bench_pids[@]}" 2>/dev/null; rm -rf "$bench_work"' EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bench_spawn() {
  local log=$1; shift
  "$@" >"$bench_work/$log" 2>&1 &
  bench_pids+=($!)
}

wait_ready() {
  for _ in $(seq 1 600); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done
  echo "no answer from $1" >&2
  exit 1
}

demo_start() {
  local name=$1; shift
  demo_port[$name]=$(free_port)
  bench_spawn "$name.log" env TENANTGRAPH_DATABASE_URL="sqlite://$bench_work/$name.db?mode=rwc" \
    TENANTGRAPH_LOG_LEVEL=warn TENANTGRAPH_RATE_LIMIT_PER_SECOND=0 "$@" \
    "$bench_bin" serve --demo --bind "127.0.0.1:${demo_port[$name]}"
  demo_pid[$name]=${bench_pids[-1]}
  wait_ready "http://127.0.0.1:${demo_port[$name]}/readyz"
}

demo_tenant() {
  curl -s "$1" -H 'content-type: application/json' -H "authorization: Bearer ${2:-}" \
    -d '{"query":"{ tenants(search: \"Alpenhof\") { edges { node { id } } } }"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenants"]["edges"][0]["node"]["id"])'
}

cpu_ticks() {
  for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true; done \
    | awk '{s += $1} END {print s}'
}

sim_pid=
sim_port=
sim_start() {
  [[ -n $sim_pid ]] && { kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; }
  # The same port on every restart: stored delta links name the simulator's address.
  local port; port=${sim_port:-$(free_port)}; sim_port=$port
  bench_spawn sim.log env TENANTGRAPH_LOG_LEVEL=warn "${BENCH_SIM_BIN:-$bench_bin}" simulate --bind "127.0.0.1:$port" \
    --tenants "$1" --users-per-tenant "$2" --latency-ms "${3:-0}" --day "${4:-0}" --seed 42
  sim_pid=${bench_pids[-1]}
  # A large tenant on a later day takes the simulator seconds to replay (a minute at most).
  for _ in $(seq 1 600); do curl -s -o /dev/null "http://127.0.0.1:$port/v1/customers" && break; sleep 0.1; done
  export TENANTGRAPH_LOGIN_URL=http://127.0.0.1:$port TENANTGRAPH_PARTNER_CENTER_URL=http://127.0.0.1:$port \
    TENANTGRAPH_GRAPH_URL=http://127.0.0.1:$port TENANTGRAPH_CLIENT_ID=tenantgraph-sim-client \
    TENANTGRAPH_CLIENT_SECRET=sim-client-secret TENANTGRAPH_REFRESH_TOKEN=sim-initial-refresh-token \
    TENANTGRAPH_SECRET_KEY="$(head -c32 /dev/urandom | base64)" \
    TENANTGRAPH_PARTNER_TENANT_ID=415f1fc4-a74d-4718-bd84-55532608ad38 \
    TENANTGRAPH_DATABASE_URL="${BENCH_DATABASE_URL:-sqlite://$bench_work/bench.db?mode=rwc}" TENANTGRAPH_LOG_LEVEL=warn
}

# price_paid_skus GRAPHQL_URL TENANT: prices the simulator's paid SKUs of TENANT (EUR a month from
# 2025-01-01), as the demo prices them.
price_paid_skus() {
  local url=$1 tenant=$2 q sku price
  curl -s "$url" -H 'content-type: application/json' \
    -d "{\"query\":\"{ tenant(id: \\\"$tenant\\\") { subscriptions { skuId skuPartNumber } } }\"}" \
    | python3 -c '
import json, sys
prices = {"SPE_E5": "57.00", "SPE_E3": "36.00", "MCOEV": "8.00", "EXCHANGESTANDARD": "4.00", "POWER_BI_PRO": "14.00"}
for s in json.load(sys.stdin)["data"]["tenant"]["subscriptions"]:
    if s["skuPartNumber"] in prices:
        print(s["skuId"], prices[s["skuPartNumber"]])' \
    | while read -r sku price; do
      q="mutation(\$t: ID!, \$s: ID!, \$p: Decimal!) { setLicensePrice(input: {tenantId: \$t, skuId: \$s, monthlyUnitPrice: \$p, currency: \\\"EUR\\\", effectiveFrom: \\\"2025-01-01\\\"}) { skuId } }"
      curl -s "$url" -H 'content-type: application/json' \
        -d "{\"query\":\"$q\",\"variables\":{\"t\":\"$tenant\",\"s\":\"$sku\",\"p\":\"$price\"}}" >/dev/null
    done
}
