#!/usr/bin/env bash
# Stand-in for `systemctl start|stop|restart robot-platform` in the infra tests: runs
# `node build/server/index.js` from the `current` release with the environment file, the
# way the systemd unit does (working directory resolved at start, EnvironmentFile parsed
# as KEY=VALUE lines, SIGTERM to stop).
#   service.sh start|stop|restart|status   (status: exit 0 running, 3 not running)
# Needs ROBOT_TEST_SERVICE_DIR (pid + log); start/restart also need ROBOT_CURRENT and
# ROBOT_ENV_FILE (upgrade passes both to its --restart-cmd). Stop timeout:
# ROBOT_TEST_STOP_TIMEOUT seconds (default 30, like TimeoutStopSec).
# With ROBOT_TEST_SERVICE_USER (root only) the server runs as that user, with HOME in the
# service dir — like User= and the unit's writable HOME — so the release directory is
# read-only to it, as under ProtectSystem=strict.
set -euo pipefail
: "${ROBOT_TEST_SERVICE_DIR:?ROBOT_TEST_SERVICE_DIR is not set}"
PIDFILE="$ROBOT_TEST_SERVICE_DIR/server.pid"
LOG="$ROBOT_TEST_SERVICE_DIR/server.log"

# alive PID: the process exists and is not a zombie (the server is started detached, so
# its parent is whatever reaps orphans here, which may take a while to do so).
alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n "$st" && "$st" != Z* ]]
}

stop() {
  [[ -f "$PIDFILE" ]] || return 0
  local pid i
  pid=$(cat "$PIDFILE")
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 $(( ${ROBOT_TEST_STOP_TIMEOUT:-30} * 10 ))); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      echo "service.sh: pid $pid did not stop on SIGTERM; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PIDFILE"
}

start() {
  : "${ROBOT_CURRENT:?ROBOT_CURRENT is not set}"
  : "${ROBOT_ENV_FILE:?ROBOT_ENV_FILE is not set}"
  cd -P "$ROBOT_CURRENT"
  local line key val
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" =~ ^[[:space:]]*([#;].*)?$ ]] && continue
    [[ "$line" =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*(.*)$ ]] || continue
    key=${BASH_REMATCH[1]}; val=${BASH_REMATCH[2]}
    if [[ "$val" =~ ^\"(.*)\"$ || "$val" =~ ^\'(.*)\'$ ]]; then val=${BASH_REMATCH[1]}; fi
    export "$key=$val"
  done <"$ROBOT_ENV_FILE"
  export NODE_ENV=${NODE_ENV:-production}
  echo "=== start $(date -u +%FT%TZ) in $(pwd -P)" >>"$LOG"
  local as=()
  local user=${ROBOT_TEST_SERVICE_USER:-}
  if [[ -n "$user" && "$user" != "$(id -un)" ]]; then
    mkdir -p "$ROBOT_TEST_SERVICE_DIR/home"
    chown "$user:$(id -gn "$user")" "$ROBOT_TEST_SERVICE_DIR/home"
    as=(setpriv --reuid="$user" --regid="$(id -gn "$user")" --clear-groups --)
    export HOME="$ROBOT_TEST_SERVICE_DIR/home"
  fi
  nohup "${as[@]+"${as[@]}"}" node build/server/index.js </dev/null >>"$LOG" 2>&1 9>&- &
  echo $! >"$PIDFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  # LSB: 0 = running, 3 = not running (what upgrade's readiness wait looks for)
  status) if [[ -f "$PIDFILE" ]] && alive "$(cat "$PIDFILE")"; then exit 0; else exit 3; fi ;;
  *) echo "usage: service.sh start|stop|restart|status" >&2; exit 2 ;;
esac
