#!/usr/bin/env bash
# A million users (issue 18): for each store (SQLite, PostgreSQL) and each shape, simulates and
# imports a store of 100,000 users and one of 1,000,000 users of the same tenant size, reports
# each import (users/s, the importer's peak RSS, the database's size), then serves both stores at
# once and reads them in alternating rounds (small, large, small, large, ...): the users page
# (the side-by-side harness's Q1 on the first tenant), the tenant list (Q2: first 50 tenants
# with counts and SKUs) and the first tenant's cost report (its paid SKUs priced as the demo
# prices them). Each read: wrk, 8 connections; reported are req/s and CPU per request of each
# store (server, plus PostgreSQL's processes on PostgreSQL) and the ratio large / small per
# round, median and range.
# Usage: bash benches/million.sh [rounds, default 3] [seconds per run, default 8]
#   SHAPES="2000:50:500 50000:2:20" (users per tenant : tenants at 100 k : tenants at 1 M),
#   STORES="sqlite postgres"; PostgreSQL at 127.0.0.1:5432 (user postgres), databases
#   tg_million_small and tg_million_large (dropped and created).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-8}
shapes=${SHAPES:-2000:50:500 50000:2:20}
stores=${STORES:-sqlite postgres}
source benches/bench_lib.sh
pg=postgres://postgres@127.0.0.1:5432
ticks=$(getconf CLK_TCK)
results=$bench_work/results.txt
: >"$results"

q1='{"operationName":"UsersPage","variables":{"id":"TENANT"},"query":"query UsersPage($id: ID!) { tenant(id: $id) { users(first: 100, orderBy: { field: DISPLAY_NAME, direction: ASC }) { edges { node { id displayName userPrincipalName department jobTitle manager { displayName } licenses { subscription { skuPartNumber } } } } } } }"}'
q2='{"operationName":"TenantsList","query":"query TenantsList { tenants(first: 50) { edges { node { id name userCount subscriptions { skuPartNumber purchased assigned } } } } }"}'
q3='{"operationName":"CostReport","variables":{"id":"TENANT"},"query":"query CostReport($id: ID!) { tenant(id: $id) { costReport { currency costGroups { costGroup { name } own { users licenses cost } withDescendants { users cost } } unallocated { users licenses cost } unassigned { licenses cost } } } }"}'

# url_of STORE NAME: the database URL of store NAME (small or large).
url_of() {
  if [[ $1 == sqlite ]]; then echo "sqlite://$bench_work/$2.db?mode=rwc"; else echo "$pg/tg_million_$2"; fi
}

# size_of STORE NAME: the database's size in MB.
size_of() {
  if [[ $1 == sqlite ]]; then
    du -cm "$bench_work/$2".db* | tail -1 | cut -f1
  else
    psql "$pg/postgres" -Atc "select pg_database_size('tg_million_$2') / 1000000"
  fi
}

# import_into STORE NAME TENANTS USERS: a fresh store imported from a fresh simulator.
import_into() {
  local store=$1 name=$2 tenants=$3 users=$4 url
  url=$(url_of "$store" "$name")
  if [[ $store == sqlite ]]; then
    rm -f "$bench_work/$name".db*
  else
    psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS tg_million_$name" -c "CREATE DATABASE tg_million_$name"
  fi
  sim_start "$tenants" "$users"
  TENANTGRAPH_DATABASE_URL=$url /usr/bin/time -v -o "$bench_work/time.txt" "$bench_bin" import \
    >"$bench_work/import-$name.log" 2>&1 || { tail -20 "$bench_work/import-$name.log" >&2; exit 1; }
  [[ $store == postgres ]] && psql "$url" -qc "VACUUM ANALYZE"
  python3 - "$bench_work/time.txt" "$store" "$tenants" "$users" "$(size_of "$store" "$name")" <<'PY' | tee -a "$results"
import re, sys
text = open(sys.argv[1]).read()
wall = re.search(r"Elapsed \(wall clock\) time.*: (.+)", text).group(1).strip().split(":")
seconds = sum(float(p) * 60 ** i for i, p in enumerate(reversed(wall)))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
store, tenants, users, size = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
total = tenants * users
print(f"import {store} {tenants} x {users} = {total:,} users: {seconds:.1f} s, "
      f"{total / seconds:,.0f} users/s, importer peak RSS {rss:.0f} MB, database {size} MB")
PY
}

# first_tenant URL: the id of the tenant first by name.
first_tenant() {
  curl -s "$1" -H 'content-type: application/json' \
    -d '{"query":"{ tenants(first: 1) { edges { node { id } } } }"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenants"]["edges"][0]["node"]["id"])'
}

# measure STORE PID URL BODY: one wrk run; prints "rps cpu_ms_per_request".
measure() {
  local store=$1 pid=$2 url=$3 before after out
  export BODY=$4
  cpu() {
    if [[ $store == postgres ]]; then cpu_ticks "$pid" $(pgrep -x postgres || true); else cpu_ticks "$pid"; fi
  }
  wrk -t2 -c8 -d2s -s benches/body.lua "$url" >/dev/null
  before=$(cpu)
  out=$(wrk -t2 -c8 -d"${secs}s" -s benches/body.lua "$url")
  after=$(cpu)
  python3 - "$out" "$before" "$after" "$ticks" <<'PY'
import re, sys
out, before, after, ticks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
requests = int(re.search(r"(\d+) requests in", out).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
assert "Non-2xx" not in out, out
print(f"{rps:.1f} {1000 * (after - before) / ticks / requests:.3f}")
PY
}

for store in $stores; do
  for shape in $shapes; do
    IFS=: read -r users small_tenants large_tenants <<<"$shape"
    import_into "$store" small "$small_tenants" "$users"
    import_into "$store" large "$large_tenants" "$users"
    declare -A port pid tenant
    for name in small large; do
      port[$name]=$(free_port)
      bench_spawn "serve-$name.log" env TENANTGRAPH_DATABASE_URL="$(url_of "$store" "$name")" \
        TENANTGRAPH_LOG_LEVEL=warn TENANTGRAPH_RATE_LIMIT_PER_SECOND=0 TENANTGRAPH_AUTH_MODE=none TENANTGRAPH_METRICS_BIND=off \
        TENANTGRAPH_IMPORT_SCHEDULE=off "$bench_bin" serve --bind "127.0.0.1:${port[$name]}"
      pid[$name]=${bench_pids[-1]}
      wait_ready "http://127.0.0.1:${port[$name]}/readyz"
      tenant[$name]=$(first_tenant "http://127.0.0.1:${port[$name]}/graphql")
      price_paid_skus "http://127.0.0.1:${port[$name]}/graphql" "${tenant[$name]}"
    done
    for round in $(seq 1 "$rounds"); do
      for q in q1 q2 q3; do
        for name in small large; do
          body=${!q}
          body=${body//TENANT/${tenant[$name]}}
          echo "read $store $shape $q $name $round $(measure "$store" "${pid[$name]}" \
            "http://127.0.0.1:${port[$name]}/graphql" "$body")" | tee -a "$results"
        done
      done
    done
    kill "${pid[small]}" "${pid[large]}"; wait "${pid[small]}" "${pid[large]}" 2>/dev/null || true
  done
done

python3 - "$results" <<'PY'
import statistics, sys
from collections import defaultdict
runs = defaultdict(dict)
for line in open(sys.argv[1]):
    if line.startswith("import"):
        print(line.rstrip())
    if not line.startswith("read "):
        continue
    _, store, shape, q, name, rnd, rps, cpu = line.split()
    runs[(store, shape, q)].setdefault(rnd, {})[name] = (float(rps), float(cpu))
names = {"q1": "users page", "q2": "tenant list", "q3": "cost report"}
print("\n| store | users per tenant : tenants 100k : 1M | read | req/s 100k / 1M | CPU ms/request 100k / 1M | ratio 1M / 100k, CPU per request (per round: median, range) |")
print("|---|---|---|---|---|---|")
for (store, shape, q), rounds in runs.items():
    pairs = [r for r in rounds.values() if len(r) == 2]
    med = lambda name, i: statistics.median(r[name][i] for r in pairs)
    ratios = [r["large"][1] / r["small"][1] for r in pairs]
    print(f"| {store} | {shape} | {names[q]} | {med('small', 0):.0f} / {med('large', 0):.0f} | "
          f"{med('small', 1):.2f} / {med('large', 1):.2f} | "
          f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |")
PY
