import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type Eddy, open, type RunningDerived, SmartModuleRuntimeError } from '../src/index.js';
import { LOCK_FILE } from '../src/internals.js';
import { wasmPath } from './helpers/wasm.js';

const fresh = async (): Promise<Eddy> =>
  open(mkdtempSync(join(tmpdir(), 'eddy-api-')), { workers: 2, retentionCheckMs: 0 });
const str = (b: Uint8Array) => Buffer.from(b).toString();
const values = (list: string[]) => list.map((v) => ({ value: Buffer.from(v) }));

async function collect(it: AsyncIterable<{ value: Uint8Array }>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of it) out.push(str(r.value));
  return out;
}

test('produce, then consume through a filter by path and by registered name, in order per partition', async (t) => {
  const eddy = await fresh();
  await eddy.createTopic('fruit', { partitions: 1 });
  await eddy.produce('fruit', values(['apple', 'kiwi', 'banana', 'plum', 'grape']));
  await eddy.modules.register('keep-a', wasmPath('filter'));
  t.deepEqual(await collect(eddy.consume('fruit', { transforms: [{ uses: wasmPath('filter') }] })), [
    'apple',
    'banana',
    'grape',
  ]);
  t.deepEqual(
    await collect(eddy.consume('fruit', { transforms: [{ uses: 'keep-a' }, { uses: wasmPath('map-uppercase') }] })),
    ['APPLE', 'BANANA', 'GRAPE'],
  );
  await eddy.close();
});

test('look_back from the stored topic, and an aggregate with an initial value', async (t) => {
  const eddy = await fresh();
  await eddy.createTopic('n', { partitions: 1 });
  await eddy.produce('n', values(['5', '3', '8', '6', '9']));
  // The monotonic filter's look_back sees the last stored value (9): nothing above it yet.
  const lb = [{ uses: wasmPath('filter-look-back'), lookback: { last: 1 } }];
  t.deepEqual(await collect(eddy.consume('n', { transforms: lb })), []);
  t.deepEqual(await collect(eddy.consume('n', { transforms: [{ uses: wasmPath('filter-look-back') }] })), [
    '5',
    '8',
    '9',
  ]);
  const sum = eddy.consume('n', {
    transforms: [{ uses: wasmPath('aggregate-sum') }],
    aggregateInitial: Buffer.from('100'),
  });
  t.deepEqual(await collect(sum), ['105', '108', '116', '122', '131']);
  await eddy.close();
});

test('a runtime error yields the records before it, then throws the typed error', async (t) => {
  const eddy = await fresh();
  await eddy.createTopic('t', { partitions: 1 });
  await eddy.produce('t', values(['a1', 'a2', 'bad', 'a3']));
  const seen: string[] = [];
  const errors: unknown[] = [];
  eddy.on('error', (e) => errors.push(e.error));
  const err = await t.throwsAsync(
    async () => {
      for await (const r of eddy.consume('t', { transforms: [{ uses: wasmPath('fail-on') }] })) seen.push(str(r.value));
    },
    { instanceOf: SmartModuleRuntimeError },
  );
  t.deepEqual(seen, ['a1', 'a2']);
  t.is(err!.offset, 2);
  t.true(errors.length >= 1);
  // skip policy: stepped over and reported
  const skipped = await collect(eddy.consume('t', { transforms: [{ uses: wasmPath('fail-on') }], policy: 'skip' }));
  t.deepEqual(skipped, ['a1', 'a2', 'a3']);
  await eddy.close();
});

test('producer-side transforms apply before records are stored; a module error stores nothing', async (t) => {
  const eddy = await fresh();
  await eddy.createTopic('p', { partitions: 1 });
  await eddy.produce('p', values(['apple', 'kiwi']), {
    transforms: [{ uses: wasmPath('filter') }, { uses: wasmPath('map-uppercase') }],
  });
  t.deepEqual(await collect(eddy.consume('p', { from: 'beginning' }).records()), ['APPLE']);
  const err = await t.throwsAsync(
    eddy.produce('p', values(['x', 'bad']), { transforms: [{ uses: wasmPath('fail-on') }] }),
    { code: 'EDDY_PRODUCE_TRANSFORM' },
  );
  t.true((err as Error & { cause?: unknown }).cause instanceof SmartModuleRuntimeError);
  t.is(eddy.describeTopic('p').records, 1);
  await eddy.close();
});

test('consume with transforms over all partitions, merged, follow mode ends on abort', async (t) => {
  const eddy = await fresh();
  await eddy.createTopic('multi', { partitions: 3 });
  await eddy.produce(
    'multi',
    Array.from({ length: 30 }, (_, i) => ({ value: Buffer.from(`a${i}`), partition: i % 3 })),
  );
  const ac = new AbortController();
  const got: string[] = [];
  const done = (async () => {
    for await (const r of eddy.consume('multi', {
      transforms: [{ uses: wasmPath('filter') }],
      follow: true,
      signal: ac.signal,
    })) {
      got.push(str(r.value));
      if (got.length === 33) ac.abort();
    }
  })();
  await eddy.produce('multi', [
    { value: Buffer.from('late-a0'), partition: 0 },
    { value: Buffer.from('late-a1'), partition: 1 },
    { value: Buffer.from('late-a2'), partition: 2 },
  ]);
  await done;
  t.is(got.length, 33);
  for (let p = 0; p < 3; p++) {
    const mine = got.filter((v) => !v.startsWith('late') && Number(v.slice(1)) % 3 === p);
    t.deepEqual(
      mine,
      Array.from({ length: 10 }, (_, i) => `a${i * 3 + p}`),
      `partition ${p} in order`,
    );
  }
  await eddy.close();
});

test('derived streams: saved, started, output committed with lag events, listed and deleted', async (t) => {
  const eddy = await fresh();
  await eddy.createTopic('in', { partitions: 2 });
  await eddy.createTopic('out', { partitions: 2 });
  await eddy.produce(
    'in',
    Array.from({ length: 20 }, (_, i) => ({ value: Buffer.from(String(i)), partition: i % 2 })),
  );
  await eddy.createDerived({
    name: 'evens-sum',
    source: 'in',
    target: 'out',
    transforms: [
      { uses: wasmPath('filter-map'), params: {}, lookback: null },
      { uses: wasmPath('aggregate-sum'), params: {}, lookback: null },
    ],
  });
  await t.throwsAsync(eddy.createDerived({ name: 'evens-sum', source: 'in', target: 'out', transforms: [] }), {
    message: /already exists/,
  });
  const lags: number[] = [];
  const caughtUp = new Set<number>();
  const allCaughtUp = new Promise<void>((resolve) =>
    eddy.on('lag', (l) => {
      lags.push(l.lag);
      if (l.lag === 0) caughtUp.add(l.partition);
      if (caughtUp.size === 2) resolve();
    }),
  );
  await eddy.startDerived('evens-sum');
  await allCaughtUp; // lag events come after the commit is acknowledged
  const info = eddy.listDerived()[0]!;
  t.true(info.running);
  t.deepEqual(
    info.partitions.map((p) => p.offset),
    [10, 10],
  );
  t.true(lags.includes(0));
  // partition 0 holds 0,2,…,18: filter-map keeps evens and halves them → 0..9; running sums
  t.deepEqual(await collect(eddy.consume('out', { from: 'beginning', partition: 0 }).records()), [
    '0',
    '1',
    '3',
    '6',
    '10',
    '15',
    '21',
    '28',
    '36',
    '45',
  ]);
  t.deepEqual(await collect(eddy.consume('out', { from: 'beginning', partition: 1 }).records()), []);
  await eddy.stopDerived('evens-sum');
  t.false(eddy.listDerived()[0]!.running);
  await eddy.deleteDerived('evens-sum');
  t.deepEqual(eddy.listDerived(), []);
  await eddy.close();
});

test('an unknown module in a transform is a clear error', async (t) => {
  const eddy = await fresh();
  await eddy.createTopic('x');
  await t.throwsAsync(collect(eddy.consume('x', { transforms: [{ uses: 'nope/missing@1.0' }] })), {
    message: /not registered and is not a \.wasm file; register it with `eddy smart-module create/,
  });
  await eddy.close();
});

test('metrics per stream and per module, through the API and as events', async (t) => {
  const eddy = await open(mkdtempSync(join(tmpdir(), 'eddy-api-')), {
    workers: 2,
    retentionCheckMs: 0,
    metricsIntervalMs: 30,
  });
  await eddy.createTopic('m', { partitions: 1 });
  await eddy.produce('m', values(Array.from({ length: 200 }, (_, i) => (i % 2 ? 'apple' : 'kiwi'))));
  const events: number[] = [];
  eddy.on('metrics', (list) => events.push(list.length));
  let snapshot = eddy.metrics();
  let n = 0;
  const ac = new AbortController();
  for await (const _r of eddy.consume('m', {
    transforms: [{ uses: wasmPath('filter') }, { uses: wasmPath('map-uppercase') }],
    follow: true,
    signal: ac.signal,
  })) {
    if (++n === 100) {
      snapshot = eddy.metrics();
      await new Promise((r) => setTimeout(r, 120)); // let a metrics event fire while the stream lives
      ac.abort();
    }
  }
  t.is(n, 100);
  t.is(snapshot.length, 1);
  const s = snapshot[0]!;
  t.is(s.state, 'running');
  t.deepEqual(
    s.modules.map((m) => m.module),
    ['filter', 'map-uppercase'],
  );
  t.is(s.modules[0]!.recordsIn, 200);
  t.is(s.modules[0]!.recordsOut, 100);
  t.is(s.modules[1]!.recordsIn, 100);
  t.true(s.modules[0]!.timeMs > 0);
  t.true(s.modules[0]!.memoryBytes > 0);
  t.true(
    events.some((c) => c === 1),
    'a metrics event listed the live stream',
  );
  t.deepEqual(eddy.metrics(), [], 'closed streams are gone');
  await eddy.close();
});

test('backpressure: a slow reader holds the pipeline back instead of buffering the topic', async (t) => {
  const eddy = await fresh();
  await eddy.createTopic('big', { partitions: 1 });
  for (let b = 0; b < 300; b++)
    await eddy.storage.append('big', 0, values(Array.from({ length: 20 }, (_, i) => `a-${b}-${i}`)));
  const ac = new AbortController();
  let n = 0;
  let heldBack = -1;
  for await (const _r of eddy.consume('big', {
    transforms: [{ uses: wasmPath('filter') }],
    maxInFlight: 4,
    follow: true,
    signal: ac.signal,
  })) {
    if (++n === 50) {
      await new Promise((r) => setTimeout(r, 300)); // a slow reader
      heldBack = eddy.metrics()[0]!.submissions;
      ac.abort();
    }
  }
  // 50 records read = 3 batches; what was read ahead is bounded by the in-flight window and the
  // delivery queue (2 × maxInFlight), far from the 300 stored batches.
  t.true(heldBack > 0 && heldBack <= 3 + 4 + 8 + 1, `submitted ${heldBack} batches while the reader held 3`);
  await eddy.close();
});

test('a derived stream stopped by a runtime error reports it, keeps the records before it, and checkpoints at the failing record', async (t) => {
  const eddy = await fresh();
  await eddy.createTopic('in', { partitions: 1 });
  await eddy.createTopic('out', { partitions: 1 });
  await eddy.produce('in', values(['a1', 'bad', 'a2']));
  const failed = new Promise<{ stream: string; error: Error }>((resolve) => eddy.on('error', resolve));
  const d = await eddy.startDerived({
    name: 'fragile',
    source: 'in',
    target: 'out',
    transforms: [{ uses: wasmPath('fail-on'), params: {}, lookback: null }],
  });
  const { stream, error } = await failed;
  t.is(stream, 'fragile/0');
  t.true(error instanceof SmartModuleRuntimeError);
  await d.done();
  t.deepEqual(await collect(eddy.consume('out', { partition: 0 }).records()), ['a1']);
  t.is(d.checkpoint(0)!.offset, 1, 'resumes at the failing record');
  // Restarted with the skip policy it steps over the record and finishes the partition.
  await eddy.stopDerived('fragile');
  const again = await eddy.startDerived({
    name: 'fragile',
    source: 'in',
    target: 'out',
    transforms: [{ uses: wasmPath('fail-on'), params: {}, lookback: null }],
    policy: 'skip',
  });
  while ((again.checkpoint(0)?.offset ?? 0) < 3) await new Promise((r) => setTimeout(r, 20));
  await eddy.stopDerived('fragile');
  t.deepEqual(await collect(eddy.consume('out', { partition: 0 }).records()), ['a1', 'a2']);
  await eddy.close();
});

test('closing while workers read and run batches never aborts the process (terminations wait out native calls)', async (t) => {
  for (let i = 0; i < 12; i++) {
    const eddy = await fresh();
    await eddy.createTopic('busy', { partitions: 2 });
    for (let b = 0; b < 20; b++)
      await eddy.storage.append(
        'busy',
        b % 2,
        values(Array.from({ length: 300 }, (_, j) => `a${'x'.repeat(100)}${j}`)),
      );
    const ac = new AbortController();
    const reading = (async () => {
      for await (const _r of eddy.consume('busy', {
        transforms: [{ uses: wasmPath('filter') }],
        follow: true,
        signal: ac.signal,
      }));
    })().catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, (i * 7) % 60));
    const closing = eddy.close();
    ac.abort();
    await closing;
    await reading;
  }
  t.pass('12 closes during reads, the process is alive');
});

test('a module file rebuilt at the same path is used by the next consume (modules are cached by content)', async (t) => {
  const eddy = await fresh();
  await eddy.createTopic('rebuilt', { partitions: 1 });
  await eddy.produce('rebuilt', values(['apple', 'kiwi']));
  const path = join(mkdtempSync(join(tmpdir(), 'eddy-rebuild-')), 'module.wasm');
  copyFileSync(wasmPath('filter'), path);
  t.deepEqual(await collect(eddy.consume('rebuilt', { transforms: [{ uses: path }] })), ['apple']);
  copyFileSync(wasmPath('map-uppercase'), path);
  t.deepEqual(await collect(eddy.consume('rebuilt', { transforms: [{ uses: path }] })), ['APPLE', 'KIWI']);
  copyFileSync(wasmPath('filter'), path);
  t.deepEqual(await collect(eddy.consume('rebuilt', { transforms: [{ uses: path }] })), ['apple']);
  await eddy.close();
});

test('await using closes Eddy, and a derived stream stops, when the scope ends', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-dispose-'));
  let stream: RunningDerived;
  {
    await using eddy = await open(dir, { workers: 1, retentionCheckMs: 0 });
    await eddy.createTopic('src', { partitions: 1 });
    await eddy.createTopic('dst', { partitions: 1 });
    await eddy.produce('src', values(['apple', 'kiwi']));
    {
      await using d = await eddy.startDerived({
        name: 'keep',
        source: 'src',
        target: 'dst',
        transforms: [{ uses: wasmPath('filter') }],
      });
      stream = d;
      t.true(d.running);
    }
    t.false(stream.running);
    t.true(existsSync(join(dir, LOCK_FILE)));
  }
  // Closed: the writer's lock is gone and the directory opens again.
  t.false(existsSync(join(dir, LOCK_FILE)));
  const again = await open(dir, { workers: 1, retentionCheckMs: 0 });
  t.deepEqual((await again.listTopics()).map((x) => x.name).sort(), ['dst', 'src']);
  await again.close();
});

test('open({ pool }): SmartModules run on the pool given, which close() closes (used or not)', async (t) => {
  const { WorkerPool } = await import('../src/internals.js');
  const pool = new WorkerPool({ workers: 1 });
  const eddy = await open(mkdtempSync(join(tmpdir(), 'eddy-pool-')), { pool });
  await eddy.createTopic('t');
  await eddy.produce(
    't',
    ['apple', 'plum', 'pear'].map((v) => ({ value: Buffer.from(v) })),
  );
  const kept: string[] = [];
  for await (const r of eddy.consume('t', { transforms: [{ uses: wasmPath('filter') }] }))
    kept.push(Buffer.from(r.value).toString());
  t.deepEqual(kept, ['apple', 'pear']);
  t.is(eddy.pool, pool);
  await eddy.close();
  await t.throwsAsync(pool.ready(), { name: 'PoolClosedError' });

  const unused = new WorkerPool({ workers: 1 });
  await (await open(mkdtempSync(join(tmpdir(), 'eddy-pool-')), { pool: unused })).close();
  await t.throwsAsync(unused.ready(), { name: 'PoolClosedError' });
});
