import test from 'ava';
import { open as openLmdb } from 'lmdb';
import type { Storage, TopicConfig } from '../src/storage/index.js';
import { openStorage } from '../src/storage/index.js';
import { planRange } from '../src/storage/range-plan.js';
import { batchesSince, lastRecordsBatches } from '../src/storage/tail.js';
import { tempStorage } from './helpers/storage.js';

/** The questions storage answers for the coordinator: batch ranges, look-back tails, derived-stream state. */

const values = (n: number, prefix = 'v') => Array.from({ length: n }, (_, i) => ({ value: `${prefix}${i}` }));

/** Appends batches of the given sizes, one append each; returns the partition's log. */
async function batches(store: Storage, sizes: number[], timestamps: number[] = [], config: TopicConfig = {}) {
  await store.createTopic('t', config);
  for (const [i, n] of sizes.entries()) {
    const ts = timestamps[i];
    await store.append(
      't',
      0,
      values(n).map((r) => (ts === undefined ? r : { ...r, timestamp: ts })),
    );
  }
  return store.partition('t', 0);
}

test('planRange: the batches covering offsets from `from`, at most maxBatches, cut at endOffset', async (t) => {
  const { store } = await tempStorage(t);
  const log = await batches(store, [3, 3, 3, 3]); // batches at 0, 3, 6, 9; next offset 12
  t.deepEqual(planRange(log, 0, 16), { keys: [0, 3, 6, 9], from: 0, end: 12 });
  // `from` inside a batch: that batch is the first; the range ends where the batch after the last starts.
  t.deepEqual(planRange(log, 4, 2), { keys: [3, 6], from: 4, end: 9 });
  t.deepEqual(planRange(log, 1, 16, 7), { keys: [0, 3, 6], from: 1, end: 8 });
  t.is(planRange(log, 12, 16), null, 'nothing stored at or after the end');
  t.is(planRange(log, 8, 16, 7), null, 'from past endOffset');
});

test('planRange starts at the oldest stored batch when retention removed the one holding `from`', async (t) => {
  const { store } = await tempStorage(t);
  const now = Date.now();
  const log = await batches(store, [2, 2, 2], [now - 120_000, now - 90_000, now], { retentionMs: 60_000 });
  t.is(await store.enforceRetention(now), 2);
  t.deepEqual(planRange(log, 0, 16), { keys: [4], from: 4, end: 6 });
});

test('lastRecordsBatches: the batches holding the last N records, and the first of their offsets', async (t) => {
  const { store } = await tempStorage(t);
  const log = await batches(store, [3, 3, 3]);
  const last4 = lastRecordsBatches(log, 4);
  t.is(last4.from, 5);
  t.deepEqual(
    last4.batches.map((b) => b.baseOffset),
    [3, 6],
  );
  const all = lastRecordsBatches(log, 100);
  t.is(all.from, 0);
  t.deepEqual(
    all.batches.map((b) => b.baseOffset),
    [0, 3, 6],
  );
});

test('batchesSince: walking back from the newest batch while one may hold a record that young, oldest first', async (t) => {
  const { store } = await tempStorage(t);
  const log = await batches(store, [2, 2, 2], [1_000, 2_000, 3_000]);
  t.deepEqual(
    batchesSince(log, 2_000).map((b) => b.baseOffset),
    [2, 4],
  );
  t.deepEqual(
    batchesSince(log, 0).map((b) => b.baseOffset),
    [0, 2, 4],
  );
  t.deepEqual(batchesSince(log, 3_001), []);
});

test('derived-stream state: definitions, checkpoints and failures by name; delete removes one stream only', async (t) => {
  const { store } = await tempStorage(t);
  const state = store.derivedState;
  await state.saveDefinition('b', { name: 'b' });
  await state.saveDefinition('a', { name: 'a' });
  await state.saveDefinition('ab', { name: 'ab' });
  for (const name of ['a', 'ab']) {
    for (const p of [0, 1]) {
      await state.saveCheckpoint(name, p, { offset: p + 1 });
      await state.saveFailure(name, p, { code: 'X' });
    }
  }
  t.deepEqual(state.definitions(), [{ name: 'a' }, { name: 'ab' }, { name: 'b' }]);
  t.deepEqual([state.checkpoint('a', 1), state.failure('a', 0)], [{ offset: 2 }, { code: 'X' }]);
  await state.clearFailure('a', 0);
  t.is(state.failure('a', 0), undefined);
  await state.clearFailure('a', 0); // nothing to clear: no error

  await state.delete('a');
  t.deepEqual(state.definitions(), [{ name: 'ab' }, { name: 'b' }]);
  t.deepEqual(
    [state.definition('a'), state.checkpoint('a', 0), state.checkpoint('a', 1), state.failure('a', 1)],
    [undefined, undefined, undefined, undefined],
  );
  // "ab" shares the prefix and keeps everything.
  t.deepEqual(
    [state.checkpoint('ab', 0), state.checkpoint('ab', 1), state.failure('ab', 1)],
    [{ offset: 1 }, { offset: 2 }, { code: 'X' }],
  );
});

test('derived-stream state kept by an earlier version under `streams` is read in place, and moved by a writer', async (t) => {
  const { store, dir } = await tempStorage(t);
  await store.derivedState.saveDefinition('d', { name: 'd' });
  await store.derivedState.saveCheckpoint('d', 0, { offset: 7 });
  await store.close();
  // Lay the directory out as an earlier version did: the same entries in a database named `streams`.
  const env = openLmdb({ path: dir, maxDbs: 64 });
  const current = env.openDB({ name: 'derived-streams', encoding: 'msgpack' });
  const legacy = env.openDB({ name: 'streams', encoding: 'msgpack' });
  env.transactionSync(() => {
    for (const { key, value } of current.getRange({})) legacy.putSync(key, value);
    current.dropSync();
  });
  await env.close();
  const names = async () => {
    const raw = openLmdb({ path: dir, maxDbs: 64, readOnly: true });
    const list = [...raw.getKeys({})].map(String).filter((n) => n.includes('stream'));
    await raw.close();
    return list;
  };
  t.deepEqual(await names(), ['streams']);

  const reader = await openStorage(dir, { readOnly: true });
  t.deepEqual(
    [reader.derivedState.definitions(), reader.derivedState.checkpoint('d', 0)],
    [[{ name: 'd' }], { offset: 7 }],
  );
  await reader.close();
  t.deepEqual(await names(), ['streams'], 'a reader changes nothing');

  const writer = await openStorage(dir);
  t.deepEqual(
    [writer.derivedState.definitions(), writer.derivedState.checkpoint('d', 0)],
    [[{ name: 'd' }], { offset: 7 }],
  );
  await writer.close();
  t.deepEqual(await names(), ['derived-streams'], 'the writer moved it');
});
