import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'lmdb';
import { openStorage, type PartitionLog, type ProduceRecord, type Storage } from '../src/storage/index.js';
import { median, spread, table, writeResult } from './lib/harness.js';
import { prng } from './lib/records.js';

/**
 * bench/storage: produce and consume throughput of Eddy's log against raw lmdb-js doing the same
 * work in the same run, on the same LMDB environment and disk, with the same durability (every
 * write awaited until flushed):
 *
 * produce
 *   raw lmdb-js     `db.put(baseOffset, value)` of exactly the batch values Eddy stored (same keys,
 *                   same bytes, already encoded), then waiting until flushed: LMDB's floor.
 *   Eddy producer   `producer.sendAll(records)` (default 16 KiB batches, linger 0): partitioning,
 *                   batching, encoding every record, storing, acknowledging every record.
 *   Eddy append     `partition.append(records)` per batch-sized slice of the same records.
 *   Eddy encoded    `producer.sendEncoded({ raw, baseTimestamp })` of each batch's `Vec<Record>`,
 *                   already encoded (as a connector or a client that encodes would send it):
 *                   checking every record, framing and storing the bytes, no record objects.
 * consume
 *   raw lmdb-js     one `getRange` over the partition's database (same pages), reading every value.
 *   Eddy read       `readBatches(from)` until the end (the coordinator's read path: raw `Vec<Record>`
 *                   views ready for a SmartModule).
 *   Eddy consumer   `consume(...).batches()`, the async iterator.
 *
 * The machine may be shared and noisy: sides alternate within each round (order swapped every
 * round), each consume sample reads the data several times, and we report the best rate of each
 * side, the ratio of the best rates, and the median of the per-round ratios with its spread.
 * Targets: the record-object producer ≥ 0.75 of raw produce, the encoded path and everything else ≥ 0.9.
 * Each side's CPU time (every thread of the process, lmdb-js's writer included) is reported too,
 * with the per-round ratio raw CPU ÷ Eddy CPU: on a machine shared with other work it holds where
 * wall-clock ratios swing with the load.
 */

const TARGETS: Record<string, number> = { 'Eddy producer': 0.75 };

export interface Case {
  recordBytes: number;
  records: number;
}

const CASES: Case[] = [
  { recordBytes: 100, records: 200_000 },
  { recordBytes: 10 * 1024, records: 3_000 },
];
const ROUNDS = 9;
const CONSUME_PASSES = 5;

export function makeRecords(c: Case, seed: number): ProduceRecord[] {
  const rnd = prng(seed);
  return Array.from({ length: c.records }, () => {
    const v = new Uint8Array(c.recordBytes);
    for (let j = 0; j < v.length; j += 8) v[j] = 0x61 + Math.floor(rnd() * 26);
    return { value: v };
  });
}

/** CPU time (ms, every thread of the process) of the last `timed` call: rounds() reads it after each side. */
let lastCpuMs = 0;

export async function timed(f: () => Promise<unknown> | unknown): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  lastCpuMs = (c.user + c.system) / 1000;
  return ms;
}

/** Reads a partition to its end with readBatches, `passes` times; checks the record count. */
export function readAll(log: PartitionLog, records: number, passes: number): void {
  for (let p = 0; p < passes; p++) {
    let pos = 0;
    let count = 0;
    for (;;) {
      const bs = log.readBatches(pos);
      if (bs.length === 0) break;
      for (const b of bs) count += b.count;
      pos = bs[bs.length - 1]!.lastOffset + 1;
    }
    if (count !== records) throw new Error(`read ${count} records, expected ${records}`);
  }
}

/** Columns of the result tables of this bench and bench/checksum. */
export const RESULT_HEADER: (string | number)[] = [
  'record size',
  'op',
  'side',
  'best MB/s',
  'best rec/s',
  'ratio (best)',
  'ratio (median)',
  'spread',
  'CPU ns/rec',
  'CPU ratio (median)',
];

export interface Side {
  name: string;
  run: (round: number) => Promise<number>;
}

interface Sample {
  ms: number[];
  /** CPU time of the process over the same timed part (ms): on a shared machine wall time also counts other people's work. */
  cpuMs: number[];
}

/** Runs the sides for ROUNDS rounds, rotating which goes first; returns per-side times (ms). */
export async function rounds(sides: Side[]): Promise<Sample[]> {
  const out = sides.map(() => ({ ms: [] as number[], cpuMs: [] as number[] }));
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < sides.length; k++) {
      const i = (r + k) % sides.length;
      out[i]!.ms.push(await sides[i]!.run(r));
      out[i]!.cpuMs.push(lastCpuMs);
    }
  }
  return out;
}

export async function runStorageBench(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-storage-'));
  const store: Storage = await openStorage(dir, { retentionCheckMs: 0, maxPartitions: 200 });
  const rows = [RESULT_HEADER];
  const out: Record<string, unknown>[] = [];
  let n = 0;
  try {
    for (const c of CASES) {
      const records = makeRecords(c, c.recordBytes);
      const payload = c.records * c.recordBytes;
      // Warm-up (not counted); also gives the batch keys and values raw lmdb-js will write.
      const warm = `warm-${c.recordBytes}`;
      await store.createTopic(warm, { retentionMs: null, maxPartitionBytes: null });
      await store.producer(warm, { lingerMs: 0 }).sendAll(records);
      const keys: number[] = [];
      const vals: Uint8Array[] = [];
      const slices: ProduceRecord[][] = [];
      const encoded: { raw: Uint8Array; baseTimestamp: number }[] = [];
      for (const b of store.readBatches(warm, 0, 0, { maxBytes: Infinity })) {
        keys.push(b.baseOffset);
        vals.push(b.value);
        slices.push(records.slice(b.baseOffset, b.lastOffset + 1));
        encoded.push({ raw: Buffer.from(b.raw), baseTimestamp: b.baseTimestamp });
      }
      const newTopic = async () => {
        const t = `t${n++}`;
        await store.createTopic(t, { retentionMs: null, maxPartitionBytes: null });
        return t;
      };
      const newRaw = () => store.env.openDB({ name: `raw${n++}`, encoding: 'binary' }) as Database<Uint8Array, number>;

      // produce ----------------------------------------------------------------------------
      const cleanup: (() => Promise<unknown>)[] = [];
      const produce = await rounds([
        {
          name: 'raw lmdb-js',
          run: async () => {
            const db = newRaw();
            cleanup.push(() => db.drop());
            return timed(async () => {
              let last: Promise<boolean> | undefined;
              for (let i = 0; i < keys.length; i++) last = db.put(keys[i]!, vals[i]!);
              await last;
              await store.env.flushed;
            });
          },
        },
        {
          name: 'Eddy producer',
          run: async () => {
            const t = await newTopic();
            cleanup.push(() => store.deleteTopic(t));
            const producer = store.producer(t, { lingerMs: 0 });
            return timed(() => producer.sendAll(records));
          },
        },
        {
          name: 'Eddy append',
          run: async () => {
            const t = await newTopic();
            cleanup.push(() => store.deleteTopic(t));
            const log = store.partition(t, 0);
            return timed(() => Promise.all(slices.map((s) => log.append(s))));
          },
        },
        {
          name: 'Eddy encoded',
          run: async () => {
            const t = await newTopic();
            cleanup.push(() => store.deleteTopic(t));
            const producer = store.producer(t, { lingerMs: 0 });
            return timed(() => Promise.all(encoded.map((b) => producer.sendEncoded(b))));
          },
        },
      ]);
      for (const f of cleanup.splice(0)) await f();

      // consume: both sides read the same LMDB database (the partition's), so the same pages. The
      // produce inputs are released first: a large live heap makes every GC that lmdb-js's value
      // copies trigger expensive, for whichever side happens to be running.
      records.length = 0;
      vals.length = 0;
      slices.length = 0;
      encoded.length = 0;
      await store.env.flushed;
      await new Promise((r) => setTimeout(r, 200));
      const log = store.partition(warm, 0);
      const rawDb = log.db;
      const consume = await rounds([
        {
          name: 'raw lmdb-js',
          run: () =>
            timed(() => {
              for (let p = 0; p < CONSUME_PASSES; p++) {
                let bytes = 0;
                for (const { value } of rawDb.getRange({ start: 0 })) bytes += value.length;
                if (bytes === 0) throw new Error('nothing read');
              }
            }),
        },
        {
          name: 'Eddy read',
          run: () => timed(() => readAll(log, c.records, CONSUME_PASSES)),
        },
        {
          name: 'Eddy consumer',
          run: () =>
            timed(async () => {
              for (let p = 0; p < CONSUME_PASSES; p++) {
                let count = 0;
                for await (const b of store.consume(warm, 0).batches()) count += b.count;
                if (count !== c.records) throw new Error(`consumed ${count} records, expected ${c.records}`);
              }
            }),
        },
      ]);
      await store.deleteTopic(warm);

      for (const [op, samples, bytes, names] of [
        ['produce', produce, payload, ['raw lmdb-js', 'Eddy producer', 'Eddy append', 'Eddy encoded']],
        ['consume', consume, payload * CONSUME_PASSES, ['raw lmdb-js', 'Eddy read', 'Eddy consumer']],
      ] as const) {
        const raw = samples[0]!.ms;
        const rawBest = Math.min(...raw);
        const rawCpu = samples[0]!.cpuMs;
        const perRecord = (cpuMs: number[]) => (median(cpuMs) * 1e6) / (bytes / c.recordBytes);
        rows.push([
          `${c.recordBytes} B`,
          op,
          names[0],
          bytes / 1e3 / rawBest,
          (bytes / c.recordBytes / rawBest) * 1e3,
          1,
          1,
          0,
          perRecord(rawCpu),
          1,
        ]);
        for (let s = 1; s < samples.length; s++) {
          const ms = samples[s]!.ms;
          const best = Math.min(...ms);
          const ratios = ms.map((x, i) => raw[i]! / x);
          const ratioBest = rawBest / best;
          const ratioMedian = median(ratios);
          // raw lmdb-js's CPU ÷ Eddy's, per round (same work, so the inverse of Eddy's extra CPU).
          const cpuRatios = samples[s]!.cpuMs.map((x, i) => rawCpu[i]! / x);
          rows.push([
            `${c.recordBytes} B`,
            op,
            names[s]!,
            bytes / 1e3 / best,
            (bytes / c.recordBytes / best) * 1e3,
            ratioBest,
            ratioMedian,
            spread(ratios),
            perRecord(samples[s]!.cpuMs),
            median(cpuRatios),
          ]);
          out.push({
            record_bytes: c.recordBytes,
            records: c.records,
            batches: keys.length,
            op,
            side: names[s],
            raw_best_mb_s: bytes / 1e3 / rawBest,
            eddy_best_mb_s: bytes / 1e3 / best,
            eddy_best_records_per_sec: (bytes / c.recordBytes / best) * 1e3,
            ratio_best: ratioBest,
            ratio_median: ratioMedian,
            spread: spread(ratios),
            raw_cpu_ns_per_record: perRecord(rawCpu),
            eddy_cpu_ns_per_record: perRecord(samples[s]!.cpuMs),
            cpu_ratio_median: median(cpuRatios),
            cpu_ratio_spread: spread(cpuRatios),
            target: TARGETS[names[s]!] ?? 0.9,
            meets_target: ratioBest >= (TARGETS[names[s]!] ?? 0.9),
          });
        }
      }
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`storage: Eddy vs raw lmdb-js on the same LMDB environment, same puts / range reads of the same bytes`);
  console.log(`(${ROUNDS} alternating rounds; MB/s of record values; ratio = Eddy / raw; durability: flushed)`);
  console.log(table(rows));
  return { durability: 'flush', rounds: ROUNDS, consume_passes: CONSUME_PASSES, storage: out };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runStorageBench();
  console.log(`\nwrote ${writeResult('storage', r)}`);
}
