import { readFileSync } from 'node:fs';
import test from 'ava';
import { decodeOutput, decodeRecords, encodeInput, encodeRecords } from '../src/protocol/index.js';
import { DirectHost } from './helpers/direct-host.js';
import { wasmPath } from './helpers/wasm.js';

// The SDK's helpers (test/fixtures/modules/sdk-probe.ts prints what they compute) against what
// Rust gives: str::parse for i32/u64/f64, f64 Display and serde_json/ryu formatting,
// String::from_utf8_lossy, serde_json parsing/serialization and its error texts.

function probe(values: (string | Buffer)[]): Map<string, string>[] {
  const h = new DirectHost(readFileSync(wasmPath('sdk-probe')));
  const r = h.call(
    'map',
    encodeInput({
      baseOffset: 0,
      baseTimestamp: 0,
      raw: encodeRecords(values.map((v) => ({ value: Buffer.from(v) }))),
    }),
  );
  const out = decodeOutput(r.out!);
  if (out.error) throw new Error(out.error.hint);
  return decodeRecords(out.successes).map(
    (rec) =>
      new Map(
        Buffer.from(rec.value)
          .toString()
          .split('|')
          .map((kv) => {
            const i = kv.indexOf('=');
            return [kv.slice(0, i), kv.slice(i + 1)] as [string, string];
          }),
      ),
  );
}

const CASES: [string | Buffer, Record<string, string>][] = [
  [
    'xaby',
    {
      inc_ab: '1',
      idx_b2: '2',
      idx_b99: '-1',
      i32: 'E:invalid digit found in string',
      f64: 'E:invalid float literal',
      json: 'E:expected value at line 1 column 1',
    },
  ],
  ['  a b  ', { trim: '[a b]', idx_b2: '4', json: 'E:expected value at line 1 column 3' }],
  ['42', { i32: '42', u64: '42', f64: '42.0/42', json: '42' }],
  ['-2147483648', { i32: '-2147483648', u64: 'E:invalid digit found in string', json: '-2147483648' }],
  ['2147483648', { i32: 'E:number too large to fit in target type', u64: '2147483648' }],
  ['-2147483649', { i32: 'E:number too small to fit in target type' }],
  ['+', { i32: 'E:invalid digit found in string', f64: 'E:invalid float literal' }],
  [
    '',
    {
      i32: 'E:cannot parse integer from empty string',
      f64: 'E:cannot parse float from empty string',
      json: 'E:EOF while parsing a value at line 1 column 0',
    },
  ],
  ['-0', { i32: '0', f64: '-0.0/-0', json: '-0.0' }],
  ['1e400', { f64: 'null/inf', json: 'E:number out of range at line 1 column 5' }],
  ['.5', { f64: '0.5/0.5', json: 'E:expected value at line 1 column 1' }],
  ['5.', { f64: '5.0/5', json: 'E:EOF while parsing a value at line 1 column 2' }],
  ['inf', { f64: 'null/inf' }],
  ['NaN', { f64: 'null/NaN' }],
  ['0.1', { f64: '0.1/0.1', json: '0.1' }],
  ['1e16', { f64: '1e+16/10000000000000000', json: '1e+16' }],
  ['1e15', { f64: '1000000000000000.0/1000000000000000' }],
  ['0.00001', { f64: '0.00001/0.00001' }],
  ['0.000001', { f64: '1e-6/0.000001' }],
  ['1.5e300', { f64: `1.5e+300/15${'0'.repeat(299)}` }],
  ['0.0001', { f64: '0.0001/0.0001' }],
  [
    '123456789012345678',
    {
      i32: 'E:number too large to fit in target type',
      u64: '123456789012345678',
      f64: '1.2345678901234568e+17/123456789012345680',
      json: '123456789012345678',
    },
  ],
  ['18446744073709551616', { u64: 'E:number too large to fit in target type', json: '1.8446744073709552e+19' }],
  ['{"b":1,"a":"\\u00e9","c":{"z":[],"y":"\\t\\u0001"}}', { json: '{"a":"é","b":1,"c":{"y":"\\t\\u0001","z":[]}}' }],
  ['{"a":1,"a":2}', { json: '{"a":2}' }],
  ['[1,2', { json: 'E:EOF while parsing a list at line 1 column 4' }],
  ['[1,]', { json: 'E:trailing comma at line 1 column 4' }],
  ['{"a":1} x', { json: 'E:trailing characters at line 1 column 9' }],
  ['"\\ud83d\\ude00 \\/"', { json: '"😀 /"' }],
  [
    Buffer.from('61c328622b', 'hex'),
    { lossy: 'a\uFFFD(b+', sw_a: '1,ew_z=0', json: 'E:expected value at line 1 column 1' },
  ],
  [Buffer.from('f09f98', 'hex'), { lossy: '\uFFFD' }],
  [Buffer.from('eda080', 'hex'), { lossy: '\uFFFD\uFFFD\uFFFD' }],
  [Buffer.from('22eda08022', 'hex'), { json: 'E:invalid unicode code point at line 1 column 5' }],
];

test('SDK helpers match Rust semantics', (t) => {
  const got = probe(CASES.map(([v]) => v));
  CASES.forEach(([input, want], i) => {
    for (const [k, v] of Object.entries(want)) t.is(got[i]!.get(k), v, `${JSON.stringify(input.toString())} ${k}`);
  });
});
