#!/usr/bin/env bash
# A victim beside an abusive caller (release build): two tenants of 20,000 users imported from
# `tenantgraph simulate`; one caller sends the heaviest allocation preview the limits allow
# (500 proposed rules of four MATCHES conditions, every rule tried on every user) over and over
# on two connections, while another tenant's `tenant(id) { name }` is timed with wrk on one
# connection: latency percentiles alone, then beside the previews. The request of the security
# review (ten aliases sharing 1,000 rules) is sent once and must be refused by the limits.
# With BENCH_DATABASE_URL=postgres://… the server runs on that (emptied) PostgreSQL database.
# Usage: bash benches/abusive_preview.sh [seconds per wrk run, default 20] [users, default 20000]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
users=${2:-20000}
db_url=${BENCH_DATABASE_URL:-}
if [[ $db_url == postgres* ]]; then
  psql "$db_url" -qc 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;'
fi
source benches/bench_lib.sh
bin=$bench_bin

sim_start 2 "$users"
[[ -n $db_url ]] && export TENANTGRAPH_DATABASE_URL=$db_url
export TENANTGRAPH_IMPORT_SCHEDULE=off TENANTGRAPH_AUTH_MODE=none TENANTGRAPH_RATE_LIMIT_PER_SECOND=0
TENANTGRAPH_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
export TENANTGRAPH_SECRET_KEY
"$bin" import >/dev/null
port=$(free_port)
bench_spawn server.log "$bin" serve --bind "127.0.0.1:$port"
wait_ready "http://127.0.0.1:$port/readyz"
url="http://127.0.0.1:$port/graphql"

# Prints "abused-tenant victim-tenant cost-group".
read -r abused victim group < <(python3 benches/abusive_preview.py setup "$url")
export TENANT_ID=$victim
echo "abused tenant $abused, victim tenant $victim"
python3 benches/abusive_preview.py refused "$url" "$abused" "$group"

wrk -t1 -c1 -d3s -s benches/tenant_name.lua "$url" >/dev/null   # warm-up
report() {
  echo "== victim: $1"
  echo "$2" | grep -E 'Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx|timeout'
}
report "alone" "$(wrk -t1 -c1 -d"${secs}s" --latency -s benches/tenant_name.lua "$url")"
python3 benches/abusive_preview.py abuse "$url" "$abused" "$group" $((secs + 5)) >"$bench_work/abuse.txt" &
abuser=$!
sleep 2
report "beside the previews" "$(wrk -t1 -c1 -d"${secs}s" --latency -s benches/tenant_name.lua "$url")"
wait "$abuser"
cat "$bench_work/abuse.txt"
