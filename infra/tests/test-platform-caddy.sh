#!/usr/bin/env bash
# The real platform (installed by install) behind real Caddy in the production-shaped test
# topology (apex wtf.e2e.internal:<port>, tls internal, on-demand TLS asking the platform's
# check-slug), with stand-ins for the wiki and MCP servers: the smoke test passes through
# Caddy, a wiki that exists gets a certificate, an unknown subdomain is refused, and the
# internal endpoint is only reachable directly.
source "$(dirname "$0")/lib.sh"
require_app_build
require_cmd caddy; require_cmd curl; require_cmd sqlite3

APEX=wtf.e2e.internal
PORT=$(free_port)
HTTPS_PORT=$(free_port)
provision_platform caddy "$APEX:$HTTPS_PORT" "$PORT"
assert_rc 0 "install with PLATFORM_DOMAIN=$APEX:$HTTPS_PORT"
[[ $RC == 0 ]] || fatal "install failed: $(tail -n 20 <<<"$OUT")"

start_fake mcp; MCP_PORT=$FAKE_PORT
start_fake wiki; WIKI_PORT=$FAKE_PORT
"$SCRIPTS/render-caddyfile" --test --domain "$APEX" --https-port "$HTTPS_PORT" \
  --platform "127.0.0.1:$PORT" --mcp "127.0.0.1:$MCP_PORT" --wiki "127.0.0.1:$WIKI_PORT" \
  --storage-dir "$T/caddy-storage" -o "$T/Caddyfile" --validate 2>"$T/render.err" \
  || fatal "render-caddyfile failed: $(cat "$T/render.err")"
start_caddy "$T/Caddyfile"
CA="$T/caddy-storage/pki/authorities/local/root.crt"
wait_for_file "$CA" 15 || fatal "Caddy did not start: $(tail -n 20 "$T/caddy.log")"
RES=(--resolve "$APEX:$HTTPS_PORT:127.0.0.1")
for h in alice dev bob a.alice; do RES+=(--resolve "$h.$APEX:$HTTPS_PORT:127.0.0.1"); done
wait_for_http "https://$APEX:$HTTPS_PORT/healthz" 20 -f --cacert "$CA" "${RES[@]}" \
  || fatal "the platform is not reachable through Caddy: $(tail -n 10 "$T/caddy.log")"

# ---- smoke test through Caddy, with zero wikis ---------------------------------------------------
run "$SCRIPTS/smoke-test" --public --cacert "$CA" --resolve "$APEX:$HTTPS_PORT:127.0.0.1" "https://$APEX:$HTTPS_PORT"
assert_rc 0 "smoke test through Caddy (zero wikis, --public)"

# ---- two wikis exist (rows written the way the platform writes them) ---------------------------------
as_svc sqlite3 "$DATA/robot.db" >/dev/null <<SQL || fatal "could not insert the test wikis"
.timeout 5000
INSERT INTO users (did, handle, display_name, created_at, wiki_count)
  VALUES ('did:plc:alicetest', 'alice.test', 'Alice', '2025-03-01T12:00:00.000000+00:00', 2);
INSERT INTO wikis (slug, owner_did, display_name, repo_path, mcp_token_hash, is_public, created_at, last_accessed)
  VALUES ('alice', 'did:plc:alicetest', 'Alice', '$DATA/wikis/alice/repo', '$(printf a%.0s {1..64})', 0,
          '2025-03-01T12:00:00.000000+00:00', '2025-03-01T12:00:00.000000+00:00'),
         ('dev', 'did:plc:alicetest', 'Dev', '$DATA/wikis/dev/repo', '$(printf d%.0s {1..64})', 0,
          '2025-03-01T12:00:00.000000+00:00', '2025-03-01T12:00:00.000000+00:00');
SQL

# ---- check-slug directly (what Caddy asks) ---------------------------------------------------------------
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
assert_eq 200 "$(code "http://127.0.0.1:$PORT/api/internal/check-slug?domain=alice.$APEX")" "check-slug: existing wiki -> 200"
assert_eq 200 "$(code "http://127.0.0.1:$PORT/api/internal/check-slug?domain=DEV.$APEX.")" "check-slug: 'dev' (reserved name, existing wiki), case and trailing dot -> 200"
assert_eq 404 "$(code "http://127.0.0.1:$PORT/api/internal/check-slug?domain=bob.$APEX")" "check-slug: unknown slug -> 404"
assert_eq 404 "$(code "http://127.0.0.1:$PORT/api/internal/check-slug?domain=a.alice.$APEX")" "check-slug: two labels -> 404"
assert_eq 404 "$(code "http://127.0.0.1:$PORT/api/internal/check-slug?domain=$APEX")" "check-slug: apex -> 404"
assert_eq 404 "$(code "http://127.0.0.1:$PORT/api/internal/check-slug")" "check-slug: no domain -> 404"

# ---- through Caddy ---------------------------------------------------------------------------------
get() { # HOST PATH -> OUT = headers + body, RC = curl exit
  run curl -sS -i --max-time 10 --cacert "$CA" "${RES[@]}" "https://$1:$HTTPS_PORT$2"
}
get "alice.$APEX" /Home
assert_rc 0 "https://alice.$APEX: certificate issued on demand"
assert_contains "$OUT" "x-upstream: wiki" "…pages go to the wiki server"
get "alice.$APEX" "/authorize/callback?approval_token=x"
assert_contains "$OUT" "x-upstream: mcp" "…/authorize/callback goes to the MCP server"
get "dev.$APEX" /
assert_rc 0 "https://dev.$APEX: certificate issued on demand"
get "bob.$APEX" /
if [[ $RC == 35 ]]; then ok "https://bob.$APEX: refused (no such wiki, TLS handshake fails)"; else bad "bob.$APEX: expected a TLS failure (curl 35), got $RC"; fi
get "a.alice.$APEX" /
if [[ $RC == 35 ]]; then ok "https://a.alice.$APEX: refused"; else bad "a.alice.$APEX: expected a TLS failure, got $RC"; fi

assert_eq 404 "$(code --cacert "$CA" "${RES[@]}" "https://$APEX:$HTTPS_PORT/api/internal/check-slug?domain=alice.$APEX")" \
  "check-slug is 404 through the public apex"
assert_eq 404 "$(code -X POST --cacert "$CA" "${RES[@]}" "https://$APEX:$HTTPS_PORT/api/internal/check-slug")" \
  "…for any method (the platform itself would answer POST with 405)"
assert_eq 405 "$(code -X POST "http://127.0.0.1:$PORT/api/internal/check-slug")" "…which it does when asked directly"

get "$APEX" /
assert_contains "$OUT" "robot.wtf" "apex landing page through Caddy"
hsts=$(grep -i '^strict-transport-security:' <<<"$OUT" || true)
[[ -n "$hsts" ]] && ok "HSTS header present over https ($(tr -d '\r' <<<"$hsts"))" || bad "no Strict-Transport-Security header on the apex"

# ---- the platform restarts behind Caddy: requests are held, not failed ------------------------------------
ROBOT_CURRENT="$PREFIX/current" ROBOT_ENV_FILE="$ENV_FILE" "$SERVICE" stop
( sleep 1; ROBOT_CURRENT="$PREFIX/current" ROBOT_ENV_FILE="$ENV_FILE" "$SERVICE" start ) &
restarter=$!
assert_eq 200 "$(code --max-time 20 --cacert "$CA" "${RES[@]}" "https://$APEX:$HTTPS_PORT/healthz")" \
  "a request while the platform restarts is answered once it is back (lb_try_duration)"
wait "$restarter" || true

finish
