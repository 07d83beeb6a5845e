#!/usr/bin/env bash
# The importer's memory over one import (issue 18): simulates TENANTS tenants of USERS users,
# imports them into a fresh store with `tenantgraph import` and samples the importer's resident
# memory (anonymous / file-backed, MB) every half second. Prints the wall time, the peak RSS
# (/usr/bin/time -v), how many tenants committed, and the samples, one line per second.
# Usage: bash benches/import_memory.sh TENANTS USERS [sqlite|postgres] [VAR=VALUE ...]
#   VAR=VALUE pairs go to the importer's environment (e.g. TENANTGRAPH_IMPORT_CONCURRENCY=1).
#   PostgreSQL at 127.0.0.1:5432 (user postgres), database tg_import_memory (dropped, created).
# Alternate two builds with BENCH_BIN (the other against the same simulator: BENCH_SIM_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
tenants=${1:?tenants}
users=${2:?users per tenant}
store=${3:-sqlite}
shift $(($# < 3 ? $# : 3))
BENCH_TOOL=curl source benches/bench_lib.sh
sim_start "$tenants" "$users"
if [[ $store == postgres ]]; then
  pg=postgres://postgres@127.0.0.1:5432
  psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS tg_import_memory" -c "CREATE DATABASE tg_import_memory"
  export TENANTGRAPH_DATABASE_URL=$pg/tg_import_memory
fi
export TENANTGRAPH_LOG_LEVEL=info
start=$(date +%s.%N)
env "$@" /usr/bin/time -v -o "$bench_work/time.txt" "$bench_bin" import >"$bench_work/import.log" 2>&1 &
timed=$!
pid=
for _ in $(seq 1 50); do pid=$(pgrep -P "$timed" | head -1) && [[ -n $pid ]] && break; sleep 0.05; done
: >"$bench_work/samples.txt"
while kill -0 "$timed" 2>/dev/null; do
  awk -v t="$(echo "$(date +%s.%N) - $start" | bc)" \
    '/RssAnon/ {a = $2} /RssFile/ {f = $2} END {if (a) printf "%.1f s %d/%d\n", t, a / 1024, f / 1024}' \
    "/proc/$pid/status" 2>/dev/null >>"$bench_work/samples.txt" || true
  sleep 0.5
done
wait "$timed" || { tail -20 "$bench_work/import.log" >&2; exit 1; }
wall=$(grep -F 'Elapsed (wall clock)' "$bench_work/time.txt" | awk '{print $NF}')
peak=$(grep -F 'Maximum resident set size' "$bench_work/time.txt" | awk '{printf "%d", $NF / 1024}')
committed=$(grep -c 'import committed' "$bench_work/import.log" || true)
echo "import $store $tenants x $users: $wall, importer peak RSS $peak MB, $committed of $tenants tenants committed"
echo "RSS anonymous/file MB over time:"
awk 'NR % 2 == 1' "$bench_work/samples.txt" | paste -sd' '
