#!/usr/bin/env bash
# HTTP benchmark: wrk over keep-alive HTTPS against
#   bare   a bare express 5 app on the gateway's TLS settings (bare-server.ts)
#   basic  the gateway's GET /api/v1/whoami with HTTP Basic
#   mtls   the gateway's GET /api/v1/whoami with the admin client certificate
# in one run, on loopback, and prints a Markdown table (bench/README.md).
#
#   bash bench/http/run.sh
#
# Knobs (environment): THREADS=2 CONNECTIONS=32 DURATION=10s WARMUP=15s
# ROUNDS=5 LOG_LEVEL=warn GATEWAY_PORT=18443 BARE_PORT=18444 KEEP_TMP=1.
# Needs wrk, openssl and a C compiler (installed with apt-get when missing;
# that needs root). wrk has no client-certificate option: for mtls it runs
# with wrk-client-cert.so preloaded, which loads the certificate into wrk's
# own TLS context, so all three targets are measured by the same client.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$(pwd)
BENCH=$ROOT/bench/http

THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-15s}
ROUNDS=${ROUNDS:-5}
LOG_LEVEL=${LOG_LEVEL:-warn}
GATEWAY_PORT=${GATEWAY_PORT:-18443}
BARE_PORT=${BARE_PORT:-18444}
HOST=127.0.0.1

# shellcheck source=bench/lib.sh
source bench/lib.sh

# --- tools ------------------------------------------------------------------
need_pkg wrk wrk
need_pkg openssl openssl
need_pkg cc gcc
need_pkg curl curl
[ -d node_modules/express ] || { say "npm ci"; npm ci --no-audit --no-fund >/dev/null; }

for p in "$GATEWAY_PORT" "$BARE_PORT"; do
  port_busy "$p" && die "port $p on $HOST is in use; set GATEWAY_PORT / BARE_PORT"
done

# --- scratch directory, config, PKI -------------------------------------------
scratch_dir credgate-bench

PKI=$TMP/pki
BASIC_USER=bench
BASIC_PASSWORD=$(openssl rand -hex 16)
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
  basic:
    - { username: $BASIC_USER, password: "$BASIC_PASSWORD", principal: bench-basic, roles: [connector] }
pki: { dir: $PKI }
logging: { level: $LOG_LEVEL }
EOF

say "credgate init (dev PKI in $PKI)"
node --import tsx src/app/cli/main.ts --config "$TMP/credgate.yaml" init >"$TMP/init.log" 2>&1 || { cat "$TMP/init.log" >&2; die "init failed"; }

# wrk reads PEM: the admin certificate and its key, taken out of admin.p12.
cp "$PKI/admin.pem" "$TMP/client.pem"
openssl pkcs12 -in "$PKI/admin.p12" -passin "file:$PKI/admin.p12.password" -nocerts -nodes -out "$TMP/client-key.pem" 2>/dev/null ||
  openssl pkcs12 -legacy -in "$PKI/admin.p12" -passin "file:$PKI/admin.p12.password" -nocerts -nodes -out "$TMP/client-key.pem"
cc -shared -fPIC -O2 -o "$TMP/wrk-client-cert.so" "$BENCH/wrk-client-cert.c" -ldl

# --- servers ----------------------------------------------------------------
say "starting the gateway (logging.level=$LOG_LEVEL) and the bare express app"
node --import tsx src/app/cli/main.ts --config "$TMP/credgate.yaml" serve >"$TMP/gateway.log" 2>&1 &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")
BENCH_PKI_DIR=$PKI BENCH_PORT=$BARE_PORT BENCH_HOST=$HOST node --import tsx "$BENCH/bare-server.ts" >"$TMP/bare.log" 2>&1 &
BARE_PID=$!
PIDS+=("$BARE_PID")

wait_up "https://$HOST:$GATEWAY_PORT/healthz" "$GATEWAY_PID" "$TMP/gateway.log"
wait_up "https://$HOST:$BARE_PORT/api/v1/whoami" "$BARE_PID" "$TMP/bare.log"

BASIC_HEADER="Authorization: Basic $(printf '%s:%s' "$BASIC_USER" "$BASIC_PASSWORD" | base64 -w0)"
GATEWAY_URL=https://$HOST:$GATEWAY_PORT/api/v1/whoami
BARE_URL=https://$HOST:$BARE_PORT/api/v1/whoami

# Each credential must really authenticate (a 401 is fast and would flatter the numbers).
check_whoami() { # check_whoami EXPECTED-METHOD curl-args...
  local want=$1 body
  shift
  body=$(curl -skf "$@" "$GATEWAY_URL") || die "whoami with $want credentials failed"
  case $body in *"\"method\":\"$want\""*) ;; *) die "whoami with $want credentials answered $body" ;; esac
}
check_whoami basic -H "$BASIC_HEADER"
check_whoami client-cert --cert "$TMP/client.pem" --key "$TMP/client-key.pem"
if curl -sk -o /dev/null -w '%{http_code}' "$GATEWAY_URL" | grep -qv '^401$'; then die "whoami without credentials did not answer 401"; fi

# --- load -------------------------------------------------------------------
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# run_wrk TARGET ROUND DURATION: one wrk run; ROUND 0 is the warm-up and is not recorded.
run_wrk() {
  local target=$1 round=$2 duration=$3 pid label out t0 t1 s0 s1
  local -a args=(-t"$THREADS" -c"$CONNECTIONS" -d"$duration" --latency -s "$BENCH/wrk-report.lua")
  local -a env=()
  case $target in
  bare) pid=$BARE_PID label="bare express" args+=("$BARE_URL") ;;
  basic) pid=$GATEWAY_PID label="gateway whoami, Basic" args+=(-H "$BASIC_HEADER" "$GATEWAY_URL") ;;
  mtls)
    pid=$GATEWAY_PID label="gateway whoami, mTLS"
    env=(LD_PRELOAD="$TMP/wrk-client-cert.so" WRK_CLIENT_CERT="$TMP/client.pem" WRK_CLIENT_KEY="$TMP/client-key.pem")
    args+=("$GATEWAY_URL")
    ;;
  esac
  out=$TMP/wrk-$target-$round.txt
  t0=$(cpu_ticks "$pid")
  s0=$(date +%s.%N)
  env "${env[@]}" wrk "${args[@]}" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed for $target"; }
  s1=$(date +%s.%N)
  t1=$(cpu_ticks "$pid")
  local json
  json=$(sed -n 's/^BENCH //p' "$out")
  [ -n "$json" ] || { cat "$out" >&2; die "no result from wrk for $target"; }
  case $json in *'"status":0,'*) ;; *) cat "$out" >&2; die "$target: some answers were not 2xx/3xx" ;; esac
  case $json in *'"connect":0,"read":0,"write":0,'*) ;; *) say "$target round $round: wrk counted socket errors: $json" ;; esac
  [ "$round" = 0 ] && return 0
  # Server CPU time per request does not depend on what else the machine is
  # doing (busy neighbours lower req/s, not this), so it backs up the ratio.
  local cpu us requests
  requests=$(printf '%s' "$json" | sed -E 's/.*"requests":([0-9]+).*/\1/')
  cpu=$(awk -v a="$t0" -v b="$t1" -v s="$s0" -v e="$s1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", 100 * (b - a) / hz / (e - s) }')
  us=$(awk -v a="$t0" -v b="$t1" -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", 1e6 * (b - a) / hz / n }')
  printf '%s\n' "${json%\}},\"target\":\"$target\",\"label\":\"$label\",\"round\":$round,\"serverCpu\":$cpu,\"cpuUsPerRequest\":$us}" >>"$TMP/results.jsonl"
  printf '%-6s round %s  %s\n' "$target" "$round" "$(printf '%s' "$json" | sed -E 's/.*"rps":([0-9.]+),"p50":([0-9.]+),"p90":[0-9.]+,"p99":([0-9.]+).*/\1 req\/s  p50 \2 ms  p99 \3 ms/')  server CPU $cpu% = $us us/request" >&2
}

TARGETS=(bare basic mtls)
say "wrk -t$THREADS -c$CONNECTIONS, warm-up $WARMUP per target, then $ROUNDS rounds of $DURATION per target"
for t in "${TARGETS[@]}"; do run_wrk "$t" 0 "$WARMUP"; done
for r in $(seq 1 "$ROUNDS"); do
  for t in "${TARGETS[@]}"; do run_wrk "$t" "$r" "$DURATION"; done
done

kill -0 "$GATEWAY_PID" 2>/dev/null || die "the gateway exited during the run"
grep -q '"level":[56]0' "$TMP/gateway.log" && say "the gateway logged errors: see $TMP/gateway.log (KEEP_TMP=1 keeps it)"

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION (keep-alive), median of $ROUNDS rounds; gateway logging.level=$LOG_LEVEL"
echo
node --import tsx "$BENCH/summarize.ts" "$TMP/results.jsonl"
