#!/usr/bin/env bash
# What budget alerts cost an allocation change of a large tenant. Two simulated tenants of USERS
# users each (100,000 by default) are imported into SQLite and their paid SKUs priced; tenant A
# gets a budget, tenant B none. Each round makes the same change in A and in B (one request
# each, hyperfine). CHANGE=describe (the default) gives a cost group a new description
# (`updateCostGroup`), which moves no amount and so evaluates no budget in either tenant;
# CHANGE=create adds a cost group (`createCostGroup`), which may move a roll-up, so A's change
# evaluates A's budgets inside its transaction (the month's chargeback) and B's costs three small
# statements. Prints the medians and the median of the per-round ratios A / B with their range.
# Usage: bash benches/alerts.sh [rounds, default 10]
#   USERS=100000, CHANGE=describe|create, BENCH_BIN=<binary>
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
users=${USERS:-100000}
BENCH_TOOL=hyperfine
source benches/bench_lib.sh
sim_start 2 "$users"
start=$(date +%s.%N)
"$bench_bin" import >/dev/null 2>"$bench_work/import.log" \
  || { tail -20 "$bench_work/import.log" >&2; exit 1; }
end=$(date +%s.%N)
python3 -c "print('import of 2 x $users users %.1f s' % ($end - $start))"
port=$(free_port)
bench_spawn serve.log env TENANTGRAPH_AUTH_MODE=none TENANTGRAPH_METRICS_BIND=off \
  TENANTGRAPH_RATE_LIMIT_PER_SECOND=0 TENANTGRAPH_RATE_LIMIT_UNAUTHENTICATED_PER_SECOND=0 \
  TENANTGRAPH_IMPORT_SCHEDULE=off TENANTGRAPH_LOG_LEVEL=warn "$bench_bin" serve \
  --bind "127.0.0.1:$port"
wait_ready "http://127.0.0.1:$port/readyz"
url_gql="http://127.0.0.1:$port/graphql"
gql() { curl -s "$url_gql" -H 'content-type: application/json' -d "$1"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
read -r tenant_a tenant_b < <(gql '{"query":"{ tenants(first: 2) { edges { node { id } } } }"}' \
  | field '" ".join(e["node"]["id"] for e in d["data"]["tenants"]["edges"])')
declare -A group
for t in "$tenant_a" "$tenant_b"; do
  price_paid_skus "$url_gql" "$t"
  q="mutation(\$t: ID!) { createCostGroup(input: {tenantId: \$t, name: \\\"Bench\\\"}) { id } }"
  group[$t]=$(gql "{\"query\":\"$q\",\"variables\":{\"t\":\"$t\"}}" | field 'd["data"]["createCostGroup"]["id"]')
done
q="mutation(\$g: ID!) { setCostGroupBudget(input: {costGroupId: \$g, fromMonth: \\\"2020-01\\\", amount: \\\"1000000\\\", currency: \\\"EUR\\\"}) { id } }"
gql "{\"query\":\"$q\",\"variables\":{\"g\":\"${group[$tenant_a]}\"}}" | grep -q '"id"' \
  || { echo "the budget was refused" >&2; exit 1; }
post="curl -s -o /dev/null -H content-type:application/json --data-binary"
for r in $(seq 1 "$rounds"); do
  for t in "$tenant_a" "$tenant_b"; do
    case ${CHANGE:-describe} in
      describe)
        q="mutation(\$g: ID!, \$d: String!) { updateCostGroup(id: \$g, input: {description: \$d}) { id } }"
        vars="{\"g\":\"${group[$t]}\",\"d\":\"round $r\"}" ;;
      create)
        q="mutation(\$t: ID!, \$n: String!) { createCostGroup(input: {tenantId: \$t, name: \$n}) { id } }"
        vars="{\"t\":\"$t\",\"n\":\"Round $r\"}" ;;
      *) echo "CHANGE is describe or create, not $CHANGE" >&2; exit 2 ;;
    esac
    printf '%s' "{\"query\":\"$q\",\"variables\":$vars}" >"$bench_work/$t-$r.json"
  done
  hyperfine -N -r 1 --export-json "$bench_work/round-$r.json" \
    "$post @$bench_work/$tenant_a-$r.json $url_gql" \
    "$post @$bench_work/$tenant_b-$r.json $url_gql" >/dev/null
done
python3 - "$bench_work/round-" "$rounds" <<'PY'
import json, statistics, sys
prefix, rounds = sys.argv[1], int(sys.argv[2])
a, b, ratios = [], [], []
for r in range(1, rounds + 1):
    x, y = (t["times"][0] * 1000 for t in json.load(open(f"{prefix}{r}.json"))["results"])
    a.append(x); b.append(y); ratios.append(x / y)
print("| change of | median ms | range ms |")
print("|---|---|---|")
print(f"| a tenant with a budget | {statistics.median(a):.0f} | {min(a):.0f}-{max(a):.0f} |")
print(f"| a tenant without | {statistics.median(b):.0f} | {min(b):.0f}-{max(b):.0f} |")
print(f"with / without, median of {rounds} rounds: {statistics.median(ratios):.2f} "
      f"({min(ratios):.2f}-{max(ratios):.2f})")
PY
gql "{\"query\":\"{ tenant(id: \\\"$tenant_a\\\") { costGroups { budget(month: \\\"$(date -u +%Y-%m)\\\") { actual forecast status } } } }\"}"
echo
