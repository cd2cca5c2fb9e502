import { Worker } from 'node:worker_threads';
import test from 'ava';
import { open } from '../src/index.js';
import { serveObserve } from '../src/observe/server.js';
import { FRESH_MS } from '../src/observe/telemetry.js';
import { tempDir } from './helpers/storage.js';

/**
 * The HTTP endpoint runs on a thread of its own: requests are answered while the coordinator's
 * event loop is blocked, and a crowd of scrapers costs the coordinator one snapshot per freshness
 * window, not one per request.
 */

/** An HTTP client on another thread: it GETs the paths it is sent, then raises `flag` and posts what it got. */
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const flag = new Int32Array(workerData.flag);
parentPort.on('message', async (paths) => {
  const got = [];
  for (const p of paths) {
    const r = await fetch(workerData.base + p);
    got.push({ path: p, status: r.status, body: await r.text() });
  }
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  parentPort.postMessage(got);
});
`;

test('the page, /metrics and /api/status are answered while the coordinator is blocked', async (t) => {
  const eddy = await open(tempDir(t, 'eddy-thread-'), { workers: 1, retentionCheckMs: 0 });
  t.teardown(() => eddy.close());
  await eddy.createTopic('in', { partitions: 2 });
  // A snapshot fresh for as long as the test runs, so /metrics needs nothing more from this thread.
  const server = await serveObserve(eddy.telemetry, '127.0.0.1:0', { freshMs: 600_000 });
  t.teardown(() => server.close());
  const warm = await fetch(`${server.url}metrics`);
  t.is(warm.status, 200);
  await warm.text();
  server.resetBlocking();

  const flag = new SharedArrayBuffer(4);
  const client = new Worker(CLIENT, { eval: true, workerData: { base: server.url, flag } });
  t.teardown(() => client.terminate());
  const got = new Promise<{ path: string; status: number; body: string }[]>((resolve) =>
    client.once('message', resolve),
  );
  client.postMessage(['', 'metrics', 'api/status']);
  // The coordinator's loop blocked until the client has all three answers (a minute at most): were
  // any of them served on it, the wait would time out.
  const waited = Atomics.wait(new Int32Array(flag), 0, 0, 60_000);
  t.is(waited, 'ok', 'the answers came while the coordinator was blocked');
  const answers = await got;
  t.deepEqual(
    answers.map((a) => [a.path, a.status]),
    [
      ['', 200],
      ['metrics', 200],
      ['api/status', 200],
    ],
  );
  t.regex(answers[0]!.body, /<title>Eddy status<\/title>/);
  t.regex(answers[1]!.body, /eddy_topic_records\{topic="in",partition="1"\} 0\n/);
  t.is((JSON.parse(answers[2]!.body) as { version: number }).version, 1);
  t.is(server.blocking.count, 0, 'the coordinator was not asked for anything');
});

test('50 scrapes at once cost the coordinator one snapshot per freshness window', async (t) => {
  const eddy = await open(tempDir(t, 'eddy-thread-'), { workers: 1, retentionCheckMs: 0, http: '127.0.0.1:0' });
  t.teardown(() => eddy.close());
  await eddy.createTopic('in');
  const scrape = (url: string) =>
    Promise.all(
      Array.from({ length: 50 }, async () => {
        const r = await fetch(`${url}metrics`);
        return { status: r.status, text: await r.text() };
      }),
    );

  // The default window: however slow the machine, at most one snapshot per FRESH_MS, plus the first.
  const http = eddy.http!;
  http.resetBlocking();
  const t0 = performance.now();
  const answers = await scrape(http.url);
  const elapsed = performance.now() - t0;
  t.true(answers.every((a) => a.status === 200 && a.text.includes('# TYPE eddy_records_in_total counter')));
  const held = http.blocking.count;
  t.true(held >= 1 && held <= Math.ceil(elapsed / FRESH_MS) + 1, `${held} snapshots in ${elapsed.toFixed(0)} ms`);

  // A window longer than the test: the 50 share the one question asked, and get the same text.
  const long = await serveObserve(eddy.telemetry, '127.0.0.1:0', { freshMs: 600_000 });
  t.teardown(() => long.close());
  const shared = await scrape(long.url);
  t.is(long.blocking.count, 1);
  t.is(new Set(shared.map((a) => a.text)).size, 1, 'one render');
});

test('health and readiness are asked afresh at each request; close ends the thread', async (t) => {
  const eddy = await open(tempDir(t, 'eddy-thread-'), { workers: 1, retentionCheckMs: 0 });
  t.teardown(() => eddy.close());
  const server = await serveObserve(eddy.telemetry, '127.0.0.1:0', { freshMs: 600_000 });
  const release = eddy.telemetry.hold();
  t.is((await fetch(`${server.url}readyz`)).status, 503);
  release();
  t.is((await fetch(`${server.url}readyz`)).status, 200);
  t.is((await fetch(`${server.url}healthz`)).status, 200);
  t.is(server.blocking.count, 3, 'one probe per request');
  await server.close();
  await t.throwsAsync(fetch(`${server.url}healthz`));
});
