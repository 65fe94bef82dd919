#!/usr/bin/env python3
"""bench.py - ssehub against its peers, side by side, in one run.

Runs ssehub, nchan (Debian nginx + libnginx-mod-nchan), the seed post's
Node.js design (express + ssestream, scripts/bench/seed-server.js) and the
bare epoll loop that is the floor for one send per event per client
(scripts/bench/floor.c, a reference, not a server) through
the same scenarios with the same load client (scripts/loadgen.c), the
server pinned to one core and the client to the other:

  memory   hold 10,000 idle subscribers: server RSS per subscriber
  fanout1  10,000 subscribers, 1 event/s: latency p50/p99, fan-out
  fanout10 10,000 subscribers, 10 events/s
  fanout1u as fanout1, but the server not pinned (may use both cores)
  tput     1,000 subscribers, publish as fast as accepted: deliveries/s,
           latency, server CPU seconds per million deliveries
  limit    a server limit of 100 streams and 150 clients: who gets 429
and for ssehub alone:
  idle19k  19,000 idle subscribers, default 15 s heartbeat: server CPU
  bigevent 1 MiB events to 1,000 subscribers while 128-byte events flow

Two groups run only when named in --scenarios (not in the default set):
  cluster  1,000 subscribers, paced and as fast as accepted: latency
           p50/p99 and deliveries/s for ssehub's in-memory engine, its
           Redis engine with 1 node, 3 nodes on 3 ports and 3 nodes on one
           port (--reuse-port), and nchan in memory and in its Redis mode
           (1 and 3 nginx), all against one redis-server started here;
           subscribers and publishes are spread over the nodes
  100k     100,000 subscribers on this machine: 6 ssehub nodes on one port
           (--reuse-port) joined by one redis-server, load clients in
           several processes from several source addresses; hold them
           (5 min), then publish every 5 s for a minute and check that
           every subscriber got every event exactly once; fan-out p50/p99,
           server RSS per subscriber, Redis used_memory. It checks the
           kernel limits first (--100k-* options scale it down)

It prints one table, the ratios the README states as targets, and writes
the raw figures as JSON (bench-results/). Loopback only; every process is
started here and stopped by its PID; every scenario is bounded in time.

  scripts/bench.py [--quick] [--servers ssehub,nchan,seed,floor]
                   [--scenarios memory,fanout1,fanout10,fanout1u,tput,limit,
                                extras,cluster,100k] [--trials 3]
                   [--skip-setup]
  scripts/bench.py --scenarios cluster [--cluster-configs ...]
  scripts/bench.py --scenarios 100k [--100k-subscribers 1000
                   --100k-hold 20 --100k-publish-for 20]   (a smoke test)
  scripts/bench.py --charts-from bench-results/X.json --charts-out doc/bench

After a run it draws PNG charts of the same-run comparison with gnuplot
(latency percentiles, deliveries/s, memory per subscriber; the cluster
engines when that group ran) beside the JSON, or into --charts-out;
--charts-from draws them from a saved run without running anything.
"""
import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "scripts", "bench")
LOADGEN = os.path.join(ROOT, "scripts", "loadgen")
FLOOR = os.path.join(BENCH, "floor")
SSEHUB = os.path.join(ROOT, "src", "ssehub")
NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so"
REDIS_SERVER = "redis-server"
SERVER_CPU, CLIENT_CPU = "0", "1"
CLK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- setup -------------------------------------------------------------------

def setup():
    """Install the peers (pinned in scripts/bench/deps.txt and the npm
    lockfile) and build ssehub and the load client."""
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    pkgs = []
    for line in open(os.path.join(BENCH, "deps.txt")):
        line = line.strip()
        if line and not line.startswith("#"):
            pkgs.append(line)
    missing = [p for p in pkgs if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p.split("=")[0]],
        capture_output=True, text=True).stdout != "install ok installed"]
    if missing:
        log("bench: installing " + " ".join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True)
        # Debian starts nginx on port 80 after installing it: policy-rc.d
        # tells it not to; the benchmark runs its own nginx.
        prc = "/usr/sbin/policy-rc.d"
        had = os.path.exists(prc)
        if not had and os.geteuid() == 0:
            with open(prc, "w") as f:
                f.write("#!/bin/sh\nexit 101\n")
            os.chmod(prc, 0o755)
        try:
            r = subprocess.run(sudo + ["apt-get", "install", "-y", "-qq"] + missing,
                               env=env)
            if r.returncode != 0:  # pinned versions gone: take the current ones
                subprocess.run(sudo + ["apt-get", "install", "-y", "-qq"] +
                               [p.split("=")[0] for p in missing], env=env, check=True)
        finally:
            if not had and os.geteuid() == 0:
                os.unlink(prc)
    if not os.path.isdir(os.path.join(BENCH, "node_modules")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=BENCH, check=True)
    subprocess.run(["make", "-s", "-C", ROOT, "src/ssehub", "scripts/loadgen",
                    "scripts/bench/floor"], check=True)


# ---- processes ---------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tree(pid):
    """pid and its descendants (nginx master and workers)."""
    pids, changed = {pid}, True
    while changed:
        changed = False
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) in pids:
                continue
            try:
                ppid = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid in pids:
                pids.add(int(d))
                changed = True
    return pids


def rss_kib(pid):
    total = 0
    for p in tree(pid):
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_s(pid):
    total = 0
    for p in tree(pid):
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK


def listening(pids, port):
    """Whether one of pids holds a listening TCP socket on port (nodes
    that share a port with SO_REUSEPORT: a connect would not tell)."""
    inodes = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in open(path).readlines()[1:]:
                f = line.split()
                if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f[9])
        except (OSError, IndexError, ValueError):
            pass
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                return True
    return False


class Server:
    """One peer: start on a free port, pinned to SERVER_CPU; stop by PID.
    port: a given port (cluster nodes that share one with --reuse-port);
    redis_url: for nchan-redis (nchan-redis.conf.in)."""

    def __init__(self, name, limit=None, extra=None, pinned=True, port=None,
                 redis_url=None):
        self.name, self.limit, self.extra = name, limit, extra or []
        self.pinned = pinned
        self.shared = port is not None
        self.port = port or free_port()
        self.redis_url = redis_url
        self.tmp = tempfile.mkdtemp(prefix=f"bench-{name}-")
        self.proc = None

    def command(self):
        if self.name == "ssehub":
            cmd = [SSEHUB, "--bind", "127.0.0.1", "--port", str(self.port),
                   "--heartbeat", "0", "--quiet"]
            if self.limit:
                # The limit scenario counts who gets 429, as the other
                # servers answer; retry mode (the default) answers 200.
                cmd += ["--max-clients", str(self.limit), "--when-full=429"]
            return cmd + self.extra
        if self.name in ("nchan", "nchan-redis"):
            conf = open(os.path.join(BENCH, self.name + ".conf.in")).read()
            conf = conf.replace("@PORT@", str(self.port)).replace(
                "@PREFIX@", self.tmp).replace("@MODULE@", NCHAN_MODULE)
            conf = conf.replace("@REDIS_URL@", self.redis_url or "")
            if not self.pinned:  # one worker per core, as ssehub then uses
                conf = conf.replace("worker_processes 1;", "worker_processes auto;")
            path = os.path.join(self.tmp, "nginx.conf")
            open(path, "w").write(conf)
            return ["nginx", "-c", path, "-p", self.tmp]
        if self.name == "floor":
            return [FLOOR, str(self.port)]
        return ["node", os.path.join(BENCH, "seed-server.js"), str(self.port),
                str(self.limit or 0)]

    def __enter__(self):
        pin = ["taskset", "-c", SERVER_CPU] if self.pinned else []
        self.proc = subprocess.Popen(pin + self.command(),
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.tmp, "stderr"), "w"),
                                     preexec_fn=raise_nofile)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.shared:  # the port may already be another node's
                if listening(tree(self.proc.pid), self.port):
                    time.sleep(0.2)
                    return self
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
                continue
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                time.sleep(0.2)
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start: " +
                           open(os.path.join(self.tmp, "stderr")).read()[-500:])

    def log_tail(self, n=5):
        """The last lines the server wrote to stderr (or error.log)."""
        lines = []
        for name in ("stderr", "error.log"):
            try:
                lines += open(os.path.join(self.tmp, name), errors="replace").read().splitlines()
            except OSError:
                pass
        return lines[-n:]

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT if self.name.startswith("nchan")
                                  else signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                for p in tree(self.proc.pid):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
                self.proc.wait(5)
        shutil.rmtree(self.tmp, ignore_errors=True)


def raise_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def loadgen(port, args, timeout, on_line=None):
    """Run the load client pinned to CLIENT_CPU; return its JSON figures."""
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False)
    out.close()
    cmd = ["taskset", "-c", CLIENT_CPU, LOADGEN, "--port", str(port),
           "--json", out.name] + [str(a) for a in args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True, preexec_fn=raise_nofile)
    try:
        for line in p.stdout:
            if on_line:
                on_line(line)
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    try:
        return json.load(open(out.name))
    except (OSError, ValueError):
        return None
    finally:
        os.unlink(out.name)


# ---- scenarios ---------------------------------------------------------------

def memory(name, n, hold_s, cookie=0):
    """Hold n idle subscribers; with cookie > 0 each request carries a
    Cookie header that long (browser-sized headers)."""
    with Server(name) as s:
        time.sleep(0.5)
        base = rss_kib(s.proc.pid)
        figures = {}

        def at_line(line):
            if line.startswith("HOLDING"):
                time.sleep(1.0)
                figures["rss_kib"] = rss_kib(s.proc.pid)
                c0, t0 = cpu_s(s.proc.pid), time.time()
                time.sleep(min(3, hold_s / 3))
                figures["idle_cpu_pct"] = 100 * (cpu_s(s.proc.pid) - c0) / (time.time() - t0)

        r = loadgen(s.port, ["--clients", n, "--hold", "--duration", hold_s,
                             "--cookie", cookie], hold_s + 10, at_line)
        held = r["clients"]["connected"] if r else 0
        rss = figures.get("rss_kib", base)
        return {"subscribers": held, "cookie_bytes": cookie,
                "refused": (r["clients"]["http_429"] + r["clients"]["other_status"]) if r else None,
                "rss_base_kib": base, "rss_kib": rss,
                "kib_per_subscriber": round((rss - base) / held, 2) if held else None,
                "idle_cpu_pct": round(figures.get("idle_cpu_pct", 0), 2)}


def timed_run(name, args, duration, warmup, extra=None, pinned=True):
    """A load run; server CPU is sampled over the measurement window."""
    with Server(name, extra=extra, pinned=pinned) as s:
        marks = {}

        def sample(key, at):
            time.sleep(max(0, at - time.time()))
            marks[key] = cpu_s(s.proc.pid)

        import threading
        t0 = time.time()
        th = [threading.Thread(target=sample, args=("c0", t0 + warmup)),
              threading.Thread(target=sample, args=("c1", t0 + duration))]
        for t in th:
            t.start()
        r = loadgen(s.port, args + ["--duration", duration, "--warmup", warmup],
                    duration + 15)
        for t in th:
            t.join()
        if not r:
            return {"error": "no result"}
        d = r["deliveries"]
        res = {"deliveries_per_s": d["per_s"], "received": d["received"],
               "expected": d["expected"], "lost": d["lost"],
               "duplicated": d["duplicated"], "reordered": d["reordered"],
               "latency_ms": r["latency_ms"], "fanout_ms": r["fanout_ms"],
               "published": r["published"]["accepted"],
               "connected": r["clients"]["connected"],
               "client_cpu_pct": r["cpu"]["window_pct_of_core"]}
        if "c0" in marks and "c1" in marks and d["in_window"]:
            cpu = marks["c1"] - marks["c0"]
            res["server_cpu_s"] = round(cpu, 2)
            res["server_cpu_s_per_1m"] = round(cpu / d["in_window"] * 1e6, 2)
        return res


def limit(name):
    with Server(name, limit=100) as s:
        r = loadgen(s.port, ["--clients", 150, "--rate", 1, "--duration", 3], 15)
        if not r:
            return {"error": "no result"}
        c = r["clients"]
        return {"limit": 100, "clients": 150, "connected": c["connected"],
                "http_429": c["http_429"], "other": c["other_status"],
                "unanswered": c["timeouts"] + c["unfinished"]}


def big_event(quick):
    """1 MiB events to 1,000 subscribers while 128-byte events flow at
    10/s: the small events' latency, with and without the big ones."""
    extra = ["--max-event-size", "2M", "--client-buffer", "8M"]
    dur, warm = (8, 3) if quick else (15, 4)
    base = timed_run("ssehub", ["--clients", 1000, "--rate", 10], dur, warm, extra)
    with Server("ssehub", extra=extra) as s:
        payload = os.urandom(512 * 1024).hex().encode()  # 1 MiB of text
        stop = time.time() + dur
        big = {"sent": 0}

        def pump():
            while time.time() < stop:
                try:
                    c = socket.create_connection(("127.0.0.1", s.port), 5)
                    c.sendall(b"POST /publish?topic=big HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Type: text/plain\r\nConnection: close\r\n"
                              b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
                    c.recv(200)
                    c.close()
                    big["sent"] += 1
                except OSError:
                    pass
                time.sleep(0.5)

        import threading
        th = threading.Thread(target=pump)
        # The big events go to topic "big", which the 1,000 load clients do
        # not take: a second set of 1,000 streams reads them.
        readers = subprocess.Popen(
            ["taskset", "-c", CLIENT_CPU, LOADGEN, "--port", str(s.port),
             "--clients", "1000", "--hold", "--path", "/sse?topic=big",
             "--duration", str(dur + 2), "--sources", "8"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=raise_nofile)
        time.sleep(2)
        th.start()
        r = loadgen(s.port, ["--clients", 1000, "--rate", 10, "--duration", dur,
                             "--warmup", warm], dur + 15)
        th.join()
        readers.wait(dur + 20)
        stats = json.loads(subprocess.run(
            ["curl", "-s", f"http://127.0.0.1:{s.port}/stats"],
            capture_output=True, text=True).stdout or "{}")
    return {"small_alone": base.get("latency_ms"),
            "small_with_big": r["latency_ms"] if r else None,
            "small_lost": r["deliveries"]["lost"] if r else None,
            "big_events_sent": big["sent"],
            "big_bytes_sent_mib": round(stats.get("bytes_sent", 0) / 2**20, 1)}


def idle19k(quick):
    n, hold = (19000, 40) if not quick else (19000, 20)
    with Server("ssehub", extra=["--heartbeat", "15"]) as s:
        fig = {}

        def at_line(line):
            if line.startswith("HOLDING"):
                time.sleep(1)
                c0, t0 = cpu_s(s.proc.pid), time.time()
                time.sleep(hold - 8)
                fig["cpu_pct"] = 100 * (cpu_s(s.proc.pid) - c0) / (time.time() - t0)
                fig["window_s"] = round(time.time() - t0, 1)

        r = loadgen(s.port, ["--clients", n, "--hold", "--duration", hold,
                             "--sources", 64, "--connect-rate", 4000], hold + 15, at_line)
    return {"subscribers": r["clients"]["connected"] if r else 0,
            "heartbeat_s": 15, "window_s": fig.get("window_s"),
            "server_cpu_pct": round(fig.get("cpu_pct", -1), 2)}


# ---- cluster: Redis, several nodes -------------------------------------------

def resp_read(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    t, rest = line[:1], line[1:].rstrip(b"\r\n")
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RuntimeError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode(errors="replace")
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [resp_read(f) for _ in range(n)]
    raise OSError(f"unexpected redis reply {line[:40]!r}")


def redis_cmd(port, *args, timeout=5):
    """One command to the redis-server on 127.0.0.1:port (RESP)."""
    parts = [str(a).encode() for a in args]
    req = b"*%d\r\n" % len(parts) + b"".join(
        b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    with socket.create_connection(("127.0.0.1", port), timeout) as c:
        c.sendall(req)
        with c.makefile("rb") as f:
            return resp_read(f)


class Redis:
    """A redis-server of our own: free loopback port, own temp dir, no
    persistence; stopped by its PID."""

    def __init__(self, pin=None):
        self.port = free_port()
        self.pin = pin
        self.tmp = tempfile.mkdtemp(prefix="bench-redis-")
        self.proc = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self):
        pin = ["taskset", "-c", self.pin] if self.pin is not None else []
        cmd = pin + [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--dir", self.tmp,
                     "--daemonize", "no", "--protected-mode", "yes",
                     "--logfile", os.path.join(self.tmp, "redis.log")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.tmp, "stderr"), "w"),
                                     preexec_fn=raise_nofile)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if redis_cmd(self.port, "PING", timeout=0.5) == "PONG":
                    return self
            except (OSError, RuntimeError):
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("redis-server did not start")

    def cmd(self, *args):
        return redis_cmd(self.port, *args)

    def info(self, section="memory"):
        out = {}
        for line in (self.cmd("INFO", section) or "").splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = int(v) if v.isdigit() else v
        return out

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.tmp, ignore_errors=True)


def ssehub_has_redis():
    try:
        out = subprocess.run([SSEHUB, "--help"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--redis" in out and "--reuse-port" in out


def http_stats(port, timeout=1.0):
    """GET /stats (JSON) from one node; {} when it fails."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats",
                                    timeout=timeout) as r:
            return json.loads(r.read().decode())
    except (OSError, ValueError):
        return {}


def softnet_drops():
    """Packets the kernel dropped for a full per-CPU backlog (loopback
    traffic goes through it too): each one costs a TCP retransmit."""
    try:
        return sum(int(l.split()[1], 16) for l in open("/proc/net/softnet_stat"))
    except (OSError, IndexError, ValueError):
        return None


def cpu_of(pids):
    return sum(cpu_s(p) for p in pids)


# name: (server, nodes, one shared port, engine in Redis)
CLUSTER_CONFIGS = {
    "ssehub": ("ssehub", 1, False, False),
    "ssehub-redis1": ("ssehub", 1, False, True),
    "ssehub-redis3": ("ssehub", 3, False, True),
    "ssehub-redis3rp": ("ssehub", 3, True, True),
    "nchan": ("nchan", 1, False, False),
    "nchan-redis1": ("nchan-redis", 1, False, True),
    "nchan-redis3": ("nchan-redis", 3, False, True),
}


def start_nodes(stack, config, redis, stream, pinned=True, port=None):
    """Start a config's nodes inside stack; returns the Server list."""
    kind, n, shared, engine = CLUSTER_CONFIGS[config]
    if shared and port is None:
        port = free_port()
    nodes = []
    for _ in range(n):
        extra = []
        if kind == "ssehub" and engine:
            extra = ["--redis", redis.url, "--redis-stream", stream]
            if shared:
                extra.append("--reuse-port")
        nodes.append(stack.enter_context(Server(
            kind, extra=extra, pinned=pinned, port=port if shared else None,
            redis_url=redis.url if engine else None)))
    if kind == "ssehub" and engine:  # until every node is tailing the stream
        deadline = time.time() + 10
        while time.time() < deadline:
            st = [http_stats(s.port) for s in nodes]
            if all(x.get("redis_link") in (True, "up", "connected", "ok", 1)
                   for x in st):
                break
            if any(x and "redis_link" not in x for x in st):
                break  # no such field: nothing to wait for
            time.sleep(0.1)
    return nodes


def cluster_run(config, redis, args, duration, warmup, run_id):
    """One loadgen run against a fresh set of a config's nodes (the Redis
    database emptied first); server CPU (nodes and redis-server) is
    sampled over the measurement window."""
    kind, n, shared, engine = CLUSTER_CONFIGS[config]
    stream = f"bench-{config}-{run_id}-{os.getpid()}"
    if engine:
        redis.cmd("FLUSHALL")
    with contextlib.ExitStack() as stack:
        nodes = start_nodes(stack, config, redis, stream)
        ports = []
        for s in nodes:
            if s.port not in ports:
                ports.append(s.port)
        pids = [s.proc.pid for s in nodes] + ([redis.proc.pid] if engine else [])
        extra = ["--publish-conns", 2 * n] if shared and n > 1 else []
        marks = {}

        def sample(key, at):
            time.sleep(max(0, at - time.time()))
            marks[key] = cpu_of(pids)

        t0 = time.time()
        th = [threading.Thread(target=sample, args=("c0", t0 + warmup)),
              threading.Thread(target=sample, args=("c1", t0 + duration))]
        for t in th:
            t.start()
        drops0 = softnet_drops()
        r = loadgen(",".join(map(str, ports)),
                    args + extra + ["--duration", duration, "--warmup", warmup],
                    duration + 15)
        for t in th:
            t.join()
        drops1 = softnet_drops()
        res = {"config": config, "nodes": n, "ports": ports}
        if kind == "ssehub":
            res["node_stats"] = [http_stats(p) for p in ports]
        logs = [x for s in nodes for x in s.log_tail(20)
                if any(k in x.lower() for k in ("error", "crit", "alert", "emerg",
                                                 "warn", "missed", "trimmed", "lost"))
                and "/stats" not in x]  # loadgen asks nginx for /stats too
        if logs:
            res["server_log"] = logs[-6:]
        if engine:
            mem = redis.info("memory")
            res["redis_used_memory"] = mem.get("used_memory")
            if kind == "ssehub":
                try:
                    res["redis_stream_len"] = redis.cmd("XLEN", stream)
                except (OSError, RuntimeError):
                    pass
    if drops0 is not None and drops1 is not None:
        res["softnet_drops"] = drops1 - drops0
    if not r:
        res["error"] = "no result"
        return res
    d = r["deliveries"]
    res.update({"deliveries_per_s": d["per_s"], "received": d["received"],
                "expected": d["expected"], "lost": d["lost"],
                "lost_detail": {k: d[k] for k in (
                    "lost_live_clients", "lost_before_disconnect", "lost_at_start",
                    "clients_with_loss")},
                "duplicated": d["duplicated"], "reordered": d["reordered"],
                "foreign": d["foreign"],
                "drain_complete": r["time"]["drain_complete"],
                "latency_ms": r["latency_ms"], "fanout_ms": r["fanout_ms"],
                "published": r["published"]["accepted"],
                "publish_rate": r["published"]["window_rate"],
                "publish_rtt_ms": r["published"]["rtt_ms"],
                "publish_retries": r["published"]["retries_503"] + r["published"]["retries_429"],
                "connected": r["clients"]["connected"],
                "disconnects": sum(r["clients"][k] for k in (
                    "resets", "closed_by_server", "stream_ended", "io_errors",
                    "protocol_errors")),
                "client_cpu_pct": r["cpu"]["window_pct_of_core"]})
    if "c0" in marks and "c1" in marks and d["in_window"]:
        cpu = marks["c1"] - marks["c0"]
        res["server_cpu_s"] = round(cpu, 2)
        res["server_cpu_s_per_1m"] = round(cpu / d["in_window"] * 1e6, 2)
    return res


def cluster(a):
    """The cluster group: every config, paced and closed-loop, in one run
    against one redis-server; servers and redis-server on SERVER_CPU, the
    load client on CLIENT_CPU, as in the other scenarios."""
    configs = [c for c in a.cluster_configs.split(",") if c]
    for c in configs:
        if c not in CLUSTER_CONFIGS:
            sys.exit(f"bench: unknown cluster config {c} "
                     f"(known: {','.join(CLUSTER_CONFIGS)})")
    out = {"subscribers": a.cluster_subscribers, "rate": a.cluster_rate,
           "configs": {}}
    if not ssehub_has_redis():
        skipped = [c for c in configs
                   if CLUSTER_CONFIGS[c][0] == "ssehub" and CLUSTER_CONFIGS[c][3]]
        if skipped:
            log("bench: cluster: src/ssehub has no --redis/--reuse-port; "
                "skipping " + ",".join(skipped))
            out["skipped"] = skipped
            configs = [c for c in configs if c not in skipped]
    d, w = (6, 2) if a.quick else (a.cluster_duration, 3)
    subs = a.cluster_subscribers
    with Redis(pin=SERVER_CPU) as redis:
        out["redis_version"] = redis.info("server").get("redis_version")
        for run, (mode, args) in enumerate((
                ("paced", ["--clients", subs, "--rate", a.cluster_rate]),
                ("closed", ["--clients", subs, "--closed-loop"]))):
            for c in configs:
                r = cluster_run(c, redis, args, d, w, f"{mode}{run}")
                out["configs"].setdefault(c, {})[mode] = r
                log(f"  cluster {c} {mode}: {r.get('deliveries_per_s')}/s, "
                    f"p50/p99 {r.get('latency_ms', {}).get('p50')}/"
                    f"{r.get('latency_ms', {}).get('p99')} ms, lost "
                    f"{r.get('lost')} dup {r.get('duplicated')}")
    return out


def report_cluster(res):
    c = res["configs"]
    print(f"\ncluster: {res['subscribers']} subscribers spread over each "
          f"config's nodes; publishes spread over the nodes; servers and "
          f"redis-server on one core, load client on the other")
    rows = []
    for name, r in c.items():
        p, cl = r.get("paced", {}), r.get("closed", {})
        lp, lc = p.get("latency_ms", {}), cl.get("latency_ms", {})
        mem = cl.get("redis_used_memory") or p.get("redis_used_memory")
        rows.append([
            name, str(CLUSTER_CONFIGS[name][1]),
            f"{fmt(lp.get('p50'))} / {fmt(lp.get('p99'))}",
            fmt(p.get("fanout_ms", {}).get("p99")),
            fmt(cl.get("deliveries_per_s"), 0),
            f"{fmt(lc.get('p50'))} / {fmt(lc.get('p99'))}",
            fmt(cl.get("publish_rate"), 0),
            fmt(cl.get("server_cpu_s_per_1m"), 2),
            f"{p.get('lost', '-')}+{cl.get('lost', '-')}/"
            f"{p.get('duplicated', '-')}+{cl.get('duplicated', '-')}/"
            f"{p.get('reordered', '-')}+{cl.get('reordered', '-')}",
            f"{fmt(p.get('softnet_drops'))}+{fmt(cl.get('softnet_drops'))}",
            "-" if mem is None else f"{mem / 2**20:.1f}",
        ])
    head = ["config", "nodes", f"{res['rate']} ev/s p50/p99 ms", "fan-out p99",
            "closed-loop deliv/s", "p50/p99 ms", "pub/s", "CPU s/1M",
            "lost/dup/reord", "softnet drops", "redis MiB"]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(x).ljust(wd) for x, wd in zip(cells, widths))
    print(line(head))
    print(line(["-" * wd for wd in widths]))
    for r in rows:
        print(line(r))

    def ratio(x, y, key, sub=None):
        try:
            a_, b_ = c[x][key], c[y][key]
            if sub:
                a_, b_ = a_[sub[0]][sub[1]], b_[sub[0]][sub[1]]
            else:
                a_, b_ = a_["deliveries_per_s"], b_["deliveries_per_s"]
            return f"{a_ / b_:.2f}x"
        except (KeyError, TypeError, ZeroDivisionError):
            return None

    print("\nratios (deliveries/s closed-loop; p99 at the paced rate, lower is better):")
    for x, y in (("ssehub-redis1", "ssehub"), ("ssehub-redis3", "ssehub"),
                 ("ssehub-redis3rp", "ssehub"), ("ssehub-redis3", "ssehub-redis1"),
                 ("ssehub-redis1", "nchan-redis1"), ("ssehub-redis3", "nchan-redis3"),
                 ("ssehub-redis3rp", "nchan-redis3"), ("nchan-redis1", "nchan"),
                 ("ssehub", "nchan")):
        dr = ratio(x, y, "closed")
        pr = ratio(x, y, "paced", ("latency_ms", "p99"))
        if dr or pr:
            print(f"  {x:<16s} vs {y:<14s} deliveries/s {dr or '-':>8s}   "
                  f"p99 {pr or '-':>7s}")
    for name, r in c.items():
        st = r.get("closed", {}).get("node_stats") or []
        if any("redis_lag_ms" in x for x in st):
            print(f"  {name}: nodes' redis_lag_ms after the closed-loop run "
                  + ", ".join(str(x.get("redis_lag_ms")) for x in st)
                  + "; published per node "
                  + ", ".join(str(x.get("published")) for x in st))
    for name, r in c.items():
        for mode in ("paced", "closed"):
            x = r.get(mode, {})
            if x.get("lost") or x.get("duplicated") or x.get("reordered") \
                    or x.get("foreign") or x.get("error") or x.get("drain_complete") is False:
                print(f"  ! {name} {mode}: lost {x.get('lost')} {x.get('lost_detail')}, "
                      f"duplicated {x.get('duplicated')}, reordered {x.get('reordered')}, "
                      f"foreign/notices {x.get('foreign')}, drained in 2.4 s: "
                      f"{x.get('drain_complete')}, published {x.get('published')} "
                      f"({x.get('publish_rate')}/s) {x.get('error', '')}")
                for line in x.get("server_log", []):
                    print(f"      server: {line}")
    if res.get("skipped"):
        print("  skipped (src/ssehub has no --redis yet): " + ",".join(res["skipped"]))


# ---- 100k: 100,000 subscribers on one machine ------------------------------

def sysctl(name):
    try:
        return open("/proc/sys/" + name.replace(".", "/")).read().split()
    except OSError:
        return None


def set_sysctl(name, value):
    with open("/proc/sys/" + name.replace(".", "/"), "w") as f:
        f.write(value)


def kernel_checks(subs, nodes, procs, per_proc, sources):
    """What 100k needs of the kernel and the limits; returns rows of
    (what, have, need, verdict) with verdict OK, WARN or BLOCKS."""
    import resource
    rows = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard_n = hard if hard != resource.RLIM_INFINITY else 1 << 30
    # SO_REUSEPORT spreads connections by hash: allow 10% over the mean.
    per_node = int(subs / nodes * 1.10) + 100
    rows.append(("open files per ssehub node (RLIMIT_NOFILE hard)", hard_n,
                 per_node, "OK" if hard_n >= per_node else "BLOCKS"))
    rows.append(("open files per load process (RLIMIT_NOFILE hard)", hard_n,
                 per_proc + 64, "OK" if hard_n >= per_proc + 64 else "BLOCKS"))
    fm = sysctl("fs.file-max")
    need = 2 * subs + 20000
    if fm:
        rows.append(("fs.file-max", int(fm[0]), need,
                     "OK" if int(fm[0]) >= need else "BLOCKS"))
    nro = sysctl("fs.nr_open")
    if nro:
        rows.append(("fs.nr_open", int(nro[0]), per_node,
                     "OK" if int(nro[0]) >= per_node else "BLOCKS"))
    pr = sysctl("net.ipv4.ip_local_port_range")
    if pr:
        lo, hi = int(pr[0]), int(pr[1])
        # one source address reaches one server address:port from
        # every local port once; leave a third for TIME_WAIT leftovers
        cap = (hi - lo + 1) * 2 // 3 * sources
        rows.append((f"net.ipv4.ip_local_port_range {lo}-{hi} x {sources} "
                     f"source addresses", cap, subs,
                     "OK" if cap >= subs else "BLOCKS"))
    sm = sysctl("net.core.somaxconn")
    if sm:
        rows.append(("net.core.somaxconn (listen backlog cap)", int(sm[0]), 1024,
                     "OK" if int(sm[0]) >= 1024 else "WARN"))
    nb = sysctl("net.core.netdev_max_backlog")
    if nb:
        # A fan-out sends to every subscriber at once; loopback packets
        # queue per CPU and those over this are dropped (and retransmitted
        # after 200 ms+): the run reports the drops it saw.
        rows.append(("net.core.netdev_max_backlog (drops are reported)",
                     int(nb[0]), 1000, "OK" if int(nb[0]) >= 1000 else "WARN"))
    ct = sysctl("net.netfilter.nf_conntrack_max")
    if ct:
        rows.append(("net.netfilter.nf_conntrack_max (if tracking is on)",
                     int(ct[0]), int(subs * 1.2),
                     "OK" if int(ct[0]) >= subs * 1.2 else "WARN"))
    tm = sysctl("net.ipv4.tcp_mem")
    if tm:
        # pages; a fan-out has about one small skb per subscriber in flight
        need_pages = subs * 2 * 2048 // 4096
        rows.append(("net.ipv4.tcp_mem pressure threshold (pages)", int(tm[1]),
                     need_pages, "OK" if int(tm[1]) >= need_pages else "WARN"))
    tw = sysctl("net.ipv4.tcp_max_tw_buckets")
    if tw:
        rows.append(("net.ipv4.tcp_max_tw_buckets (closing them all)", int(tw[0]),
                     subs, "OK" if int(tw[0]) >= subs else "WARN"))
    try:
        avail = next(int(l.split()[1]) for l in open("/proc/meminfo")
                     if l.startswith("MemAvailable:"))
        need_kib = subs * 24  # server ~8, client and both sockets' kernel side
        rows.append(("MemAvailable KiB", avail, need_kib,
                     "OK" if avail >= need_kib else "BLOCKS"))
    except (OSError, StopIteration, ValueError):
        pass
    return rows


def tune_sysctls(subs, sources):
    """--tune-sysctl: raise what 100k wants raised; returns what to put
    back (restore_sysctls)."""
    saved = {}
    want = {"net.core.netdev_max_backlog": 16384, "net.core.somaxconn": 4096}
    for name, v in want.items():
        cur = sysctl(name)
        if cur and int(cur[0]) < v:
            saved[name] = " ".join(cur)
            set_sysctl(name, str(v))
    pr = sysctl("net.ipv4.ip_local_port_range")
    if pr and (int(pr[1]) - int(pr[0]) + 1) * 2 // 3 * sources < subs:
        saved["net.ipv4.ip_local_port_range"] = " ".join(pr)
        set_sysctl("net.ipv4.ip_local_port_range", "10000 65000")
    for name in saved:
        log(f"bench: 100k: set {name} = {' '.join(sysctl(name))} "
            f"(was {saved[name]}; restored at the end)")
    return saved


def restore_sysctls(saved):
    for name, v in saved.items():
        try:
            set_sysctl(name, v)
            log(f"bench: 100k: restored {name} = {v}")
        except OSError as e:
            log(f"bench: 100k: could not restore {name} = {v}: {e}")


def publish_one(port, seq, size=128, timeout=5.0):
    """POST one numbered, timestamped event; (status, answer, ms)."""
    ts = time.monotonic_ns()  # CLOCK_MONOTONIC, as loadgen reads it
    body = f"{seq} {ts} ".encode().ljust(size, b"x")
    req = (b"POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"Content-Type: text/plain\r\nConnection: close\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body)) + body
    try:
        with socket.create_connection(("127.0.0.1", port), timeout) as c:
            c.settimeout(timeout)
            c.sendall(req)
            data = b""
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                if _ and b"content-length:" in head.lower():
                    n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    if len(rest) >= n:
                        break
    except OSError as e:
        return None, str(e), (time.monotonic_ns() - ts) / 1e6
    ms = (time.monotonic_ns() - ts) / 1e6
    try:
        status = int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None, data[:80].decode(errors="replace"), ms
    return status, data.partition(b"\r\n\r\n")[2].decode(errors="replace").strip(), ms


def pct(values, p):
    """Nearest-rank percentile."""
    if not values:
        return None
    v = sorted(values)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]


def hist_pct(buckets, p):
    """Percentile (ms) of merged loadgen histograms [[upper_us, n], ...]."""
    total = sum(n for _, n in buckets)
    if not total:
        return None
    target, cum = max(1, math.ceil(p / 100 * total)), 0
    for upper, n in sorted(buckets):
        cum += n
        if cum >= target:
            return upper / 1000
    return None


def last_progress(path):
    """The last progress line of a loadgen's stderr, parsed."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4096))
            lines = [l for l in f.read().decode(errors="replace").splitlines()
                     if l.startswith("[")]
    except OSError:
        return {}
    if not lines:
        return {}
    out, words = {}, lines[-1].replace(",", " ").replace("|", " ").split()
    for i, wd in enumerate(words[:-1]):
        if wd.isdigit() and words[i + 1] in ("connected", "failed", "live"):
            out[words[i + 1]] = int(wd)
    return out


def big(a):
    """The 100k scenario (see the module doc). Returns its figures."""
    subs, nodes = a.big_subscribers, a.big_nodes
    engine = a.big_engine
    if engine == "memory" and nodes != 1:
        sys.exit("bench: 100k: --100k-engine memory is for a 1-node harness "
                 "test (nodes do not share events without Redis)")
    if engine == "redis" and not ssehub_has_redis():
        sys.exit("bench: 100k: src/ssehub has no --redis/--reuse-port yet "
                 "(--100k-engine memory --100k-nodes 1 tests the harness)")
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    cap = min(19000, (hard if hard != resource.RLIM_INFINITY else 1 << 20) - 100)
    procs = a.big_load_procs or max(1, math.ceil(subs / min(cap, 17000)))
    per = [subs // procs + (1 if i < subs % procs else 0) for i in range(procs)]
    pr = sysctl("net.ipv4.ip_local_port_range") or ["32768", "60999"]
    span = (int(pr[1]) - int(pr[0]) + 1) * 2 // 3
    src_per = max(2, math.ceil(max(per) / span) + 1)
    sources = src_per * procs
    out = {"subscribers": subs, "nodes": nodes, "engine": engine,
           "load_processes": procs, "sources_per_process": src_per,
           "hold_s": a.big_hold, "publish_for_s": a.big_publish_for,
           "publish_every_s": a.big_publish_every}
    rows = kernel_checks(subs, nodes, procs, max(per), sources)
    print(f"\n100k: kernel and limits for {subs} subscribers, {nodes} nodes, "
          f"{procs} load processes x {src_per} source addresses:")
    for what, have, need, verdict in rows:
        print(f"  {verdict:<6s} {what}: {have} (needs {need})")
    out["checks"] = [dict(zip(("what", "have", "need", "verdict"), r)) for r in rows]
    blocks = [r for r in rows if r[3] == "BLOCKS"]
    saved = {}
    if a.tune_sysctl:
        if os.geteuid() != 0:
            sys.exit("bench: --tune-sysctl needs root")
        saved = tune_sysctls(subs, sources)
        rows = kernel_checks(subs, nodes, procs, max(per), sources)
        blocks = [r for r in rows if r[3] == "BLOCKS"]
    if blocks:
        restore_sysctls(saved)
        print("100k: BLOCKED by: " + "; ".join(r[0] for r in blocks))
        out["blocked"] = [r[0] for r in blocks]
        return out
    try:
        return big_run(a, out, per, src_per)
    finally:
        restore_sysctls(saved)


def big_run(a, out, per, src_per):
    subs, nodes, engine = a.big_subscribers, a.big_nodes, a.big_engine
    procs = len(per)
    every, n_events = a.big_publish_every, max(1, int(a.big_publish_for // a.big_publish_every))
    rate = a.big_connect_rate
    ramp_limit = max(30.0, 3.0 * max(per) / rate + 15)
    lg_duration = ramp_limit + a.big_hold + n_events * every + 60
    tmp = tempfile.mkdtemp(prefix="bench-100k-")
    port = free_port()
    loaders = []
    stream = f"bench-100k-{os.getpid()}"
    try:
        with contextlib.ExitStack() as stack:
            redis = stack.enter_context(Redis()) if engine == "redis" else None
            servers = []
            for _ in range(nodes):
                extra = ["--heartbeat", str(a.big_heartbeat)]
                if redis:
                    extra += ["--redis", redis.url, "--redis-stream", stream,
                              "--reuse-port"]
                servers.append(stack.enter_context(Server(
                    "ssehub", extra=extra, pinned=False,
                    port=port if nodes > 1 else None)))
            port = servers[0].port
            # Server() passes --heartbeat 0 first; the later --heartbeat wins
            node_pids = [s.proc.pid for s in servers]
            time.sleep(1)
            rss0 = sum(rss_kib(p) for p in node_pids)
            mem0 = redis.info("memory").get("used_memory") if redis else None
            log(f"bench: 100k: {nodes} ssehub node(s) on port {port} "
                f"(RSS {rss0} KiB together); {procs} load processes connecting "
                f"{subs} subscribers at {rate}/s each")
            holding = {}
            done = threading.Event()

            def reader(i, p):
                for line in p.stdout:
                    if line.startswith("HOLDING"):
                        holding[i] = int(line.split()[1])
                        if len(holding) == procs:
                            done.set()

            for i, n in enumerate(per):
                base = 20 + i  # 127.0.<20+i>.1 .. : disjoint per process
                src = f"127.0.{base}.1-127.0.{base}.{src_per}"
                js = os.path.join(tmp, f"load{i}.json")
                err = open(os.path.join(tmp, f"load{i}.err"), "w")
                p = subprocess.Popen(
                    [LOADGEN, "--port", str(port), "--clients", str(n), "--listen",
                     "--duration", str(lg_duration), "--source", src,
                     "--connect-rate", str(rate), "--json", js],
                    stdout=subprocess.PIPE, stderr=err, text=True,
                    preexec_fn=raise_nofile)
                loaders.append((p, js, err.name))
                threading.Thread(target=reader, args=(i, p), daemon=True).start()
            t_start = time.time()
            while not done.wait(1):
                if time.time() - t_start > ramp_limit:
                    break
                if all(p.poll() is not None for p, _, _ in loaders):
                    break
                if int(time.time() - t_start) % 10 == 0:
                    prog = [last_progress(e) for _, _, e in loaders]
                    log(f"  connecting: {sum(x.get('connected', 0) for x in prog)} "
                        f"connected, {sum(x.get('failed', 0) for x in prog)} failed")
            out["ramp_s"] = round(time.time() - t_start, 1)
            held = sum(holding.values())
            out["held"] = held
            if len(holding) < procs:
                out["error"] = (f"only {len(holding)} of {procs} load processes "
                                f"had all their clients resolved in {ramp_limit:.0f} s")
                log("bench: 100k: " + out["error"])
            log(f"bench: 100k: {held} subscribers connected after {out['ramp_s']} s; "
                f"holding {a.big_hold} s")
            time.sleep(min(2, a.big_hold))
            out["rss_kib_start_of_hold"] = sum(rss_kib(p) for p in node_pids)
            c0, t0 = cpu_of(node_pids), time.time()
            t_end_hold = t_start + out["ramp_s"] + a.big_hold
            while time.time() < t_end_hold:
                time.sleep(min(10, max(0, t_end_hold - time.time())))
                prog = [last_progress(e) for _, _, e in loaders]
                log(f"  hold: {sum(x.get('live', 0) for x in prog)} live, nodes' RSS "
                    f"{sum(rss_kib(p) for p in node_pids) / 1024:.0f} MiB, "
                    f"{int(t_end_hold - time.time())} s left")
            out["hold_cpu_pct_of_core"] = round(
                100 * (cpu_of(node_pids) - c0) / max(0.001, time.time() - t0), 2)
            rss = sum(rss_kib(p) for p in node_pids)
            out["rss_kib_base"], out["rss_kib"] = rss0, rss
            out["node_rss_kib"] = [rss_kib(p) for p in node_pids]
            out["node_fds"] = []
            for p in node_pids:
                try:
                    out["node_fds"].append(len(os.listdir(f"/proc/{p}/fd")))
                except OSError:
                    out["node_fds"].append(None)
            prog = [last_progress(e) for _, _, e in loaders]
            live = sum(x.get("live", 0) for x in prog)
            out["live_end_of_hold"] = live
            if live:
                out["kib_per_subscriber"] = round(rss / live, 2)
                out["kib_per_subscriber_over_base"] = round((rss - rss0) / live, 2)
            if redis:
                out["redis_used_memory_hold"] = redis.info("memory").get("used_memory")
            # Publish: every `every` s, a new connection each (the kernel
            # spreads them over the nodes), numbered 1..n_events.
            log(f"bench: 100k: publishing {n_events} events, one every {every} s")
            pubs, seq, drops0 = [], 1, softnet_drops()
            c1 = cpu_of(node_pids)
            t_pub = time.time()
            for k in range(n_events):
                time.sleep(max(0, t_pub + k * every - time.time()))
                tries = 0
                while tries < 3:
                    tries += 1
                    st, body, ms = publish_one(port, seq)
                    pubs.append({"seq": seq, "status": st, "ms": round(ms, 2),
                                 "answer": body[:120]})
                    if st == 200:
                        seq += 1
                        break
                    if st is not None and st not in (429, 503):
                        break
                    time.sleep(0.2)
            accepted = seq - 1
            time.sleep(max(3.0, min(every, 10.0)))  # the last fan-out lands
            out["publish_cpu_pct_of_core"] = round(
                100 * (cpu_of(node_pids) - c1) / max(0.001, time.time() - t_pub), 2)
            drops1 = softnet_drops()
            if drops0 is not None and drops1 is not None:
                out["softnet_drops"] = drops1 - drops0
            out["published"] = accepted
            out["publish_attempts"] = len(pubs)
            out["publish_failures"] = [x for x in pubs if x["status"] != 200]
            rtts = [x["ms"] for x in pubs if x["status"] == 200]
            out["publish_rtt_ms"] = {"p50": pct(rtts, 50), "max": max(rtts) if rtts else None}
            if redis:
                out["redis_used_memory"] = redis.info("memory").get("used_memory")
                out["redis_used_memory_base"] = mem0
                try:
                    out["redis_stream_len"] = redis.cmd("XLEN", stream)
                except (OSError, RuntimeError):
                    pass
            out["node_stats_sample"] = http_stats(port)
            for p, _, _ in loaders:  # end the clients: they report
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p, _, _ in loaders:
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    finally:
        for p, _, _ in loaders:
            if p.poll() is None:
                p.kill()
                p.wait()
    results = []
    for _, js, _ in loaders:
        try:
            results.append(json.load(open(js)))
        except (OSError, ValueError):
            results.append(None)
    shutil.rmtree(tmp, ignore_errors=True)
    return big_verify(out, results, accepted)


def big_verify(out, results, accepted):
    """Every subscriber got every event exactly once? Merge the load
    processes' per-event counts and histograms."""
    ok = [r for r in results if r]
    out["load_results_missing"] = len(results) - len(ok)
    conn = sum(r["clients"]["connected"] for r in ok)
    gone = sum(r["clients"][k] for r in ok for k in (
        "resets", "closed_by_server", "stream_ended", "io_errors", "protocol_errors"))
    out["connected"], out["disconnected"] = conn, gone
    out["refused"] = sum(r["clients"]["http_429"] + r["clients"]["other_status"] for r in ok)
    out["connect_failures"] = sum(r["clients"]["connect_errors"] + r["clients"]["timeouts"]
                                  for r in ok)
    counts, fanout = {}, {}
    for r in ok:
        for seq, n, fo in r.get("events", []):
            counts[seq] = counts.get(seq, 0) + n
            if n > 0 and fo >= 0:
                fanout[seq] = max(fanout.get(seq, 0), fo)
    expect_each = conn - gone
    misses = sum(max(0, expect_each - counts.get(s, 0)) for s in range(1, accepted + 1))
    extra = sum(max(0, counts.get(s, 0) - conn) for s in range(1, accepted + 1))
    foreign = sum(counts.get(s, 0) for s in counts if s > accepted)
    d = {k: sum(r["deliveries"][k] for r in ok) for k in (
        "expected", "received", "lost", "duplicated", "reordered", "clients_with_loss",
        "foreign", "heartbeats")}
    out["deliveries"] = d
    out["per_event"] = {str(s): counts.get(s, 0) for s in range(1, accepted + 1)}
    out["misses"], out["over_delivered"], out["unknown_seq_deliveries"] = misses, extra, foreign
    out["exactly_once"] = (accepted > 0 and misses == 0 and extra == 0 and foreign == 0
                           and d["lost"] == 0 and d["duplicated"] == 0
                           and d["reordered"] == 0 and not out["load_results_missing"])
    fos = [fanout[s] for s in range(1, accepted + 1) if s in fanout]
    out["fanout_ms"] = {"events": len(fos), "p50": pct(fos, 50), "p99": pct(fos, 99),
                        "max": max(fos) if fos else None}
    hist = [b for r in ok for b in r.get("latency_hist_us", [])]
    out["latency_ms"] = {"p50": hist_pct(hist, 50), "p99": hist_pct(hist, 99),
                         "max": max((r.get("latency_max_ms", 0) for r in ok), default=None)}
    return out


def report_big(r):
    print(f"\n100k: {r['subscribers']} subscribers, {r['nodes']} ssehub node(s) "
          f"({r['engine']} engine), {r['load_processes']} load processes")
    if r.get("blocked"):
        print("  BLOCKED: " + "; ".join(r["blocked"]))
        return
    print(f"  connected {r.get('connected')} (refused {r.get('refused')}, "
          f"failed {r.get('connect_failures')}) in {r.get('ramp_s')} s; "
          f"disconnected later {r.get('disconnected')}")
    kps = r.get("kib_per_subscriber")
    print(f"  server RSS {r.get('rss_kib', 0) / 1024:.1f} MiB for "
          f"{r.get('live_end_of_hold')} live subscribers after a {r['hold_s']} s hold: "
          f"{fmt(kps, 2)} KiB per subscriber (target <= 8; "
          f"{fmt(r.get('kib_per_subscriber_over_base'), 2)} over the nodes' "
          f"{r.get('rss_kib_base', 0) / 1024:.1f} MiB at start); "
          f"per node KiB {r.get('node_rss_kib')}")
    print(f"  open fds per node (about its subscribers): {r.get('node_fds')}; idle nodes' "
          f"CPU during the hold: {r.get('hold_cpu_pct_of_core')}% of a core, while "
          f"publishing {r.get('publish_cpu_pct_of_core')}%")
    um = r.get("redis_used_memory")
    if um is not None:
        print(f"  redis used_memory {um / 2**20:.2f} MiB after publishing "
              f"({(r.get('redis_used_memory_base') or 0) / 2**20:.2f} MiB at start, "
              f"{(r.get('redis_used_memory_hold') or 0) / 2**20:.2f} MiB while holding; "
              f"stream length {r.get('redis_stream_len')})")
    print(f"  published {r.get('published')} events ({r.get('publish_attempts')} attempts, "
          f"{len(r.get('publish_failures', []))} failed), publish rtt ms {r.get('publish_rtt_ms')}")
    fo, lat = r.get("fanout_ms", {}), r.get("latency_ms", {})
    print(f"  fan-out ms (publish sent -> the last subscriber has it): p50 {fmt(fo.get('p50'))} "
          f"p99 {fmt(fo.get('p99'))} max {fmt(fo.get('max'))}; delivery latency "
          f"p50 {fmt(lat.get('p50'))} p99 {fmt(lat.get('p99'))} ms")
    d = r.get("deliveries", {})
    print(f"  exactly once: {'YES' if r.get('exactly_once') else 'NO'} "
          f"(misses {r.get('misses')}, over-delivered {r.get('over_delivered')}, "
          f"lost {d.get('lost')}, duplicated {d.get('duplicated')}, reordered "
          f"{d.get('reordered')}, clients with loss {d.get('clients_with_loss')}, "
          f"unknown {r.get('unknown_seq_deliveries')}); per event "
          + ", ".join(f"{k}:{v}" for k, v in r.get("per_event", {}).items()))
    if r.get("softnet_drops") is not None:
        print(f"  softnet backlog drops while publishing: {r['softnet_drops']}"
              + (f" (net.core.netdev_max_backlog "
                 f"{' '.join(sysctl('net.core.netdev_max_backlog') or ['?'])}: each "
                 f"drop is a TCP retransmit, 200 ms+; --tune-sysctl raises it)"
                 if r["softnet_drops"] else ""))
    if r.get("error"):
        print(f"  ERROR: {r['error']}")


# ---- charts ------------------------------------------------------------------
# PNG charts of one run's results, drawn by Debian's gnuplot (gnuplot-nox,
# pinned in scripts/bench/deps.txt) through its cairo terminal: one PNG per
# measure, the servers of that run side by side. Drawn after every run
# (next to its JSON, or into --charts-out) and from a saved run with
#   scripts/bench.py --charts-from bench-results/X.json --charts-out doc/bench

SERVER_LABELS = {"ssehub": "ssehub", "nchan": "nginx+nchan",
                 "seed": "seed\\n(Node.js)", "floor": "floor\\n(bare epoll)"}
CLUSTER_LABELS = {"ssehub": "ssehub\\nin memory",
                  "ssehub-redis1": "ssehub\\nRedis, 1 node",
                  "ssehub-redis3": "ssehub\\nRedis, 3 nodes",
                  "ssehub-redis3rp": "ssehub\\nRedis, 3 nodes\\none port",
                  "nchan": "nchan\\nin memory",
                  "nchan-redis1": "nchan\\nRedis, 1 nginx",
                  "nchan-redis3": "nchan\\nRedis, 3 nginx"}
PCT_COLORS = ("#9ecae1", "#4292c6", "#08306b")  # p50, p90, p99


def _latency(run):
    """(p50, p90, p99) of a run, or None when it measured nothing (a server
    that did not connect every client before the window, an error)."""
    lat = (run or {}).get("latency_ms") or {}
    if not lat.get("count"):
        return None
    return tuple(lat.get(k) for k in ("p50", "p90", "p99"))


def _gp_str(text):
    """A gnuplot double-quoted string ("\n" stays a line break)."""
    return '"' + text.replace("\\", "\\\\").replace("\\\\n", "\\n").replace(
        '"', '\\"') + '"'


def _run_label(res, source):
    when = res.get("time", "?").replace("T", " ")[:16]
    return (f"{'quick ' if res.get('quick') else ''}run of {when}"
            f" ({os.path.basename(source)}), kernel {res.get('kernel', '?')}")


def _bars(tmp, name, rows, cols):
    """Write rows [(label, v1, v2, ...)] as a data file; None is '?'."""
    path = os.path.join(tmp, name + ".dat")
    with open(path, "w") as f:
        for label, *vals in rows:
            f.write(_gp_str(label) + " " +
                    " ".join("?" if v is None else repr(float(v)) for v in vals)
                    + "\n")
    return path


def _note(rows):
    """A footnote for charts with a "no result" bar: what it means."""
    if not any(v is None for _, *vals in rows for v in vals):
        return ""
    return ("set label 99 \"no result: the run measured nothing (not every "
            "subscriber connected before its window, or it failed)\" "
            "at screen 0.01,0.03 font ',9' tc rgb '#c00000'\n")


def _cluster_plot(dat, ncols, titles, colors, fmt_label, none_y=0):
    """gnuplot lines: clustered bars from dat (column 1 the label), a value
    over each bar, "no result" where a row has none."""
    width = 1.0 / (ncols + 1)
    parts = []
    for i in range(ncols):
        parts.append(f"{_gp_str(dat)} using {i + 2}:xtic(1) title "
                     f"{_gp_str(titles[i])} lc rgb {_gp_str(colors[i])}")
    for i in range(ncols):
        off = (i - (ncols - 1) / 2) * width
        parts.append(f"'' using ($0{off:+.4f}):{i + 2}:(gprintf({_gp_str(fmt_label)}, "
                     f"${i + 2})) with labels offset 0,0.7 font ',8' notitle")
    parts.append(f"'' using 0:(valid(2) ? 1/0 : {none_y}):(\"no result\") "
                 "with labels offset 0,1 font ',9' tc rgb '#c00000' notitle")
    return "plot " + ", \\\n     ".join(parts)


def _gp_head(png, title, ylabel, width=1000, height=560):
    return f"""set terminal pngcairo size {width},{height} font 'DejaVu Sans,10' noenhanced
set output {_gp_str(png)}
set title {_gp_str(title)} font ',12'
set ylabel {_gp_str(ylabel)}
set datafile missing '?'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border rgb '#333333'
set boxwidth 1
set grid ytics lc rgb '#dddddd'
set key outside top center horizontal
set bmargin 6
set xtics nomirror scale 0
set ytics nomirror
set border 3
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
"""


def charts(res, out, source):
    """Draw the charts of res (a results dict) into out; return the PNGs."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        raise RuntimeError("gnuplot not found: install gnuplot-nox "
                           "(scripts/bench/deps.txt)")
    os.makedirs(out, exist_ok=True)
    run = _run_label(res, source)
    scripts, pngs = [], []
    servers = [s for s in ("ssehub", "nchan", "seed", "floor")
               if s in res.get("servers", {})]
    servers += [s for s in res.get("servers", {}) if s not in servers]
    label = lambda s: SERVER_LABELS.get(s, s)
    tmp = tempfile.mkdtemp(prefix="bench-charts-")
    try:
        sv = res.get("servers", {})
        # Latency: one panel per fan-out scenario, p50/p90/p99 per server.
        panels = []
        for key, what in (("fanout1", "1 event/s, server on 1 core"),
                          ("fanout10", "10 events/s, server on 1 core"),
                          ("fanout1u", "1 event/s, server on both cores")):
            rows = []
            subs = 0
            for s in servers:
                r = sv[s].get(key)
                if r is None:
                    continue
                lat = _latency(r)
                subs = max(subs, r.get("connected") or 0)
                rows.append((label(s), *(lat or (None, None, None))))
            if rows:
                panels.append((key, what, subs, rows))
        if panels:
            png = os.path.join(out, "latency.png")
            g = _gp_head(png, "", "", width=420 * len(panels) + 80, height=560)
            g += "set multiplot layout 1,%d title %s font ',13'\n" % (
                len(panels), _gp_str("Fan-out latency, publish to delivery, per "
                                     "server (lower is better)\\n" + run))
            g += _note([r for p in panels for r in p[3]])
            g += "set tmargin 6\n"
            for key, what, subs, rows in panels:
                dat = _bars(tmp, key, rows, 3)
                g += f"set title {_gp_str(f'{subs:,} subscribers, {what}')}\n"
                g += "set ylabel 'latency (ms)'\n"
                g += _cluster_plot(dat, 3, ("p50", "p90", "p99"), PCT_COLORS,
                                   "%.0f") + "\n"
            g += "unset multiplot\n"
            scripts.append(g)
            pngs.append(png)
        # Deliveries per second, publishing as fast as accepted.
        rows, subs = [], 0
        for s in servers:
            r = sv[s].get("tput")
            if r is None:
                continue
            ok = _latency(r) is not None and r.get("deliveries_per_s")
            subs = max(subs, r.get("connected") or 0)
            rows.append((label(s), r["deliveries_per_s"] if ok else None))
        if rows:
            png = os.path.join(out, "deliveries.png")
            dat = _bars(tmp, "tput", rows, 1)
            g = _gp_head(png, f"Deliveries per second, {subs:,} subscribers, "
                         "publishing as fast as accepted (higher is better)\\n" + run,
                         "events delivered per second (log scale)")
            g += "set logscale y\nset yrange [1000:*]\nset key off\n"
            g += "set format y '%.0s%c'\nset offsets 0, 0, graph 0.15, 0\n"
            g += _note(rows)
            g += _cluster_plot(dat, 1, ("deliveries/s",), ("#2171b5",),
                               "%.3s%c", none_y=2000) + "\n"
            scripts.append(g)
            pngs.append(png)
        # Memory per idle subscriber: plain requests, and 4 KiB of cookies.
        rows, subs = [], 0
        for s in servers:
            m, m4 = sv[s].get("memory"), sv[s].get("memory4k")
            if m is None and m4 is None:
                continue
            subs = max(subs, (m or {}).get("subscribers") or 0)
            rows.append((label(s), (m or {}).get("kib_per_subscriber"),
                         (m4 or {}).get("kib_per_subscriber")))
        if rows:
            png = os.path.join(out, "memory.png")
            dat = _bars(tmp, "memory", rows, 2)
            g = _gp_head(png, f"Server memory per idle subscriber, {subs:,} "
                         "held (lower is better)\\n" + run,
                         "RSS growth per subscriber (KiB)")
            g += _note(rows)
            g += _cluster_plot(dat, 2, ("plain GET /sse", "with 4 KiB of cookies"),
                               ("#6baed6", "#fd8d3c"), "%.1f") + "\n"
            scripts.append(g)
            pngs.append(png)
        # The cluster scenario: every engine, paced latency and deliveries/s.
        cl = res.get("cluster")
        if cl and cl.get("configs"):
            cfgs = cl["configs"]
            names = [c for c in CLUSTER_LABELS if c in cfgs] + \
                    [c for c in cfgs if c not in CLUSTER_LABELS]
            clabel = lambda c: CLUSTER_LABELS.get(c, c)
            rows = [(clabel(c), *(_latency(cfgs[c].get("paced")) or (None,) * 3))
                    for c in names if "paced" in cfgs[c]]
            if rows:
                png = os.path.join(out, "cluster-latency.png")
                dat = _bars(tmp, "cluster-paced", rows, 3)
                g = _gp_head(png, f"Cluster: latency at {cl.get('rate', '?')} "
                             f"events/s, {cl.get('subscribers', 0):,} subscribers "
                             "spread over the nodes (lower is better)\\n" + run,
                             "latency, publish to delivery (ms)", width=1100)
                g += _note(rows)
                g += _cluster_plot(dat, 3, ("p50", "p90", "p99"), PCT_COLORS,
                                   "%.1f") + "\n"
                scripts.append(g)
                pngs.append(png)
            rows = []
            for c in names:
                r = cfgs[c].get("closed")
                if r is None:
                    continue
                ok = _latency(r) is not None and r.get("deliveries_per_s")
                rows.append((clabel(c), r["deliveries_per_s"] if ok else None))
            if rows:
                png = os.path.join(out, "cluster-deliveries.png")
                dat = _bars(tmp, "cluster-closed", rows, 1)
                g = _gp_head(png, f"Cluster: deliveries per second, "
                             f"{cl.get('subscribers', 0):,} subscribers, publishing "
                             "as fast as accepted (higher is better)\\n" + run,
                             "events delivered per second (log scale)", width=1100)
                g += "set logscale y\nset yrange [1000:*]\nset key off\n"
                g += "set format y '%.0s%c'\nset offsets 0, 0, graph 0.15, 0\n"
                g += _note(rows)
                g += _cluster_plot(dat, 1, ("deliveries/s",), ("#2171b5",),
                                   "%.3s%c", none_y=2000) + "\n"
                scripts.append(g)
                pngs.append(png)
        for i, g in enumerate(scripts):
            path = os.path.join(tmp, f"chart{i}.gp")
            open(path, "w").write(g)
            r = subprocess.run([gnuplot, path], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"gnuplot failed on {pngs[i]}: {r.stderr.strip()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return pngs


# ---- report ------------------------------------------------------------------

def fmt(v, nd=1):
    return "-" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))


MAIN_SCENARIOS = {"memory", "fanout1", "fanout10", "fanout1u", "tput", "limit",
                  "extras"}


def report(res):
    if "cluster" in res:
        report_cluster(res["cluster"])
    if "100k" in res:
        report_big(res["100k"])
    if not res["servers"] and not any(k in res for k in ("idle19k", "bigevent")):
        return
    rows = []
    for name, r in res["servers"].items():
        f1, f10, f1u, tp, mem, mem4, lim = (r.get(k, {}) for k in
                                            ("fanout1", "fanout10", "fanout1u",
                                             "tput", "memory", "memory4k", "limit"))
        rows.append([
            name,
            f"{fmt(f1.get('latency_ms', {}).get('p50'))} / {fmt(f1.get('latency_ms', {}).get('p99'))}",
            f"{fmt(f10.get('latency_ms', {}).get('p50'))} / {fmt(f10.get('latency_ms', {}).get('p99'))}",
            f"{fmt(f1u.get('latency_ms', {}).get('p50'))} / {fmt(f1u.get('latency_ms', {}).get('p99'))}",
            fmt(tp.get("deliveries_per_s"), 0),
            fmt(tp.get("latency_ms", {}).get("p99")),
            fmt(tp.get("server_cpu_s_per_1m"), 2),
            f"{tp.get('lost', '-')}/{tp.get('duplicated', '-')}/{tp.get('reordered', '-')}",
            fmt(mem.get("kib_per_subscriber"), 2),
            f"{fmt(mem4.get('kib_per_subscriber'), 2)} ({mem4.get('refused', '-')} refused)",
            f"{lim.get('connected', '-')} ok, {lim.get('http_429', '-')} x 429",
        ])
    head = ["server", "fan-out 10k@1/s p50/p99 ms", "10k@10/s p50/p99 ms",
            "10k@1/s unpinned",
            "deliv/s 1k closed", "p99 ms", "CPU s/1M", "lost/dup/reord",
            "KiB/idle sub", "with 4 KiB cookie", "limit 100, 150 clients"]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))
    print(line(head))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))
    s, n = res["servers"].get("ssehub", {}), res["servers"].get("nchan", {})
    try:
        print("\nratios against nchan (targets in README):")
        print(f"  fan-out p99 10k@1/s   {s['fanout1']['latency_ms']['p99'] / n['fanout1']['latency_ms']['p99']:.2f}x (target <= 0.75)")
        fl = res["servers"].get("floor", {}).get("fanout1", {}).get("latency_ms", {}).get("p99")
        if fl:
            print(f"  fan-out p99 vs floor  {s['fanout1']['latency_ms']['p99'] / fl:.2f}x (the bare loop: {fl:.1f} ms)")
        for key, label in (("fanout10", "10k@10/s"), ("fanout1u", "10k@1/s unpinned")):
            if key in s and key in n:
                print(f"  fan-out p99 {label:<17s}{s[key]['latency_ms']['p99'] / n[key]['latency_ms']['p99']:.2f}x")
        print(f"  deliveries/s 1k       {s['tput']['deliveries_per_s'] / n['tput']['deliveries_per_s']:.2f}x (target >= 1.5)")
        fl = res["servers"].get("floor", {}).get("tput", {}).get("server_cpu_s_per_1m")
        print(f"  ssehub CPU s/1M       {s['tput']['server_cpu_s_per_1m']:.2f} (target < 8.8, the bare-loop floor"
              + (f"; measured here {fl:.2f})" if fl else ")"))
        print(f"  ssehub tput p99       {s['tput']['latency_ms']['p99']:.1f} ms (target < 100)")
        print(f"  KiB per idle sub      {s['memory']['kib_per_subscriber']:.2f} (target <= 8; nchan {n['memory']['kib_per_subscriber']:.2f})")
        m4 = s.get("memory4k", {})
        if m4:
            print(f"  with 4 KiB cookies    {m4['kib_per_subscriber']:.2f} KiB, {m4['subscribers']} held, {m4['refused']} refused")
    except (KeyError, TypeError, ZeroDivisionError):
        pass
    for k in ("idle19k", "bigevent"):
        if k in res:
            print(f"\n{k}: {json.dumps(res[k])}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs, fewer subscribers")
    ap.add_argument("--servers", default="ssehub,nchan,seed,floor")
    ap.add_argument("--scenarios",
                    default="memory,fanout1,fanout10,fanout1u,tput,limit,extras")
    ap.add_argument("--skip-setup", action="store_true")
    ap.add_argument("--trials", type=int, default=3,
                    help="fan-out runs per server (the median p99 is reported)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    g = ap.add_argument_group("charts (gnuplot)")
    g.add_argument("--charts-from", metavar="JSON",
                   help="run nothing: draw the charts of a saved run")
    g.add_argument("--charts-out", metavar="DIR",
                   help="where the PNGs go (default: beside the JSON, in a "
                        "directory of the same name)")
    g.add_argument("--no-charts", action="store_true",
                   help="do not draw charts after the run")
    g = ap.add_argument_group("cluster (--scenarios cluster)")
    g.add_argument("--cluster-configs", default=",".join(CLUSTER_CONFIGS),
                   help="which of " + ",".join(CLUSTER_CONFIGS))
    g.add_argument("--cluster-subscribers", type=int, default=1000)
    g.add_argument("--cluster-rate", type=float, default=50,
                   help="events/s of the paced run (latency)")
    g.add_argument("--cluster-duration", type=float, default=15,
                   help="seconds per run (the first 3 are warm-up)")
    g = ap.add_argument_group("100k (--scenarios 100k)")
    g.add_argument("--100k-subscribers", dest="big_subscribers", type=int, default=100000)
    g.add_argument("--100k-nodes", dest="big_nodes", type=int, default=6,
                   help="ssehub processes sharing one port (--reuse-port)")
    g.add_argument("--100k-hold", dest="big_hold", type=float, default=300,
                   help="seconds to hold every subscriber before publishing")
    g.add_argument("--100k-publish-for", dest="big_publish_for", type=float, default=60)
    g.add_argument("--100k-publish-every", dest="big_publish_every", type=float, default=5)
    g.add_argument("--100k-load-procs", dest="big_load_procs", type=int, default=0,
                   help="load client processes (default: about 17,000 clients each)")
    g.add_argument("--100k-connect-rate", dest="big_connect_rate", type=float, default=1000,
                   help="new connections per second per load process")
    g.add_argument("--100k-heartbeat", dest="big_heartbeat", type=float, default=15)
    g.add_argument("--100k-engine", dest="big_engine", choices=("redis", "memory"),
                   default="redis", help="memory: one node, no Redis (tests the harness)")
    g.add_argument("--tune-sysctl", action="store_true",
                   help="100k: raise net.core.netdev_max_backlog and somaxconn (and "
                        "the local port range if short) for the run, then restore them")
    a = ap.parse_args()
    if a.charts_from:
        res = json.load(open(a.charts_from))
        out = a.charts_out or os.path.splitext(a.charts_from)[0]
        try:
            pngs = charts(res, out, a.charts_from)
        except RuntimeError as e:
            sys.exit(f"bench: {e}")
        if not pngs:
            sys.exit(f"bench: nothing to draw in {a.charts_from}")
        for png in pngs:
            print(png)
        return
    # SIGTERM unwinds like Ctrl-C: every process started here is stopped
    # by its PID on the way out (and sysctls set by --tune-sysctl restored)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not a.skip_setup:
        setup()
    if os.cpu_count() < 2:
        sys.exit("bench: needs 2 cores (server and client each pinned to one)")
    n, hold = (5000, 8) if a.quick else (10000, 12)
    fan_d, fan_w = (12, 5) if a.quick else (25, 8)
    tp_d, tp_w = (8, 3) if a.quick else (15, 3)
    res = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "quick": a.quick,
           "kernel": os.uname().release, "servers": {}}
    want = set(a.scenarios.split(","))
    servers = a.servers.split(",") if want & MAIN_SCENARIOS else []
    for name in servers:
        log(f"bench: {name}")
        r = res["servers"][name] = {}
        if "memory" in want:
            r["memory"] = memory(name, n, hold)
            log(f"  memory {r['memory']}")
            r["memory4k"] = memory(name, n, hold, cookie=4096)
            log(f"  memory, 4 KiB cookies {r['memory4k']}")
        if "tput" in want:
            r["tput"] = timed_run(name, ["--clients", 1000, "--closed-loop"], tp_d, tp_w)
            log(f"  tput {r['tput'].get('deliveries_per_s')}/s")
        if "limit" in want and name != "floor":  # the floor has no limit
            r["limit"] = limit(name)
    # Fan-out latency on this VM varies by +-20% from run to run (other
    # tenants, timer and wake-up luck): each server runs a.trials times,
    # interleaved, and the run with the median p99 is reported.
    # fanout1u: the server not pinned (it may use both cores; nchan then
    # runs one worker per core), the client still on core 1.
    for key, rate, pinned in (("fanout1", 1, True), ("fanout10", 10, True),
                              ("fanout1u", 1, False)):
        if key not in want:
            continue
        for t in range(a.trials):
            for name in servers:
                r = res["servers"][name]
                run = timed_run(name, ["--clients", n, "--rate", rate], fan_d,
                                fan_w, pinned=pinned)
                r.setdefault(key + "_trials", []).append(run)
                log(f"  {name} {key} trial {t + 1}: p99 "
                    f"{run.get('latency_ms', {}).get('p99')}")
        for name in servers:
            r = res["servers"][name]
            ok = [x for x in r[key + "_trials"] if "latency_ms" in x]
            ok.sort(key=lambda x: x["latency_ms"]["p99"])
            r[key] = ok[len(ok) // 2] if ok else {"error": "no result"}
    if "ssehub" in a.servers.split(",") and "extras" in want:
        log("bench: ssehub extras")
        res["idle19k"] = idle19k(a.quick)
        res["bigevent"] = big_event(a.quick)
    if "cluster" in want:
        log("bench: cluster")
        res["cluster"] = cluster(a)
    if "100k" in want:
        log("bench: 100k")
        res["100k"] = big(a)
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, time.strftime("bench-%Y%m%d-%H%M%S.json"))
    json.dump(res, open(path, "w"), indent=1)
    report(res)
    print(f"\nraw results: {path}")
    if not a.no_charts:
        try:
            for png in charts(res, a.charts_out or os.path.splitext(path)[0], path):
                print(f"chart: {png}")
        except RuntimeError as e:
            log(f"bench: no charts: {e}")


if __name__ == "__main__":
    main()
