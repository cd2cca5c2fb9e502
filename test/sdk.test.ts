import { readFileSync } from 'node:fs';
import test from 'ava';
import {
  decodeOutput,
  decodeRecords,
  encodeAggregateInput,
  encodeInput,
  encodeRecords,
} from '../src/protocol/index.js';
import { listFixtureModules } from '../src/sdk-build/fixtures.js';
import { DirectHost, moduleShape, sigText } from './helpers/direct-host.js';
import { hex, toHex } from './helpers/hex.js';
import { wasmPath } from './helpers/wasm.js';

const TS = '0000018bcfe56800';
const TRANSFORMS = ['filter', 'map', 'filter_map', 'array_map', 'aggregate'];

// --- structure: every built module honours the ABI (spec §1) ---------------------------------

for (const m of listFixtureModules()) {
  test(`ABI shape: ${m.origin} ${m.name}`, (t) => {
    const bytes = readFileSync(wasmPath(m.name));
    const shape = moduleShape(bytes);
    t.deepEqual(
      shape.imports.map((i) => `${i.module}.${i.name}:${sigText(i.sig)}`),
      ['env.copy_records:(i32,i32)->()'],
    );
    const ex = new Map(shape.exports.map((e) => [e.name, e]));
    t.is(ex.get('memory')?.kind, 'memory');
    t.is(sigText(ex.get('alloc')?.sig), '(i32)->(i32)');
    t.is(sigText(ex.get('dealloc')?.sig), '(i32,i32)->()');
    const transforms = TRANSFORMS.filter((n) => ex.has(n));
    t.is(transforms.length, 1, `exactly one transform export, got ${transforms.join(',')}`);
    for (const n of [...transforms, 'init', 'look_back']) {
      if (ex.has(n)) t.is(sigText(ex.get(n)!.sig), '(i32,i32,i32)->(i32)', n);
    }
    // Nothing else a host could trip on.
    const allowed = new Set(['memory', 'alloc', 'dealloc', 'init', 'look_back', ...TRANSFORMS]);
    t.deepEqual(
      shape.exports.filter((e) => !allowed.has(e.name)).map((e) => e.name),
      [],
    );
    t.true(WebAssembly.validate(bytes));
  });
}

// --- byte-exact spec vectors (spec §10) ---------------------------------------------------------

function filterHost(): DirectHost {
  return new DirectHost(readFileSync(wasmPath('filter')));
}

test('TV1: filter keeps apple and banana, byte for byte', (t) => {
  const r = filterHost().call(
    'filter',
    hex(`00000000 00000064 | 00000029 | 00000003
     16 00 00 00 00 0a 6170706c65 00
     16 00 00 02 00 0a 68656c6c6f 00
     18 00 00 04 00 0c 62616e616e61 00
     0000 | 00 | 00000000 | ${TS}`),
  );
  t.is(r.rc, 2);
  t.is(toHex(r.out!), toHex(hex('00000002 | 16000000000a6170706c6500 | 18000004000c62616e616e6100 | 00')));
});

test('TV2: invalid UTF-8 becomes a runtime error record with the successes before it', (t) => {
  const r = filterHost().call(
    'filter',
    hex(`0000000000000064 0000002c 00000003
     1c 00 00 00 01 04 6b30 0a 6170706c65 00
     16 00 00 02 01 04 6b31 04 ff61 00
     18 00 00 04 00 0c 62616e616e61 00
     0000 00 00000000 ${TS}`),
  );
  t.is(r.rc, 1);
  t.is(
    toHex(r.out!),
    toHex(
      hex(`00000001 1c00000001046b300a6170706c6500
     01 | 002e "invalid utf-8 sequence of 1 bytes from index 0" 696e76616c6964207574662d382073657175656e6365206f6620312062797465732066726f6d20696e6465782030
     | 0000000000000065 | 00 | 01 04 6b31 | 04 ff61`),
    ),
  );
});

test('TV3-shaped input: the filter example keeps timestamp deltas', (t) => {
  // TV3 is for filter_json; here the plain filter sees the same bytes and keeps both (both contain "a").
  const input = hex(`0000000000000000 00000050 00000002
     4a 00 06 00 00 3e 7b226c6576656c223a22696e666f222c226d657373616765223a227570227d 00
     4a 00 08 02 00 3e 7b226c6576656c223a226465627567222c226d657373616765223a2278227d 00
     0000 00 00000000 ${TS}`);
  const r = filterHost().call('filter', input);
  t.is(r.rc, 2);
  const recs = decodeRecords(decodeOutput(r.out!).successes);
  t.deepEqual(
    recs.map((x) => [x.timestampDelta, x.offsetDelta]),
    [
      [3, 0],
      [4, 1],
    ],
  );
});

test('TV3: filter-json keeps the info log with its timestamp delta', (t) => {
  const r = new DirectHost(readFileSync(wasmPath('filter-json'))).call(
    'filter',
    hex(`0000000000000000 00000050 00000002
     4a 00 06 00 00 3e 7b226c6576656c223a22696e666f222c226d657373616765223a227570227d 00
     4a 00 08 02 00 3e 7b226c6576656c223a226465627567222c226d657373616765223a2278227d 00
     0000 00 00000000 ${TS}`),
  );
  t.is(r.rc, 1);
  t.is(
    toHex(r.out!),
    toHex(hex('00000001 4a000600003e7b226c6576656c223a22696e666f222c226d657373616765223a227570227d00 00')),
  );
});

test('TV4: empty list', (t) => {
  const r = filterHost().call('filter', hex('0000000000000000 00000004 00000000 0000 00 00000000 0000000000000000'));
  t.is(r.rc, 0);
  t.is(toHex(r.out!), '0000000000');
});

test('TV5: v17 input (no lookback byte, no timestamp)', (t) => {
  const r = filterHost().call(
    'filter',
    hex('0000000000000000 0000000c 00000001 0e00000000026100 | 0000 | 00000000'),
    17,
  );
  t.is(r.rc, 1);
  t.is(toHex(r.out!), toHex(hex('00000001 0e00000000026100 00')));
});

test('v25 input (spec §5.11: no params, no join_record) decodes', (t) => {
  const r = filterHost().call('filter', hex(`0000000000000000 0000000c 00000001 0e00000000026100 ${TS}`), 25);
  t.is(r.rc, 1);
  t.is(toHex(r.out!), toHex(hex('00000001 0e00000000026100 00')));
});

test('every version a host may send decodes the same records', (t) => {
  const raw = encodeRecords([
    { value: Buffer.from('apple') },
    { value: Buffer.from('kiwi'), offsetDelta: 1 },
    { value: Buffer.from('pear'), offsetDelta: 2 },
  ]);
  for (const v of [0, 10, 15, 16, 17, 19, 20, 21, 22, 23, 24, 25, 30]) {
    const input = encodeInput({ baseOffset: 7, baseTimestamp: 1700000000000, raw }, v);
    const r = filterHost().call('filter', input, v);
    t.is(r.rc, 2, `v${v}`);
    const out = decodeOutput(r.out!);
    t.deepEqual(
      decodeRecords(out.successes).map((x) => Buffer.from(x.value).toString()),
      ['apple', 'pear'],
      `v${v}`,
    );
  }
});

test('runtime error offset is base_offset + offset_delta at v25 too', (t) => {
  const raw = encodeRecords([{ value: Buffer.from('a') }, { value: Buffer.from([0xc3]), offsetDelta: 4 }]);
  const r = filterHost().call('filter', encodeInput({ baseOffset: 1000, baseTimestamp: 5, raw }, 25), 25);
  t.is(r.rc, 1);
  const out = decodeOutput(r.out!);
  t.is(out.error!.offset, 1004);
  t.is(out.error!.hint, 'incomplete utf-8 byte sequence from index 0');
  t.is(out.error!.kind, 0);
  t.is(out.error!.key, null);
});

test('undecodable input: negative status, nothing announced (spec §5.10)', (t) => {
  const h = filterHost();
  // base input too short
  let r = h.call('filter', hex('00000000'));
  t.is(r.rc, -11);
  t.is(r.out, null);
  // raw_bytes length larger than the buffer
  r = h.call('filter', hex('0000000000000000 000000ff 00000001'));
  t.is(r.rc, -11);
  // records undecodable (bad key tag) — current glue reports -11 for non-aggregate
  const bad = hex('00000001 0e 00 00 00 07 02 61 00');
  r = h.call('filter', encodeInput({ baseOffset: 0, baseTimestamp: 0, raw: bad }));
  t.is(r.rc, -11);
  t.is(r.out, null);
  // the instance still works afterwards
  r = h.call(
    'filter',
    encodeInput({ baseOffset: 0, baseTimestamp: 0, raw: encodeRecords([{ value: Buffer.from('a') }]) }),
  );
  t.is(r.rc, 1);
});

test('a negative RecordData length traps, as the Rust decoder aborts', (t) => {
  const raw = hex('00000001 0e 00 00 00 00 01 61 00'); // value length varint 01 = -1
  t.throws(() => filterHost().call('filter', encodeInput({ baseOffset: 0, baseTimestamp: 0, raw })), {
    instanceOf: WebAssembly.RuntimeError,
  });
});

test('memory stays flat over thousands of batches when the host frees outputs', (t) => {
  const h = filterHost();
  const raw = encodeRecords(
    Array.from({ length: 500 }, (_, i) => ({ value: Buffer.from(`value-${i}-${'x'.repeat(100)}-a`), offsetDelta: i })),
  );
  const input = encodeInput({ baseOffset: 0, baseTimestamp: 0, raw });
  for (let i = 0; i < 10; i++) h.call('filter', input); // heap settles (TLSF fragmentation)
  const before = h.memory.buffer.byteLength;
  for (let i = 0; i < 3000; i++) t.is(h.call('filter', input).rc, 500);
  t.is(h.memory.buffer.byteLength, before);
});

test('aggregate accumulator round trip through the direct host (spec §5.4, §5.6)', (t) => {
  const h = new DirectHost(readFileSync(wasmPath('aggregate-sum')));
  const raw = encodeRecords([{ value: Buffer.from('1') }, { value: Buffer.from('2'), offsetDelta: 1 }]);
  const r = h.call('aggregate', encodeAggregateInput({ baseOffset: 0, baseTimestamp: 0, raw }, Buffer.from('10')));
  t.is(r.rc, 2);
  const out = decodeOutput(r.out!, true);
  t.deepEqual(
    decodeRecords(out.successes).map((x) => Buffer.from(x.value).toString()),
    ['11', '13'],
  );
  t.is(Buffer.from(out.accumulator!).toString(), '13');
});
