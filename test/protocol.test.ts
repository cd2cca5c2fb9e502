import test from 'ava';
import fc from 'fast-check';
import { DecodeError, EncodeError } from '../src/errors.js';
import {
  ByteReader,
  ByteWriter,
  decodeInitInput,
  decodeInitOutput,
  decodeInput,
  decodeLookbackOutput,
  decodeOutput,
  decodeRecords,
  encodeAggregateInput,
  encodeInitInput,
  encodeInitOutput,
  encodeInput,
  encodeLookbackOutput,
  encodeOutput,
  encodeRecords,
  indexRecords,
  type RecordInput,
  readVarint,
  skipRecords,
  writeVarint,
} from '../src/protocol/index.js';
import { hex, text, toHex } from './helpers/hex.js';

const TS = 1700000000000;

// §3 varint vectors
const VARINTS: [number, string][] = [
  [0, '00'],
  [-1, '01'],
  [1, '02'],
  [63, '7e'],
  [64, '80 01'],
  [-65, '81 01'],
  [300, 'd8 04'],
  [8191, 'fe 7f'],
  [-134217729, '81 80 80 80 01'],
  [2147483647, 'fe ff ff ff 0f'],
];

test('varint vectors encode and decode (spec §3)', (t) => {
  for (const [n, h] of VARINTS) {
    const buf = new Uint8Array(5);
    const end = writeVarint(buf, 0, n);
    t.is(toHex(buf.subarray(0, end)), toHex(hex(h)), `encode ${n}`);
    const out = { value: 0, end: 0 };
    readVarint(hex(h), 0, out);
    t.is(out.value, n, `decode ${h}`);
  }
});

test('varint refuses values Fluvio would corrupt, and truncated input', (t) => {
  t.throws(() => writeVarint(new Uint8Array(10), 0, 2 ** 31), { instanceOf: EncodeError });
  t.throws(() => writeVarint(new Uint8Array(10), 0, -(2 ** 31) - 1), { instanceOf: EncodeError });
  t.throws(() => readVarint(hex('80 80'), 0, { value: 0, end: 0 }), { instanceOf: DecodeError });
  // Decoding reads full 64-bit zig-zag values (the decoder is not limited to 32 bits).
  const out = { value: 0, end: 0 };
  readVarint(hex('80 80 80 80 20'), 0, out);
  t.is(out.value, 2 ** 32);
});

test('primitive encodings (spec §3 table)', (t) => {
  const w = new ByteWriter(4);
  w.u8(0xff).u16(5).i32(16).i64(100).bool(true).string('wo').bytesVec(text('ab'));
  t.is(toHex(w.finish()), toHex(hex('ff 0005 00000010 0000000000000064 01 0002 776f 00000002 6162')));
  const r = new ByteReader(w.finish());
  t.is(r.u8(), 0xff);
  t.is(r.u16(), 5);
  t.is(r.i32(), 16);
  t.is(r.i64(), 100);
  t.true(r.bool());
  t.is(r.string(), 'wo');
  t.deepEqual([...r.bytesVec()], [0x61, 0x62]);
  t.throws(() => new ByteReader(hex('02')).bool(), { instanceOf: DecodeError });
  // Leniencies: a non-positive string length or vec count reads as empty.
  t.is(new ByteReader(hex('ffff 61')).string(), '');
  t.is(new ByteReader(hex('ffffffff')).bytesVec().length, 0);
  t.throws(() => new ByteReader(hex('0001 ff')).string(), { instanceOf: DecodeError, message: /UTF-8/ });
  t.throws(() => new ByteWriter().string('x'.repeat(40000)), { instanceOf: EncodeError });
  t.is(toHex(new ByteWriter().i64(-1).finish()), 'ffffffffffffffff');
  t.is(new ByteReader(hex('ffffffffffffffff')).i64(), -1);
  t.is(new ByteReader(hex('0000018bcfe56800')).i64(), TS);
});

test('record vectors (spec §4.1)', (t) => {
  const dog = hex('12 | 00 | 00 | 02 | 00 | 06 64 6f 67 | 00');
  t.is(toHex(encodeRecords([{ value: text('dog'), offsetDelta: 1 }]).subarray(4)), toHex(dog));
  const kv = hex('14 00 01 d8 04 01 02 4b 02 76 00');
  const rec = { key: text('K'), value: text('v'), timestampDelta: -1, offsetDelta: 300 };
  t.is(toHex(encodeRecords([rec]).subarray(4)), toHex(kv));
  const [decoded] = decodeRecords(new Uint8Array([0, 0, 0, 1, ...kv]));
  t.deepEqual(decoded, {
    key: text('K'),
    value: text('v'),
    timestampDelta: -1,
    offsetDelta: 300,
    attributes: 0,
    headers: 0,
  });
  t.throws(() => decodeRecords(new Uint8Array([0, 0, 0, 1, ...hex('14 00 01 d8 04 07')])), { instanceOf: DecodeError });
  t.throws(() => decodeRecords(hex('00000001 12 00')), { instanceOf: DecodeError, message: /length/ });
  // Only `len` bytes are checked to remain; the fields are then read in order past it (Fluvio's leniency).
  const sloppy = decodeRecords(hex('00000001 02 00 00 00 00 02 61 00'));
  t.is(Buffer.from(sloppy[0]!.value).toString(), 'a');
  // A value longer than what remains is truncated; the missing header count then fails, as in Fluvio.
  t.throws(() => decodeRecords(hex('00000001 06 00 00 00 00 0a 6162 00')), {
    instanceOf: DecodeError,
    message: /past the end/,
  });
  t.throws(() => decodeRecords(hex('00000001 06 00 00 00 00 01 00')), { instanceOf: DecodeError, message: /negative/ });
});

const TV1_IN = `00000000 00000064 | 00000029 | 00000003
  16 00 00 00 00 0a 6170706c65 00  16 00 00 02 00 0a 68656c6c6f 00  18 00 00 04 00 0c 62616e616e61 00
  0000 | 00 | 00000000 | 0000018bcfe56800`;
const TV1_OUT = '00000002 | 16000000000a6170706c6500 | 18000004000c62616e616e6100 | 00';
const TV2_IN = `0000000000000064 0000002c 00000003
  1c 00 00 00 01 04 6b30 0a 6170706c65 00  16 00 00 02 01 04 6b31 04 ff61 00  18 00 00 04 00 0c 62616e616e61 00
  0000 00 00000000 0000018bcfe56800`;
const TV2_OUT = `00000001 1c00000001046b300a6170706c6500
  01 | 002e "invalid utf-8 sequence of 1 bytes from index 0" 696e76616c6964207574662d382073657175656e6365206f6620312062797465732066726f6d20696e6465782030
  | 0000000000000065 | 00 | 01 04 6b31 | 04 ff61`;
const TV3_IN = `0000000000000000 00000050 00000002
  4a 00 06 00 00 3e 7b226c6576656c223a22696e666f222c226d657373616765223a227570227d 00
  4a 00 08 02 00 3e 7b226c6576656c223a226465627567222c226d657373616765223a2278227d 00
  0000 00 00000000 0000018bcfe56800`;

test('TV1/TV3/TV4 inputs: encoding from records gives the spec bytes, decoding gives the records', (t) => {
  const tv1 = encodeInput({
    baseOffset: 100,
    baseTimestamp: TS,
    raw: encodeRecords([
      { value: text('apple') },
      { value: text('hello'), offsetDelta: 1 },
      { value: text('banana'), offsetDelta: 2 },
    ]),
  });
  t.is(toHex(tv1), toHex(hex(TV1_IN)));
  const d = decodeInput(hex(TV1_IN));
  t.is(d.baseOffset, 100);
  t.is(d.baseTimestamp, TS);
  t.deepEqual(
    decodeRecords(d.raw).map((r) => Buffer.from(r.value).toString()),
    ['apple', 'hello', 'banana'],
  );

  const tv3 = encodeInput({
    baseOffset: 0,
    baseTimestamp: TS,
    raw: encodeRecords([
      { value: text('{"level":"info","message":"up"}'), timestampDelta: 3 },
      { value: text('{"level":"debug","message":"x"}'), offsetDelta: 1, timestampDelta: 4 },
    ]),
  });
  t.is(toHex(tv3), toHex(hex(TV3_IN)));
  t.is(
    toHex(encodeInput({ baseOffset: 0, baseTimestamp: 0, raw: encodeRecords([]) })),
    toHex(hex('0000000000000000 00000004 00000000 0000 00 00000000 0000000000000000')),
  );
});

test('TV2 input and output: runtime error payload decodes to hint, offset, kind, key, value', (t) => {
  const raw = encodeRecords([
    { key: text('k0'), value: text('apple') },
    { key: text('k1'), value: hex('ff61'), offsetDelta: 1 },
    { value: text('banana'), offsetDelta: 2 },
  ]);
  t.is(toHex(encodeInput({ baseOffset: 100, baseTimestamp: TS, raw })), toHex(hex(TV2_IN)));
  const out = decodeOutput(hex(TV2_OUT));
  t.is(out.count, 1);
  t.is(Buffer.from(decodeRecords(out.successes)[0]!.key!).toString(), 'k0');
  t.deepEqual(out.error, {
    hint: 'invalid utf-8 sequence of 1 bytes from index 0',
    offset: 101,
    kind: 0,
    key: text('k1'),
    value: hex('ff61'),
  });
  t.is(toHex(encodeOutput(out.successes, out.error)), toHex(hex(TV2_OUT)));
});

test('TV1/TV3/TV4 outputs decode and re-encode byte for byte', (t) => {
  const o1 = decodeOutput(hex(TV1_OUT));
  t.is(o1.count, 2);
  t.deepEqual(
    decodeRecords(o1.successes).map((r) => [Buffer.from(r.value).toString(), r.offsetDelta]),
    [
      ['apple', 0],
      ['banana', 2],
    ],
  );
  t.is(toHex(encodeOutput(o1.successes, null)), toHex(hex(TV1_OUT)));
  const tv3Out = hex('00000001 4a000600003e7b226c6576656c223a22696e666f222c226d657373616765223a227570227d00 00');
  const o3 = decodeOutput(tv3Out);
  t.is(decodeRecords(o3.successes)[0]!.timestampDelta, 3);
  t.is(toHex(encodeOutput(o3.successes, null)), toHex(tv3Out));
  const o4 = decodeOutput(hex('00000000 00'));
  t.is(o4.count, 0);
  t.is(o4.error, null);
});

test('TV5 (v17) and TV6 (v25) input layouts', (t) => {
  const raw = encodeRecords([{ value: text('a') }]);
  t.is(
    toHex(encodeInput({ baseOffset: 0, baseTimestamp: TS, raw }, 17)),
    toHex(hex('0000000000000000 0000000c 00000001 0e00000000026100 | 0000 | 00000000')),
  );
  t.is(
    toHex(encodeInput({ baseOffset: 0, baseTimestamp: TS, raw }, 25)),
    toHex(hex('0000000000000000 0000000c 00000001 0e00000000026100 0000018bcfe56800')),
  );
  const d25 = decodeInput(hex('0000000000000000 0000000c 00000001 0e00000000026100 0000018bcfe56800'), 25);
  t.is(d25.baseTimestamp, TS);
  t.is(toHex(decodeOutput(hex('00000001 0e00000000026100 00')).successes), '000000010e00000000026100');
  // Versions < 16 carry no join_record; 16–19 carry params without lookback.
  t.is(
    toHex(encodeInput({ baseOffset: 0, baseTimestamp: 0, raw }, 15)),
    toHex(hex('0000000000000000 0000000c 00000001 0e00000000026100 0000')),
  );
  t.is(
    toHex(encodeInput({ baseOffset: 0, baseTimestamp: 0, raw }, 21)),
    toHex(hex('0000000000000000 0000000c 00000001 0e00000000026100 0000 00 00000000')),
  );
});

test('TV7–TV9 init inputs, TV8 init output', (t) => {
  t.is(toHex(encodeInitInput({ params: { key: 'a' } })), toHex(hex('0001 0003 6b6579 0001 61 00')));
  t.is(toHex(encodeInitInput({ params: {} })), toHex(hex('0000 00')));
  const tv9 = hex('0002 0001 62 0001 78 0003 6b6579 0001 61 | 01 000000000000000a 01 0000000000000e10 00000000');
  t.is(
    toHex(
      encodeInitInput({
        params: new Map([
          ['key', 'a'],
          ['b', 'x'],
        ]),
        lookback: { last: 10, ageMs: 3600_000 },
      }),
    ),
    toHex(tv9),
  );
  const d = decodeInitInput(tv9);
  t.deepEqual(
    [...d.params],
    [
      ['b', 'x'],
      ['key', 'a'],
    ],
  );
  t.deepEqual(d.lookback, { last: 10, ageMs: 3600_000 });
  const tv8 = hex('0011 4d697373696e6720706172616d206b6579');
  t.is(decodeInitOutput(tv8).hint, 'Missing param key');
  t.is(toHex(encodeInitOutput('Missing param key')), toHex(tv8));
});

test('aggregate input/output, look_back input and error payload (encoder-only vectors)', (t) => {
  const agg = encodeAggregateInput(
    { baseOffset: 5, baseTimestamp: TS, raw: encodeRecords([{ value: text('c') }]) },
    text('ab'),
  );
  const aggHex =
    '00 00 00 00 00 00 00 05 | 00 00 00 0c 00 00 00 01 0e 00 00 00 00 02 63 00 | 00 00 | 00 | 00 00 00 00 | 00 00 01 8b cf e5 68 00 | 00 00 00 02 61 62';
  t.is(toHex(agg), toHex(hex(aggHex)));
  t.deepEqual(decodeInput(hex(aggHex), 22, true).accumulator, text('ab'));
  const aggOut = hex('00 00 00 01 12 00 00 00 00 06 61 62 63 00 | 00 | 00 00 00 03 61 62 63');
  const o = decodeOutput(aggOut, true);
  t.deepEqual(o.accumulator, text('abc'));
  t.is(toHex(encodeOutput(o.successes, null, o.accumulator)), toHex(aggOut));
  const lb = encodeInput({
    baseOffset: 0,
    baseTimestamp: 0,
    raw: encodeRecords([{ value: text('2') }, { value: text('3'), offsetDelta: 1 }]),
  });
  t.is(
    toHex(lb),
    toHex(
      hex('0000000000000000 00000014 00000002 0e00000000023200 0e00000200023300 0000 00 00000000 0000000000000000'),
    ),
  );
  const lbErr = hex('0003 626164 0000000000000000 00 02 78');
  t.deepEqual(decodeLookbackOutput(lbErr), { hint: 'bad', offset: 0, key: null, value: text('x') });
  t.is(toHex(encodeLookbackOutput({ hint: 'bad', offset: 0, key: null, value: text('x') })), toHex(lbErr));
});

const bytesArb = (max: number) => fc.uint8Array({ maxLength: max });
const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  key: fc.option(bytesArb(64), { nil: null }),
  value: fc.oneof({ weight: 8, arbitrary: bytesArb(300) }, { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) }),
  offsetDelta: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  timestampDelta: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  attributes: fc.integer({ min: 0, max: 255 }),
  headers: fc.integer({ min: 0, max: 100_000 }),
});

test('property: any record list round-trips through encode/index/decode', (t) => {
  fc.assert(
    fc.property(fc.array(recordArb, { maxLength: 40 }), (records) => {
      const bytes = encodeRecords(records);
      const idx = indexRecords(bytes);
      const skip = skipRecords(bytes, 0);
      if (
        idx.count !== records.length ||
        skip.count !== records.length ||
        idx.end !== bytes.length ||
        skip.end !== bytes.length
      )
        return false;
      return records.every((r, i) => {
        const d = idx.record(i);
        return (
          Buffer.compare(d.value, r.value) === 0 &&
          (r.key ? d.key !== null && Buffer.compare(d.key, r.key) === 0 : d.key === null) &&
          d.offsetDelta === r.offsetDelta &&
          d.timestampDelta === r.timestampDelta &&
          d.attributes === r.attributes &&
          d.headers === r.headers &&
          Buffer.compare(idx.encoded(i), encodeRecords([r]).subarray(4)) === 0
        );
      });
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('property: inputs and outputs round-trip at every version, with errors and accumulators', (t) => {
  fc.assert(
    fc.property(
      fc.array(recordArb, { maxLength: 10 }),
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: 0, max: 2 ** 45 }),
      fc.integer({ min: 0, max: 25 }),
      bytesArb(50),
      fc.option(
        fc.record({
          hint: fc.string({ maxLength: 100 }),
          offset: fc.integer({ min: 0, max: 2 ** 40 }),
          kind: fc.integer({ min: 0, max: 4 }),
          key: fc.option(bytesArb(20), { nil: null }),
          value: bytesArb(50),
        }),
        { nil: null },
      ),
      (records, baseOffset, baseTimestamp, version, acc, error) => {
        const raw = encodeRecords(records);
        const dIn = decodeInput(encodeAggregateInput({ baseOffset, baseTimestamp, raw }, acc, version), version, true);
        if (
          dIn.baseOffset !== baseOffset ||
          Buffer.compare(dIn.raw, raw) !== 0 ||
          Buffer.compare(dIn.accumulator!, acc) !== 0
        )
          return false;
        if (version >= 22 && dIn.baseTimestamp !== baseTimestamp) return false;
        const out = decodeOutput(encodeOutput(raw, error, acc), true);
        return (
          Buffer.compare(out.successes, raw) === 0 &&
          out.count === records.length &&
          Buffer.compare(out.accumulator!, acc) === 0 &&
          JSON.stringify(
            out.error && { ...out.error, key: out.error.key && [...out.error.key], value: [...out.error.value] },
          ) === JSON.stringify(error && { ...error, key: error.key && [...error.key], value: [...error.value] })
        );
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

test('property: 1 MiB values, empty values, binary keys and many headers round-trip', (t) => {
  const big = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff);
  const records: RecordInput[] = [
    { value: big, key: null, headers: 1_000_000 },
    { value: new Uint8Array(0), key: new Uint8Array([0, 255, 0]) },
    { value: big.subarray(7), key: big.subarray(0, 70_000), offsetDelta: 1, headers: 2 ** 31 - 1 },
  ];
  const out = decodeRecords(encodeRecords(records));
  t.is(out.length, 3);
  t.deepEqual(out[0]!.value, big);
  t.is(out[0]!.headers, 1_000_000);
  t.deepEqual(out[1]!.key, new Uint8Array([0, 255, 0]));
  t.is(out[2]!.key!.length, 70_000);
  t.is(out[2]!.headers, 2 ** 31 - 1);
});

test('corrupt input: counts that cannot fit, bad key flags, bad bool in output', (t) => {
  t.throws(() => indexRecords(hex('7fffffff 00')), { instanceOf: DecodeError, message: /cannot fit/ });
  t.throws(() => decodeOutput(hex('00000000 02')), { instanceOf: DecodeError, message: /bool/ });
  t.throws(() => decodeOutput(hex('000000')), { instanceOf: DecodeError });
});
