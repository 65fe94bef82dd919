#!/usr/bin/env bash
# install-deps.sh - install the Debian packages listed in a deps file
# (one "name=version" per line, # comments), each at its pinned version
# while the archive still has it, else at the current one (it says so; a
# security update replaces a version in the archive). Idempotent; apt-get
# runs through sudo when not root.
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
want=()
for spec in "${missing[@]}"; do
  if apt-cache madison "${spec%%=*}" | awk -F' *[|] *' -v v="${spec#*=}" \
       '$2 == v { found = 1 } END { exit !found }'; then
    want+=("$spec")
  else
    echo "install-deps: $spec is no longer in the archive; installing the current ${spec%%=*}" >&2
    want+=("${spec%%=*}")
  fi
done
if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      --no-install-recommends "${want[@]}" >/dev/null; then
  echo "install-deps: the pinned versions did not install together; installing the current ones" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]%%=*}" >/dev/null
fi
