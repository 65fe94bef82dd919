#!/usr/bin/env bash
# setup-clients.sh - install what the real-client tests (tests/clients/)
# need: Debian's Chromium, and the pinned npm packages of
# tests/clients/package-lock.json. Idempotent and non-interactive.
#
#   scripts/setup-clients.sh && (cd tests/clients && npm test)
#
# Runs apt-get through sudo when not root. Node.js (>= 20) and npm must
# already be installed. Playwright never downloads a browser here: the
# tests drive /usr/bin/chromium (override with CHROMIUM_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi

if [ ! -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ]; then
  echo "setup-clients: installing chromium"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "setup-clients: $tool not found (install Node.js >= 20)" >&2; exit 1; }
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup-clients: Node.js $(node --version) is too old; >= 20 is needed" >&2
  exit 1
fi

cd tests/clients
# npm ci writes node_modules/.package-lock.json; reinstall when it is
# missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup-clients: npm ci in tests/clients"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup-clients: ready ($(chromium --version 2>/dev/null | head -n1); node $(node --version))"
