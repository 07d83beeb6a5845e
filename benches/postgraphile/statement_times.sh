#!/usr/bin/env bash
# What PostgreSQL spends on each statement of tenantgraph's Q1 (the users page): logs every
# statement of database $DB (ALTER DATABASE ... SET log_min_duration_statement = 0, reset
# afterwards) while wrk sends Q1 on one connection for SECS seconds, then prints the mean time of
# each phase (bind: planning; execute) per statement, by its first words. Logging slows every
# statement a little; compare builds with it, not with figures taken without it.
# Usage: TG_BIN=… bash statement_times.sh    (env: DB=tg_sbs, SECS=4, PORT=18080)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
DB=${DB:-tg_sbs}; SECS=${SECS:-4}; PORT=${PORT:-18080}
LOG=/var/log/postgresql/postgresql-15-main.log
url="postgres://postgres@127.0.0.1:5432/$DB"
: "${TG_BIN:?set TG_BIN}"
tenant=$(psql "$url" -Atc "select id from tenants order by name, id limit 1")
body=$(mktemp); trap 'rm -f "$body"' EXIT
python3 - "$here/q1-users-page.tenantgraph.graphql" "$tenant" >"$body" <<'PY'
import json, sys
print(json.dumps({"operationName": "UsersPage", "query": open(sys.argv[1]).read(),
                  "variables": {"tenantId": sys.argv[2]}}))
PY
psql "$url" -qc "ALTER DATABASE $DB SET log_min_duration_statement = 0"
TENANTGRAPH_DATABASE_URL="$url?sslmode=disable" TENANTGRAPH_AUTH_MODE=none \
  TENANTGRAPH_RATE_LIMIT_PER_SECOND=0 TENANTGRAPH_LOG_LEVEL=warn TENANTGRAPH_IMPORT_SCHEDULE=off \
  TENANTGRAPH_METRICS_BIND=off "$TG_BIN" serve --bind "127.0.0.1:$PORT" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; psql "$url" -qc "ALTER DATABASE $DB RESET log_min_duration_statement"; rm -f "$body"' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/readyz" && break; sleep 0.1; done
start=$(wc -l <"$LOG")
BODY_FILE=$body wrk -t1 -c1 -d"${SECS}s" -s "$here/post.lua" "http://127.0.0.1:$PORT/graphql" | grep SUMMARY
sleep 1
tail -n +"$((start + 1))" "$LOG" | grep -a "@$DB .*duration:" \
  | sed -E 's/.*duration: ([0-9.]+) ms  ([a-z]+)[^:]*: (.{0,50}).*/\2|\3|\1/' \
  | awk -F'|' '{k=$1" "$2; s[k]+=$3; n[k]++} END {for (k in s) if (n[k] > 50) printf "%-60s n=%d mean %.3f ms\n", k, n[k], s[k]/n[k]}' \
  | sort
