import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ChainSession } from '../src/coordinator/chain-session.js';
import { SessionStoppedError } from '../src/coordinator/errors.js';
import { WorkerPool } from '../src/coordinator/pool.js';
import { ModuleResolver } from '../src/coordinator/resolve.js';
import { type Eddy, open } from '../src/index.js';
import { encodeRecords } from '../src/protocol/index.js';
import type { TransformStep } from '../src/smartmodule/transforms.js';
import { printingModule } from './helpers/printing-module.js';
import { wasmPath } from './helpers/wasm.js';

/** Stateless chains fan a partition's batches out over every worker; the output stays in order. */

const BATCHES = 120;
const PER_BATCH = 25;

async function numbers(options: { fanOut?: boolean } = {}): Promise<Eddy> {
  const eddy = await open(mkdtempSync(join(tmpdir(), 'eddy-fan-')), { workers: 2, retentionCheckMs: 0, ...options });
  await eddy.createTopic('n', { partitions: 1 });
  let n = 0;
  for (let b = 0; b < BATCHES; b++) {
    await eddy.storage.append(
      'n',
      0,
      Array.from({ length: PER_BATCH }, () => ({ value: Buffer.from(String(n++)) })),
    );
  }
  return eddy;
}

/** Consumes with one stored batch per submission (many submissions); returns the values and the workers each session ran on. */
async function run(
  eddy: Eddy,
  transforms: TransformStep[],
  extra: { fanOut?: boolean; aggregateInitial?: Uint8Array } = {},
): Promise<{ values: string[]; workers: number[] }> {
  const values: string[] = [];
  let workers: number[] = [];
  for await (const r of eddy.consume('n', { transforms, from: 'beginning', batchesPerSubmission: 1, ...extra })) {
    values.push(Buffer.from(r.value).toString());
    const m = eddy.metrics()[0];
    if (m && m.workers.length > workers.length) workers = m.workers;
  }
  return { values, workers };
}

const all = Array.from({ length: BATCHES * PER_BATCH }, (_, i) => String(i));
const doubled = all.map((v) => String(Number(v) * 2));

test('a stateless chain spreads one partition over both workers by default, output in input order', async (t) => {
  const eddy = await numbers();
  await eddy.pool.ready();
  const { values, workers } = await run(eddy, [{ uses: wasmPath('map-double') }]);
  t.deepEqual(values, doubled);
  t.is(workers.length, 2, 'the session ran on both workers');
  await eddy.close();
});

test('fanOut: false (per consume, or for the whole Eddy) keeps a stateless chain on one worker', async (t) => {
  const eddy = await numbers();
  await eddy.pool.ready();
  const off = await run(eddy, [{ uses: wasmPath('map-double') }], { fanOut: false });
  t.deepEqual(off.values, doubled);
  t.is(off.workers.length, 1);
  await eddy.close();
  const global = await numbers({ fanOut: false });
  await global.pool.ready();
  t.is((await run(global, [{ uses: wasmPath('map-double') }])).workers.length, 1);
  await global.close();
});

test('aggregate and look-back chains stay on one worker (their state lives in one instance)', async (t) => {
  const eddy = await numbers();
  await eddy.pool.ready();
  await eddy.produce('n', [{ value: Buffer.from('1') }, { value: Buffer.from('2') }]);
  const agg = await run(eddy, [{ uses: wasmPath('map-double') }, { uses: wasmPath('aggregate-sum') }]);
  t.is(agg.workers.length, 1);
  t.is(agg.values.length, all.length + 2);
  const lb = await run(eddy, [{ uses: wasmPath('filter-look-back'), lookback: { last: 1 } }]);
  t.is(lb.workers.length, 1);
  // A look-back module without a lookback setting is a plain filter: it fans out.
  const plain = await run(eddy, [{ uses: wasmPath('filter-look-back') }]);
  t.is(plain.workers.length, 2);
  await eddy.close();
});

test('a derived stream with a stateless chain fans out and writes its output in source order', async (t) => {
  const eddy = await numbers();
  await eddy.pool.ready();
  await eddy.createTopic('out', { partitions: 1 });
  const d = await eddy.startDerived({
    name: 'double',
    source: 'n',
    target: 'out',
    transforms: [{ uses: wasmPath('map-double'), params: {}, lookback: null }],
  });
  let workers = 0;
  // Sampled as each commit is reported, while the partition's session is open.
  d.on('batch', () => {
    workers = Math.max(workers, ...eddy.metrics().map((m) => m.workers.length));
  });
  while ((d.checkpoint(0)?.offset ?? 0) < all.length) await new Promise((r) => setTimeout(r, 10));
  await eddy.stopDerived('double');
  const out: string[] = [];
  for await (const r of eddy.consume('out', { from: 'beginning', follow: false }))
    out.push(Buffer.from(r.value).toString());
  t.deepEqual(out, doubled);
  t.is(workers, 2);
  await eddy.close();
});

test('producer-side: a stateless chain runs on both workers, stored in send order; a module error refuses only its batch', async (t) => {
  const eddy = await open(mkdtempSync(join(tmpdir(), 'eddy-fan-')), { workers: 2, retentionCheckMs: 0 });
  await eddy.pool.ready();
  await eddy.createTopic('d', { partitions: 1 });
  const producer = await eddy.producer('d', {
    transforms: [{ uses: wasmPath('map-double') }],
    lingerMs: 0,
    batchSize: 256,
  });
  const sends = [];
  for (let b = 0; b < 60; b++)
    sends.push(producer.sendAll(Array.from({ length: 20 }, (_, i) => ({ value: Buffer.from(String(b * 20 + i)) }))));
  const workers = Math.max(
    ...eddy
      .metrics()
      .filter((m) => m.session === 'd:produce')
      .map((m) => m.workers.length),
  );
  await Promise.all(sends);
  // Batches dispatched in one turn went to the workers together, several per submission.
  const produced = eddy.metrics().find((m) => m.session === 'd:produce')!;
  t.true(produced.submissions < produced.batches, `${produced.batches} batches in ${produced.submissions} submissions`);
  await producer.close();
  t.is(workers, 2);
  const stored: string[] = [];
  for await (const r of eddy.consume('d', { from: 'beginning', follow: false }))
    stored.push(Buffer.from(r.value).toString());
  t.deepEqual(
    stored,
    Array.from({ length: 1200 }, (_, i) => String(i * 2)),
  );

  await eddy.createTopic('e', { partitions: 1 });
  const p2 = await eddy.producer('e', { transforms: [{ uses: wasmPath('fail-on') }], lingerMs: 0 });
  const results: PromiseSettledResult<unknown>[] = [];
  for (const values of [['a1', 'a2'], ['b1', 'bad'], ['c1']]) {
    results.push((await Promise.allSettled([p2.sendAll(values.map((v) => ({ value: Buffer.from(v) })))]))[0]!);
  }
  await p2.close();
  t.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  t.regex(String((results[1] as PromiseRejectedResult).reason?.message), /cannot parse bad/);
  const kept: string[] = [];
  for await (const r of eddy.consume('e', { from: 'beginning', follow: false }))
    kept.push(Buffer.from(r.value).toString());
  t.deepEqual(kept, ['a1', 'a2', 'c1']);
  await eddy.close();
});

test('producer-side: a trap refuses only its own batch, though the batches went to the worker together', async (t) => {
  const eddy = await open(mkdtempSync(join(tmpdir(), 'eddy-fan-')), { workers: 2, retentionCheckMs: 0 });
  t.teardown(() => eddy.close());
  await eddy.createTopic('t', { partitions: 1 });
  const producer = await eddy.producer('t', { transforms: [{ uses: wasmPath('trap') }], lingerMs: 0, batchSize: 64 });
  // One call per record, all in one turn: many small batches, dispatched together.
  const values = Array.from({ length: 40 }, (_, i) => (i === 25 ? 'boom' : `v${String(i).padStart(2, '0')}`));
  const settled = await Promise.allSettled(values.map((v) => producer.send({ value: Buffer.from(v) })));
  await producer.close();
  const refused = values.filter((_, i) => settled[i]!.status === 'rejected');
  t.true(refused.includes('boom'));
  t.regex(String((settled[25] as PromiseRejectedResult).reason?.message), /unreachable|trap/i);
  // Only the batch holding `boom` (a few records of 64 bytes at most), not the whole submission.
  t.true(refused.length < 10, `refused: ${refused.join(' ')}`);
  const stored: string[] = [];
  for await (const r of eddy.consume('t', { from: 'beginning', follow: false }))
    stored.push(Buffer.from(r.value).toString());
  t.deepEqual(
    stored,
    values.filter((_, i) => settled[i]!.status === 'fulfilled'),
  );
});

test('a fanned-out session under policy stop: the submissions before a trap deliver in order, the trap fails its own, later ones stop', async (t) => {
  const pool = new WorkerPool({ workers: 2 });
  const steps = await new ModuleResolver(null).steps([{ uses: wasmPath('trap') }]);
  const session = new ChainSession(pool, { steps, stateless: true, maxInFlight: 12 });
  try {
    await session.start();
    const batch = (i: number) => ({
      baseOffset: i * 10,
      baseTimestamp: 0,
      raw: encodeRecords(
        Array.from({ length: 10 }, (_, j) => ({ value: Buffer.from(i === 6 && j === 3 ? 'boom' : `${i}.${j}`) })),
      ),
    });
    const tickets = [];
    for (let i = 0; i < 10; i++) tickets.push(await session.submit(batch(i)));
    const settled = await Promise.allSettled(tickets.map((k) => k.result));
    for (let i = 0; i < 6; i++) {
      const r = settled[i]!;
      t.is(r.status, 'fulfilled', `submission ${i}`);
      if (r.status === 'fulfilled') t.is(r.value.batches[0]!.count, 10);
    }
    t.is(settled[6]!.status, 'rejected');
    t.regex(String((settled[6] as PromiseRejectedResult).reason?.message), /trap|unreachable/);
    for (let i = 7; i < 10; i++) t.true((settled[i] as PromiseRejectedResult).reason instanceof SessionStoppedError);
  } finally {
    await session.close();
    await pool.close();
  }
});

test('a fanned-out session under policy stop: the submissions before a deadline kill deliver in order, the overrun fails its own, later ones stop', async (t) => {
  const pool = new WorkerPool({ workers: 2 });
  const steps = await new ModuleResolver(null).steps([{ uses: wasmPath('spin') }]);
  const HANG = 300;
  const session = new ChainSession(pool, { steps, stateless: true, maxInFlight: HANG + 4, deadlineMs: 5000 });
  try {
    await session.start();
    // Submissions go to the two workers in turn. The even ones (one worker) are quick up to HANG,
    // which loops forever; the odd ones (the other worker) each take a while (far under the
    // deadline), so on most machines several before HANG are still running when HANG's worker is
    // killed. Those must still be delivered, in order, before the session fails.
    const batch = (i: number) => ({
      baseOffset: i * 10,
      baseTimestamp: 0,
      raw: encodeRecords(
        Array.from({ length: 10 }, (_, j) => ({
          value: Buffer.from(i === HANG && j === 5 ? 'loop' : i % 2 === 1 && j === 0 ? 'slow' : `${i}.${j}`),
        })),
      ),
    });
    const tickets = [];
    for (let i = 0; i < HANG + 3; i++) tickets.push(await session.submit(batch(i)));
    const settled = await Promise.allSettled(tickets.map((k) => k.result));
    for (let i = 0; i < HANG; i++) {
      const r = settled[i]!;
      t.is(r.status, 'fulfilled', `submission ${i}: ${(r as PromiseRejectedResult).reason?.message ?? ''}`);
      if (r.status === 'fulfilled') t.is(r.value.batches[0]!.count, 10);
    }
    const hung = settled[HANG] as PromiseRejectedResult;
    t.is(hung.status, 'rejected');
    t.is(hung.reason?.code, 'EDDY_SESSION_TIMEOUT');
    t.regex(String(hung.reason?.message), new RegExp(`batch at offset ${HANG * 10} within 5000 ms`));
    for (let i = HANG + 1; i < HANG + 3; i++)
      t.true((settled[i] as PromiseRejectedResult).reason instanceof SessionStoppedError);
    t.is(session.state, 'failed');
  } finally {
    await session.close();
    await pool.close();
  }
});

test('captureLog: what a module prints comes back with the batch that printed it, not through the pool', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-fan-log-'));
  const file = join(dir, 'print.wasm');
  writeFileSync(file, printingModule(1));
  const heard: string[] = [];
  const pool = new WorkerPool({ workers: 2, moduleLog: (_s, line) => heard.push(line) });
  const steps = await new ModuleResolver(null).steps([{ uses: file }]);
  const session = new ChainSession(pool, { steps, stateless: true, captureLog: true });
  try {
    await session.start();
    t.deepEqual(session.initLog, []);
    for (let i = 0; i < 4; i++) {
      const r = await session.process({
        baseOffset: i,
        baseTimestamp: 0,
        raw: encodeRecords([{ value: Buffer.from('x') }]),
      });
      t.deepEqual(
        r.batches[0]!.log?.map((l) => [l.stream, l.line]),
        [['stdout', 'from the module']],
      );
    }
    t.deepEqual(heard, []);
  } finally {
    await session.close();
    await pool.close();
  }
});
