#!/bin/sh
# check_manpages.sh - the man pages cannot go stale.
#
# Fails, naming each omission, when
#   - a long flag of `ssehub --help` has no entry under OPTIONS in ssehub(1);
#   - a flag (but help, version and config) has no entry under KEYS in
#     ssehub.conf(5);
#   - a function (ssehub_*) declared in src/ssehub.h, a field of struct
#     ssehub_options or a statistic of SSEHUB_STATS is missing from
#     libssehub(3) (functions anywhere, fields and statistics as entries
#     of their struct under STRUCTURES);
#   - a page still holds an unsubstituted @name@, or groff warns about it
#     (groff -man -ww -z: every warning);
#   - the complete program under EXAMPLE in libssehub(3) does not compile
#     against src/ssehub.h.
# A tool it needs that is missing (groff: Debian's groff-base, in
# scripts/deps.txt; cc) is a failure, not a skip.
#
#   tests/check_manpages.sh        (make check sets SSEHUB_BIN and srcdir)
#
# The pages are the generated ones in the build tree (doc/*.in with
# @sysconfdir@ and the version filled in), next to the program.
set -u
bin=${SSEHUB_BIN:?set SSEHUB_BIN to the built src/ssehub}
srcdir=${srcdir:-$(dirname "$0")/..}
# The test runs from the build tree's top (make check); the pages are
# built there, beside src/ssehub.
builddir=$(cd "$(dirname "$bin")/.." && pwd)
man1=$builddir/doc/ssehub.1
man5=$builddir/doc/ssehub.conf.5
man3=$builddir/doc/libssehub.3
header=$srcdir/src/ssehub.h
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssehub-man.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() {
  echo "FAIL: $*"
  failed=1
}

for f in "$man1" "$man5" "$man3" "$header"; do
  [ -r "$f" ] || { echo "FAIL: $f is missing (make builds the pages)"; exit 1; }
done
command -v groff >/dev/null 2>&1 ||
  { echo "FAIL: groff not found (Debian: groff-base, scripts/deps.txt)"; exit 1; }
command -v "${CC:-cc}" >/dev/null 2>&1 ||
  { echo "FAIL: no C compiler (${CC:-cc}) for the EXAMPLE of libssehub(3)"; exit 1; }

# ---- the flags, from the program itself ---------------------------------
"$bin" --help >"$tmp/help" 2>&1 || fail "ssehub --help exited $?"
# An option line starts with "  -x, --name" or "      --name".
sed -n 's/^  *\(-[A-Za-z], \)\{0,1\}--\([a-z0-9][a-z0-9-]*\).*/\2/p' \
  "$tmp/help" | sort -u >"$tmp/flags"
n=$(wc -l <"$tmp/flags")
[ "$n" -ge 30 ] || fail "found only $n flags in ssehub --help (its layout changed?)"

# The tag of each .TP entry (the line after it) in one section of a page,
# with groff's \- and font escapes removed. $1 page, $2 section name.
tags() {
  awk -v want="$2" '
    /^\.SH / { sec = $0; sub(/^\.SH +"?/, "", sec); sub(/"$/, "", sec) }
    sec == want && tp { print; tp = 0; next }
    sec == want && /^\.TP/ { tp = 1 }
  ' "$1" | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' \
      -e 's/^\.[BIR]*[[:space:]]*//' -e 's/"//g'
}

# ssehub(1): every flag has an OPTIONS entry whose tag names it.
tags "$man1" OPTIONS >"$tmp/tags1"
grep -oE -- '--[a-z0-9][a-z0-9-]*' "$tmp/tags1" | sed 's/^--//' | sort -u \
  >"$tmp/doc1"
while read -r flag; do
  grep -qx -- "$flag" "$tmp/doc1" ||
    fail "--$flag (in ssehub --help) has no entry under OPTIONS in doc/ssehub.1"
done <"$tmp/flags"
# And the other way round: a documented flag the program does not take
# (renamed, removed) is as stale as a missing one.
while read -r flag; do
  grep -qx -- "$flag" "$tmp/flags" ||
    fail "--$flag has an entry under OPTIONS in doc/ssehub.1 but is not in ssehub --help"
done <"$tmp/doc1"

# ssehub.conf(5): every flag but help, version and config is a key.
tags "$man5" KEYS | awk '{ print $1 }' | sort -u >"$tmp/doc5"
grep -vxE 'help|version|config' "$tmp/flags" | while read -r key; do
  grep -qx -- "$key" "$tmp/doc5" ||
    echo "FAIL: key $key (--$key in ssehub --help) has no entry under KEYS in doc/ssehub.conf.5"
done >"$tmp/fail5"
[ -s "$tmp/fail5" ] && { cat "$tmp/fail5"; failed=1; }

# ---- libssehub(3) against the header ------------------------------------
# Functions: every SSEHUB_API declaration, and the function-like macros
# (ssehub_options_default, ssehub_get_stats).
tr '\n' ' ' <"$header" | grep -oE 'SSEHUB_API[^;{]*\(' |
  grep -oE 'ssehub_[a-z0-9_]+ *\($' | tr -d ' (' >"$tmp/funcs"
sed -n 's/^#define \(ssehub_[a-z0-9_]*\)(.*/\1/p' "$header" >>"$tmp/funcs"
sort -u -o "$tmp/funcs" "$tmp/funcs"
n=$(wc -l <"$tmp/funcs")
[ "$n" -ge 15 ] || fail "found only $n functions in src/ssehub.h (its layout changed?)"
while read -r fn; do
  grep -qw -- "$fn" "$man3" ||
    fail "$fn() (declared in src/ssehub.h) is not in doc/libssehub.3"
done <"$tmp/funcs"

# Struct fields and statistics: entries under STRUCTURES, in the
# subsection of their struct.
awk '
  /^\.SH / { in_s = ($0 ~ /STRUCTURES/) }
  in_s && /^\.SS / { sub_s = $0 }
  in_s && tp { print sub_s "\t" $0; tp = 0; next }
  in_s && /^\.TP/ { tp = 1 }
' "$man3" | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' >"$tmp/tags3"
fields() { # $1: struct name; identifiers in that struct's tags
  awk -F '\t' -v want=".SS struct $1" '$1 == want { print $2 }' \
    "$tmp/tags3" | grep -oE '[A-Za-z_][A-Za-z0-9_]*' | sort -u
}
fields ssehub_options >"$tmp/docopts"
fields ssehub_stats >"$tmp/docstats"
# A field's line starts at column 3; its comment is cut off first.
sed -n '/^struct ssehub_options {/,/^};/p' "$header" | sed 's|/\*.*||' |
  sed -n 's/^  [a-z].*[ *]\([a-z_][a-z0-9_]*\); *$/\1/p' >"$tmp/opts"
n=$(wc -l <"$tmp/opts")
[ "$n" -ge 30 ] || fail "found only $n fields of struct ssehub_options (its layout changed?)"
while read -r f; do
  grep -qx -- "$f" "$tmp/docopts" ||
    fail "struct ssehub_options field $f (src/ssehub.h) has no entry in doc/libssehub.3"
done <"$tmp/opts"
sed -n 's/^ *X(\([a-z_][a-z0-9_]*\),.*/\1/p' "$header" >"$tmp/stats"
n=$(wc -l <"$tmp/stats")
[ "$n" -ge 20 ] || fail "found only $n statistics in SSEHUB_STATS (its layout changed?)"
while read -r s; do
  grep -qx -- "$s" "$tmp/docstats" ||
    fail "statistic $s (SSEHUB_STATS in src/ssehub.h) has no entry in doc/libssehub.3"
done <"$tmp/stats"

# The EXAMPLE program compiles against this header.
awk '/^\.SH EXAMPLE/ { ex = 1 } ex && /^\.RE/ { exit } ex && go { print }
     ex && /^\.RS/ { go = 1 }' "$man3" |
  sed -e 's/\\e/\\/g' -e 's/\\-/-/g' >"$tmp/example.c"
grep -q 'int main' "$tmp/example.c" ||
  fail "no program found under EXAMPLE in doc/libssehub.3"
"${CC:-cc}" -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror \
  -fsyntax-only -I"$srcdir/src" "$tmp/example.c" >"$tmp/cc" 2>&1 ||
  { fail "the EXAMPLE of doc/libssehub.3 does not compile:"; cat "$tmp/cc"; }

# ---- the pages themselves -----------------------------------------------
for page in "$man1" "$man5" "$man3"; do
  name=doc/$(basename "$page")
  grep -n '@[A-Za-z_]*@' "$page" >"$tmp/subst" &&
    { fail "$name has unsubstituted names:"; cat "$tmp/subst"; }
  # -ww: every warning; -z: no output. Wide lines (EXAMPLE) are fine.
  LC_ALL=C.UTF-8 groff -man -ww -z "$page" >"$tmp/groff" 2>&1
  if [ -s "$tmp/groff" ]; then
    fail "groff warns about $name:"
    cat "$tmp/groff"
  fi
done

[ "$failed" -eq 0 ] || exit 1
echo "ok: $(wc -l <"$tmp/flags") flags in ssehub(1) and ssehub.conf(5)," \
  "$(wc -l <"$tmp/funcs") functions, $(wc -l <"$tmp/opts") option fields" \
  "and $(wc -l <"$tmp/stats") statistics in libssehub(3), no groff warnings"
