#!/usr/bin/env bash
# setup.sh - install the Debian packages ssehub needs (scripts/deps.txt),
# then generate, configure and build it. Idempotent and non-interactive.
#
#   scripts/setup.sh [configure options...]
#
# apt-get runs through sudo when not root (scripts/install-deps.sh). Extra
# arguments go to ./configure (e.g. --enable-sanitizers).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh scripts/deps.txt
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
  autoreconf -fi >/dev/null
fi
if [ ! -f Makefile ] || [ $# -gt 0 ] || [ configure -nt config.status ]; then
  ./configure -q "$@"
fi
make -j"$(nproc)" >/dev/null
echo "setup: built src/ssehub"
