#!/usr/bin/env bash
# check-style.sh - every C file follows the house style (.clang-format at
# the top of the tree): runs clang-format in dry-run mode over each tracked
# .c/.h file under src/, tests/, scripts/ and examples/. Prints the files
# that clang-format would change and exits 1, or prints a one-line summary
# and exits 0. Exits 2 when clang-format is missing or fails.
#
#   scripts/check-style.sh            check
#   scripts/check-style.sh -v         also show where each file differs
#
# The style is tuned for clang-format 14 (Debian 12's clang-format-14, see
# scripts/deps-ci.txt); another major version may format some constructs
# differently. CLANG_FORMAT=/path/to/clang-format picks the binary.
# To fix a file: clang-format -i FILE (or clang-format-14 -i FILE).
set -euo pipefail
cd "$(dirname "$0")/.."

verbose=0
case "${1:-}" in
  -v|--verbose) verbose=1 ;;
  '') ;;
  *) echo "usage: $0 [-v]" >&2; exit 2 ;;
esac

want_major=14
cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
  for c in clang-format-$want_major clang-format; do
    if command -v "$c" >/dev/null 2>&1; then cf=$c; break; fi
  done
fi
if [ -z "$cf" ] || ! command -v "$cf" >/dev/null 2>&1; then
  echo "check-style: clang-format not found (neither clang-format-$want_major" \
       "nor clang-format is on PATH); on Debian: apt-get install" \
       "clang-format-$want_major, or scripts/install-deps.sh" \
       "scripts/deps-ci.txt" >&2
  exit 2
fi
version=$("$cf" --version 2>/dev/null | head -n 1 || true)
major=$(printf '%s\n' "$version" |
          sed -n 's/.*version \([0-9][0-9]*\)\..*/\1/p' | head -n 1)
if [ "$major" != "$want_major" ]; then
  echo "check-style: warning: $cf is ${version:-of unknown version}; the" \
       "style is tuned for clang-format $want_major, results may differ" >&2
fi

# The files: tracked ones in a git checkout of ssehub, else (a release
# tarball, perhaps unpacked inside some other repository) whatever is there.
files=()
if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
  while IFS= read -r f; do
    [ -f "$f" ] && files+=("$f")
  done < <(git ls-files -- 'src/*.[ch]' 'tests/*.[ch]' 'scripts/*.[ch]' \
             'examples/*.[ch]')
else
  while IFS= read -r f; do
    files+=("$f")
  done < <(find src tests scripts examples -name '*.[ch]' 2>/dev/null | sort)
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "check-style: no .c/.h files found" >&2
  exit 2
fi

# One run over all files; each difference is a "code should be
# clang-formatted" error naming its file.
err=$(mktemp)
trap 'rm -f "$err"' EXIT
rc=0
"$cf" --style=file --dry-run --Werror -- "${files[@]}" >/dev/null 2>"$err" \
  || rc=$?
pattern='^(.*):[0-9]+:[0-9]+: error: code should be clang-formatted'
bad=$(sed -n -E "s/$pattern.*/\1/p" "$err" | uniq -c |
        awk '{ n = $1; $1 = ""; sub(/^ /, ""); printf "%s (%d)\n", $0, n }')
if [ "$rc" -ne 0 ] && [ -z "$bad" ]; then
  echo "check-style: $cf failed (exit $rc):" >&2
  cat "$err" >&2
  exit 2
fi
if [ -n "$bad" ]; then
  [ "$verbose" -eq 1 ] && cat "$err"
  nbad=$(printf '%s\n' "$bad" | wc -l)
  echo "check-style: $nbad of ${#files[@]} files differ from .clang-format" \
       "(places clang-format would change):"
  printf '%s\n' "$bad" | sed 's/^/  /'
  echo "check-style: see them with $0 -v; fix with $cf -i FILE..."
  exit 1
fi
echo "check-style: ${#files[@]} files follow .clang-format" \
     "($cf ${version##* version })"
