import { readFileSync } from 'node:fs';
import test from 'ava';
import {
  decodeOutput,
  decodeRecords,
  encodeAggregateInput,
  encodeInitInput,
  encodeInput,
  encodeRecords,
} from '../src/protocol/index.js';
import { DirectHost } from './helpers/direct-host.js';
import { hex, toHex } from './helpers/hex.js';
import { wasmPath } from './helpers/wasm.js';

// The engine-test modules of test/fixtures/modules, checked with the direct host (no engine).

const host = (name: string): DirectHost => new DirectHost(readFileSync(wasmPath(name)));
const TS = 1700000000000;
const batch = (values: string[], baseTimestamp = 0, version = 22): Uint8Array =>
  encodeInput(
    {
      baseOffset: 0,
      baseTimestamp,
      raw: encodeRecords(values.map((v, i) => ({ value: Buffer.from(v), offsetDelta: i }))),
    },
    version,
  );
const values = (out: Uint8Array, aggregate = false): string[] =>
  decodeRecords(decodeOutput(out, aggregate).successes).map((r) => Buffer.from(r.value).toString());

test('trap: unreachable on "boom", fine otherwise', (t) => {
  const h = host('trap');
  t.is(h.call('filter', batch(['a', 'b'])).rc, 2);
  t.throws(() => h.call('filter', batch(['a', 'boom'])), { instanceOf: WebAssembly.RuntimeError });
});

test('fail-on: "bad" is a runtime error record, not a trap', (t) => {
  const r = host('fail-on').call('filter', batch(['ok', 'bad', 'later']));
  t.is(r.rc, 1);
  const out = decodeOutput(r.out!);
  t.deepEqual(values(r.out!), ['ok']);
  t.like(out.error, { hint: 'cannot parse bad', offset: 1, kind: 0, key: null });
  t.is(Buffer.from(out.error!.value).toString(), 'bad');
});

test('legacy-v21: works at v22 and below, -11 at v25 with a non-zero timestamp (TV6)', (t) => {
  const h = host('legacy-v21');
  for (const v of [0, 15, 16, 19, 20, 21, 22]) {
    const r = h.call('filter', batch(['apple', 'kiwi'], TS, v), v);
    t.is(r.rc, 1, `v${v}`);
    t.deepEqual(values(r.out!), ['apple']);
  }
  const r = h.call('filter', hex('0000000000000000 0000000c 00000001 0e00000000026100 0000018bcfe56800'), 25);
  t.is(r.rc, -11);
  t.is(r.out, null);
  // with base_timestamp 0 the old decoder happens to read an empty map and join record
  t.is(h.call('filter', batch(['a'], 0, 25), 25).rc, 1);
  // records undecodable: old glue says -22
  t.is(
    h.call('filter', encodeInput({ baseOffset: 0, baseTimestamp: 0, raw: hex('00000001 0e 00 00 00 07 02 61 00') })).rc,
    -22,
  );
});

test('legacy-aggregate: at v22 the old decoder never sees the real accumulator (spec §5.11)', (t) => {
  const h = host('legacy-aggregate');
  const raw = encodeRecords([{ value: Buffer.from('x') }]);
  let r = h.call('aggregate', encodeAggregateInput({ baseOffset: 0, baseTimestamp: 0, raw }, Buffer.from('acc')));
  t.is(r.rc, 1);
  t.is(toHex(decodeOutput(r.out!, true).accumulator!), toHex(Buffer.from('x')));
  r = h.call('aggregate', encodeAggregateInput({ baseOffset: 0, baseTimestamp: TS, raw }, Buffer.from('acc')));
  t.is(toHex(decodeOutput(r.out!, true).accumulator!), '8b78');
  // at v15 (no join_record, no timestamp) the layout matches and the accumulator is real
  r = h.call('aggregate', encodeAggregateInput({ baseOffset: 0, baseTimestamp: 0, raw }, Buffer.from('acc'), 15), 15);
  t.is(r.rc, 1);
  t.deepEqual(values(r.out!), ['accx']);
});

test('echo-params: init stores the params in the order sent; map echoes them', (t) => {
  const h = host('echo-params');
  t.is(h.call('init', encodeInitInput({ params: { zeta: '1', alpha: 'x=y', key: 'a' } })).rc, 0);
  const r = h.call('map', batch(['v1', 'v2']));
  t.is(r.rc, 2);
  t.deepEqual(values(r.out!), ['alpha=x=y;key=a;zeta=1', 'alpha=x=y;key=a;zeta=1']);
  const h2 = host('echo-params');
  t.is(h2.call('init', encodeInitInput({ params: {} })).rc, 0);
  t.deepEqual(values(h2.call('map', batch(['v'])).out!), ['']);
});

test('init input at v22 with a lookback is decoded (TV9 shape)', (t) => {
  const h = host('echo-params');
  const r = h.call(
    'init',
    hex('0002 0001 62 0001 78 0003 6b6579 0001 61 | 01 000000000000000a 01 0000000000000e10 00000000'),
  );
  t.is(r.rc, 0);
  t.deepEqual(values(h.call('map', batch(['v'])).out!), ['b=x;key=a']);
  // undecodable init input → -10
  t.is(host('echo-params').call('init', hex('0001 0003 6b')).rc, -10);
});
