#!/usr/bin/env bash
# `npm test`: the whole suite on a fresh clone — system packages, npm packages, the production
# build, unit + integration + contract tests (vitest), deployment-kit tests, browser tests.
set -euo pipefail
source "$(dirname "$0")/lib-dev.sh"
cd "$ROOT"
ensure_apt_packages git chromium caddy sqlite3 openssl curl python3 shellcheck   # python3: the MCP-side verifier; shellcheck: infra/scripts lint
ensure_node_modules
echo "== build" && npx react-router build >/dev/null
echo "== typecheck" && npx react-router typegen && npx tsc --noEmit
echo "== vitest" && npx vitest run
if [ -x infra/tests/run.sh ]; then echo "== deployment kit" && bash infra/tests/run.sh; fi
echo "== browser (Playwright + Debian Chromium)" && npx playwright test -c e2e/playwright.config.ts
