#!/usr/bin/env bash
# Run the deployment-kit tests: bash infra/tests/run.sh [options]
set -euo pipefail

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$TESTS_DIR/../.." && pwd)

usage() {
  cat <<'EOF'
Usage: bash infra/tests/run.sh [options]

Runs every deployment-kit test (infra/tests/test-*.sh) and prints a summary. Each test
works in its own temp dir under $TMPDIR (removed afterwards), starts only processes it
stops again, and changes nothing outside it (no users, no system files).

Tests named test-platform-* run against the built platform in the app directory
(default: this checkout). They FAIL — they are never skipped — when
APP_DIR/build/server/index.js is missing: build first (npm ci && npm run build).

Options:
  --app-dir DIR         the platform to test (default: the repository root) [ROBOT_APP_DIR]
  --only REGEX          run only tests whose name matches REGEX
  --exclude REGEX       do not run tests whose name matches REGEX; they are listed as
                        EXCLUDED in the summary (never silently)
  --keep-tmp            keep each test's temp dir
  --list                list the tests and exit
  -h, --help            this help

Needs: bash, node (20.19+), npm, git, sqlite3, openssl, curl, caddy (2.6), coreutils,
util-linux; optional: systemd (systemd-analyze), shellcheck. Debian:
  apt-get install -y caddy sqlite3 openssl git curl systemd shellcheck
EOF
}

ONLY=
EXCLUDE=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --app-dir) [[ -n "${2:-}" ]] || { echo "run.sh: --app-dir needs a value" >&2; exit 2; }
               export ROBOT_APP_DIR=$2; shift 2 ;;
    --only) ONLY=${2:?--only needs a value}; shift 2 ;;
    --exclude) EXCLUDE=${2:?--exclude needs a value}; shift 2 ;;
    --keep-tmp) export ROBOT_TEST_KEEP_TMP=1; shift ;;
    --list) ls "$TESTS_DIR"/test-*.sh | xargs -n1 basename | sed 's/\.sh$//'; exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

# Fixed order: quick, self-contained tests first; the platform tests last.
ORDER=(test-render-caddyfile test-env-and-unit test-caddy-routing test-smoke-test
       test-backup-restore test-backup-retention
       test-platform-install-upgrade test-platform-legacy-adopt test-platform-caddy test-platform-sigterm
       test-platform-source-build)
# Any test file not in ORDER still runs (after the others).
for f in "$TESTS_DIR"/test-*.sh; do
  n=$(basename "$f" .sh)
  [[ " ${ORDER[*]} " == *" $n "* ]] || ORDER+=("$n")
done

app=${ROBOT_APP_DIR:-$REPO_DIR}
echo "deployment-kit tests — repo $REPO_DIR, app $app"
missing=()
for c in node npm git sqlite3 openssl curl caddy flock sha256sum; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
[[ ${#missing[@]} -eq 0 ]] || echo "WARNING: not installed: ${missing[*]} — tests that need them will FAIL (apt-get install -y caddy sqlite3 openssl git curl)"
[[ -f "$app/build/server/index.js" ]] || echo "WARNING: $app/build/server/index.js is missing — the test-platform-* tests will FAIL (build the app first)"

declare -A RESULT DURATION
failed=0; excluded=0; passed=0
for n in "${ORDER[@]}"; do
  [[ -z "$ONLY" || "$n" =~ $ONLY ]] || continue
  if [[ -n "$EXCLUDE" && "$n" =~ $EXCLUDE ]]; then RESULT[$n]=EXCLUDED; excluded=$((excluded + 1)); continue; fi
  echo
  echo "=== $n"
  start=$SECONDS
  if bash "$TESTS_DIR/$n.sh"; then
    RESULT[$n]=PASS; passed=$((passed + 1))
  else
    RESULT[$n]=FAIL; failed=$((failed + 1))
  fi
  DURATION[$n]=$((SECONDS - start))
done

echo
echo "=== summary"
for n in "${ORDER[@]}"; do
  [[ -n "${RESULT[$n]:-}" ]] || continue
  printf '%-9s %-32s %s\n' "${RESULT[$n]}" "$n" "${DURATION[$n]:+${DURATION[$n]}s}"
done
summary="passed $passed, failed $failed"
[[ $excluded -eq 0 ]] || summary+=", excluded $excluded"
echo "$summary"
if [[ $excluded -gt 0 ]]; then
  echo "NOTE: $excluded test(s) were EXCLUDED by --exclude and did not run."
fi
[[ $failed -eq 0 ]]
