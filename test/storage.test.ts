import test from 'ava';
import { encodeRecords, indexRecords } from '../src/protocol/record.js';
import {
  DataDirLockedError,
  InvalidArgumentError,
  OffsetOutOfRangeError,
  openStorage,
  RecordTooLargeError,
  StorageFullError,
  type StoredBatch,
  TopicExistsError,
  UnknownPartitionError,
  UnknownTopicError,
} from '../src/storage/index.js';
import { collect, tempDir, tempStorage, text } from './helpers/storage.js';

const values = (n: number, prefix = 'v') => Array.from({ length: n }, (_, i) => ({ value: `${prefix}${i}` }));

test('topics: create, list with records and bytes, describe, delete', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('orders', { partitions: 3, retentionMs: 3_600_000, maxPartitionBytes: 1e9 });
  await store.createTopic('audit');
  await store.append('orders', 0, values(5));
  await store.append('orders', 2, values(2));
  const list = store.listTopics();
  t.deepEqual(
    list.map((x) => [x.name, x.partitions, x.records]),
    [
      ['audit', 1, 0],
      ['orders', 3, 7],
    ],
  );
  t.true(list[1]!.bytes > 0);
  t.like(
    list[0],
    { retentionMs: 7 * 24 * 3600 * 1000, maxPartitionBytes: 100e9, compression: 'none' },
    "Fluvio's defaults",
  );
  const d = store.describeTopic('orders');
  t.like(d, { name: 'orders', partitions: 3, retentionMs: 3_600_000, maxPartitionBytes: 1e9, records: 7 });
  t.deepEqual(
    d.partitionInfo.map((p) => [p.partition, p.startOffset, p.nextOffset, p.records, p.batches]),
    [
      [0, 0, 5, 5, 1],
      [1, 0, 0, 0, 0],
      [2, 0, 2, 2, 1],
    ],
  );
  t.is(
    d.bytes,
    d.partitionInfo.reduce((s, p) => s + p.bytes, 0),
  );

  await t.throwsAsync(store.createTopic('orders'), { instanceOf: TopicExistsError });
  await t.throwsAsync(store.createTopic('Bad_Name'), {
    instanceOf: InvalidArgumentError,
    message: /invalid topic name "Bad_Name"/,
  });
  await t.throwsAsync(store.createTopic('x', { partitions: 0 }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(store.createTopic('x', { compression: 'brotli' as never }), {
    message: /compression "brotli" is unknown: use "none", "lz4", "gzip", "snappy", "zstd"/,
  });

  await store.deleteTopic('orders');
  t.deepEqual(
    store.listTopics().map((x) => x.name),
    ['audit'],
  );
  t.throws(() => store.describeTopic('orders'), { instanceOf: UnknownTopicError });
  // Recreated under the same name: a new, empty log.
  await store.createTopic('orders', { partitions: 1 });
  t.is(store.partition('orders', 0).nextOffset, 0);
  t.deepEqual(await collect(store.consume('orders', 0).records()), []);
});

test('unknown topic and partition errors say what exists and how to create a topic', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('two', { partitions: 2 });
  const e1 = t.throws(() => store.partition('nope', 0), { instanceOf: UnknownTopicError });
  t.is(e1?.code, 'EDDY_UNKNOWN_TOPIC');
  t.regex(
    e1!.message,
    /topic "nope" does not exist; create it first, e.g. eddy.createTopic\("nope", \{ partitions: 1 \}\)/,
  );
  const e2 = t.throws(() => store.partition('two', 2), { instanceOf: UnknownPartitionError });
  t.is(e2?.code, 'EDDY_UNKNOWN_PARTITION');
  t.is(e2?.message, 'topic "two" has no partition 2: it has 2 partitions (0..1)');
  await t.throwsAsync(store.append('nope', 0, values(1)), { instanceOf: UnknownTopicError });
  await t.throwsAsync(store.deleteTopic('nope'), { instanceOf: UnknownTopicError });
});

test('append assigns contiguous offsets across concurrent calls and batches; data survives reopening', async (t) => {
  const dir = tempDir(t);
  let store = await openStorage(dir, { retentionCheckMs: 0 });
  await store.createTopic('t', { partitions: 1 });
  const log = store.partition('t', 0);
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(values(i + 1, `c${i}-`))));
  let next = 0;
  for (const [i, r] of results.entries()) {
    t.is(r.baseOffset, next);
    t.is(r.count, i + 1);
    t.is(r.lastOffset, next + i);
    next += i + 1;
  }
  t.is(log.nextOffset, 210);
  await store.close();
  store = await openStorage(dir, { retentionCheckMs: 0 });
  t.teardown(() => store.close());
  const recs = await collect(store.consume('t', 0).records());
  t.is(recs.length, 210);
  t.deepEqual(
    recs.map((r) => r.offset),
    Array.from({ length: 210 }, (_, i) => i),
  );
  t.is(text(recs[209]!.value), 'c19-19');
  t.is(store.partition('t', 0).nextOffset, 210);
  t.is((await store.append('t', 0, values(1))).baseOffset, 210);
});

test('records keep key, value, timestamp and headers', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t');
  await store.append('t', 0, [
    { key: 'k1', value: 'one', timestamp: 1_700_000_000_000, headers: { trace: 'a' } },
    { value: new Uint8Array([0, 1, 2]), timestamp: 1_700_000_000_500 },
    {
      key: new Uint8Array(0),
      value: '',
      timestamp: 1_699_999_999_000,
      headers: [
        ['a', '1'],
        ['a', '2'],
      ],
    },
  ]);
  const recs = await collect(store.consume('t', 0).records());
  t.deepEqual(
    recs.map((r) => [r.offset, text(r.key), [...r.value], r.timestamp, r.headers.map(([k, v]) => `${k}=${text(v)}`)]),
    [
      [0, 'k1', [...Buffer.from('one')], 1_700_000_000_000, ['trace=a']],
      [1, null, [0, 1, 2], 1_700_000_000_500, []],
      [2, '', [], 1_699_999_999_000, ['a=1', 'a=2']],
    ],
  );
});

test('readBatches hands out the stored raw bytes; reading from an offset inside a batch works', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t');
  await store.append('t', 0, values(5, 'a')); // 0..4
  await store.append('t', 0, values(5, 'b')); // 5..9
  const all = store.readBatches('t', 0, 0);
  t.deepEqual(
    all.map((b) => [b.baseOffset, b.lastOffset, b.count]),
    [
      [0, 4, 5],
      [5, 9, 5],
    ],
  );
  t.is(all[0]!.raw.buffer, all[0]!.value.buffer, 'raw is a view of the value read from LMDB');
  // The value owns its ArrayBuffer: it can be transferred to a worker as is.
  t.is(all[0]!.value.byteOffset, 0);
  t.is(all[0]!.value.buffer.byteLength, all[0]!.value.byteLength);
  const inside = store.readBatches('t', 0, 7);
  t.deepEqual(
    inside.map((b) => b.baseOffset),
    [5],
    'the batch containing offset 7',
  );
  t.deepEqual(
    store.readBatches('t', 0, 3).map((b) => b.baseOffset),
    [0, 5],
  );
  t.deepEqual(
    store.readBatches('t', 0, 0, { maxBatches: 1 }).map((b) => b.baseOffset),
    [0],
  );
  t.deepEqual(
    store.readBatches('t', 0, 0, { maxBytes: 1 }).map((b) => b.baseOffset),
    [0],
    'at least one batch',
  );
  t.deepEqual(
    store.readBatches('t', 0, 0, { endOffset: 4 }).map((b) => b.baseOffset),
    [0],
  );
  t.deepEqual(store.readBatches('t', 0, 10), [], 'the end');

  const recs = await collect(store.consume('t', 0, { from: { offset: 7 } }).records());
  t.deepEqual(
    recs.map((r) => [r.offset, text(r.value)]),
    [
      [7, 'b2'],
      [8, 'b3'],
      [9, 'b4'],
    ],
  );
  const batches = await collect(store.consume('t', 0, { from: { offset: 3 }, endOffset: 6 }).batches());
  t.deepEqual(
    batches.map((b) => [b.baseOffset, b.count, b.lastOffset]),
    [
      [0, 2, 4],
      [5, 2, 6],
    ],
  );
  const idx = indexRecords(batches[0]!.raw);
  t.deepEqual([idx.offsetDelta(0), text(idx.value(0))], [3, 'a3'], 'a cut batch keeps its base and deltas');
});

test('consume positions: beginning, end, absolute offset, N from the end, end offset and limit', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t');
  for (let i = 0; i < 4; i++) await store.append('t', 0, values(5, `${i}:`)); // offsets 0..19
  const offsets = async (o: Parameters<typeof store.consume>[2]) =>
    (await collect(store.consume('t', 0, o).records())).map((r) => r.offset);
  t.deepEqual(
    await offsets({}),
    Array.from({ length: 20 }, (_, i) => i),
  );
  t.deepEqual(await offsets({ from: 'end' }), []);
  t.deepEqual(await offsets({ from: { offset: 17 } }), [17, 18, 19]);
  t.deepEqual(await offsets({ from: { offset: 20 } }), []);
  t.deepEqual(await offsets({ from: { fromEnd: 3 } }), [17, 18, 19]);
  t.deepEqual(
    await offsets({ from: { fromEnd: 100 } }),
    Array.from({ length: 20 }, (_, i) => i),
  );
  t.deepEqual(await offsets({ from: { offset: 3 }, endOffset: 6 }), [3, 4, 5, 6]);
  t.deepEqual(await offsets({ from: { offset: 3 }, limit: 4 }), [3, 4, 5, 6]);
  t.deepEqual(await offsets({ limit: 0 }), []);
  t.deepEqual(await offsets({ from: { offset: 12 }, endOffset: 30, limit: 100 }), [12, 13, 14, 15, 16, 17, 18, 19]);
  const e = t.throws(() => store.consume('t', 0, { from: { offset: 21 } }), { instanceOf: OffsetOutOfRangeError });
  t.is(e?.code, 'EDDY_OFFSET_OUT_OF_RANGE');
  t.is(e?.message, 'offset 21 is out of range for t/0: valid offsets are 0..19 (or 20 to wait for the next record)');
  t.throws(() => store.readBatches('t', 0, -1), { instanceOf: OffsetOutOfRangeError });
  t.throws(() => store.consume('t', 0, { from: 'middle' as never }), { instanceOf: InvalidArgumentError });
});

test('follow mode is woken by appends (no polling) and ends on abort', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t');
  await store.append('t', 0, values(2, 'old'));
  const ac = new AbortController();
  const seen: string[] = [];
  const consumer = store.consume('t', 0, { from: 'end', follow: true, signal: ac.signal });
  const done = (async () => {
    for await (const r of consumer) {
      seen.push(`${r.offset}:${text(r.value)}`);
      if (seen.length === 3) ac.abort();
    }
  })();
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(seen, []);
  t.is(store.partition('t', 0).events.listenerCount('append'), 1, 'waiting on an event');
  await store.append('t', 0, values(1, 'new'));
  await store.append('t', 0, values(3, 'more'));
  await done;
  t.deepEqual(seen, ['2:new0', '3:more0', '4:more1']);
  t.is(store.partition('t', 0).events.listenerCount('append'), 0);

  // Abort while waiting ends the iteration quietly.
  const ac2 = new AbortController();
  const waiting = collect(store.consume('t', 0, { from: 'end', follow: true, signal: ac2.signal }).records());
  setTimeout(() => ac2.abort(), 10);
  t.deepEqual(await waiting, []);

  // A follower on a partition whose topic is deleted gets the error.
  const follower = collect(store.consume('t', 0, { from: 'end', follow: true }).records());
  await new Promise((r) => setTimeout(r, 10));
  await store.deleteTopic('t');
  await t.throwsAsync(follower, { instanceOf: UnknownTopicError });
});

test('storage events report every acknowledged append', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t', { partitions: 2 });
  const events: string[] = [];
  store.events.on('append', (e) =>
    events.push(`${e.topic}/${e.partition} ${e.baseOffset}-${e.lastOffset} next ${e.nextOffset}`),
  );
  await store.append('t', 1, values(3));
  await Promise.all([store.append('t', 0, values(1)), store.append('t', 0, values(2))]);
  t.deepEqual(events, ['t/1 0-2 next 3', 't/0 0-2 next 3']);
});

test('named consumers resume from their committed offset after a restart', async (t) => {
  const dir = tempDir(t);
  let store = await openStorage(dir, { retentionCheckMs: 0 });
  await store.createTopic('t');
  await store.append('t', 0, values(10));
  // Reads 4 records then stops: the position is committed when the iteration ends.
  const first = [];
  for await (const r of store.consume('t', 0, { consumer: 'app', limit: 4 })) first.push(r.offset);
  t.deepEqual(first, [0, 1, 2, 3]);
  t.is(store.committedOffset('app', 't', 0), 4);
  // Breaking out of a loop commits what was delivered.
  for await (const r of store.consume('t', 0, { consumer: 'app' })) if (r.offset === 5) break;
  t.is(store.committedOffset('app', 't', 0), 6);
  await store.close();

  store = await openStorage(dir, { retentionCheckMs: 0 });
  t.teardown(() => store.close());
  t.is(store.committedOffset('app', 't', 0), 6);
  t.deepEqual(
    (await collect(store.consume('t', 0, { consumer: 'app' }).records())).map((r) => r.offset),
    [6, 7, 8, 9],
  );
  t.is(store.committedOffset('app', 't', 0), 10);
  t.is(store.committedOffset('other', 't', 0), undefined);
  // Without auto-commit, commit() is explicit.
  const c = store.consume('t', 0, { consumer: 'manual', autoCommit: false, from: { offset: 2 } });
  await collect(c.records());
  t.is(store.committedOffset('manual', 't', 0), undefined);
  await c.commit(7);
  t.is(store.committedOffset('manual', 't', 0), 7);
  await store.commitOffset('x', 't', 0, 3);
  t.deepEqual(
    store
      .listCommittedOffsets()
      .map((o) => `${o.consumer}:${o.offset}`)
      .sort(),
    ['app:10', 'manual:7', 'x:3'],
  );
  await t.throwsAsync(store.commitOffset('x', 't', 0, 11), {
    instanceOf: InvalidArgumentError,
    message: /between 0 and 10/,
  });
  // Deleting the topic removes its offsets.
  await store.deleteTopic('t');
  t.deepEqual(store.listCommittedOffsets(), []);
});

test('an oversized record is refused with the limit; nothing of the call is stored; the limit is configurable', async (t) => {
  const dir = tempDir(t);
  let store = await openStorage(dir, { maxRecordBytes: 1000, retentionCheckMs: 0 });
  await store.createTopic('t');
  await store.append('t', 0, values(2));
  const err = await t.throwsAsync(store.append('t', 0, [{ value: 'fine' }, { value: new Uint8Array(2000) }]), {
    instanceOf: RecordTooLargeError,
  });
  t.regex(
    err!.message,
    /over the 1000-byte limit; raise it with openStorage\(dir, \{ maxRecordBytes: 2048 \}\).*nothing was stored/,
  );
  t.is(store.partition('t', 0).nextOffset, 2);
  await store.close();
  store = await openStorage(dir, { maxRecordBytes: 4096, retentionCheckMs: 0 });
  t.teardown(() => store.close());
  t.is((await store.append('t', 0, [{ value: new Uint8Array(2000) }])).baseOffset, 2);
});

test('storage full: a clear error naming the map size; everything stored before is intact, also after reopening; space comes back after a delete', async (t) => {
  const dir = tempDir(t);
  const mapSize = 2 * 1024 * 1024;
  let store = await openStorage(dir, { mapSize, retentionCheckMs: 0 });
  await store.createTopic('fill');
  const chunk = new Uint8Array(64 * 1024).fill(7);
  let stored = 0;
  let full: unknown = null;
  for (let i = 0; i < 100 && !full; i++) {
    try {
      const r = await store.append('fill', 0, [{ value: chunk, key: String(i) }]);
      t.is(r.baseOffset, stored);
      stored++;
    } catch (err) {
      full = err;
    }
  }
  t.true(full instanceof StorageFullError);
  const e = full as StorageFullError;
  t.is(e.code, 'EDDY_STORAGE_FULL');
  t.is(e.mapSize, mapSize);
  t.regex(
    e.message,
    /past its map size of 2097152 bytes; raise it with openStorage\(dir, \{ mapSize: \d+ \}\).*nothing of this write was stored/,
  );
  t.true(stored > 10);
  // Later writes keep failing cleanly and do not disturb the log.
  await t.throwsAsync(store.append('fill', 0, [{ value: chunk }]), { instanceOf: StorageFullError });
  t.is(store.partition('fill', 0).nextOffset, stored);
  await store.close();

  store = await openStorage(dir, { mapSize, retentionCheckMs: 0 });
  const recs = await collect(store.consume('fill', 0).records());
  t.is(recs.length, stored);
  t.true(
    recs.every(
      (r, i) =>
        r.offset === i && text(r.key) === String(i) && r.value.length === chunk.length && r.value.every((b) => b === 7),
    ),
  );
  await store.close();

  // A larger map size lets the same data grow; deleting data gives room back under the old one.
  store = await openStorage(dir, { mapSize: mapSize * 4, retentionCheckMs: 0 });
  await store.append('fill', 0, [{ value: chunk }]);
  await store.close();
  store = await openStorage(dir, { mapSize, retentionCheckMs: 0 });
  t.teardown(() => store.close());
  await store.deleteTopic('fill');
  await store.createTopic('again');
  await store.append('again', 0, [{ value: chunk }]);
  t.is(store.partition('again', 0).nextOffset, 1);
});

test('retention: time and maximum partition size remove the oldest batches; offsets continue; the newest batch stays', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('timed', { retentionMs: 60_000 });
  const now = Date.now();
  await store.append('timed', 0, [{ value: 'old1', timestamp: now - 120_000 }]);
  await store.append('timed', 0, [{ value: 'old2', timestamp: now - 90_000 }]);
  await store.append('timed', 0, [{ value: 'new', timestamp: now }]);
  t.is(await store.enforceRetention(now), 2);
  const log = store.partition('timed', 0);
  t.deepEqual([log.startOffset, log.nextOffset, log.records], [2, 3, 1]);
  t.deepEqual(
    (await collect(store.consume('timed', 0).records())).map((r) => text(r.value)),
    ['new'],
  );
  t.throws(() => store.consume('timed', 0, { from: { offset: 0 } }), { message: /valid offsets are 2\.\.2/ });
  // Everything expired: the newest batch is kept so the next offset is remembered.
  t.is(await store.enforceRetention(now + 3_600_000), 0);
  t.is((await store.append('timed', 0, values(1))).baseOffset, 3);

  await store.createTopic('sized', { maxPartitionBytes: 2000, retentionMs: null });
  const sized = store.partition('sized', 0);
  for (let i = 0; i < 20; i++) await sized.append([{ value: new Uint8Array(300).fill(i) }]);
  await sized.idle();
  t.true(sized.bytes <= 2000, `partition holds ${sized.bytes} bytes`);
  t.true(sized.startOffset > 10);
  t.is(sized.nextOffset, 20);
  const left = await collect(store.consume('sized', 0).records());
  t.deepEqual(
    left.map((r) => r.offset),
    Array.from({ length: 20 - sized.startOffset }, (_, i) => sized.startOffset + i),
  );
  t.true(left.every((r) => r.value[0] === r.offset));
  t.is(store.describeTopic('sized').bytes, sized.bytes);
});

test('a consumer overtaken by retention continues at the new start', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t', { retentionMs: 1000 });
  const now = Date.now();
  for (let i = 0; i < 5; i++) await store.append('t', 0, [{ value: `v${i}`, timestamp: i < 4 ? now - 10_000 : now }]);
  const it = store.consume('t', 0, { maxBytes: 1 }).records();
  t.is((await it.next()).value?.offset, 0);
  await store.enforceRetention(now);
  t.deepEqual(
    (await collect(it)).map((r) => r.offset),
    [4],
  );
});

test('lz4 compression: smaller on disk, same bytes back', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('plain');
  await store.createTopic('packed', { compression: 'lz4' });
  const recs = Array.from({ length: 200 }, (_, i) => ({ value: `{"event":"click","user":${i % 7},"page":"/home"}` }));
  await store.append('plain', 0, recs);
  await store.append('packed', 0, recs);
  const pages = (topic: string) => {
    const s = store.partition(topic, 0).db.getStats() as { overflowPages: number; treeLeafPageCount: number };
    return s.overflowPages + s.treeLeafPageCount;
  };
  t.true(pages('packed') < pages('plain'), `${pages('packed')} pages vs ${pages('plain')}`);
  const a = store.readBatches('plain', 0, 0);
  const b = store.readBatches('packed', 0, 0);
  t.deepEqual(Buffer.from(b[0]!.raw), Buffer.from(a[0]!.raw));
  t.is(store.describeTopic('packed').records, 200);
});

test('one writer per directory: a second writer in the same process gets an error naming the holder', async (t) => {
  const dir = tempDir(t);
  const store = await openStorage(dir, { retentionCheckMs: 0 });
  const err = await t.throwsAsync(openStorage(dir), { instanceOf: DataDirLockedError });
  t.is(err?.code, 'EDDY_DATA_DIR_LOCKED');
  t.is(err?.pid, process.pid);
  t.regex(err!.message, new RegExp(`this process \\(pid ${process.pid}\\) already has it open for writing`));
  // Readers are fine next to the writer.
  await store.createTopic('t');
  await store.append('t', 0, values(3));
  const reader = await openStorage(dir, { readOnly: true });
  t.deepEqual(
    (await collect(reader.consume('t', 0).records())).map((r) => r.offset),
    [0, 1, 2],
  );
  await t.throwsAsync(reader.append('t', 0, values(1)), { code: 'EDDY_READ_ONLY' });
  await reader.close();
  await store.close();
  const again = await openStorage(dir, { retentionCheckMs: 0 });
  await again.close();
  t.pass();
});

test('alsoWrite commits extra writes in the same transaction as the batch', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('out');
  const r = await store.append('out', 0, values(2), {
    alsoWrite: () => void store.derivedState.saveCheckpoint('s1', 0, 41),
  });
  t.is(r.count, 2);
  t.is(store.derivedState.checkpoint('s1', 0), 41);
});

test('appendRaw stores module output as is; an empty output still commits its extra writes in order', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('out');
  const log = store.partition('out', 0);
  const raw = encodeRecords([{ value: Buffer.from('x') }, { value: Buffer.from('y'), offsetDelta: 1 }]);
  const [a, b] = await Promise.all([
    log.appendRaw(
      { raw, baseTimestamp: 1_700_000_000_000 },
      { alsoWrite: () => void store.derivedState.saveCheckpoint('ck', 0, 1) },
    ),
    log.appendRaw(
      { raw: encodeRecords([]), baseTimestamp: 0 },
      { alsoWrite: () => void store.derivedState.saveCheckpoint('ck', 0, 2) },
    ),
  ]);
  t.like(a, { baseOffset: 0, lastOffset: 1, count: 2 });
  t.like(b, { baseOffset: 2, lastOffset: 1, count: 0 });
  t.is(store.derivedState.checkpoint('ck', 0), 2);
  t.deepEqual(Buffer.from(store.readBatches('out', 0, 0)[0]!.raw), Buffer.from(raw));
});

test('closed storage refuses calls with a clear error', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t');
  await store.close();
  t.throws(() => store.listTopics(), { code: 'EDDY_STORAGE_CLOSED' });
  t.throws(() => store.partition('t', 0), { code: 'EDDY_STORAGE_CLOSED' });
});

test('readBatches of an emptied stream and of batches with one record each', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t');
  const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => store.append('t', 0, [{ value: `r${i}` }])));
  t.deepEqual(
    rs.map((r) => r.baseOffset),
    Array.from({ length: 50 }, (_, i) => i),
  );
  const got: StoredBatch[] = [];
  let pos = 0;
  for (;;) {
    const b = store.readBatches('t', 0, pos, { maxBatches: 7 });
    if (!b.length) break;
    got.push(...b);
    pos = b[b.length - 1]!.lastOffset + 1;
  }
  t.is(got.length, 50);
});

test('partition databases no topic refers to are dropped when a writer opens the directory', async (t) => {
  const dir = tempDir(t);
  let store = await openStorage(dir, { retentionCheckMs: 0 });
  await store.createTopic('keep');
  await store.createTopic('lost', { partitions: 2 });
  await store.append('lost', 1, values(3));
  // As if the process died between deleting the metadata and dropping the databases.
  await store.env.openDB({ name: 'topics', encoding: 'msgpack' }).remove('lost');
  await store.close();
  store = await openStorage(dir, { retentionCheckMs: 0 });
  t.teardown(() => store.close());
  await store.close();
  const reader = await openStorage(dir, { readOnly: true });
  t.deepEqual(
    [...reader.env.getKeys({})].filter((k) => String(k).startsWith('p/')),
    ['p/1/0'],
  );
  await reader.close();
});

test('addPartitions: numbered after the existing ones, within the partition budget, seen by a later reader; validateTopic writes nothing', async (t) => {
  const dir = tempDir(t);
  const store = await openStorage(dir, { retentionCheckMs: 0, maxPartitions: 4 });
  await store.createTopic('grow', { partitions: 2 });
  await store.append('grow', 0, [{ value: 'kept' }]);
  const over = await t.throwsAsync(store.addPartitions('grow', 3), { code: 'EDDY_TOO_MANY_PARTITIONS' });
  t.regex(
    over!.message,
    /^cannot add 3 partitions to topic "grow": this data directory has room for 2 more .*nothing was added$/,
  );
  t.is(store.describeTopic('grow').partitions, 2);
  await t.throwsAsync(store.addPartitions('grow', 0), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(store.addPartitions('nope'), { instanceOf: UnknownTopicError });
  t.deepEqual(store.validateTopic('fresh'), {
    partitions: 1,
    retentionMs: 7 * 24 * 3600 * 1000,
    maxPartitionBytes: 100e9,
    compression: 'none',
    dedup: null,
  });
  t.deepEqual(
    store.listTopics().map((m) => m.name),
    ['grow'],
    'validateTopic created nothing',
  );
  t.deepEqual(await store.addPartitions('grow', 2), [2, 3]);
  await store.append('grow', 3, [{ value: 'new' }]);
  t.throws(
    () => store.validateTopic('fresh', { partitions: 1 }),
    { code: 'EDDY_TOO_MANY_PARTITIONS' },
    'the budget is used up',
  );
  await store.close();

  const reader = await openStorage(dir, { readOnly: true, retentionCheckMs: 0, maxPartitions: 8 });
  t.teardown(() => reader.close());
  t.deepEqual(
    reader.describeTopic('grow').partitionInfo.map((p) => p.records),
    [1, 0, 0, 1],
  );
  t.throws(() => reader.validateTopic('grow'), { instanceOf: TopicExistsError });
  t.notThrows(() => reader.validateTopic('fresh', { partitions: 3 }));
  t.deepEqual(
    reader.listTopics().map((m) => m.name),
    ['grow'],
  );
});
