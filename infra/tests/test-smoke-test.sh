#!/usr/bin/env bash
# smoke-test against a stand-in platform: it passes a healthy one (with no wikis at all),
# reports every broken check with a reason, and works through Caddy with --resolve/--cacert.
source "$(dirname "$0")/lib.sh"
require_cmd curl
S="$SCRIPTS/smoke-test"

start_fake good --platform --apex wtf.e2e.internal; GOOD=$FAKE_PORT
start_fake broken --platform --break root,login,as,jwks,healthz,readyz; BROKEN=$FAKE_PORT
start_fake root500 --platform --break root500; R500=$FAKE_PORT
start_fake root404 --platform --break root404; R404=$FAKE_PORT
start_fake rootslow --platform --break rootslow; RSLOW=$FAKE_PORT

run "$S" "http://127.0.0.1:$GOOD"
assert_rc 0 "a healthy platform passes"
assert_contains "$OUT" "all 7 checks passed" "…all seven checks"
assert_contains "$OUT" "ok    cron (GET /) 200 in" "…including the healthcheck cron's rule on /"

run "$S" -q "http://127.0.0.1:$GOOD/"
assert_rc 0 "trailing slash accepted, --quiet"
assert_not_contains "$OUT" "ok    " "--quiet prints no ok lines"

run "$S" "http://127.0.0.1:$BROKEN"
assert_rc 1 "a broken platform fails"
assert_contains "$OUT" "FAIL  landing (GET /): status 200 but the body does not contain \"robot.wtf\"" "landing failure explained"
assert_contains "$OUT" "FAIL  login (GET /auth/login)" "login failure reported"
assert_contains "$OUT" "FAIL  as-meta (GET /.well-known/oauth-authorization-server): status 502" "5xx AS metadata fails even with \"issuer\" in the body"
assert_contains "$OUT" "FAIL  jwks (GET /.well-known/jwks.json)" "jwks failure reported"
assert_contains "$OUT" "FAIL  healthz (GET /healthz): status 404" "healthz failure reported"
assert_contains "$OUT" "FAIL  readyz (GET /readyz): status 503" "readyz failure reported"
assert_contains "$OUT" '"database":"error"' "…with the failing readiness check in the message"
assert_contains "$OUT" "6 of 7 checks FAILED" "summary counts the failures"

run "$S" "http://127.0.0.1:$R500"
assert_rc 1 "a 500 landing page fails although it contains robot.wtf"
assert_contains "$OUT" "landing (GET /): status 500" "…reported as a status failure"

run "$S" "http://127.0.0.1:$R404"
assert_rc 1 "a 404 landing page fails the healthcheck cron's rule (< 400)"
assert_contains "$OUT" "ok    landing (GET /) 404" "…although the smoke-test contract (non-5xx, robot.wtf) holds"
assert_contains "$OUT" "FAIL  cron (GET /): status 404 (the healthcheck cron needs < 400)" "…with a message"

run "$S" "http://127.0.0.1:$RSLOW"
assert_rc 1 "a landing page slower than 5 s fails the healthcheck cron's rule"
assert_contains "$OUT" "FAIL  cron (GET /): answered after 5." "…with a message"

port=$(free_port)
run "$S" --timeout 2 "http://127.0.0.1:$port"
assert_rc 1 "nothing listening fails"
assert_contains "$OUT" "no response (curl exit 7" "…with curl's reason"

run "$S"
assert_rc 2 "BASE_URL is required"
run "$S" "http://127.0.0.1:$GOOD/auth"
assert_rc 2 "a BASE_URL with a path is refused"
run "$S" --cacert "$T/nope.pem" "https://x.invalid"
assert_rc 2 "an unreadable --cacert is refused"

# ---- through Caddy (test topology): --resolve, --cacert, --public --------------------------------
require_cmd caddy
HTTPS_PORT=$(free_port)
"$SCRIPTS/render-caddyfile" --test --domain wtf.e2e.internal --https-port "$HTTPS_PORT" \
  --platform "127.0.0.1:$GOOD" --storage-dir "$T/caddy-storage" -o "$T/Caddyfile" 2>/dev/null \
  || fatal "render-caddyfile failed"
start_caddy "$T/Caddyfile"
CA="$T/caddy-storage/pki/authorities/local/root.crt"
wait_for_file "$CA" 15 || fatal "Caddy did not start: $(tail -n 20 "$T/caddy.log")"
RES="wtf.e2e.internal:$HTTPS_PORT:127.0.0.1"
wait_for_http "https://wtf.e2e.internal:$HTTPS_PORT/healthz" 15 --cacert "$CA" --resolve "$RES" || fatal "Caddy not answering"

run "$S" --public --resolve "$RES" --cacert "$CA" "https://wtf.e2e.internal:$HTTPS_PORT"
assert_rc 0 "passes through Caddy with --resolve and --cacert"
assert_contains "$OUT" "internal-blocked" "--public adds the internal-endpoint check"
run "$S" --resolve "$RES" "https://wtf.e2e.internal:$HTTPS_PORT"
assert_rc 1 "without --cacert the local CA is not trusted"
assert_contains "$OUT" "no response (curl exit 60" "…reported as a TLS failure"
run "$S" --insecure --resolve "$RES" "https://wtf.e2e.internal:$HTTPS_PORT"
assert_rc 0 "--insecure works too"
run "$S" --public "http://127.0.0.1:$GOOD"
assert_rc 1 "--public against the bare platform fails the internal check"
assert_contains "$OUT" "status 405 (expected 404: the internal endpoint must not be reachable" "…with a message"

finish
