import test from 'ava';
import { Histogram, Registry } from 'prom-client';
import { open } from '../src/index.js';
import { BatchLatency } from '../src/observe/latency-metric.js';
import { createRegistry } from '../src/observe/metrics.js';
import { Renderings } from '../src/observe/rendering.js';
import { tempDir } from './helpers/storage.js';

/**
 * The cheaper `/metrics`: the batch latency counted in plain buckets must read exactly as
 * prom-client's own histogram would, and a render that reuses the text of unchanged families must
 * read exactly as a full render of the same snapshot, before and after something changes.
 */

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

test('the batch latency reads as prom-client writes its own histogram, bucket edges and odd names included', async (t) => {
  const ours = new BatchLatency();
  const theirs = new Histogram({
    name: 'eddy_batch_latency_seconds',
    help: 'Time from submitting a batch range to a worker until its result is committed, per derived stream and source partition',
    labelNames: ['stream', 'partition'] as const,
    buckets: BUCKETS,
    registers: [],
  });
  // On the edges, between them, under the first and over the last; a name that needs escaping.
  const seconds = [0.0005, 0.001, 0.0025, 0.003, 0.02, 0.7, 10, 12, 0];
  for (const [i, v] of seconds.entries()) {
    const stream = i % 3 === 0 ? 'a"b\\c' : 'plain';
    ours.counts.record(ours.counts.series(stream, i % 2), v);
    theirs.labels(stream, String(i % 2)).observe(v);
  }
  const text = async (m: Histogram<'stream' | 'partition'>) => {
    const r = new Registry();
    r.registerMetric(m);
    return r.metrics();
  };
  t.is(await text(ours), await text(theirs));
  t.is(ours.counts.series('plain', 1).count, seconds.filter((_, i) => i % 3 !== 0 && i % 2 === 1).length);
});

test('a render that reuses unchanged families reads as a full render of the same snapshot, before and after a change', async (t) => {
  const eddy = await open(tempDir(t, 'eddy-render-'), { workers: 1, retentionCheckMs: 0 });
  t.teardown(() => eddy.close());
  await eddy.createTopic('in', { partitions: 2 });
  await eddy.produce('in', [{ value: Buffer.from('x'), partition: 1 }]);
  const telemetry = eddy.telemetry;
  let renderings: Renderings | null = null;
  const registry = createRegistry(telemetry.latency, () => renderings!.source());
  renderings = new Renderings(registry);
  // The process' CPU and memory are read when rendered: they differ between any two renders.
  const steady = (s: string) =>
    s
      .split('\n')
      .filter((l) => !/^process_/.test(l))
      .join('\n');
  const full = async () => {
    const snapshot = telemetry.status();
    return steady(await createRegistry(telemetry.latency, () => snapshot).metrics());
  };

  const first = steady((await renderings.metrics(telemetry.status())).toString());
  t.is(first, await full());

  // Nothing changed: the same text, from the families' last renders.
  t.is(steady((await renderings.metrics(telemetry.status())).toString()), first);

  // A topic grows and a result commits: those families are rendered again.
  await eddy.produce('in', [{ value: Buffer.from('y'), partition: 1 }]);
  telemetry.latency.record(telemetry.latency.series('s', 0), 0.003);
  const after = steady((await renderings.metrics(telemetry.status())).toString());
  t.is(after, await full());
  t.not(after, first);
  t.regex(after, /eddy_topic_records\{topic="in",partition="1"\} 2\n/);
  t.regex(after, /eddy_batch_latency_seconds_count\{stream="s",partition="0"\} 1\n/);
});

test('100 scrapes at once all get the whole text of one render', async (t) => {
  const eddy = await open(tempDir(t, 'eddy-render-'), { workers: 1, retentionCheckMs: 0, http: '127.0.0.1:0' });
  t.teardown(() => eddy.close());
  await eddy.createTopic('in', { partitions: 3 });
  // The topic's numbers come from the once-a-second sampler: wait until a render has them.
  const has = (text: string) => text.includes('eddy_topic_records{topic="in",partition="2"} 0');
  for (const end = Date.now() + 30_000; !has(await (await fetch(`${eddy.http!.url}metrics`)).text()); ) {
    if (Date.now() > end) return t.fail('the topic never appeared in /metrics');
    await new Promise((r) => setTimeout(r, 100));
  }
  const answers = await Promise.all(
    Array.from({ length: 100 }, async () => {
      const r = await fetch(`${eddy.http!.url}metrics`);
      return { status: r.status, text: await r.text() };
    }),
  );
  t.deepEqual(
    answers.map((a) => a.status),
    answers.map(() => 200),
  );
  t.true(answers.every((a) => a.text.endsWith('\n') && has(a.text)));
});
