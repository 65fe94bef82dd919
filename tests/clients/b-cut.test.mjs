// (b) Network cuts while publishing: two `eventsource` clients and an
// EventSource in Chromium, all through the cutting proxy, must each end
// with every event exactly once, in order, having reconnected by
// themselves (Last-Event-ID resume), and without an `ssehub-missed` event.
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import {
  clientTest, nodeClient, pageClient, publishOk, refresh, sleep, waitFor, waitOpen,
} from './harness.mjs';

const TOTAL = 200;
const INTERVAL_MS = 10;
const CUT_AFTER = [50, 100, 150]; // cut every connection after these publishes

clientTest(`cuts while publishing: ${TOTAL} events reach every client once, in order`, async (t, sc) => {
  const hub = await sc.hub(['--retry', '200']);
  const proxy = await sc.proxy(hub.port);
  const browser = await sc.browser();
  const page = await browser.blankPageOn(proxy.base);

  const clients = [
    await nodeClient(EventSource, proxy.url(), { sc }),
    await nodeClient(EventSource, proxy.url(), { sc }),
    await pageClient(page, proxy.url()),
  ];
  const label = (i) => (clients[i].kind === 'chromium' ? 'chromium' : `node-${i + 1}`);
  for (const [i, c] of clients.entries()) await waitOpen(c, 1, { label: label(i) });
  await waitFor(() => proxy.open === clients.length, { what: 'all clients connected through the proxy' });

  const expected = [];
  const ids = [];
  const cutCounts = [];
  const cutAt = [];
  const start = Date.now();
  for (let i = 0; i < TOTAL; i++) {
    const data = `ev-${String(i).padStart(3, '0')}`;
    const a = await publishOk(hub, { data });
    expected.push(data);
    ids.push(a.id);
    // Cut at the planned points, each time once every client is connected
    // again (with retry: 200 that is well before the next point).
    if (cutCounts.length < CUT_AFTER.length && i + 1 >= CUT_AFTER[cutCounts.length]
        && proxy.open === clients.length) {
      cutCounts.push(proxy.cutAll());
      cutAt.push(i + 1);
    }
    const next = start + (i + 1) * INTERVAL_MS;
    if (next > Date.now()) await sleep(next - Date.now());
  }
  t.diagnostic(`published ${TOTAL} in ${Date.now() - start} ms; cuts after events ${cutAt.join(', ')}, cutting ${cutCounts.join(', ')} connections`);

  const last = expected[expected.length - 1];
  for (const [i, c] of clients.entries()) {
    await waitFor(async () => { await refresh(c); return c.events.some((e) => e.data === last); }, {
      timeout: 10_000, interval: 50, what: `${label(i)} to receive the last event`,
      detail: () => `has ${c.events.length} events, opens ${c.opens}, errors ${c.errors}; last: ${JSON.stringify(c.events.slice(-2))}`,
    });
  }
  await sleep(300); // a late duplicate would show up here
  for (const c of clients) await refresh(c);

  for (const [i, c] of clients.entries()) {
    const who = label(i);
    t.diagnostic(`${who}: ${c.events.length} events, ${c.opens} opens, ${c.errors} errors`);
    const missed = c.events.filter((e) => e.type === 'ssehub-missed');
    assert.deepEqual(missed, [], `${who} was told it missed events`);
    const got = c.events.map((e) => e.data);
    const dups = got.filter((d, k) => got.indexOf(d) !== k);
    const lost = expected.filter((d) => !got.includes(d));
    assert.deepEqual({ dups, lost }, { dups: [], lost: [] }, `${who}: duplicates or losses`);
    assert.deepEqual(got, expected, `${who}: events out of order`);
    assert.equal(c.events[c.events.length - 1].lastEventId, ids[ids.length - 1], `${who}: last id`);
  }
  // With retry: 200 every client is back well before the next planned cut.
  assert.deepEqual(cutCounts, CUT_AFTER.map(() => clients.length),
    `every planned cut should find all ${clients.length} clients reconnected (cuts after ${cutAt.join(', ')})`);
  for (const [i, c] of clients.entries()) {
    assert.ok(c.opens > CUT_AFTER.length, `${label(i)} reconnected too few times (opens ${c.opens})`);
  }
}, { timeout: 45_000 });
