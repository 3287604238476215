#!/usr/bin/env bash
# install with the DEFAULT build (npm ci && npm run build && npm prune --omit=dev) from a
# clean export of the app's committed HEAD, then the smoke test: proves the lockfile
# builds from scratch and that the runtime works with production dependencies only.
# Needs the npm registry (npm ci, or its cache).
#
# better-sqlite3's install script is `prebuild-install || node-gyp rebuild`. On a host
# with internet, prebuild-install downloads the prebuilt binary from GitHub; here GitHub is
# unreachable, and the fallback compile takes ~2 minutes. So the test hands
# prebuild-install that same artefact locally (npm_config_better_sqlite3_local_prebuilds:
# better-sqlite3-v<version>-node-v<ABI>-linux-<arch>.tar.gz, packed from APP_DIR's built
# binary of the same version) — the production code path, minus the download — and checks
# that the release got it. ROBOT_TEST_COMPILE_NATIVE=1 compiles from source instead.
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

# ---- local prebuilds of better-sqlite3 (every version the lockfile has and APP_DIR built) --------
PREBUILDS="$T/prebuilds"
mkdir -p "$PREBUILDS"
abi=$(node -p process.versions.modules); arch=$(node -p process.arch); platform=$(node -p process.platform)
want_versions=$(node -e '
  const l = require(process.argv[1]);
  const v = new Set(Object.entries(l.packages || {}).filter(([k]) => /(^|\/)node_modules\/better-sqlite3$/.test(k)).map(([, p]) => p.version));
  console.log([...v].join(" "));' "$SRC/package-lock.json")
MAIN_BINARY=
if [[ "${ROBOT_TEST_COMPILE_NATIVE:-0}" == 1 ]]; then
  note "ROBOT_TEST_COMPILE_NATIVE=1: better-sqlite3 compiles from source (slow)"
else
  while IFS= read -r bin; do
    pkg=${bin%/build/Release/better_sqlite3.node}
    v=$(node -p 'require(process.argv[1]).version' "$pkg/package.json")
    [[ " $want_versions " == *" $v "* ]] || continue
    tar -C "$pkg" -czf "$PREBUILDS/better-sqlite3-v$v-node-v$abi-$platform-$arch.tar.gz" build/Release/better_sqlite3.node
    [[ "$pkg" == "$APP_DIR/node_modules/better-sqlite3" ]] && MAIN_BINARY=$bin
  done < <(find "$APP_DIR/node_modules" -path '*/better-sqlite3/build/Release/better_sqlite3.node')
  note "local prebuilds for better-sqlite3 $want_versions: $(cd "$PREBUILDS" && echo *)"
  export npm_config_better_sqlite3_local_prebuilds="$PREBUILDS"
fi
# the npm cache first; no audit or funding requests
export npm_config_prefer_offline=true npm_config_audit=false npm_config_fund=false

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
if [[ -n "$MAIN_BINARY" ]]; then
  if cmp -s "$MAIN_BINARY" "$REL/node_modules/better-sqlite3/build/Release/better_sqlite3.node" \
     && [[ ! -e "$REL/node_modules/better-sqlite3/build/Release/obj.target" ]]; then
    ok "better-sqlite3 came from the prebuild (prebuild-install unpacked it; nothing was compiled)"
  else
    bad "better-sqlite3 in the release is not the local prebuild (did prebuild-install ignore npm_config_better_sqlite3_local_prebuilds?)"
  fi
fi
run "$SCRIPTS/smoke-test" "http://127.0.0.1:$PORT"
assert_rc 0 "smoke test against the release built from source"
size=$(du -sm "$REL" | cut -f1)
note "release size: ${size} MB"

finish
