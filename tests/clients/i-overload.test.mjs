// (i) A plain EventSource rides out a full server (--when-full=retry, the
// default): a page with nothing but `new EventSource('/sse')` and an
// `onmessage` that records data loses its connection (a cut link) while
// the server is at --max-clients, is refused while full (200, a jittered
// retry:, one ssehub-overload event, end), reconnects by itself, gets in
// once a slot frees, and through Last-Event-ID replay ends up with every
// event published since it first connected: none lost across the
// refusal. With --when-full=429 the same page gives up for good.
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  clientTest, publishOk, sleep, waitFor,
} from './harness.mjs';

/** Takes a slot with a plain HTTP stream; close() closes its socket. */
function holdSlot(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const close = () => req.destroy();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
        // Admitted streams start with ":ok"; an overload answer does not.
        if (text.startsWith(':ok')) resolve({ close });
        else if (text.includes('ssehub-overload')) { close(); reject(new Error(`the slot holder was refused: ${text}`)); }
      });
      if (res.statusCode !== 200) { close(); reject(new Error(`the slot holder got ${res.statusCode}`)); }
    });
    req.on('error', reject);
  });
}

// The whole page: an EventSource and an onmessage that records data.
const PAGE = `<script>
window.got = [];
const es = new EventSource('/sse');
es.onmessage = (e) => { window.got.push(e.data); };
</script>`;

async function stat(hub, name) {
  const r = await fetch(`${hub.base}/stats`);
  return (await r.json())[name];
}

clientTest('when full: a plain EventSource is refused, comes back by itself, and misses no event', async (t, sc) => {
  // retry 2000: the page waits 2 s after its link is cut, time for another
  // client to take its slot; refusals then say retry-after 1 s +-50 %.
  const hub = await sc.hub(['--max-clients', '2', '--retry', '2000', '--retry-after', '1',
    '--heartbeat', '0', '--history', '1000']);
  const proxy = await sc.proxy(hub.port);
  const holderA = sc.track(await holdSlot(hub.url()));

  const browser = await sc.browser();
  const page = await browser.blankPageOn(proxy.base, { body: PAGE });
  const got = () => page.evaluate(() => window.got.slice());
  const readyState = () => page.evaluate(() => es.readyState); // eslint-disable-line no-undef
  await waitFor(async () => (await stat(hub, 'clients')) === 2, { what: 'the page to connect' });

  // Numbered events, one every 50 ms, throughout.
  let n = 0;
  let publishing = true;
  const publisher = (async () => {
    while (publishing) {
      n += 1;
      await publishOk(hub, { data: `n${n}` });
      await sleep(50);
    }
  })();
  await waitFor(async () => (await got()).length >= 5, { what: 'the page to receive events' });

  // The link drops; the server frees the page's slot and another client
  // takes it before the page comes back.
  proxy.cutAll();
  await waitFor(async () => (await stat(hub, 'clients')) === 1, { what: 'the server to free the cut stream' });
  const holderB = sc.track(await holdSlot(hub.url()));
  const before = (await got()).length;

  // The page is refused while full, at least twice, and stays in
  // CONNECTING (0), not CLOSED (2): it keeps trying on its own.
  await waitFor(async () => (await stat(hub, 'overload_full')) >= 2, {
    timeout: 15_000, what: 'the page to be refused (overload_full >= 2)',
  });
  assert.equal(await readyState(), 0, 'the refused EventSource is not reconnecting');
  assert.equal(await stat(hub, 'clients'), 2);
  assert.equal(await stat(hub, 'rejected_full'), 0, 'a 429 was sent in retry mode');
  t.diagnostic(`refused ${await stat(hub, 'overload_full')} times; page had ${before} events, ${n} published`);

  // A slot frees: the page gets in by itself.
  holderB.close();
  const freedAt = Date.now();
  await waitFor(async () => (await stat(hub, 'clients')) === 2 && (await got()).length > before, {
    timeout: 15_000, what: 'the page to get in by itself',
  });
  t.diagnostic(`in ${Date.now() - freedAt} ms after the slot was freed`);
  await sleep(300);
  publishing = false;
  await publisher;

  // Every event since its first connection, once, in order.
  const want = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  await waitFor(async () => (await got()).length >= n, {
    timeout: 10_000, what: `the page to have all ${n} events`,
    detail: () => `published ${n}`,
  });
  await sleep(200);
  assert.deepEqual(await got(), want, 'events lost, repeated or out of order across the refusal');
  assert.ok(await stat(hub, 'resumes') >= 1, 'the page did not resume with Last-Event-ID');
  holderA.close();
}, { timeout: 60_000 });

clientTest('when full with --when-full=429: the same page gives up for good (why retry is the default)', async (t, sc) => {
  const hub = await sc.hub(['--max-clients', '1', '--heartbeat', '0', '--when-full=429']);
  const holder = sc.track(await holdSlot(hub.url()));
  const browser = await sc.browser();
  const page = await browser.blankPageOn(hub.base, { body: PAGE });
  await waitFor(async () => (await stat(hub, 'rejected_full')) >= 1, { what: 'the 429' });
  await waitFor(() => page.evaluate(() => es.readyState === 2), { what: 'the EventSource to close' }); // eslint-disable-line no-undef
  holder.close();
  await waitFor(async () => (await stat(hub, 'clients')) === 0, { what: 'the slot to free' });
  await sleep(2500);
  assert.equal(await stat(hub, 'clients'), 0, 'a page refused with 429 came back');
  assert.equal(await stat(hub, 'rejected_full'), 1);
});
