#!/usr/bin/env bash
# Federation test: tenantgraph (--demo) + billing subgraph composed and joined through an Apollo gateway.
# Usage (after `cargo build`): bash tests/federation/run.sh
# Env: TENANTGRAPH_BIN (default <repo>/target/debug/tenantgraph),
#      TENANTGRAPH_SCHEMA (default <repo>/schema.graphql).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$HERE" rev-parse --show-toplevel)
TENANTGRAPH_BIN=${TENANTGRAPH_BIN:-$ROOT/target/debug/tenantgraph}
TENANTGRAPH_SCHEMA=${TENANTGRAPH_SCHEMA:-$ROOT/schema.graphql}

WORK=$(mktemp -d -t tenantgraph-fed.XXXXXX)
PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ]; then
    for log in "$WORK"/*.log; do
      [ -e "$log" ] || continue
      echo "----- $(basename "$log") -----" >&2
      tail -n 100 "$log" >&2
    done
    echo "FAIL: federation test (exit $rc)" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "error: $*" >&2; exit 1; }

# Polls until `curl "$@"` succeeds, or fails after $deadline seconds or if process $pid died.
wait_for() {
  local what=$1 pid=$2 deadline=$3; shift 3
  local end=$((SECONDS + deadline))
  until curl -fsS -o /dev/null --max-time 2 "$@" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "$what exited before becoming ready"
    [ "$SECONDS" -lt "$end" ] || die "$what not ready after ${deadline}s"
    sleep 0.2
  done
  echo "$what ready"
}
graphql_ping=(-H 'content-type: application/json' --data '{"query":"{ __typename }"}')

[ -x "$TENANTGRAPH_BIN" ] || die "$TENANTGRAPH_BIN not found: run cargo build first"
[ -f "$TENANTGRAPH_SCHEMA" ] || die "$TENANTGRAPH_SCHEMA not found"

echo "npm ci ..."
(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) || die "npm ci failed"

read -r TG_PORT BILLING_PORT GATEWAY_PORT < <(node -e '
  const net = require("net");
  const servers = [0, 1, 2].map(() => net.createServer().listen(0, "127.0.0.1"));
  setTimeout(() => { console.log(servers.map(s => s.address().port).join(" ")); servers.forEach(s => s.close()); }, 100);
')

echo "starting tenantgraph on 127.0.0.1:$TG_PORT"
TENANTGRAPH_DATABASE_URL="sqlite://$WORK/fed.db?mode=rwc" \
  "$TENANTGRAPH_BIN" serve --demo --bind "127.0.0.1:$TG_PORT" >"$WORK/tenantgraph.log" 2>&1 &
PIDS+=($!)
wait_for tenantgraph "$!" 60 "http://127.0.0.1:$TG_PORT/readyz"

node "$HERE/billing-subgraph.mjs" "$BILLING_PORT" >"$WORK/billing.log" 2>&1 &
PIDS+=($!)
wait_for billing "$!" 30 "${graphql_ping[@]}" "http://127.0.0.1:$BILLING_PORT/"

node "$HERE/compose.mjs" "$TENANTGRAPH_SCHEMA" "$WORK/supergraph.graphql" >"$WORK/compose.log" 2>&1 \
  || die "composition failed (compose.log below)"
echo "composed supergraph"

TENANTGRAPH_URL="http://127.0.0.1:$TG_PORT/graphql" BILLING_URL="http://127.0.0.1:$BILLING_PORT/" \
  node "$HERE/gateway.mjs" "$WORK/supergraph.graphql" "$GATEWAY_PORT" >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)
wait_for gateway "$!" 30 "${graphql_ping[@]}" "http://127.0.0.1:$GATEWAY_PORT/"

node "$HERE/check.mjs" "http://127.0.0.1:$GATEWAY_PORT/"
echo "PASS: federation test (tenantgraph + billing joined through the gateway)"
