#!/usr/bin/env python3
"""restart-spread.py - when do the clients of a restarted ssehub come back?

Opens N streams (default 5,000, from 127.0.0.2, .3, ... so that no source
address runs short of ports) to an ssehub on loopback, sends it SIGTERM,
starts a new ssehub on the same port as soon as the old one has exited,
and has every client reconnect as a browser's EventSource does: after the
stream ends it waits the reconnection time it was last told ("retry:",
the last one it received wins), connects, and while the port refuses
connections (the server not up yet) waits that time again. A client is
back when the new server's ":ok" arrives. The spread of those times, and
of the connection attempts that got in, is what a restarted server meets.

Each mode is a fresh server and a fresh crowd:
  jitter  ssehub as shipped: at SIGTERM every stream is told a retry drawn
          from --retry +-50 %;
  fixed   the same with $SSEHUB_NO_RETRY_JITTER=1: every stream is told
          --retry itself, as before the jitter (the diagnostic switch of
          doc/internals.md).

Prints, per mode, min/p10/p50/p90/max (seconds after SIGTERM) of two
times per client: its successful attempt, when it was due (the end of its
stream as seen here plus the retry it was told: what the clients ask of
the server, independent of how fast this one process can open thousands
of sockets at once), and its admission (":ok" received, measured); then
the busiest 100 ms and second of attempts, and a histogram per 100 ms;
writes the figures as JSON and draws them with gnuplot (gnuplot-nox) as a
PNG: reconnections per 100 ms after SIGTERM, one series per mode.

    scripts/restart-spread.py                      # 5,000 clients, both modes
    scripts/restart-spread.py --clients 500 --modes jitter --out /tmp/rs

Bounded: loopback only, every phase has a deadline, and the servers it
started are stopped by their PIDs whatever happens. One process may hold
at most 20,000 descriptors here; 5,000 clients take 5,000 of them.
"""
import argparse
import errno
import heapq
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SSEHUB = os.environ.get("SSEHUB_BIN", os.path.join(ROOT, "src", "ssehub"))
PER_SOURCE = 500
REQUEST = b"GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < need:
        sys.exit(f"restart-spread: needs {need} descriptors, the limit is {hard}")


def last_retry(buf, old):
    """The last "retry: N" line in buf (the one an EventSource obeys)."""
    val = old
    for line in buf.split(b"\n"):
        if line.startswith(b"retry:"):
            try:
                val = int(line[6:].strip())
            except ValueError:
                pass
    return val


class Server:
    def __init__(self, port, args, env):
        self.port, self.args, self.env = port, args, env
        self.proc = None

    def start(self):
        cmd = [SSEHUB, "--bind", "127.0.0.1", "--port", str(self.port),
               "--quiet"] + self.args
        self.proc = subprocess.Popen(cmd, env=self.env,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def wait_up(self, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ssehub exited ({self.proc.returncode})")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("ssehub did not come up")

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Client:
    __slots__ = ("i", "src", "sock", "buf", "retry", "phase", "attempt_t",
                 "end_t", "back_t", "back_attempt_t", "refused", "overloads",
                 "connected", "stop_retry")

    def __init__(self, i, src):
        self.i, self.src = i, src
        self.sock = None
        self.buf = b""
        self.retry = None
        self.phase = "first"  # first, live, waiting, again, back, lost
        self.attempt_t = self.end_t = self.back_t = None
        self.back_attempt_t = None
        self.refused = self.overloads = 0
        self.connected = False
        self.stop_retry = None


class Crowd:
    def __init__(self, n, port):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.clients = [Client(i, f"127.0.0.{2 + i // PER_SOURCE}")
                        for i in range(n)]
        self.timers = []  # (due, seq, client)
        self.seq = 0

    def connect(self, c, now):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((c.src, 0))
        c.sock, c.buf, c.connected, c.attempt_t = s, b"", False, now
        rc = s.connect_ex(("127.0.0.1", self.port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            c.sock = None
            return rc
        self.sel.register(s, selectors.EVENT_WRITE, c)
        return 0

    def close(self, c):
        if c.sock is not None:
            try:
                self.sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
            c.sock = None

    def schedule(self, c, due):
        self.seq += 1
        heapq.heappush(self.timers, (due, self.seq, c))

    def refused(self, c, now):
        """Connection refused (no server yet): an EventSource waits its
        reconnection time again."""
        c.refused += 1
        self.close(c)
        c.phase = "waiting"
        self.schedule(c, now + c.retry / 1000.0)

    def ended(self, c, now):
        """The stream ended (the old server stopped, or an overload answer):
        reconnect after the last retry it was told."""
        c.retry = last_retry(c.buf, c.retry)
        if c.phase == "live":
            c.stop_retry = c.retry
        self.close(c)
        c.end_t = now if c.end_t is None else c.end_t
        c.phase = "waiting"
        self.schedule(c, now + c.retry / 1000.0)

    def on_event(self, c, mask, now):
        if not c.connected:
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == errno.ECONNREFUSED and c.phase == "again":
                self.refused(c, now)
                return
            if err:
                raise RuntimeError(f"client {c.i}: connect: {os.strerror(err)}")
            c.connected = True
            c.sock.sendall(REQUEST)
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
            return
        try:
            data = c.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        except BlockingIOError:
            return
        if data:
            c.buf += data
            head_end = c.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            status = c.buf[9:12]
            body = c.buf[head_end + 4:]
            if status != b"200":
                # 503 (the old server stopping) would make an EventSource
                # give up for good: counted as lost.
                c.phase = "lost"
                self.close(c)
                return
            if c.phase in ("first", "again") and b":ok" in body and b"\n\n" in body:
                c.retry = last_retry(body, c.retry)
                if c.phase == "first":
                    c.phase = "live"
                else:
                    c.phase = "back"
                    c.back_t = now
                    c.back_attempt_t = c.attempt_t
                    self.close(c)
            return
        # EOF
        if c.phase == "again":
            body = c.buf.split(b"\r\n\r\n", 1)[-1]
            if b"ssehub-overload" in body:
                c.overloads += 1
            self.ended(c, now)
        elif c.phase == "live":
            self.ended(c, now)
        else:
            self.close(c)

    def pump(self, timeout):
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            due, _, c = heapq.heappop(self.timers)
            c.phase = "again"
            # The attempt counts from when the client meant to make it
            # (its end + retry), not from when this loop got to it: with
            # thousands due at once, this process is the bottleneck.
            rc = self.connect(c, due)
            if rc == errno.ECONNREFUSED:
                self.refused(c, now)
            elif rc:
                raise RuntimeError(f"client {c.i}: connect: {os.strerror(rc)}")
        if self.timers:
            timeout = max(0.0, min(timeout, self.timers[0][0] - time.monotonic()))
        for key, mask in self.sel.select(timeout):
            self.on_event(key.data, mask, time.monotonic())


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(ts):
    return {k: (round(v, 3) if v is not None else None) for k, v in (
        ("min", min(ts) if ts else None), ("p10", pct(ts, 10)),
        ("p50", pct(ts, 50)), ("p90", pct(ts, 90)),
        ("max", max(ts) if ts else None))}


def bins(ts, width=0.1):
    out = {}
    for t in ts:
        b = int(t / width)
        out[b] = out.get(b, 0) + 1
    return out


def run_mode(mode, args):
    env = dict(os.environ)
    env.pop("SSEHUB_NO_RETRY_JITTER", None)
    if mode == "fixed":
        env["SSEHUB_NO_RETRY_JITTER"] = "1"
    port = free_port()
    sargs = ["--heartbeat", "0", "--retry", str(args.retry),
             "--max-clients", str(args.clients + 1000)]
    old = Server(port, sargs, env)
    new = Server(port, sargs, env)
    crowd = Crowd(args.clients, port)
    try:
        old.start()
        old.wait_up()
        # Phase 1: every client admitted (paced: at most 500 connecting).
        t_end = time.monotonic() + 60
        pending = list(reversed(crowd.clients))
        while time.monotonic() < t_end:
            live = sum(1 for c in crowd.clients if c.phase == "live")
            if live == args.clients:
                break
            inflight = sum(1 for c in crowd.clients if c.phase == "first" and c.sock)
            while pending and inflight < 500:
                c = pending.pop()
                if crowd.connect(c, time.monotonic()):
                    raise RuntimeError(f"client {c.i} could not connect")
                inflight += 1
            crowd.pump(0.05)
        else:
            raise RuntimeError("not every client was admitted in 60 s")
        told_first = sorted({c.retry for c in crowd.clients})
        # Phase 2: SIGTERM; the new server starts once the old one exited.
        t0 = time.monotonic()
        old.proc.send_signal(signal.SIGTERM)
        restarted = None
        deadline = t0 + 3 * args.retry / 1000.0 + 30
        while time.monotonic() < deadline:
            if restarted is None and old.proc.poll() is not None:
                new.start()
                restarted = time.monotonic() - t0
            crowd.pump(0.01)
            if all(c.phase in ("back", "lost") for c in crowd.clients):
                break
        back = [c for c in crowd.clients if c.phase == "back"]
        lost = sum(1 for c in crowd.clients if c.phase == "lost")
        missing = args.clients - len(back) - lost
        told = [c.stop_retry for c in crowd.clients if c.stop_retry is not None]
        ends = [c.end_t - t0 for c in crowd.clients if c.end_t is not None]
        res = {
            "mode": mode, "clients": args.clients, "retry_ms": args.retry,
            "first_retry_told": told_first[:5],
            "restart_at_s": round(restarted, 3) if restarted is not None else None,
            "old_exit_code": old.proc.returncode,
            "streams_ended_by": round(max(ends), 3) if ends else None,
            "retry_told_at_stop": summary([float(v) for v in told]),
            "back": len(back), "lost_503": lost, "not_back": missing,
            "attempts_refused": sum(c.refused for c in crowd.clients),
            "overloads": sum(c.overloads for c in crowd.clients),
            "back_s": summary([c.back_t - t0 for c in back]),
            "attempt_s": summary([c.back_attempt_t - t0 for c in back]),
        }
        per = bins([c.back_attempt_t - t0 for c in back])
        res["busiest_100ms"] = max(per.values()) if per else 0
        per_s = bins([c.back_attempt_t - t0 for c in back], 1.0)
        res["busiest_second"] = max(per_s.values()) if per_s else 0
        res["per_100ms"] = {f"{b / 10:.1f}": n for b, n in sorted(per.items())}
        return res
    finally:
        for c in crowd.clients:
            crowd.close(c)
        old.stop(signal.SIGKILL)
        new.stop()


def print_mode(r):
    print(f"\n== {r['mode']}: {r['clients']} clients, --retry {r['retry_ms']} ms ==")
    print(f"old server exited {r['restart_at_s']} s after SIGTERM (code "
          f"{r['old_exit_code']}); the new one was started then")
    rt = r["retry_told_at_stop"]
    print(f"retry told at stop (ms): min {rt['min']:.0f} p50 {rt['p50']:.0f} max {rt['max']:.0f}")
    print(f"back: {r['back']}, lost (503): {r['lost_503']}, not back: {r['not_back']}; "
          f"attempts refused (no server yet): {r['attempts_refused']}")
    for k, label in (("attempt_s", "successful attempt"), ("back_s", "admitted (:ok)")):
        s = r[k]
        print(f"{label:>20} s after SIGTERM: min {s['min']} p10 {s['p10']} "
              f"p50 {s['p50']} p90 {s['p90']} max {s['max']}")
    print(f"busiest 100 ms: {r['busiest_100ms']} connections; busiest second: "
          f"{r['busiest_second']}")
    print("per 100 ms (s after SIGTERM: connections):")
    peak = max(r["per_100ms"].values()) if r["per_100ms"] else 1
    for t, n in r["per_100ms"].items():
        print(f"  {t:>5} {n:5d} {'#' * max(1, round(50 * n / peak))}")


def chart(results, png):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        raise RuntimeError("gnuplot not found: install gnuplot-nox")
    tmp = png + ".d"
    os.makedirs(tmp, exist_ok=True)
    plots = []
    colors = {"fixed": "#c0504d", "jitter": "#4292c6"}
    hi = 0.0
    for r in results:
        dat = os.path.join(tmp, r["mode"] + ".dat")
        with open(dat, "w") as f:
            for t, n in r["per_100ms"].items():
                f.write(f"{float(t) + 0.05:.2f} {n}\n")
                hi = max(hi, float(t) + 0.2)
        a = r["attempt_s"]
        title = (f"{r['mode']}: p10 {a['p10']:.2f} s, p50 {a['p50']:.2f} s, "
                 f"p90 {a['p90']:.2f} s; busiest 100 ms {r['busiest_100ms']}")
        plots.append(f"'{dat}' using 1:2 with boxes title \"{title}\" "
                     f"lc rgb '{colors.get(r['mode'], '#333333')}'")
    r0 = results[0]
    script = f"""set terminal pngcairo size 1000,560 font 'DejaVu Sans,10' noenhanced
set output '{png}'
set title "ssehub restart: {r0['clients']} streams, SIGTERM at 0, new server on the same port at once; --retry {r0['retry_ms']} ms" font ',12'
set xlabel "seconds after SIGTERM (start of each client's successful reconnection attempt)"
set ylabel 'reconnections per 100 ms'
set style fill transparent solid 0.6 border rgb '#333333'
set boxwidth 0.1
set grid ytics lc rgb '#dddddd'
set key top right
set border 3
set xtics nomirror
set ytics nomirror
set xrange [0:{hi:.1f}]
set yrange [0:*]
set logscale y
set yrange [0.8:*]
plot {", ".join(plots)}
"""
    gp = os.path.join(tmp, "chart.gp")
    with open(gp, "w") as f:
        f.write(script)
    r = subprocess.run([gnuplot, gp], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"gnuplot failed: {r.stderr.strip()}")
    shutil.rmtree(tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=5000)
    ap.add_argument("--retry", type=int, default=3000,
                    help="the servers' --retry, ms (default 3000)")
    ap.add_argument("--modes", default="fixed,jitter")
    ap.add_argument("--out", default=os.path.join(ROOT, "doc", "bench"),
                    help="where restart-spread.json and .png go")
    args = ap.parse_args()
    if not 1 <= args.clients <= 10000:
        sys.exit("restart-spread: --clients 1 to 10000")
    raise_nofile(args.clients + 200)
    results = []
    for mode in args.modes.split(","):
        r = run_mode(mode, args)
        print_mode(r)
        results.append(r)
    os.makedirs(args.out, exist_ok=True)
    res = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "kernel": os.uname().release, "results": results}
    with open(os.path.join(args.out, "restart-spread.json"), "w") as f:
        json.dump(res, f, indent=1)
    png = os.path.join(args.out, "restart-spread.png")
    chart(results, png)
    print(f"\nwrote {os.path.join(args.out, 'restart-spread.json')} and {png}")


if __name__ == "__main__":
    main()
