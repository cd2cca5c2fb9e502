import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { openStorage } from '../src/storage/index.js';
import { median, table, writeResult } from './lib/harness.js';

/**
 * bench/producers: several `eddy produce` processes writing one topic at once against one
 * process alone, as users run them (two terminals, a few scripts).
 *
 * Each process writes the directory itself (shared writers: LMDB's write lock orders their
 * transactions, each append is placed at the log's end inside it). Each process gets WARM_RECORDS lines
 * first and the bench waits until they are all stored (every process has started, opened or
 * joined, and its JIT has seen the path); then each gets its share of TOTAL lines (100 B) on
 * stdin at once and its stdin is closed. The span runs from that moment to the last process's
 * exit. A round runs 1, 2 and 4 processes back to back (alternating order) and gives each
 * count's ratio to the round's one process, so a ratio compares runs seconds apart on this shared
 * machine; the median round's ratio is reported with the lowest and highest. The CLI's
 * durability: acknowledged once on disk. Target: the aggregate of several processes is not below
 * one process's rate.
 */

const TOTAL = 800_000;
const WARM_RECORDS = 20_000;
const VALUE_BYTES = 100;
const COUNTS = [1, 2, 4];
const ROUNDS = 5;
const PARTITIONS = 2;
const eddyBin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'eddy.js');

/** `count` lines of VALUE_BYTES: `p<producer>-<n>` padded with dots. */
function lines(producer: number, from: number, count: number): Buffer {
  const out: string[] = [];
  for (let i = from; i < from + count; i++) out.push(`p${producer}-${i}`.padEnd(VALUE_BYTES, '.'));
  return Buffer.from(`${out.join('\n')}\n`);
}

function eddy(dir: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [eddyBin, ...args], {
    stdio: ['pipe', 'ignore', 'pipe'],
    env: { ...process.env, EDDY_DATA_DIR: dir },
  });
}

function exited(p: ChildProcess, err: () => string): Promise<void> {
  return new Promise((resolve, reject) =>
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`eddy produce exited ${code}: ${err()}`)))),
  );
}

/** One round: `n` processes share TOTAL records; returns the aggregate records/s. */
async function round(n: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-producers-'));
  try {
    const store = await openStorage(dir, { retentionCheckMs: 0 });
    await store.createTopic('bench', { partitions: PARTITIONS });
    await store.close();
    const per = TOTAL / n;
    const inputs = Array.from({ length: n }, (_, i) => lines(i, WARM_RECORDS, per));
    const procs = Array.from({ length: n }, (_, i) => {
      const p = eddy(dir, ['produce', 'bench']);
      let err = '';
      p.stderr!.on('data', (c: Buffer) => {
        err += c.toString();
      });
      const done = exited(p, () => err);
      done.catch(() => {});
      p.stdin!.write(lines(i, 0, WARM_RECORDS));
      return { p, done };
    });
    const reader = await openStorage(dir, { readOnly: true });
    const stored = () => {
      reader.env.resetReadTxn();
      return reader.describeTopic('bench').records;
    };
    for (const end = Date.now() + 120_000; stored() < n * WARM_RECORDS; await sleep(20)) {
      if (Date.now() > end) throw new Error('the producers did not store their warm-up records');
    }
    const start = performance.now();
    for (const [i, { p }] of procs.entries()) p.stdin!.end(inputs[i]);
    await Promise.all(procs.map((x) => x.done));
    const ms = performance.now() - start;
    if (stored() !== n * (WARM_RECORDS + per))
      throw new Error(`${stored()} records stored, ${n * (WARM_RECORDS + per)} sent`);
    for (let p = 0; p < PARTITIONS; p++) {
      // Offsets unique and gap-free across the processes: each batch starts where the one before ended.
      let next = 0;
      for (
        let batches = reader.readBatches('bench', p, 0);
        batches.length;
        batches = reader.readBatches('bench', p, next)
      )
        for (const b of batches) {
          if (b.baseOffset !== next) throw new Error(`partition ${p}: batch at ${b.baseOffset}, expected ${next}`);
          next = b.lastOffset + 1;
        }
    }
    await reader.close();
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
  {
    const durability = 'flush';
    const rates = new Map<number, number[]>(COUNTS.map((n) => [n, []]));
    const ratios = new Map<number, number[]>(COUNTS.map((n) => [n, []]));
    await round(1); // warm-up (disk, page cache)
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? COUNTS : [...COUNTS].reverse();
      const got = new Map<number, number>();
      for (const n of order) got.set(n, await round(n));
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
    `${TOTAL} lines of ${VALUE_BYTES} B into one topic (${PARTITIONS} partitions), shared among N \`eddy produce\` processes (each warmed up with ${WARM_RECORDS} lines first); ${ROUNDS} rounds, each running 1, 2 and 4 processes`,
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

await main();
