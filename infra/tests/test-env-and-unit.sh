#!/usr/bin/env bash
# infra/robot.env.example names every variable of spec/contracts.md §11 (+ the rate limits
# of security.md §5) with a one-line comment; the systemd unit has the required settings
# and passes `systemd-analyze verify`; every script answers --help and has strict mode.
source "$(dirname "$0")/lib.sh"

ENVF="$REPO_DIR/infra/robot.env.example"
UNIT="$REPO_DIR/infra/systemd/robot-platform.service"
[[ -f "$ENVF" ]] || fatal "missing $ENVF"
[[ -f "$UNIT" ]] || fatal "missing $UNIT"

# ---- env example ---------------------------------------------------------------------------
# The variables: every one the platform's config schema reads (app/server/config.server.ts,
# the only reader of process.env), plus those of spec/contracts.md §11 that only other
# processes or tools read.
CONFIG="$REPO_DIR/app/server/config.server.ts"
[[ -f "$CONFIG" ]] || fatal "missing $CONFIG (the config schema the env example is checked against)"
schema_vars=$(awk '/^const envSchema = z\.object\(\{/ { f = 1; next } f && /^\}\);/ { f = 0 } f' "$CONFIG" \
  | sed -n -E 's/^[[:space:]]+([A-Z][A-Z0-9_]*):.*/\1/p')
rl_names=$(awk '/RATE_LIMIT_NAMES = \[/ { f = 1; next } f && /\] as const/ { f = 0 } f' "$CONFIG" \
  | tr -d ' ",' | sed '/^$/d' | tr '[:lower:]' '[:upper:]')
[[ $(wc -w <<<"$schema_vars") -ge 25 && $(wc -w <<<"$rl_names") -ge 5 ]] \
  || fatal "could not read the variable names from $CONFIG (envSchema / RATE_LIMIT_NAMES changed shape?)"
note "config schema: $(wc -w <<<"$schema_vars") variables + $(wc -w <<<"$rl_names") rate limits"
spec_vars=(PLATFORM_DOMAIN SIGNING_KEY_PATH ROBOT_DB_PATH WIKI_BASE CONSENT_URL CONSENT_SECRET COOKIE_DOMAIN
      PLATFORM_STATIC_DIR NODE_ENV PLATFORM_SCHEME HOST PORT DATA_DIR DATABASE_URL ROBOT_STATIC_DIR
      CLIENT_JWK_PATH SESSION_SECRET JWT_ISSUER JWT_AUDIENCE PLATFORM_ADMIN_DIDS MAX_WIKIS_PER_USER
      TRUST_PROXY PLC_DIRECTORY_URL ATPROTO_HANDLE_RESOLVER ATPROTO_ALLOW_HTTP_LOOPBACK BSKY_APPVIEW_URL
      WIKI_TEMPLATE_DIR GIT_BIN ADMIN_SERVICES ADMIN_DISK_PATH MCP_ISSUER_TEMPLATE HSTS_INCLUDE_SUBDOMAINS
      LOG_LEVEL RATE_LIMITS_ENABLED)
mapfile -t vars < <(printf '%s\n' "${spec_vars[@]}" $schema_vars $(sed 's/^/RATE_LIMIT_/' <<<"$rl_names") | awk '!seen[$0]++')
for v in "${vars[@]}"; do
  line=$(grep -nE "^#?$v=" "$ENVF" | head -n 1 || true)
  if [[ -z "$line" ]]; then bad "env example names $v"; continue; fi
  n=${line%%:*}
  prev=$(sed -n "$((n - 1))p" "$ENVF")
  if [[ "$prev" =~ ^#\ [^[:space:]] && ! "$prev" =~ ^#[A-Z_]+= ]]; then ok "env example: $v with a comment"; else bad "env example: $v has no one-line comment above it (got: $prev)"; fi
done
for v in MCP_BASE_URL MCP_OAUTH_DB MCP_AUTH_TOKEN OTTERWIKI_API_KEY MULTI_TENANT; do
  assert_contains "$(cat "$ENVF")" "$v" "env example mentions the non-platform variable $v"
done
bad_lines=$(grep -nvE '^(#.*|[A-Z_][A-Z0-9_]*=[^[:space:]"'"'"'$`\\]*|)$' "$ENVF" || true)
assert_eq "" "$bad_lines" "every line is a comment, blank, or KEY=value without spaces/quotes/\$ (systemd EnvironmentFile and shell safe)"
dups=$(grep -oE '^[A-Z_][A-Z0-9_]*=' "$ENVF" | sort | uniq -d)
assert_eq "" "$dups" "no variable is set twice"
get() { sed -n "s/^$1=//p" "$ENVF"; }
assert_eq production "$(get NODE_ENV)" "NODE_ENV=production"
assert_eq https "$(get PLATFORM_SCHEME)" "PLATFORM_SCHEME=https"
assert_eq robot.wtf "$(get JWT_ISSUER)" "JWT_ISSUER=robot.wtf (the wiki server requires it)"
assert_eq robot.wtf "$(get JWT_AUDIENCE)" "JWT_AUDIENCE=robot.wtf"
assert_eq false "$(get ATPROTO_ALLOW_HTTP_LOOPBACK)" "ATPROTO_ALLOW_HTTP_LOOPBACK=false"
assert_eq 127.0.0.1 "$(get HOST)" "HOST=127.0.0.1 (TRUST_PROXY is only safe behind Caddy)"
assert_eq true "$(get TRUST_PROXY)" "TRUST_PROXY=true"
assert_eq "" "$(get SESSION_SECRET)" "SESSION_SECRET is left for install to generate"
for v in CONSENT_SECRET DATABASE_URL DATA_DIR ATPROTO_HANDLE_RESOLVER; do
  assert_eq "" "$(grep -E "^$v=" "$ENVF" || true)" "$v is not set in production (commented out)"
done
for r in DEFAULT:300/60 LOGIN:10/60 CALLBACK:10/60 CONSENT:10/60 CREATE:5/60 SETTINGS:30/60 \
         WIKI_DANGER:5/60 ACCOUNT_DELETE:3/60 API_READ:120/60 API_WRITE:30/60; do
  assert_eq "${r#*:}" "$(get "RATE_LIMIT_${r%%:*}")" "RATE_LIMIT_${r%%:*} = documented default ${r#*:} (security.md §5)"
done
# …and = the defaults the code applies when the variable is unset (RATE_LIMIT_DEFAULTS)
code_defaults=$(awk '/RATE_LIMIT_DEFAULTS[^=]*= \{/ { f = 1; next } f && /^\};/ { f = 0 } f' "$CONFIG" \
  | sed -n -E 's/^[[:space:]]+([a-z_]+): \{ points: ([0-9]+), seconds: ([0-9]+) \},?$/\1 \2\/\3/p')
assert_eq "$(wc -w <<<"$rl_names")" "$(wc -l <<<"$code_defaults")" "the code has a default for every rate limit"
while read -r name val; do
  n=$(tr '[:lower:]' '[:upper:]' <<<"$name")
  assert_eq "$val" "$(get "RATE_LIMIT_$n")" "RATE_LIMIT_$n = the code's default $val"
done <<<"$code_defaults"

# ---- systemd unit ---------------------------------------------------------------------------
unit=$(cat "$UNIT")
for want in "Type=exec" "User=robot" "Group=robot" "SupplementaryGroups=systemd-journal" "EnvironmentFile=/etc/robot-platform/robot.env" \
            "WorkingDirectory=/opt/robot-platform/current" "ExecStart=/usr/bin/node build/server/index.js" \
            "Restart=on-failure" "SyslogIdentifier=robot-platform" "KillSignal=SIGTERM" "TimeoutStopSec=" \
            "NoNewPrivileges=true" "ProtectSystem=strict" "ReadWritePaths=/srv/data" "PrivateTmp=true" \
            "ProtectHome=true" "ProtectKernelTunables=true" "ProtectKernelModules=true" "ProtectKernelLogs=true" \
            "ProtectControlGroups=true" "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" "LockPersonality=true" \
            "RestrictSUIDSGID=true" "CapabilityBoundingSet=" "WantedBy=multi-user.target"; do
  assert_contains "$unit" $'\n'"$want" "unit: $want"
done
assert_not_contains "$unit" "MemoryDenyWriteExecute=true" "unit: no MemoryDenyWriteExecute (breaks V8's JIT)"
assert_not_contains "$unit" "RemoveIPC=true" "unit: no RemoveIPC (the user is shared with the wiki/MCP servers)"
assert_not_contains "$unit" $'\nInaccessiblePaths=/srv' "unit: /srv/static stays readable"
if command -v systemd-analyze >/dev/null 2>&1; then
  run systemd-analyze verify "$UNIT"
  if [[ $RC == 0 && -z "$(grep -v 'No such file or directory\|Failed to open\|Command .* is not executable' <<<"$OUT" | grep -i 'robot-platform.service' || true)" ]]; then
    ok "systemd-analyze verify: no complaints about the unit"
  else
    bad "systemd-analyze verify:"$'\n'"$OUT"
  fi
  run systemd-analyze security --offline=true "$UNIT"
  score=$(sed -n 's/.*Overall exposure level for robot-platform.service: \([0-9.]*\).*/\1/p' <<<"$OUT")
  if [[ -n "$score" ]] && awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }'; then
    ok "systemd-analyze security: exposure $score (<= 3.0)"
  else
    bad "systemd-analyze security: exposure '${score:-?}' (want <= 3.0)"
  fi
else
  note "NOT RUN: systemd-analyze verify/security — systemd-analyze is not installed (apt-get install systemd); the unit was checked by the greps above only"
fi

# ---- scripts ---------------------------------------------------------------------------------
for s in render-caddyfile install upgrade backup restore smoke-test; do
  f="$SCRIPTS/$s"
  [[ -x "$f" ]] && ok "$s is executable" || bad "$s is not executable"
  grep -q '^set -euo pipefail' "$f" && ok "$s uses set -euo pipefail" || bad "$s lacks set -euo pipefail"
  run bash -n "$f"; assert_rc 0 "$s parses (bash -n)"
  run "$f" --help; assert_rc 0 "$s --help"
  assert_contains "$OUT" "Usage: $s" "$s --help prints its usage"
  run "$f" --no-such-option; assert_rc 2 "$s rejects an unknown option with exit 2"
done
if command -v shellcheck >/dev/null 2>&1; then
  run shellcheck -S warning "$SCRIPTS"/render-caddyfile "$SCRIPTS"/install "$SCRIPTS"/upgrade \
      "$SCRIPTS"/backup "$SCRIPTS"/restore "$SCRIPTS"/smoke-test
  assert_rc 0 "shellcheck -S warning"
else
  note "shellcheck not installed: lint step not run (optional; apt-get install shellcheck)"
fi

finish
