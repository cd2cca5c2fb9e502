import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'lmdb';
import { openStorage, type Storage } from '../src/storage/index.js';
import { median, spread, table, writeResult } from './lib/harness.js';
import { prng } from './lib/records.js';

/**
 * bench/storage: produce and consume throughput of Eddy's log against raw lmdb-js doing the same
 * work in the same run, on the same LMDB environment and disk, with the same durability:
 *
 * - produce: Eddy = a Producer sending records (default 16 KiB batches, awaited until durable);
 *   raw = `db.put(baseOffset, value)` of exactly the batch values Eddy stored (same keys, same
 *   bytes), then waiting until flushed — the floor for writing those bytes.
 * - consume: Eddy = `consume(...).batches()` from the beginning (the hot path to a SmartModule:
 *   raw `Vec<Record>` views); raw = a `getRange` over the same database reading every value.
 *
 * Rounds alternate raw and Eddy; each produce round writes a fresh topic / database. Reported:
 * median rates and the median of per-round ratios (Eddy / raw). Target: ≥ 0.9.
 */

interface Case {
  recordBytes: number;
  records: number;
}

const CASES: Case[] = [
  { recordBytes: 100, records: 200_000 },
  { recordBytes: 10 * 1024, records: 3_000 },
];
const ROUNDS = 7;

function makeValues(c: Case, seed: number): Uint8Array[] {
  const rnd = prng(seed);
  return Array.from({ length: c.records }, () => {
    const v = new Uint8Array(c.recordBytes);
    for (let j = 0; j < v.length; j += 8) v[j] = 0x61 + Math.floor(rnd() * 26);
    return v;
  });
}

async function eddyProduce(store: Storage, topic: string, values: Uint8Array[]): Promise<number> {
  await store.createTopic(topic, { retentionMs: null, maxPartitionBytes: null });
  const producer = store.producer(topic, { lingerMs: 0 });
  const records = values.map((value) => ({ value }));
  const t0 = performance.now();
  await producer.sendAll(records);
  return performance.now() - t0;
}

async function rawProduce(store: Storage, db: Database<Uint8Array, number>, keys: number[], vals: Uint8Array[]): Promise<number> {
  const t0 = performance.now();
  let last: Promise<boolean> | undefined;
  for (let i = 0; i < keys.length; i++) last = db.put(keys[i]!, vals[i]!);
  await last;
  await store.env.flushed;
  return performance.now() - t0;
}

async function eddyConsume(store: Storage, topic: string): Promise<{ ms: number; records: number }> {
  const t0 = performance.now();
  let records = 0;
  for await (const b of store.consume(topic, 0).batches()) records += b.count;
  return { ms: performance.now() - t0, records };
}

function rawConsume(db: Database<Uint8Array, number>): { ms: number; bytes: number } {
  const t0 = performance.now();
  let bytes = 0;
  for (const { value } of db.getRange({ start: 0 })) bytes += value.length;
  return { ms: performance.now() - t0, bytes };
}

export async function runStorageBench(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-storage-'));
  const store = await openStorage(dir, { retentionCheckMs: 0 });
  const rows: (string | number)[][] = [['record size', 'op', 'raw lmdb-js MB/s', 'Eddy MB/s', 'Eddy rec/s', 'ratio', 'spread']];
  const out: Record<string, unknown>[] = [];
  try {
    let n = 0;
    for (const c of CASES) {
      const values = makeValues(c, c.recordBytes);
      const payload = c.records * c.recordBytes;
      const prod = { raw: [] as number[], eddy: [] as number[], ratio: [] as number[] };
      const cons = { raw: [] as number[], eddy: [] as number[], ratio: [] as number[] };
      // Warm-up round (not counted) also yields the keys and bytes raw lmdb-js will write.
      const warm = `warm-${c.recordBytes}`;
      await eddyProduce(store, warm, values);
      const keys: number[] = [];
      const vals: Uint8Array[] = [];
      for (const { key, value } of store.partition(warm, 0).db.getRange({ start: 0 })) {
        keys.push(key);
        vals.push(value);
      }
      await eddyConsume(store, warm);
      for (let r = 0; r < ROUNDS; r++) {
        const rawDb = store.env.openDB({ name: `raw-${n++}`, encoding: 'binary' }) as Database<Uint8Array, number>;
        const topic = `eddy-${n++}`;
        // Alternate which side goes first.
        let rawMs: number, eddyMs: number;
        if (r % 2 === 0) {
          rawMs = await rawProduce(store, rawDb, keys, vals);
          eddyMs = await eddyProduce(store, topic, values);
        } else {
          eddyMs = await eddyProduce(store, topic, values);
          rawMs = await rawProduce(store, rawDb, keys, vals);
        }
        prod.raw.push(payload / 1e3 / rawMs);
        prod.eddy.push(payload / 1e3 / eddyMs);
        prod.ratio.push(rawMs / eddyMs);

        let rc: { ms: number }, ec: { ms: number; records: number };
        if (r % 2 === 0) {
          rc = rawConsume(rawDb);
          ec = await eddyConsume(store, topic);
        } else {
          ec = await eddyConsume(store, topic);
          rc = rawConsume(rawDb);
        }
        if (ec.records !== c.records) throw new Error(`consumed ${ec.records} records, expected ${c.records}`);
        cons.raw.push(payload / 1e3 / rc.ms);
        cons.eddy.push(payload / 1e3 / ec.ms);
        cons.ratio.push(rc.ms / ec.ms);
        await store.deleteTopic(topic);
        await rawDb.drop();
      }
      await store.deleteTopic(warm);
      for (const [op, s] of [['produce', prod], ['consume', cons]] as const) {
        const ratio = median(s.ratio);
        rows.push([`${c.recordBytes} B`, op, median(s.raw), median(s.eddy), (median(s.eddy) * 1e6) / c.recordBytes, ratio, spread(s.ratio)]);
        out.push({
          record_bytes: c.recordBytes,
          records: c.records,
          batches: keys.length,
          op,
          raw_mb_s: median(s.raw),
          eddy_mb_s: median(s.eddy),
          eddy_records_per_sec: (median(s.eddy) * 1e6) / c.recordBytes,
          ratio,
          spread: spread(s.ratio),
          target: 0.9,
          meets_target: ratio >= 0.9,
        });
      }
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`storage: Eddy vs raw lmdb-js, same puts / range reads of the same bytes (${ROUNDS} alternating rounds, medians; MB/s of record values)`);
  console.log(table(rows));
  return { durability: 'flush', rounds: ROUNDS, storage: out };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runStorageBench();
  console.log(`\nwrote ${writeResult('storage', r)}`);
}
