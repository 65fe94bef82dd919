#!/usr/bin/env bash
# ci-sanitizers.sh [address,undefined|thread] - rebuild in place with the
# sanitizers (default AddressSanitizer + UndefinedBehaviorSanitizer) and
# run the whole test suite. The integration tests run the sanitized server
# too, and fail on its non-zero exit (a leak, race or error report).
# Leaves the tree configured with those sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."
san=${1:-address,undefined}
[ -f Makefile ] && make -s distclean >/dev/null
if [ "$san" = "address,undefined" ]; then
  ./configure -q --enable-sanitizers
else
  ./configure -q --enable-sanitizers="$san"
fi
make -j"$(nproc)" >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=0:exitcode=66
export CK_TIMEOUT_MULTIPLIER=6
# Under TSan the server runs 5-15x slower: the 5,000-client chaos test
# would measure that, not races; every other program runs (ASan runs all).
# The list comes from the configured Makefile's own $(TESTS), so scripts
# (tests/check_example.sh) keep their names and new programs are included.
tests=
if [ "$san" = thread ]; then
  all=$(printf 'ssehub-list-tests:\n\t@echo $(TESTS)\n' \
    | make -s --no-print-directory -f Makefile -f - ssehub-list-tests)
  tests="TESTS=$(printf '%s\n' $all | grep -vx 'tests/check_chaos' | tr '\n' ' ')"
fi
if ! make -j1 check ${tests:+"$tests"}; then
  for f in tests/*.log; do echo "---- $f"; tail -n 50 "$f"; done
  exit 1
fi
