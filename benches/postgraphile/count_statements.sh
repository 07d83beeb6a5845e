#!/usr/bin/env bash
# Counts the SQL statements each server sends per request of each query: logs every statement of
# database $DB for one check run (ALTER DATABASE ... SET log_min_duration_statement = 0, reset
# afterwards; other databases are not affected), then prints, per backend, what it ran.
# Usage: bash count_statements.sh    (env: DB=tg_sbs, TG_BIN)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
DB=${DB:-tg_sbs}; LOG=/var/log/postgresql/postgresql-15-main.log
url="postgres://postgres@127.0.0.1:5432/$DB"
out=${LOG_DIR:-/tmp/sbs}/statements; mkdir -p "$out"
start=$(wc -l <"$LOG")
psql "$url" -qc "ALTER DATABASE $DB SET log_min_duration_statement = 0"
trap 'psql "$url" -qc "ALTER DATABASE $DB RESET log_min_duration_statement"' EXIT
python3 "$here/run_sbs.py" --check-only --db "$DB" --tg-bin "${TG_BIN:-target/release/tenantgraph}" --out "$out"
sleep 1
tail -n +"$((start + 1))" "$LOG" | grep -a "@$DB " >"$out/statements.log" || true
echo "statements logged: $(grep -c 'duration:' "$out/statements.log") (see $out/statements.log)"
grep -a 'duration:' "$out/statements.log" | sed -E 's/^([^[]*)\[([0-9]+)\].*duration: ([0-9.]+) ms  ([a-z]+)[^:]*: (.{0,110}).*/\2 \3ms \4: \5/'
