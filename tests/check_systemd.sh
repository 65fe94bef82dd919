#!/bin/sh
# check_systemd.sh - ssehub under systemd:
#   1. the generated ssehub.service passes `systemd-analyze verify` with
#      no warning or error (its ExecStart pointed at the built program,
#      which verify wants to exist);
#   2. the Type=notify messages are really sent: a datagram socket of our
#      own as $NOTIFY_SOCKET gets READY=1 once ssehub listens,
#      RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on SIGTERM
#      (and the exit is 0). Built without libsystemd (configure
#      --with-systemd=no), it checks instead that nothing is sent and the
#      program runs the same.
# Fails without systemd-analyze or python3 (scripts/setup.sh installs
# systemd).
set -eu
: "${SSEHUB_BIN:?}" "${SSEHUB_UNIT:?}" "${SSEHUB_HAVE_SYSTEMD:?}"
for p in systemd-analyze python3; do
  command -v "$p" >/dev/null \
    || { echo "FAIL: $p not found (scripts/setup.sh installs it)"; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssehub-systemd.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check_systemd: $*" >&2; exit 1; }

# 1. The unit.
[ -f "$SSEHUB_UNIT" ] || fail "$SSEHUB_UNIT not built"
grep -q '^ExecStart=/.*/ssehub --config /.*/ssehub/ssehub.conf$' "$SSEHUB_UNIT" \
  || fail "ExecStart lacks the substituted paths: $(grep ExecStart "$SSEHUB_UNIT")"
if grep -q '@[a-z]*@' "$SSEHUB_UNIT"; then fail "unsubstituted @...@ left"; fi
sed "s|^ExecStart=[^ ]*|ExecStart=$SSEHUB_BIN|" "$SSEHUB_UNIT" \
  >"$tmp/ssehub.service"
# --man=no: Documentation= names ssehub(1), not installed at build time.
if ! out=$(systemd-analyze verify --man=no "$tmp/ssehub.service" 2>&1); then
  fail "systemd-analyze verify failed: $out"
fi
[ -z "$out" ] || fail "systemd-analyze verify warned: $out"
echo "check_systemd: systemd-analyze verify: clean"

# 2. The notifications.
python3 - "$SSEHUB_BIN" "$tmp" "$SSEHUB_HAVE_SYSTEMD" <<'PY'
import os, signal, socket, subprocess, sys, time

binary, tmp, have = sys.argv[1], sys.argv[2], sys.argv[3] == "yes"
scale = int(os.environ.get("CK_TIMEOUT_MULTIPLIER", "1") or 1)
path = os.path.join(tmp, "notify")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
conf = os.path.join(tmp, "ssehub.conf")
with open(conf, "w") as f:
    f.write("bind = 127.0.0.1\nport = 0\nheartbeat = 0\n")
env = dict(os.environ, NOTIFY_SOCKET=path)
log = open(os.path.join(tmp, "log"), "w+")
proc = subprocess.Popen([binary, "--config", conf], env=env,
                        stdin=subprocess.DEVNULL, stderr=log)

def fail(msg):
    log.seek(0)
    sys.stderr.write("check_systemd: %s\n---- server log:\n%s" % (msg, log.read()))
    proc.kill()
    sys.exit(1)

def messages(timeout):
    """Datagrams received within timeout seconds, as lists of lines."""
    got, end = [], time.time() + timeout * scale
    while time.time() < end:
        sock.settimeout(max(0.01, end - time.time()))
        try:
            got.append(sock.recv(4096).decode().split("\n"))
        except socket.timeout:
            break
    return got

def expect(wanted, timeout=5):
    """Wait for a datagram holding each of wanted, in this order."""
    seen, end = [], time.time() + timeout * scale
    for w in wanted:
        while True:
            left = end - time.time()
            if left <= 0:
                fail("no %s (got %r)" % (w, seen))
            sock.settimeout(left)
            try:
                m = sock.recv(4096).decode().split("\n")
            except socket.timeout:
                fail("no %s (got %r)" % (w, seen))
            seen.append(m)
            if w in m:
                break
    return seen

def wait_log(text, timeout=5):
    end = time.time() + timeout * scale
    while time.time() < end:
        log.seek(0)
        if text in log.read():
            return
        time.sleep(0.02)
    fail("no '%s' in the log" % text)

if have:
    ready = expect(["READY=1"])[-1]
    wait_log("listening on")
    if not any(l.startswith("STATUS=") for l in ready):
        fail("READY=1 without STATUS=: %r" % ready)
    proc.send_signal(signal.SIGHUP)
    got = expect(["RELOADING=1", "READY=1"])
    rel = [m for m in got if "RELOADING=1" in m][0]
    if not any(l.startswith("MONOTONIC_USEC=") for l in rel):
        fail("RELOADING=1 without MONOTONIC_USEC=: %r" % rel)
    wait_log("info: reloaded")
    proc.send_signal(signal.SIGTERM)
    expect(["STOPPING=1"])
else:
    wait_log("listening on")
    proc.send_signal(signal.SIGHUP)
    wait_log("info: reloaded")
    proc.send_signal(signal.SIGTERM)
    extra = messages(0.5)
    if extra:
        fail("built without systemd, yet sent %r" % extra)
try:
    rc = proc.wait(5 * scale)
except subprocess.TimeoutExpired:
    fail("did not exit after SIGTERM")
if rc != 0:
    fail("exit status %d" % rc)
print("check_systemd: notifications: %s" %
      ("READY, RELOADING/READY, STOPPING" if have else "none (no libsystemd)"))
PY
