#!/usr/bin/env bash
# The rendered test-topology Caddyfile, run by real Caddy in front of three stand-in
# upstreams: routing of apex and wiki paths, /api/internal/* blocked, X-Forwarded-*
# headers, on-demand TLS only for slugs the (stand-in) check-slug accepts, and requests
# held while the platform restarts.
source "$(dirname "$0")/lib.sh"
require_cmd caddy
require_cmd curl

DOMAIN=wtf.e2e.internal
start_fake platform --platform --apex "$DOMAIN" --slugs alice,dev; PLATFORM_PORT=$FAKE_PORT; PLATFORM_PID=$BG_PID
start_fake mcp; MCP_PORT=$FAKE_PORT
start_fake wiki; WIKI_PORT=$FAKE_PORT
HTTPS_PORT=$(free_port)

"$SCRIPTS/render-caddyfile" --test --domain "$DOMAIN" --https-port "$HTTPS_PORT" \
  --platform "127.0.0.1:$PLATFORM_PORT" --mcp "127.0.0.1:$MCP_PORT" --wiki "127.0.0.1:$WIKI_PORT" \
  --storage-dir "$T/caddy-storage" -o "$T/Caddyfile" --validate 2>"$T/render.err" \
  || fatal "render-caddyfile failed: $(cat "$T/render.err")"
start_caddy "$T/Caddyfile"
CA="$T/caddy-storage/pki/authorities/local/root.crt"
wait_for_file "$CA" 15 || fatal "Caddy did not create its local CA: $(tail -n 20 "$T/caddy.log")"

RES=(--resolve "$DOMAIN:$HTTPS_PORT:127.0.0.1")
for h in alice dev bob www x.alice; do RES+=(--resolve "$h.$DOMAIN:$HTTPS_PORT:127.0.0.1"); done
wait_for_http "https://$DOMAIN:$HTTPS_PORT/" 15 --cacert "$CA" "${RES[@]}" \
  || fatal "Caddy does not answer on https://$DOMAIN:$HTTPS_PORT/: $(tail -n 20 "$T/caddy.log")"

# get HOST PATH -> OUT (body + status on the last line), RC = curl exit; the answering
# upstream's name is in the x-upstream response header (upstream_of).
get() {
  : >"$T/headers"
  run curl -sS --path-as-is --max-time 10 --cacert "$CA" "${RES[@]}" -H 'X-Forwarded-For: 203.0.113.66' \
      -D "$T/headers" -w '\n%{http_code}' "https://$1:$HTTPS_PORT$2"
}
upstream_of() { tr -d '\r' <"$T/headers" | sed -n 's/^x-upstream: *//Ip' | head -n 1; }

# ---- apex -------------------------------------------------------------------------------------
for p in / /auth/login /auth/callback?code=x /auth/oauth/consent /app/ /app/wiki/alice /api/me /api/wikis \
         /.well-known/jwks.json /.well-known/oauth-authorization-server /auth/client-metadata.json \
         /static/style.css /assets/index-abc.js /favicon.ico /healthz /readyz /api/internalx; do
  get "$DOMAIN" "$p"
  assert_eq platform "$(upstream_of)" "apex $p -> platform"
done
for p in /api/internal/check-slug?domain=alice.$DOMAIN /api/internal /api/internal/ /API/Internal/check-slug \
         //api/internal/check-slug /api//internal/check-slug '/api/%69nternal/check-slug' '/x/../api/internal/check-slug'; do
  get "$DOMAIN" "$p"
  assert_eq 404 "${OUT##*$'\n'}" "apex $p is answered 404 by Caddy"
done

# ---- forwarded headers --------------------------------------------------------------------------
get "$DOMAIN" /app/
assert_contains "$OUT" '"x-forwarded-for":"127.0.0.1"' "X-Forwarded-For = client address; a client-sent value is replaced"
assert_not_contains "$OUT" "203.0.113.66" "the spoofed X-Forwarded-For does not reach the platform"
assert_contains "$OUT" '"x-forwarded-proto":"https"' "X-Forwarded-Proto https"
assert_contains "$OUT" "\"x-forwarded-host\":\"$DOMAIN:$HTTPS_PORT\"" "X-Forwarded-Host"
assert_contains "$OUT" "\"host\":\"$DOMAIN:$HTTPS_PORT\"" "Host is passed unchanged"

# ---- wiki subdomain (known slug: certificate on demand) ------------------------------------------
# The MCP server owns exactly /mcp, /authorize (+ /authorize/callback), /token, /register
# and /.well-known/* (spec/README.md, process picture) — matched case-sensitively and
# per path segment, so wiki pages whose names merely start like them stay with the wiki.
for p in /mcp /mcp/ /mcp/sse '/authorize?client_id=x' /authorize/ /authorize/callback \
         '/authorize/callback?approval_token=x' /token '/token?x=1' /register \
         /.well-known/oauth-authorization-server /.well-known/oauth-authorization-server/mcp \
         /.well-known/oauth-protected-resource /.well-known/oauth-protected-resource/mcp \
         /.well-known/openid-configuration /.well-known/openid-configuration/mcp \
         //token '/%6Dcp' /x/../register; do
  get "alice.$DOMAIN" "$p"
  assert_eq mcp "$(upstream_of)" "alice.$DOMAIN$p -> MCP server"
done
for p in / /Home /-/admin /api/v1/pages /.git/info/refs /platform/robot.wtf.svg /token/extra /registered \
         /Token /TOKEN /MCP /Mcp/sse /mcp-notes /mcpsetup /McpSetup /Authorize /authorized-users /Authorized-Users \
         /authorizes/callback /Register /register/ /registers /tokens /.well-known /.Well-Known/openid-configuration \
         /Home/mcp /Notes/token '/%54oken' /app/ /auth/login; do
  get "alice.$DOMAIN" "$p"
  assert_eq wiki "$(upstream_of)" "alice.$DOMAIN$p -> wiki server"
done
get "alice.$DOMAIN" /authorize/callback
assert_contains "$OUT" "\"host\":\"alice.$DOMAIN:$HTTPS_PORT\"" "the MCP sees the wiki Host (its issuer / slug)"
get "alice.$DOMAIN" /api/internal/check-slug
assert_eq 404 "${OUT##*$'\n'}" "alice.$DOMAIN/api/internal/* is answered 404 by Caddy"
get "dev.$DOMAIN" /
assert_eq wiki "$(upstream_of)" "reserved-looking but existing slug 'dev' gets a certificate"

# ---- on-demand TLS refusals ---------------------------------------------------------------------
for h in bob www x.alice; do
  get "$h.$DOMAIN" /
  if [[ $RC == 35 || $RC == 60 ]] && [[ "$OUT" != *'"upstream"'* ]]; then
    ok "no certificate for $h.$DOMAIN (TLS handshake refused, curl exit $RC)"
  else
    bad "no certificate for $h.$DOMAIN: expected a TLS failure, got curl exit $RC: $(head -c 200 <<<"$OUT")"
  fi
done
run curl -sS --max-time 10 --cacert "$CA" "${RES[@]}" "https://$DOMAIN:$HTTPS_PORT/" -o /dev/null
assert_rc 0 "apex still fine after refusals"

# ---- a platform restart is bridged (lb_try_duration) --------------------------------------------
kill -TERM "$PLATFORM_PID"; wait "$PLATFORM_PID" 2>/dev/null || true
( sleep 2; exec node "$HELPERS/fake-upstream.mjs" --name platform --port "$PLATFORM_PORT" --platform \
    --apex "$DOMAIN" --slugs alice --port-file "$T/platform2.port" >"$T/platform2.log" 2>&1 ) &
BG_PIDS+=($!)
start=$SECONDS
get "$DOMAIN" /app/
if [[ "$(upstream_of)" == platform ]]; then
  ok "a request during a 2 s platform restart is held and then served ($((SECONDS - start)) s)"
else
  bad "request during platform restart: expected to be served after the restart, got: $(head -c 200 <<<"$OUT")"
fi

# ---- Caddy stops cleanly on SIGTERM (grace_period 1s) -------------------------------------------
kill -TERM "$CADDY_PID"
for _ in $(seq 1 50); do kill -0 "$CADDY_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$CADDY_PID" 2>/dev/null; then bad "Caddy still running 5 s after SIGTERM"; else ok "Caddy stops on SIGTERM"; fi

finish
