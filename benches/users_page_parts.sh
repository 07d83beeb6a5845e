#!/usr/bin/env bash
# What each part of the users page costs: CPU time per request of `serve --demo` (release build,
# SQLite) for growing pieces of the query, 8 connections with wrk. The difference between two
# lines is what the added part costs.
# Usage: bash benches/users_page_parts.sh [seconds per query, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
source benches/bench_lib.sh
demo_start parts
pid=${demo_pid[parts]}
url="http://127.0.0.1:${demo_port[parts]}/graphql"
tenant=$(demo_tenant "$url")
cat >"$bench_work/post.lua" <<'LUA'
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
  wrk -t2 -c8 -d2s -s "$bench_work/post.lua" "$url" >/dev/null
  before=$(cpu_ticks "$pid")
  out=$(wrk -t2 -c8 -d"${secs}s" -s "$bench_work/post.lua" "$url")
  after=$(cpu_ticks "$pid")
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  python3 -c "import sys; print('%.3f ms  %s' % (($after - $before) / $ticks * 1000 / $requests, sys.argv[1].replace('$tenant', 'ID')))" "$query"
done
