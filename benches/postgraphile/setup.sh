#!/usr/bin/env bash
# Builds the side-by-side database: creates $DB (default tg_sbs) on the local PostgreSQL 15,
# runs tenantgraph's migrations, imports TENANTS x USERS simulated users (seed SEED) with
# `tenantgraph import` (timed), adds PostGraphile's two computed columns (pgl-extras.sql) and
# runs VACUUM ANALYZE. Refuses to touch an existing database unless RECREATE=1.
# Usage: bash setup.sh            (env: TG_BIN, DB, TENANTS=50, USERS=2000, SEED=7, SIM_PORT=19400)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
TG_BIN=${TG_BIN:-target/release/tenantgraph}
DB=${DB:-tg_sbs}
TENANTS=${TENANTS:-50}; USERS=${USERS:-2000}; SEED=${SEED:-7}; SIM_PORT=${SIM_PORT:-19400}
PG="postgres://postgres@127.0.0.1:5432"
export TENANTGRAPH_DATABASE_URL="$PG/$DB"
log=${LOG_DIR:-/tmp/sbs}; mkdir -p "$log"

if psql "$PG/postgres" -Atc "select 1 from pg_database where datname = '$DB'" | grep -q 1; then
  [[ ${RECREATE:-0} == 1 ]] || { echo "$DB exists; RECREATE=1 drops and rebuilds it" >&2; exit 1; }
  psql "$PG/postgres" -qc "DROP DATABASE $DB"
fi
psql "$PG/postgres" -qc "CREATE DATABASE $DB"
TENANTGRAPH_LOG_LEVEL=warn "$TG_BIN" migrate

TENANTGRAPH_LOG_LEVEL=warn "$TG_BIN" simulate --bind "127.0.0.1:$SIM_PORT" --tenants "$TENANTS" \
  --users-per-tenant "$USERS" --seed "$SEED" >"$log/sim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$SIM_PORT/v1/customers" && break; sleep 0.1; done
export TENANTGRAPH_LOGIN_URL=http://127.0.0.1:$SIM_PORT TENANTGRAPH_PARTNER_CENTER_URL=http://127.0.0.1:$SIM_PORT \
  TENANTGRAPH_GRAPH_URL=http://127.0.0.1:$SIM_PORT TENANTGRAPH_CLIENT_ID=tenantgraph-sim-client \
  TENANTGRAPH_CLIENT_SECRET=sim-client-secret TENANTGRAPH_REFRESH_TOKEN=sim-initial-refresh-token \
  TENANTGRAPH_PARTNER_TENANT_ID=415f1fc4-a74d-4718-bd84-55532608ad38 TENANTGRAPH_LOG_LEVEL=warn \
  TENANTGRAPH_SECRET_KEY="$(head -c32 /dev/urandom | base64)"
t0=$(date +%s.%N)
"$TG_BIN" import >"$log/import.log" 2>&1
t1=$(date +%s.%N)
kill $sim; wait $sim 2>/dev/null || true; trap - EXIT
users=$(psql "$TENANTGRAPH_DATABASE_URL" -Atc "select count(*) from users where deleted_at is null")
python3 -c "t=$t1-$t0; print('import: %.2f s for %d users = %.0f users/s' % (t, $users, $users/t))"
tail -n 5 "$log/import.log"

psql -q -v ON_ERROR_STOP=1 "$TENANTGRAPH_DATABASE_URL" -f "$here/pgl-extras.sql"
psql -q "$TENANTGRAPH_DATABASE_URL" -c "VACUUM ANALYZE"
psql "$TENANTGRAPH_DATABASE_URL" -c "select (select count(*) from tenants) tenants, (select count(*) from users) users,
  (select count(*) from user_licenses) licenses, (select count(*) from subscriptions) skus,
  (select count(*) from users where manager_id is not null) with_manager,
  pg_size_pretty(pg_database_size(current_database())) size"
