#!/usr/bin/env bash
# Instructions per users page on the embedded store, counted by callgrind: repeatable for the same
# build and data whatever else the machine is doing, where CPU time on this shared machine moves
# by tens of percent between runs. Each build serves `serve --demo` on its own SQLite file under
# `valgrind --tool=callgrind` with counting off; after the demo is ready and 20 warm-up pages,
# counting is switched on for N pages sent one at a time (benches/users_page.lua's query), then
# off. User-space instructions of every thread only: the kernel's share (network, wake-ups) is
# not counted. Builds run side by side (one core each), each start takes a minute or two.
# Usage: bash benches/users_page_instructions.sh BIN [BIN…]     (env: N=200)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null
n=${N:-200}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
query='query UsersPage($id: ID!) { tenant(id: $id) { name users(first: 100) { totalCount pageInfo { hasNextPage endCursor } edges { node { id displayName userPrincipalName department jobTitle manager { id displayName } licenses { skuId subscription { skuPartNumber } } } } } } }'
count() { # bin label port
  local dir=$work/$2 url=http://127.0.0.1:$3 pid tenant body
  mkdir -p "$dir"
  TENANTGRAPH_DATABASE_URL="sqlite://$dir/demo.db?mode=rwc" TENANTGRAPH_LOG_LEVEL=warn \
    TENANTGRAPH_RATE_LIMIT_PER_SECOND=0 TENANTGRAPH_METRICS_BIND=off \
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/cg.out" \
    "$1" serve --demo --bind "${url#http://}" >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 900); do curl -sf -o /dev/null "$url/readyz" && break; sleep 1; done
  post() { curl -s "$url/graphql" -H 'content-type: application/json' -d "$1"; }
  tenant=$(post '{"query":"{ tenants(first: 1) { edges { node { id } } } }"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenants"]["edges"][0]["node"]["id"])')
  body=$(python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1], "variables": {"id": sys.argv[2]}}))' "$query" "$tenant")
  post "$body" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert "errors" not in r, r; assert len(r["data"]["tenant"]["users"]["edges"]) == 100'
  for _ in $(seq 1 20); do post "$body" >/dev/null; done
  callgrind_control -i on "$pid" >/dev/null
  for _ in $(seq 1 "$n"); do post "$body" >/dev/null; done
  callgrind_control -i off "$pid" >/dev/null
  callgrind_control -d "$pid" >/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
  total=$(cat "$dir"/cg.out* | awk '/^totals:/ {s += $2} END {print s}')
  echo "$2: $total instructions over $n pages = $((total / n)) per page"
}
port=18300; i=0
for bin in "$@"; do
  i=$((i + 1)); count "$bin" "build$i-$(basename "$bin")" $((port + i)) &
done
wait
