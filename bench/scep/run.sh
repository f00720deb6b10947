#!/usr/bin/env bash
# SCEP enrollments per second: test/tools/scepload (a load generator on the
# micromdm/scep Go library) against credgate and against micromdm's own
# scepserver, in one run on this machine, over plain HTTP on loopback.
#
#   bash bench/scep/run.sh
#
# Both servers sign with an RSA-2048 CA and check a static challenge. Each
# round sends N PKCSReq (distinct client keys) C at a time; scepload decrypts
# every CertRep, checks the chain and counts repeated serials. scepload's
# transactionID is derived from the key, so each credgate round uses a fresh
# SCEP profile (otherwise credgate would answer the repeats from its
# transaction log, which is faster and would flatter it).
#
# The first WARMUP rounds (default 3, 900 enrollments) are not recorded:
# credgate's JavaScript runs unoptimized until V8 has seen it for a while,
# and a SCEP server serves steady traffic, not its first few hundred
# requests (micromdm is compiled ahead of time and gets the same rounds).
#
# Knobs: N=300 C=16 ROUNDS=3 WARMUP=3 SCEPLOAD=/tmp/scepload
# CREDGATE_PORT=18091 MICROMDM_PORT=18090 KEEP_TMP=1, and NODE_FLAGS for
# credgate's node (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
N=${N:-300}
C=${C:-16}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-3}
SCEPLOAD=${SCEPLOAD:-/tmp/scepload}
CREDGATE_PORT=${CREDGATE_PORT:-18091}
MICROMDM_PORT=${MICROMDM_PORT:-18090}
CHALLENGE=bench-challenge-$(openssl rand -hex 8)
HOST=127.0.0.1

# shellcheck source=bench/lib.sh
source bench/lib.sh

# --- tools ------------------------------------------------------------------
need_pkg scepserver scep
need_pkg curl curl
[ -x /usr/bin/time ] || need_pkg /usr/bin/time time
if [ ! -x "$SCEPLOAD" ]; then
  say "building scepload from test/tools/scepload into $SCEPLOAD"
  bash test/tools/scepload/build.sh "$SCEPLOAD" >&2
fi
[ -d node_modules/express ] || { say "npm ci"; npm ci --no-audit --no-fund >/dev/null; }

for p in "$CREDGATE_PORT" "$MICROMDM_PORT"; do
  port_busy "$p" && die "port $p on $HOST is in use; set CREDGATE_PORT / MICROMDM_PORT"
done
scratch_dir credgate-scep-bench

# --- micromdm scepserver ------------------------------------------------------
say "micromdm scepserver: RSA-2048 CA in $TMP/depot"
scepserver ca -init -depot "$TMP/depot" -keySize 2048 >/dev/null 2>&1
scepserver -depot "$TMP/depot" -port "$MICROMDM_PORT" -challenge "$CHALLENGE" -allowrenew 0 >"$TMP/micromdm.log" 2>&1 &
MICROMDM_PID=$!
PIDS+=("$MICROMDM_PID")

# --- credgate ---------------------------------------------------------------
say "credgate: RSA-2048 CA, SQLite, plain HTTP on $CREDGATE_PORT"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/ca-key.pem" -out "$TMP/ca.pem" -days 30 -subj "/CN=credgate bench CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
{
  cat <<EOF
server:
  host: $HOST
  port: 0
  tls: { cert: $TMP/pki/server.pem, key: $TMP/pki/server-key.pem }
  http: { port: $CREDGATE_PORT }
database: { client: sqlite, filename: $TMP/credgate.db }
auth:
  clientCertificates:
    trust: [$TMP/pki/root-ca.pem]
    allow: [{ subject: "CN=credgate-admin, O=credgate dev", principal: admin, roles: [admin] }]
pki:
  dir: $TMP/pki
  cas: { bench: { cert: $TMP/ca.pem, key: $TMP/ca-key.pem } }
  defaultCa: bench
  keyPool: {}
logging: { level: warn }
scep:
  profiles:
    default: {}
EOF
  for r in $(seq 1 "$((WARMUP + ROUNDS))"); do echo "    r$r: { challenge: { static: $CHALLENGE } }"; done
} >"$TMP/credgate.yaml"
# shellcheck disable=SC2086 # NODE_FLAGS is a list of flags
# CREDGATE_PORT is this script's; credgate refuses CREDGATE_* variables that name no setting.
env -u CREDGATE_PORT node ${NODE_FLAGS:-} --import tsx src/app/cli/main.ts --config "$TMP/credgate.yaml" serve >"$TMP/credgate.log" 2>&1 &
CREDGATE_PID=$!
PIDS+=("$CREDGATE_PID")

wait_up "http://$HOST:$MICROMDM_PORT/scep?operation=GetCACaps" "$MICROMDM_PID" "$TMP/micromdm.log"
wait_up "http://$HOST:$CREDGATE_PORT/scep/r1?operation=GetCACaps" "$CREDGATE_PID" "$TMP/credgate.log"

# --- load -------------------------------------------------------------------
# The warm-up rounds also make scepload's cached client keys on a first run.
# CPU time (user + system, ms) a process has used so far.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }
load() { # load LABEL URL SERVER-PID: scepload's line plus the CPU ms per enrollment of server and client
  local line before after
  before=$(cpu_ms "$3")
  line=$(/usr/bin/time -f 'client_cpu=%U+%S' -o "$TMP/client.cpu" "$SCEPLOAD" -url "$2" -n "$N" -c "$C" -challenge "$CHALLENGE" 2>"$TMP/scepload.err") || true
  after=$(cpu_ms "$3")
  [ -n "$line" ] || { cat "$TMP/scepload.err" >&2; die "scepload against $1 printed nothing"; }
  local client
  client=$(sed -n 's/^client_cpu=//p' "$TMP/client.cpu" | awk -F+ '{ print ($1 + $2) * 1000 }')
  printf '%s %s server_cpu=%s client_cpu=%s\n' "$1" "$line" "$(awk -v a="$before" -v b="$after" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / n }')" \
    "$(awk -v c="$client" -v n="$N" 'BEGIN { printf "%.2f", c / n }')"
}
RESULTS=$TMP/results.txt
: >"$RESULTS"
for r in $(seq 1 "$((WARMUP + ROUNDS))"); do
  for target in micromdm credgate; do
    case $target in
    micromdm) url=http://$HOST:$MICROMDM_PORT/scep pid=$MICROMDM_PID ;;
    credgate) url=http://$HOST:$CREDGATE_PORT/scep/r$r pid=$CREDGATE_PID ;;
    esac
    out=$(load "$target" "$url" "$pid")
    if [ "$r" -le "$WARMUP" ]; then
      say "warm-up $r: $out"
    else
      say "round $((r - WARMUP)): $out"
      echo "$out" >>"$RESULTS"
    fi
  done
done

# --- summary: medians over rounds -------------------------------------------
node - "$RESULTS" "$N" "$C" <<'EOF'
const [file, n, c] = process.argv.slice(2);
const rows = require('node:fs').readFileSync(file, 'utf8').trim().split('\n').map((line) => {
  const [target, ...fields] = line.split(' ');
  const f = Object.fromEntries(fields.map((kv) => kv.split('=')));
  return { target, ok: +f.ok, fails: +f.fails, dups: +f.dup_serials, rate: parseFloat(f.rate), p50: parseFloat(f.p50), p99: parseFloat(f.p99), server: +f.server_cpu, client: +f.client_cpu };
});
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const by = (t) => rows.filter((r) => r.target === t);
const summary = Object.fromEntries(['micromdm', 'credgate'].map((t) => {
  const rs = by(t);
  // scepload's rate counts successful enrollments only.
  return [t, { rate: median(rs.map((r) => r.rate)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), server: median(rs.map((r) => r.server)), client: median(rs.map((r) => r.client)), fails: sum(rs.map((r) => r.fails)), dups: sum(rs.map((r) => r.dups)), rounds: rs.length }];
}));
console.log(`\nscepload n=${n} c=${c}, median of ${summary.credgate.rounds} rounds (successful enrollments/s)\n`);
console.log('| server | enrollments/s | p50 ms | p99 ms | server CPU ms per enrollment | scepload CPU ms per enrollment | failed | duplicate serials |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const [t, s] of Object.entries(summary)) console.log(`| ${t} | ${s.rate.toFixed(1)} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.server.toFixed(2)} | ${s.client.toFixed(2)} | ${s.fails} | ${s.dups} |`);
console.log(`\ncredgate / micromdm: ${(summary.credgate.rate / summary.micromdm.rate).toFixed(2)}x`);
EOF
