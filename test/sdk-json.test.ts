import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import test from 'ava';
import fc from 'fast-check';
import { decodeOutput, decodeRecords, encodeInput, encodeRecords } from '../src/protocol/index.js';
import { DirectHost } from './helpers/direct-host.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * The SDK's on-demand JSON reader (sdk/assemblyscript/assembly/ondemand.ts) through the json-probe
 * fixture module: it must accept exactly what JSON.parse accepts (on the bytes decoded as strict
 * UTF-8), read the same values, never trap however deep or long the input, and name the byte
 * offset of what it rejects.
 */

const probe = new DirectHost(readFileSync(wasmPath('json-probe')));
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const REJECT = Symbol('reject');
const bytes = (s: string | Uint8Array): Uint8Array =>
  typeof s === 'string' ? new Uint8Array(Buffer.from(s, 'latin1')) : s;
const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

/** What JSON.parse makes of these bytes (strict UTF-8 first: a document is UTF-8, RFC 8259 §8.1). */
function reference(b: Uint8Array): unknown {
  try {
    return JSON.parse(strict.decode(b));
  } catch {
    return REJECT;
  }
}

/** Runs one batch through the probe: [mode, value] per record → one output string per record. */
function run(records: [string, Uint8Array][]): string[] {
  const raw = encodeRecords(records.map(([k, v], i) => ({ key: utf8(k), value: v, offsetDelta: i })));
  const r = probe.call('map', encodeInput({ baseOffset: 0, baseTimestamp: 0, raw }, 22));
  const out = decodeOutput(r.out!);
  if (out.error) throw new Error(`probe failed: ${out.error.hint}`);
  return decodeRecords(out.successes).map((x) => Buffer.from(x.value).toString('utf8'));
}

/** Infinity (a number beyond f64) is written by the probe as the string "Infinity". */
function comparable(v: unknown): unknown {
  if (typeof v === 'number' && !Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  if (Array.isArray(v)) return v.map(comparable);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, comparable(x)]));
  return v;
}

/** '' when the probe's walk agrees with JSON.parse on every document, else the first disagreement. */
function disagreement(docs: Uint8Array[], mode = 'walk'): string {
  const outs = run(docs.map((d) => [mode, d]));
  for (let i = 0; i < docs.length; i++) {
    const want = reference(docs[i]!);
    const got = outs[i]!;
    const shown = Buffer.from(docs[i]!.subarray(0, 80)).toString('latin1');
    if (want === REJECT) {
      if (!got.startsWith('E:'))
        return `${JSON.stringify(shown)}: JSON.parse rejects, the reader accepts (${got.slice(0, 80)})`;
    } else if (got.startsWith('E:')) {
      return `${JSON.stringify(shown)}: JSON.parse accepts, the reader rejects (${got})`;
    } else if (mode === 'walk' && !isDeepStrictEqual(JSON.parse(got), comparable(want))) {
      return `${JSON.stringify(shown)}: read ${got.slice(0, 80)}: ${firstLeafDifference(JSON.parse(got), comparable(want))}`;
    }
  }
  return '';
}

function firstLeafDifference(a: unknown, b: unknown, at = '$'): string {
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstLeafDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`);
      if (d) return d;
    }
    return '';
  }
  return Object.is(a, b) ? '' : `${at}: ${String(a)} instead of ${String(b)}`;
}

// The categories of the public JSONTestSuite, as our own cases.
const ACCEPT = [
  '[]',
  '{}',
  ' [1] ',
  '\t\r\n{ }\n',
  '0',
  '-0',
  '[-0.0]',
  '"x"',
  'null',
  'true',
  'false',
  '[null,true,false]',
  '[1E22]',
  '[1e-7]',
  '[123e65]',
  '[0.1]',
  '[1.5e+300]',
  '[-123.456e-78]',
  '[9007199254740993]',
  '[123456789012345678901234567890]',
  '[1e400]',
  '[-1e400]',
  '[1e-400]',
  '[0e1]',
  '[1E+2]',
  '[4.9e-324]',
  '["\\u0000"]',
  '["\\ud800"]',
  '["\\uDFAA"]',
  '["\\ud834\\udd1e"]',
  '["\\"\\\\\\/\\b\\f\\n\\r\\t"]',
  '{"a":1,"a":2}',
  '{"":0}',
  '{"a":{"b":[1,{"c":null}]}}',
  '[[[[[]]]]]',
  '["\x7f"]',
  '["\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e"]',
  '{"\xc3\xa9":"\\u00e9"}',
  '["\xef\xbb\xbf"]',
  '["\xf4\x8f\xbf\xbf"]',
];
const REJECTS = [
  '',
  ' ',
  '[',
  '[1',
  '[1,',
  '{',
  '{"a"',
  '{"a":',
  '{"a":1',
  '"abc',
  '["a',
  '["\\',
  '["\\u12',
  '[1,]',
  '{"a":1,}',
  '[,1]',
  '[01]',
  '[-01]',
  '[-]',
  '[1.]',
  '[.5]',
  '[+1]',
  '[1e]',
  '[1e+]',
  '[0x10]',
  '[NaN]',
  '[Infinity]',
  '[-Infinity]',
  '[tru]',
  '[True]',
  '[nul]',
  '[truex]',
  '{a:1}',
  "{'a':1}",
  '["a\\x"]',
  '["\\u12"]',
  '["\\uGGGG"]',
  '["\\U0041"]',
  '["tab\there"]',
  '["nl\nhere"]',
  '["\x00"]',
  '[1] x',
  '[1][2]',
  '/* c */ 1',
  '[1]//',
  '\xef\xbb\xbf[1]',
  '["\xff"]',
  '["\xc0\xaf"]',
  '["\xed\xa0\x80"]',
  '["\xf4\x90\x80\x80"]',
  '["\xe2\x82"]',
  '["\xe2\x82"',
  '[1]\xff',
  '[\xc2\xa01]',
  '[1 2]',
  '{"a" 1}',
  '{"a":1 "b":2}',
  '{1:1}',
  '[}',
  '{]',
  '[1}',
  '{"a":1]',
  ']',
  '}',
  ',',
  ':',
  '["a"\x00]',
  "['x']",
  '[1,,2]',
  '{"a":1,,"b":2}',
  '{"a"::1}',
  '[-1.0e]',
  '[1e1.5]',
  '[00]',
  '[2.]',
];

test('JSONTestSuite-style cases: the same accept/reject decision and the same values as JSON.parse', (t) => {
  for (const s of ACCEPT) t.not(reference(bytes(s)), REJECT, `JSON.parse should accept ${JSON.stringify(s)}`);
  for (const s of REJECTS) t.is(reference(bytes(s)), REJECT, `JSON.parse should reject ${JSON.stringify(s)}`);
  t.is(disagreement([...ACCEPT, ...REJECTS].map(bytes)), '');
});

test('truncated documents: every prefix of a document is decided as JSON.parse decides it', (t) => {
  const doc = utf8(
    JSON.stringify({ level: 'warn', n: [1, -2.5e-3, 1e22, true, null], s: 'é€𝄞\n"\\', o: { a: { b: [] } } }),
  );
  const prefixes = Array.from({ length: doc.length + 1 }, (_, i) => doc.subarray(0, i));
  t.is(disagreement(prefixes), '');
});

test('10 000 levels of nesting are accepted (no recursion limit, no stack overflow) and can be walked down', (t) => {
  const n = 10_000;
  const arrays = utf8(`${'['.repeat(n)}"deep"${']'.repeat(n)}`);
  const objects = utf8(`${'{"k":'.repeat(n)}7${'}'.repeat(n)}`);
  const mixed = utf8(`${'[{"a":'.repeat(n / 2)}null${'}]'.repeat(n / 2)}`);
  const unclosed = utf8('['.repeat(n));
  const mismatched = utf8(`${'['.repeat(n)}}${']'.repeat(n - 1)}`);
  t.deepEqual(
    run([
      ['check', arrays],
      ['check', objects],
      ['check', mixed],
      ['check', unclosed],
      ['check', mismatched],
    ]),
    ['ok', 'ok', 'ok', `E:${n}:unexpected end of input`, `E:${n}:unexpected character`],
  );
  t.deepEqual(
    run([
      ['dig', arrays],
      ['dig', objects],
      ['dig', mixed],
    ]),
    [`${n}:deep`, `${n}:7.0`, `${n}:null`],
  );
});

test('huge strings and long documents are read whole (4 MiB string with escapes and UTF-8)', (t) => {
  const big = 'aé€𝄞\\n"'.repeat(1 << 18);
  const doc = utf8(JSON.stringify({ s: big, after: 1 }));
  const [path, walk] = run([
    ['path:after', doc],
    ['walk', doc],
  ]);
  t.is(path, '3||1.0|1|0|0|0');
  t.deepEqual(JSON.parse(walk!), { s: big, after: 1 });
  t.is(disagreement([doc.subarray(0, doc.length - 3)]), '', 'truncated inside the document: rejected');
});

test('on-demand reads: nested paths, numbers without strings, arrays by index, last duplicate wins', (t) => {
  const doc = utf8(
    '{"level":"warn","n":{"x":[10,-2.5,"s",true,null,{"y":"\\u00e9t\\u00e9"}]},"big":12345678901234567,"dup":1,"dup":2,"esc":"a\\"b"}',
  );
  t.deepEqual(
    run([
      ['path:level', doc],
      ['path:n/x/0', doc],
      ['path:n/x/1', doc],
      ['path:n/x/3', doc],
      ['path:n/x/5/y', doc],
      ['path:n/x', doc],
      ['path:big', doc],
      ['path:dup', doc],
      ['path:nope', doc],
      ['path:n/x/9', doc],
      ['path:level/0', doc],
    ]),
    [
      '4|warn|null|0|0|0|0',
      '3||10.0|10|0|0|0',
      '3||-2.5|-2|0|0|0',
      '2||null|0|1|0|0',
      '4|été|null|0|0|0|0',
      '5||null|0|0|6|0',
      '3||1.2345678901234568e+16|12345678901234567|0|0|0',
      '3||2.0|2|0|0|0',
      '0||null|0|0|0|0',
      '0||null|0|0|0|0',
      '0||null|0|0|0|0',
    ],
  );
  // equals() compares in place, escapes included
  t.deepEqual(
    run([
      ['path:level', utf8('{"level":"level"}')],
      ['path:a"b', utf8('{"a\\"b":"a\\"b"}')],
    ]),
    ['4|level|null|0|0|0|1', '4|a"b|null|0|0|0|1'],
  );
});

test('a rejected document is a runtime error record naming the byte offset', (t) => {
  const raw = encodeRecords([
    { key: utf8('fail'), value: utf8('{"a":1}') },
    { key: utf8('fail'), value: utf8('{"a":1,}'), offsetDelta: 1 },
  ]);
  const r = probe.call('map', encodeInput({ baseOffset: 0, baseTimestamp: 0, raw }, 22));
  const out = decodeOutput(r.out!);
  t.is(r.rc, 1);
  t.is(out.error?.hint, 'invalid JSON at byte 7: expected a string key');
  t.is(out.error?.offset, 1);
});

test('property: 10 000 random documents, valid and damaged, are decided and read as JSON.parse does', (t) => {
  const docs: Uint8Array[] = [];
  const ws = fc.constantFrom('', ' ', '\n', '\t', '\r\n  ');
  const doc = fc
    .tuple(fc.jsonValue({ maxDepth: 4 }), ws, ws)
    .map(([v, a, b]) => a + JSON.stringify(v, null, a.length > 1 ? 1 : undefined) + b);
  const damage = fc.tuple(
    fc.nat(),
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom('cut', 'flip', 'insert', 'delete'),
  );
  const sample = fc.sample(fc.tuple(doc, fc.option(damage, { freq: 2 })), { numRuns: 10_000, seed: 19 });
  for (const [text, hurt] of sample) {
    let b = utf8(text);
    if (hurt) {
      const [at, byte, how] = hurt;
      const i = b.length ? at % b.length : 0;
      if (how === 'cut') b = b.subarray(0, i);
      else if (how === 'flip') {
        b = b.slice();
        if (b.length) b[i] = byte;
      } else if (how === 'insert') b = new Uint8Array([...b.subarray(0, i), byte, ...b.subarray(i)]);
      else b = new Uint8Array([...b.subarray(0, i), ...b.subarray(i + 1)]);
    }
    docs.push(b);
  }
  const rejected = docs.filter((d) => reference(d) === REJECT).length;
  t.true(rejected > 1000 && rejected < 9000, `a mix of valid and invalid documents (${rejected} invalid)`);
  t.is(disagreement(docs), '');
});

/** An f64 as serde_json prints it: the shortest round-trip digits (as JS finds them), in serde's layout (zmij's: ryu's with `e+`). */
function ryu(x: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [m, e] = Math.abs(x).toExponential().split('e');
  const d = m!.replace('.', '');
  const kk = Number(e) + 1;
  const k = kk - d.length;
  if (0 <= k && kk <= 16) return `${sign + d + '0'.repeat(k)}.0`;
  if (0 < kk && kk <= 16) return `${sign + d.slice(0, kk)}.${d.slice(kk)}`;
  if (-5 < kk && kk <= 0) return `${sign}0.${'0'.repeat(-kk)}${d}`;
  return `${sign + (d.length === 1 ? d : `${d[0]}.${d.slice(1)}`)}e${kk > 1 ? '+' : ''}${kk - 1}`;
}

test('JsonWriter.numberOf: exact integers as they are; text copied only when it is what serde_json prints, else the f64 path', (t) => {
  const digits = (min: number, max: number) =>
    fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((a) => a.join(''));
  const number = fc
    .tuple(
      fc.boolean(),
      fc.oneof(
        fc.constant('0'),
        fc.tuple(fc.constantFrom(...'123456789'), digits(0, 19)).map(([a, b]) => a + b),
      ),
      fc.option(digits(1, 19)),
      fc.option(fc.tuple(fc.constantFrom('e', 'E-', 'e+'), fc.integer({ min: 0, max: 30 }))),
    )
    .map(
      ([neg, int, frac, exp]) =>
        `${neg ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : exp[0] + exp[1]}`,
    );
  const fixed = [
    '12.5',
    '12.50',
    '0.1',
    '0.00001',
    '0.000001',
    '0.000012',
    '-0',
    '-0.0',
    '-0.5',
    '1e2',
    '123456789012345.6',
    '12345678901234.5',
    '999999999999999.9',
    '-18.57565019864',
    '18446744073709551615',
    '18446744073709551616',
    '-9223372036854775808',
    '-9223372036854775809',
  ];
  const texts = [...fixed, ...fc.sample(number, { numRuns: 5000, seed: 19 })];
  const exact = (s: string) => /^-?\d+$/.test(s) && s !== '-0' && BigInt(s) >= -(2n ** 63n) && BigInt(s) < 2n ** 64n;
  const outs = run(texts.map((s) => ['number', utf8(s)]));
  let copied = 0;
  const wrong = texts
    .map((s, i) => {
      const [got, f64] = outs[i]!.split('|');
      if (exact(s)) return got === s ? '' : `${s}: ${got}, expected it unchanged`;
      if (got === s) {
        copied++;
        return ryu(Number(s)) === s ? '' : `${s}: copied, but serde_json prints ${ryu(Number(s))}`;
      }
      return got === f64 ? '' : `${s}: ${got}, expected the f64 path's ${f64}`;
    })
    .filter(Boolean);
  t.deepEqual(wrong.slice(0, 5), []);
  t.true(copied > 200, `plain decimals are copied (${copied})`);
});

/** Finite doubles of every kind: random bit patterns, subnormals, powers of ten and two and their neighbours, integers, sums and quotients. */
function doubles(): number[] {
  const view = new DataView(new ArrayBuffer(8));
  const fromBits = (hi: number, lo: number) => {
    view.setUint32(0, hi >>> 0);
    view.setUint32(4, lo >>> 0);
    return view.getFloat64(0);
  };
  const next = (x: number, up: boolean) => {
    view.setFloat64(0, x);
    const b = view.getBigUint64(0) + (up ? 1n : -1n);
    view.setBigUint64(0, b);
    return view.getFloat64(0);
  };
  let seed = 19;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed ^ (seed >>> 16)) >>> 0;
  };
  const xs: number[] = [
    0.1 + 0.2,
    0.3,
    1 / 3,
    2 / 3,
    100,
    1e21,
    1e-7,
    1e16,
    1e15,
    123456789012345680000,
    5e-324,
    Number.MIN_VALUE * 3,
    2.2250738585072014e-308,
    2.225073858507201e-308,
    Number.MAX_VALUE,
    Number.MAX_SAFE_INTEGER,
    2 ** 53,
    2 ** 63,
    2 ** 64,
    // biome-ignore lint/correctness/noPrecisionLoss: 2^53 + 1 is written on purpose: it reads as 2^53
    9007199254740993,
    1.7976931348623157e308,
    4.9406564584124654e-324,
    0.30000000000000004,
    12.333333333333334,
    1e23,
    8.41e21,
    5.0e-5,
    0.000001,
    1e-6,
  ];
  for (let i = 0; i < 6000; i++) xs.push(fromBits(rand(), rand())); // any bit pattern
  for (let i = 0; i < 1500; i++) xs.push(fromBits(rand() & 0x000fffff, rand())); // subnormal
  for (let i = 0; i < 1500; i++)
    xs.push(fromBits((rand() & 0x001fffff) | 0x3ff00000, rand()) * 10 ** ((rand() % 40) - 20)); // everyday magnitudes
  for (let i = 0; i < 1500; i++) xs.push((rand() % 100000) / 100 + (rand() % 1000) / 1000); // sums of short decimals
  for (let i = 0; i < 1500; i++) xs.push((rand() % 1000000) / ((rand() % 999) + 1)); // averages
  for (let i = 0; i < 500; i++) xs.push(rand() * 2 ** ((rand() % 60) - 10)); // integers and halves as f64
  for (let k = -323; k <= 308; k++) {
    const p = Number(`1e${k}`);
    xs.push(p, next(p, true), next(p, false));
  }
  for (let k = -1074; k <= 1023; k++) {
    const p = 2 ** k;
    xs.push(p, next(p, true));
    if (k > -1074) xs.push(next(p, false));
  }
  return xs.filter((x) => Number.isFinite(x)).flatMap((x) => [x, -x]);
}

test("JsonWriter.f64 prints the shortest round-trip digits (closest, ties even) in serde_json's layout", (t) => {
  const xs = doubles();
  t.true(xs.length > 20000);
  // the text sent is JavaScript's shortest form, which reads back as exactly x
  const outs = run(xs.map((x) => ['number', utf8(String(x))]));
  const wrong = xs
    .map((x, i) => {
      const f64 = outs[i]!.split('|')[1];
      return f64 === ryu(x) ? '' : `${String(x)}: ${f64}, serde_json prints ${ryu(x)}`;
    })
    .filter(Boolean);
  t.deepEqual(wrong.slice(0, 5), []);
  // through the writer's f64() on a walk of an array (numberOf copies short texts, so walk forces the f64 path)
  const some = xs.slice(0, 2000);
  const [walked] = run([['walk', utf8(`[${some.map(String).join(',')}]`)]]);
  t.is(walked, `[${some.map(ryu).join(',')}]`);
});

test('JsonWriter.stringOf re-escapes a string of the input as serde_json (and JSON.stringify) write it', (t) => {
  // each character written plainly or as a \u escape (upper or lower hex), so escapes of every kind occur
  const escapeSome = (s: string, picks: boolean[], upper: boolean) =>
    JSON.stringify(s)
      .slice(1, -1)
      .replace(/[\ud800-\udbff][\udc00-\udfff]|[^\\]|\\(?:u[0-9a-f]{4}|.)/g, (c, i: number) => {
        if (c.startsWith('\\') || !picks[i % picks.length]) return c;
        return [...Array(c.length).keys()]
          .map((k) => {
            const hex = c.charCodeAt(k).toString(16).padStart(4, '0');
            return `\\u${upper ? hex.toUpperCase() : hex}`;
          })
          .join('');
      });
  const str = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ maxLength: 40 }),
    fc.constantFrom('\u0000\u001f\u007f"\\/\b\f\n\r\t', '\ud83d\ude00', '\ud800', '\udc00x', '\ud800\ud800', 'é€𝄞'),
  );
  const texts = fc
    .sample(fc.tuple(str, fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }), fc.boolean()), {
      numRuns: 3000,
      seed: 19,
    })
    .map(([s, picks, upper]) => `"${escapeSome(s, picks, upper)}"`);
  texts.push('"a\\/b\\u00e9\\uD83D\\uDE00\\u0022\\u005c\\u0008"', '"\\ud800\\u0041"', '"\\ud800"');
  const outs = run(texts.map((s) => ['string', utf8(s)]));
  const wrong = texts
    .map((s, i) => (outs[i] === JSON.stringify(JSON.parse(s)) ? '' : `${s}: ${outs[i]}`))
    .filter(Boolean);
  t.deepEqual(wrong.slice(0, 5), []);
});
