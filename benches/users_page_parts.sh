#!/usr/bin/env bash
# What each part of the users page costs: CPU time per request of `serve --demo` (release build,
# SQLite) for growing pieces of the query, 8 connections with wrk. The difference between two
# lines is what the added part costs.
# Usage: bash benches/users_page_parts.sh [seconds per query, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
command -v wrk >/dev/null || { echo "install wrk first: apt-get install -y wrk" >&2; exit 1; }
cargo build --release --locked --bin tenantgraph
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TENANTGRAPH_DATABASE_URL="sqlite://$work/bench.db?mode=rwc" TENANTGRAPH_LOG_LEVEL=warn TENANTGRAPH_RATE_LIMIT_PER_SECOND=0 \
  ./target/release/tenantgraph serve --demo --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port/graphql"
tenant=$(curl -s "$url" -H 'content-type: application/json' \
  -d '{"query":"{ tenants(search: \"Alpenhof\") { edges { node { id } } } }"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenants"]["edges"][0]["node"]["id"])')
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BODY")
LUA
ticks=$(getconf CLK_TCK)
page="tenant(id: \\\"$tenant\\\") { users(first: 100)"
for query in \
  "{ tenant(id: \\\"$tenant\\\") { name } }" \
  "{ $page { pageInfo { hasNextPage } } } }" \
  "{ $page { totalCount } } }" \
  "{ $page { edges { node { id displayName userPrincipalName department jobTitle } } } } }" \
  "{ $page { edges { node { manager { id displayName } } } } } }" \
  "{ $page { edges { node { licenses { skuId } } } } } }" \
  "{ $page { edges { node { licenses { subscription { skuPartNumber } } } } } } }"; do
  export BODY="{\"query\":\"$query\"}"
  curl -s "$url" -H 'content-type: application/json' -d "$BODY" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); assert "errors" not in r, r'
  wrk -t2 -c8 -d2s -s "$work/post.lua" "$url" >/dev/null
  before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  out=$(wrk -t2 -c8 -d"${secs}s" -s "$work/post.lua" "$url")
  after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  python3 -c "import sys; print('%.3f ms  %s' % (($after - $before) / $ticks * 1000 / $requests, sys.argv[1].replace('$tenant', 'ID')))" "$query"
done
