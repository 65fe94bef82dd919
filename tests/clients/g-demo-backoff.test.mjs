// (g) The demo page when the server is full: a browser's EventSource gives
// up for good on a 429, so the page must notice, say so, and retry by
// itself with jittered backoff until a slot frees up.
import http from 'node:http';
import { clientTest, publishOk, waitFor } from './harness.mjs';

/**
 * Takes a slot with a plain HTTP stream; close() closes its socket at once.
 * (Not the eventsource package: its close() aborts a fetch, and the fetch of
 * Debian 12's Node 18 (undici 5.15) loses that abort once its Request has
 * been garbage-collected, which leaves the socket, and the slot, taken.)
 */
function holdSlot(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const close = () => req.destroy();
      if (res.statusCode !== 200) {
        close();
        reject(new Error(`the slot holder got ${res.statusCode}`));
        return;
      }
      res.resume();
      resolve({ close });
    });
    req.on('error', reject);
  });
}

clientTest('demo page: after a 429 it retries with backoff and connects once a slot is free', async (t, sc) => {
  // --when-full=429: the page's own backoff is for servers that answer a
  // full house with 429 (with the default, retry, EventSource rides it
  // out by itself: i-overload.test.mjs).
  const hub = await sc.hub(['--max-clients', '1', '--heartbeat', '0', '--when-full=429']);
  // Take the only slot.
  const holder = sc.track(await holdSlot(hub.url()));

  const browser = await sc.browser();
  const page = await browser.newPage();
  const state = () => page.locator('#state').innerText({ timeout: 2_000 });
  const info = () => page.locator('#info').innerText({ timeout: 2_000 });
  await page.goto(hub.base + '/', { timeout: 10_000 });

  // Refused: the page shows it is closed and why, and plans a retry.
  let seen = '';
  await waitFor(async () => {
    seen = `${await state()} | ${await info()}`;
    return /closed/.test(seen) && /429/.test(seen) && /retrying in/.test(seen);
  }, { timeout: 10_000, interval: 100, what: 'the page to report the 429 and a retry', detail: () => seen });
  t.diagnostic(`while full: ${seen}`);

  // Free the slot: the page gets in by itself within its backoff.
  holder.close();
  const freedAt = Date.now();
  await waitFor(async () => {
    seen = `${await state()} | ${await info()}`;
    return seen.startsWith('open |');
  }, { timeout: 20_000, interval: 100, what: 'the page to reconnect by itself', detail: () => seen });
  t.diagnostic(`connected ${Date.now() - freedAt} ms after the slot was freed`);

  // And it receives events.
  const tag = `backoff-${process.pid}-${Date.now()}`;
  await publishOk(hub, { data: tag });
  await page.getByText(tag, { exact: false }).first().waitFor({ state: 'visible', timeout: 10_000 });
});
