import { existsSync } from 'node:fs';
import { rustModulePath } from '../src/conformance/corpus.js';
import { encodeRecords } from '../src/protocol/index.js';
import { wasmPath } from '../src/sdk-build/fixtures.js';
import { Chain, type ChainOptions, loadModule } from '../src/smartmodule/index.js';
import { median, spread, table, writeResult } from './lib/harness.js';

/**
 * bench/recycle: a long stream through one instance of a module that keeps its outputs (Fluvio's
 * glue leaks each one), with instance recycling at the default `recycleAfter` against without it, in
 * alternating runs. Without recycling the instance grows by every output and V8 collects more and
 * more often; with it the memory stays under the threshold. Reported: ns per record each way,
 * their ratio, the peak memory and the recycles.
 *
 * Modules: Fluvio's crate-built filter (keeping every record) and map when they are built
 * (conformance/fluvio-modules), and the SDK filter run with `freeOutput: false`, which leaks as
 * they do. 2 000 batches of 1 000 × 100 B records per run (EDDY_BENCH_RECYCLE_BATCHES).
 */

const BATCHES = Number(process.env['EDDY_BENCH_RECYCLE_BATCHES'] ?? 2000);
const RUNS = 3;

interface Side {
  nsPerRecord: number;
  peakBytes: number;
  recycles: number;
}

async function runOnce(path: string, recycle: boolean, options: ChainOptions): Promise<Side> {
  const module = await loadModule(path, recycle ? {} : { recycleAfter: false });
  const chain = Chain.create([{ module }], options);
  // Every value holds an `a`: the filters keep all of them, so each batch leaves ~100 KB behind.
  const raw = encodeRecords(
    Array.from({ length: 1000 }, (_, i) => ({ value: Buffer.from(`a${String(i).padStart(99, 'b')}`), offsetDelta: i })),
  );
  const t0 = performance.now();
  for (let b = 0; b < BATCHES; b++) chain.process({ baseOffset: b * 1000, baseTimestamp: 0, raw });
  const ms = performance.now() - t0;
  const m = chain.metrics[0]!;
  chain.dispose();
  return { nsPerRecord: (ms * 1e6) / (BATCHES * 1000), peakBytes: m.memoryBytes, recycles: m.recycles };
}

export async function runRecycleBench(): Promise<Record<string, unknown>> {
  const modules: { name: string; path: string; options: ChainOptions }[] = [
    { name: 'sdk-filter (freeOutput: false)', path: wasmPath('filter'), options: { freeOutput: false } },
  ];
  for (const r of ['filter', 'map'])
    if (existsSync(rustModulePath(r))) modules.push({ name: `rust-${r}`, path: rustModulePath(r), options: {} });
  const rows: (string | number)[][] = [
    [
      'module',
      'recycled ns/rec',
      'kept ns/rec',
      'recycled ÷ kept time',
      'spread',
      'peak MiB recycled / kept',
      'recycles',
    ],
  ];
  const results: Record<string, unknown>[] = [];
  for (const m of modules) {
    const recycled: Side[] = [];
    const kept: Side[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Alternating order, so that a drift of the machine weighs on both sides alike.
      if (i % 2 === 0) {
        recycled.push(await runOnce(m.path, true, m.options));
        kept.push(await runOnce(m.path, false, m.options));
      } else {
        kept.push(await runOnce(m.path, false, m.options));
        recycled.push(await runOnce(m.path, true, m.options));
      }
    }
    const ratios = recycled.map((r, i) => r.nsPerRecord / kept[i]!.nsPerRecord);
    const row = {
      module: m.name,
      records: BATCHES * 1000,
      recycled_ns: median(recycled.map((r) => r.nsPerRecord)),
      kept_ns: median(kept.map((r) => r.nsPerRecord)),
      ratio: median(ratios),
      spread: spread(ratios),
      recycled_peak_bytes: Math.max(...recycled.map((r) => r.peakBytes)),
      kept_peak_bytes: Math.max(...kept.map((r) => r.peakBytes)),
      recycles: recycled[0]!.recycles,
    };
    results.push(row);
    rows.push([
      row.module,
      row.recycled_ns.toFixed(0),
      row.kept_ns.toFixed(0),
      row.ratio.toFixed(2),
      row.spread.toFixed(2),
      `${(row.recycled_peak_bytes / 2 ** 20).toFixed(0)} / ${(row.kept_peak_bytes / 2 ** 20).toFixed(0)}`,
      row.recycles,
    ]);
  }
  console.log(`${BATCHES * 1000} records of 100 B per run, ${RUNS} runs each way, alternating`);
  console.log(table(rows));
  return { records: BATCHES * 1000, record_bytes: 100, runs: RUNS, results };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runRecycleBench();
  console.log(`\nwrote ${writeResult('recycle', r)}`);
}
