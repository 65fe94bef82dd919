#!/bin/sh
# check_example.sh - examples/embed (libssehub in the application's own
# libmicrohttpd daemon) serves its page and a live stream under /events/,
# and stops cleanly on SIGTERM.
#
#   tests/check_example.sh [EMBED_BINARY]   (default: $EXAMPLE_BIN)
#
# make check runs it on the in-tree build; scripts/check-example.sh on the
# example compiled against an installed libssehub through pkg-config.
set -u
bin=${1:-${EXAMPLE_BIN:?set EXAMPLE_BIN or pass the binary}}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssehub-example.XXXXXX")
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; cat "$tmp/out" "$tmp/err" 2>/dev/null; exit 1; }

"$bin" 0 >"$tmp/out" 2>"$tmp/err" &
pid=$!
port=
for _ in $(seq 50); do
  port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/out")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "the example did not say where it listens"

curl -s -o "$tmp/page" -w '%{http_code}' "http://127.0.0.1:$port/" >"$tmp/code"
[ "$(cat "$tmp/code")" = 200 ] || fail "GET / answered $(cat "$tmp/code")"
grep -q "EventSource('/events/sse')" "$tmp/page" || fail "GET / is not the page"

# Two ticks at one a second: read the stream for 2.5 s.
curl -sN --max-time 2.5 "http://127.0.0.1:$port/events/sse" >"$tmp/stream"
head -n 1 "$tmp/stream" | grep -qx ':ok' || fail "the stream did not start with :ok"
grep -q '^data: tick [0-9]*$' "$tmp/stream" || fail "no tick on the stream"

# The hub's own routes are there too, under the mount point.
curl -s "http://127.0.0.1:$port/events/stats" | grep -q '"clients":' \
  || fail "no /events/stats"
curl -s "http://127.0.0.1:$port/events/metrics" \
  | grep -q '^ssehub_build_info{.*} 1$' || fail "no /events/metrics"
for path in healthz readyz; do
  code=$(curl -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$port/events/$path")
  [ "$code" = 200 ] || fail "/events/$path answered $code"
done

kill -TERM "$pid"
for _ in $(seq 50); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "still running 5 s after SIGTERM"
wait "$pid"
rc=$?
pid=
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM"
echo "PASS: examples/embed served /, /events/sse, /events/stats, /events/metrics," \
  "/events/healthz and /events/readyz, stopped with 0"
