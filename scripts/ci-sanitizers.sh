#!/usr/bin/env bash
# ci-sanitizers.sh - rebuild in place with AddressSanitizer and
# UndefinedBehaviorSanitizer and run the whole test suite. The integration
# tests run the sanitized server too, and fail on its non-zero exit (a
# leak or error report). Leaves the tree configured with sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f Makefile ] && make -s distclean >/dev/null
./configure -q --enable-sanitizers
make -j"$(nproc)" >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export CK_TIMEOUT_MULTIPLIER=4
if ! make -j1 check; then
  for f in tests/*.log; do echo "---- $f"; tail -n 50 "$f"; done
  exit 1
fi
