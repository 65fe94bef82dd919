#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer harnesses of tests/fuzz/ with clang and run
# each one for a while on a scratch copy of its seed corpus.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 30; 0 = build, then run each seed once
#   TARGET              form publish last_event_id topics cli redis conffile
#                       claims
#                       (default: all)
# Environment:
#   CC_FUZZ      compiler (default: clang, else clang-14, which
#                scripts/deps-ci.txt installs)
#   FUZZ_BUILD   build directory (default <top>/build-fuzz)
#   FUZZ_CFLAGS  extra compiler flags, e.g. -DFUZZ_CLI_LAX_ERR
#   FUZZ_ARGS    extra libFuzzer flags, e.g. "-jobs=4 -workers=4"
#
# Needs a configured tree (config.h). Seeds in tests/fuzz/corpus/ are never
# written to: each target fuzzes a temporary copy, which is then moved to
# $FUZZ_BUILD/corpus/<target>/ (the last run's grown corpus). Crashing inputs
# are kept in $FUZZ_BUILD/crashes/, logs in $FUZZ_BUILD/logs/.
# Exit status: 0 when no target failed, 1 when one did, 2 for usage or
# build errors.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
all_targets="form publish last_event_id topics cli redis conffile claims"

secs=30
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
  secs=$1
  shift
elif [ $# -gt 0 ] && [[ $1 == -h || $1 == --help ]]; then
  sed -n '2,20s/^# \{0,1\}//p' "$0"
  exit 0
fi
targets=${*:-$all_targets}
for t in $targets; do
  case " $all_targets " in
    *" $t "*) ;;
    *) echo "fuzz.sh: unknown target '$t' (have: $all_targets)" >&2; exit 2 ;;
  esac
done

if [ ! -f "$top/config.h" ]; then
  echo "fuzz.sh: $top/config.h is missing: run ./configure first" >&2
  exit 2
fi

cc=${CC_FUZZ:-}
if [ -z "$cc" ]; then
  # Debian's clang package only adds the unversioned name for clang-14.
  for c in clang clang-14; do
    if command -v "$c" >/dev/null; then cc=$c; break; fi
  done
  cc=${cc:-clang}
fi
build=${FUZZ_BUILD:-$top/build-fuzz}
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-g -O1 -fno-omit-frame-pointer $san -I$top -I$top/src -I$top/src/core -I$top/src/cluster -I$top/src/hub -I$top/src/http -I$top/src/program -DSSEHUB_BUILDING"
# The libraries config.h says the tree was configured with (libjwt for
# signed tokens is optional: configure --with-jwt).
pkgs="libmicrohttpd hiredis"
if grep -q '^#define HAVE_JWT 1' "$top/config.h"; then
  pkgs="$pkgs libjwt-gnutls gnutls"
fi
# shellcheck disable=SC2086
cflags="$cflags $(pkg-config --cflags $pkgs) ${FUZZ_CFLAGS:-}"
warn="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wpointer-arith -Wvla"
# shellcheck disable=SC2086
libs="$(pkg-config --libs $pkgs) -pthread"

if ! command -v "$cc" >/dev/null; then
  echo "fuzz.sh: $cc not found (libFuzzer needs clang: scripts/install-deps.sh scripts/deps-ci.txt)" >&2
  exit 2
fi

mkdir -p "$build/obj" "$build/crashes" "$build/logs"

# ---- build ----------------------------------------------------------------
# The library: every src/*/*.c but the program's own files. cli.c is linked
# into the cli and conffile harnesses only, conffile.c into the latter. Objects are rebuilt when older than any source
# or header (cheap enough to not track dependencies per file).
lib_objs=()
newest=$(ls -t "$top"/src/*.h "$top"/src/*/*.[ch] "$top/config.h" | sed -n 1p)
stale=0
if [ "$(cat "$build/obj/flags" 2>/dev/null)" != "$cc $cflags" ]; then
  stale=1
  rm -f "$build/obj/flags"
fi
pids=()
for src in "$top"/src/*/*.c; do
  base=$(basename "$src" .c)
  case $base in main|demo|stdin_pub|notify) continue ;; esac
  obj="$build/obj/$base.o"
  case $base in cli|conffile) ;; *) lib_objs+=("$obj") ;; esac
  if [ $stale -eq 1 ] || [ ! -f "$obj" ] || [ "$newest" -nt "$obj" ]; then
    # shellcheck disable=SC2086
    $cc $cflags -fsanitize=fuzzer-no-link -c "$src" -o "$obj" \
      2>"$build/logs/build-$base.log" &
    pids+=($!)
  fi
done
failed=0
for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" || failed=1; done
if [ $failed -ne 0 ]; then
  cat "$build"/logs/build-*.log >&2
  echo "fuzz.sh: building the library failed" >&2
  exit 2
fi
echo "$cc $cflags" >"$build/obj/flags"

for t in $targets; do
  extra=()
  [ "$t" = cli ] && extra=("$build/obj/cli.o")
  [ "$t" = conffile ] && extra=("$build/obj/cli.o" "$build/obj/conffile.o")
  # shellcheck disable=SC2086
  if ! $cc $cflags $warn -Werror -fsanitize=fuzzer \
      "$top/tests/fuzz/fuzz_$t.c" "${lib_objs[@]}" "${extra[@]+"${extra[@]}"}" \
      $libs -o "$build/fuzz_$t" 2>"$build/logs/build-fuzz_$t.log"; then
    cat "$build/logs/build-fuzz_$t.log" >&2
    echo "fuzz.sh: building fuzz_$t failed" >&2
    exit 2
  fi
done

# ---- run ------------------------------------------------------------------
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
work=$(mktemp -d "${TMPDIR:-/tmp}/ssehub-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

status=0
for t in $targets; do
  seeds="$top/tests/fuzz/corpus/$t"
  corpus="$work/$t"
  log="$build/logs/$t.log"
  mkdir -p "$corpus"
  if [ -d "$seeds" ]; then
    cp "$seeds"/* "$corpus"/ 2>/dev/null || true
  fi
  nseeds=$(find "$corpus" -type f | wc -l)
  if [ "$secs" -eq 0 ]; then
    set -- -runs=0
  else
    set -- -max_total_time="$secs"
  fi
  rc=0
  # shellcheck disable=SC2086
  "$build/fuzz_$t" "$@" -timeout=5 -rss_limit_mb=1024 -detect_leaks=1 \
    -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" \
    ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1 || rc=$?

  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  ncorp=$(find "$corpus" -type f | wc -l)
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
  # Keep the grown corpus for inspection (or a manual -merge into the seeds).
  rm -rf "$build/corpus/$t"
  mkdir -p "$build/corpus"
  mv "$corpus" "$build/corpus/$t"
  if [ $rc -eq 0 ]; then
    printf '%-14s ok     %9s runs %7s exec/s  cov %-5s ft %-6s corpus %s -> %s  (%ss)\n' \
      "$t" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$nseeds" \
      "$ncorp" "$secs"
  else
    status=1
    printf '%-14s FAILED (exit %s) after %s runs: %s  log %s\n' "$t" "$rc" \
      "${runs:-?}" "${artifact:-no input saved}" "$log"
  fi
done
exit $status
