// (c) The whole hub restarts (SIGTERM, then a new process on the same
// port): an `eventsource` client and an EventSource in Chromium reconnect
// by themselves, are told with `ssehub-missed` (reason "restart") that
// their last id is from an earlier run, and then get the new events.
import assert from 'node:assert/strict';
import http from 'node:http';
import { EventSource } from 'eventsource';
import {
  clientTest, nodeClient, pageClient, publishOk, refresh, sleep, waitEvents, waitFor, waitOpen,
} from './harness.mjs';

clientTest('restart: clients reconnect, get ssehub-missed "restart", then new events', async (t, sc) => {
  const hub = await sc.hub(['--retry', '200']);
  const browser = await sc.browser();
  const page = await browser.blankPageOn(hub.base);
  const clients = [
    await nodeClient(EventSource, hub.url(), { sc }),
    await pageClient(page, hub.url()),
  ];
  for (const c of clients) await waitOpen(c);

  const before = [];
  for (let i = 1; i <= 5; i++) before.push({ data: `before-${i}`, ...(await publishOk(hub, { data: `before-${i}` })) });
  for (const c of clients) await waitEvents(c, 5);
  const lastOld = before[4].id;

  const port = hub.port;
  const stopped = await hub.stop();
  assert.ok(!stopped.killed, 'ssehub did not stop on SIGTERM');
  await hub.start();
  assert.equal(hub.port, port);

  for (const c of clients) {
    await waitEvents(c, 1, { types: ['ssehub-missed'], timeout: 10_000 });
  }
  const after = [];
  for (let i = 1; i <= 3; i++) after.push({ data: `after-${i}`, ...(await publishOk(hub, { data: `after-${i}` })) });
  for (const c of clients) await waitEvents(c, 5 + 1 + 3);
  await sleep(200); // nothing more may come
  for (const c of clients) await refresh(c);

  for (const c of clients) {
    t.diagnostic(`${c.kind}: ${c.events.length} events, ${c.opens} opens, ${c.errors} errors`);
    assert.ok(c.opens >= 2, `${c.kind} did not reconnect by itself`);
    const types = c.events.map((e) => e.type);
    assert.deepEqual(types, ['message', 'message', 'message', 'message', 'message', 'ssehub-missed',
      'message', 'message', 'message'], `${c.kind}: event sequence`);
    const missed = c.events[5];
    let info;
    assert.doesNotThrow(() => { info = JSON.parse(missed.data); }, `${c.kind}: ssehub-missed data is not JSON: ${missed.data}`);
    assert.equal(info.reason, 'restart', `${c.kind}: ssehub-missed reason`);
    assert.equal(info.lastEventId, lastOld, `${c.kind}: ssehub-missed lastEventId`);
    // The event has no id: line, so a browser's last event id is unchanged
    // (eventsource 3.x sets MessageEvent.lastEventId to the event's own id
    // field, '' here, though it keeps the old id for its next reconnect).
    if (c.kind === 'chromium') assert.equal(missed.lastEventId, lastOld, `${c.kind}: ssehub-missed lastEventId`);
    assert.deepEqual(c.events.map((e) => e.data).filter((d, k) => k !== 5),
      [...before, ...after].map((e) => e.data), `${c.kind}: data`);
    assert.deepEqual(c.events.slice(6).map((e) => e.lastEventId), after.map((e) => e.id), `${c.kind}: new ids`);
  }
  // On the wire: the ssehub-missed frame comes first and has no id: line.
  const raw = await rawFirstFrames(hub.url(), { 'Last-Event-ID': lastOld });
  const frames = raw.split('\n\n');
  const missedFrame = frames.find((f) => /^event: ?ssehub-missed$/m.test(f));
  assert.ok(missedFrame, `no ssehub-missed frame in ${JSON.stringify(raw)}`);
  assert.doesNotMatch(missedFrame, /^id:/m, 'the ssehub-missed frame has an id: line');
  assert.ok(frames.indexOf(missedFrame) <= frames.findIndex((f) => /^data:/m.test(f)),
    'ssehub-missed is not the first event');

  // The new run's ids sort after the old run's.
  const epoch = (id) => Number(String(id).split('-')[0]);
  assert.ok(epoch(after[0].id) > epoch(lastOld), `new epoch ${after[0].id} not after old ${lastOld}`);
}, { timeout: 45_000 });

/** The first ~1 s (or 64 KiB) of a raw /sse response body. */
function rawFirstFrames(url, headers, ms = 1_000) {
  return new Promise((resolve, reject) => {
    let text = '';
    const req = http.get(url, { headers, agent: false }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; if (text.length > 65536) req.destroy(); });
      res.on('close', () => resolve(text));
    });
    req.on('error', (e) => (text ? resolve(text) : reject(e)));
    setTimeout(() => req.destroy(), ms);
  });
}
