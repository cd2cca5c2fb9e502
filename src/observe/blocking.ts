import { closeSync, openSync, readSync } from 'node:fs';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/**
 * How long serving requests holds the event loop in one go: each request handler and each render
 * slice is timed, in wall time. On a busy machine that also counts the moments the OS gave the core
 * to another process; Node 20 has no per-thread CPU clock to tell them apart (getrusage and /proc's
 * schedstat move in scheduler ticks, too coarse for holds of a few µs). What Linux does tell,
 * exactly, is how long a thread waited on a run queue (ready, but the core given to another
 * thread): with `runQueue` on (the bench), each hold also reads that counter before and after
 * (two /proc reads, ~5 µs each), and a long hold says how much of it was spent waiting.
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
  /**
   * The first holds over 1 ms: start (performance.now()) and length, to tell which a GC paused,
   * and with `runQueue` on, the ms of it the thread waited for a core.
   */
  long: { at: number; ms: number; waitedMs?: number }[];
}

const LONG_KEPT = 200;

/** The run-queue wait of the calling thread so far, in ns (the 2nd field of /proc/thread-self/schedstat). */
class RunQueue {
  private readonly fd = openSync('/proc/thread-self/schedstat', 'r');
  private readonly buf = Buffer.alloc(128);
  waitedNs(): number {
    const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
    return Number(this.buf.toString('latin1', 0, n).split(' ')[1]);
  }
  close(): void {
    closeSync(this.fd);
  }
}

export class BlockMeter {
  private count = 0;
  private overMs = 0;
  private long: Blocking['long'] = [];
  /** Every hold, in µs. */
  private readonly histogram: RecordableHistogram = createHistogram();

  private runQueue: RunQueue | null = null;
  /** The run-queue wait at the last `start`. */
  private waited0 = 0;

  /** Also read how long each hold waited for a core (Linux only; for the bench: it costs ~10 µs a hold). */
  measureRunQueue(on: boolean): void {
    this.runQueue?.close();
    this.runQueue = on ? new RunQueue() : null;
  }

  /** A mark to pass to `end`. */
  start(): number {
    if (this.runQueue) this.waited0 = this.runQueue.waitedNs();
    return performance.now();
  }

  end(t0: number): void {
    const ms = performance.now() - t0;
    // Holds do not nest (each is one synchronous stretch), so the last start is this hold's.
    const waitedMs = this.runQueue ? (this.runQueue.waitedNs() - this.waited0) / 1e6 : undefined;
    this.count++;
    this.histogram.record(Math.max(1, Math.round(ms * 1000)));
    if (ms > 1) {
      this.overMs++;
      if (this.long.length < LONG_KEPT)
        this.long.push(waitedMs === undefined ? { at: t0, ms } : { at: t0, ms, waitedMs });
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
