#!/bin/sh
# check-includes.sh - the module graph of src/ has no cycle and no layer
# includes a layer above it. Run by make check.
#
#   scripts/check-includes.sh [SRCDIR]      (default: src/ next to this script)
#
# A module is a .c/.h pair (src/hub/hub.c and src/hub/hub.h are "hub/hub");
# an arrow A -> B is an `#include "b.h"` in a file of A naming a header of
# B. The layers, lowest first: the public header src/ssehub.h, core/,
# cluster/, hub/, http/, program/ (HACKING). Prints every offending arrow or cycle and exits
# 1, or prints a one-line summary and exits 0.
set -eu
src=${1:-$(dirname "$0")/../src}
cd "$src"

# Every `file<TAB>header` include of a project header, as module names.
find . -name '*.[ch]' | sed 's|^\./||' | sort | while read -r f; do
  sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
    while read -r h; do
      # Resolve the header the way the compiler's -I list does.
      for d in . core cluster hub http program; do
        if [ -f "$d/$h" ]; then
          printf '%s\t%s\n' "$f" "${d#.}/$h" | sed 's|\t/|\t|'
          break
        fi
      done
    done
done | awk -F'\t' '
  function module(p) { sub(/\.[ch]$/, "", p); return p }
  function layer(p) {
    if (p !~ /\//) return 0;            # src/ssehub.h: the public contract
    split(p, parts, "/");
    return rank[parts[1]] ? rank[parts[1]] : 99;
  }
  BEGIN { rank["core"] = 1; rank["cluster"] = 2; rank["hub"] = 3; rank["http"] = 4;
          rank["program"] = 5 }
  {
    from = module($1); to = module($2);
    if (from == to) next;
    if (!((from, to) in edge)) { edge[from, to] = 1; out[from] = out[from] " " to }
    node[from] = 1; node[to] = 1;
    if (layer($2) > layer($1)) {
      printf "layer: %s includes %s, a layer above it\n", $1, $2;
      bad = 1;
    }
  }
  function visit(n,    i, k, m, parts) {
    state[n] = 1; stack[++depth] = n;
    k = split(out[n], parts, " ");
    for (i = 1; i <= k; i++) {
      m = parts[i];
      if (state[m] == 1) {
        printf "cycle:";
        for (j = 1; j <= depth; j++) if (started || stack[j] == m) { started = 1; printf " %s ->", stack[j] }
        printf " %s\n", m; started = 0; bad = 1;
      } else if (state[m] == 0) visit(m);
    }
    depth--; state[n] = 2;
  }
  END {
    for (n in node) state[n] = 0;
    for (n in node) if (state[n] == 0) visit(n);
    nn = 0; for (n in node) nn++;
    ne = 0; for (e in edge) ne++;
    if (bad) exit 1;
    printf "check-includes: %d modules, %d arrows, no cycle, layers respected\n", nn, ne;
  }'
