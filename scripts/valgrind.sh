#!/usr/bin/env bash
# valgrind.sh - run the test programs under valgrind memcheck, the
# integration tests with the ssehub server itself under memcheck too.
# Any memcheck error or leak fails the run. Needs a built tree (make).
#
#   scripts/valgrind.sh [tests/check_NAME ...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind: not installed" >&2; exit 2; }
make -j"$(nproc)" check TESTS= >/dev/null

vg="valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --track-fds=no"
export CK_FORK=no CK_TIMEOUT_MULTIPLIER=20
export SSEHUB_BIN="$PWD/src/ssehub"
export TL_SERVER_WRAPPER="$vg"

tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(tests/check_ring tests/check_sse_fmt tests/check_form
  tests/check_frame tests/check_history tests/check_redis_url tests/check_entry
  tests/check_iplimit tests/check_addr
  tests/check_pubqueue
  tests/check_fanpool tests/check_sockio tests/check_registry tests/check_hub
  tests/check_cli tests/check_embed
  tests/check_server tests/check_protocol tests/check_security tests/check_hostile)
fail=0
for t in "${tests[@]}"; do
  echo "== $t"
  # libtool wrapper scripts run the real binary through --mode=execute.
  if ! ./libtool --mode=execute $vg "$t"; then fail=1; fi
done
exit $fail
