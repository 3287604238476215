#!/usr/bin/env bash
# render-caddyfile: production and test topologies render, validate with Caddy, and bad
# input is refused with a message.
source "$(dirname "$0")/lib.sh"
require_cmd caddy

R="$SCRIPTS/render-caddyfile"

run "$R" --help
assert_rc 0 "--help"
assert_contains "$OUT" "Usage: render-caddyfile" "--help prints usage"

# ---- production -------------------------------------------------------------------------
run "$R" --domain robot.wtf --email ops@robot.wtf -o "$T/prod.Caddyfile" --validate
assert_rc 0 "production render + caddy validate"
prod=$(cat "$T/prod.Caddyfile")
assert_not_contains "$prod" "%%" "no placeholder left (production)"
assert_not_contains "$prod" "#if" "no template directive left (production)"
assert_contains "$prod" $'\nrobot.wtf {' "apex site robot.wtf"
assert_contains "$prod" $'\n*.robot.wtf {' "wildcard site *.robot.wtf"
assert_contains "$prod" "email ops@robot.wtf" "ACME e-mail"
assert_contains "$prod" "ask http://127.0.0.1:8002/api/internal/check-slug" "on-demand ask URL"
assert_contains "$prod" "reverse_proxy 127.0.0.1:8002" "platform upstream"
assert_contains "$prod" "reverse_proxy 127.0.0.1:8001" "MCP upstream"
assert_contains "$prod" "reverse_proxy 127.0.0.1:8000" "wiki upstream"
assert_contains "$prod" "on_demand" "on-demand TLS for wiki subdomains"
assert_not_contains "$prod" "tls internal" "production uses public ACME, not the internal CA"
assert_not_contains "$prod" "default_bind" "production binds all interfaces"
assert_not_contains "$prod" "disable_redirects" "production keeps HTTP->HTTPS redirects"
assert_contains "$prod" '@robot_mcp path_regexp robot_mcp ^/(mcp(/.*)?|authorize(/.*)?|token|register|[.]well-known/.*)$' \
  "MCP paths: a case-sensitive, whole-segment regexp (routing itself: test-caddy-routing)"
if [[ "$(caddy fmt "$T/prod.Caddyfile" 2>/dev/null)" == "$prod" ]]; then ok "production output is caddy-fmt clean"; else bad "production output is not caddy-fmt formatted"; fi

# ---- test topology (stack-notes §6) -------------------------------------------------------
run "$R" --test --domain wtf.e2e.internal --https-port 8443 --storage-dir "$T/caddy-storage" \
    --platform 127.0.0.1:18002 --mcp 127.0.0.1:18001 --wiki 127.0.0.1:18000 -o "$T/test.Caddyfile" --validate
assert_rc 0 "test-topology render + caddy validate"
tst=$(cat "$T/test.Caddyfile")
for want in "default_bind 127.0.0.1" "auto_https disable_redirects" "local_certs" "skip_install_trust" \
            "grace_period 1s" "protocols h1 h2" "ocsp_stapling off" "tls internal" \
            "wtf.e2e.internal:8443 {" "*.wtf.e2e.internal:8443 {" \
            "ask http://127.0.0.1:18002/api/internal/check-slug" "root $T/caddy-storage" \
            "reverse_proxy 127.0.0.1:18001" "reverse_proxy 127.0.0.1:18000"; do
  assert_contains "$tst" "$want" "test topology has: $want"
done
if [[ "$(caddy fmt "$T/test.Caddyfile" 2>/dev/null)" == "$tst" ]]; then ok "test output is caddy-fmt clean"; else bad "test output is not caddy-fmt formatted"; fi

# stdout rendering and env-var configuration
run env ROBOT_DOMAIN=example.org ROBOT_TLS=internal "$R"
assert_rc 0 "render to stdout from environment variables"
assert_contains "$OUT" "*.example.org {" "ROBOT_DOMAIN is used"
assert_contains "$OUT" "tls internal" "ROBOT_TLS=internal is used"
run "$R" --domain robot.wtf
assert_rc 0 "acme without e-mail still renders"
assert_contains "$OUT" "warning: --tls acme without --email" "…with a warning"

# ---- refused input -------------------------------------------------------------------------
run "$R"
assert_rc 2 "missing --domain refused"; assert_contains "$OUT" "--domain is required" "…with a message"
run "$R" --domain robot.wtf:8443
assert_rc 2 "port in --domain refused"; assert_contains "$OUT" "use --https-port" "…with a message"
run "$R" --domain localhost
assert_rc 2 "single-label domain refused"
run "$R" --domain robot.wtf --tls selfsigned
assert_rc 2 "unknown --tls refused"; assert_contains "$OUT" "--tls must be" "…with a message"
run "$R" --domain robot.wtf --platform 8002
assert_rc 2 "upstream without host refused"; assert_contains "$OUT" "--platform must be HOST:PORT" "…with a message"
run "$R" --domain robot.wtf --https-port 99999
assert_rc 2 "bad port refused"
run "$R" --domain robot.wtf --bogus
assert_rc 2 "unknown option refused"; assert_contains "$OUT" "unknown argument" "…with a message"

# A template error is reported, and an invalid result is rejected by caddy validate.
printf 'x {\n\t%%%%NOPE%%%%\n}\n' >"$T/bad.template"
run "$R" --domain robot.wtf --template "$T/bad.template"
assert_rc 2 "unknown placeholder refused"; assert_contains "$OUT" "unknown placeholder" "…with a message"
printf '%%%%APEX_ADDRESS%%%% {\n\tnot_a_directive\n}\n' >"$T/invalid.template"
run "$R" --domain robot.wtf --template "$T/invalid.template" -o "$T/invalid.Caddyfile" --validate
assert_rc 1 "caddy validate failure is an error"
assert_contains "$OUT" "caddy validate rejected" "…with a message"
assert_no_path "$T/invalid.Caddyfile" "an invalid result is not written to --output"

finish
