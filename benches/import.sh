#!/usr/bin/env bash
# Import benchmarks: `tenantgraph import` (release build, SQLite) against `tenantgraph simulate`
# running in its own process, so only the importer's time and memory are measured.
#   throughput   first import of 1 tenant x 100,000 users and of 100 tenants x 1,000 users (users/s)
#   memory       peak resident memory of `tenantgraph import` on one tenant of 200,000 users
#   concurrency  200 tenants x 500 users with 200 ms added to every upstream response, against the
#                ideal time for TENANTGRAPH_IMPORT_CONCURRENCY (default 8)
#   daily        1 tenant x 100,000 users imported on day 0, then RUNS daily (delta) imports of the
#                simulator's next days (about 1 % hired, some leaving, moving or changing licenses
#                each day), each observed on its own date: the time of each daily import, which is
#                where history is written (not part of `all`); BENCH_DATABASE_URL=postgres://… runs it
#                on that PostgreSQL database (emptied first) instead of SQLite
#   next         RUNS times, one more daily import into a fresh copy of BENCH_STORE (a SQLite store
#                saved by history.sh, its last import today, BENCH_USERS users, default 100,000):
#                the simulator's day BENCH_DAY (history.sh's days) observed today, on a tenant
#                with cost groups, rules and overrides; each copy is migrated first, outside the
#                timing (not part of `all`)
# Usage: bash benches/import.sh [throughput|memory|concurrency|daily|next|all] [runs, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
runs=${2:-5}
BENCH_TOOL=hyperfine source benches/bench_lib.sh
bin=$bench_bin
work=$bench_work

# first_import NAME USERS: hyperfine over first imports (a fresh database each run).
first_import() {
  hyperfine --runs "$runs" --prepare "rm -f $work/bench.db $work/bench.db-wal $work/bench.db-shm" \
    --export-json "$work/$1.json" "$bin import >/dev/null" >/dev/null
  python3 - "$work/$1.json" "$2" "$1" <<'PY'
import json, statistics, sys
times = json.load(open(sys.argv[1]))["results"][0]["times"]
users = int(sys.argv[2])
med = statistics.median(times)
print(f"{sys.argv[3]}: {users} users, median {med:.2f} s (min {min(times):.2f}, max {max(times):.2f}, "
      f"stdev {statistics.pstdev(times):.2f}) -> {users / med:,.0f} users/s "
      f"(range {users / max(times):,.0f} to {users / min(times):,.0f})")
PY
}

if [[ $what == throughput || $what == all ]]; then
  sim_start 1 100000; first_import one-tenant-100k 100000
  sim_start 100 1000; first_import hundred-tenants-1k 100000
fi

if [[ $what == memory || $what == all ]]; then
  sim_start 1 200000
  for i in $(seq 1 "$runs"); do
    rm -f "$work"/bench.db*
    /usr/bin/time -f "%M %e" -o "$work/time.txt" "$bin" import >/dev/null 2>&1
    read -r kb secs <"$work/time.txt"
    echo "memory run $i: peak RSS $((kb / 1024)) MB, $secs s for 200000 users"
  done
fi

if [[ $what == concurrency || $what == all ]]; then
  tenants=200 users=500 latency_ms=200 concurrency=${TENANTGRAPH_IMPORT_CONCURRENCY:-8}
  sim_start $tenants $users $latency_ms
  # Requests in sequence per tenant: token, subscribedSkus, the delta link, ceil(users/100) user
  # pages; before them, the Partner Center token and ceil(tenants/100) customer pages.
  per_tenant=$((3 + (users + 99) / 100))
  listing=$((1 + (tenants + 99) / 100))
  ideal=$(python3 -c "import math; print(($listing + math.ceil($tenants / $concurrency) * $per_tenant) * $latency_ms / 1000)")
  hyperfine --runs "$runs" --prepare "rm -f $work/bench.db $work/bench.db-wal $work/bench.db-shm" \
    --export-json "$work/conc.json" "$bin import >/dev/null" >/dev/null
  python3 - "$work/conc.json" "$ideal" <<'PY'
import json, statistics, sys
times = json.load(open(sys.argv[1]))["results"][0]["times"]
ideal = float(sys.argv[2])
med = statistics.median(times)
print(f"concurrency: median {med:.2f} s (min {min(times):.2f}, max {max(times):.2f}); ideal {ideal:.2f} s; "
      f"ratio {med / ideal:.3f} (max {max(times) / ideal:.3f})")
PY
fi

if [[ $what == next ]]; then
  : "${BENCH_STORE:?set BENCH_STORE to a store saved by history.sh}" "${BENCH_DAY:?set BENCH_DAY}"
  sim_start 1 "${BENCH_USERS:-100000}" 0 "$BENCH_DAY"
  : >"$work/daily.txt"
  for _ in $(seq 1 "$runs"); do
    rm -f "$work"/bench.db*
    cp "$BENCH_STORE" "$work/bench.db"
    # The stored delta link names the simulator that served history.sh: this one's address.
    python3 - "$work/bench.db" "$TENANTGRAPH_GRAPH_URL" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE tenant_import_states SET delta_link = ? || substr(delta_link, "
           "instr(substr(delta_link, 9), '/') + 8) WHERE delta_link IS NOT NULL", (sys.argv[2],))
db.commit()
PY
    "$bin" migrate >/dev/null
    t0=$(date +%s.%N)
    "$bin" import --as-of "$(date -u +%F)" >/dev/null
    python3 -c "print($(date +%s.%N) - $t0)" >>"$work/daily.txt"
  done
  echo "first: none (a copy of $BENCH_STORE) in 0 s"
fi
if [[ $what == daily ]]; then
  first=$(date -u -d "-$runs days" +%F)
  # Builds from before `import --as-of` import as observed today.
  as_of() { if "$bin" import --help | grep -q -- --as-of; then echo "--as-of $1"; fi; }
  rm -f "$work"/bench.db*
  if [[ ${BENCH_DATABASE_URL:-} == postgres* ]]; then
    psql "$BENCH_DATABASE_URL" -qc 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;'
  fi
  sim_start 1 100000 0 0
  t0=$(date +%s.%N)
  "$bin" import $(as_of "$first") >/dev/null
  python3 -c "print(f'first: 1 x 100,000 users imported in {$(date +%s.%N) - $t0:.2f} s')"
  : >"$work/daily.txt"
  for day in $(seq 1 "$runs"); do
    sim_start 1 100000 0 "$day"
    on=$(date -u -d "$first + $day days" +%F)
    t0=$(date +%s.%N)
    "$bin" import $(as_of "$on") >/dev/null
    python3 -c "print($(date +%s.%N) - $t0)" >>"$work/daily.txt"
  done
fi
if [[ $what == daily || $what == next ]]; then
  python3 - "$work/daily.txt" <<'PY'
import statistics, sys
times = [float(line) for line in open(sys.argv[1])]
print(f"daily: {len(times)} delta imports of 1 x 100,000 users, median {statistics.median(times):.2f} s "
      f"(min {min(times):.2f}, max {max(times):.2f}, stdev {statistics.pstdev(times):.2f}); "
      + ", ".join(f"{t:.2f}" for t in times))
PY
fi
