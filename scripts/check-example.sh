#!/bin/sh
# check-example.sh - build examples/embed.c the way a user would, against
# an installed libssehub found through pkg-config, and run it
# (tests/check_example.sh). Installs into a temporary DESTDIR; run it from
# a configured and built tree.
#
#   scripts/check-example.sh
set -eu
cd "$(dirname "$0")/.."
dest=$(mktemp -d "${TMPDIR:-/tmp}/ssehub-install.XXXXXX")
trap 'rm -rf "$dest"' EXIT
make install DESTDIR="$dest" >/dev/null
pcdir=$(dirname "$(find "$dest" -name ssehub.pc | head -n 1)")
libdir=$(dirname "$(find "$dest" -name 'libssehub.so' | head -n 1)")
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$dest"
# shellcheck disable=SC2046
${CC:-cc} -Wall -Wextra -Werror examples/embed.c \
  $(pkg-config --cflags --libs ssehub) -o "$dest/embed"
echo "check-example: built against $(pkg-config --modversion ssehub) in $libdir"
LD_LIBRARY_PATH="$libdir" tests/check_example.sh "$dest/embed"
