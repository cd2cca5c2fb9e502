import test from 'ava';
import { ChainSession, type SessionResult } from '../src/coordinator/chain-session.js';
import { SessionStoppedError, SessionTimeoutError } from '../src/coordinator/errors.js';
import { WorkerPool } from '../src/coordinator/pool.js';
import { decodeRecords, encodeRecords } from '../src/protocol/index.js';
import { loadModule, SmartModuleTrapError } from '../src/smartmodule/index.js';
import { wasmPath } from './helpers/wasm.js';
import { passThroughFilter } from './helpers/wat.js';

const batchOf = (offset: number, values: string[]) => ({
  baseOffset: offset,
  baseTimestamp: 1_700_000_000_000 + offset,
  raw: encodeRecords(values.map((v, i) => ({ value: Buffer.from(v), offsetDelta: i }))),
});
const values = (r: SessionResult) =>
  r.batches.flatMap((b) => decodeRecords(b.raw).map((x) => Buffer.from(x.value).toString()));

const mod = await loadModule(passThroughFilter(), { name: 'pass' });

test('many streams under load: every stream gets its results in order, each on one worker, spread over workers', async (t) => {
  const pool = new WorkerPool({ workers: 2 });
  await pool.ready();
  const streams = Array.from(
    { length: 12 },
    (_, i) => new ChainSession(pool, { id: `s${i}`, steps: [{ module: mod }], maxInFlight: 6 }),
  );
  await Promise.all(streams.map((s) => s.start()));
  const perWorker = new Map<number, number>();
  for (const s of streams) perWorker.set(s.workerIds[0]!, (perWorker.get(s.workerIds[0]!) ?? 0) + 1);
  t.deepEqual([...perWorker.values()].sort(), [6, 6], 'streams are spread evenly');
  await Promise.all(
    streams.map(async (s, si) => {
      const worker = s.workerIds[0];
      const results: Promise<SessionResult>[] = [];
      for (let b = 0; b < 60; b++)
        results.push(
          (await s.submit([batchOf(b * 10, [`${si}:${b}:a`, `${si}:${b}:b`]), batchOf(b * 10 + 5, [`${si}:${b}:c`])]))
            .result,
        );
      const got = (await Promise.all(results)).map(values);
      t.deepEqual(
        got,
        Array.from({ length: 60 }, (_, b) => [`${si}:${b}:a`, `${si}:${b}:b`, `${si}:${b}:c`]),
      );
      t.deepEqual(s.workerIds, [worker!], 'the stream never moved');
      t.true(s.inFlight === 0);
    }),
  );
  const m = streams[0]!.snapshotMetrics();
  t.is(m.batches, 120);
  t.is(m.modules[0]!.invocations, 120);
  t.is(m.modules[0]!.recordsIn, 180);
  await Promise.all(streams.map((s) => s.close()));
  await pool.close();
});

test('backpressure: no more than maxInFlight submissions are outstanding', async (t) => {
  const pool = new WorkerPool({ workers: 1 });
  const s = new ChainSession(pool, { steps: [{ module: mod }], maxInFlight: 3 });
  await s.start();
  let maxSeen = 0;
  const all: Promise<SessionResult>[] = [];
  for (let i = 0; i < 200; i++) {
    all.push((await s.submit(batchOf(i, ['x'.repeat(1000)]))).result);
    maxSeen = Math.max(maxSeen, s.inFlight);
  }
  await Promise.all(all);
  t.true(maxSeen <= 3, `max outstanding ${maxSeen}`);
  await s.close();
  await pool.close();
});

test('a runaway module times out: its worker is replaced, the stream reports it, other streams on that worker resume without loss or duplicates', async (t) => {
  const pool = new WorkerPool({ workers: 2, watchdogIntervalMs: 20 });
  await pool.ready();
  const runaway = new ChainSession(pool, { id: 'runaway', steps: [{ module: mod }], deadlineMs: 300 });
  await runaway.start();
  const victimWorker = runaway.workerIds[0]!;
  // Put neighbours on the same worker.
  const neighbours: ChainSession[] = [];
  while (neighbours.filter((n) => n.workerIds[0] === victimWorker).length < 2) {
    const n = new ChainSession(pool, { steps: [{ module: mod }], maxInFlight: 8 });
    await n.start();
    neighbours.push(n);
  }
  const errors: unknown[] = [];
  runaway.on('error', (e) => errors.push(e));
  const neighbourRuns = neighbours.map(async (n, ni) => {
    const pending: Promise<SessionResult>[] = [];
    for (let b = 0; b < 40; b++) pending.push((await n.submit(batchOf(b, [`${ni}-${b}`]))).result);
    return (await Promise.all(pending)).flatMap(values);
  });
  const runawayResult = (await runaway.submit(batchOf(77, ['Loop forever']))).result;
  const err = await t.throwsAsync(runawayResult, { instanceOf: SessionTimeoutError });
  t.is(err!.firstOffset, 77);
  t.regex(err!.message, /did not finish the batch at offset 77 within 300 ms/);
  t.is(runaway.state, 'failed');
  t.true(errors[0] instanceof SessionTimeoutError);
  const outs = await Promise.all(neighbourRuns);
  outs.forEach((o, ni) => {
    t.deepEqual(
      o,
      Array.from({ length: 40 }, (_, b) => `${ni}-${b}`),
    );
  });
  await pool.ready();
  t.false(pool.workerIds.includes(victimWorker), 'the worker was replaced');
  t.is(pool.workerIds.length, 2);
  await t.throwsAsync(runaway.submit(batchOf(1, ['x'])), { instanceOf: SessionStoppedError });
  for (const n of neighbours) await n.close();
  await pool.close();
});

test('with policy skip, a timed-out batch is reported and skipped and the stream goes on', async (t) => {
  const pool = new WorkerPool({ workers: 1, watchdogIntervalMs: 20 });
  const s = new ChainSession(pool, { steps: [{ module: mod }], deadlineMs: 300, policy: 'skip' });
  await s.start();
  const a = (await s.submit(batchOf(0, ['a']))).result;
  const b = (await s.submit(batchOf(1, ['Loop']))).result;
  const c = (await s.submit(batchOf(2, ['c']))).result;
  t.deepEqual(values(await a), ['a']);
  const rb = await b;
  t.deepEqual(values(rb), []);
  t.true(rb.batches[0]!.skipped[0] instanceof SessionTimeoutError);
  t.deepEqual(values(await c), ['c']);
  t.is(s.metrics.timeouts, 1);
  t.is(s.metrics.restarts, 1);
  await s.close();
  await pool.close();
});

test('a worker killed mid-batch: its streams are restored elsewhere and every batch is delivered exactly once, in order', async (t) => {
  const pool = new WorkerPool({ workers: 2 });
  await pool.ready();
  const s = new ChainSession(pool, { steps: [{ module: mod }], maxInFlight: 16 });
  await s.start();
  const first = s.workerIds[0]!;
  const restored: number[][] = [];
  s.on('restored', (ids) => restored.push(ids));
  const pending: Promise<SessionResult>[] = [];
  for (let b = 0; b < 300; b++) {
    pending.push((await s.submit(batchOf(b, [`v${b}`, 'x'.repeat(5000)]))).result);
    if (b === 150) void pool.terminate(first);
  }
  const got = (await Promise.all(pending)).map((r) => values(r)[0]);
  t.deepEqual(
    got,
    Array.from({ length: 300 }, (_, b) => `v${b}`),
  );
  t.is(restored.length, 1);
  t.not(s.workerIds[0], first);
  t.is(s.metrics.restarts, 1);
  await s.close();
  await pool.close();
});

test('a trap stops the stream with a typed error (policy stop); with skip the batch is skipped and the instance re-created', async (t) => {
  const pool = new WorkerPool({ workers: 1 });
  const stop = new ChainSession(pool, { steps: [{ module: mod }] });
  await stop.start();
  const ok = (await stop.submit(batchOf(0, ['fine']))).result;
  const bad = (await stop.submit(batchOf(5, ['Trap']))).result;
  t.deepEqual(values(await ok), ['fine']);
  const err = await t.throwsAsync(bad, { instanceOf: SmartModuleTrapError });
  t.is(err!.firstOffset, 5);
  t.is(err!.module, 'pass');

  const skip = new ChainSession(pool, { steps: [{ module: mod }], policy: 'skip' });
  await skip.start();
  const r = await Promise.all([
    (await skip.submit(batchOf(0, ['a']))).result,
    (await skip.submit(batchOf(1, ['Trap']))).result,
    (await skip.submit(batchOf(2, ['b']))).result,
  ]);
  t.deepEqual(r.map(values), [['a'], [], ['b']]);
  t.true(r[1]!.batches[0]!.skipped[0] instanceof SmartModuleTrapError);
  t.is(skip.metrics.skipped, 1);
  await skip.close();
  await stop.close();
  await pool.close();
});

test('stateless streams fan out over every worker and are reassembled in order', async (t) => {
  const pool = new WorkerPool({ workers: 2 });
  await pool.ready();
  const s = new ChainSession(pool, { steps: [{ module: mod }], stateless: true, maxInFlight: 8 });
  await s.start();
  t.is(s.workerIds.length, 2);
  const pending: Promise<SessionResult>[] = [];
  for (let b = 0; b < 100; b++) pending.push((await s.submit(batchOf(b, [`v${b}`]))).result);
  t.deepEqual(
    (await Promise.all(pending)).map((r) => values(r)[0]),
    Array.from({ length: 100 }, (_, b) => `v${b}`),
  );
  t.is(s.moduleMetrics()[0]!.invocations, 100);
  await s.close();
  await pool.close();
});

test('an SDK-built module that loops forever is stopped at its deadline; the pool keeps its size', async (t) => {
  const spin = await loadModule(wasmPath('spin'));
  const pool = new WorkerPool({ workers: 2, watchdogIntervalMs: 20 });
  await pool.ready();
  const s = new ChainSession(pool, { steps: [{ module: spin }], deadlineMs: 250 });
  await s.start();
  t.deepEqual(values(await (await s.submit(batchOf(0, ['fine']))).result), ['fine']);
  const err = await t.throwsAsync((await s.submit(batchOf(1, ['loop']))).result, { instanceOf: SessionTimeoutError });
  t.regex(err!.message, /spin did not finish the batch at offset 1 within 250 ms/);
  await pool.ready();
  t.is(pool.workerIds.length, 2);
  await s.close();
  await pool.close();
});

test('a chain whose second module loops: the timeout error and the metrics name that module, not the first', async (t) => {
  const spin = await loadModule(wasmPath('spin'));
  const pool = new WorkerPool({ workers: 2, watchdogIntervalMs: 20 });
  await pool.ready();
  // 'loop' passes the first module (it spins only on a capital L) and makes the second spin.
  const s = new ChainSession(pool, {
    id: 'two',
    steps: [{ module: mod }, { module: spin }],
    deadlineMs: 250,
    policy: 'skip',
  });
  await s.start();
  t.deepEqual(values(await (await s.submit(batchOf(0, ['fine']))).result), ['fine']);
  const r = await (await s.submit(batchOf(1, ['loop']))).result;
  const err = r.batches[0]!.skipped[0] as SessionTimeoutError;
  t.true(err instanceof SessionTimeoutError);
  t.is(err.step, 1);
  t.is(err.module, 'spin');
  t.regex(err.message, /two: spin did not finish the batch at offset 1 within 250 ms \(step 2 of pass → spin\)/);
  // The session goes on (policy skip) on a new worker.
  t.deepEqual(values(await (await s.submit(batchOf(2, ['after']))).result), ['after']);
  const m = s.snapshotMetrics();
  t.deepEqual(
    m.modules.map((x) => [x.module, x.deadlineKills, x.restarts]),
    [
      ['pass', 0, 0],
      ['spin', 1, 1],
    ],
  );
  t.deepEqual([m.timeouts, m.restarts], [1, 1]);
  await s.close();
  await pool.close();
});

test('policy stop: a chain whose second module loops fails with an error that names it', async (t) => {
  const spin = await loadModule(wasmPath('spin'));
  const pool = new WorkerPool({ workers: 1, watchdogIntervalMs: 20 });
  const s = new ChainSession(pool, { id: 'two-stop', steps: [{ module: mod }, { module: spin }], deadlineMs: 250 });
  await s.start();
  const err = await t.throwsAsync((await s.submit(batchOf(5, ['a', 'loop']))).result, {
    instanceOf: SessionTimeoutError,
  });
  t.is(err!.module, 'spin');
  t.regex(err!.message, /spin did not finish the batch at offset 5 within 250 ms \(step 2 of pass → spin\)/);
  t.deepEqual(
    s.snapshotMetrics().modules.map((x) => [x.deadlineKills, x.restarts]),
    [
      [0, 0],
      [1, 0],
    ],
  );
  await pool.close();
});

test('released results: their buffers go back to the worker, outputs stay right as frame sizes vary, a kept view reads empty', async (t) => {
  const pool = new WorkerPool({ workers: 2 });
  await pool.ready();
  for (const stateless of [false, true]) {
    const s = new ChainSession(pool, { steps: [{ module: mod }], maxInFlight: 3, stateless });
    await s.start();
    const kept: Uint8Array[] = [];
    const queue: { result: Promise<SessionResult>; expected: string[]; b: number }[] = [];
    const check = async () => {
      const q = queue.shift()!;
      const r = await q.result;
      t.deepEqual(values(r), q.expected, `batch ${q.b} (stateless ${stateless})`);
      kept.push(r.batches[0]!.raw);
      r.release();
      r.release(); // twice is harmless
    };
    for (let b = 0; b < 90; b++) {
      // Sizes from a few bytes to ~600 KiB, so frames grow and shrink across reused buffers.
      const size = [3, 200_000, 40, 600_000, 9_000][b % 5]!;
      const expected = [`${b}:${'x'.repeat(size)}`, `${b}:end`];
      if (queue.length === 3) await check();
      queue.push({ result: (await s.submit(batchOf(b * 2, expected))).result, expected, b });
    }
    while (queue.length > 0) await check();
    // A released buffer travels back with a later task: a view kept on it is detached, never another frame's bytes.
    t.true(kept.filter((v) => v.length === 0).length >= 80, 'released buffers were handed back');
    await s.close();
  }
  await pool.close();
});

test('a stream whose batches overrun under policy skip is kept on a worker of its own: healthy streams do not wait behind its deadline kills', async (t) => {
  const pool = new WorkerPool({ workers: 2, watchdogIntervalMs: 20 });
  await pool.ready();
  const healthy = Array.from(
    { length: 3 },
    (_, i) => new ChainSession(pool, { id: `h${i}`, steps: [{ module: mod }] }),
  );
  const looper = new ChainSession(pool, { id: 'looper', steps: [{ module: mod }], deadlineMs: 200, policy: 'skip' });
  for (const s of [...healthy, looper]) await s.start();
  // The first kill may take healthy neighbours down with it; from then on the looper is alone.
  t.deepEqual(values(await looper.process(batchOf(0, ['Loop']))), []);
  for (const h of healthy) t.deepEqual(values(await h.process(batchOf(0, ['warm']))), ['warm']);
  const restored: string[] = [];
  for (const h of healthy) h.on('restored', () => restored.push(h.id));
  for (let k = 1; k <= 4; k++) {
    const loop = looper.process(batchOf(k, ['Loop']));
    const outs = await Promise.all(healthy.map((h, i) => h.process(batchOf(k, [`${i}-${k}`]))));
    t.deepEqual(
      outs.map(values),
      healthy.map((_, i) => [`${i}-${k}`]),
    );
    t.deepEqual(values(await loop), []);
  }
  t.is(looper.metrics.timeouts, 5);
  t.deepEqual(restored, [], 'no healthy stream lost its worker to the looper');
  t.false(
    healthy.some((h) => h.workerIds[0] === looper.workerIds[0]),
    'the looper shares its worker with no healthy stream',
  );
  for (const s of [...healthy, looper]) await s.close();
  await pool.close();
});

test('a task sent to a worker that is gone fails at once with a typed error (its replacement starts empty)', async (t) => {
  const pool = new WorkerPool({ workers: 1 });
  await pool.ready();
  const [gone] = pool.workerIds;
  const lost = new Promise<number>((r) => pool.once('workerLost', (id) => r(id)));
  await pool.terminate(gone!);
  t.is(await lost, gone!);
  await t.throwsAsync(pool.run(gone!, { op: 'ping' }), {
    code: 'EDDY_WORKER_GONE',
    message: /worker \d+ of the pool has exited/,
  });
  await pool.ready();
  t.notDeepEqual(pool.workerIds, [gone]);
  await pool.close();
});
