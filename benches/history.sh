#!/usr/bin/env bash
# History benchmark (release build): one tenant imported on DAYS consecutive days from
# `tenantgraph simulate` (about 1 % of the users hired, some leaving, moving department, changing
# manager or licenses each day), the last day today, with a cost group and rule per department,
# 200 split overrides and a price per SKU; then
#   imports   the time of the first import and of each daily import, and the store's size after
#             each (storage per import day: the median growth of the daily imports)
#   reads     latency of last month's `chargeback`, a year of `consumptionHistory` and the first
#             page of `licenseChanges` over the whole history (wrk, 1 connection)
# With BENCH_DATABASE_URL=postgres://… the store is that (emptied) PostgreSQL database.
# The API dates allocation changes today, so the rules set up after the first import are moved
# back to that import's date in SQL (as if they had been in place when history starts).
# BENCH_SAVE_STORE=FILE keeps the SQLite store there at the end (for benches/history_reads.sh).
# Usage: bash benches/history.sh [seconds per wrk run, default 15] [days, default 90] [users, default 100000]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
days=${2:-90}
users=${3:-100000}
db_url=${BENCH_DATABASE_URL:-}
if [[ $db_url == postgres* ]]; then
  psql "$db_url" -qc 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;'
fi
source benches/bench_lib.sh
bin=$bench_bin
# The setup evaluates rules over the whole tenant in one mutation: allow it a minute.
export TENANTGRAPH_IMPORT_SCHEDULE=off TENANTGRAPH_AUTH_MODE=none TENANTGRAPH_RATE_LIMIT_PER_SECOND=0 \
  TENANTGRAPH_GRAPHQL_TIMEOUT_MS=${TENANTGRAPH_GRAPHQL_TIMEOUT_MS:-60000}
sqlite_file=$bench_work/bench.db
store_url=${db_url:-sqlite://$sqlite_file?mode=rwc}

# store_bytes: the store's size in bytes (SQLite: pages in use after a checkpoint of the WAL).
store_bytes() {
  if [[ $db_url == postgres* ]]; then
    psql "$db_url" -tAc 'SELECT pg_database_size(current_database())'
  else
    python3 - "$sqlite_file" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
pages, free, size = (db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count", "page_size"))
print((pages - free) * size)
PY
  fi
}

# sql STATEMENT: runs one statement on the store.
sql() {
  if [[ $db_url == postgres* ]]; then
    psql "$db_url" -qc "$1"
  else
    python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute(sys.argv[2]); db.commit()' "$sqlite_file" "$1"
  fi
}

first=$(date -u -d "-$((days - 1)) days" +%F)
log=$bench_work/imports.txt
# import_day DAY: the simulator on DAY, an import observed on the first date plus DAY.
import_day() {
  sim_start 1 "$users" 0 "$1"
  export TENANTGRAPH_DATABASE_URL=$store_url
  local on t0 t1
  on=$(date -u -d "$first + $1 days" +%F)
  t0=$(date +%s.%N)
  "$bin" import --as-of "$on" >/dev/null
  t1=$(date +%s.%N)
  echo "$1 $on $(python3 -c "print(round($t1 - $t0, 3))") $(store_bytes)" >>"$log"
}

import_day 0
port=$(free_port)
bench_spawn server.log env TENANTGRAPH_DATABASE_URL="$store_url" "$bin" serve --bind "127.0.0.1:$port"
server=${bench_pids[-1]}
wait_ready "http://127.0.0.1:$port/readyz"
url="http://127.0.0.1:$port/graphql"
TENANT_ID=$(python3 benches/cost_report_setup.py "$url")
export TENANT_ID
kill "$server"; wait "$server" 2>/dev/null || true
sql "UPDATE user_allocations SET allocated_from = '$first'"
sql "DELETE FROM allocation_history"
# The history rewritten above is counted again when the next import opens the store.
sql "INSERT INTO license_delta_rebuilds (tenant_id) SELECT id FROM tenants"
for day in $(seq 1 $((days - 1))); do
  import_day "$day"
  (( day % 10 == 0 )) && echo "imported day $day of $((days - 1))"
done

python3 - "$log" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
secs = [float(r[2]) for r in rows[1:]]
sizes = [int(r[3]) for r in rows]
growth = [b - a for a, b in zip(sizes, sizes[1:])]
print(f"first import: {float(rows[0][2]):.2f} s, store {sizes[0] / 1e6:.1f} MB")
print(f"daily imports ({len(secs)}): median {statistics.median(secs):.2f} s "
      f"(min {min(secs):.2f}, max {max(secs):.2f}, stdev {statistics.pstdev(secs):.2f})")
print(f"store after {len(rows)} import days: {sizes[-1] / 1e6:.1f} MB; growth per daily import: median "
      f"{statistics.median(growth) / 1e3:.0f} kB (min {min(growth) / 1e3:.0f}, max {max(growth) / 1e3:.0f})")
PY

bench_spawn server2.log env TENANTGRAPH_DATABASE_URL="$store_url" "$bin" serve --bind "127.0.0.1:$port"
wait_ready "http://127.0.0.1:$port/readyz"
month=$(date -u -d "$(date -u +%Y-%m-01) - 1 month" +%Y-%m)
year_ago=$(date -u -d "-365 days" +%F)
today=$(date -u +%F)
declare -A queries=(
  [chargeback]="query(\$id: ID!) { tenant(id: \$id) { chargeback(month: \"$month\") { currency firstDay lastDay costGroups { costGroupId own { licenseDays amount skus { skuId licenseDays amount } } withDescendants { amount } } unallocated { licenseDays amount } unassigned { licenseDays amount } total { licenseDays amount } } } }"
  [consumptionHistory]="query(\$id: ID!) { tenant(id: \$id) { consumptionHistory(from: \"$year_ago\", to: \"$today\") { skuId points { date purchased assigned unassigned suspended } } } }"
  [licenseChanges]="query(\$id: ID!) { tenant(id: \$id) { licenseChanges(from: \"$first\", to: \"$today\", first: 50) { edges { node { kind date userId skuId changes { field before after } } } pageInfo { hasNextPage } } } }"
)
for name in chargeback consumptionHistory licenseChanges; do
  export BODY
  BODY=$(python3 -c 'import json, os, sys; print(json.dumps({"query": sys.argv[1], "variables": {"id": os.environ["TENANT_ID"]}}))' "${queries[$name]}")
  curl -s "$url" -H 'content-type: application/json' -d "$BODY" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert "errors" not in r, r
t = r["data"]["tenant"]
if "chargeback" in t:
    c = t["chargeback"]
    print("check: chargeback %s..%s: total %s %s over %d cost groups, unallocated %s" % (c["firstDay"],
          c["lastDay"], c["total"]["amount"], c["currency"], len(c["costGroups"]), c["unallocated"]["amount"]))
elif "consumptionHistory" in t:
    print("check: %d SKUs, %d points" % (len(t["consumptionHistory"]), sum(len(s["points"]) for s in t["consumptionHistory"])))
else:
    print("check: %d changes in the first page" % len(t["licenseChanges"]["edges"]))
'
  echo "== $name, 1 connection, ${secs} s"
  wrk -t1 -c1 -d"${secs}s" --latency -s benches/body.lua "$url" | grep -E 'Latency|50%|90%|99%|requests in|Non-2xx'
done
if [[ -n ${BENCH_SAVE_STORE:-} && $db_url != postgres* ]]; then
  kill "${bench_pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  store_bytes >/dev/null
  cp "$sqlite_file" "$BENCH_SAVE_STORE"
  echo "store kept in $BENCH_SAVE_STORE"
fi
