import test from 'ava';
import {
  type FluvioBatch,
  type FluvioRun,
  fluvioEnginePath,
  runFluvioChain,
} from '../src/conformance/fluvio-engine.js';
import { decodeRecords, encodeRecords } from '../src/protocol/index.js';
import { harnessReady, type LoadedModule, loadCorpus, prng, stepFor } from './helpers/conformance.js';

/**
 * The SDK's JSON examples against their serde counterparts (conformance/fluvio-modules, built with
 * Fluvio's own crate and serde_json), both run by Fluvio's engine on the same seeded valid
 * records: the records they produce must be the same bytes. This is what "byte-identical to
 * serde_json" means in the examples' headers, including how every f64 is printed (the shortest digits, in serde's layout).
 */

const run = harnessReady ? test : test.skip;
const corpus = harnessReady ? loadCorpus() : [];
const BASE_TS = 1_700_000_000_000;

function byName(name: string): LoadedModule {
  const m = corpus.find((c) => c.name === name);
  if (!m) throw new Error(`no corpus module ${name} (harness at ${fluvioEnginePath()})`);
  return m;
}

function batches(values: string[][]): FluvioBatch[] {
  return values.map((vs, b) => ({
    baseOffset: b * 1000,
    baseTimestamp: BASE_TS + b,
    raw: encodeRecords(
      vs.map((v, i) => ({
        value: new Uint8Array(Buffer.from(v)),
        key: i % 3 === 0 ? new Uint8Array(Buffer.from(`k${i}`)) : null,
        offsetDelta: i,
        timestampDelta: i,
      })),
    ),
  }));
}

/** '' when both runs produced the same records in every batch, else the first difference. */
function difference(sdk: FluvioRun, serde: FluvioRun): string {
  if (sdk.setupFailure || serde.setupFailure)
    return `setup: ${sdk.setupFailure?.message} / ${serde.setupFailure?.message}`;
  for (let b = 0; b < Math.max(sdk.batches.length, serde.batches.length); b++) {
    const x = sdk.batches[b],
      y = serde.batches[b];
    if (x?.kind !== 'ok' || y?.kind !== 'ok')
      return `batch ${b}: ${x?.kind} / ${y?.kind} ${JSON.stringify(x?.kind === 'runtime-error' ? x.error.hint : y?.kind === 'runtime-error' ? y.error.hint : '')}`;
    const rx = decodeRecords(x.raw),
      ry = decodeRecords(y.raw);
    if (rx.length !== ry.length) return `batch ${b}: ${rx.length} records / ${ry.length}`;
    for (let i = 0; i < rx.length; i++) {
      const vx = Buffer.from(rx[i]!.value).toString(),
        vy = Buffer.from(ry[i]!.value).toString();
      if (vx !== vy) return `batch ${b} record ${i}: SDK ${vx.slice(0, 200)} / serde ${vy.slice(0, 200)}`;
    }
    if (Buffer.compare(Buffer.from(x.raw), Buffer.from(y.raw)) !== 0)
      return `batch ${b}: same values, different record encoding (keys or deltas)`;
  }
  return '';
}

function same(sdkName: string, serdeName: string, values: string[][]): string {
  const input = batches(values);
  return difference(
    runFluvioChain([stepFor(byName(sdkName))], input),
    runFluvioChain([stepFor(byName(serdeName))], input),
  );
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
const TEXTS = [
  'disk full',
  'quote " and backslash \\',
  'line\nbreak\ttab',
  'café 😀 €',
  'control \u0001\u001f',
  'slash / and \u007f',
  '',
];

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

/** A structured log in one of several shapes: member order, extra members, escaped text as given. */
function log(rand: () => number, i: number): string {
  const level = pick(rand, LEVELS),
    message = pick(rand, TEXTS);
  const ts = pick(rand, [String(i), String(1_700_000_000_000 + i), '18446744073709551615']);
  const extra = rand() < 0.5 ? `,"host":"web-${i % 7}","req":{"path":"/a\\u00e9","n":[1,2.5,{"x":null}]}` : '';
  const msg =
    rand() < 0.3
      ? JSON.stringify(message).replace(/[é€]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
      : JSON.stringify(message);
  return rand() < 0.5
    ? `{"level":"${level}","message":${msg},"ts":${ts}${extra}}`
    : `{ "ts": ${ts}${extra}, "message": ${msg} , "level": "${level}" }`;
}

/**
 * The f64 serde_json reads for a number text. Without its `float_roundtrip` feature (the default)
 * it does not round correctly: the decimal significand becomes an f64, then is multiplied or
 * divided by a power of ten, two roundings. The SDK reads numbers exactly, as JSON.parse does, so
 * the two can disagree in the last bit on long numbers; the comparisons below use numbers both
 * read as the same double, so that what is compared is how each prints it.
 */
function serdeReads(text: string): number {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text)!;
  // digits go into a u64 significand; once it is full, further integer digits only raise the
  // exponent and further fraction digits are dropped
  let sig = 0n,
    exponent = Number(m[4] ?? 0),
    full = false;
  for (const [digits, fraction] of [
    [m[2]!, false],
    [m[3] ?? '', true],
  ] as const) {
    for (const c of digits) {
      const next = sig * 10n + BigInt(c);
      if (!full && next < 2n ** 64n) {
        sig = next;
        if (fraction) exponent--;
      } else {
        full = true;
        if (!fraction) exponent++;
      }
    }
  }
  let f = Number(sig);
  for (;;) {
    const k = Math.abs(exponent);
    if (k <= 308) {
      f = exponent >= 0 ? f * Number(`1e${k}`) : f / Number(`1e${k}`);
      break;
    }
    if (f === 0) break;
    f /= 1e308;
    exponent += 308;
  }
  return m[1] ? -f : f;
}

/** A JSON number as people write them (integers, decimals, exponents, long and short) that serde_json reads exactly. */
function number(rand: () => number): string {
  for (;;) {
    const r = rand();
    let s: string;
    if (r < 0.2) s = String(Math.floor(rand() * 1e6) - 5e5);
    else if (r < 0.4) s = (rand() * 1000).toFixed(Math.floor(rand() * 6));
    else if (r < 0.6) s = String(rand() * 10 ** (Math.floor(rand() * 40) - 20));
    else if (r < 0.7) s = `${Math.floor(rand() * 100)}e${Math.floor(rand() * 30) - 15}`;
    else if (r < 0.8) s = String((rand() - 0.5) * 2 ** (Math.floor(rand() * 200) - 100));
    else if (r < 0.9) s = String(Math.floor(rand() * 1e6) / Math.floor(1 + rand() * 999));
    else
      s = pick(rand, [
        '0.1',
        '0.2',
        '0.3',
        '-0',
        '0',
        '1e21',
        '1e-7',
        '100',
        '5e-324',
        '1.7976931348623157e308',
        '9007199254740993',
        '0.30000000000000004',
        '1e16',
        '123456789012345680000',
      ]);
    if (!s.includes('e') || /e-?\d+$/.test(s)) s = s.replace('e+', 'e');
    if (Object.is(serdeReads(s), Number(s))) return s;
  }
}

run('filter-json keeps the same records as the serde filter_json', (t) => {
  const rand = prng(191);
  t.is(
    same(
      'filter-json',
      'rust-filter-json',
      [0, 1, 2].map((b) => Array.from({ length: 400 }, (_, i) => log(rand, b * 400 + i))),
    ),
    '',
  );
});

run('map-json writes the same bytes as serde_json::to_vec of the Rust struct', (t) => {
  const rand = prng(192);
  t.is(
    same(
      'map-json',
      'rust-map-json',
      [0, 1].map((b) => Array.from({ length: 400 }, (_, i) => log(rand, b * 400 + i))),
    ),
    '',
  );
});

run("aggregate-average prints the average as serde_json does (shortest digits, serde's layout)", (t) => {
  // One record per run, on an accumulator both read as the same double: a longer run would feed
  // each printed average back through serde's inexact reading, and the two would drift apart there.
  const rand = prng(193);
  for (let k = 0; k < 25; k++) {
    const accumulator = `{"average":${number(rand)},"count":${1 + Math.floor(rand() * 50)}}`;
    const input = batches([[number(rand)]]);
    const step = (name: string) => ({
      ...stepFor(byName(name)),
      accumulator: new Uint8Array(Buffer.from(accumulator)),
    });
    t.is(
      difference(
        runFluvioChain([step('aggregate-average')], input),
        runFluvioChain([step('rust-aggregate-average')], input),
      ),
      '',
      accumulator,
    );
  }
});

run('array-map-json writes every element as serde_json writes a Value', (t) => {
  const rand = prng(194);
  const element = (): string => {
    const r = rand();
    if (r < 0.6) return number(rand);
    if (r < 0.8) return JSON.stringify(pick(rand, TEXTS));
    if (r < 0.9) return `{"b":${number(rand)},"a":[${number(rand)},"x\\u0041"],"c":{"z":true,"y":null}}`;
    return pick(rand, ['true', 'false', 'null', '[]', '{}']);
  };
  const arrays = [0, 1].map(() =>
    Array.from(
      { length: 200 },
      () => `[${Array.from({ length: Math.floor(rand() * 12) }, element).join(rand() < 0.5 ? ',' : ' , ')}]`,
    ),
  );
  t.is(same('array-map-json', 'rust-json-array-map', arrays), '');
});
