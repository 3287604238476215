#!/usr/bin/env bash
# install with the DEFAULT build (npm ci && npm run build && npm prune --omit=dev) from a
# clean export of the app's committed HEAD, then the smoke test: proves the lockfile
# builds from scratch and that the runtime works with production dependencies only.
# Needs the npm registry (npm ci) and ~3 minutes (better-sqlite3 compiles from source).
source "$(dirname "$0")/lib.sh"
require_app_build
require_cmd npm; require_cmd git; require_cmd curl

SRC="$T/src"
mkdir -p "$SRC"
if git -C "$APP_DIR" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  git -C "$APP_DIR" archive --format=tar HEAD | tar -C "$SRC" -xf - || fatal "git archive of $APP_DIR failed"
  note "building the committed HEAD of $APP_DIR ($(git -C "$APP_DIR" rev-parse --short HEAD))"
else
  fatal "$APP_DIR has no commits: this test builds the committed state (git archive HEAD)"
fi
[[ -f "$SRC/package-lock.json" ]] || fatal "the committed tree has no package-lock.json (npm ci needs it)"

PORT=$(free_port)
svc_can_reach_tmp
INST="$T/inst"; PREFIX="$INST/opt"; ENV_FILE="$INST/etc/robot.env"; DATA="$INST/srv/data"
SERVICE="$HELPERS/service.sh"
export ROBOT_TEST_SERVICE_DIR="$INST/run"
[[ $EUID -eq 0 ]] && export ROBOT_TEST_SERVICE_USER=$SVC_USER
mkdir -p "$ROBOT_TEST_SERVICE_DIR"
start=$SECONDS
run "$SCRIPTS/install" --source "$SRC" --user "$SVC_USER" --no-systemd \
    --prefix "$PREFIX" --data-dir "$DATA" --static-dir "$INST/srv/static" \
    --env-file "$ENV_FILE" --backup-dir "$INST/srv/backups" --domain "wtf.e2e.internal:8443" --port "$PORT" \
    --set "ADMIN_DISK_PATH=$INST/srv" --service-cmd "$SERVICE" --ready-timeout 90 --settle 1
assert_rc 0 "install --source with the default build command ($((SECONDS - start)) s)"
[[ $RC == 0 ]] || fatal "install failed"
REL=$(readlink -f "$PREFIX/current")
assert_file "$REL/build/server/index.js" "the release was built in place"
assert_no_path "$REL/node_modules/vite" "dev dependencies were pruned (no vite in the release)"
assert_no_path "$REL/node_modules/@react-router/dev" "dev dependencies were pruned (no @react-router/dev)"
[[ -x "$REL/node_modules/.bin/prisma" ]] && ok "prisma CLI kept (runtime dependency for migrate deploy)" || bad "prisma CLI missing after prune"
run "$SCRIPTS/smoke-test" "http://127.0.0.1:$PORT"
assert_rc 0 "smoke test against the release built from source"
size=$(du -sm "$REL" | cut -f1)
note "release size: ${size} MB"

finish
