# Shared by the two developer commands (npm start, npm test): make a fresh clone usable.
# Sourced, not executed.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Debian packages the project needs; installed when missing and we are root (CI, fresh machines).
ensure_apt_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing Debian packages: ${missing[*]} — install them with: sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  echo "Installing Debian packages: ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# npm packages from the lockfile, when node_modules is missing or older than the lockfile.
ensure_node_modules() {
  cd "$ROOT"
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
     || [ ! -d app/generated/prisma ]; then
    echo "Installing npm packages (npm ci; better-sqlite3 compiles from source, ~2 minutes)…" >&2
    npm ci --no-audit --no-fund
  fi
}

# The production build, rebuilt when any source is newer than it.
ensure_build() {
  cd "$ROOT"
  if [ ! -f build/server/index.js ] || [ -n "$(find app public prisma react-router.config.ts vite.config.ts package-lock.json -newer build/server/index.js -type f -print -quit)" ]; then
    echo "Building (react-router build)…" >&2
    npx react-router build >/dev/null
  fi
}
