// (d) Topics isolate subscribers, live and in Last-Event-ID replay.
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import {
  clientTest, nodeClient, publishOk, sleep, waitFor, waitOpen,
} from './harness.mjs';

// Who publishes what, and who must get it.
const PUBLISHES = [
  { data: 'to-a', topic: ['a'] },
  { data: 'to-b', topic: ['b'] },
  { data: 'to-a-and-b', topic: ['a', 'b'] },
  { data: 'to-everyone' },
  { data: 'to-c', topic: ['c'] },
  { data: 'end' },
];
const SUBSCRIBERS = {
  'topic=a': ['to-a', 'to-a-and-b', 'to-everyone', 'end'],
  'topic=b': ['to-b', 'to-a-and-b', 'to-everyone', 'end'],
  'topic=a&topic=b': ['to-a', 'to-b', 'to-a-and-b', 'to-everyone', 'end'],
  '': ['to-everyone', 'end'],
  'topic=*': ['to-a', 'to-b', 'to-a-and-b', 'to-everyone', 'to-c', 'end'],
};

async function publishAll(hub) {
  const ids = {};
  for (const p of PUBLISHES) ids[p.data] = (await publishOk(hub, p)).id;
  return ids;
}

clientTest('topics: each subscriber gets exactly its topics plus untopiced events', async (t, sc) => {
  const hub = await sc.hub();
  const clients = {};
  for (const q of Object.keys(SUBSCRIBERS)) {
    clients[q] = await nodeClient(EventSource, hub.url('/sse' + (q ? '?' + q : '')), { sc });
  }
  for (const c of Object.values(clients)) await waitOpen(c);
  const ids = await publishAll(hub);
  for (const [q, c] of Object.entries(clients)) {
    await waitForData(c, 'end', `?${q}`);
  }
  await sleep(100);
  for (const [q, want] of Object.entries(SUBSCRIBERS)) {
    const c = clients[q];
    assert.deepEqual(c.events.map((e) => e.data), want, `subscriber ?${q}`);
    assert.deepEqual(c.events.map((e) => e.lastEventId), want.map((d) => ids[d]), `ids for ?${q}`);
    assert.equal(c.opens, 1);
  }
});

clientTest('topics: Last-Event-ID replay only holds the subscribed topics', async (t, sc) => {
  const hub = await sc.hub();
  const ids = await publishAll(hub);
  const from = ids['to-a']; // replay everything after the first publish

  const header = await nodeClient(EventSource, hub.url('/sse?topic=a'), { sc, headers: { 'Last-Event-ID': from } });
  const query = await nodeClient(EventSource, hub.url(`/sse?topic=b&lastEventId=${encodeURIComponent(from)}`), { sc });
  const both = await nodeClient(EventSource, hub.url('/sse?topic=a&topic=b'), { sc, headers: { 'Last-Event-ID': from } });
  const none = await nodeClient(EventSource, hub.url('/sse'), { sc, headers: { 'Last-Event-ID': from } });
  const cases = [
    [header, 'topic=a, Last-Event-ID header', ['to-a-and-b', 'to-everyone', 'end']],
    [query, 'topic=b, lastEventId query', ['to-b', 'to-a-and-b', 'to-everyone', 'end']],
    [both, 'topic=a&topic=b, header', ['to-b', 'to-a-and-b', 'to-everyone', 'end']],
    [none, 'no topic, header', ['to-everyone', 'end']],
  ];
  for (const [c, label] of cases) await waitForData(c, 'end', label);
  // A live event after the replay, to each exactly once.
  const live = await publishOk(hub, { data: 'live-a', topic: 'a' });
  await waitForData(header, 'live-a', 'topic=a live');
  await waitForData(both, 'live-a', 'a&b live');
  await publishOk(hub, { data: 'end2' });
  for (const [c, label] of cases) await waitForData(c, 'end2', label);
  await sleep(100);

  for (const [c, label, want] of cases) {
    const types = c.events.map((e) => e.type);
    assert.ok(!types.includes('ssehub-missed'), `${label}: unexpected ssehub-missed ${JSON.stringify(c.events)}`);
    const withLive = label.startsWith('topic=a') ? [...want, 'live-a', 'end2'] : [...want, 'end2'];
    assert.deepEqual(c.events.map((e) => e.data), withLive, label);
    assert.deepEqual(c.events.slice(0, want.length).map((e) => e.lastEventId), want.map((d) => ids[d]), `${label}: ids`);
  }
  assert.ok(live.id);
});

async function waitForData(c, data, label) {
  await waitFor(() => c.events.some((e) => e.data === data), {
    timeout: 10_000, what: `${label} to receive "${data}"`,
    detail: () => `opens ${c.opens}, errors ${c.errors}, events ${JSON.stringify(c.events.map((e) => e.data))}`,
  });
}
