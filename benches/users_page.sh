#!/usr/bin/env bash
# Load test of the users page query against `serve --demo` (release build, SQLite):
# requests/s and latency percentiles at 8 and 32 connections with wrk, plus the server's CPU
# time per request (SQLite runs in-process, so this is server and database together).
# With BENCH_DATABASE_URL=postgres://… the server runs on that (emptied) PostgreSQL database
# instead, and the CPU time of the PostgreSQL server processes is added to the server's.
# Usage: bash benches/users_page.sh [seconds per run, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
db_url=${BENCH_DATABASE_URL:-}
if [[ $db_url == postgres* ]]; then
  psql "$db_url" -qc 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;'
fi
source benches/bench_lib.sh
demo_start users ${db_url:+TENANTGRAPH_DATABASE_URL=$db_url}
pid=${demo_pid[users]}
url="http://127.0.0.1:${demo_port[users]}/graphql"
export TENANT_ID=$(demo_tenant "$url")
# One response must be free of errors before anything is timed.
check='{"query":"query($id: ID!) { tenant(id: $id) { users(first: 100) { edges { node { manager { id } licenses { subscription { skuPartNumber } } } } } } }","variables":{"id":"'"$TENANT_ID"'"}}'
curl -s "$url" -H 'content-type: application/json' -d "$check" \
  | python3 -c 'import json,sys; r=json.load(sys.stdin); assert "errors" not in r, r; print("check: %d users in the page" % len(r["data"]["tenant"]["users"]["edges"]))'
ticks=$(getconf CLK_TCK)
# utime + stime of the server, plus every PostgreSQL process when the store is PostgreSQL.
cpu() {
  if [[ $db_url == postgres* ]]; then cpu_ticks "$pid" $(pgrep -x postgres || true); else cpu_ticks "$pid"; fi
}
wrk -t2 -c8 -d3s -s benches/users_page.lua "$url" >/dev/null   # warm-up
for conns in 8 32; do
  before=$(cpu)
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s benches/users_page.lua "$url")
  after=$(cpu)
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "== $conns connections"
  echo "$out" | grep -E 'Requests/sec|Latency|50%|75%|90%|99%|requests in|Non-2xx'
  python3 -c "print('CPU per request (server and database): %.3f ms' % (($after - $before) / $ticks * 1000 / $requests))"
done
echo "resident memory after the runs: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
