import test from 'ava';
import { prng } from '../src/bench/input.js';
import { encodeRecords, indexRecords } from '../src/protocol/record.js';
import { crc32Small } from '../src/storage/crc32.js';
import { crc32cSmall } from '../src/storage/crc32c.js';
import { CorruptBatchError, RecordTooLargeError } from '../src/storage/errors.js';
import {
  BATCH_HEADER_SIZE,
  batchChecksum,
  decodeHeaderSection,
  encodeBatches,
  encodeRawBatch,
  fluvioKeyHash,
  partitionForKey,
  readBatchHeader,
  sealBatch,
  sipHash24,
  sliceBatch,
  viewBatch,
} from '../src/storage/index.js';
import { text } from './helpers/storage.js';

const limits = { maxRecordBytes: 1 << 20, maxBatchBytes: 1 << 20 };
const enc = (s: string) => Buffer.from(s);
/** What a partition does when it stores a batch at `key` (writes the checksum), then the read view. */
const stored = (key: number, value: Uint8Array) => {
  sealBatch(key, value);
  return viewBatch(key, value);
};

test('a stored batch is a 40-byte big-endian header, exactly the Vec<Record> bytes a SmartModule reads, and a CRC-32 trailer', (t) => {
  const now = 1_700_000_000_000;
  const [b] = encodeBatches(
    [{ value: 'dog' }, { key: 'K', value: 'v', timestamp: now - 1 }, { value: 'x', timestamp: now + 5 }],
    now,
    limits,
    't/0',
  );
  const value = b!.value;
  // The raw section is byte-identical to the protocol encoder's output for the same records.
  const expected = encodeRecords([
    { value: enc('dog'), offsetDelta: 0, timestampDelta: 0 },
    { key: enc('K'), value: enc('v'), offsetDelta: 1, timestampDelta: -1 },
    { value: enc('x'), offsetDelta: 2, timestampDelta: 5 },
  ]);
  t.deepEqual(Buffer.from(value.subarray(BATCH_HEADER_SIZE, value.length - 4)), Buffer.from(expected));
  const h = readBatchHeader(value);
  t.like(h, {
    version: 1,
    flags: 2 | 32, // a checksum trailer, and it is CRC-32
    count: 3,
    lastOffsetDelta: 2,
    rawLength: expected.length,
    baseTimestamp: now,
    maxTimestamp: now + 5,
  });
  // Fixed big-endian fields at fixed places.
  t.deepEqual([...value.subarray(0, 16)], [1, 34, 0, 0, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, expected.length]);
  t.is(Buffer.from(value).readBigInt64BE(16), BigInt(now));
  // The trailer: CRC-32 of u64be(offset) ‖ everything before it, written when the offset is known.
  t.throws(() => viewBatch(42, value), { instanceOf: CorruptBatchError }, 'not sealed yet');
  sealBatch(42, value);
  const key = new Uint8Array(8);
  new DataView(key.buffer).setUint32(4, 42);
  t.is(
    Buffer.from(value).readUInt32BE(value.length - 4),
    crc32Small(value.subarray(0, value.length - 4), crc32Small(key)),
  );
  t.is(Buffer.from(value).readUInt32BE(value.length - 4), batchChecksum(42, value));
  const view = viewBatch(42, value);
  t.is(view.baseOffset, 42);
  t.is(view.lastOffset, 44);
  t.is(view.raw.byteOffset - value.byteOffset, BATCH_HEADER_SIZE, 'raw is a view, not a copy');
});

test('a batch stored before CRC-32 trailers (flag bit 5 clear) is still checked, with CRC32C', (t) => {
  const [b] = encodeBatches([{ value: 'old' }, { value: 'batch' }], 1_700_000_000_000, limits, 't/0');
  const value = b!.value;
  value[1] = value[1]! & ~32; // as written before bit 5 existed
  const key = new Uint8Array(8);
  new DataView(key.buffer).setUint32(4, 7);
  const old = crc32cSmall(value.subarray(0, value.length - 4), crc32cSmall(key));
  new DataView(value.buffer, value.byteOffset).setUint32(value.length - 4, old);
  t.is(batchChecksum(7, value), old);
  t.is(viewBatch(7, value).count, 2);
  value[BATCH_HEADER_SIZE + 6] = value[BATCH_HEADER_SIZE + 6]! ^ 1; // a flipped bit in a record
  t.throws(() => viewBatch(7, value), { instanceOf: CorruptBatchError, message: /stored CRC32C/ });
});

test('the fast path for plain byte records writes exactly what the general path writes', (t) => {
  const now = 1_700_000_000_000;
  const sizes = [0, 1, 63, 64, 100, 8191, 8192, 20_000];
  const plain = Array.from({ length: 300 }, (_, i) => ({
    value: new Uint8Array(sizes[i % sizes.length]!).fill(i & 0xff),
    key: i % 3 === 0 ? null : i % 3 === 1 ? undefined : new Uint8Array(i % 70).fill(7),
  }));
  const general = plain.map((r) => ({ ...r, timestamp: now })); // an explicit timestamp takes the general path
  for (const lim of [limits, { maxRecordBytes: 30_000, maxBatchBytes: 40_000 }]) {
    const a = encodeBatches(plain, now, lim, 't/0');
    const b = encodeBatches(general, now, lim, 't/0');
    t.deepEqual(
      a.map((x) => [x.count, x.first]),
      b.map((x) => [x.count, x.first]),
    );
    for (let i = 0; i < a.length; i++) t.true(Buffer.from(a[i]!.value).equals(Buffer.from(b[i]!.value)));
  }
  t.throws(
    () => encodeBatches([{ value: new Uint8Array(100) }], now, { maxRecordBytes: 50, maxBatchBytes: 1000 }, 't/0'),
    { instanceOf: RecordTooLargeError },
  );
});

test('timestamps further apart than the i32 delta range start a new batch', (t) => {
  const base = 1_700_000_000_000;
  const far = base + 2 ** 31; // one past the largest delta Fluvio encodes correctly
  const batches = encodeBatches(
    [
      { value: 'a', timestamp: base },
      { value: 'b', timestamp: base + 2 ** 31 - 1 },
      { value: 'c', timestamp: far + 10 },
      { value: 'd', timestamp: base },
    ],
    base,
    limits,
    't/0',
  );
  t.deepEqual(
    batches.map((b) => b.count),
    [2, 1, 1],
  );
  const stamps = batches.flatMap((b) => {
    const v = stored(0, b.value);
    const idx = indexRecords(v.raw);
    return Array.from({ length: idx.count }, (_, i) => v.baseTimestamp + idx.timestampDelta(i));
  });
  t.deepEqual(stamps, [base, base + 2 ** 31 - 1, far + 10, base]);
});

test('batches close at maxBatchBytes; a record over maxRecordBytes is refused with the limit named', (t) => {
  const value = new Uint8Array(1000);
  const batches = encodeBatches(
    Array.from({ length: 10 }, () => ({ value })),
    0,
    { maxRecordBytes: 2000, maxBatchBytes: 3100 },
    't/0',
  );
  t.deepEqual(
    batches.map((b) => b.count),
    [3, 3, 3, 1],
  );
  t.deepEqual(
    batches.map((b) => b.first),
    [0, 3, 6, 9],
  );
  const err = t.throws(
    () =>
      encodeBatches(
        [{ value: 'ok' }, { value: new Uint8Array(3000) }],
        0,
        { maxRecordBytes: 2000, maxBatchBytes: 1 << 20 },
        'big/0',
      ),
    {
      instanceOf: RecordTooLargeError,
    },
  );
  t.is(err?.code, 'EDDY_RECORD_TOO_LARGE');
  t.is(err?.index, 1);
  t.regex(
    err!.message,
    /record 1 for big\/0 is 300\d bytes encoded, over the 2000-byte limit; raise it with openStorage\(dir, \{ maxRecordBytes: 4096 \}\)/,
  );
});

test('headers: the record carries the count, the pairs live after the records where modules never look', (t) => {
  const [b] = encodeBatches(
    [
      { value: 'a' },
      { value: 'b', headers: { trace: 'abc', bin: new Uint8Array([0, 255]) } },
      {
        value: 'c',
        headers: [
          ['x', 'y'],
          ['x', 'z'],
        ],
      },
    ],
    0,
    limits,
    't/0',
  );
  const v = stored(0, b!.value);
  const idx = indexRecords(v.raw);
  t.is(idx.end, v.raw.length, 'the raw section ends where the records end');
  t.deepEqual(
    [0, 1, 2].map((i) => idx.headers(i)),
    [0, 2, 2],
  );
  const h = decodeHeaderSection(v.headerSection!);
  t.deepEqual([...h.keys()], [1, 2]);
  t.deepEqual(
    h.get(1)!.map(([k, val]) => [k, [...val]]),
    [
      ['trace', [97, 98, 99]],
      ['bin', [0, 255]],
    ],
  );
  t.deepEqual(
    h.get(2)!.map(([k, val]) => [k, text(val)]),
    [
      ['x', 'y'],
      ['x', 'z'],
    ],
  );
});

test('encodeRawBatch keeps module output bytes when deltas are 0..n-1 and renumbers them otherwise', (t) => {
  const contiguous = encodeRecords([{ value: enc('a') }, { value: enc('b'), offsetDelta: 1, timestampDelta: 3 }]);
  const r1 = encodeRawBatch({ raw: contiguous, baseTimestamp: 100 }, limits, 't/0')!;
  t.deepEqual(Buffer.from(r1.value.subarray(BATCH_HEADER_SIZE, r1.value.length - 4)), Buffer.from(contiguous));
  t.is(readBatchHeader(r1.value).maxTimestamp, 103);
  // A filter kept records 1 and 3; an array_map gave every output delta 0.
  const gaps = encodeRecords([
    { key: enc('k'), value: enc('b'), offsetDelta: 1, timestampDelta: 2 },
    { value: enc('d'), offsetDelta: 3 },
  ]);
  const r2 = encodeRawBatch(
    { raw: gaps, baseTimestamp: 100, headers: new Map([[3, [['h', enc('v')] as [string, Uint8Array]]]]) },
    limits,
    't/0',
  )!;
  const v2 = stored(10, r2.value);
  const idx = indexRecords(v2.raw);
  t.deepEqual([idx.offsetDelta(0), idx.offsetDelta(1)], [0, 1]);
  t.deepEqual([text(idx.key(0)), text(idx.value(0)), idx.timestampDelta(0)], ['k', 'b', 2]);
  t.deepEqual([...decodeHeaderSection(v2.headerSection!).keys()], [1], 'headers follow their record to its new delta');
  t.is(encodeRawBatch({ raw: encodeRecords([]), baseTimestamp: 0 }, limits, 't/0'), null);
});

test('encodeRawBatch renumbers seeded outputs byte-exactly: keys or not, deltas and lengths of every varint width', (t) => {
  const next = prng(11);
  const rnd = (n: number) => Math.floor(next() * n);
  for (let round = 0; round < 60; round++) {
    // Increasing deltas with gaps (a filter), or repeats (an array_map), of 1 to 5 varint bytes.
    let d = [0, 60, 70, 9000, 2_000_000, 300_000_000][rnd(6)]!;
    const records = Array.from({ length: 1 + rnd(30) }, () => {
      d += round % 3 === 0 ? 0 : rnd(200);
      return {
        key: rnd(2) ? enc('k'.repeat(rnd(100))) : null,
        value: enc('v'.repeat([0, 3, 63, 64, 150, 9000][rnd(6)]!)),
        offsetDelta: d,
        timestampDelta: [-70_000, -1, 0, 5, 100, 2_000_000][rnd(6)]!,
        attributes: rnd(2),
      };
    });
    const r = encodeRawBatch({ raw: encodeRecords(records), baseTimestamp: 1_000_000_000 }, limits, 't/0')!;
    // The stored list is exactly the records re-encoded with offset deltas 0..n-1.
    t.deepEqual(
      Buffer.from(stored(0, r.value).raw),
      Buffer.from(encodeRecords(records.map((x, i) => ({ ...x, offsetDelta: i })))),
      `round ${round}`,
    );
  }
});

test('encodeRawBatch re-encodes a record whose declared length disagrees with its fields (Fluvio reads it)', (t) => {
  // One record, length prefix 1 too long, followed by a spare byte: Fluvio's decoder reads the
  // fields and goes on from where they end.
  const good = encodeRecords([{ value: enc('abc'), offsetDelta: 5 }]);
  const sloppy = new Uint8Array(good.length + 1);
  sloppy.set(good);
  sloppy[4] = good[4]! + 2; // zigzag: the length plus one
  const r = encodeRawBatch({ raw: sloppy, baseTimestamp: 0 }, limits, 't/0')!;
  t.deepEqual(Buffer.from(stored(0, r.value).raw), Buffer.from(encodeRecords([{ value: enc('abc') }])));
});

test('sliceBatch cuts a batch to an offset range and keeps base offset and deltas', (t) => {
  const [b] = encodeBatches(
    ['a', 'b', 'c', 'd'].map((value) => ({ value })),
    5,
    limits,
    't/0',
  );
  const v = stored(10, b!.value);
  t.is(sliceBatch(v, 10, 13), v);
  const s = sliceBatch(v, 11, 12);
  t.is(s.baseOffset, 10);
  t.is(s.count, 2);
  t.is(s.lastOffset, 12);
  const idx = indexRecords(s.raw);
  t.deepEqual([idx.offsetDelta(0), idx.offsetDelta(1)], [1, 2]);
  t.deepEqual([text(idx.value(0)), text(idx.value(1))], ['b', 'c']);
});

test('SipHash-2-4 matches the reference vectors; keys map to partitions as Fluvio computes them', (t) => {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  const msg = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);
  t.is(sipHash24(msg(0), key), 0x726fdb47dd0e0e31n);
  t.is(sipHash24(msg(1), key), 0x74f839c593dc67fdn);
  t.is(sipHash24(msg(8), key), 0x93f5f5799a932462n);
  t.is(sipHash24(msg(15), key), 0xa129ca6149be45e5n);
  t.is(sipHash24(msg(63), key), 0x958a324ceb064572n);
  // Fluvio hashes Rust's `<[u8] as Hash>`: the length as u64 little-endian, then the bytes.
  for (const k of ['', 'a', 'user-1', 'a much longer key with more than one block of bytes']) {
    const b = enc(k);
    const withLen = Buffer.concat([Buffer.from(new BigUint64Array([BigInt(b.length)]).buffer), b]);
    t.is(fluvioKeyHash(b), sipHash24(withLen));
    for (const n of [1, 2, 3, 7, 1000, 2 ** 31 - 1]) t.is(partitionForKey(b, n), Number(fluvioKeyHash(b) % BigInt(n)));
  }
});
