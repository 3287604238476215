#!/usr/bin/env bash
# The real server (installed by install, run as the service user) receives SIGTERM while a
# request is in flight: it keeps running until that request is answered, refuses new
# connections, closes idle keep-alive connections, and exits 0 well within TimeoutStopSec.
# Then a plain SIGTERM with nothing in flight: a prompt exit 0 (as `systemctl stop` expects).
source "$(dirname "$0")/lib.sh"
require_app_build
require_cmd curl

PORT=$(free_port)
provision_platform sig "wtf.e2e.internal:8443" "$PORT"
assert_rc 0 "install"
[[ $RC == 0 ]] || fatal "install failed: $(tail -n 20 <<<"$OUT")"
"$SERVICE" stop    # the test runs the server itself, to see its exit status

res=$(node "$HELPERS/sigterm-check.mjs" "$(readlink -f "$PREFIX/current")" "$ENV_FILE" "$T/sigterm-server.log" "$SVC_USER")
note "observed: $res"
field() { node -e 'const r=JSON.parse(process.argv[1]); const v=process.argv[2].split(".").reduce((o,k)=>o==null?o:o[k], r); console.log(v===undefined?"undefined":JSON.stringify(v))' "$res" "$1"; }

assert_eq "true" "$(field ready)" "the server became ready"
[[ "$(field error)" == undefined ]] || fatal "the check failed: $(field error); server log: $(tail -n 20 "$T/sigterm-server.log")"
assert_eq "true" "$(field aliveWithRequestInFlight)" "after SIGTERM the process waits for the in-flight request"
assert_eq '"ECONNREFUSED"' "$(field newConnection)" "after SIGTERM new connections are refused"
idle=$(field idleClosedMs)
if [[ "$idle" != null ]] && (( idle < 1500 )); then ok "the idle keep-alive connection was closed promptly (${idle} ms)"; else bad "idle keep-alive connection not closed within 1.5 s (${idle})"; fi
assert_eq "true" "$(field inFlightResponseComplete)" "the in-flight request got a complete response"
status=$(field inFlightStatusLine)
[[ "$status" =~ ^\"HTTP/1\.1\ [1-4][0-9][0-9] ]] && ok "…a non-5xx one ($status)" || bad "in-flight response: $status"
assert_eq '{"code":0,"signal":null}' "$(field exit)" "the process exits 0 after SIGTERM"
ms=$(field exitMs)
if [[ "$ms" != null ]] && (( ms < 25000 )); then ok "…within TimeoutStopSec (${ms} ms after SIGTERM)"; else bad "exit took ${ms} ms"; fi
grep -q 'shutting down' "$T/sigterm-server.log" && ok "the shutdown is logged" || bad "no shutdown log line"

# ---- SIGTERM with nothing in flight (systemctl stop) -----------------------------------------------
ROBOT_CURRENT="$PREFIX/current" ROBOT_ENV_FILE="$ENV_FILE" "$SERVICE" start
wait_for_http "http://127.0.0.1:$PORT/readyz" 60 -f || fatal "server did not start again: $(server_log)"
pid=$(server_pid)
start=$(date +%s%N)
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
if kill -0 "$pid" 2>/dev/null; then bad "idle server still running 5 s after SIGTERM"; else ok "idle server stops ${elapsed} ms after SIGTERM"; fi
rm -f "$ROBOT_TEST_SERVICE_DIR/server.pid"

finish
