#!/usr/bin/env bash
# History reads of two builds on one SQLite store made by benches/history.sh (BENCH_SAVE_STORE):
# last month's `chargeback`, a year of `consumptionHistory`, and the first and a later page of
# `licenseChanges`, served by build A then build B on their own copies of the store (each applies
# its own migrations), alternating round by round; one request at a time for SECONDS (at least 3
# requests; a slow build's chargeback takes seconds). Prints each round's p50 and p99 and, per
# query, the median of the rounds' p50 ratios B/A with their range; fails when the two builds'
# chargebacks differ in any line, SKU or exact amount.
# Usage: BENCH_A_BIN=… BENCH_B_BIN=… bash benches/history_reads.sh STORE.db|postgres://… [rounds, default 3] [seconds per query, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
store=$1
rounds=${2:-3}
secs=${3:-10}
BENCH_BIN=${BENCH_A_BIN:?set BENCH_A_BIN and BENCH_B_BIN}
: "${BENCH_B_BIN:?set BENCH_B_BIN}"
export BENCH_BIN
source benches/bench_lib.sh
export TENANTGRAPH_IMPORT_SCHEDULE=off TENANTGRAPH_AUTH_MODE=none TENANTGRAPH_RATE_LIMIT_PER_SECOND=0 \
  TENANTGRAPH_LOG_LEVEL=warn TENANTGRAPH_GRAPHQL_TIMEOUT_MS=120000
declare -A bin=([A]=$BENCH_A_BIN [B]=$BENCH_B_BIN)
# STORE is a SQLite file (each build serves a copy of its own) or a postgres:// URL (both builds
# serve that database, one after the other; they must have the same migrations).
declare -A db_url
for b in A B; do
  if [[ $store == postgres* ]]; then
    db_url[$b]=$store
  else
    cp "$store" "$bench_work/$b.db"
    db_url[$b]="sqlite://$bench_work/$b.db?mode=rwc"
  fi
done
results=$bench_work/results.txt

# serve B: serves build B's copy until the next call; sets url.
server=
serve() {
  [[ -n $server ]] && { kill "$server"; wait "$server" 2>/dev/null || true; }
  local port
  port=$(free_port)
  bench_spawn "server-$1.log" env TENANTGRAPH_DATABASE_URL="${db_url[$1]}" \
    "${bin[$1]}" serve --bind "127.0.0.1:$port"
  server=${bench_pids[-1]}
  # The first start of a build migrates its copy (new indexes over the whole history).
  for _ in $(seq 1 1200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  url="http://127.0.0.1:$port/graphql"
}

# post QUERY VARIABLES_JSON: the JSON body.
body() {
  python3 -c 'import json, sys; print(json.dumps({"query": sys.argv[1], "variables": json.loads(sys.argv[2])}))' "$1" "$2"
}

serve A
tenant=$(curl -s "$url" -H 'content-type: application/json' -d '{"query":"{ tenants(first: 1) { edges { node { id } } } }"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenants"]["edges"][0]["node"]["id"])')
month=$(date -u -d "$(date -u +%Y-%m-01) - 1 month" +%Y-%m)
year_ago=$(date -u -d "-365 days" +%F)
today=$(date -u +%F)
changes='query($id: ID!, $from: Date!, $to: Date!, $after: String) { tenant(id: $id) { licenseChanges(from: $from, to: $to, first: 50, after: $after) { edges { node { kind date userId skuId changes { field before after } } } pageInfo { hasNextPage endCursor } } } }'
declare -A queries=(
  [chargeback]='query($id: ID!, $m: String!) { tenant(id: $id) { chargeback(month: $m) { currency firstDay lastDay costGroups { costGroupId own { licenseDays amount skus { skuId licenseDays amount } } withDescendants { amount } } unallocated { licenseDays amount } unassigned { licenseDays amount } total { licenseDays amount } } } }'
  [consumptionHistory]='query($id: ID!, $from: Date!, $to: Date!) { tenant(id: $id) { consumptionHistory(from: $from, to: $to) { skuId points { date purchased assigned unassigned suspended } } } }'
  [licenseChanges]=$changes
  [licenseChangesLater]=$changes
)
declare -A vars=(
  [chargeback]="{\"id\": \"$tenant\", \"m\": \"$month\"}"
  [consumptionHistory]="{\"id\": \"$tenant\", \"from\": \"$year_ago\", \"to\": \"$today\"}"
  [licenseChanges]="{\"id\": \"$tenant\", \"from\": \"$year_ago\", \"to\": \"$today\"}"
)
names=(chargeback consumptionHistory licenseChanges licenseChangesLater)
exact='query($id: ID!, $m: String!) { tenant(id: $id) { chargeback(month: $m) { firstDay lastDay costGroups { costGroupId own { licenseDays exactAmount amount skus { skuId licenseDays exactAmount amount } } withDescendants { licenseDays exactAmount amount } } unallocated { licenseDays exactAmount amount skus { skuId licenseDays exactAmount amount } } unassigned { licenseDays exactAmount amount skus { skuId licenseDays exactAmount amount } } total { licenseDays exactAmount amount } } } }'
for r in $(seq 1 "$rounds"); do
  for b in A B; do
    serve "$b"
    # The later page: 10 pages on (500 events in), found by paging on this build.
    after=null
    for _ in $(seq 1 10); do
      after=$(curl -s "$url" -H 'content-type: application/json' \
        -d "$(body "$changes" "{\"id\": \"$tenant\", \"from\": \"$year_ago\", \"to\": \"$today\", \"after\": $after}")" \
        | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["data"]["tenant"]["licenseChanges"]["pageInfo"]["endCursor"]))')
    done
    vars[licenseChangesLater]="{\"id\": \"$tenant\", \"from\": \"$year_ago\", \"to\": \"$today\", \"after\": $after}"
    # Both builds must give the same month, to the exact amount of every line and SKU.
    if [[ $r == 1 ]]; then
      curl -s "$url" -H 'content-type: application/json' -d "$(body "$exact" "${vars[chargeback]}")" \
        > "$bench_work/answer-$b.json"
    fi
    for name in "${names[@]}"; do
      export BODY
      BODY=$(body "${queries[$name]}" "${vars[$name]}")
      read -r p50 p99 n < <(python3 - "$url" "$secs" <<'PY'
import json, os, statistics, sys, time, urllib.request
url, secs = sys.argv[1], float(sys.argv[2])
times = []
start = time.monotonic()
while time.monotonic() - start < secs or len(times) < 3:
    t0 = time.monotonic()
    req = urllib.request.Request(url, os.environ["BODY"].encode(), {"content-type": "application/json"})
    r = json.load(urllib.request.urlopen(req, timeout=300))
    times.append((time.monotonic() - t0) * 1e3)
    assert "errors" not in r, r
times.sort()
p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
print(f"{statistics.median(times):.3f}ms {p99:.3f}ms {len(times)}")
PY
) || { echo "$name failed on build $b" >&2; exit 1; }
      echo "$r $b $name $p50 $p99 $n" | tee -a "$results"
    done
  done
done
python3 - "$bench_work/answer-A.json" "$bench_work/answer-B.json" <<'PY'
import decimal, json, sys
def exact(v):
    """Decimals by value (12.340 equals 12.34); the rest as it is."""
    if isinstance(v, dict):
        return {k: exact(x) for k, x in v.items()}
    if isinstance(v, list):
        return [exact(x) for x in v]
    try:
        return decimal.Decimal(v) if isinstance(v, str) else v
    except decimal.InvalidOperation:
        return v
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert "errors" not in a and "errors" not in b, (a, b)
if exact(a) != exact(b):
    sys.exit("the builds' chargebacks differ")
c = a["data"]["tenant"]["chargeback"]
print(f"same chargeback from both builds: {len(c['costGroups'])} cost groups, total {c['total']['exactAmount']}")
PY
python3 - "$results" <<'PY'
import re, statistics, sys
def ms(t):
    v, unit = re.match(r"([\d.]+)(us|ms|s)$", t).groups()
    return float(v) * {"us": 1e-3, "ms": 1, "s": 1e3}[unit]
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for r, b, name, p50, p99, n in rows:
    by.setdefault(name, {}).setdefault(r, {})[b] = (ms(p50), ms(p99), int(n))
for name, rounds in by.items():
    ratios = [v["B"][0] / v["A"][0] for v in rounds.values() if "A" in v and "B" in v]
    for b in "AB":
        p50 = [v[b][0] for v in rounds.values()]
        p99 = [v[b][1] for v in rounds.values()]
        print(f"{name} {b}: p50 median {statistics.median(p50):.2f} ms (range {min(p50):.2f}-{max(p50):.2f}), "
              f"p99 median {statistics.median(p99):.2f} ms (range {min(p99):.2f}-{max(p99):.2f})")
    print(f"{name} B/A p50 ratio: median {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f})")
PY
