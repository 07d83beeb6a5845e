#!/usr/bin/env bash
# A large overrides upload: `tenantgraph import` of 1 tenant x USERS users (default 10,000) from
# `tenantgraph simulate` into SQLite, `tenantgraph serve` on that file, two cost groups made with
# `createCostGroups`, then POST /import/tenants/{id}/overrides.csv of one row per user for ROWS
# users (default: all of them): a dry run and an apply in each run, the apply moving those users
# to the other group than the run before (so each apply changes all of them). Prints each
# request's status, time and the server's peak resident memory (VmHWM).
# Usage: bash benches/bulk_overrides.sh [users, default 10000] [runs, default 3] [rows, default users]
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-10000}
runs=${2:-3}
rows=${3:-$users}
BENCH_TOOL=curl source benches/bench_lib.sh
bin=$bench_bin
work=$bench_work

sim_start 1 "$users"
"$bin" import >/dev/null
port=$(free_port)
bench_spawn serve.log env TENANTGRAPH_AUTH_MODE=none TENANTGRAPH_IMPORT_SCHEDULE=off \
  TENANTGRAPH_RATE_LIMIT_PER_SECOND=0 "$bin" serve --bind "127.0.0.1:$port"
server=${bench_pids[-1]}
wait_ready "http://127.0.0.1:$port/readyz"
base="http://127.0.0.1:$port"
graphql() {
  curl -sf "$base/graphql" -H 'content-type: application/json' -d "$1"
}
tenant=$(graphql '{"query":"{ tenants(first: 1) { edges { node { id } } } }"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenants"]["edges"][0]["node"]["id"])')
graphql "{\"query\":\"mutation { createCostGroups(tenantId: \\\"$tenant\\\", items: [{ code: \\\"BENCH-A\\\", name: \\\"Bench A\\\" }, { code: \\\"BENCH-B\\\", name: \\\"Bench B\\\" }]) { created } }\"}" >/dev/null
curl -sf -o "$work/users.csv" "$base/export/tenants/$tenant/users.csv"
for code in BENCH-A BENCH-B; do
  python3 - "$work/users.csv" "$code" "$rows" >"$work/$code.csv" <<'EOF'
import csv, sys
rows = csv.DictReader(open(sys.argv[1], encoding="utf-8"))
seen = set()
print("user,cost_group_code")
for row in rows:
    if row["user_id"] not in seen and len(seen) < int(sys.argv[3]):
        seen.add(row["user_id"])
        print(f'{row["user_id"]},{sys.argv[2]}')
EOF
done
echo "rows per file: $(($(wc -l <"$work/BENCH-A.csv") - 1)), $(($(wc -c <"$work/BENCH-A.csv") / 1024)) KiB"
hwm() { awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$server/status"; }
echo "server after start-up: peak RSS $(hwm) MB"
for run in $(seq 1 "$runs"); do
  file=$([[ $((run % 2)) == 1 ]] && echo BENCH-A || echo BENCH-B)
  for query in "?dryRun=true" ""; do
    stats=$(curl -s -o "$work/answer.json" -w '%{http_code} %{time_total}' \
      -H 'content-type: text/csv' --data-binary "@$work/$file.csv" \
      "$base/import/tenants/$tenant/overrides.csv$query")
    read -r status secs <<<"$stats"
    [[ $status == 200 ]] || { echo "answered $status: $(head -c 300 "$work/answer.json")" >&2; exit 1; }
    changed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["changed"])' "$work/answer.json")
    echo "run $run $file ${query:-apply}: $changed users changed in $secs s; server peak RSS $(hwm) MB"
  done
done
