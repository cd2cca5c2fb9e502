/**
 * Small statistics for the bench engine: medians, spreads, percentiles and histograms. Machines
 * are noisy, so every rate is measured several times and reported as the median with its spread.
 */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Spread of a sample: (max − min) / median. 0 for fewer than two values. */
export function spread(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = median(xs);
  return m === 0 ? 0 : (Math.max(...xs) - Math.min(...xs)) / m;
}

/** Nearest-rank percentile (p in 0..100) of an unsorted sample. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank]!;
}

export interface Histogram {
  /** Lower edge of each bin (same unit as the sample). */
  edges: number[];
  counts: number[];
  /** Width of every bin. */
  width: number;
}

/** Equal-width histogram over [min, p99.9] with `bins` bins; larger values go into the last bin. */
export function histogram(xs: readonly number[], bins = 30): Histogram {
  if (xs.length === 0) return { edges: [], counts: [], width: 0 };
  const lo = Math.min(...xs);
  const hi = Math.max(lo, percentile(xs, 99.9));
  const width = hi > lo ? (hi - lo) / bins : 1;
  const counts = new Array<number>(bins).fill(0);
  for (const x of xs) counts[Math.min(bins - 1, Math.floor((x - lo) / width))]!++;
  return { edges: counts.map((_, i) => lo + i * width), counts, width };
}

/**
 * Repeats `round` until the last `window` results agree within `maxSpread` (and at least
 * `minRounds` ran), or until `maxRounds` or `budgetMs` is reached. Returns every result; the
 * caller reports the median of the last window and its spread.
 */
export async function repeatUntilStable<T>(
  round: (i: number) => Promise<T>,
  value: (r: T) => number,
  opts: { minRounds: number; maxRounds: number; window: number; maxSpread: number; budgetMs: number },
): Promise<{ results: T[]; window: T[]; spread: number; stable: boolean }> {
  const results: T[] = [];
  const start = performance.now();
  for (let i = 0; i < opts.maxRounds; i++) {
    results.push(await round(i));
    const w = results.slice(-opts.window);
    const s = spread(w.map(value));
    if (results.length >= opts.minRounds && w.length >= Math.min(opts.window, opts.minRounds) && s <= opts.maxSpread) {
      return { results, window: w, spread: s, stable: true };
    }
    if (performance.now() - start >= opts.budgetMs && results.length >= opts.minRounds) break;
  }
  const w = results.slice(-opts.window);
  return { results, window: w, spread: spread(w.map(value)), stable: false };
}
