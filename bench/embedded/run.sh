#!/usr/bin/env bash
# Embedded PostgreSQL vs PGlite, the zero-set-up member: first and later start time (to
# /health 200), idle memory (member RSS; PostgreSQL's processes as PSS, so shared buffers
# count once), and 200 messages over 5 SMTP sessions (postfix's smtp-source) to one local
# account: ingest msg/s (smtp-source's wall time) and delivered msg/s (until none pending).
#   bench/embedded/run.sh [postgres|pglite|external ...]      (needs smtp-source, curl; node)
# external: the same member on the server EXTERNAL_URL names (a fresh database is created there).
set -euo pipefail
cd "$(dirname "$0")/../.."
SMTP_PORT=${SMTP_PORT:-42525}
HTTP_PORT=${HTTP_PORT:-48025}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

start_member() {
  local url=
  [ "$1" = external ] && url=$DB_URL
  env DATABASE_URL="$url" MAILCLUSTER_EMBEDDED="${1/external/}" MAILCLUSTER_DATA="$2" SMTP_PORT=$SMTP_PORT HTTP_PORT=$HTTP_PORT LOG_LEVEL=warn \
    node bin/mailcluster.js start >>"$2.log" 2>&1 &
  MEMBER=$!
  local t0; t0=$(now)
  until curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/health"; do
    kill -0 $MEMBER 2>/dev/null || { echo "member died: $(tail -3 "$2.log")" >&2; exit 1; }
    sleep 0.05
  done
  START_S=$(elapsed "$t0" "$(now)")
}

stop_member() { kill -TERM $MEMBER; wait $MEMBER || true; }

pss_kb() { awk '/^Pss:/ { s += $2 } END { print s + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }

memory() {
  local member_rss pg=0 pm
  member_rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$MEMBER/status")
  if [ -f "$1/pg/postmaster.pid" ]; then
    pm=$(head -1 "$1/pg/postmaster.pid")
    for p in $pm $(pgrep -P "$pm"); do pg=$((pg + $(pss_kb "$p"))); done
  fi
  echo "member_rss_mb=$((member_rss / 1024)) postgres_pss_mb=$((pg / 1024)) total_mb=$(((member_rss + pg) / 1024))"
}

DB_URL=
api() { curl -sf -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' "$@"; }

for kind in "${@:-postgres pglite}"; do
  for k in $kind; do
    dir=$(mktemp -d /tmp/mc-embedded-bench-XXXX)
    chmod 755 "$dir"
    if [ "$k" = external ]; then
      db=mc_embedded_bench_$$
      psql -q "${EXTERNAL_URL:-postgres://postgres@127.0.0.1:5432/postgres}" -c "CREATE DATABASE $db"
      DB_URL="${EXTERNAL_URL:-postgres://postgres@127.0.0.1:5432/postgres}"; DB_URL="${DB_URL%/*}/$db"
    fi
    start_member "$k" "$dir/data"; first=$START_S
    stop_member
    start_member "$k" "$dir/data"; later=$START_S
    sleep 5
    mem=$(memory "$dir/data")
    TOKEN=$(cat "$dir/data/admin-token" 2>/dev/null || DATABASE_URL="${DB_URL:-}" MAILCLUSTER_DATA="$dir/data" node bin/mailcluster.js admin-token)
    api -d '{"name":"example.test"}' "http://127.0.0.1:$HTTP_PORT/api/v1/domains" >/dev/null
    api -d '{"address":"alice@example.test","password":"secret123"}' "http://127.0.0.1:$HTTP_PORT/api/v1/accounts" >/dev/null
    t0=$(now)
    smtp-source -s 5 -m 200 -f bob@remote.test -t alice@example.test "127.0.0.1:$SMTP_PORT"
    t1=$(now)
    until [ "$(api "http://127.0.0.1:$HTTP_PORT/api/v1/queue?state=pending&limit=1" | grep -c '"messageId"')" = 0 ]; do sleep 0.05; done
    t2=$(now)
    ingest=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", 200 / (b - a) }')
    delivered=$(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.0f", 200 / (b - a) }')
    mem_busy=$(memory "$dir/data")
    stop_member
    echo "$k: first_start_s=$first later_start_s=$later idle: $mem; ingest_msg_s=$ingest delivered_msg_s=$delivered after: $mem_busy"
    rm -rf "$dir"
    if [ "$k" = external ]; then psql -q "${EXTERNAL_URL:-postgres://postgres@127.0.0.1:5432/postgres}" -c "DROP DATABASE $db WITH (FORCE)"; DB_URL=; fi
  done
done
