// (e) The demo page at / in Chromium: it connects, shows the connection
// state and logs published events; a screenshot is left in the temp dir.
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import {
  clientTest, get, publishOk, waitFor,
} from './harness.mjs';

const CONNECTED = /\b(connected|open)\b/i;
const NOT_CONNECTED = /\b(connecting|reconnecting|disconnected|closed|error)\b/i;

clientTest('demo page: shows the connection as open and logs events', async (t, sc) => {
  const hub = await sc.hub();
  const browser = await sc.browser();
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  const res = await page.goto(hub.base + '/', { timeout: 10_000 });
  assert.equal(res.status(), 200, 'GET / is not the demo page');
  assert.match(res.headers()['content-type'] || '', /^text\/html/);

  const bodyText = () => page.locator('body').innerText({ timeout: 2_000 });
  let seen = '';
  await waitFor(async () => {
    seen = await bodyText();
    return CONNECTED.test(seen) && !NOT_CONNECTED.test(seen);
  }, { timeout: 10_000, interval: 100, what: 'the page to show the connection as open', detail: () => seen.slice(0, 300) });

  const tag = `demo-${process.pid}-${Date.now()}`;
  const messages = [`${tag} first`, `${tag} second\nwith a second line`, `${tag} <img src=x onerror="window.__xss=1">`];
  const answers = [];
  for (const data of messages) answers.push(await publishOk(hub, { data }));
  assert.ok(answers.every((a) => a.clients >= 1), `the page is not subscribed: ${JSON.stringify(answers)}`);

  for (const data of messages) {
    const firstLine = data.split('\n')[0];
    await page.getByText(firstLine, { exact: false }).first().waitFor({ state: 'visible', timeout: 10_000 });
  }
  const text = await bodyText();
  assert.ok(text.includes('with a second line'), 'multi-line data is not in the log');
  assert.ok(text.includes('<img src=x onerror="window.__xss=1">'), 'markup in data is not shown as text');
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'event data was run as HTML');
  assert.ok(CONNECTED.test(text) && !NOT_CONNECTED.test(text), `connection state not shown as open: ${text.slice(0, 300)}`);

  const shot = path.join(os.tmpdir(), `ssehub-demo-page-${process.pid}.png`);
  await page.screenshot({ path: shot, fullPage: true, timeout: 10_000 });
  t.diagnostic(`demo page screenshot: ${shot}`);
  assert.deepEqual(pageErrors, [], 'the page threw');
});

clientTest('demo page: shows named events, the README\'s event=order among them', async (t, sc) => {
  const hub = await sc.hub();
  const browser = await sc.browser();
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  const bodyText = () => page.locator('body').innerText({ timeout: 2_000 });
  const subscribed = async (want) => {
    let seen = '';
    await waitFor(async () => {
      seen = await bodyText();
      return CONNECTED.test(seen) && !NOT_CONNECTED.test(seen) && seen.includes(want);
    }, { timeout: 10_000, interval: 100, what: 'the page to connect', detail: () => seen.slice(0, 300) });
  };

  // The README's example, from the page's own query string.
  await page.goto(hub.base + '/?events=order&topics=orders', { timeout: 10_000 });
  await subscribed('listening to: message, ssehub-missed, ssehub-overload, order');
  const events = await page.locator('#events').inputValue();
  assert.deepEqual(events.split(',').map((s) => s.trim()), ['message', 'ssehub-missed', 'ssehub-overload', 'order']);
  const tag = `order-${process.pid}-${Date.now()}`;
  const a = await publishOk(hub, { data: `${tag} paid`, event: 'order', topic: 'orders' });
  assert.ok(a.clients >= 1, 'the page is not subscribed');
  await page.getByText(`[order] id=${a.id}: ${tag} paid`).first().waitFor({ state: 'visible', timeout: 10_000 });

  // A name typed into the field, after Subscribe.
  await page.locator('#events').fill('message, custom-name');
  await page.locator('#sub button').click();
  await subscribed('listening to: message, custom-name');
  const b = await publishOk(hub, { data: `${tag} custom`, event: 'custom-name', topic: 'orders' });
  await page.getByText(`[custom-name] id=${b.id}: ${tag} custom`).first().waitFor({ state: 'visible', timeout: 10_000 });
  // Without the name in the field, the same event is not shown: the page
  // shows what it listens to, and only that (what an EventSource does).
  await page.locator('#events').fill('message');
  await page.locator('#sub button').click();
  await subscribed('listening to: message');
  await publishOk(hub, { data: `${tag} unheard`, event: 'custom-name', topic: 'orders' });
  await publishOk(hub, { data: `${tag} plain`, topic: 'orders' });
  await page.getByText(`${tag} plain`).first().waitFor({ state: 'visible', timeout: 10_000 });
  assert.ok(!(await bodyText()).includes(`${tag} unheard`), 'an event nobody listens to was shown');
  assert.deepEqual(pageErrors, [], 'the page threw');
});

clientTest('demo page: --no-demo-page answers 404 at /', async (t, sc) => {
  const hub = await sc.hub(['--no-demo-page']);
  const r = await get(hub.base + '/');
  assert.equal(r.status, 404);
});
