#!/usr/bin/env bash
# setup-clients.sh - install what the real-client tests (tests/clients/)
# need: Node.js, npm and Chromium from Debian when they are missing (the
# versions of scripts/deps-clients.txt), then the pinned npm packages of
# tests/clients/package-lock.json. Idempotent and non-interactive.
#
#   scripts/setup-clients.sh && make check-clients
#
# apt-get runs through sudo when not root (scripts/install-deps.sh). A
# Node.js already on PATH is kept when it is 18.19 or newer (Debian 12 has
# 18.20). Playwright never downloads a browser here: the tests drive
# /usr/bin/chromium (override with CHROMIUM_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages for the programs that are missing. Only by program: a
# Node.js from elsewhere (e.g. nodesource, whose nodejs package includes npm
# and conflicts with Debian's) must not be replaced by Debian's.
want=()
command -v node >/dev/null || want+=(nodejs)
command -v npm >/dev/null || want+=(npm)
if [ -z "${CHROMIUM_BIN:-}" ] && [ ! -x /usr/bin/chromium ]; then want+=(chromium); fi
if [ ${#want[@]} -gt 0 ]; then
  list=$(mktemp "${TMPDIR:-/tmp}/ssehub-deps-clients.XXXXXX")
  trap 'rm -f "$list"' EXIT
  for pkg in "${want[@]}"; do
    grep -E "^$pkg=" scripts/deps-clients.txt >>"$list"
  done
  scripts/install-deps.sh "$list"
fi
if [ -n "${CHROMIUM_BIN:-}" ] && [ ! -x "$CHROMIUM_BIN" ]; then
  echo "setup-clients: CHROMIUM_BIN=$CHROMIUM_BIN is not an executable" >&2
  exit 1
fi

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "setup-clients: $tool not found after installing it" >&2; exit 1; }
done
# node --test --test-concurrency needs 18.19; playwright-core and
# eventsource need 18.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
              process.exit(a > 18 || (a === 18 && b >= 19) ? 0 : 1)'; then
  echo "setup-clients: Node.js $(node --version) is too old; 18.19 or newer is needed" >&2
  exit 1
fi

cd tests/clients
# npm ci writes node_modules/.package-lock.json; reinstall when it is
# missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup-clients: npm ci in tests/clients"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup-clients: ready ($("${CHROMIUM_BIN:-/usr/bin/chromium}" --version 2>/dev/null | head -n1); node $(node --version); npm $(npm --version))"
