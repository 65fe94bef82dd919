#!/bin/sh
# check_cluster_sh.sh - scripts/cluster.sh as a user runs it: start Redis
# and two nodes on one port, two subscribers and six publishes through
# that port (each subscriber gets all six, whichever node it and each
# publish landed on), status, stop; afterwards none of the processes it
# started runs and its directory is gone. Fails without redis-server or
# curl (scripts/setup.sh installs both).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
for p in redis-server curl; do
  command -v "$p" >/dev/null || { echo "FAIL: $p not found (scripts/setup.sh installs it)"; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssehub-cluster-sh.XXXXXX")
CLUSTER_STATE=$tmp/state
TMPDIR=$tmp
export CLUSTER_STATE TMPDIR
c1='' c2='' pids=''
cleanup() {
  "$top/scripts/cluster.sh" stop >/dev/null 2>&1 || true
  # Whatever a failed stop left: the pids start recorded, and the curls.
  for p in $pids $c1 $c2; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "check_cluster_sh: $*" >&2; exit 1; }

# Poll (up to 10 s) until command succeeds.
within() {
  i=0
  until "$@"; do
    i=$((i + 1))
    [ "$i" -lt 200 ] || return 1
    sleep 0.05
  done
}

out=$("$top/scripts/cluster.sh" start 2) || fail "start failed: $out"
echo "$out"
url=$(printf '%s\n' "$out" | sed -n 's/^url: \([^ ]*\).*/\1/p')
[ -n "$url" ] || fail "start printed no url"
pids=$(sed -n 's/^node_pids=//p; s/^redis_pid=//p' "$CLUSTER_STATE" \
  | tr ' ' '\n' | cut -d: -f1)
[ "$(printf '%s\n' "$pids" | wc -l)" -eq 3 ] || fail "state: $pids"

curl -sN --max-time 20 "${url}sse" >"$tmp/s1" & c1=$!
curl -sN --max-time 20 "${url}sse" >"$tmp/s2" & c2=$!
has_ok() { grep -q '^:ok' "$tmp/s1" && grep -q '^:ok' "$tmp/s2"; }
within has_ok || fail "subscribers got no :ok"
for i in 1 2 3 4 5 6; do
  curl -sf -d "data=e$i" "${url}publish" >/dev/null || fail "publish $i"
done
has_all() {
  [ "$(grep -c '^data: e' "$tmp/s1")" -eq 6 ] \
    && [ "$(grep -c '^data: e' "$tmp/s2")" -eq 6 ]
}
within has_all || fail "subscribers got $(grep -c '^data: e' "$tmp/s1") and" \
  "$(grep -c '^data: e' "$tmp/s2") of 6 events"

"$top/scripts/cluster.sh" status || fail "status: not all running"
"$top/scripts/cluster.sh" stop || fail "stop failed"
# Gone, or exited and waiting to be reaped by whoever inherited them.
gone() {
  for p in $pids; do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }
    [ "${s%% *}" = Z ] || return 1
  done
}
within gone || fail "still running after stop: $pids"
pids='' # gone: nothing for cleanup to end (the numbers may be reused)
rc=0
"$top/scripts/cluster.sh" status >/dev/null || rc=$?
[ "$rc" -eq 3 ] || fail "status after stop exited $rc, not 3"
[ -z "$(ls -d "$tmp"/ssehub-cluster.* 2>/dev/null)" ] \
  || fail "the cluster's directory is left"
echo "check_cluster_sh: ok"
