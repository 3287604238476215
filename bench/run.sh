#!/usr/bin/env bash
# `npm run bench`: installs wrk (Debian) if missing, builds the production bundle, runs bench/run.ts.
set -euo pipefail
source "$(dirname "$0")/../infra/scripts/lib-dev.sh"
cd "$ROOT"
ensure_apt_packages wrk git
ensure_node_modules
npx react-router build >/dev/null
exec node --import tsx bench/run.ts "$@"
