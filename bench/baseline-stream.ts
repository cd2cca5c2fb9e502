import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PoolRig } from '../src/bench/runner.js';
import { median, spread } from '../src/bench/stats.js';
import { WorkerPool } from '../src/coordinator/pool.js';
import { type Eddy, open } from '../src/eddy.js';
import { wasmPath } from '../src/sdk-build/fixtures.js';
import { loadModule } from '../src/smartmodule/index.js';
import type { ConsumedRecord } from '../src/storage/index.js';
import { table, writeResult } from './lib/harness.js';
import { fill, storageSource } from './pipeline.js';

/**
 * bench/baseline-stream: what a user would write without SmartModules — the stored records read
 * and decoded to objects, a plain Node `stream.Transform` that keeps values containing 'a', a
 * sink — in one thread, against Eddy running the filter example over the same stored records:
 *
 *   - Eddy (batches): the pool end to end, output batches delivered in order (as bench/pipeline);
 *   - Eddy (records): the public API, `eddy.consume(topic, { transforms })`, one record object at a time.
 *
 * Both with W = all cores, measured in alternating rounds in the same run; ratio = Eddy records/s
 * ÷ baseline records/s (median of per-round ratios).
 *
 *   node dist/bench/baseline-stream.js   → table on stdout, JSON in bench/results/baseline-stream.json
 */

const dec = new TextDecoder();

/** Every stored record as an object, partition after partition (as a user's reader would yield them). */
async function* storedRecords(eddy: Eddy, partitions: number): AsyncGenerator<ConsumedRecord> {
  for (let p = 0; p < partitions; p++) yield* eddy.storage.consume('bench', p, { from: 'beginning' }).records();
}

/** The plain-Node filter: decode the value, keep it when it contains 'a', pass the object on. */
async function baseline(eddy: Eddy, partitions: number): Promise<{ in: number; out: number; ms: number }> {
  let seen = 0,
    kept = 0;
  const t0 = performance.now();
  await pipeline(
    Readable.from(storedRecords(eddy, partitions)),
    new Transform({
      objectMode: true,
      transform(r: ConsumedRecord, _enc, done) {
        seen++;
        const value = dec.decode(r.value);
        if (value.includes('a')) done(null, { partition: r.partition, offset: r.offset, key: r.key, value });
        else done();
      },
    }),
    new Writable({
      objectMode: true,
      write(_r, _enc, done) {
        kept++;
        done();
      },
    }),
  );
  return { in: seen, out: kept, ms: performance.now() - t0 };
}

/** Eddy's public API: consume the topic through the filter, one record object at a time. */
async function eddyRecords(eddy: Eddy, filter: string, total: number): Promise<{ out: number; ms: number }> {
  let kept = 0;
  const t0 = performance.now();
  for await (const r of eddy.consume('bench', { transforms: [{ uses: filter }] })) {
    if (r.value.length > 0) kept++;
  }
  const ms = performance.now() - t0;
  void total;
  return { out: kept, ms };
}

export async function runBaselineBench(
  o: { records?: number; partitions?: number; rounds?: number; log?: (l: string) => void; quiet?: boolean } = {},
): Promise<Record<string, unknown>> {
  const records = o.records ?? 1_000_000;
  const partitions = o.partitions ?? 4;
  const rounds = o.rounds ?? 5;
  const log = o.log ?? ((l: string) => console.error(l));
  const W = availableParallelism();
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-baseline-'));
  const eddy = await open(dir, { durability: 'commit', retentionCheckMs: 0, workers: W });
  const pool = new WorkerPool({ workers: W });
  let rig: PoolRig | null = null;
  try {
    await fill(eddy.storage, partitions, records, 100, 1000);
    const filter = wasmPath('filter');
    rig = await PoolRig.open({ workers: W, pool, partitions, steps: [{ module: await loadModule(filter) }] });
    const source = storageSource(eddy.storage);
    // Warm-up of all three.
    await baseline(eddy, partitions);
    await rig.round(source);
    await eddyRecords(eddy, filter, records);
    const base: number[] = [],
      batches: number[] = [],
      recs: number[] = [],
      rBatches: number[] = [],
      rRecords: number[] = [];
    let selectivity = 0;
    for (let r = 0; r < rounds; r++) {
      const b = await baseline(eddy, partitions);
      const s = await rig.round(source);
      const e = await eddyRecords(eddy, filter, records);
      if (b.in !== records || s.recordsIn !== records || e.out !== b.out || s.recordsOut !== b.out) {
        throw new Error(
          `outputs differ: baseline ${b.out}/${b.in}, Eddy batches ${s.recordsOut}/${s.recordsIn}, Eddy records ${e.out}`,
        );
      }
      selectivity = b.out / b.in;
      const rb = (records * 1000) / b.ms,
        rs = (records * 1000) / s.elapsedMs,
        re = (records * 1000) / e.ms;
      base.push(rb);
      batches.push(rs);
      recs.push(re);
      rBatches.push(rs / rb);
      rRecords.push(re / rb);
      log(
        `round ${r + 1}/${rounds}: stream.Transform ${(rb / 1e6).toFixed(2)}M rec/s, Eddy batches ${(rs / 1e6).toFixed(2)}M (×${(rs / rb).toFixed(2)}), Eddy records ${(re / 1e6).toFixed(2)}M (×${(re / rb).toFixed(2)})`,
      );
    }
    const result = {
      bench: 'baseline-stream',
      description:
        "filter 'value contains a' over the same stored records: plain Node stream.Transform in one thread (records decoded to objects) vs Eddy with the filter SmartModule on every core; ratio = Eddy ÷ baseline, median of per-round ratios",
      config: { records, partitions, record_bytes: 100, batch_records: 1000, workers: W, rounds },
      selectivity,
      baseline_records_per_sec: median(base),
      baseline_spread: spread(base),
      eddy_batches_records_per_sec: median(batches),
      eddy_records_records_per_sec: median(recs),
      ratio_batches: median(rBatches),
      ratio_batches_spread: spread(rBatches),
      ratio_records: median(rRecords),
      ratio_records_spread: spread(rRecords),
    };
    if (!o.quiet) {
      console.log(
        `filter "contains a" over ${records} stored 100-byte records (${partitions} partitions), Eddy with ${W} workers`,
      );
      console.log(
        table([
          ['', 'records/s', 'vs stream.Transform', 'spread'],
          [
            'stream.Transform, one thread (decode to objects, includes("a"), push)',
            result.baseline_records_per_sec,
            1,
            result.baseline_spread,
          ],
          [
            'Eddy, pool end to end (output batches)',
            result.eddy_batches_records_per_sec,
            result.ratio_batches,
            result.ratio_batches_spread,
          ],
          [
            'Eddy, eddy.consume({ transforms }) record objects',
            result.eddy_records_records_per_sec,
            result.ratio_records,
            result.ratio_records_spread,
          ],
        ]),
      );
    }
    return result;
  } finally {
    await rig?.close();
    await pool.close();
    await eddy.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runBaselineBench();
  console.log(`\nwrote ${writeResult('baseline-stream', r)}`);
}
