# shellcheck shell=bash
# Shared helpers for infra/tests/test-*.sh. Source it; do not run it.
# Every test gets its own temp dir $T (removed at exit unless ROBOT_TEST_KEEP_TMP=1) and
# every background process started with start_bg is stopped at exit.
set -euo pipefail

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$TESTS_DIR/../.." && pwd)
SCRIPTS="$REPO_DIR/infra/scripts"
HELPERS="$TESTS_DIR/helpers"
TEST_NAME=$(basename "$0" .sh)

T=$(mktemp -d "${TMPDIR:-/tmp}/robot-infra.$TEST_NAME.XXXXXX")
FAILS=0
CHECKS=0
BG_PIDS=()

_cleanup() {
  local rc=$? pid i
  if [[ -n "${ROBOT_TEST_SERVICE_DIR:-}" && -f "${ROBOT_TEST_SERVICE_DIR}/server.pid" ]]; then
    "$HELPERS/service.sh" stop || true
  fi
  for pid in "${BG_PIDS[@]+"${BG_PIDS[@]}"}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${BG_PIDS[@]+"${BG_PIDS[@]}"}"; do
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ "${ROBOT_TEST_KEEP_TMP:-0}" == 1 ]]; then
    echo "# kept temp dir $T"
  else
    rm -rf "$T"
  fi
  exit $rc
}
trap _cleanup EXIT

note() { echo "# $*"; }
ok() { CHECKS=$((CHECKS + 1)); echo "ok    $*"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL  $*"; }
# A failed precondition: the test cannot continue.
fatal() { echo "FATAL $*"; FAILS=$((FAILS + 1)); exit 1; }

assert_eq() { # EXPECTED ACTUAL MESSAGE
  if [[ "$1" == "$2" ]]; then ok "$3"; else bad "$3"$'\n'"      expected: $1"$'\n'"      actual:   $2"; fi
}
assert_contains() { # HAYSTACK NEEDLE MESSAGE
  if [[ "$1" == *"$2"* ]]; then ok "$3"; else bad "$3 (missing '$2')"$'\n'"$(tail -n 25 <<<"$1" | cut -c1-300 | sed 's/^/      | /')"; fi
}
assert_not_contains() { # HAYSTACK NEEDLE MESSAGE
  if [[ "$1" != *"$2"* ]]; then ok "$3"; else bad "$3 (found '$2')"; fi
}
assert_file() { if [[ -f "$1" ]]; then ok "${2:-file exists: $1}"; else bad "${2:-file exists: $1} (missing $1)"; fi; }
assert_no_path() { if [[ ! -e "$1" ]]; then ok "${2:-absent: $1}"; else bad "${2:-absent: $1} ($1 exists)"; fi; }
assert_mode() { # PATH MODE
  local m; m=$(stat -c %a "$1" 2>/dev/null || echo missing)
  assert_eq "$2" "$m" "mode of ${1#"$T"/} is $2"
}

# run CMD...: capture combined output in $OUT and the exit status in $RC (never aborts).
run() {
  set +e
  OUT=$("$@" 2>&1)
  RC=$?
  set -e
  return 0
}
assert_rc() { # EXPECTED MESSAGE  (after run)
  if [[ "$RC" == "$1" ]]; then ok "$2 (exit $RC)"; else bad "$2: expected exit $1, got $RC"$'\n'"$(sed 's/^/      | /' <<<"$OUT" | tail -n 40)"; fi
}
assert_rc_nonzero() { # MESSAGE
  if [[ "$RC" != 0 ]]; then ok "$1 (exit $RC)"; else bad "$1: expected a non-zero exit"$'\n'"$(sed 's/^/      | /' <<<"$OUT" | tail -n 40)"; fi
}

require_cmd() { # CMD [apt package]
  command -v "$1" >/dev/null 2>&1 || fatal "'$1' is required for this test but not installed (apt-get install -y ${2:-$1})"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# start_bg NAME CMD...: start CMD in the background, output in $T/NAME.log; sets BG_PID.
start_bg() {
  local name=$1; shift
  "$@" >"$T/$name.log" 2>&1 &
  BG_PID=$!
  BG_PIDS+=("$BG_PID")
}

wait_for_file() { # FILE SECONDS
  local i
  for i in $(seq 1 $(( $2 * 10 ))); do [[ -s "$1" ]] && return 0; sleep 0.1; done
  return 1
}
wait_for_http() { # URL SECONDS [curl options...]
  local url=$1 secs=$2 i; shift 2
  for i in $(seq 1 $(( secs * 10 ))); do
    curl -s -o /dev/null --max-time 2 "$@" "$url" && return 0
    sleep 0.1
  done
  return 1
}

# start_fake NAME [fake-upstream options]: a stand-in upstream; sets FAKE_PORT.
start_fake() {
  local name=$1; shift
  start_bg "$name" node "$HELPERS/fake-upstream.mjs" --name "$name" --port-file "$T/$name.port" "$@"
  wait_for_file "$T/$name.port" 10 || fatal "fake upstream $name did not start: $(cat "$T/$name.log")"
  FAKE_PORT=$(cat "$T/$name.port")
}

# start_caddy CADDYFILE: run Caddy with its state in $T/caddy-home; sets CADDY_CA when the
# local CA exists.
start_caddy() {
  require_cmd caddy
  mkdir -p "$T/caddy-home"
  HOME="$T/caddy-home" XDG_DATA_HOME="$T/caddy-home/data" XDG_CONFIG_HOME="$T/caddy-home/config" \
    start_bg caddy caddy run --config "$1" --adapter caddyfile
  CADDY_PID=$BG_PID
}

# The platform build the platform tests run against (--app-dir / ROBOT_APP_DIR).
APP_DIR=${ROBOT_APP_DIR:-$REPO_DIR}
require_app_build() {
  [[ -d "$APP_DIR" ]] || fatal "app directory not found: $APP_DIR (pass --app-dir DIR to run.sh or set ROBOT_APP_DIR)"
  APP_DIR=$(cd "$APP_DIR" && pwd)
  [[ -f "$APP_DIR/build/server/index.js" ]] \
    || fatal "the platform is not built: $APP_DIR/build/server/index.js is missing. Build it first (cd $APP_DIR && npm ci && npm run build) or pass --app-dir DIR. This test is NOT skipped."
  [[ -x "$APP_DIR/node_modules/.bin/prisma" ]] \
    || fatal "$APP_DIR/node_modules/.bin/prisma is missing (run npm ci in $APP_DIR)"
  [[ -d "$APP_DIR/prisma/migrations" ]] \
    || fatal "$APP_DIR/prisma/migrations is missing: the app has no Prisma migrations yet"
}

# The service user of the platform tests: as root, "nobody" (so the release directory is
# read-only to the server and robot.db belongs to someone else, as in production); else
# the current user.
if [[ $EUID -eq 0 ]]; then SVC_USER=nobody; else SVC_USER=$(id -un); fi

# svc_can_reach_tmp: opens $T to the service user and checks that it can get there; an
# unreachable parent (a private TMPDIR made by `mktemp -d` is 0700) is a clear FATAL, not a
# confusing failure deep inside install.
svc_can_reach_tmp() {
  chmod 0755 "$T"
  if [[ $EUID -eq 0 && "$SVC_USER" != root ]] && ! runuser -u "$SVC_USER" -- test -x "$T"; then
    fatal "user $SVC_USER cannot reach $T: a parent directory is not searchable by others. Use a TMPDIR with mode 0711 or wider (.ci/run makes its own so)."
  fi
}

# make_linked_release DIR: a prebuilt tree like APP_DIR (build/, prisma/, public/, infra/,
# package*.json ...) whose node_modules is a symlink to APP_DIR's (used read-only). It runs
# the same code as APP_DIR without a copy of its 661 MB of node_modules, which only one
# test (test-platform-install-upgrade, the fresh install) needs to make for real.
make_linked_release() { # DIR
  local d=$1 e
  mkdir -p "$d"
  for e in "$APP_DIR"/* "$APP_DIR"/.[!.]*; do
    [[ -e "$e" ]] || continue
    case "$(basename "$e")" in node_modules|.git|data|test-results|playwright-report) continue ;; esac
    cp -a "$e" "$d/"
  done
  ln -s "$APP_DIR/node_modules" "$d/node_modules"
}
# linked_app: the path of this test's linked release of APP_DIR (made on first use).
linked_app() {
  [[ -d "$T/linked-app" ]] || make_linked_release "$T/linked-app"
  echo "$T/linked-app"
}

# provision_platform NAME DOMAIN PORT [extra install args...]: a private installation in
# $T/NAME with `install --prebuilt PROVISION_PREBUILT` (default: the linked release of
# APP_DIR), started by helpers/service.sh (result in $OUT/$RC). Sets INST (root dir),
# ENV_FILE, DATA, SERVICE (the stop/start hook), PREFIX.
provision_platform() {
  local name=$1 domain=$2 port=$3 prebuilt; shift 3
  svc_can_reach_tmp
  prebuilt=${PROVISION_PREBUILT:-$(linked_app)}
  INST="$T/$name"
  mkdir -p "$INST"
  ENV_FILE="$INST/etc/robot.env"
  DATA="$INST/srv/data"
  PREFIX="$INST/opt"
  SERVICE="$HELPERS/service.sh"
  export ROBOT_TEST_SERVICE_DIR="$INST/run"
  [[ $EUID -eq 0 ]] && export ROBOT_TEST_SERVICE_USER=$SVC_USER
  mkdir -p "$ROBOT_TEST_SERVICE_DIR"
  run "$SCRIPTS/install" --prebuilt "$prebuilt" --user "$SVC_USER" --no-systemd \
      --prefix "$PREFIX" --data-dir "$DATA" --static-dir "$INST/srv/static" \
      --env-file "$ENV_FILE" --backup-dir "$INST/srv/backups" \
      --domain "$domain" --port "$port" \
      --set "ADMIN_DISK_PATH=$INST/srv" --set "LOG_LEVEL=info" \
      --service-cmd "$SERVICE" --ready-timeout 60 --settle 1 "$@"
}
# as_svc CMD...: run CMD as the service user (sqlite3 on its database, like the platform).
as_svc() {
  if [[ $EUID -eq 0 && "$SVC_USER" != root ]]; then runuser -u "$SVC_USER" -- "$@"; else "$@"; fi
}
server_pid() { cat "$ROBOT_TEST_SERVICE_DIR/server.pid" 2>/dev/null || true; }
server_log() { tail -n "${1:-30}" "$ROBOT_TEST_SERVICE_DIR/server.log" 2>/dev/null | cut -c1-400; }

finish() {
  if [[ $FAILS -gt 0 ]]; then
    echo "# $TEST_NAME: $FAILS of $CHECKS checks FAILED"
    exit 1
  fi
  echo "# $TEST_NAME: all $CHECKS checks passed"
  exit 0
}
