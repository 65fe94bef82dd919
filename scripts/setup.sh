#!/usr/bin/env bash
# setup.sh - install the Debian packages ssehub needs (scripts/deps.txt),
# then generate, configure and build it. Idempotent and non-interactive.
#
#   scripts/setup.sh [configure options...]
#
# Runs apt-get through sudo when not root. Extra arguments go to
# ./configure (e.g. --enable-sanitizers).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi

install_pinned() {
  local want=() missing=() spec name
  while read -r spec; do
    case "$spec" in ''|'#'*) continue ;; esac
    name=${spec%%=*}
    want+=("$spec")
    if [ "$(dpkg-query -W -f='${Status}' "$name" 2>/dev/null)" != "install ok installed" ]; then
      missing+=("$spec")
    fi
  done < scripts/deps.txt
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "setup: pinned versions unavailable; installing current ones" >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      --no-install-recommends "${missing[@]%%=*}" >/dev/null
  fi
}

install_pinned
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
  autoreconf -fi >/dev/null
fi
if [ ! -f Makefile ] || [ $# -gt 0 ] || [ configure -nt config.status ]; then
  ./configure -q "$@"
fi
make -j"$(nproc)" >/dev/null
echo "setup: built src/ssehub"
