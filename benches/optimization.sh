#!/usr/bin/env bash
# Latency of `Tenant.optimization` and of the waste filter's first users page over one large
# tenant, on SQLite and on PostgreSQL: the simulator's tenant of USERS users (100,000 by
# default) is imported by `tenantgraph import` into each store, its paid SKUs are priced, and
# each query is timed by hyperfine (curl against `tenantgraph serve`), median and range.
# Usage: bash benches/optimization.sh [runs per query, default 10]
#   USERS=100000, PG_URL=postgres://postgres@127.0.0.1:5432/<scratch db> (created and dropped;
#   PG_URL=off skips PostgreSQL, SQLITE=off skips SQLite), BENCH_BIN=target/debug/tenantgraph to
#   skip the release build. A query that answers with errors is reported and not timed.
#   BASE_BIN=<another tenantgraph binary> also serves the same store with it and compares:
#   round by round, one request to each server (hyperfine), median and range of the per-round
#   ratios this binary / BASE_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
users=${USERS:-100000}
BENCH_TOOL=hyperfine
source benches/bench_lib.sh
pg_db=tg_bench_optimization_$$
pg_url=${PG_URL:-postgres://postgres@127.0.0.1:5432/$pg_db}
stores=()
[[ ${SQLITE:-on} != off ]] && stores+=("sqlite=sqlite://$bench_work/optimization.db?mode=rwc")
if [[ $pg_url != off ]]; then
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $pg_db"
  trap 'kill "${bench_pids[@]}" 2>/dev/null; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS '"$pg_db"' WITH (FORCE)" >/dev/null; rm -rf "$bench_work"' EXIT
  stores+=("postgres=$pg_url")
fi
sim_start 1 "$users"

for entry in "${stores[@]}"; do
  store=${entry%%=*} url=${entry#*=}
  start=$(date +%s.%N)
  TENANTGRAPH_DATABASE_URL=$url "$bench_bin" import >/dev/null 2>"$bench_work/$store-import.log"
  end=$(date +%s.%N)
  python3 -c "print('$store: import of $users users %.1f s' % ($end - $start))"
  port=$(free_port)
  bench_spawn "$store.log" env TENANTGRAPH_DATABASE_URL="$url" TENANTGRAPH_AUTH_MODE=none \
    TENANTGRAPH_METRICS_BIND=off TENANTGRAPH_RATE_LIMIT_PER_SECOND=0 \
    TENANTGRAPH_RATE_LIMIT_UNAUTHENTICATED_PER_SECOND=0 TENANTGRAPH_IMPORT_SCHEDULE=off \
    TENANTGRAPH_LOG_LEVEL=warn "$bench_bin" serve --bind "127.0.0.1:$port"
  server=${bench_pids[-1]}
  wait_ready "http://127.0.0.1:$port/readyz"
  url_gql="http://127.0.0.1:$port/graphql"
  gql() { curl -s "$url_gql" -H 'content-type: application/json' -d "$1"; }
  tenant=$(gql '{"query":"{ tenants(first: 1) { edges { node { id subscriptions { skuId skuPartNumber } } } } }"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenants"]["edges"][0]["node"]["id"])')
  price_paid_skus "$url_gql" "$tenant"
  optimization="{\"query\":\"query Optimization(\$t: ID!) { tenant(id: \$t) { optimization { monthlySaving unpricedLicenses byKind { kind users licenses monthlySaving } byCostGroup { users monthlySaving } } } }\",\"variables\":{\"t\":\"$tenant\"}}"
  waste="{\"query\":\"query Waste(\$t: ID!) { tenant(id: \$t) { users(first: 100, filter: { waste: [INACTIVE, DISABLED_LICENSED, GUEST_LICENSED, REDUNDANT_LICENSE] }) { totalCount nodes { id waste { monthlySaving } } } } }\",\"variables\":{\"t\":\"$tenant\"}}"
  for name in optimization waste; do
    body=${!name}
    answer=$(gql "$body")
    python3 - "$store" "$name" "$answer" <<'PY' || continue
import json, sys
store, name, answer = sys.argv[1:]
r = json.loads(answer)
if "errors" in r:
    sys.exit(f"{store}: {name} answers errors, not timed: {r['errors']}")
t = r["data"]["tenant"]
if name == "optimization":
    o = t["optimization"]
    kinds = ", ".join(f"{k['kind']} {k['licenses']}" for k in o["byKind"])
    print(f"{store}: optimization saves {o['monthlySaving']} a month ({kinds})")
else:
    print(f"{store}: waste filter finds {t['users']['totalCount']} users")
PY
    printf '%s' "$body" >"$bench_work/$name.json"
    hyperfine -N -w 1 -r "$runs" --export-json "$bench_work/$store-$name.timing.json" \
      "curl -s -o /dev/null -H content-type:application/json --data-binary @$bench_work/$name.json $url_gql" >/dev/null
    python3 - "$bench_work/$store-$name.timing.json" "$store" "$name" <<'PY'
import json, statistics, sys
times = [t * 1000 for t in json.load(open(sys.argv[1]))["results"][0]["times"]]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {statistics.median(times):.0f} | {min(times):.0f}-{max(times):.0f} | {len(times)} |")
PY
  done
  if [[ -n ${BASE_BIN:-} ]]; then
    base_port=$(free_port)
    bench_spawn "$store-base.log" env TENANTGRAPH_DATABASE_URL="$url" TENANTGRAPH_AUTH_MODE=none \
      TENANTGRAPH_METRICS_BIND=off TENANTGRAPH_RATE_LIMIT_PER_SECOND=0 \
      TENANTGRAPH_RATE_LIMIT_UNAUTHENTICATED_PER_SECOND=0 TENANTGRAPH_IMPORT_SCHEDULE=off \
      TENANTGRAPH_LOG_LEVEL=warn "$BASE_BIN" serve --bind "127.0.0.1:$base_port"
    base_server=${bench_pids[-1]}
    wait_ready "http://127.0.0.1:$base_port/readyz"
    for name in optimization waste; do
      [[ -f $bench_work/$name.json ]] || continue
      post="curl -s -o /dev/null -H content-type:application/json --data-binary @$bench_work/$name.json"
      for round in $(seq 1 "$runs"); do
        hyperfine -N -w 1 -r 1 --export-json "$bench_work/$store-$name-ab-$round.json" \
          "$post $url_gql" "$post http://127.0.0.1:$base_port/graphql" >/dev/null
      done
      python3 - "$store" "$name" "$bench_work/$store-$name-ab-" "$runs" <<'PY'
import json, statistics, sys
store, name, prefix, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ratios, this, base = [], [], []
for r in range(1, runs + 1):
    a, b = (x["times"][0] * 1000 for x in json.load(open(f"{prefix}{r}.json"))["results"])
    this.append(a); base.append(b); ratios.append(a / b)
print(f"| {store} | {name} | {statistics.median(this):.0f} | {statistics.median(base):.0f} "
      f"| {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | {runs} |")
PY
    done
    kill "$base_server" 2>/dev/null || true
  fi
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
  echo "$store: server peak RSS $((rss / 1024)) MB"
  kill "$server" 2>/dev/null || true
done
