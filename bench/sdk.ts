/**
 * Cost per record of the AssemblyScript SDK's "value contains 'a'" filter (examples/filter),
 * called alone from Node: the SmartModuleInput is pre-encoded; each call allocates the input in the
 * guest and copies it in (the guest frees its input, spec §2.1), calls `filter` and frees the
 * output. Compared with the same logic in plain JS over the same encoded bytes (decode records,
 * check UTF-8, search for 'a', re-encode the kept records). 1000-record batches of 10-, 100- and
 * 1000-byte values. Target: ≤ 0.25 µs per 100-byte record.
 *
 *   node dist/bench/sdk.js           → table on stdout, JSON in bench/results/sdk.json
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeInput, encodeRecords } from '../src/protocol/index.js';
import { compileCached } from '../src/sdk-build/compile.js';
import { listFixtureModules, wasmCacheDir } from '../src/sdk-build/fixtures.js';
import { median, rate, table, writeResult } from './lib/harness.js';

const RECORDS = 1000;
const SIZES = [10, 100, 1000];
const TARGET_US_100B = 0.25;

async function filterWasm(): Promise<Uint8Array> {
  const m = listFixtureModules().find((x) => x.name === 'filter');
  if (!m) throw new Error('examples/filter is missing');
  const out = join(wasmCacheDir(), 'filter.wasm');
  await compileCached(m.entry, out, m.sources);
  return readFileSync(out);
}

/** Values of `size` random letters b–z; half of them get an 'a' at the very end (full scan either way). */
function batch(size: number): { raw: Uint8Array; input: Uint8Array } {
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed >>> 8;
  };
  const records = Array.from({ length: RECORDS }, (_, i) => {
    const v = Buffer.alloc(size);
    for (let j = 0; j < size; j++) v[j] = 0x62 + (rnd() % 25);
    if (i % 2 === 0) v[size - 1] = 0x61;
    return { value: new Uint8Array(v), offsetDelta: i };
  });
  const raw = encodeRecords(records);
  return { raw, input: encodeInput({ baseOffset: 0, baseTimestamp: 1700000000000, raw }, 22) };
}

interface Guest {
  memory: WebAssembly.Memory;
  alloc(n: number): number;
  dealloc(p: number, n: number): void;
  filter(p: number, n: number, v: number): number;
}

function guest(bytes: Uint8Array): { g: Guest; last: () => [number, number] } {
  let out: [number, number] = [0, 0];
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    env: {
      copy_records: (p: number, l: number) => {
        out = [p, l];
      },
    },
  });
  return { g: inst.exports as unknown as Guest, last: () => out };
}

// ---- plain JS, same logic ----------------------------------------------------------------------

const fatal = new TextDecoder('utf-8', { fatal: true });

// Position of the varint reader (module-level, so decoding allocates nothing).
let at = 0;
function varint(b: Uint8Array): number {
  let x = b[at++]!;
  if (x < 0x80) return x & 1 ? -((x + 1) >> 1) : x >> 1;
  let u = x & 0x7f,
    shift = 7;
  do {
    x = b[at++]!;
    u += (x & 0x7f) * 2 ** shift;
    shift += 7;
  } while (x & 0x80);
  return u % 2 ? -(u + 1) / 2 : u / 2;
}

function varintSize(n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1,
    s = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 128);
    s++;
  }
  return s;
}

function putVarint(b: Uint8Array, pos: number, n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 0x80) {
    b[pos++] = (z & 0x7f) | 0x80;
    z = Math.floor(z / 128);
  }
  b[pos++] = z;
  return pos;
}

/** Filters a v22 SmartModuleInput; returns the SmartModuleOutput bytes. */
function jsFilter(input: Uint8Array): Uint8Array {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const rawLen = view.getInt32(8);
  const rawStart = 12;
  const count = view.getInt32(rawStart);
  const out = new Uint8Array(rawLen + 16);
  let w = 4,
    kept = 0;
  at = rawStart + 4;
  for (let i = 0; i < count; i++) {
    const len = varint(input);
    if (len < 0) throw new Error('bad record');
    const attr = input[at++]!;
    const ts = varint(input);
    const off = varint(input);
    let keyStart = -1,
      keyLen = 0;
    if (input[at++] === 1) {
      keyLen = varint(input);
      keyStart = at;
      at += keyLen;
    }
    const vLen = varint(input);
    const vStart = at;
    at += vLen;
    const hdr = varint(input);
    // UTF-8 check (ASCII fast path) and search for 'a'
    let ascii = true,
      found = false;
    for (let j = vStart, e = vStart + vLen; j < e; j++) {
      const c = input[j]!;
      if (c >= 0x80) {
        ascii = false;
        break;
      }
      if (c === 0x61) found = true;
    }
    if (!ascii) {
      const s = fatal.decode(input.subarray(vStart, vStart + vLen)); // throws on invalid UTF-8
      found = s.includes('a');
    }
    if (!found) continue;
    const body =
      1 +
      varintSize(ts) +
      varintSize(off) +
      (keyStart < 0 ? 1 : 1 + varintSize(keyLen) + keyLen) +
      varintSize(vLen) +
      vLen +
      varintSize(hdr);
    w = putVarint(out, w, body);
    out[w++] = attr;
    w = putVarint(out, w, ts);
    w = putVarint(out, w, off);
    if (keyStart < 0) out[w++] = 0;
    else {
      out[w++] = 1;
      w = putVarint(out, w, keyLen);
      out.set(input.subarray(keyStart, keyStart + keyLen), w);
      w += keyLen;
    }
    w = putVarint(out, w, vLen);
    out.set(input.subarray(vStart, vStart + vLen), w);
    w += vLen;
    w = putVarint(out, w, hdr);
    kept++;
  }
  out[w++] = 0;
  new DataView(out.buffer).setInt32(0, kept);
  return out.subarray(0, w);
}

// ---- run -----------------------------------------------------------------------------------------

const wasm = await filterWasm();
const rows: (string | number)[][] = [
  ['value bytes', 'SDK µs/record', 'SDK excl. copy-in', 'JS µs/record', 'SDK/JS', 'target'],
];
const results: Record<string, unknown>[] = [];
for (const size of SIZES) {
  const { input } = batch(size);
  const { g, last } = guest(wasm);
  let mem = new Uint8Array(g.memory.buffer);
  const sdkCall = (): void => {
    const p = g.alloc(input.length);
    if (mem.buffer !== g.memory.buffer) mem = new Uint8Array(g.memory.buffer);
    mem.set(input, p);
    g.filter(p, input.length, 22);
    const [op, ol] = last();
    g.dealloc(op, ol);
  };
  const copyOnly = (): void => {
    const p = g.alloc(input.length);
    if (mem.buffer !== g.memory.buffer) mem = new Uint8Array(g.memory.buffer);
    mem.set(input, p);
    g.dealloc(p, input.length);
  };
  const jsCall = (): void => {
    jsFilter(input);
  };
  // sanity: same output bytes
  sdkCall();
  const p0 = g.alloc(input.length);
  new Uint8Array(g.memory.buffer).set(input, p0);
  const rc = g.filter(p0, input.length, 22);
  const [op, ol] = last();
  const sdkOut = new Uint8Array(g.memory.buffer, op, ol).slice();
  g.dealloc(op, ol);
  const jsOut = jsFilter(input);
  if (rc !== RECORDS / 2 || Buffer.compare(Buffer.from(sdkOut), Buffer.from(jsOut)) !== 0)
    throw new Error(`outputs differ at ${size} bytes`);

  rate(sdkCall, 150);
  rate(jsCall, 150);
  rate(copyOnly, 100);
  const sdkRates: number[] = [],
    jsRates: number[] = [],
    copyRates: number[] = [],
    ratios: number[] = [];
  for (let r = 0; r < 7; r++) {
    const a = rate(sdkCall, 150);
    const b = rate(jsCall, 150);
    const c = rate(copyOnly, 60);
    sdkRates.push(a);
    jsRates.push(b);
    copyRates.push(c);
    ratios.push(b / a);
  }
  const sdkUs = 1e6 / median(sdkRates) / RECORDS;
  const jsUs = 1e6 / median(jsRates) / RECORDS;
  const copyUs = 1e6 / median(copyRates) / RECORDS;
  const ratio = median(ratios); // SDK time / JS time
  const target =
    size === 100 ? (sdkUs <= TARGET_US_100B ? `≤ ${TARGET_US_100B} ok` : `> ${TARGET_US_100B} MISSED`) : '';
  rows.push([String(size), sdkUs, Math.max(0, sdkUs - copyUs), jsUs, ratio, target]);
  results.push({
    valueBytes: size,
    records: RECORDS,
    sdkUsPerRecord: sdkUs,
    sdkUsPerRecordExclCopyIn: Math.max(0, sdkUs - copyUs),
    jsUsPerRecord: jsUs,
    ratioSdkToJs: ratio,
    memoryBytes: g.memory.buffer.byteLength,
  });
}
console.log(table(rows));
const file = writeResult('sdk', {
  bench: 'sdk-filter',
  description:
    'AS SDK filter (value contains a) alone vs the same logic in plain JS; µs per record, ratio = SDK time / JS time',
  targetUsPer100ByteRecord: TARGET_US_100B,
  results,
});
console.log(`\nwritten ${file}`);
