import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/**
 * How long serving requests holds the event loop in one go: each request handler and each render
 * slice is timed, in wall time. On a busy machine that also counts the moments the OS gave the core
 * to another process; Node 20 has no per-thread CPU clock to tell them apart (getrusage and /proc's
 * schedstat move in scheduler ticks, too coarse for holds of a few µs).
 */

export interface Blocking {
  /** Holds timed. */
  count: number;
  maxMs: number;
  /** Holds over 1 ms. */
  overMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  /** The first holds over 1 ms: start (performance.now()) and length, to tell which a GC paused. */
  long: { at: number; ms: number }[];
}

const LONG_KEPT = 200;

export class BlockMeter {
  private count = 0;
  private overMs = 0;
  private long: Blocking['long'] = [];
  /** Every hold, in µs. */
  private readonly histogram: RecordableHistogram = createHistogram();

  /** A mark to pass to `end`. */
  start(): number {
    return performance.now();
  }

  end(t0: number): void {
    const ms = performance.now() - t0;
    this.count++;
    this.histogram.record(Math.max(1, Math.round(ms * 1000)));
    if (ms > 1) {
      this.overMs++;
      if (this.long.length < LONG_KEPT) this.long.push({ at: t0, ms });
    }
  }

  get blocking(): Blocking {
    const h = this.histogram;
    const q = (p: number) => (this.count > 0 ? h.percentile(p) / 1000 : 0);
    return {
      count: this.count,
      maxMs: this.count > 0 ? h.max / 1000 : 0,
      overMs: this.overMs,
      p50Ms: q(50),
      p99Ms: q(99),
      p999Ms: q(99.9),
      long: [...this.long],
    };
  }

  reset(): void {
    this.count = 0;
    this.overMs = 0;
    this.long = [];
    this.histogram.reset();
  }
}
