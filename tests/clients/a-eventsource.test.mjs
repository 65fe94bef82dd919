// (a) The npm `eventsource` client, through the cutting proxy: named
// events, multi-line data, lastEventId = the id the hub assigned, and the
// server's retry: time honoured on reconnect.
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import {
  clientTest, nodeClient, publishOk, waitEvents, waitFor, waitOpen,
} from './harness.mjs';

const ID_RE = /^(\d+)-(\d+)$/;

clientTest('eventsource: named events and multi-line data', async (t, sc) => {
  const hub = await sc.hub();
  const proxy = await sc.proxy(hub.port);
  const c = await nodeClient(EventSource, proxy.url(), { names: ['greeting', 'end'], sc });
  await waitOpen(c);

  await publishOk(hub, { event: 'greeting', data: 'hello' });
  await publishOk(hub, { data: 'line1\nline2\r\nline3\rline4' });
  await publishOk(hub, { event: 'greeting', data: 'two\nlines' });
  await publishOk(hub, { data: 'plain' });
  await publishOk(hub, { event: 'other-name', data: 'not listened to' });
  await publishOk(hub, { event: 'end', data: 'end' });
  await waitEvents(c, 1, { types: ['end'] });

  assert.deepEqual(c.events.map((e) => [e.type, e.data]), [
    ['greeting', 'hello'],
    ['message', 'line1\nline2\nline3\nline4'],
    ['greeting', 'two\nlines'],
    ['message', 'plain'],
    ['end', 'end'],
  ]);
  assert.equal(c.opens, 1);
  assert.equal(c.errors, 0);
});

clientTest('eventsource: lastEventId is the id the hub assigned', async (t, sc) => {
  const hub = await sc.hub();
  const proxy = await sc.proxy(hub.port);
  const c = await nodeClient(EventSource, proxy.url(), { names: ['named'], sc });
  await waitOpen(c);

  const before = Date.now();
  const answers = [];
  answers.push(await publishOk(hub, { data: 'first' }));
  answers.push(await publishOk(hub, { event: 'named', data: 'second' }));
  answers.push(await publishOk(hub, { data: 'third\nmulti' }));
  for (const a of answers) {
    assert.match(String(a.id), ID_RE, `publish answer ${JSON.stringify(a)} has no <epoch>-<seq> id`);
  }
  const [epoch, seq0] = ID_RE.exec(answers[0].id).slice(1).map(Number);
  assert.ok(epoch <= before && epoch > before - 10 * 60_000, `epoch ${epoch} is not the hub's start time`);
  answers.forEach((a, i) => {
    const [e, s] = ID_RE.exec(a.id).slice(1).map(Number);
    assert.equal(e, epoch, 'epoch changed within one run');
    assert.equal(s, seq0 + i, 'seq does not count up by one');
    assert.equal(a.seq, s, 'answer seq differs from the id');
  });
  // A publisher-chosen id is sent as is.
  const custom = await publishOk(hub, { data: 'custom', id: 'order-17/a b' });
  assert.equal(custom.id, 'order-17/a b');

  await waitEvents(c, 4);
  assert.deepEqual(c.events.map((e) => [e.type, e.data, e.lastEventId]), [
    ['message', 'first', answers[0].id],
    ['named', 'second', answers[1].id],
    ['message', 'third\nmulti', answers[2].id],
    ['message', 'custom', 'order-17/a b'],
  ]);
});

clientTest('eventsource: --retry sets the reconnection delay', async (t, sc) => {
  const hub = await sc.hub(['--retry', '200']);
  const proxy = await sc.proxy(hub.port);
  const c = await nodeClient(EventSource, proxy.url(), { sc });
  await waitOpen(c);

  const delays = [];
  for (let cut = 1; cut <= 3; cut++) {
    await waitFor(() => proxy.open >= 1, { what: 'the client to be connected through the proxy' });
    const cutAt = Date.now();
    assert.equal(proxy.cutAll(), 1);
    // The default delay is 3000 ms; with retry: 200 it must be far shorter.
    await waitOpen(c, cut + 1, { timeout: 2_500 });
    delays.push(c.openTimes[cut] - cutAt);
    await publishOk(hub, { data: `after cut ${cut}` });
    await waitEvents(c, cut);
  }
  t.diagnostic(`reconnect delays after cuts: ${delays.join(', ')} ms`);
  for (const d of delays) assert.ok(d >= 150 && d < 1500, `reconnected after ${d} ms; expected about 200`);
  assert.deepEqual(c.events.map((e) => e.data), ['after cut 1', 'after cut 2', 'after cut 3']);
  assert.equal(c.opens, 4);
});

clientTest('eventsource: a publish-time retry field changes the delay', async (t, sc) => {
  const hub = await sc.hub(['--retry', '5000']);
  const proxy = await sc.proxy(hub.port);
  const c = await nodeClient(EventSource, proxy.url(), { sc });
  await waitOpen(c);
  await publishOk(hub, { data: 'faster now', retry: '250' });
  await waitEvents(c, 1);
  const cutAt = Date.now();
  assert.equal(proxy.cutAll(), 1);
  await waitOpen(c, 2, { timeout: 3_000 });
  const d = c.openTimes[1] - cutAt;
  t.diagnostic(`reconnect delay: ${d} ms`);
  assert.ok(d >= 200 && d < 1500, `reconnected after ${d} ms; expected about 250`);
});
