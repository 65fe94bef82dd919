// harness.mjs - what the client tests share: the ssehub process, a TCP proxy
// that can cut connections, publishing, a headless Chromium, client
// recorders and bounded waits.
//
// Every process and socket made here is registered with a Scope; a test
// makes one with scope(t) and everything in it is stopped in t.after(),
// which node:test also runs when the test fails or times out. As a last
// resort, process 'exit' SIGKILLs every process still registered (by PID).
import { spawn } from 'node:child_process';
import test from 'node:test';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const HOST = '127.0.0.1';
export const BIN = process.env.SSEHUB_BIN
  ? path.resolve(process.env.SSEHUB_BIN)
  : path.resolve(here, '../../src/ssehub');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
// Per-test time bound used by every test file.
export const TEST_TIMEOUT = Number(process.env.SSEHUB_TEST_TIMEOUT_MS || 30_000);

// ---- last-resort cleanup ----------------------------------------------------
const livePids = new Map(); // pid -> {group: bool}
process.on('exit', () => {
  for (const [pid, { group }] of livePids) {
    try { process.kill(group ? -pid : pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

// ---- small utilities ----------------------------------------------------------
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls pred() (sync or async) until truthy; throws after ms with a message. */
export async function waitFor(pred, { timeout = 10_000, interval = 20, what = 'condition', detail } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await pred();
      if (last) return last;
    } catch (e) { last = e; }
    if (Date.now() >= end) {
      let d = '';
      if (detail) { try { d = ' — ' + (typeof detail === 'function' ? detail() : detail); } catch { /* ignore */ } }
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${d}`);
    }
    await sleep(interval);
  }
}

/** Races a promise against a deadline. */
export function withTimeout(promise, ms, what = 'operation') {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${what} did not finish within ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---- scope: cleanup registry for one test ----------------------------------
export class Scope {
  constructor(t) {
    this.t = t;
    this.fns = [];
    this.closed = false;
    if (t) t.after(() => this.close());
  }
  /** Registers fn to run at cleanup (last registered runs first). */
  defer(fn) { this.fns.push(fn); return fn; }
  note(msg) {
    if (!this.t) return;
    for (const line of String(msg).split('\n')) if (line) this.t.diagnostic(line);
  }
  async close() {
    if (this.closed) return;
    this.closed = true;
    while (this.fns.length) {
      const fn = this.fns.pop();
      try { await withTimeout(Promise.resolve().then(fn), 10_000, 'cleanup step'); }
      catch (e) { this.note(`cleanup: ${e.message}`); }
    }
  }
  // Conveniences that register their own cleanup.
  async hub(args = [], opts = {}) {
    const h = new Hub(args, opts);
    this.defer(async () => {
      await h.stop();
      if (this.t && (this.failed || !this.finished || process.env.SSEHUB_TEST_VERBOSE)) {
        this.note(`ssehub stderr (tail):\n${h.stderrTail()}`);
      }
    });
    await h.start();
    return h;
  }
  async redis(args = []) {
    const r = new RedisServer(args);
    this.defer(async () => {
      await r.stop();
      if (this.t && (this.failed || !this.finished || process.env.SSEHUB_TEST_VERBOSE)) {
        this.note(`redis-server log (tail):\n${r.logTail()}`);
      }
    });
    await r.start();
    return r;
  }
  async proxy(targetPort) {
    const p = new CutProxy(targetPort);
    this.defer(() => p.close());
    await p.listen();
    return p;
  }
  async browser() {
    const b = new Browser();
    this.defer(() => b.close());
    await b.launch();
    return b;
  }
  track(closable) { this.defer(() => closable.close()); return closable; }
}
export const scope = (t) => new Scope(t);

/**
 * A bounded test with its own Scope: fn(t, sc). On failure or timeout the
 * servers' stderr is printed as diagnostics.
 */
export function clientTest(name, fn, { timeout = TEST_TIMEOUT, ...opts } = {}) {
  // SSEHUB_TEST_TIMEOUT_MS, when set, bounds every test alike.
  if (process.env.SSEHUB_TEST_TIMEOUT_MS) timeout = TEST_TIMEOUT;
  return test(name, { timeout, ...opts }, async (t) => {
    const sc = scope(t);
    try {
      await fn(t, sc);
      sc.finished = true;
    } catch (e) {
      sc.failed = true;
      throw e;
    }
  });
}

// ---- the ssehub process -------------------------------------------------------
export class Hub {
  /**
   * @param {string[]} args extra arguments after --bind/--port
   * @param {{port?: number, env?: object}} opts port: keep a given port
   */
  constructor(args = [], { port, env } = {}) {
    this.args = args;
    this.port = port;
    this.env = env;
    this.proc = null;
    this.stderr = '';
    this.runs = 0;
  }
  get base() { return `http://${HOST}:${this.port}`; }
  url(p = '/sse') { return this.base + p; }
  get pid() { return this.proc ? this.proc.pid : undefined; }
  stderrTail(n = 40) { return this.stderr.split('\n').slice(-n).join('\n'); }

  /** Starts ssehub and resolves once it logs "listening on" (10 s bound). */
  async start() {
    if (!fs.existsSync(BIN)) throw new Error(`ssehub binary not found at ${BIN} (build it, or set SSEHUB_BIN)`);
    if (!this.port) this.port = await freePort();
    const argv = ['--bind', HOST, '--port', String(this.port), ...this.args];
    this.runs += 1;
    const proc = spawn(BIN, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.env },
    });
    this.proc = proc;
    livePids.set(proc.pid, { group: false });
    proc.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        livePids.delete(proc.pid);
        proc.exitInfo = { code, signal };
        resolve(proc.exitInfo);
      });
    });
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => { this.stderr += d; });
    proc.stderr.setEncoding('utf8');
    this.stderr += `---- run ${this.runs}: ${BIN} ${argv.join(' ')}\n`;
    const startOffset = this.stderr.length;
    const listening = new Promise((resolve, reject) => {
      proc.stderr.on('data', (d) => {
        this.stderr += d;
        if (/listening on/.test(this.stderr.slice(startOffset))) resolve();
      });
      proc.on('error', reject);
      proc.exited.then(({ code, signal }) => reject(new Error(
        `ssehub exited (code ${code}, signal ${signal}) before listening; args: ${argv.join(' ')}\n${this.stderr.slice(startOffset)}`)));
    });
    try {
      await withTimeout(listening, 10_000, `ssehub start (${argv.join(' ')})`);
    } catch (e) {
      await this.stop();
      throw e;
    }
    return this;
  }

  /** SIGTERM, then SIGKILL after `grace` ms; resolves with the exit info. */
  async stop(grace = 5_000) {
    const proc = this.proc;
    if (!proc) return null;
    if (proc.exitInfo) { this.proc = null; return proc.exitInfo; }
    try { process.kill(proc.pid, 'SIGTERM'); } catch { /* gone */ }
    let info;
    try {
      info = await withTimeout(proc.exited, grace, 'ssehub SIGTERM shutdown');
    } catch {
      try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
      info = await withTimeout(proc.exited, 5_000, 'ssehub SIGKILL');
      info.killed = true;
    }
    this.proc = null;
    return info;
  }

  /** Sends `signal` (SIGKILL: no shutdown at all) and waits for the exit. */
  async kill(signal = 'SIGKILL') {
    const proc = this.proc;
    if (!proc) return null;
    if (!proc.exitInfo) {
      try { process.kill(proc.pid, signal); } catch { /* gone */ }
    }
    const info = await withTimeout(proc.exited, 5_000, `ssehub ${signal}`);
    this.proc = null;
    return info;
  }

  /** Stops and starts again on the same port. */
  async restart() {
    await this.stop();
    await this.start();
    return this;
  }
}

// ---- publishing -----------------------------------------------------------------
const pubAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function request(url, { method = 'GET', headers = {}, body, agent = pubAgent } = {}, timeout = 10_000) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Encodes fields as a form; an array value repeats the field (topic). */
export function formBody(fields) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || v === null) continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
  }
  return q.toString();
}

/**
 * POST /publish, form-encoded. Resolves {status, headers, text, json}.
 * fresh: a new connection for this request alone (so that on a port shared
 * by several nodes the kernel picks the node each time); timeout in ms.
 */
export function publish(hub, fields, { fresh = false, timeout = 10_000 } = {}) {
  const body = formBody(fields);
  return request(hubBase(hub) + '/publish', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) },
    body,
    agent: fresh ? false : pubAgent,
  }, timeout);
}

/** POST /publish with a text/plain body (the data); other fields in the query. */
export function publishText(hub, data, query = {}) {
  const qs = formBody(query);
  const body = Buffer.from(data, 'utf8');
  return request(hubBase(hub) + '/publish' + (qs ? '?' + qs : ''), {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length },
    body,
  });
}

/** Publishes and asserts a 200; returns the parsed JSON answer. */
export async function publishOk(hub, fields) {
  const r = await publish(hub, fields);
  if (r.status !== 200) throw new Error(`publish ${JSON.stringify(fields).slice(0, 200)} -> ${r.status} ${r.text.trim()}`);
  return r.json ?? {};
}

export function get(url, headers = {}) { return request(url, { headers }); }

function hubBase(h) { return typeof h === 'string' ? h : h.base; }

// ---- Redis (for the cluster tests) ----------------------------------------------
export const REDIS_SERVER = process.env.REDIS_SERVER_BIN || 'redis-server';

/**
 * A redis-server of our own: a free loopback port, its own temporary
 * directory, no persistence (--save '' --appendonly no). Stopped by PID.
 */
export class RedisServer {
  constructor(args = []) {
    this.args = args;
    this.proc = null;
    this.log = '';
    this.dir = null;
  }
  get url() { return `redis://${HOST}:${this.port}/0`; }
  get pid() { return this.proc ? this.proc.pid : undefined; }
  logTail(n = 20) { return this.log.split('\n').slice(-n).join('\n'); }

  /** Starts redis-server; resolves once it is ready for connections. */
  async start() {
    this.port = await freePort();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssehub-redis-'));
    const argv = ['--port', String(this.port), '--bind', HOST, '--save', '', '--appendonly', 'no',
      '--dir', this.dir, '--daemonize', 'no', ...this.args];
    const proc = spawn(REDIS_SERVER, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
      livePids.delete(proc.pid);
      proc.exitInfo = { code, signal };
      resolve(proc.exitInfo);
    }));
    const ready = new Promise((resolve, reject) => {
      proc.on('error', (e) => reject(new Error(`${REDIS_SERVER}: ${e.message} (install redis-server: scripts/setup.sh)`)));
      for (const s of [proc.stdout, proc.stderr]) {
        s.setEncoding('utf8');
        s.on('data', (d) => {
          if (this.log.length < 100_000) this.log += d;
          if (/Ready to accept connections/.test(this.log)) resolve();
        });
      }
      proc.exited.then((i) => reject(new Error(`redis-server exited (${JSON.stringify(i)}) before it was ready:\n${this.logTail()}`)));
    });
    if (proc.pid) livePids.set(proc.pid, { group: false });
    try {
      await withTimeout(ready, 10_000, `redis-server start (${argv.join(' ')})`);
    } catch (e) {
      await this.stop();
      throw e;
    }
    return this;
  }

  /** Sends one command; resolves with the parsed reply (an error reply rejects). */
  command(...args) { return redisCommand(this.port, ...args); }

  async stop() {
    const proc = this.proc;
    if (proc && proc.pid && !proc.exitInfo) {
      try { process.kill(proc.pid, 'SIGTERM'); } catch { /* gone */ }
      try { await withTimeout(proc.exited, 5_000, 'redis-server SIGTERM'); } catch {
        try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
        await withTimeout(proc.exited, 5_000, 'redis-server SIGKILL');
      }
    }
    this.proc = null;
    if (this.dir) {
      fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
      this.dir = null;
    }
  }
}

/**
 * One Redis command over a fresh connection (RESP2: simple strings, errors,
 * integers, bulk strings and arrays). Bulk strings come back as strings.
 */
export function redisCommand(port, ...args) {
  const req = `*${args.length}\r\n` + args.map((a) => {
    const b = Buffer.from(String(a), 'utf8');
    return `$${b.length}\r\n${b.toString('utf8')}\r\n`;
  }).join('');
  // Parses one reply at buf[at]; returns [value, next] or null if incomplete.
  const parse = (buf, at) => {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return null;
    const type = String.fromCharCode(buf[at]);
    const line = buf.toString('utf8', at + 1, eol);
    const next = eol + 2;
    if (type === '+') return [line, next];
    if (type === '-') return [Object.assign(new Error(`redis: ${line}`), { redisError: true }), next];
    if (type === ':') return [Number(line), next];
    if (type === '$') {
      const n = Number(line);
      if (n < 0) return [null, next];
      if (buf.length < next + n + 2) return null;
      return [buf.toString('utf8', next, next + n), next + n + 2];
    }
    if (type === '*') {
      const n = Number(line);
      if (n < 0) return [null, next];
      const out = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const r = parse(buf, pos);
        if (!r) return null;
        out.push(r[0]);
        pos = r[1];
      }
      return [out, pos];
    }
    throw new Error(`redis: unexpected reply type ${JSON.stringify(type)}`);
  };
  return withTimeout(new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const s = net.connect(port, HOST, () => s.write(req));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      let r;
      try { r = parse(buf, 0); } catch (e) { s.destroy(); reject(e); return; }
      if (!r) return;
      s.destroy();
      if (r[0] instanceof Error && r[0].redisError) reject(r[0]); else resolve(r[0]);
    });
    s.on('error', reject);
  }), 10_000, `redis ${args[0]}`);
}

/**
 * How many established TCP connections process `pid` holds on local port
 * `port` (Linux: /proc/net/tcp{,6} and /proc/PID/fd). On a port shared by
 * several nodes (--reuse-port) this tells which node took which streams.
 */
export function streamsOf(pid, port) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let link;
    try { link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(m[1]);
  }
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try { text = fs.readFileSync(file, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const localPort = parseInt(f[1].split(':').pop(), 16);
      if (localPort === port && f[3] === '01' && inodes.has(f[9])) n += 1;
    }
  }
  return n;
}

// ---- TCP proxy that can cut every connection ---------------------------------
export class CutProxy {
  constructor(targetPort, targetHost = HOST) {
    this.targetPort = targetPort;
    this.targetHost = targetHost;
    this.pairs = new Set();
    this.accepted = 0;
    this.cuts = 0;
    this.server = net.createServer((client) => this.#accept(client));
  }
  get base() { return `http://${HOST}:${this.port}`; }
  url(p = '/sse') { return this.base + p; }
  get open() { return this.pairs.size; }

  listen(port = 0) {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, HOST, () => {
        this.port = this.server.address().port;
        resolve(this);
      });
    });
  }

  #accept(client) {
    this.accepted += 1;
    const upstream = net.connect(this.targetPort, this.targetHost);
    const pair = { client, upstream };
    this.pairs.add(pair);
    const done = () => {
      if (!this.pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /**
   * Cuts every open connection at once (both sides; RST by default, like a
   * dropped link) while the proxy keeps listening. Returns how many.
   */
  cutAll({ reset = true } = {}) {
    const n = this.pairs.size;
    this.cuts += 1;
    for (const pair of [...this.pairs]) {
      this.pairs.delete(pair);
      for (const s of [pair.client, pair.upstream]) {
        if (reset && typeof s.resetAndDestroy === 'function' && !s.destroyed && s.readyState !== 'opening') {
          try { s.resetAndDestroy(); continue; } catch { /* fall through */ }
        }
        s.destroy();
      }
    }
    return n;
  }

  close() {
    this.cutAll({ reset: false });
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

// ---- Node EventSource recorder --------------------------------------------
/**
 * Records everything an EventSource (the npm `eventsource` package) sees:
 * every event of the listed names plus `message` and `ssehub-missed`, with
 * data and lastEventId, and every open and error.
 */
export async function nodeClient(EventSource, url, { names = [], headers, sc } = {}) {
  const init = {};
  if (headers) {
    // eventsource 3.x takes a fetch wrapper; add our headers unless the
    // client already sets them (its own Last-Event-ID on reconnect wins).
    init.fetch = (input, opts = {}) => {
      const h = new Headers(opts.headers || {});
      for (const [k, v] of Object.entries(headers)) if (!h.has(k)) h.set(k, v);
      return fetch(input, { ...opts, headers: h });
    };
  }
  const es = new EventSource(url, init);
  const rec = {
    kind: 'node', es, events: [], opens: 0, errors: 0, openTimes: [], errorTimes: [],
    close() { es.close(); },
  };
  if (sc) sc.track(rec);
  es.addEventListener('open', () => { rec.opens += 1; rec.openTimes.push(Date.now()); });
  es.addEventListener('error', () => { rec.errors += 1; rec.errorTimes.push(Date.now()); });
  for (const type of new Set(['message', 'ssehub-missed', ...names])) {
    es.addEventListener(type, (e) => rec.events.push({ type: e.type, data: e.data, lastEventId: e.lastEventId }));
  }
  return rec;
}

// ---- headless Chromium (our own process, driven over CDP) --------------------
export class Browser {
  constructor() {
    this.proc = null;
    this.browser = null;
    this.userDataDir = null;
    this.stderr = '';
  }
  get pid() { return this.proc ? this.proc.pid : undefined; }

  async launch() {
    const { chromium } = await import('playwright-core');
    if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (run scripts/setup-clients.sh)`);
    this.userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssehub-chromium-'));
    const args = [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage', '--no-default-browser-check', '--mute-audio',
      '--disable-breakpad', '--disable-crash-reporter',
      `--user-data-dir=${this.userDataDir}`,
      '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0',
      'about:blank',
    ];
    // Own process group so that its helpers go with it at the end.
    const proc = spawn(CHROMIUM, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    this.proc = proc;
    livePids.set(proc.pid, { group: true });
    proc.exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
      livePids.delete(proc.pid);
      proc.exitInfo = { code, signal };
      resolve(proc.exitInfo);
    }));
    proc.stderr.setEncoding('utf8');
    const ws = new Promise((resolve, reject) => {
      proc.stderr.on('data', (d) => {
        if (this.stderr.length < 200_000) this.stderr += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(this.stderr);
        if (m) resolve(m[1]);
      });
      proc.on('error', reject);
      proc.exited.then((i) => reject(new Error(`chromium exited (${JSON.stringify(i)}) before DevTools came up:\n${this.stderr.slice(-2000)}`)));
    });
    try {
      const endpoint = await withTimeout(ws, 20_000, 'chromium start');
      this.browser = await withTimeout(chromium.connectOverCDP(endpoint), 15_000, 'CDP connect');
      this.context = this.browser.contexts()[0] || await this.browser.newContext();
    } catch (e) {
      await this.close();
      throw e;
    }
    return this;
  }

  async newPage() { return this.context.newPage(); }

  /**
   * A blank page on `origin` (so that an EventSource to it is same-origin and
   * needs no CORS): the navigation is answered by the test, not the server.
   * `body` is the page's body (markup, scripts), empty by default.
   */
  async blankPageOn(origin, { body = '' } = {}) {
    const page = await this.newPage();
    const url = origin.replace(/\/$/, '') + '/__ssehub_client_test_blank__';
    await page.route(url, (route) => route.fulfill({
      status: 200, contentType: 'text/html; charset=utf-8',
      body: `<!doctype html><meta charset="utf-8"><title>ssehub client test</title><body>${body}</body>`,
    }));
    await page.goto(url);
    await page.unroute(url);
    return page;
  }

  async close() {
    if (this.browser) {
      // Ask Chromium to quit (it then reaps its own helpers), then drop CDP.
      try {
        const cdp = await withTimeout(this.browser.newBrowserCDPSession(), 3_000, 'CDP session');
        await withTimeout(cdp.send('Browser.close').catch(() => {}), 3_000, 'Browser.close');
      } catch { /* signals below */ }
      try { await withTimeout(this.browser.close(), 5_000, 'CDP disconnect'); } catch { /* ignore */ }
      this.browser = null;
    }
    const proc = this.proc;
    if (proc && !proc.exitInfo) {
      try { process.kill(-proc.pid, 'SIGTERM'); } catch { /* gone */ }
      try { await withTimeout(proc.exited, 5_000, 'chromium SIGTERM'); } catch { /* next */ }
      try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
      if (!proc.exitInfo) { try { await withTimeout(proc.exited, 5_000, 'chromium SIGKILL'); } catch { /* ignore */ } }
    } else if (proc) {
      try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* helpers gone */ }
    }
    this.proc = null;
    if (this.userDataDir) {
      fs.rmSync(this.userDataDir, { recursive: true, force: true, maxRetries: 3 });
      this.userDataDir = null;
    }
  }
}

/**
 * An EventSource inside a Chromium page, recording like nodeClient does.
 * Read its state with await rec.snapshot().
 */
export async function pageClient(page, url, { names = [] } = {}) {
  await page.evaluate(({ url, names }) => {
    const rec = { events: [], opens: 0, errors: 0, openTimes: [], errorTimes: [] };
    const es = new EventSource(url);
    es.addEventListener('open', () => { rec.opens += 1; rec.openTimes.push(Date.now()); });
    es.addEventListener('error', () => { rec.errors += 1; rec.errorTimes.push(Date.now()); });
    for (const type of new Set(['message', 'ssehub-missed', ...names])) {
      es.addEventListener(type, (e) => rec.events.push({ type: e.type, data: e.data, lastEventId: e.lastEventId }));
    }
    window.__ssehubRec = rec;
    window.__ssehubEs = es;
  }, { url, names });
  const rec = {
    kind: 'chromium', page, events: [], opens: 0, errors: 0,
    async snapshot() {
      const s = await page.evaluate(() => ({ ...window.__ssehubRec, readyState: window.__ssehubEs.readyState }));
      Object.assign(rec, s);
      return rec;
    },
    async close() {
      try { await page.evaluate(() => window.__ssehubEs && window.__ssehubEs.close()); } catch { /* page gone */ }
    },
  };
  return rec;
}

/** Refreshes a recorder (a Chromium one needs a round trip). */
export async function refresh(rec) {
  if (rec.snapshot) await rec.snapshot();
  return rec;
}

/** Waits until rec has at least n recorded events of the given types. */
export async function waitEvents(rec, n, { types, timeout = 10_000, label = rec.kind } = {}) {
  const count = () => rec.events.filter((e) => !types || types.includes(e.type)).length;
  await waitFor(async () => { await refresh(rec); return count() >= n; }, {
    timeout, interval: rec.snapshot ? 50 : 10,
    what: `${label} to receive ${n} events${types ? ' of ' + types.join('/') : ''}`,
    detail: () => `got ${count()} (opens ${rec.opens}, errors ${rec.errors}); last: ${JSON.stringify(rec.events.slice(-3))}`,
  });
  return rec;
}

/** Waits until a client's EventSource has fired `open` at least n times. */
export async function waitOpen(rec, n = 1, { timeout = 10_000, label = rec.kind } = {}) {
  await waitFor(async () => { await refresh(rec); return rec.opens >= n; }, {
    timeout, interval: rec.snapshot ? 50 : 10, what: `${label} to open (${n})`,
    detail: () => `opens ${rec.opens}, errors ${rec.errors}`,
  });
  return rec;
}
