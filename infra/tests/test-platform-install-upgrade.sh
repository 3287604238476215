#!/usr/bin/env bash
# install + upgrade against the real platform build (APP_DIR/build/server/index.js):
# a fresh install (user, dirs, keys, env, robot.db by prisma migrate deploy, static SVG,
# release + current symlink, service ready, smoke test); an idempotent re-install; a good
# upgrade; an upgrade with a new migration; broken releases (crash at start, never ready)
# rolled back; a failing build and a locked database that change nothing; pruning.
# Only the fresh install copies APP_DIR with its node_modules, as production does; every
# later release is a linked release (lib.sh make_linked_release), which runs the same code.
source "$(dirname "$0")/lib.sh"
require_app_build
require_cmd sqlite3; require_cmd curl; require_cmd openssl

PORT=$(free_port)
DOMAIN="wtf.e2e.internal:8443"
note "app: $APP_DIR; service user: $SVC_USER"

# ---- fresh install ------------------------------------------------------------------------------
PROVISION_PREBUILT=$APP_DIR provision_platform inst "$DOMAIN" "$PORT"
assert_rc 0 "install (fresh, prebuilt)"
[[ $RC == 0 ]] || fatal "install failed; server log:"$'\n'"$(server_log)"
SVC_GROUP=$(id -gn "$SVC_USER")

assert_file "$ENV_FILE" "environment file written"
assert_mode "$ENV_FILE" 640
envv() { sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1; }
assert_eq "$DOMAIN" "$(envv PLATFORM_DOMAIN)" "PLATFORM_DOMAIN from --domain"
assert_eq "$PORT" "$(envv PORT)" "PORT from --port"
assert_eq "$DATA/robot.db" "$(envv ROBOT_DB_PATH)" "ROBOT_DB_PATH under --data-dir"
assert_eq "$DATA/wikis" "$(envv WIKI_BASE)" "WIKI_BASE under --data-dir"
assert_eq "$INST/srv/static" "$(envv PLATFORM_STATIC_DIR)" "PLATFORM_STATIC_DIR from --static-dir"
secret=$(envv SESSION_SECRET)
[[ ${#secret} -ge 32 ]] && ok "SESSION_SECRET generated (${#secret} chars)" || bad "SESSION_SECRET not generated: '$secret'"
assert_eq robot.wtf "$(envv JWT_ISSUER)" "JWT_ISSUER stays robot.wtf"

assert_mode "$DATA" 750
assert_mode "$DATA/wikis" 750
assert_eq "$SVC_USER" "$(stat -c %U "$DATA")" "data dir belongs to the service user"
assert_mode "$DATA/signing_key.pem" 600
assert_eq "$SVC_USER" "$(stat -c %U "$DATA/signing_key.pem")" "signing key belongs to the service user"
if openssl pkey -in "$DATA/signing_key.pem" -noout -text 2>/dev/null | head -n 1 | grep -q '2048 bit'; then
  ok "signing key is RSA 2048"; else bad "signing key is not RSA 2048"; fi
head -n 1 "$DATA/signing_key.pem" | grep -q 'BEGIN PRIVATE KEY' && ok "signing key is PKCS#8" || bad "signing key is not PKCS#8"
assert_file "$DATA/signing_key.pub" "public key written"
assert_mode "$DATA/client_jwk.json" 600
jwk=$(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log([j.kty,j.crv,j.alg,j.use,!!j.d,!!j.kid,!!j.x,!!j.y].join(","))' "$DATA/client_jwk.json")
assert_eq "EC,P-256,ES256,sig,true,true,true,true" "$jwk" "client JWK is a private EC P-256 ES256 key with kid"

assert_file "$DATA/robot.db" "robot.db created"
assert_mode "$DATA/robot.db" 600
assert_eq "$SVC_USER" "$(stat -c %U "$DATA/robot.db")" "robot.db belongs to the service user"
want_migs=$(find "$APP_DIR/prisma/migrations" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | LC_ALL=C sort | tr '\n' ' ')
have_migs=$(as_svc sqlite3 "$DATA/robot.db" "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1" | tr '\n' ' ')
assert_eq "$want_migs" "$have_migs" "all migrations applied by prisma migrate deploy"
tables=$(as_svc sqlite3 "$DATA/robot.db" "SELECT name FROM sqlite_master WHERE type='table' ORDER BY 1" | tr '\n' ' ')
for t in users wikis oauth_auth_requests oauth_sessions mcp_oauth_clients reindex_queue; do
  assert_contains " $tables" " $t " "robot.db has table $t"
done
assert_file "$INST/srv/static/robot.wtf.svg" "robot.wtf.svg copied into PLATFORM_STATIC_DIR"
cmp -s "$APP_DIR/public/static/robot.wtf.svg" "$INST/srv/static/robot.wtf.svg" && ok "…identical to public/static/robot.wtf.svg" || bad "robot.wtf.svg differs"

[[ -L "$PREFIX/current" ]] && ok "current is a symlink" || bad "current is not a symlink"
REL1=$(readlink -f "$PREFIX/current")
[[ "$REL1" == "$PREFIX/releases/"* && -f "$REL1/build/server/index.js" ]] && ok "current -> releases/$(basename "$REL1")" || bad "current points at $REL1"
[[ -d "$REL1/node_modules" && ! -L "$REL1/node_modules" && -x "$REL1/node_modules/.bin/prisma" ]] \
  && ok "the release has its own copy of node_modules" || bad "the release has no node_modules of its own"
assert_no_path "$REL1/data" "no development data dir in the release"
[[ "$(readlink -f "/proc/$(server_pid)/cwd")" == "$REL1" ]] && ok "the server runs from the release directory" || bad "server cwd: $(readlink -f "/proc/$(server_pid)/cwd")"
if [[ $EUID -eq 0 ]]; then
  assert_eq "$SVC_USER" "$(ps -o user= -p "$(server_pid)" | tr -d ' ')" "the server runs as $SVC_USER"
fi

run curl -fsS "http://127.0.0.1:$PORT/readyz"
assert_rc 0 "/readyz answers 200"
assert_contains "$OUT" '"status":"ready"' "…status ready"
run "$SCRIPTS/smoke-test" "http://127.0.0.1:$PORT"
assert_rc 0 "smoke test passes on the fresh install (zero wikis)"
assert_eq 0 "$(as_svc sqlite3 "$DATA/robot.db" 'SELECT count(*) FROM wikis')" "…with an empty wikis table"

# ---- install again: idempotent ------------------------------------------------------------------
keysum=$(cat "$DATA/signing_key.pem" "$DATA/client_jwk.json" | sha256sum)
as_svc sqlite3 "$DATA/robot.db" "INSERT INTO users (did, handle, created_at) VALUES ('did:plc:keepme', 'keep.test', '2025-01-01T00:00:00.000000+00:00')"
provision_platform inst "example.org" "$PORT"
assert_rc 0 "install again (existing installation)"
assert_contains "$OUT" "keeping the existing" "…keeps the environment file"
assert_eq "$keysum" "$(cat "$DATA/signing_key.pem" "$DATA/client_jwk.json" | sha256sum)" "…never replaces keys"
assert_eq "$secret" "$(envv SESSION_SECRET)" "…keeps SESSION_SECRET"
assert_eq "$DOMAIN" "$(envv PLATFORM_DOMAIN)" "…ignores --domain for an existing environment file"
assert_eq 1 "$(as_svc sqlite3 "$DATA/robot.db" "SELECT count(*) FROM users WHERE did='did:plc:keepme'")" "…keeps robot.db rows"
REL2=$(readlink -f "$PREFIX/current")
[[ "$REL2" != "$REL1" ]] && ok "…and deploys a new release" || bad "install did not deploy a new release"

# refuses a bad existing key
cp "$DATA/client_jwk.json" "$T/jwk.bak"
printf '{"kty":"RSA","n":"x","e":"AQAB","d":"y","kid":"old"}\n' >"$DATA/client_jwk.json"
run "$SCRIPTS/install" --prebuilt "$(linked_app)" --user "$SVC_USER" --no-systemd --prefix "$PREFIX" \
    --env-file "$ENV_FILE" --backup-dir "$INST/srv/backups" --service-cmd "$SERVICE"
assert_rc 1 "install refuses an RSA client JWK"
assert_contains "$OUT" "an RSA client key is invalid" "…with a message"
cp "$T/jwk.bak" "$DATA/client_jwk.json"
assert_eq "$REL2" "$(readlink -f "$PREFIX/current")" "…before touching the release"

# ---- good upgrade --------------------------------------------------------------------------------
pid_before=$(server_pid)
run "$SCRIPTS/upgrade" --prebuilt "$(linked_app)" --prefix "$PREFIX" --env-file "$ENV_FILE" \
    --backup-dir "$INST/srv/backups" --service-cmd "$SERVICE" --ready-timeout 60 --settle 1
assert_rc 0 "upgrade (good release)"
REL3=$(readlink -f "$PREFIX/current")
[[ "$REL3" != "$REL2" ]] && ok "current switched to the new release" || bad "current did not change"
[[ "$(server_pid)" != "$pid_before" ]] && ok "the service was restarted" || bad "the service was not restarted"
ls "$INST/srv/backups/pre-upgrade/robot-$(basename "$REL3").db" >/dev/null 2>&1 \
  && ok "robot.db was backed up before the upgrade" || bad "no pre-upgrade backup of robot.db"
assert_contains "$OUT" "no pending migrations" "…no migrations pending"
run "$SCRIPTS/smoke-test" "http://127.0.0.1:$PORT"
assert_rc 0 "smoke test after the upgrade"

# ---- an upgrade that brings a migration ------------------------------------------------------------
# A release = the app plus one extra additive migration (a linked release).
make_linked_release "$T/with-migration"
mkdir "$T/with-migration/prisma/migrations/9999_infra_test_marker"
printf 'CREATE TABLE "infra_test_marker" ("id" INTEGER NOT NULL PRIMARY KEY);\n' \
  >"$T/with-migration/prisma/migrations/9999_infra_test_marker/migration.sql"

# (a) something else holds robot.db open: the migration cannot lock it; nothing changes
mkfifo "$T/holder.fifo"
as_svc sqlite3 "$DATA/robot.db" <"$T/holder.fifo" >/dev/null 2>&1 &
HOLDER=$!; BG_PIDS+=("$HOLDER")
exec 7>"$T/holder.fifo"; printf 'SELECT count(*) FROM users;\n' >&7; sleep 0.5
run "$SCRIPTS/upgrade" --prebuilt "$T/with-migration" --prefix "$PREFIX" --env-file "$ENV_FILE" \
    --backup-dir "$INST/srv/backups" --service-cmd "$SERVICE" --ready-timeout 60 --settle 1 --migrate-timeout 2
assert_rc 1 "upgrade with a migration while another process holds robot.db: refused"
assert_contains "$OUT" "migrations to apply: 9999_infra_test_marker" "…the pending migration was detected"
assert_contains "$OUT" "retrying" "…it retried"
assert_contains "$OUT" "the database migration failed" "…then said so"
assert_contains "$OUT" "the previous release is running and ready" "…and restarted the previous release"
assert_eq "$REL3" "$(readlink -f "$PREFIX/current")" "…current unchanged"
run curl -fsS "http://127.0.0.1:$PORT/readyz"
assert_rc 0 "…and the service is ready"
printf '.quit\n' >&7; exec 7>&-; wait "$HOLDER" 2>/dev/null || true

# (b) free: applied while the service is stopped (on a populated database: see
# test-platform-legacy-adopt)
run "$SCRIPTS/upgrade" --prebuilt "$T/with-migration" --prefix "$PREFIX" --env-file "$ENV_FILE" \
    --backup-dir "$INST/srv/backups" --service-cmd "$SERVICE" --ready-timeout 60 --settle 1
assert_rc 0 "upgrade with a new migration"
assert_eq 1 "$(as_svc sqlite3 "$DATA/robot.db" "SELECT count(*) FROM sqlite_master WHERE name='infra_test_marker'")" "…the migration was applied"
pre="$INST/srv/backups/pre-upgrade/robot-$(basename "$(readlink -f "$PREFIX/current")").db"
assert_eq 0 "$(sqlite3 "$pre" "SELECT count(*) FROM sqlite_master WHERE name='infra_test_marker'" 2>&1)" \
  "…after the pre-upgrade backup was taken (the copy has no marker table)"
assert_eq "$SVC_USER" "$(stat -c %U "$DATA/robot.db")" "…robot.db still belongs to the service user"
REL4=$(readlink -f "$PREFIX/current")
run "$SCRIPTS/smoke-test" "http://127.0.0.1:$PORT"
assert_rc 0 "smoke test after the migration"

# ---- broken release 1: crashes at start ---------------------------------------------------------
make_linked_release "$T/broken-crash"
printf 'console.error("deliberately broken build"); process.exit(1);\n' >"$T/broken-crash/build/server/index.js"
start=$SECONDS
run "$SCRIPTS/upgrade" --prebuilt "$T/broken-crash" --prefix "$PREFIX" --env-file "$ENV_FILE" \
    --backup-dir "$INST/srv/backups" --service-cmd "$SERVICE" --ready-timeout 60 --settle 1
took=$((SECONDS - start))
assert_rc 3 "upgrade to a release that crashes at start: rolled back"
assert_contains "$OUT" "did not become ready" "…says it never became ready"
assert_contains "$OUT" "the service is no longer running" "…because the service stopped running (service.sh status)"
(( took < 30 )) && ok "…detected at once, not after --ready-timeout 60 (whole upgrade with rollback: ${took} s)" \
  || bad "the crash was not detected early: the upgrade took ${took} s"
assert_contains "$OUT" "ROLLED BACK to releases/$(basename "$REL4")" "…names the release it rolled back to"
assert_eq "$REL4" "$(readlink -f "$PREFIX/current")" "…current points at the previous release again"
run "$SCRIPTS/smoke-test" "http://127.0.0.1:$PORT"
assert_rc 0 "…which serves (smoke test)"
failed=$(ls -d "$PREFIX"/releases/*/.failed 2>/dev/null | wc -l)
assert_eq 1 "$failed" "…the failed release is kept and marked .failed"
grep -q "deliberately broken build" "$ROBOT_TEST_SERVICE_DIR/server.log" && ok "…it really ran the broken build" || bad "broken build never ran"

# ---- broken release 2: listens but never ready --------------------------------------------------
make_linked_release "$T/broken-unready"
cat >"$T/broken-unready/build/server/index.js" <<'JS'
import http from "node:http";
const s = http.createServer((req, res) => { res.writeHead(503, { "content-type": "application/json" }); res.end('{"status":"not ready"}'); });
s.listen(Number(process.env.PORT), process.env.HOST);
process.on("SIGTERM", () => s.close(() => process.exit(0)));
JS
run "$SCRIPTS/upgrade" --prebuilt "$T/broken-unready" --prefix "$PREFIX" --env-file "$ENV_FILE" \
    --backup-dir "$INST/srv/backups" --service-cmd "$SERVICE" --ready-timeout 3 --settle 1
assert_rc 3 "upgrade to a release whose /readyz stays 503: rolled back"
assert_contains "$OUT" "no 200 from" "…after --ready-timeout"
assert_eq "$REL4" "$(readlink -f "$PREFIX/current")" "…current points at the previous release again"
run curl -fsS "http://127.0.0.1:$PORT/readyz"
assert_rc 0 "…which is ready"

# ---- failing build: nothing happens --------------------------------------------------------------
pid_before=$(server_pid)
make_linked_release "$T/src-fails"
rm -f "$T/src-fails/node_modules"
run "$SCRIPTS/upgrade" --source "$T/src-fails" --build-cmd "echo building; exit 7" --prefix "$PREFIX" \
    --env-file "$ENV_FILE" --backup-dir "$INST/srv/backups" --service-cmd "$SERVICE"
assert_rc 1 "a failing build fails the upgrade"
assert_contains "$OUT" "build failed" "…with a message"
assert_contains "$OUT" "the live release is untouched" "…saying the live release is untouched"
assert_eq "$REL4" "$(readlink -f "$PREFIX/current")" "…current unchanged"
assert_eq "$pid_before" "$(server_pid)" "…the service was not even restarted"
assert_eq 0 "$(ls -d "$PREFIX"/releases/*.partial 2>/dev/null | wc -l)" "…no partial release left"

run "$SCRIPTS/upgrade" --source "$T/src-fails" --build-cmd "true" --prefix "$PREFIX" \
    --env-file "$ENV_FILE" --backup-dir "$INST/srv/backups" --service-cmd "$SERVICE"
assert_rc 1 "a build that produces no build/server/index.js fails"
assert_eq "$pid_before" "$(server_pid)" "…the service was not restarted"

# ---- usage and preconditions ----------------------------------------------------------------------
run "$SCRIPTS/upgrade" --prebuilt "$APP_DIR" --env-file "$T/nope.env" --prefix "$PREFIX"
assert_rc 1 "upgrade without an environment file"
assert_contains "$OUT" "environment file not found" "…with a message"
run "$SCRIPTS/upgrade" --prebuilt "$T" --prefix "$PREFIX" --env-file "$ENV_FILE"
assert_rc 1 "upgrade from a directory that is not the app"
run "$SCRIPTS/upgrade" --ready-timeout 0
assert_rc 2 "--ready-timeout 0 is a usage error"
run "$SCRIPTS/install" --no-systemd --user "$(id -un)"
assert_rc 2 "install --no-systemd without --service-cmd is a usage error"
assert_contains "$OUT" "needs --service-cmd" "…with a message"

# ---- pruning -------------------------------------------------------------------------------------------
run "$SCRIPTS/upgrade" --prebuilt "$(linked_app)" --prefix "$PREFIX" --env-file "$ENV_FILE" \
    --backup-dir "$INST/srv/backups" --service-cmd "$SERVICE" --ready-timeout 60 --settle 1 --keep-releases 1
assert_rc 0 "upgrade with --keep-releases 1"
left=$(find "$PREFIX/releases" -mindepth 1 -maxdepth 1 -type d | wc -l)
assert_eq 3 "$left" "…keeps current, previous and one more"
[[ -d "$REL4" ]] && ok "…the previous release (rollback target) is kept" || bad "previous release was pruned"

# ---- no previous release: exit 4 ----------------------------------------------------------------------
"$SERVICE" stop
export ROBOT_TEST_SERVICE_DIR="$T/fresh3/run"
mkdir -p "$ROBOT_TEST_SERVICE_DIR"
run "$SCRIPTS/install" --prebuilt "$T/broken-crash" --user "$SVC_USER" --no-systemd \
    --prefix "$T/fresh3/opt" --data-dir "$T/fresh3/data" --static-dir "$T/fresh3/static" \
    --env-file "$T/fresh3/robot.env" --backup-dir "$T/fresh3/backups" --port "$(free_port)" \
    --service-cmd "$SERVICE" --ready-timeout 30 --settle 0
assert_rc 4 "first install of a broken release: nothing to roll back to"
assert_contains "$OUT" "no previous release to roll back to" "…says so"
"$SERVICE" stop

finish
