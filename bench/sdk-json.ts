/**
 * JSON in AssemblyScript SmartModules: the SDK's on-demand reader (examples/filter-json, map-json,
 * array-map-json) against the tree reader it replaced (bench/modules/*-tree.ts), the SDK's byte
 * filter (examples/filter) and the same job in plain Node (`JSON.parse(value).level`,
 * `JSON.stringify` of the projection or of each element), on the same seeded records: flat logs,
 * nested objects, arrays of numbers and strings with escapes and UTF-8, at ~100 B, ~1 KiB and
 * ~10 KiB. Modules are called alone (input copied in, output freed, as bench/sdk.ts does); Node
 * gets the values already split into Buffers. Every ratio is the median of per-round ratios,
 * rounds alternating between the candidates.
 *
 * Goals (issue 19): JSON filter ≤ 0.5× Node and ≤ 3× the byte filter; map-json and array-map-json
 * ≤ 1.0× Node's parse + stringify.
 *
 * When the Rust conformance modules are built (conformance/build-fluvio-engine.sh), the same jobs
 * written with serde_json and Fluvio's crate (rust-filter-json, rust-map-json, rust-json-array-map)
 * are timed against the SDK's examples through Eddy's engine (a one-module Chain, output copied
 * out, as in the pipeline) and through Fluvio's engine (the conformance harness in timing mode).
 *
 *   node dist/bench/sdk-json.js [--quick]   → table on stdout, JSON in bench/results/sdk-json.json
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prng } from '../src/bench/input.js';
import { missingRustModules, rustModulePath } from '../src/conformance/corpus.js';
import { createChain } from '../src/conformance/eddy-side.js';
import { type FluvioStep, fluvioEnginePath, timeFluvioChain } from '../src/conformance/fluvio-engine.js';
import { encodeInput, encodeRecords } from '../src/protocol/index.js';
import { compileCached, eddyRoot } from '../src/sdk-build/compile.js';
import { listFixtureModules, wasmCacheDir } from '../src/sdk-build/fixtures.js';
import { median, rate, table, writeResult } from './lib/harness.js';
import { moduleAlone } from './lib/module-alone.js';

const QUICK = process.argv.includes('--quick');
const ROUNDS = QUICK ? 3 : 5;
const MS = QUICK ? 60 : 150;
const SIZES = [100, 1024, 10240];
const TEMPLATES = ['flat', 'nested', 'numbers', 'escapes'] as const;
type Template = (typeof TEMPLATES)[number];
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

// ---- seeded records --------------------------------------------------------------------------------

function words(rand: () => number, n: number): string {
  const w = ['disk', 'cache', 'miss', 'user', 'login', 'request', 'timeout', 'retry', 'queue', 'flush', 'ok'];
  return Array.from({ length: n }, () => w[Math.floor(rand() * w.length)]).join(' ');
}

function escaped(rand: () => number, n: number): string {
  const parts = ['path "/var/log"', 'line\nbreak', 'tab\there', 'café', 'naïve €5', 'emoji 😀', 'back\\slash', 'é'];
  return Array.from({ length: n }, () => parts[Math.floor(rand() * parts.length)]).join(' ');
}

function numbers(rand: () => number, n: number): number[] {
  return Array.from({ length: n }, () => (rand() < 0.5 ? Math.floor(rand() * 100000) : Math.round(rand() * 1e6) / 100));
}

/** One record of `template`, grown until its JSON text is at least `size` bytes. */
function record(t: Template, size: number, rand: () => number, i: number): string {
  const base = { ts: 1_700_000_000_000 + i, level: LEVELS[i % 5]!, message: '' };
  for (let n = 1; ; n = Math.ceil(n * 1.3)) {
    let v: unknown;
    if (t === 'flat')
      v = {
        ts: base.ts,
        host: `web-${i % 7}`,
        level: base.level,
        message: words(rand, n),
        user: `u${i}`,
        latency_ms: 12.5,
      };
    else if (t === 'nested') {
      v = {
        level: base.level,
        ts: base.ts,
        message: 'GET done',
        req: {
          method: 'GET',
          path: `/api/v1/items/${i}`,
          headers: { accept: 'application/json' },
          query: { page: 3, tags: ['a', 'b'] },
        },
        spans: Array.from({ length: n }, (_, k) => ({
          id: k,
          name: 'db',
          attrs: { rows: k * 3, ok: true, note: null },
        })),
      };
    } else if (t === 'numbers')
      v = {
        level: base.level,
        ts: base.ts,
        message: 'samples',
        values: numbers(rand, Math.min(100, 5 + n)),
        series: Array.from({ length: Math.max(0, Math.floor(n / 40)) }, () => numbers(rand, 100)),
      };
    else v = { ts: base.ts, level: base.level, message: escaped(rand, n), user: 'zoë' };
    const s = JSON.stringify(v);
    if (Buffer.byteLength(s) >= size) return s;
  }
}

/** Top-level arrays of numbers for array-map-json (10–100 per ~100 B .. ~10 KiB of them). */
function arrayRecord(size: number, rand: () => number): string {
  for (let n = 2; ; n++) {
    const s = JSON.stringify(numbers(rand, n));
    if (Buffer.byteLength(s) >= size) return s;
  }
}

interface Batch {
  values: Buffer[];
  input: Uint8Array;
  raw: Uint8Array;
  count: number;
}

function batchOf(values: string[]): Batch {
  const bufs = values.map((v) => Buffer.from(v));
  const raw = encodeRecords(bufs.map((b, i) => ({ value: new Uint8Array(b), offsetDelta: i })));
  return {
    values: bufs,
    input: encodeInput({ baseOffset: 0, baseTimestamp: 1_700_000_000_000, raw }, 22),
    raw,
    count: bufs.length,
  };
}

function recordsFor(size: number): number {
  return size <= 100 ? 1000 : size <= 1024 ? 200 : 40;
}

// ---- modules --------------------------------------------------------------------------------------

async function wasm(name: string): Promise<string> {
  const fixture = listFixtureModules().find((m) => m.name === name);
  const entry = fixture?.entry ?? join(eddyRoot(), 'bench', 'modules', `${name}.ts`);
  const out = join(wasmCacheDir(), `bench-${name}.wasm`);
  await compileCached(entry, out, fixture?.sources ?? [entry]);
  return out;
}

// ---- plain Node --------------------------------------------------------------------------------

const KEEP = new Set(['info', 'warn', 'error']);

function nodeFilter(b: Batch): () => void {
  return () => {
    let kept = 0;
    for (const v of b.values) if (KEEP.has(JSON.parse(v.toString()).level)) kept++;
    if (kept < 0) throw new Error('unreachable');
  };
}

function nodeMap(b: Batch): () => void {
  return () => {
    for (const v of b.values) {
      const o = JSON.parse(v.toString());
      Buffer.from(JSON.stringify({ level: o.level, message: o.message, ts: o.ts }));
    }
  };
}

function nodeArrayMap(b: Batch): () => void {
  return () => {
    for (const v of b.values) for (const x of JSON.parse(v.toString()) as unknown[]) Buffer.from(JSON.stringify(x));
  };
}

// ---- measuring -------------------------------------------------------------------------------------

/** µs per record for each candidate (median over rounds) and per-round ratios to `base` names. */
function measure(
  count: number,
  candidates: Record<string, () => void>,
): { us: Record<string, number>; ratio: (a: string, b: string) => number } {
  const names = Object.keys(candidates);
  for (const n of names) rate(candidates[n]!, 50);
  const rounds: Record<string, number>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const row: Record<string, number> = {};
    for (const n of names) row[n] = 1e6 / rate(candidates[n]!, MS) / count;
    rounds.push(row);
  }
  const us = Object.fromEntries(names.map((n) => [n, median(rounds.map((r) => r[n]!))]));
  return { us, ratio: (a, b) => median(rounds.map((r) => r[a]! / r[b]!)) };
}

// ---- serde (Rust) counterparts --------------------------------------------------------------------

const SERDE = missingRustModules().length === 0 && existsSync(fluvioEnginePath());
const stepOf = (name: string, path: string): FluvioStep => ({ name, wasm: readFileSync(path) });

/** Eddy's engine: the module in a one-step Chain, processing the batch (outputs copied out). */
async function inEddy(step: FluvioStep, b: Batch): Promise<() => void> {
  const chain = await createChain([step], {});
  const batch = { baseOffset: 0, baseTimestamp: 1_700_000_000_000, raw: b.raw };
  return () => {
    chain.process(batch);
  };
}

/**
 * Fluvio's engine, µs per record: the harness runs the batch n times on one chain instance (the
 * second of two timed batches counts, the first warms the process up). n keeps a run near 150 ms
 * and the engine's never-freed outputs far below its memory limit.
 */
function inFluvio(step: FluvioStep, b: Batch): number {
  const probe = timeFluvioChain([step], [{ baseOffset: 0, baseTimestamp: 1_700_000_000_000, raw: b.raw }], 5)[0]!;
  const n = Math.max(3, Math.min(Math.floor(120e6 / b.raw.length), Math.round((MS * 1e6) / (probe.nanos / 5))));
  const batch = { baseOffset: 0, baseTimestamp: 1_700_000_000_000, raw: b.raw };
  return timeFluvioChain([step], [batch, batch], n)[1]!.nanos / n / b.count / 1000;
}

const serdeRows: (string | number)[][] = [
  [
    'job',
    'template',
    'bytes',
    'SDK (Eddy)',
    'serde (Eddy)',
    'SDK ÷ serde (Eddy)',
    'SDK (Fluvio)',
    'serde (Fluvio)',
    'SDK ÷ serde (Fluvio)',
  ],
];

/** SDK example vs serde module on one batch, in both engines; appends a row and returns it as data. */
async function againstSerde(
  job: string,
  template: string,
  bytes: number,
  b: Batch,
  sdkPath: string,
  serdeName: string,
): Promise<Record<string, unknown>> {
  const sdk = stepOf(job, sdkPath),
    serde = stepOf(`rust-${serdeName}`, rustModulePath(serdeName));
  const e = measure(b.count, { sdk: await inEddy(sdk, b), serde: await inEddy(serde, b) });
  const fl: number[] = [],
    fr: number[] = [],
    ratios: number[] = [];
  for (let r = 0; r < Math.min(ROUNDS, 3); r++) {
    const x = inFluvio(sdk, b),
      y = inFluvio(serde, b);
    fl.push(x);
    fr.push(y);
    ratios.push(x / y);
  }
  const row = {
    job,
    template,
    bytes,
    eddyUs: e.us,
    eddySdkToSerde: e.ratio('sdk', 'serde'),
    fluvioUs: { sdk: median(fl), serde: median(fr) },
    fluvioSdkToSerde: median(ratios),
  };
  serdeRows.push([
    job,
    template,
    bytes,
    e.us['sdk']!,
    e.us['serde']!,
    row.eddySdkToSerde,
    row.fluvioUs.sdk,
    row.fluvioUs.serde,
    row.fluvioSdkToSerde,
  ]);
  return row;
}

const serdeResults: Record<string, unknown>[] = [];

const paths = {
  byteFilter: await wasm('filter'),
  filterNew: await wasm('filter-json'),
  filterOld: await wasm('filter-json-tree'),
  mapNew: await wasm('map-json'),
  mapOld: await wasm('map-json-tree'),
  arrayNew: await wasm('array-map-json'),
  arrayOld: await wasm('array-map-json-tree'),
};
const size = (p: string): number => readFileSync(p).length;

const filterRows: (string | number)[][] = [
  [
    'template',
    'bytes',
    'byte filter',
    'tree reader',
    'on-demand',
    'Node',
    'on-demand ÷ Node',
    'on-demand ÷ byte filter',
    'tree ÷ on-demand',
  ],
];
const mapRows: (string | number)[][] = [
  ['job', 'template', 'bytes', 'tree reader', 'on-demand', 'Node parse+stringify', 'on-demand ÷ Node'],
];
const results: Record<string, unknown>[] = [];

for (const t of TEMPLATES) {
  for (const s of SIZES) {
    const rand = prng(19 + s + t.length);
    const n = recordsFor(s);
    const b = batchOf(Array.from({ length: n }, (_, i) => record(t, s, rand, i)));
    const bytes = Math.round(b.values.reduce((a, v) => a + v.length, 0) / n);
    const f = measure(n, {
      byte: (() => {
        const m = moduleAlone(paths.byteFilter, 'filter');
        return () => m(b.input);
      })(),
      old: (() => {
        const m = moduleAlone(paths.filterOld, 'filter');
        return () => m(b.input);
      })(),
      new: (() => {
        const m = moduleAlone(paths.filterNew, 'filter');
        return () => m(b.input);
      })(),
      node: nodeFilter(b),
    });
    filterRows.push([
      t,
      bytes,
      f.us['byte']!,
      f.us['old']!,
      f.us['new']!,
      f.us['node']!,
      f.ratio('new', 'node'),
      f.ratio('new', 'byte'),
      f.ratio('old', 'new'),
    ]);
    const m = measure(n, {
      old: (() => {
        const x = moduleAlone(paths.mapOld, 'map');
        return () => x(b.input);
      })(),
      new: (() => {
        const x = moduleAlone(paths.mapNew, 'map');
        return () => x(b.input);
      })(),
      node: nodeMap(b),
    });
    mapRows.push(['map-json', t, bytes, m.us['old']!, m.us['new']!, m.us['node']!, m.ratio('new', 'node')]);
    results.push({
      template: t,
      bytes,
      filterUs: f.us,
      filterNewToNode: f.ratio('new', 'node'),
      filterNewToByte: f.ratio('new', 'byte'),
      mapUs: m.us,
      mapNewToNode: m.ratio('new', 'node'),
    });
    if (SERDE) {
      serdeResults.push(await againstSerde('filter-json', t, bytes, b, paths.filterNew, 'filter-json'));
      serdeResults.push(await againstSerde('map-json', t, bytes, b, paths.mapNew, 'map-json'));
    }
    console.error(`${t} ${bytes} B done`);
  }
}
for (const s of SIZES) {
  const rand = prng(7 + s);
  const n = recordsFor(s);
  const b = batchOf(Array.from({ length: n }, () => arrayRecord(s, rand)));
  const bytes = Math.round(b.values.reduce((a, v) => a + v.length, 0) / n);
  const a = measure(n, {
    old: (() => {
      const x = moduleAlone(paths.arrayOld, 'array_map');
      return () => x(b.input);
    })(),
    new: (() => {
      const x = moduleAlone(paths.arrayNew, 'array_map');
      return () => x(b.input);
    })(),
    node: nodeArrayMap(b),
  });
  mapRows.push([
    'array-map-json',
    'numbers[]',
    bytes,
    a.us['old']!,
    a.us['new']!,
    a.us['node']!,
    a.ratio('new', 'node'),
  ]);
  results.push({ template: 'array', bytes, arrayMapUs: a.us, arrayMapNewToNode: a.ratio('new', 'node') });
  if (SERDE)
    serdeResults.push(await againstSerde('array-map-json', 'numbers[]', bytes, b, paths.arrayNew, 'json-array-map'));
}

const sizes = {
  byteFilter: size(paths.byteFilter),
  filterJson: size(paths.filterNew),
  filterJsonTree: size(paths.filterOld),
  mapJson: size(paths.mapNew),
  arrayMapJson: size(paths.arrayNew),
};
console.log('JSON filter, µs per record (goal: on-demand ≤ 0.5× Node, ≤ 3× byte filter)\n');
console.log(table(filterRows));
console.log('\nmap-json / array-map-json, µs per record (goal: on-demand ≤ 1.0× Node)\n');
console.log(table(mapRows));
console.log(
  `\nmodule bytes: ${JSON.stringify(sizes)} (on-demand reader in filter-json: +${sizes.filterJson - sizes.byteFilter} B over the byte filter)`,
);
if (SERDE) {
  console.log(
    "\nThe SDK's examples ÷ the same jobs in Rust with serde_json, µs per record, in Eddy's and in Fluvio's engine\n",
  );
  console.log(table(serdeRows));
} else {
  console.log('\n(serde comparison skipped: the Rust conformance modules or the Fluvio harness are not built)');
}
console.log(
  `results: ${writeResult('sdk-json', { rounds: ROUNDS, msPerRound: MS, sizes, results, serde: serdeResults })}`,
);
