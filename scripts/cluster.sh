#!/usr/bin/env bash
# cluster.sh - run a small ssehub cluster on this machine: one loopback
# redis-server (AOF on, in a temporary directory of its own, on a free
# port) and N ssehub nodes sharing one port with --reuse-port, each
# started with --redis. For trying the Redis engine, for tests and for
# benchmarks; not for production (no password, loopback only).
#
#   scripts/cluster.sh start [N] [-- SSEHUB-ARGS...]   N nodes (default 3;
#                                     0 starts Redis alone)
#   scripts/cluster.sh status       what runs; exit 0 all up, 1 some
#                                     down, 3 no cluster
#   scripts/cluster.sh stop         end exactly the processes start began
#
# start prints the URL to use and the pids, and writes them to a state
# file; stop and status read it. stop ends only those pids, and only if
# each is still the process that was started (same start time in
# /proc/PID/stat), never by name.
#
# Environment:
#   SSEHUB_BIN       the ssehub program (default: src/ssehub of this tree)
#   SSEHUB_PORT      the nodes' port (default: a free one)
#   SSEHUB_BIND      the nodes' address (default 127.0.0.1)
#   REDIS_SERVER     the redis-server program (default: redis-server)
#   REDIS_APPENDFSYNC  always (default: what a 200 was answered for is on
#                    disk), everysec or no
#   CLUSTER_STATE    the state file (default:
#                    ${TMPDIR:-/tmp}/ssehub-cluster-$(id -u).state)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${SSEHUB_BIN:-$here/src/ssehub}
bind=${SSEHUB_BIND:-127.0.0.1}
redis_server=${REDIS_SERVER:-redis-server}
fsync=${REDIS_APPENDFSYNC:-always}
state=${CLUSTER_STATE:-${TMPDIR:-/tmp}/ssehub-cluster-$(id -u).state}

die() { echo "cluster.sh: $*" >&2; exit 1; }
usage() {
  echo "usage: $0 start [N] [-- SSEHUB-ARGS...] | status | stop" >&2
  exit 2
}

# The start time of a process (field 22 of /proc/PID/stat, in clock ticks
# since boot), or nothing: with the pid, it names one process for good,
# where a pid alone may be reused once the process is gone.
starttime() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  # The command name (field 2) may hold spaces and ')': cut after the last.
  s=${s##*) }
  # shellcheck disable=SC2086
  set -- $s
  echo "${20}"
}

# Whether pid:starttime is still that process, and running: a zombie
# (state Z, exited but not yet reaped by whoever inherited it) is gone.
alive() {
  local pid=${1%%:*} st=${1##*:} s
  [ -n "$pid" ] && [ "$(starttime "$pid")" = "$st" ] || return 1
  s=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [ "${s%% *}" != Z ]
}

# The pid:starttime of a process just started.
tag() { echo "$1:$(starttime "$1")"; }

# Read the state file into variables; refuse a file that is not ours or
# not as start wrote it (it is parsed, never sourced).
load_state() {
  [ -f "$state" ] || return 1
  [ -O "$state" ] || die "$state is not owned by you"
  dir='' redis_pid='' redis_port='' port='' node_pids=''
  local key val
  while IFS='=' read -r key val; do
    case "$key" in
      dir) dir=$val ;;
      redis_pid) redis_pid=$val ;;
      redis_port) redis_port=$val ;;
      port) port=$val ;;
      node_pids) node_pids=$val ;;
    esac
  done <"$state"
  for val in "$redis_pid" $node_pids; do
    [[ $val =~ ^[0-9]+:[0-9]+$ ]] || die "$state: bad pid entry '$val'"
  done
  [[ $redis_port =~ ^[0-9]+$ && $port =~ ^[0-9]*$ ]] \
    || die "$state: bad port"
  case "$dir" in
    */ssehub-cluster.*) ;;
    *) die "$state: bad directory '$dir'" ;;
  esac
}

# Wait up to 10 s for text in a log, while pid runs. Returns 1 if the
# process exited, 2 on timeout.
wait_log() {
  local log=$1 text=$2 pid=$3 i
  for i in $(seq 1 200); do
    grep -q -- "$text" "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 2
}

# SIGTERM the listed pid:starttime entries that are still those
# processes, wait up to 10 s, then SIGKILL what is left of them.
end_all() {
  local e pid left i
  for e in "$@"; do
    if alive "$e"; then kill -TERM "${e%%:*}" 2>/dev/null || true; fi
  done
  for i in $(seq 1 200); do
    left=0
    for e in "$@"; do alive "$e" && left=1; done
    [ "$left" = 0 ] && return 0
    sleep 0.05
  done
  for e in "$@"; do
    if alive "$e"; then
      pid=${e%%:*}
      echo "cluster.sh: pid $pid did not stop on SIGTERM: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

start_redis() {
  local p pid
  command -v "$redis_server" >/dev/null || die "$redis_server: not found"
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    # A port from the ephemeral-free range; if it is taken, Redis exits
    # at once and we try another.
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
    # setsid: the processes outlive this script and its terminal; without
    # job control the background child is no group leader, so setsid
    # execs in place and $! is Redis itself.
    setsid "$redis_server" --port "$p" --bind 127.0.0.1 --dir "$dir" \
      --daemonize no --logfile '' --save '' \
      --appendonly yes --appendfsync "$fsync" \
      </dev/null >>"$dir/redis.log" 2>&1 &
    pid=$!
    if wait_log "$dir/redis.log" "Ready to accept connections" "$pid"; then
      redis_port=$p
      redis_pid=$(tag "$pid")
      return 0
    fi
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      tail -n 20 "$dir/redis.log" >&2
      return 1
    fi
    grep -q "Address already in use" "$dir/redis.log" || break
  done
  tail -n 20 "$dir/redis.log" >&2
  return 1
}

# Start node i on port $port (0: a free one, then taken from its log).
start_node() {
  local i=$1 log=$dir/node-$1.log pid url
  shift
  setsid "$bin" --bind "$bind" --port "$port" --reuse-port \
    --redis "redis://127.0.0.1:$redis_port/0" "$@" \
    </dev/null >"$log" 2>&1 &
  pid=$!
  if ! wait_log "$log" "listening on http://" "$pid"; then
    echo "cluster.sh: node $i did not start:" >&2
    tail -n 20 "$log" >&2
    kill -KILL "$pid" 2>/dev/null || true
    return 1
  fi
  node_pids="$node_pids${node_pids:+ }$(tag "$pid")"
  if [ "$port" = 0 ]; then
    url=$(grep -o 'listening on http://[^ ]*' "$log" | head -n 1)
    port=${url##*:}
    port=${port%/}
  fi
}

write_state() {
  local tmp
  tmp=$(mktemp "$state.XXXXXX")
  {
    echo "dir=$dir"
    echo "redis_pid=$redis_pid"
    echo "redis_port=$redis_port"
    echo "port=$port"
    echo "node_pids=$node_pids"
  } >"$tmp"
  mv "$tmp" "$state"
}

cmd_start() {
  local n=3 i e help
  if [ $# -gt 0 ] && [ "$1" != "--" ]; then
    [[ $1 =~ ^[0-9]+$ ]] || usage
    n=$1
    shift
  fi
  if [ $# -gt 0 ]; then
    [ "$1" = "--" ] || usage
    shift
  fi
  if load_state; then
    for e in "$redis_pid" $node_pids; do
      alive "$e" && die "a cluster runs already ($state): $0 stop first"
    done
    rm -f "$state" # left by a cluster whose processes are all gone
  fi
  if [ "$n" -gt 0 ]; then
    [ -x "$bin" ] || die "$bin: not found (build first, or set SSEHUB_BIN)"
    # Into a variable first: grep -q would close the pipe early, and with
    # pipefail the program's SIGPIPE would fail the test.
    help=$("$bin" --help 2>&1) || true
    grep -q -- '--redis' <<<"$help" \
      || die "$bin has no --redis (it was built without the Redis engine)"
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/ssehub-cluster.XXXXXX")
  redis_pid='' redis_port='' node_pids=''
  port=${SSEHUB_PORT:-0}
  [[ $port =~ ^[0-9]+$ ]] || die "SSEHUB_PORT: not a port: $port"
  if ! start_redis; then
    rm -rf "$dir"
    die "redis-server did not start"
  fi
  for i in $(seq 1 "$n"); do
    if ! start_node "$i" "$@"; then
      # shellcheck disable=SC2086
      end_all $node_pids "$redis_pid"
      rm -rf "$dir"
      die "could not start node $i of $n"
    fi
  done
  [ "$n" -gt 0 ] || port=''
  write_state
  echo "redis: redis://127.0.0.1:$redis_port/0 pid ${redis_pid%%:*} (AOF, appendfsync $fsync, dir $dir)"
  i=0
  for e in $node_pids; do
    i=$((i + 1))
    echo "node $i: pid ${e%%:*} (log $dir/node-$i.log)"
  done
  if [ "$n" -gt 0 ]; then
    echo "url: http://$bind:$port/   (stream /sse, publish POST /publish)"
  fi
  echo "state: $state   (stop: $0 stop)"
}

cmd_status() {
  local e i=0 down=0 s
  load_state || { echo "no cluster ($state)"; exit 3; }
  if alive "$redis_pid"; then s=running; else s=gone; down=1; fi
  echo "redis: redis://127.0.0.1:$redis_port/0 pid ${redis_pid%%:*} $s"
  for e in $node_pids; do
    i=$((i + 1))
    if alive "$e"; then s=running; else s=gone; down=1; fi
    echo "node $i: pid ${e%%:*} $s"
  done
  [ -z "$port" ] || echo "url: http://$bind:$port/"
  echo "dir: $dir"
  exit $down
}

cmd_stop() {
  load_state || { echo "no cluster ($state)"; return 0; }
  # Nodes first: they end their streams cleanly while Redis is still
  # there; then Redis, which flushes its AOF on SIGTERM.
  # shellcheck disable=SC2086
  end_all $node_pids
  end_all "$redis_pid"
  rm -rf "$dir"
  rm -f "$state"
  echo "stopped: redis pid ${redis_pid%%:*}${node_pids:+, nodes}$(
    for e in $node_pids; do printf ' %s' "${e%%:*}"; done)"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
  *) usage ;;
esac
