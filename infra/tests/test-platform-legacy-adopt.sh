#!/usr/bin/env bash
# The migration path (docs/migration-from-python.md): a data directory as the Python
# services left it (production DDL, WAL mode, no _prisma_migrations, wikis, keys) gets
# `install --no-start`, which keeps everything and does not touch the database; the first
# start of the service then adopts robot.db and applies the migrations; nothing is lost.
source "$(dirname "$0")/lib.sh"
require_app_build
require_cmd sqlite3; require_cmd git; require_cmd openssl

svc_can_reach_tmp
INST="$T/inst"; PREFIX="$INST/opt"; ENV_FILE="$INST/etc/robot.env"; DATA="$INST/srv/data"
SERVICE="$HELPERS/service.sh"
export ROBOT_TEST_SERVICE_DIR="$INST/run"
[[ $EUID -eq 0 ]] && export ROBOT_TEST_SERVICE_USER=$SVC_USER
mkdir -p "$ROBOT_TEST_SERVICE_DIR" "$INST/srv"
bash "$HELPERS/make-data-dir.sh" "$DATA" >"$T/make.log" 2>&1 || fatal "could not build the legacy data dir: $(cat "$T/make.log")"
# the stand-in client key of make-data-dir is not a real key: make a real EC P-256 one
node -e '
  const c=require("crypto"),fs=require("fs");const k=c.generateKeyPairSync("ec",{namedCurve:"P-256"}).privateKey.export({format:"jwk"});
  fs.writeFileSync(process.argv[1],JSON.stringify({...k,kid:"legacy-kid",use:"sig",alg:"ES256"}));' "$DATA/client_jwk.json"
if [[ $EUID -eq 0 ]]; then chown -R "$SVC_USER:$(id -gn "$SVC_USER")" "$DATA"; fi
chmod 0750 "$DATA"
as_svc sqlite3 "$DATA/robot.db" "INSERT INTO oauth_sessions VALUES ('did:plc:alice111','alice.test','https://pds','https://as',NULL,NULL,'n','{}','2025-01-01T00:00:00+00:00')"
keysum=$(cat "$DATA/signing_key.pem" "$DATA/client_jwk.json" | sha256sum)
dump_before=$(as_svc sqlite3 "$DATA/robot.db" "SELECT * FROM users ORDER BY did; SELECT * FROM wikis ORDER BY slug;")
alice_head=$(git -c safe.directory='*' -C "$DATA/wikis/alice/repo" rev-parse HEAD)
assert_eq wal "$(as_svc sqlite3 "$DATA/robot.db" 'PRAGMA journal_mode')" "the legacy robot.db is in WAL mode, like production"

PORT=$(free_port)
run "$SCRIPTS/install" --no-start --prebuilt "$APP_DIR" --user "$SVC_USER" --no-systemd \
    --prefix "$PREFIX" --data-dir "$DATA" --static-dir "$INST/srv/static" \
    --env-file "$ENV_FILE" --backup-dir "$INST/srv/backups" --domain "wtf.e2e.internal:8443" --port "$PORT" \
    --set "ADMIN_DISK_PATH=$INST/srv"
assert_rc 0 "install --no-start on a Python-era data dir"
assert_contains "$OUT" "no _prisma_migrations table" "…recognises the legacy database and leaves it to the server"
assert_eq "$keysum" "$(cat "$DATA/signing_key.pem" "$DATA/client_jwk.json" | sha256sum)" "…keeps the existing keys"
assert_eq 0 "$(as_svc sqlite3 "$DATA/robot.db" "SELECT count(*) FROM sqlite_master WHERE name='_prisma_migrations'")" "…does not touch robot.db"
[[ -z "$(server_pid)" ]] && ok "…and does not start the service" || bad "install --no-start started the service"
[[ -L "$PREFIX/current" ]] && ok "…but the release is in place" || bad "no current release"

ROBOT_CURRENT="$PREFIX/current" ROBOT_ENV_FILE="$ENV_FILE" "$SERVICE" start
if wait_for_http "http://127.0.0.1:$PORT/readyz" 60 -f; then
  ok "first start on the legacy robot.db: ready"
else
  bad "first start on the legacy robot.db did not become ready; server log:"$'\n'"$(server_log 15)"
  finish
fi
want_migs=$(find "$APP_DIR/prisma/migrations" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | LC_ALL=C sort | tr '\n' ' ')
have_migs=$(as_svc sqlite3 "$DATA/robot.db" "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1" | tr '\n' ' ')
assert_eq "$want_migs" "$have_migs" "the baseline was adopted and the migrations applied"
assert_eq "$dump_before" "$(as_svc sqlite3 "$DATA/robot.db" "SELECT * FROM users ORDER BY did; SELECT * FROM wikis ORDER BY slug;")" "users and wikis rows unchanged"
assert_eq 0 "$(as_svc sqlite3 "$DATA/robot.db" 'SELECT count(*) FROM oauth_sessions')" "oauth_sessions emptied (contracts §6.4)"
assert_eq "$alice_head" "$(git -c safe.directory='*' -C "$DATA/wikis/alice/repo" rev-parse HEAD)" "wiki repositories untouched"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/internal/check-slug?domain=alice.wtf.e2e.internal")" "check-slug knows the existing wikis"
run "$SCRIPTS/smoke-test" "http://127.0.0.1:$PORT"
assert_rc 0 "smoke test after adoption"

run "$SCRIPTS/upgrade" --prebuilt "$APP_DIR" --prefix "$PREFIX" --env-file "$ENV_FILE" \
    --backup-dir "$INST/srv/backups" --service-cmd "$SERVICE" --ready-timeout 60 --settle 1
assert_rc 0 "a later upgrade of the adopted installation"
assert_contains "$OUT" "no pending migrations" "…finds nothing to migrate"

finish
