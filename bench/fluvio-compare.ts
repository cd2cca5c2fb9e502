import { readFileSync } from 'node:fs';
import { type CorpusModule, corpus, missingRustModules } from '../src/conformance/corpus.js';
import { createChain } from '../src/conformance/eddy-side.js';
import { type FluvioBatch, type FluvioStep, timeFluvioChain } from '../src/conformance/fluvio-engine.js';
import { encodeRecords } from '../src/protocol/index.js';
import { wasmPath } from '../src/sdk-build/fixtures.js';
import { median, now, spread, table, writeResult } from './lib/harness.js';
import { prng } from './lib/records.js';

/**
 * bench/fluvio-compare: each corpus module on the same 1000-record batch through Fluvio's own
 * engine (the conformance harness in timing mode: one chain instance on one thread, as the SPU runs
 * it, input copied in and output records encoded per batch) and through Eddy's engine (one Chain
 * on this thread, owned output copies). Rounds alternate between the two; the ratio is the median
 * of per-round Eddy ÷ Fluvio records/s. Goal (issue 16): ≥ 1.0 on every module.
 */

const RECORDS = 1000;
const VALUE_BYTES = 100;
const ROUNDS = Number(process.env['EDDY_BENCH_ROUNDS'] ?? 5);
/** Leaves out the hostile fixtures and legacy-aggregate, whose accumulator grows by a batch per call. */
const SKIP = new Set(['spin', 'eat-memory', 'trap', 'fail-on', 'legacy-aggregate']);

/** Values each module does real work on (numbers for numeric ones, JSON for JSON ones), padded toward 100 B. */
function valueFor(name: string, rnd: () => number, i: number): Uint8Array {
  const n = Math.floor(rnd() * 1000);
  let s: string;
  if (/sum|double|filter-map$|look-back$/.test(name) && !name.startsWith('rust-')) s = String(n * 2);
  else if (/average/.test(name)) s = String(n + 0.5);
  else if (/filter-json|map-json/.test(name))
    s = JSON.stringify({ level: ['info', 'debug', 'warn'][i % 3], message: 'x'.repeat(60), ts: 1_700_000_000_000 + i });
  else if (/json/.test(name)) s = JSON.stringify(['a'.repeat(20), n, { k: 'b'.repeat(30) }]);
  else {
    const chars = Array.from({ length: VALUE_BYTES }, () => String.fromCharCode(0x62 + Math.floor(rnd() * 25)));
    if (i % 2 === 0) chars[Math.floor(rnd() * VALUE_BYTES)] = 'a';
    if (/array-map/.test(name)) chars[50] = ',';
    s = chars.join('');
  }
  return new Uint8Array(Buffer.from(s));
}

function batchFor(name: string): FluvioBatch {
  const rnd = prng(7);
  const raw = encodeRecords(
    Array.from({ length: RECORDS }, (_, i) => ({ value: valueFor(name, rnd, i), offsetDelta: i, timestampDelta: i })),
  );
  return { baseOffset: 1000, baseTimestamp: 1_700_000_000_000, raw };
}

function stepOf(m: CorpusModule): FluvioStep {
  const wasm = m.origin === 'rust' ? readFileSync(m.path) : readFileSync(wasmPath(m.name));
  return {
    name: m.name,
    wasm,
    ...(m.params ? { params: m.params } : {}),
    ...(m.lookback ? { lookback: m.lookback } : {}),
  };
}

/**
 * Calls per round so a round lasts roughly `ms` at the measured rate, capped so that one harness
 * run stays far below the engine's 1 GB memory limit: Fluvio's engine never frees a module's
 * output, so every call leaks about a batch's worth of guest memory (and allocators grow memory
 * by doubling).
 */
function iterationsFor(nsPerBatch: number, batchBytes: number, ms = 150): number {
  const leakCap = Math.floor(120e6 / batchBytes);
  return Math.max(3, Math.min(leakCap, Math.round((ms * 1e6) / nsPerBatch)));
}

export async function runFluvioCompare(): Promise<Record<string, unknown>> {
  const rustMissing = missingRustModules();
  const modules = corpus({ rust: rustMissing.length === 0 }).filter((m) => !SKIP.has(m.name));
  const rows: (string | number)[][] = [
    ['module', 'bytes/record', 'Fluvio rec/s', 'Eddy rec/s', 'Eddy ÷ Fluvio', 'spread'],
  ];
  const results: Record<string, unknown>[] = [];
  for (const m of modules) {
    const step = stepOf(m);
    const batch = batchFor(m.name);
    const chain = await createChain([step], {});
    try {
      // Warm-up, which also sizes the rounds: Eddy's rate here (V8 tiers up), Fluvio's from one probe.
      const probe = timeFluvioChain([step], [batch], 20)[0]!;
      for (let i = 0; i < 50; i++) chain.process(batch);
      const n = iterationsFor(probe.nanos / 20, batch.raw.length);
      const fl: number[] = [],
        ed: number[] = [],
        ratios: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        // Two timed batches per harness run: the first warms that process up, the second counts.
        const t = timeFluvioChain([step], [batch, batch], n)[1]!;
        const f = (RECORDS * n) / (t.nanos / 1e9);
        const t0 = now();
        for (let i = 0; i < n; i++) chain.process(batch);
        const e = (RECORDS * n) / ((now() - t0) / 1e3);
        fl.push(f);
        ed.push(e);
        ratios.push(e / f);
      }
      const row = {
        module: m.name,
        origin: m.origin,
        record_bytes: Math.round(batch.raw.length / RECORDS),
        batch_records: RECORDS,
        fluvio_records_per_sec: median(fl),
        eddy_records_per_sec: median(ed),
        ratio: median(ratios),
        spread: spread(ratios),
      };
      results.push(row);
      rows.push([
        m.name,
        row.record_bytes,
        row.fluvio_records_per_sec,
        row.eddy_records_per_sec,
        row.ratio,
        row.spread,
      ]);
    } finally {
      chain.dispose();
    }
  }
  console.log(
    `one module, one thread, ${RECORDS}-record batches of ~${VALUE_BYTES} B values; median of ${ROUNDS} alternating rounds`,
  );
  console.log(table(rows));
  const ratios = results.map((r) => r['ratio'] as number);
  return {
    config: {
      records: RECORDS,
      value_bytes: VALUE_BYTES,
      rounds: ROUNDS,
      skipped: [...SKIP],
      rust_modules_missing: rustMissing,
    },
    modules: results,
    min_ratio: Math.min(...ratios),
    median_ratio: median(ratios),
    target_ratio: 1.0,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runFluvioCompare();
  console.log(`\nwrote ${writeResult('fluvio-compare', r)}`);
}
