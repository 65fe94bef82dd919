// (f) The bytes on the wire, read by an independent parser
// (eventsource-parser) from a raw HTTP response: tricky data survives,
// line breaks are normalised to LF, ids match the publish answers.
import assert from 'node:assert/strict';
import http from 'node:http';
import { createParser } from 'eventsource-parser';
import {
  clientTest, publish, publishOk, publishText, sleep, waitFor,
} from './harness.mjs';

const MAX = 65536;

/** A raw /sse response fed into eventsource-parser. */
function rawSubscribe(url, headers = {}) {
  const sub = { raw: '', events: [], retries: [], comments: [], errors: [], status: 0, headers: null, order: [] };
  const parser = createParser({
    onEvent: (e) => { sub.events.push(e); sub.order.push('event'); },
    onRetry: (ms) => { sub.retries.push(ms); sub.order.push(`retry:${ms}`); },
    onComment: (c) => { sub.comments.push(c); sub.order.push(`comment:${c}`); },
    onError: (err) => sub.errors.push(err),
  });
  sub.ready = new Promise((resolve, reject) => {
    sub.req = http.get(url, { headers, agent: false }, (res) => {
      sub.status = res.statusCode;
      sub.headers = res.headers;
      res.setEncoding('utf8'); // a StringDecoder: multi-byte characters split across chunks are kept whole
      res.on('data', (d) => { sub.raw += d; parser.feed(d); });
      resolve(sub);
    });
    sub.req.on('error', reject);
  });
  sub.close = () => sub.req.destroy();
  return sub;
}

const normalise = (s) => s.replace(/\r\n|\r/g, '\n');

function bigData() {
  const line = '0123456789'.repeat(10) + '\n';
  let s = line.repeat(Math.floor(MAX / line.length));
  s += 'y'.repeat(MAX - Buffer.byteLength(s));
  assert.equal(Buffer.byteLength(s), MAX);
  return s;
}

clientTest('bytes: first frame, headers and retry', async (t, sc) => {
  const hub = await sc.hub(['--retry', '1234']);
  const sub = sc.track(rawSubscribe(hub.url()));
  await sub.ready;
  assert.equal(sub.status, 200);
  assert.match(sub.headers['content-type'], /^text\/event-stream; ?charset=utf-8$/i);
  assert.equal(sub.headers['cache-control'], 'no-cache');
  assert.equal(sub.headers['x-accel-buffering'], 'no');
  await waitFor(() => sub.raw.includes('\n\n'), { what: 'the first frame', timeout: 5_000, detail: () => JSON.stringify(sub.raw) });
  assert.equal(sub.raw.slice(0, sub.raw.indexOf('\n\n') + 2), ':ok\nretry: 1234\n\n');
  assert.deepEqual(sub.order, ['comment:ok', 'retry:1234']);
});

clientTest('bytes: tricky data reaches eventsource-parser intact, with the hub\'s ids', async (t, sc) => {
  const hub = await sc.hub(['--max-event-size', String(MAX)]);
  const sub = sc.track(rawSubscribe(hub.url()));
  await sub.ready;
  await waitFor(() => sub.raw.startsWith(':ok'), { what: ':ok', timeout: 5_000 });

  // [how, data, extra fields]
  const cases = [
    ['form', 'a\n\nb'],
    ['text', 'a\rb'],
    ['text', 'a\r\nb'],
    ['form', 'a\r\nb\rc\nd'],
    ['text', 'line1\r\n\r\nline3\r'],
    ['text', 'a\n\rb'],
    ['text', 'a\r\r\nb'],
    ['text', 'héllo ✓ 日本 😀'],
    ['form', 'héllo ✓ 日本 😀', { event: 'ünï-name' }],
    ['form', ' leading space'],
    ['text', '  two leading spaces'],
    ['form', ' '],
    ['text', ':starts with a colon'],
    ['form', ': also a colon\n:and another'],
    ['text', 'data: fake\nid: 99\nevent: fake\nretry: 1\n: comment'],
    ['form', 'ends with a newline\n'],
    ['text', '\nstarts with a newline'],
    ['form', '\ttab and  double  spaces  '],
    ['text', 'named via query', { event: 'q-name' }],
    ['form', 'with my own id', { id: 'my-id 1' }],
    ['text', bigData()],
    ['text', '😀'.repeat(MAX / 4)],
  ];
  const answers = [];
  for (const [how, data, extra = {}] of cases) {
    const r = how === 'form' ? await publish(hub, { data, ...extra }) : await publishText(hub, data, extra);
    assert.equal(r.status, 200, `publish ${JSON.stringify(data.slice(0, 40))} -> ${r.status} ${r.text}`);
    answers.push(r.json);
  }
  // Over the limit: refused, and nothing is sent.
  const tooBig = await publishText(hub, bigData() + 'z');
  assert.equal(tooBig.status, 413, `65537 bytes -> ${tooBig.status} ${tooBig.text}`);
  const end = await publishOk(hub, { data: 'end' });
  await waitFor(() => sub.events.some((e) => e.data === 'end'), {
    what: 'the last event', timeout: 10_000, detail: () => `${sub.events.length} events, raw tail ${JSON.stringify(sub.raw.slice(-200))}`,
  });
  await sleep(100);

  assert.deepEqual(sub.errors, [], 'eventsource-parser reported errors');
  assert.equal(sub.events.length, cases.length + 1, 'event count');
  cases.forEach(([how, data, extra = {}], i) => {
    const e = sub.events[i];
    const what = `case ${i} (${how} ${JSON.stringify(data.slice(0, 40))})`;
    assert.equal(e.data, normalise(data), `${what}: data`);
    assert.equal(e.event, extra.event, `${what}: event name`);
  });
  assert.ok(!/\r/.test(sub.raw), 'a CR reached the wire');
  // Ids last: the data checks above hold without them.
  cases.forEach(([, data, extra = {}], i) => {
    const want = extra.id ?? answers[i]?.id;
    assert.ok(want, `publish answer ${i} has no id: ${JSON.stringify(answers[i])}`);
    assert.equal(sub.events[i].id, want, `case ${i}: id`);
  });
  assert.equal(sub.events[cases.length].id, end.id);
});

clientTest('bytes: a publish-time retry field reaches the parser', async (t, sc) => {
  const hub = await sc.hub();
  const sub = sc.track(rawSubscribe(hub.url()));
  await sub.ready;
  await waitFor(() => sub.raw.startsWith(':ok'), { what: ':ok', timeout: 5_000 });
  await publishOk(hub, { data: 'slow down', retry: '7000' });
  await waitFor(() => sub.events.length === 1, { what: 'the event', timeout: 5_000 });
  assert.equal(sub.retries[sub.retries.length - 1], 7000);
  assert.equal(sub.events[0].data, 'slow down');
});
