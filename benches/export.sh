#!/usr/bin/env bash
# users.csv of a large tenant: `tenantgraph import` of 1 tenant x USERS users (default 100,000)
# from `tenantgraph simulate` into SQLite, then `tenantgraph serve` (release build) on that file;
# the server's peak resident memory (VmHWM) after start-up and after each download of
# /export/tenants/{id}/users.csv (plain, then ?format=excel&locale=de-CH), with the rows, bytes and
# time of each download. The export streams USERS_PER_CHUNK (2,000) users at a time, so the peak
# should not grow with the tenant.
# Usage: bash benches/export.sh [users, default 100000] [runs, default 3]
# Env: SERVE_DB_MAX_CONNECTIONS, the server's pool size (default: the setting's, 8), to tell the
#      export's own memory from the page caches of the pooled SQLite connections (32 MiB each).
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-100000}
runs=${2:-3}
BENCH_TOOL=curl source benches/bench_lib.sh
bin=$bench_bin
work=$bench_work

sim_start 1 "$users"
/usr/bin/time -f "%e" -o "$work/import.txt" "$bin" import >/dev/null
echo "import of $users users: $(cat "$work/import.txt") s"

port=$(free_port)
bench_spawn serve.log env TENANTGRAPH_AUTH_MODE=none TENANTGRAPH_IMPORT_SCHEDULE=off \
  TENANTGRAPH_RATE_LIMIT_PER_SECOND=0 TENANTGRAPH_DB_MAX_CONNECTIONS="${SERVE_DB_MAX_CONNECTIONS:-8}" "$bin" serve --bind "127.0.0.1:$port"
server=${bench_pids[-1]}
wait_ready "http://127.0.0.1:$port/readyz"
tenant=$(curl -s "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' \
  -d '{"query":"{ tenants(first: 1) { edges { node { id } } } }"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenants"]["edges"][0]["node"]["id"])')
hwm() { awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$server/status"; }
echo "server after start-up: peak RSS $(hwm) MB"

for run in $(seq 1 "$runs"); do
  for query in "" "?format=excel&locale=de-CH"; do
    url="http://127.0.0.1:$port/export/tenants/$tenant/users.csv$query"
    stats=$(curl -s -o "$work/users.csv" -w '%{http_code} %{size_download} %{time_total}' "$url")
    read -r status bytes secs <<<"$stats"
    [[ $status == 200 ]] || { echo "users.csv$query answered $status" >&2; exit 1; }
    rows=$(($(wc -l <"$work/users.csv") - 1))
    echo "run $run users.csv${query:-}: $rows rows, $((bytes / 1024 / 1024)) MB in $secs s; server peak RSS $(hwm) MB"
  done
done
