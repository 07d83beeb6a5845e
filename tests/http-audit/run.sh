#!/usr/bin/env bash
# The GraphQL-over-HTTP spec's audit suite (npm graphql-http, pinned in package-lock.json)
# against `tenantgraph serve --demo`: prints each audit, fails when a MUST audit fails.
# Usage (after `cargo build` or `cargo test`): bash tests/http-audit/run.sh
# Env: TENANTGRAPH_BIN (default <repo>/target/debug/tenantgraph).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TENANTGRAPH_BIN=${TENANTGRAPH_BIN:-$ROOT/target/debug/tenantgraph}
WORK=$(mktemp -d -t tenantgraph-audit.XXXXXX)
PID=
cleanup() {
  local rc=$?
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  if [ "$rc" -ne 0 ] && [ -e "$WORK/tenantgraph.log" ]; then
    echo "----- tenantgraph.log -----" >&2
    tail -n 50 "$WORK/tenantgraph.log" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
die() { echo "error: $*" >&2; exit 1; }

[ -x "$TENANTGRAPH_BIN" ] || die "$TENANTGRAPH_BIN not found: run cargo build first"
(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) \
  || { cat "$WORK/npm.log" >&2; die "npm ci failed"; }

PORT=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
TENANTGRAPH_DATABASE_URL="sqlite://$WORK/audit.db?mode=rwc" \
  "$TENANTGRAPH_BIN" serve --demo --bind "127.0.0.1:$PORT" >"$WORK/tenantgraph.log" 2>&1 &
PID=$!
end=$((SECONDS + 60))
until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/readyz" 2>/dev/null; do
  kill -0 "$PID" 2>/dev/null || die "tenantgraph exited before becoming ready"
  [ "$SECONDS" -lt "$end" ] || die "tenantgraph not ready after 60s"
  sleep 0.2
done

node "$HERE/audit.mjs" "http://127.0.0.1:$PORT/graphql"
