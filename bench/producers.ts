import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openStorage } from '../src/storage/index.js';
import { median, table, writeResult } from './lib/harness.js';
import { sampleRecords } from './lib/records.js';

/**
 * bench/producers: several producer processes writing one topic at once (shared writers, each
 * append placed at the log's end inside LMDB's write transaction) against one process alone.
 *
 * Each process opens the directory with `sharedWriter`, warms up (sends WARM_RECORDS records to a
 * topic of its own, so the JIT and the heap are where a producer that has been running for a
 * moment has them: a fresh process pays that once, and N processes would pay it N times inside
 * the measured span), reports ready, and on "go" sends its share of the records (100 B values,
 * the producer's defaults: 16 KiB batches) with `sendAll`, then reports when it started and when
 * every record was acknowledged. The aggregate rate is all records over the time from the first
 * start to the last acknowledgement: records acknowledged per wall second, with Node's start-up
 * and the warm-up left out alike for 1 and N processes. A round runs 1, 2 and 4 processes back to
 * back (alternating order) and gives each count's ratio to the round's one process, so a ratio
 * compares runs seconds apart on this shared machine; the median round's ratio is reported with
 * the lowest and highest. Both durabilities are measured: 'flush' (the default: acknowledged once
 * on disk) and 'commit' (acknowledged once committed). Target: the aggregate of several processes
 * is not below one process's rate.
 */

const TOTAL = 800_000;
const WARM_RECORDS = 50_000;
const VALUE_BYTES = 100;
const COUNTS = [1, 2, 4];
const ROUNDS = 5;
const DURABILITIES = ['flush', 'commit'] as const;
type Durability = (typeof DURABILITIES)[number];
const PARTITIONS = 2;

/** Child: `producers.js child <dir> <records> <seed> <durability>`. */
async function child(dir: string, records: number, seed: number, durability: Durability): Promise<void> {
  const store = await openStorage(dir, { sharedWriter: true, retentionCheckMs: 0, durability });
  const warm = sampleRecords(WARM_RECORDS, VALUE_BYTES, seed + 1000).map((r) => ({ value: r.value }));
  await store.producer(`warm-${seed}`).sendAll(warm);
  const input = sampleRecords(records, VALUE_BYTES, seed).map((r) => ({ value: r.value }));
  const producer = store.producer('bench');
  console.log('ready');
  for await (const line of createInterface({ input: process.stdin })) if (line === 'go') break;
  const start = performance.timeOrigin + performance.now();
  await producer.sendAll(input);
  const end = performance.timeOrigin + performance.now();
  await store.close();
  console.log(JSON.stringify({ start, end }));
}

/** One round: `n` processes share TOTAL records; returns the aggregate records/s. */
async function round(n: number, durability: Durability): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-producers-'));
  try {
    const store = await openStorage(dir, { retentionCheckMs: 0 });
    await store.createTopic('bench', { partitions: PARTITIONS });
    for (let i = 1; i <= n; i++) await store.createTopic(`warm-${i}`, { partitions: PARTITIONS });
    await store.close();
    const per = TOTAL / n;
    const procs = Array.from({ length: n }, (_, i) => {
      const p = spawn(
        process.execPath,
        [fileURLToPath(import.meta.url), 'child', dir, String(per), String(i + 1), durability],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      const lines = createInterface({ input: p.stdout });
      const next = (() => {
        const it = lines[Symbol.asyncIterator]();
        return async () => (await it.next()).value as string;
      })();
      return { p, next };
    });
    for (const { next } of procs) if ((await next()) !== 'ready') throw new Error('a producer did not start');
    for (const { p } of procs) p.stdin.write('go\n');
    const spans = await Promise.all(
      procs.map(async ({ p, next }) => {
        const span = JSON.parse(await next()) as { start: number; end: number };
        p.stdin.end();
        return span;
      }),
    );
    const check = await openStorage(dir, { readOnly: true });
    const stored = check.describeTopic('bench').records;
    for (let p = 0; p < PARTITIONS; p++) {
      // Offsets unique and gap-free across the processes: each batch starts where the one before ended.
      let next = 0;
      for (
        let batches = check.readBatches('bench', p, 0);
        batches.length;
        batches = check.readBatches('bench', p, next)
      )
        for (const b of batches) {
          if (b.baseOffset !== next) throw new Error(`partition ${p}: batch at ${b.baseOffset}, expected ${next}`);
          next = b.lastOffset + 1;
        }
    }
    await check.close();
    if (stored !== TOTAL) throw new Error(`${stored} records stored, ${TOTAL} sent`);
    const ms = Math.max(...spans.map((s) => s.end)) - Math.min(...spans.map((s) => s.start));
    return (TOTAL * 1000) / ms;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const results = [];
  const lines: (string | number)[][] = [
    [
      'durability',
      'processes',
      'records/s (median)',
      '÷ one process (median round)',
      'lowest–highest round',
      'goal: aggregate ≥ one process',
      'records/s per round',
    ],
  ];
  for (const durability of DURABILITIES) {
    const rates = new Map<number, number[]>(COUNTS.map((n) => [n, []]));
    const ratios = new Map<number, number[]>(COUNTS.map((n) => [n, []]));
    await round(1, durability); // warm-up (disk, page cache)
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? COUNTS : [...COUNTS].reverse();
      const got = new Map<number, number>();
      for (const n of order) got.set(n, await round(n, durability));
      for (const n of COUNTS) {
        rates.get(n)!.push(got.get(n)!);
        ratios.get(n)!.push(got.get(n)! / got.get(1)!);
      }
    }
    for (const n of COUNTS) {
      const m = median(ratios.get(n)!);
      const row = {
        durability,
        processes: n,
        records_per_sec: Math.round(median(rates.get(n)!)),
        ratio_to_one: m,
        ratio_min: Math.min(...ratios.get(n)!),
        ratio_max: Math.max(...ratios.get(n)!),
        goal_met: m >= 1,
        rounds: rates.get(n)!.map(Math.round),
      };
      results.push(row);
      lines.push([
        durability,
        n,
        row.records_per_sec,
        m.toFixed(2),
        n === 1 ? '-' : `${row.ratio_min.toFixed(2)}–${row.ratio_max.toFixed(2)}`,
        n === 1 ? '-' : m >= 1 ? 'met' : 'missed',
        row.rounds.join(' '),
      ]);
    }
  }
  console.log(
    `${TOTAL} records of ${VALUE_BYTES} B into one topic (${PARTITIONS} partitions), shared among N producer processes (each warmed up with ${WARM_RECORDS} records first); ${ROUNDS} rounds, each running 1, 2 and 4 processes`,
  );
  console.log(table(lines));
  const file = writeResult('producers', {
    total_records: TOTAL,
    warm_records: WARM_RECORDS,
    value_bytes: VALUE_BYTES,
    partitions: PARTITIONS,
    rounds: ROUNDS,
    target_ratio: 1,
    producers: results,
  });
  console.log(`wrote ${file}`);
}

if (process.argv[2] === 'child')
  await child(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]), process.argv[6] as Durability);
else await main();
