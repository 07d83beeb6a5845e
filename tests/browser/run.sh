#!/usr/bin/env bash
# GraphiQL in a real browser: installs Debian's chromium and Playwright for Python where they
# are missing (Playwright downloads no browser here: it drives /usr/bin/chromium), then runs
# graphiql_test.py against the demo server.
# Usage (after `cargo build` or `cargo test`): bash tests/browser/run.sh
#        bash tests/browser/run.sh --install-only   (the browser and Playwright, no test)
# Env: TENANTGRAPH_BIN (default <repo>/target/debug/tenantgraph), CHROMIUM (default
#      /usr/bin/chromium).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=$root/target/browser-venv
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$CHROMIUM" ]; then
  echo "installing Debian's chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium fonts-liberation >/dev/null
fi
if ! "$venv/bin/python" -c 'import playwright.sync_api' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'playwright>=1.50,<2'
fi
"$CHROMIUM" --version 2>/dev/null
[ "${1:-}" = --install-only ] && exit 0
"$venv/bin/python" "$root/tests/browser/graphiql_test.py"
