import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Small benchmark harness. Machines are noisy, so every result that matters is a ratio between two
 * things measured in the same run, in alternating rounds, and we report the median round.
 */

export function now(): number {
  return performance.now();
}

/** Runs `fn` repeatedly for about `ms` milliseconds; returns calls per second. */
export function rate(fn: () => void, ms = 300): number {
  let calls = 0;
  const start = now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 10; i++) fn();
    calls += 10;
    elapsed = now() - start;
  }
  return (calls * 1000) / elapsed;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Spread of a sample as (max - min) / median. */
export function spread(xs: number[]): number {
  return (Math.max(...xs) - Math.min(...xs)) / median(xs);
}

export interface Versus {
  a: number;
  b: number;
  /** median of per-round a/b */
  ratio: number;
  spread: number;
}

/** Measures two candidates in alternating rounds (after a warm-up) and returns median rates and ratio. */
export function versus(a: () => void, b: () => void, rounds = 7, ms = 200): Versus {
  rate(a, 100);
  rate(b, 100);
  const ra: number[] = [],
    rb: number[] = [],
    ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const x = rate(a, ms);
    const y = rate(b, ms);
    ra.push(x);
    rb.push(y);
    ratios.push(x / y);
  }
  return { a: median(ra), b: median(rb), ratio: median(ratios), spread: spread(ratios) };
}

export function machine(): { cpu: string; cores: number; node: string; date: string; commit: string } {
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    /* not a checkout */
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    date: new Date().toISOString(),
    commit,
  };
}

const here = dirname(fileURLToPath(import.meta.url));
/** bench/results/ in the source tree (from dist/bench/lib/). */
export const RESULTS_DIR = join(here, '..', '..', '..', 'bench', 'results');

export function writeResult(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, `${JSON.stringify({ machine: machine(), ...(data as object) }, null, 2)}\n`);
  return file;
}

export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}

export function fmt(n: number): string {
  if (Number.isInteger(n)) return String(n);
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 1) return n.toFixed(2);
  return n.toFixed(3);
}
