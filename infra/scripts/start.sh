#!/usr/bin/env bash
# `npm start`: the platform on its embedded development defaults (./data: SQLite file, generated
# keys, wikis) at http://127.0.0.1:8002. Installs and builds first when needed.
set -euo pipefail
source "$(dirname "$0")/lib-dev.sh"
cd "$ROOT"
ensure_apt_packages git
ensure_node_modules
ensure_build
export NODE_ENV="${NODE_ENV:-development}"
export HOST="${HOST:-127.0.0.1}"
export PORT="${PORT:-8002}"
exec node build/server/index.js
