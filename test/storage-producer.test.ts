import test from 'ava';
import { encodeRecords, indexRecords } from '../src/protocol/record.js';
import { loadModule } from '../src/smartmodule/index.js';
import type { BatchInput, BatchOutput } from '../src/smartmodule/types.js';
import { ProduceTransformError, partitionForKey, UnknownPartitionError } from '../src/storage/index.js';
import { collect, tempStorage, text } from './helpers/storage.js';
import { wasmPath } from './helpers/wasm.js';

const batchesOf = (store: Awaited<ReturnType<typeof tempStorage>>['store'], topic: string) =>
  store.describeTopic(topic).partitionInfo.map((p) => p.batches);

test('linger gathers separate sends into one batch; batchSize closes batches', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t');
  const p = store.producer('t', { lingerMs: 30 });
  const sends = [p.send({ value: 'a' }), p.send({ value: 'b' }), p.send({ value: 'c' })];
  await new Promise((r) => setTimeout(r, 5));
  t.is(store.partition('t', 0).nextOffset, 0, 'still lingering');
  const acks = await Promise.all(sends);
  t.deepEqual(
    acks.map((a) => a.offset),
    [0, 1, 2],
  );
  t.deepEqual(batchesOf(store, 't'), [1]);

  await store.createTopic('sized');
  const q = store.producer('sized', { lingerMs: 1000, batchSize: 1000 });
  const value = new Uint8Array(92); // 100 bytes counted per record
  const all = q.sendAll(Array.from({ length: 25 }, () => ({ value })));
  await q.flush();
  t.deepEqual(
    (await all).map((a) => a.offset),
    Array.from({ length: 25 }, (_, i) => i),
  );
  t.deepEqual(batchesOf(store, 'sized'), [3], '10 + 10 + 5 records');
  const sizes = store.readBatches('sized', 0, 0).map((b) => b.count);
  t.deepEqual(sizes, [10, 10, 5]);
  await q.close();
  await t.throwsAsync(q.send({ value: 'late' }), { message: /closed/ });
});

test('keyed records always go to the same partition (SipHash, as Fluvio); keyless ones round-robin', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t', { partitions: 3 });
  const p = store.producer('t', { lingerMs: 0 });
  const keys = Array.from({ length: 60 }, (_, i) => `user-${i}`);
  const first = await p.sendAll(keys.map((key) => ({ key, value: 'x' })));
  const second = await p.sendAll(keys.map((key) => ({ key, value: 'y' })));
  for (let i = 0; i < keys.length; i++) {
    t.is(first[i]!.partition, second[i]!.partition);
    t.is(first[i]!.partition, partitionForKey(Buffer.from(keys[i]!), 3));
  }
  t.true(new Set(first.map((a) => a.partition)).size === 3, 'keys spread over all partitions');
  const keyless = await p.sendAll(Array.from({ length: 6 }, (_, i) => ({ value: `n${i}` })));
  t.deepEqual(
    keyless.map((a) => a.partition),
    [0, 1, 2, 0, 1, 2],
  );
  const explicit = await p.send({ value: 'here', partition: 2 });
  t.is(explicit.partition, 2);
  await t.throwsAsync(p.send({ value: 'x', partition: 3 }), { instanceOf: UnknownPartitionError });
  const custom = store.producer('t', { lingerMs: 0, partitioner: () => 1 });
  t.deepEqual(
    (await custom.sendAll([{ value: 'a' }, { key: 'k', value: 'b' }])).map((a) => a.partition),
    [1, 1],
  );
  // Every record landed once: per partition, offsets 0..n-1.
  const total = store.describeTopic('t').partitionInfo.reduce((s, x) => s + x.records, 0);
  t.is(total, 60 * 2 + 6 + 1 + 2);
});

test('producer-side SmartModules run before storing: a real filter module', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('fruit');
  const instance = (await loadModule(wasmPath('filter'))).instantiate();
  t.teardown(() => instance.dispose());
  const p = store.producer('fruit', { lingerMs: 0, transform: (b) => instance.process(b) });
  const acks = await p.sendAll([
    { value: 'apple' },
    { value: 'kiwi' },
    { key: 'k', value: 'banana', headers: { src: 'x' } },
    { value: 'plum' },
  ]);
  t.deepEqual(
    acks.map((a) => a.offset),
    [0, null, 1, null],
    'dropped records have no offset',
  );
  const recs = await collect(store.consume('fruit', 0).records());
  t.deepEqual(
    recs.map((r) => [r.offset, text(r.key), text(r.value), r.headers.map(([k, v]) => `${k}=${text(v)}`)]),
    [
      [0, null, 'apple', []],
      [1, 'k', 'banana', ['src=x']],
    ],
  );
  const idx = indexRecords(store.readBatches('fruit', 0, 0)[0]!.raw);
  t.deepEqual([idx.offsetDelta(0), idx.offsetDelta(1)], [0, 1], 'stored offsets renumbered to stay contiguous');
});

test('producer transforms: async hooks, outputs that cannot be matched, errors that store nothing', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t');
  // An array_map-like hook: two outputs per input, all offset delta 0.
  const split = async (b: BatchInput): Promise<BatchOutput> => {
    const idx = indexRecords(b.raw);
    const out = [];
    for (let i = 0; i < idx.count; i++)
      for (const part of text(idx.value(i))!.split(',')) out.push({ value: Buffer.from(part) });
    return { raw: encodeRecords(out), count: out.length, error: null };
  };
  const p = store.producer('t', { lingerMs: 0, transform: split });
  const acks = await p.sendAll([{ value: 'a,b' }, { value: 'c' }]);
  t.deepEqual(
    acks.map((a) => a.offset),
    [null, null],
  );
  t.deepEqual(
    (await collect(store.consume('t', 0).records())).map((r) => [r.offset, text(r.value)]),
    [
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ],
  );

  const failing = store.producer('t', {
    lingerMs: 0,
    transform: () => ({ raw: encodeRecords([]), count: 0, error: { message: 'bad record' } as never }),
  });
  const err = await t.throwsAsync(failing.send({ value: 'x' }), { instanceOf: ProduceTransformError });
  t.regex(err!.message, /producer transform failed for t\/0: bad record; the batch was not stored/);
  const throwing = store.producer('t', {
    lingerMs: 0,
    transform: () => {
      throw new Error('boom');
    },
  });
  await t.throwsAsync(throwing.send({ value: 'x' }), { code: 'EDDY_PRODUCE_TRANSFORM', message: /boom/ });
  t.is(store.partition('t', 0).nextOffset, 3);
});

test('a stateful transform sees batches in order (aggregate across batches)', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('sum');
  const instance = (await loadModule(wasmPath('aggregate-sum'))).instantiate();
  t.teardown(() => instance.dispose());
  const p = store.producer('sum', { lingerMs: 0, batchSize: 8, transform: (b) => instance.process(b) });
  const acks = await Promise.all(['1', '2', '3', '4'].map((value) => p.send({ value })));
  t.deepEqual(
    acks.map((a) => a.offset),
    [0, 1, 2, 3],
  );
  t.deepEqual(
    (await collect(store.consume('sum', 0).records())).map((r) => text(r.value)),
    ['1', '3', '6', '10'],
  );
});

test('concurrent sendAll calls over partitions: every ack names the stored record, batches close at batchSize', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('mix', { partitions: 3 });
  const batchSize = 700;
  const p = store.producer('mix', { lingerMs: 0, batchSize });
  // Deterministic sizes: small records, some larger than a whole batch, and one call over
  // the producer's 1 MiB slice so it is queued in several turns next to the others.
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const calls = [40, 900, 25, 9000].map((n, c) =>
    Array.from({ length: n }, (_, i) => {
      const size = c === 3 ? 120 + (i % 7) : rnd() < 0.05 ? 800 + Math.floor(rnd() * 400) : Math.floor(rnd() * 150);
      const value = Buffer.alloc(size, 0x61 + ((c + i) % 26));
      value.write(`${c}:${i}:`, 0);
      return {
        value: size < 12 ? Buffer.from(`${c}:${i}:`) : value,
        partition: c === 1 ? i % 3 : (c + i) % 2,
        ...(i % 5 === 0 ? { key: `k${i}` } : {}),
      };
    }),
  );
  const acks = await Promise.all(calls.map((records) => p.sendAll(records)));
  for (let p2 = 0; p2 < 3; p2++) {
    const stored = await collect(store.consume('mix', p2).records());
    t.deepEqual(
      stored.map((r) => r.offset),
      Array.from({ length: stored.length }, (_, i) => i),
      `partition ${p2} contiguous`,
    );
  }
  const byPartition = [0, 1, 2].map((q) => store.readBatches('mix', q, 0, { maxBytes: Infinity }));
  const total = calls.reduce((s, c) => s + c.length, 0);
  t.is(
    byPartition.flat().reduce((s, b) => s + b.count, 0),
    total,
    'every record stored once',
  );
  const stored = await Promise.all([0, 1, 2].map((q) => collect(store.consume('mix', q).records())));
  calls.forEach((records, c) => {
    records.forEach((r, i) => {
      const a = acks[c]![i]!;
      if (a.partition !== r.partition || text(stored[a.partition]![a.offset!]!.value) !== text(r.value))
        t.fail(`call ${c} record ${i}: ack ${JSON.stringify(a)}`);
    });
  });
  // A batch holds records up to batchSize (key + value + 8 each), more only for a single record.
  for (const q of [0, 1, 2]) {
    let off = 0;
    for (const b of byPartition[q]!) {
      const sizes = stored[q]!.slice(off, off + b.count).map((r) => r.value.length + (r.key?.length ?? 0) + 8);
      off += b.count;
      const sum = sizes.reduce((s, x) => s + x, 0);
      if (b.count > 1 && sum > batchSize)
        t.fail(`partition ${q}: batch at ${b.baseOffset} holds ${sum} bytes in ${b.count} records`);
    }
  }

  // Lingering, with a batch open across the 1 MiB slice boundary of one large call.
  await store.createTopic('long');
  const lp = store.producer('long', { lingerMs: 20, batchSize: 64 * 1024 });
  const big = Array.from({ length: 12_000 }, (_, i) => ({ value: Buffer.from(`${i}`.padEnd(92, '.')) }));
  const bigAcks = await lp.sendAll(big);
  t.deepEqual(
    bigAcks.map((a) => a.offset),
    big.map((_, i) => i),
  );
  const longStored = await collect(store.consume('long', 0).records());
  t.is(longStored.length, big.length);
  t.is(text(longStored[11_999]!.value), text(big[11_999]!.value));
  t.true(
    store.readBatches('long', 0, 0, { maxBytes: Infinity }).every((b) => b.count <= 656),
    'batches of ≤ 64 KiB',
  );
});
