#!/usr/bin/env bash
# install-deps.sh - install the Debian packages listed in a deps file
# (one "name=version" per line, # comments), the pinned versions when the
# archive still has them, else the current ones. Idempotent; apt-get runs
# through sudo when not root.
#
#   scripts/install-deps.sh scripts/deps.txt [more lists...]
set -euo pipefail

sudo=
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi

missing=()
for list in "$@"; do
  while read -r spec; do
    case "$spec" in ''|'#'*) continue ;; esac
    if [ "$(dpkg-query -W -f='${Status}' "${spec%%=*}" 2>/dev/null)" != "install ok installed" ]; then
      missing+=("$spec")
    fi
  done < "$list"
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "install-deps: pinned versions unavailable; installing current ones" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]%%=*}" >/dev/null
fi
