#!/usr/bin/env bash
# `npm start`: the platform on its embedded development defaults (./data: SQLite file, generated
# keys, wikis) at http://127.0.0.1:8002. Installs and builds first when needed.
#
# Offline demo: unless real ATProto settings are given (NODE_ENV=production, PLC_DIRECTORY_URL or
# ATPROTO_HANDLE_RESOLVER), it also starts a local PLC directory + PDS (the test harness) with a
# demo account and wires the platform to it, so you can log in with no Bluesky account and no
# internet. ROBOT_DEMO=0 turns the demo off (then login goes to the real Bluesky network).
set -euo pipefail
source "$(dirname "$0")/lib-dev.sh"
cd "$ROOT"
ensure_apt_packages git
ensure_node_modules
ensure_build
export NODE_ENV="${NODE_ENV:-development}"
export HOST="${HOST:-127.0.0.1}"
export PORT="${PORT:-8002}"

demo_pid=""
cleanup() { [ -n "$demo_pid" ] && kill "$demo_pid" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if [ "$NODE_ENV" != production ] && [ -z "${PLC_DIRECTORY_URL:-}" ] && [ -z "${ATPROTO_HANDLE_RESOLVER:-}" ] \
   && [ "${ROBOT_DEMO:-1}" != 0 ]; then
  data="${DATA_DIR:-./data}"
  mkdir -p "$data"
  netfile="$data/demo-network.json"
  rm -f "$netfile"
  password="${ROBOT_DEMO_PASSWORD:-demo-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
  echo "Starting the offline demo network (local PLC directory + PDS)…" >&2
  TMPDIR="$(mktemp -d)" node --import tsx e2e/harness/cli.ts --accounts "alice.test:$password" \
    --port-file "$netfile" >/dev/null 2>"$data/demo-network.log" &
  demo_pid=$!
  for _ in $(seq 1 120); do [ -s "$netfile" ] && break; sleep 0.5; kill -0 "$demo_pid" 2>/dev/null || break; done
  if [ ! -s "$netfile" ]; then
    echo "The demo network did not start; see $data/demo-network.log" >&2
    exit 1
  fi
  pds=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).pdsUrl)' "$netfile")
  plc=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).plcUrl)' "$netfile")
  export PLC_DIRECTORY_URL="$plc" ATPROTO_HANDLE_RESOLVER="$pds" BSKY_APPVIEW_URL="$pds"
  cat >&2 <<MSG

  ┌──────────────────────────────────────────────────────────────────────┐
    robot.wtf (development) with an offline demo network
      open      http://$HOST:$PORT/
      handle    alice.test
      password  $password
    The demo PDS is $pds (accounts are new at every start).
  └──────────────────────────────────────────────────────────────────────┘

MSG
fi

node build/server/index.js &
server_pid=$!
trap 'kill -TERM $server_pid 2>/dev/null; wait $server_pid; cleanup' INT TERM
wait $server_pid
