// The harness itself, using only what every ssehub version has (data and
// event fields, /sse, POST /publish): start/stop/restart on one port, the
// cutting proxy, publishing, Chromium.
import assert from 'node:assert/strict';
import http from 'node:http';
import test from 'node:test';
import {
  TEST_TIMEOUT, clientTest, formBody, pageClient, publishOk, waitEvents, waitFor, waitOpen,
} from './harness.mjs';

/** A raw subscription: collects the body text; .close() ends it. */
function rawSubscribe(url) {
  const sub = { text: '', status: 0, ended: false, error: null };
  sub.ready = new Promise((resolve, reject) => {
    sub.req = http.get(url, { agent: false }, (res) => {
      sub.status = res.statusCode;
      res.setEncoding('utf8');
      res.on('data', (d) => { sub.text += d; });
      res.on('end', () => { sub.ended = true; });
      res.on('error', (e) => { sub.error = e; sub.ended = true; });
      res.on('close', () => { sub.ended = true; });
      resolve(sub);
    });
    sub.req.on('error', (e) => { sub.error = e; sub.ended = true; reject(e); });
  });
  sub.close = () => sub.req.destroy();
  return sub;
}

test('formBody repeats array fields', { timeout: TEST_TIMEOUT }, () => {
  assert.equal(formBody({ data: 'a b\n', topic: ['a', 'b'] }), 'data=a+b%0A&topic=a&topic=b');
});

clientTest('hub starts, stops by PID and restarts on the same port', async (t, sc) => {
  const hub = await sc.hub();
  const port = hub.port;
  const pid1 = hub.pid;
  assert.ok(pid1 > 0);
  const sub = sc.track(rawSubscribe(hub.url()));
  await sub.ready;
  assert.equal(sub.status, 200);
  await waitFor(() => sub.text.startsWith(':ok'), { what: 'the :ok frame', timeout: 5_000 });

  const info = await hub.stop();
  assert.equal(info.killed, undefined, 'ssehub needed SIGKILL to stop');
  await waitFor(() => sub.ended, { what: 'the stream to end when the hub stops', timeout: 5_000 });

  await hub.start();
  assert.equal(hub.port, port);
  assert.notEqual(hub.pid, pid1);
  const sub2 = sc.track(rawSubscribe(hub.url()));
  await sub2.ready;
  await waitFor(() => sub2.text.startsWith(':ok'), { what: 'the :ok frame after restart', timeout: 5_000 });
  await publishOk(hub, { event: 'hello', data: 'after restart' });
  await waitFor(() => sub2.text.includes('data: after restart\n'), { what: 'the event after restart', timeout: 5_000 });
});

clientTest('proxy relays, cuts every connection and keeps listening', async (t, sc) => {
  const hub = await sc.hub();
  const proxy = await sc.proxy(hub.port);
  const subs = [rawSubscribe(proxy.url()), rawSubscribe(proxy.url())].map((s) => sc.track(s));
  await Promise.all(subs.map((s) => s.ready));
  await waitFor(() => subs.every((s) => s.text.startsWith(':ok')), { what: ':ok through the proxy' });
  assert.equal(proxy.open, 2);

  await publishOk(hub, { data: 'one' });
  await waitFor(() => subs.every((s) => s.text.includes('data: one\n')), { what: 'event through the proxy' });

  assert.equal(proxy.cutAll(), 2);
  await waitFor(() => subs.every((s) => s.ended), { what: 'cut streams to end', timeout: 5_000 });
  assert.equal(proxy.open, 0);

  const again = sc.track(rawSubscribe(proxy.url()));
  await again.ready;
  await waitFor(() => again.text.startsWith(':ok'), { what: ':ok through the proxy after a cut' });
  await publishOk(hub, { data: 'two' });
  await waitFor(() => again.text.includes('data: two\n'), { what: 'event after the cut' });
  assert.ok(!subs[0].text.includes('data: two'), 'a cut stream got data after the cut');
  assert.equal(proxy.accepted, 3);
});

clientTest('Chromium starts and an EventSource in a page receives events', async (t, sc) => {
  const hub = await sc.hub();
  const browser = await sc.browser();
  assert.ok(browser.pid > 0);
  const page = await browser.blankPageOn(hub.base);
  const rec = await pageClient(page, hub.url(), { names: ['greeting'] });
  await waitOpen(rec);
  await publishOk(hub, { event: 'greeting', data: 'hi\nthere' });
  await publishOk(hub, { data: 'plain' });
  await waitEvents(rec, 2);
  assert.deepEqual(rec.events.map((e) => [e.type, e.data]), [['greeting', 'hi\nthere'], ['message', 'plain']]);
});
