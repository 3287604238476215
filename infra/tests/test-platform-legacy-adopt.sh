#!/usr/bin/env bash
# The migration path (docs/migration-from-python.md) on a data directory as the Python
# platform left it (production DDL, WAL mode, no _prisma_migrations, four wikis, keys), with
# the Python platform's own robot-platform.service in a (private) systemd directory:
#   - `install --no-start` keeps data, keys and database as they are, and leaves that
#     foreign unit alone; the first start of the service adopts robot.db and applies the
#     migrations; nothing is lost;
#   - the switch, `install --unit-only`, keeps a copy of the foreign unit (and moves its
#     drop-ins aside) before installing ours; the "go back" command it prints restores both;
#   - an upgrade that brings a migration backs the populated database up first and applies
#     the migration without changing a row;
#   - backup -> stop -> delete the data directory -> restore -> start: the restored
#     platform serves the restored data (every wiki, the same rows, the same commits).
# systemctl is a stand-in that records its arguments; the server runs under helpers/service.sh.
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
ROWS="SELECT * FROM users ORDER BY did; SELECT * FROM wikis ORDER BY slug;"
dump_before=$(as_svc sqlite3 "$DATA/robot.db" "$ROWS")
WIKIS=(alice bob carol dave)
heads() { # DATA_DIR: the checked-out ref and commit of every wiki repository
  local w
  for w in "${WIKIS[@]}"; do
    printf '%s %s %s\n' "$w" "$(git -c safe.directory='*' -C "$1/wikis/$w/repo" symbolic-ref -q HEAD || echo detached)" \
      "$(git -c safe.directory='*' -C "$1/wikis/$w/repo" rev-parse -q --verify HEAD || echo unborn)"
  done
}
heads_before=$(heads "$DATA")
assert_eq wal "$(as_svc sqlite3 "$DATA/robot.db" 'PRAGMA journal_mode')" "the legacy robot.db is in WAL mode, like production"

# ---- the Python platform's unit, and a systemctl stand-in ---------------------------------------
SYSD="$T/systemd"
mkdir -p "$SYSD/robot-platform.service.d" "$T/bin"
cat >"$SYSD/robot-platform.service" <<'UNIT'
[Unit]
Description=robot.wtf platform (Flask, gunicorn)
After=network.target

[Service]
Type=notify
User=robot
Group=robot
WorkingDirectory=/srv/robot/app
EnvironmentFile=/srv/robot/platform.env
ExecStart=/srv/robot/venv/bin/gunicorn -c /srv/robot/gunicorn-platform.conf.py platform_server:application
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
printf '[Service]\nEnvironment=WORKERS=3\n' >"$SYSD/robot-platform.service.d/override.conf"
py_unit=$(sha256sum <"$SYSD/robot-platform.service")
py_dropin=$(sha256sum <"$SYSD/robot-platform.service.d/override.conf")
printf '#!/bin/sh\necho "$*" >>"%s"\nexit 0\n' "$T/systemctl.log" >"$T/bin/systemctl"
chmod +x "$T/bin/systemctl"; : >"$T/systemctl.log"
FAKE_PATH="$T/bin:$PATH"

# ---- phase 1: install --no-start ---------------------------------------------------------------
PORT=$(free_port)
run env PATH="$FAKE_PATH" "$SCRIPTS/install" --no-start --prebuilt "$(linked_app)" --user "$SVC_USER" \
    --systemd-dir "$SYSD" --prefix "$PREFIX" --data-dir "$DATA" --static-dir "$INST/srv/static" \
    --env-file "$ENV_FILE" --backup-dir "$INST/srv/backups" --domain "wtf.e2e.internal:8443" --port "$PORT" \
    --set "ADMIN_DISK_PATH=$INST/srv"
assert_rc 0 "install --no-start on a Python-era host"
assert_contains "$OUT" "no _prisma_migrations table" "…recognises the legacy database and leaves it to the server"
assert_eq "$keysum" "$(cat "$DATA/signing_key.pem" "$DATA/client_jwk.json" | sha256sum)" "…keeps the existing keys"
assert_eq 0 "$(as_svc sqlite3 "$DATA/robot.db" "SELECT count(*) FROM sqlite_master WHERE name='_prisma_migrations'")" "…does not touch robot.db"
[[ -z "$(server_pid)" ]] && ok "…and does not start the service" || bad "install --no-start started the service"
[[ -L "$PREFIX/current" ]] && ok "…but the release is in place" || bad "no current release"
assert_contains "$OUT" "was not written by this kit" "…notices the unit it did not write"
assert_contains "$OUT" "LEFT IN PLACE" "…and says it leaves it alone"
assert_eq "$py_unit" "$(sha256sum <"$SYSD/robot-platform.service")" "…the Python unit is unchanged"
assert_eq "$py_dropin" "$(sha256sum <"$SYSD/robot-platform.service.d/override.conf")" "…so is its drop-in"
assert_eq "" "$(cat "$T/systemctl.log")" "…and systemd was not even reloaded"
assert_eq 0 "$(find "$SYSD" -name '*.saved-*' | wc -l)" "…nothing saved, nothing replaced"

# start_ready WHAT: start the installed service and wait for /readyz (finish on failure).
start_ready() {
  ROBOT_CURRENT="$PREFIX/current" ROBOT_ENV_FILE="$ENV_FILE" "$SERVICE" start
  if wait_for_http "http://127.0.0.1:$PORT/readyz" 60 -f; then
    ok "$1: ready"
  else
    bad "$1 did not become ready; server log:"$'\n'"$(server_log 15)"
    finish
  fi
}

start_ready "first start on the legacy robot.db"
want_migs=$(find "$APP_DIR/prisma/migrations" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | LC_ALL=C sort | tr '\n' ' ')
have_migs=$(as_svc sqlite3 "$DATA/robot.db" "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1" | tr '\n' ' ')
assert_eq "$want_migs" "$have_migs" "the baseline was adopted and the migrations applied"
assert_eq "$dump_before" "$(as_svc sqlite3 "$DATA/robot.db" "$ROWS")" "users and wikis rows unchanged"
assert_eq 0 "$(as_svc sqlite3 "$DATA/robot.db" 'SELECT count(*) FROM oauth_sessions')" "oauth_sessions emptied (contracts §6.4)"
assert_eq "$heads_before" "$(heads "$DATA")" "wiki repositories untouched"
check_slugs() { # MESSAGE: check-slug answers 200 for every wiki
  local w codes=""
  for w in "${WIKIS[@]}"; do
    codes+="$w:$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/internal/check-slug?domain=$w.wtf.e2e.internal") "
  done
  assert_eq "alice:200 bob:200 carol:200 dave:200 " "$codes" "$1"
}
check_slugs "check-slug knows every existing wiki"
run "$SCRIPTS/smoke-test" "http://127.0.0.1:$PORT"
assert_rc 0 "smoke test after adoption"

# ---- phase 2, the switch: install --unit-only --------------------------------------------------
releases_before=$(ls "$PREFIX/releases" | wc -l)
unit_only() {
  run env PATH="$FAKE_PATH" "$SCRIPTS/install" --unit-only --user "$SVC_USER" --systemd-dir "$SYSD" \
      --prefix "$PREFIX" --env-file "$ENV_FILE" --backup-dir "$INST/srv/backups"
}
unit_only
assert_rc 0 "install --unit-only (the switch)"
UNIT_ONLY_OUT=$OUT
mapfile -t saved < <(find "$SYSD" -maxdepth 1 -name 'robot-platform.service.saved-*')
assert_eq 1 "${#saved[@]}" "…kept one copy of the foreign unit"
assert_eq "$py_unit" "$(sha256sum <"${saved[0]:-/dev/null}")" "…byte for byte"
assert_no_path "$SYSD/robot-platform.service.d" "…moved its drop-in directory aside"
assert_eq "$py_dropin" "$(sha256sum <"$(find "$SYSD" -path '*/robot-platform.service.d.saved-*/override.conf' | head -n 1)")" "…with the drop-in in it"
unit=$(cat "$SYSD/robot-platform.service")
for want in "# Written by the robot.wtf deployment kit" "User=$SVC_USER" "EnvironmentFile=$ENV_FILE" \
            "WorkingDirectory=$PREFIX/current" "ReadWritePaths=$DATA" "SupplementaryGroups=systemd-journal" "Type=exec"; do
  assert_contains "$unit" "$want" "…our unit is installed: $want"
done
assert_eq $'daemon-reload\nenable robot-platform.service' "$(cat "$T/systemctl.log")" "…systemd reloaded, the unit enabled (not started)"
assert_eq "$releases_before" "$(ls "$PREFIX/releases" | wc -l)" "…no release deployed"
unit_only
assert_rc 0 "install --unit-only again"
assert_eq 1 "$(find "$SYSD" -maxdepth 1 -name 'robot-platform.service.saved-*' | wc -l)" "…recognises its own unit: no second copy"
assert_not_contains "$OUT" "was not written by this kit" "…and says nothing about a foreign unit"

# the way back it printed (the migration guide's rollback uses the same command)
back=$(sed -n 's/^install:   to go back to it: //p' <<<"$UNIT_ONLY_OUT")
[[ -n "$back" ]] && ok "install printed how to go back: $back" || bad "install printed no way back"
mkdir -p "$T/ours"; cp -a "$SYSD/robot-platform.service" "$T/ours/"
run env PATH="$FAKE_PATH" bash -c "$back"
assert_rc 0 "the printed way back runs"
assert_eq "$py_unit" "$(sha256sum <"$SYSD/robot-platform.service")" "…and restores the Python unit"
assert_eq "$py_dropin" "$(sha256sum <"$SYSD/robot-platform.service.d/override.conf" 2>/dev/null)" "…and its drop-in"
cp -a "$T/ours/robot-platform.service" "$SYSD/robot-platform.service"; rm -rf "$SYSD/robot-platform.service.d"

# ---- an upgrade with a migration, on the populated database --------------------------------------
make_linked_release "$T/with-migration"
mkdir "$T/with-migration/prisma/migrations/9999_infra_test_marker"
printf 'CREATE TABLE "infra_test_marker" ("id" INTEGER NOT NULL PRIMARY KEY);\n' \
  >"$T/with-migration/prisma/migrations/9999_infra_test_marker/migration.sql"
run "$SCRIPTS/upgrade" --prebuilt "$T/with-migration" --prefix "$PREFIX" --env-file "$ENV_FILE" \
    --backup-dir "$INST/srv/backups" --service-cmd "$SERVICE" --ready-timeout 60 --settle 1
assert_rc 0 "upgrade with a new migration on the adopted, populated database"
assert_contains "$OUT" "migrations to apply: 9999_infra_test_marker" "…the migration was pending"
marker="SELECT count(*) FROM sqlite_master WHERE name='infra_test_marker'"
pre="$INST/srv/backups/pre-upgrade/robot-$(basename "$(readlink -f "$PREFIX/current")").db"
assert_file "$pre" "…a pre-upgrade copy of robot.db was taken"
assert_eq 0 "$(sqlite3 "$pre" "$marker" 2>&1)" "…BEFORE the migration (the copy has no marker table)"
assert_eq 0 "$(sqlite3 "$pre" "SELECT count(*) FROM _prisma_migrations WHERE migration_name='9999_infra_test_marker'" 2>&1)" "…and does not list the migration"
assert_eq "$dump_before" "$(sqlite3 "$pre" "$ROWS" 2>&1)" "…and holds every users and wikis row"
assert_eq 1 "$(as_svc sqlite3 "$DATA/robot.db" "$marker")" "the migration was applied"
assert_eq "$dump_before" "$(as_svc sqlite3 "$DATA/robot.db" "$ROWS")" "…without changing a users or wikis row"
check_slugs "…and check-slug still knows every wiki"

# ---- backup -> stop -> delete the data directory -> restore -> start ---------------------------------
run "$SCRIPTS/backup" --env-file "$ENV_FILE" --dest "$INST/srv/backups" --no-prune
assert_rc 0 "online backup of the live installation (paths from its environment file)"
BK=$(ls -d "$INST"/srv/backups/robot-backup-* | tail -n 1)
"$SERVICE" stop
rm -rf "$DATA"
assert_no_path "$DATA" "the data directory is gone"
run "$SCRIPTS/restore" "$BK" --data-dir "$DATA" --owner "$SVC_USER"
assert_rc 0 "restore (owner: the service user)"
start_ready "the restored installation starts (/readyz 200)"
check_slugs "…check-slug answers 200 for every restored wiki"
assert_eq "$dump_before" "$(as_svc sqlite3 "$DATA/robot.db" "$ROWS")" "…the users and wikis rows are the same"
assert_eq 1 "$(as_svc sqlite3 "$DATA/robot.db" "$marker")" "…it is the migrated database"
assert_eq "$heads_before" "$(heads "$DATA")" "…every wiki repository has the same branch and HEAD commit"
assert_eq "$keysum" "$(cat "$DATA/signing_key.pem" "$DATA/client_jwk.json" | sha256sum)" "…and the same keys"
run "$SCRIPTS/smoke-test" "http://127.0.0.1:$PORT"
assert_rc 0 "smoke test on the restored installation"

finish
