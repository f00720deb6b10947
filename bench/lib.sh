# Shared by the bench/*/run.sh scripts: messages, Debian tools, a scratch
# directory whose servers are stopped on exit, and waiting for a server.
# The caller sets HOST (for port_busy) and runs from the repository root.

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

APT_UPDATED=
need_pkg() { # need_pkg COMMAND DEBIAN-PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "$1 is missing; install the Debian package $2"
  if [ -z "$APT_UPDATED" ]; then
    say "apt-get update"
    apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  say "apt-get install $2"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  command -v "$1" >/dev/null 2>&1 || die "installing $2 did not provide $1"
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# scratch_dir NAME: sets TMP to a new directory and PIDS to (); on exit the
# processes in PIDS are stopped and TMP removed (kept with KEEP_TMP=1).
scratch_dir() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  PIDS=()
  trap cleanup EXIT
}
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "${KEEP_TMP:-}" ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
}

# wait_up URL PID LOG [any-status]: up to 60 s for URL to answer 2xx (with
# any-status, any HTTP answer); dies with LOG if process PID exits first.
wait_up() {
  local fail=-f
  [ "${4:-}" = any-status ] && fail=
  for _ in $(seq 1 120); do
    curl -sk $fail -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; die "server for $1 exited"; }
    sleep 0.5
  done
  cat "$3" >&2
  die "$1 did not answer within 60 s"
}
