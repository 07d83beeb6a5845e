#!/usr/bin/env bash
# What authentication and rate limiting cost on the users page query, as a ratio against
# authentication mode none, in one run: two `serve --demo` servers (release build, SQLite) on
# the same data, one with mode none and no rate limit, one checking an HS256 bearer token on
# every request and taking from the principal's rate limit bucket (sized never to refuse).
# Both check the operation limits, which cannot be turned off (their cost alone:
# `cargo bench --bench request_path`). The two are loaded in turn, `rounds` times each, with
# wrk at 8 connections; CPU per request is the server's own (SQLite is in-process).
# Usage: bash benches/auth_overhead.sh [seconds per run, default 10] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-3}
source benches/bench_lib.sh
secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
demo_start none TENANTGRAPH_AUTH_MODE=none
# The demo data is deterministic: the same tenant ids on both servers.
export TENANT_ID=$(demo_tenant "http://127.0.0.1:${demo_port[none]}/graphql")
# A reader of that one tenant, as the Client Portal's users are.
export BEARER=$(python3 benches/hs256_token.py "$secret" \
  '{"oid": "bench", "roles": ["reader"], "tenants": ["'"$TENANT_ID"'"]}')
demo_start hs256 TENANTGRAPH_AUTH_MODE=hs256 TENANTGRAPH_AUTH_HS256_SECRET="$secret" \
  TENANTGRAPH_RATE_LIMIT_PER_SECOND=1000000 TENANTGRAPH_RATE_LIMIT_BURST=1000000
[ "$(demo_tenant "http://127.0.0.1:${demo_port[hs256]}/graphql" "$BEARER")" = "$TENANT_ID" ] \
  || { echo "the servers hold different data" >&2; exit 1; }
# A request without the token must be refused, or the run measures nothing.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${demo_port[hs256]}/graphql" \
  -H 'content-type: application/json' -d '{"query":"{ __typename }"}')
[ "$code" = 401 ] || { echo "the hs256 server answered $code without a token" >&2; exit 1; }

ticks=$(getconf CLK_TCK)
results="$bench_work/results.txt"
for name in none hs256; do   # warm-up
  wrk -t2 -c8 -d2s -s benches/users_page.lua "http://127.0.0.1:${demo_port[$name]}/graphql" >/dev/null
done
for round in $(seq 1 "$rounds"); do
  for name in none hs256; do
    before=$(cpu_ticks "${demo_pid[$name]}")
    out=$(wrk -t2 -c8 -d"${secs}s" --latency -s benches/users_page.lua "http://127.0.0.1:${demo_port[$name]}/graphql")
    after=$(cpu_ticks "${demo_pid[$name]}")
    if echo "$out" | grep -q 'Non-2xx'; then echo "$out" >&2; echo "non-2xx answers from $name" >&2; exit 1; fi
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    cpu_ms=$(python3 -c "print('%.3f' % (($after - $before) / $ticks * 1000 / $requests))")
    echo "round $round $name: $rps req/s, p50 $p50, p99 $p99, CPU $cpu_ms ms/request"
    echo "$name $rps $cpu_ms" >>"$results"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
def of(name, col):
    return [float(r[col]) for r in rows if r[0] == name]
for label, col in (("requests/s", 1), ("CPU ms/request", 2)):
    none, hs = of("none", col), of("hs256", col)
    ratios = [h / n for h, n in zip(hs, none)]
    print(f"{label}: none median {statistics.median(none):.3f}, hs256+rate limit median "
          f"{statistics.median(hs):.3f}; ratio hs256/none median {statistics.median(ratios):.3f} "
          f"(range {min(ratios):.3f}-{max(ratios):.3f})")
PY
