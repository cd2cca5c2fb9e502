import test from 'ava';
import { encodeRecords } from '../src/protocol/record.js';
import { InvalidArgumentError, UnknownPartitionError } from '../src/storage/index.js';
import { collect, tempStorage, text } from './helpers/storage.js';

const bytes = (s: string) => Buffer.from(s, 'utf8');
/** A batch of `n` records `prefix-i`, keyed on even i, 5 ms apart. */
const batchOf = (prefix: string, n: number) =>
  encodeRecords(
    Array.from({ length: n }, (_, i) => ({
      key: i % 2 === 0 ? bytes(`k${i}`) : null,
      value: bytes(`${prefix}-${i}`),
      offsetDelta: i,
      timestampDelta: i * 5,
    })),
  );

test('sendEncoded: records come back identical, with contiguous offsets and timestamps', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t');
  const p = store.producer('t', { lingerMs: 0 });
  const first = await p.send({ value: 'before' });
  const r = await p.sendEncoded({ raw: batchOf('a', 4), baseTimestamp: 1_000_000 });
  t.deepEqual(r, { topic: 't', partition: 0, baseOffset: 1, lastOffset: 4, count: 4 });
  const r2 = await p.sendEncoded({ raw: batchOf('b', 2), baseTimestamp: 2_000_000, partition: 0 });
  t.is(r2.baseOffset, 5);
  t.is(first.offset, 0);
  const recs = await collect(store.consume('t', 0).records());
  t.deepEqual(
    recs.map((x) => [x.offset, text(x.key), text(x.value), x.timestamp]),
    [
      [0, null, 'before', recs[0]!.timestamp],
      [1, 'k0', 'a-0', 1_000_000],
      [2, null, 'a-1', 1_000_005],
      [3, 'k2', 'a-2', 1_000_010],
      [4, null, 'a-3', 1_000_015],
      [5, 'k0', 'b-0', 2_000_000],
      [6, null, 'b-1', 2_000_005],
    ],
  );
  t.is(p.stored, 7);
  await p.close();
});

test('sendEncoded: records still lingering are stored before the encoded batch', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t');
  const p = store.producer('t', { lingerMs: 10_000 });
  const lingering = p.send({ value: 'first' });
  await p.sendEncoded({ raw: batchOf('x', 1), baseTimestamp: 1 });
  t.is((await lingering).offset, 0);
  const recs = await collect(store.consume('t', 0).records());
  t.deepEqual(
    recs.map((x) => text(x.value)),
    ['first', 'x-0'],
  );
  await p.close();
});

test('sendEncoded: the topic compression applies and readers see the same records', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('packed', { compression: 'lz4' });
  const p = store.producer('packed', { lingerMs: 0 });
  await p.sendEncoded({ raw: batchOf('same-value-same-value', 50), baseTimestamp: 7 });
  const recs = await collect(store.consume('packed', 0).records());
  t.is(recs.length, 50);
  t.is(text(recs[49]!.value), 'same-value-same-value-49');
  await p.close();
});

test('sendEncoded: a malformed batch is refused naming where, and nothing is stored', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t');
  const p = store.producer('t', { lingerMs: 0 });
  const good = batchOf('a', 3);
  const cases: [string, Uint8Array, RegExp][] = [
    ['cut short', good.subarray(0, good.length - 3), /t\/0: record 2/],
    ['trailing bytes', Buffer.concat([good, Buffer.from([1, 2])]), /2 bytes follow the last record \(byte \d+\)/],
    [
      'count too large',
      Buffer.concat([Buffer.from([0, 0, 0, 9]), good.subarray(4)]),
      /record 3 at byte \d+ is missing; the count says 9/,
    ],
    [
      'negative count',
      Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), good.subarray(4)]),
      /negative record count/,
    ],
    [
      'offset deltas not 0..n-1',
      encodeRecords([
        { value: bytes('a'), offsetDelta: 0 },
        { value: bytes('b'), offsetDelta: 2 },
      ]),
      /record 1 at byte \d+ has offset delta 2/,
    ],
    ['no count', Buffer.from([0, 0]), /missing i32 record count \(byte 0\)/],
    [
      'record headers',
      encodeRecords([{ value: bytes('a'), headers: 1 }]),
      /record 0 at byte 4 declares 1 record headers/,
    ],
  ];
  // A record whose length prefix claims one byte more than its fields take (a longer record follows).
  const lying = Buffer.from(encodeRecords([{ value: bytes('abc') }, { value: bytes('defghij'), offsetDelta: 1 }]));
  lying[4] += 2; // zigzag: +1 byte
  cases.push(['length prefix disagrees with fields', lying, /record 0 at byte 4 declares/]);
  for (const [name, raw, message] of cases) {
    const err = await t.throwsAsync(
      p.sendEncoded({ raw, baseTimestamp: 1 }),
      { instanceOf: InvalidArgumentError },
      name,
    );
    t.regex(err!.message, message, name);
  }
  await t.throwsAsync(p.sendEncoded({ raw: good, baseTimestamp: -5 }), { message: /baseTimestamp -5/ });
  await t.throwsAsync(p.sendEncoded({ raw: 'nope' as never, baseTimestamp: 1 }), {
    message: /raw must be a Uint8Array/,
  });
  await t.throwsAsync(p.sendEncoded({ raw: good, baseTimestamp: 1, partition: 3 }), {
    instanceOf: UnknownPartitionError,
  });
  t.is(store.partition('t', 0).nextOffset, 0, 'nothing stored');
  t.is(p.stored, 0);
  await p.close();
});

test('sendEncoded: several partitions need a named one; dedup topics and transforms are refused', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('multi', { partitions: 2 });
  const p = store.producer('multi', { lingerMs: 0 });
  await t.throwsAsync(p.sendEncoded({ raw: batchOf('a', 1), baseTimestamp: 1 }), { message: /2 partitions/ });
  const r = await p.sendEncoded({ raw: batchOf('a', 1), baseTimestamp: 1, partition: 1 });
  t.is(r.partition, 1);
  await store.createTopic('once', { dedup: { count: 10, ageMs: 60_000 } });
  const d = store.producer('once');
  await t.throwsAsync(d.sendEncoded({ raw: batchOf('a', 1), baseTimestamp: 1 }), { message: /deduplicates by key/ });
  const x = store.producer('multi', { transform: (b) => ({ raw: b.raw }) as never });
  await t.throwsAsync(x.sendEncoded({ raw: batchOf('a', 1), baseTimestamp: 1, partition: 0 }), {
    message: /transform/,
  });
  t.is(store.partition('once', 0).nextOffset, 0);
  t.is(store.partition('multi', 0).nextOffset, 0);
  await Promise.all([p.close(), d.close(), x.close()]);
});

test('sendEncoded: concurrent producers interleave whole batches, offsets stay gap-free', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t');
  const producers = Array.from({ length: 4 }, () => store.producer('t', { lingerMs: 0 }));
  const results = await Promise.all(
    producers.flatMap((p, w) =>
      Array.from({ length: 25 }, (_, i) =>
        i % 2 === 0
          ? p.sendEncoded({ raw: batchOf(`w${w}-${i}`, 3), baseTimestamp: 1 })
          : p.sendAll([{ value: `w${w}-${i}-r` }]).then(([a]) => ({ baseOffset: a!.offset!, count: 1 })),
      ),
    ),
  );
  const recs = await collect(store.consume('t', 0).records());
  const total = results.reduce((s, r) => s + r.count, 0);
  t.is(recs.length, total);
  t.deepEqual(
    recs.map((r) => r.offset),
    Array.from({ length: total }, (_, i) => i),
  );
  for (const r of results) {
    // Each encoded batch is stored whole, at the offsets it was told.
    const first = text(recs[r.baseOffset]!.value)!;
    if (r.count === 3) t.regex(first, /-0$/);
  }
  await Promise.all(producers.map((p) => p.close()));
});
