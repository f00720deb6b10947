#!/usr/bin/env bash
# Workspace ONE benchmark (bench/README.md, "## Workspace ONE"), two parts:
#
#  1. Ingestion: wrk POSTs the sample enrollment event (EventId 148) with a
#     distinct DeviceUUID per request (wrk-events.lua) over keep-alive HTTPS
#     with HTTP Basic to
#       bare     a bare express 5 app on the gateway's TLS settings that
#                parses the JSON body and answers 202 (bare-server.ts)
#       gateway  POST /connectors/ws1/events on the real gateway: parse,
#                authenticate, store the event and its job in one SQLite
#                transaction, answer 202. jobs.workers = 0 and no key pool,
#                so only ingestion runs.
#     in one run, on loopback, at each connection count in CONNECTIONS_LIST,
#     interleaved rounds; prints a Markdown table (summarize.ts).
#  2. End to end (e2e.ts): with workers on, N enrollments until the Escrow
#     Gateway stand-in has every upload, against native RSA-2048 keygen/s
#     measured in the same run.
#
#   bash bench/ws1/run.sh
#
# Knobs (environment): THREADS=2 CONNECTIONS_LIST="32 4" DURATION=10s
# WARMUP=10s ROUNDS=5 LOG_LEVEL=warn GATEWAY_PORT=18445 BARE_PORT=18446
# E2E=1 E2E_N=200 E2E_ARGS="" KEEP_TMP=1 NODE_FLAGS= (more flags for the
# gateway's node, e.g. --perf-basic-prof for perf) PROFILE_DIR= (the gateway runs with
# --cpu-prof and its main thread's profile is summarized at the end; the
# profiler slows it, so the numbers of such a run are not results).
# Needs wrk, openssl and curl (installed with apt-get when missing; that
# needs root).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$(pwd)
BENCH=$ROOT/bench/ws1

THREADS=${THREADS:-2}
CONNECTIONS_LIST=${CONNECTIONS_LIST:-32 4}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-10s}
ROUNDS=${ROUNDS:-5}
LOG_LEVEL=${LOG_LEVEL:-warn}
GATEWAY_PORT=${GATEWAY_PORT:-18445}
BARE_PORT=${BARE_PORT:-18446}
E2E=${E2E:-1}
E2E_N=${E2E_N:-200}
E2E_ARGS=${E2E_ARGS:-}
HOST=127.0.0.1

# shellcheck source=bench/lib.sh
source bench/lib.sh

# --- tools ------------------------------------------------------------------
need_pkg wrk wrk
need_pkg openssl openssl
need_pkg curl curl
[ -d node_modules/express ] || die "node_modules is missing; run npm ci"

for p in "$GATEWAY_PORT" "$BARE_PORT"; do
  port_busy "$p" && die "port $p on $HOST is in use; set GATEWAY_PORT / BARE_PORT"
done

# --- scratch directory, config, PKI -------------------------------------------
scratch_dir credgate-bench-ws1

PKI=$TMP/pki
EVENTS_USER=ws1-events
EVENTS_PASSWORD=$(openssl rand -hex 16)
mkdir -p "$TMP/eg"

# The connector needs an EG client identity and CA on disk; with no workers
# nothing is ever uploaded, so a throwaway self-signed one does.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/eg/client-key.pem" -out "$TMP/eg/client.pem" \
  -subj /CN=bench-eg-client -days 2 2>/dev/null
openssl pkcs12 -export -in "$TMP/eg/client.pem" -inkey "$TMP/eg/client-key.pem" -out "$TMP/eg/client.p12" -passout pass:bench-eg-p12

BENCH_EVENTS_PASSWORD=$EVENTS_PASSWORD node --import tsx "$BENCH/connector-file.ts" "$TMP/connectors" "$TMP/eg"

cat >"$TMP/credgate.yaml" <<EOF
server:
  host: $HOST
  port: $GATEWAY_PORT
  tls: { cert: $PKI/server.pem, key: $PKI/server-key.pem }
database: { client: sqlite, filename: $TMP/credgate.db }
auth:
  clientCertificates:
    trust: [$PKI/root-ca.pem, $PKI/issuing-ca.pem]
    allow:
      - { subject: "CN=credgate-admin, O=credgate dev", principal: admin, roles: [admin] }
connectors: { dir: $TMP/connectors }
jobs: { workers: 0 }
pki: { dir: $PKI, keyPool: {} }
logging: { level: $LOG_LEVEL }
EOF

say "credgate init (dev PKI in $PKI)"
node --import tsx src/app/cli/main.ts --config "$TMP/credgate.yaml" init >"$TMP/init.log" 2>&1 || { cat "$TMP/init.log" >&2; die "init failed"; }

# --- servers ----------------------------------------------------------------
say "starting the gateway (jobs.workers=0, logging.level=$LOG_LEVEL) and the bare express app"
PROF_ARGS=()
[ -n "${PROFILE_DIR:-}" ] && PROF_ARGS=(--cpu-prof "--cpu-prof-dir=$PROFILE_DIR")
# shellcheck disable=SC2206 # NODE_FLAGS is a list of flags
PROF_ARGS+=(${NODE_FLAGS:-})
node "${PROF_ARGS[@]}" --import tsx src/app/cli/main.ts --config "$TMP/credgate.yaml" serve >"$TMP/gateway.log" 2>&1 &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")
BENCH_PKI_DIR=$PKI BENCH_PORT=$BARE_PORT BENCH_HOST=$HOST node --import tsx "$BENCH/bare-server.ts" >"$TMP/bare.log" 2>&1 &
BARE_PID=$!
PIDS+=("$BARE_PID")

# The bare app has no route at /: any HTTP answer means it is up.
wait_up "https://$HOST:$GATEWAY_PORT/healthz" "$GATEWAY_PID" "$TMP/gateway.log" any-status
wait_up "https://$HOST:$BARE_PORT/" "$BARE_PID" "$TMP/bare.log" any-status

AUTH="Basic $(printf '%s:%s' "$EVENTS_USER" "$EVENTS_PASSWORD" | base64 -w0)"
GATEWAY_URL=https://$HOST:$GATEWAY_PORT/connectors/ws1/events
BARE_URL=https://$HOST:$BARE_PORT/connectors/ws1/events

# Each target must really do the work: a 401 or a duplicate is fast and would flatter the numbers.
EVENT='{"EventId":148,"EventType":"MDM Enrollment Complete","DeviceId":15,"EnrollmentUserName":"zenny","EnrollmentEmailAddress":"zenny@example.com","EventTime":"2020-02-24T16:52:25.9231303Z","DeviceUUID":"00000000-check-4000-8000-000000000001","EnrollmentUserUUID":"fe13e814-7415-4fce-9f47-de5a55bfe57a"}'
post() { curl -sk -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' "$@"; }
[ "$(post -H "Authorization: $AUTH" --data-binary "$EVENT" "$GATEWAY_URL")" = 202 ] || die "the gateway did not answer 202 to a new event"
[ "$(post -H "Authorization: $AUTH" --data-binary "$EVENT" "$GATEWAY_URL")" = 200 ] || die "the gateway did not answer 200 to a duplicate"
[ "$(post --data-binary "$EVENT" "$GATEWAY_URL")" = 401 ] || die "the gateway did not answer 401 without credentials"
[ "$(post -H "Authorization: $AUTH" --data-binary "$EVENT" "$BARE_URL")" = 202 ] || die "the bare app did not answer 202"

# --- load -------------------------------------------------------------------
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
RUN_NO=0
GATEWAY_REQUESTS=0

# run_wrk TARGET CONNECTIONS ROUND DURATION: one wrk run; ROUND 0 is the warm-up and is not recorded.
run_wrk() {
  local target=$1 conns=$2 round=$3 duration=$4 pid label url out t0 t1 s0 s1
  case $target in
  bare) pid=$BARE_PID label="bare express" url=$BARE_URL ;;
  gateway) pid=$GATEWAY_PID label="gateway, event stored + job queued" url=$GATEWAY_URL ;;
  esac
  RUN_NO=$((RUN_NO + 1))
  out=$TMP/wrk-$target-c$conns-$round.txt
  t0=$(cpu_ticks "$pid")
  s0=$(date +%s.%N)
  WS1_RUN=$RUN_NO WS1_AUTH="$AUTH" wrk -t"$THREADS" -c"$conns" -d"$duration" --latency -s "$BENCH/wrk-events.lua" "$url" >"$out" 2>&1 ||
    { cat "$out" >&2; die "wrk failed for $target"; }
  s1=$(date +%s.%N)
  t1=$(cpu_ticks "$pid")
  local json
  json=$(sed -n 's/^BENCH //p' "$out")
  [ -n "$json" ] || { cat "$out" >&2; die "no result from wrk for $target"; }
  case $json in *'"status":0,'*) ;; *) cat "$out" >&2; die "$target: some answers were not 2xx/3xx" ;; esac
  case $json in *'"connect":0,"read":0,"write":0,'*) ;; *) say "$target c=$conns round $round: wrk counted socket errors: $json" ;; esac
  local requests
  requests=$(printf '%s' "$json" | sed -E 's/.*"requests":([0-9]+).*/\1/')
  [ "$target" = gateway ] && GATEWAY_REQUESTS=$((GATEWAY_REQUESTS + requests))
  [ "$round" = 0 ] && return 0
  local cpu us
  cpu=$(awk -v a="$t0" -v b="$t1" -v s="$s0" -v e="$s1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", 100 * (b - a) / hz / (e - s) }')
  us=$(awk -v a="$t0" -v b="$t1" -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", 1e6 * (b - a) / hz / n }')
  printf '%s\n' "${json%\}},\"target\":\"$target\",\"label\":\"$label\",\"connections\":$conns,\"round\":$round,\"serverCpu\":$cpu,\"cpuUsPerRequest\":$us}" >>"$TMP/results.jsonl"
  printf '%-7s c=%-3s round %s  %s\n' "$target" "$conns" "$round" "$(printf '%s' "$json" | sed -E 's/.*"rps":([0-9.]+),"p50":([0-9.]+),"p90":[0-9.]+,"p99":([0-9.]+).*/\1 req\/s  p50 \2 ms  p99 \3 ms/')  server CPU $cpu% = $us us/request" >&2
}

TARGETS=(bare gateway)
for c in $CONNECTIONS_LIST; do
  say "wrk -t$THREADS -c$c, warm-up $WARMUP per target, then $ROUNDS rounds of $DURATION per target"
  for t in "${TARGETS[@]}"; do run_wrk "$t" "$c" 0 "$WARMUP"; done
  for r in $(seq 1 "$ROUNDS"); do
    for t in "${TARGETS[@]}"; do run_wrk "$t" "$c" "$r" "$DURATION"; done
  done
done

kill -0 "$GATEWAY_PID" 2>/dev/null || die "the gateway exited during the run"
grep -q '"level":[56]0' "$TMP/gateway.log" && say "the gateway logged errors: see $TMP/gateway.log (KEEP_TMP=1 keeps it)"

# Every request wrk counted must be a stored event with its job (requests cut
# off when a run ends may add a few more).
read -r EVENTS JOBS < <(node -e '
  const db = new (require("better-sqlite3"))(process.argv[1], { readonly: true });
  const n = (sql) => Object.values(db.prepare(sql).get())[0];
  console.log(n("select count(*) from mdm_events"), n("select count(*) from jobs where type = '\''mdm.event'\''"));
' "$TMP/credgate.db")
say "gateway: wrk counted $GATEWAY_REQUESTS requests (+1 check); the database holds $EVENTS events and $JOBS event jobs"
[ "$EVENTS" -ge "$((GATEWAY_REQUESTS + 1))" ] || die "fewer events stored ($EVENTS) than acknowledged ($((GATEWAY_REQUESTS + 1)))"
[ "$EVENTS" = "$JOBS" ] || die "events ($EVENTS) and event jobs ($JOBS) differ"

kill "$GATEWAY_PID" "$BARE_PID" 2>/dev/null || true
wait "$GATEWAY_PID" 2>/dev/null || true
[ -n "${PROFILE_DIR:-}" ] && node --import tsx "$BENCH/profile.ts" "$PROFILE_DIR" >&2

echo
echo "wrk -t$THREADS -d$DURATION (keep-alive HTTPS, Basic), median of $ROUNDS interleaved rounds; gateway logging.level=$LOG_LEVEL, jobs.workers=0"
echo
node --import tsx "$BENCH/summarize.ts" "$TMP/results.jsonl"
echo
echo "gateway: $GATEWAY_REQUESTS requests counted by wrk, $EVENTS events and $JOBS event jobs stored (SQLite, $(du -h "$TMP/credgate.db" | cut -f1) database)"

if [ "$E2E" = 1 ]; then
  echo
  say "end to end: $E2E_N enrollments per variant"
  # shellcheck disable=SC2086
  node --import tsx "$BENCH/e2e.ts" --n "$E2E_N" $E2E_ARGS
fi
