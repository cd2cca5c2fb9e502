import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from '../src/storage/crc32.js';
import { crc32c } from '../src/storage/crc32c.js';
import { openStorage, type Storage } from '../src/storage/index.js';
import { median, spread, table, writeResult } from './lib/harness.js';
import { type Case, makeRecords, RESULT_HEADER, readAll, rounds, timed } from './storage.js';

/**
 * bench/checksum: what the per-batch checksum costs. The same records are produced into, and read
 * back from, two data directories on the same disk, one with `checksums: true` (the default: a
 * CRC-32 trailer written per batch, checked on every read) and one with `checksums: false`.
 * Sides alternate within each round (order rotated); ratio = rate with ÷ rate without, so 0.95
 * is a 5 % cost. Target: ≥ 0.95 at 100 B records (the most batches, so the most checksums, per byte).
 */

const CASES: Case[] = [{ recordBytes: 100, records: 200_000 }];
const CONSUME_PASSES = 5;
const TARGET = 0.95;

/**
 * GB/s of one CRC-32 call (the trailer batches get now), one CRC32C call (the trailer of batches
 * written before) and one copy (what a read does per batch) over a batch-sized buffer, best of
 * several tries: the floor of the checksum's cost is read-rate ÷ CRC-rate.
 */
function crcVersusCopy(bytes: number): { crc_gb_s: number; crc32c_gb_s: number; copy_gb_s: number } {
  const src = Buffer.alloc(bytes, 0x61);
  const dst = Buffer.alloc(bytes);
  const calls = Math.max(100, Math.floor(5e7 / bytes));
  const best = (f: () => void) => {
    let ns = Infinity;
    for (let r = 0; r < 7; r++) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) f();
      ns = Math.min(ns, Number(process.hrtime.bigint() - t) / calls);
    }
    return bytes / ns;
  };
  let sink = 0;
  const crc = best(() => {
    sink ^= crc32(src);
  });
  const castagnoli = best(() => {
    sink ^= crc32c(src);
  });
  const copy = best(() => dst.set(src));
  if (sink === 0.5) console.log(sink);
  return { crc_gb_s: crc, crc32c_gb_s: castagnoli, copy_gb_s: copy };
}

export async function runChecksumBench(): Promise<Record<string, unknown>> {
  const dirs = [mkdtempSync(join(tmpdir(), 'eddy-bench-crc-')), mkdtempSync(join(tmpdir(), 'eddy-bench-nocrc-'))];
  const stores: Storage[] = [
    await openStorage(dirs[0]!, { retentionCheckMs: 0, maxPartitions: 200 }),
    await openStorage(dirs[1]!, { retentionCheckMs: 0, maxPartitions: 200, checksums: false }),
  ];
  const names = ['with CRC-32', 'without'];
  const rows = [RESULT_HEADER];
  const out: Record<string, unknown>[] = [];
  let topicCount = 0;
  try {
    for (const c of CASES) {
      const records = makeRecords(c, c.recordBytes);
      for (const s of stores) {
        await s.createTopic('warm', { retentionMs: null, maxPartitionBytes: null });
        await s.producer('warm', { lingerMs: 0 }).sendAll(records);
      }
      const cleanup: (() => Promise<unknown>)[] = [];
      const producer = await rounds(
        stores.map((store, i) => ({
          name: names[i]!,
          run: async () => {
            const t = `t${topicCount++}`;
            await store.createTopic(t, { retentionMs: null, maxPartitionBytes: null });
            cleanup.push(() => store.deleteTopic(t));
            const p = store.producer(t, { lingerMs: 0 });
            return timed(() => p.sendAll(records));
          },
        })),
      );
      for (const f of cleanup.splice(0)) await f();
      records.length = 0;
      for (const s of stores) await s.env.flushed;
      const read = await rounds(
        stores.map((store, i) => ({
          name: names[i]!,
          run: () => timed(() => readAll(store.partition('warm', 0), c.records, CONSUME_PASSES)),
        })),
      );
      const consumer = await rounds(
        stores.map((store, i) => ({
          name: names[i]!,
          run: () =>
            timed(async () => {
              for (let p = 0; p < CONSUME_PASSES; p++) {
                let count = 0;
                for await (const b of store.consume('warm', 0).batches()) count += b.count;
                if (count !== c.records) throw new Error(`consumed ${count} records, expected ${c.records}`);
              }
            }),
        })),
      );
      const payload = c.records * c.recordBytes;
      for (const [op, side, samples, bytes] of [
        ['produce', 'producer', producer, payload],
        ['consume', 'readBatches', read, payload * CONSUME_PASSES],
        ['consume', 'consumer', consumer, payload * CONSUME_PASSES],
      ] as const) {
        const [withCrc, without] = [samples[0]!.ms, samples[1]!.ms];
        const cpu = [samples[0]!.cpuMs, samples[1]!.cpuMs];
        const cpuPerRecord = (ms: number[]) => (median(ms) * 1e6) / (bytes / c.recordBytes);
        const cpuRatios = cpu[0]!.map((x, i) => cpu[1]![i]! / x);
        const ratios = withCrc.map((x, i) => without[i]! / x);
        const best = [Math.min(...withCrc), Math.min(...without)];
        for (let k = 0; k < 2; k++) {
          rows.push([
            `${c.recordBytes} B`,
            `${op} (${side})`,
            names[k]!,
            bytes / 1e3 / best[k]!,
            (bytes / c.recordBytes / best[k]!) * 1e3,
            k === 0 ? best[1]! / best[0]! : 1,
            k === 0 ? median(ratios) : 1,
            k === 0 ? spread(ratios) : 0,
            cpuPerRecord(cpu[k]!),
            k === 0 ? median(cpuRatios) : 1,
          ]);
        }
        out.push({
          record_bytes: c.recordBytes,
          op,
          side,
          with_best_mb_s: bytes / 1e3 / best[0]!,
          without_best_mb_s: bytes / 1e3 / best[1]!,
          ratio_best: best[1]! / best[0]!,
          ratio_median: median(ratios),
          spread: spread(ratios),
          target: TARGET,
          meets_target: median(ratios) >= TARGET,
        });
      }
    }
  } finally {
    for (const s of stores) await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  console.log('checksum: the same records with and without the per-batch CRC-32 (written on produce, checked on read)');
  console.log('(alternating rounds; MB/s of record values; ratio = with ÷ without; durability: flushed)');
  console.log(table(rows));
  const speed = crcVersusCopy(16 * 1024);
  console.log(
    `one 16 KiB batch: CRC-32 ${speed.crc_gb_s.toFixed(2)} GB/s, CRC32C (older batches) ${speed.crc32c_gb_s.toFixed(2)} GB/s, copy ${speed.copy_gb_s.toFixed(2)} GB/s (same process)`,
  );
  return { durability: 'flush', consume_passes: CONSUME_PASSES, checksum: out, ...speed };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runChecksumBench();
  console.log(`\nwrote ${writeResult('checksum', r)}`);
}
