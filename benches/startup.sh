#!/usr/bin/env bash
# Start-up and idle memory of `serve --demo` (release build): time from exec to the first 200 from
# /readyz, measured by hyperfine over repeated cold starts (each on a fresh SQLite file, so the
# migrations and the demo data load are included), then the resident memory of an idle server.
# Usage: bash benches/startup.sh [runs, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
BENCH_TOOL=hyperfine source benches/bench_lib.sh
work=$bench_work
port=$(free_port)
cat >"$work/start.sh" <<SH
#!/usr/bin/env bash
# One cold start: fresh database, wait for readiness, stop.
rm -f "$work"/demo.db*
TENANTGRAPH_DATABASE_URL="sqlite://$work/demo.db?mode=rwc" TENANTGRAPH_LOG_LEVEL=warn \
  "$bench_bin" serve --demo --bind 127.0.0.1:$port >/dev/null 2>&1 &
pid=\$!
until curl -sf -o /dev/null http://127.0.0.1:$port/readyz; do
  kill -0 \$pid 2>/dev/null || exit 1
  sleep 0.01
done
kill \$pid; wait \$pid || true
SH
hyperfine --warmup 2 --runs "$runs" --export-json "$work/startup.json" "bash $work/start.sh"
python3 - "$work/startup.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("start to ready: median %.0f ms, min %.0f ms, max %.0f ms, stddev %.0f ms" % (
    r["median"] * 1000, r["min"] * 1000, r["max"] * 1000, r["stddev"] * 1000))
PY
# Idle memory: start once more, answer one query, then read VmRSS after 5 s of idling.
rm -f "$work"/demo.db*
TENANTGRAPH_DATABASE_URL="sqlite://$work/demo.db?mode=rwc" TENANTGRAPH_LOG_LEVEL=warn \
  "$bench_bin" serve --demo --bind "127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
until curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; do sleep 0.01; done
curl -sf -o /dev/null "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' \
  -d '{"query":"{ tenants { edges { node { users(first: 100) { edges { node { displayName } } } } } } }"}'
sleep 5
echo "idle resident memory: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
kill $pid; wait $pid || true
