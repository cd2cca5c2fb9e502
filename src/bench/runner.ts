import { readdirSync, readFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import {
  ChainSession,
  type SessionResult,
  type SessionStep,
  type SourceRange,
  type Ticket,
} from '../coordinator/chain-session.js';
import { COORDINATOR_DEFAULTS } from '../coordinator/defaults.js';
import { WorkerPool } from '../coordinator/pool.js';
import { recordListCount } from '../protocol/record.js';
import { Chain } from '../smartmodule/chain.js';
import type { BatchInput } from '../smartmodule/types.js';
import { planRange } from '../storage/range-plan.js';
import type { Storage } from '../storage/storage.js';

/**
 * The measuring engine behind `eddy bench` and bench/pipeline: a chain run through Eddy's real
 * worker pool (one ChainSession per partition, batches submitted with pipelining, results in
 * order), and the same chain run on the main thread alone (the single-thread reference the
 * pipeline's efficiency is measured against).
 */

/**
 * CPU time of the main thread (ms) from /proc (Linux; 10 ms ticks), NaN elsewhere. Unlike
 * event-loop utilisation it does not count time the thread was runnable but descheduled, so it
 * holds up on a machine shared with other work.
 */
export function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in clock ticks of 10 ms
  } catch {
    return NaN;
  }
}

/**
 * CPU time of the calling thread in nanoseconds (Linux: /proc/thread-self/schedstat, which works in
 * worker threads too), NaN elsewhere. Unlike wall time it leaves out the time other processes had
 * the core, so per-record costs hold up on a busy machine.
 */
export function threadCpuNs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ', 1)[0]);
  } catch {
    return NaN;
  }
}

/**
 * CPU time of each thread of this process in nanoseconds, by thread id (Linux; empty elsewhere or
 * when /proc cannot be read): tells the main thread, a worker and V8's helper threads apart.
 */
export function threadsCpuNs(): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const t of readdirSync('/proc/self/task')) {
      try {
        out.set(Number(t), Number(readFileSync(`/proc/self/task/${t}/schedstat`, 'latin1').split(' ', 1)[0]));
      } catch {
        // the thread ended while we listed them
      }
    }
  } catch {
    out.clear();
  }
  return out;
}

/** CPU time of the whole process, every thread (ms). */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Where a partition's batches come from in one round: groups of batches (each group is read at
 * once, e.g. one storage read). Sync iterables are timed exactly (storage read time); async ones
 * are timed around each `next()`, which includes waiting.
 */
export type BatchSource = (partition: number) => Iterable<BatchInput[]> | AsyncIterable<BatchInput[]> | RangeSource;

/** Offset ranges of a stored partition, planned one at a time (workers read the batches). */
export interface RangeSource {
  readonly kind: 'ranges';
  next(): SourceRange | null;
}

function isRangeSource(x: unknown): x is RangeSource {
  return typeof x === 'object' && x !== null && (x as RangeSource).kind === 'ranges';
}

export function rangeSource(
  store: Storage,
  topic: string,
  partition: number,
  batchesPerSubmission: number = COORDINATOR_DEFAULTS.batchesPerSubmission,
): RangeSource {
  const log = store.partition(topic, partition);
  const source = store.partitionSource(topic, partition);
  let pos = log.startOffset;
  return {
    kind: 'ranges',
    next() {
      const r = planRange(log, pos, batchesPerSubmission);
      if (!r) return null;
      pos = r.end;
      return { source, ...r };
    },
  };
}

export interface RigOptions {
  workers: number;
  /** Streams (one per partition). Default: `workers`. */
  partitions?: number;
  steps: SessionStep[];
  /** Submissions outstanding per stream. Default 4. */
  maxInFlight?: number;
  /** Batches per submission (one frame). Default 1. 0: each group the source yields (e.g. one storage read) is one submission. */
  batchesPerSubmit?: number;
  /** Per-batch deadline (ms). Default 30 000 (a bench may run slow modules on big batches). */
  deadlineMs?: number;
  /** A shared pool (its size wins over `workers`); otherwise the rig makes and closes its own. */
  pool?: WorkerPool;
}

/** What one pass over the input measured. Times in ms. */
export interface RoundStats {
  elapsedMs: number;
  recordsIn: number;
  recordsOut: number;
  bytesIn: number;
  bytesOut: number;
  batches: number;
  submissions: number;
  /** Submit → result delivered, per submission (ms). */
  latenciesMs: number[];
  /** Records per submission (to turn latencies into per-batch figures). */
  recordsPerSubmission: number;
  /** Worker time inside the engine (instance.process), summed over chain sessions (ms). */
  moduleMs: number;
  /** Main thread: busy time (event-loop utilisation), storage reads, frame packing + posting. */
  mainBusyMs: number;
  readMs: number;
  submitMs: number;
  /** Main-thread garbage collection (ms), part of mainBusyMs. */
  gcMs: number;
  /** CPU time over the round: every thread of the process, and the main thread alone (ms; NaN off Linux). */
  cpuMs: number;
  mainCpuMs: number;
  /** Records that failed in the module (skipped so the run goes on). */
  errors: number;
  firstError: string | null;
  /** Largest linear memory of any instance (bytes). */
  peakMemoryBytes: number;
  /** Instances recycled so far (they keep their outputs and grew past recycleAfter), all sessions. */
  recycles: number;
}

/**
 * A chain opened on a pool of `workers` threads as `partitions` ordered chain sessions. `round` runs one
 * pass of a source through every chain session; rounds can be repeated (chain sessions stay open, so aggregate
 * accumulators carry on, as in a long-running stream).
 */
export class PoolRig {
  readonly workers: number;
  readonly partitions: number;
  /** Time to open every stream on its worker (instantiate + init, in parallel), ms. */
  openMs = 0;
  private readonly maxInFlight: number;
  private readonly perSubmit: number;

  private constructor(
    readonly pool: WorkerPool,
    private readonly ownPool: boolean,
    readonly sessions: ChainSession[],
    opts: RigOptions,
  ) {
    this.workers = pool.size;
    this.partitions = sessions.length;
    this.maxInFlight = opts.maxInFlight ?? COORDINATOR_DEFAULTS.maxInFlight;
    this.perSubmit = opts.batchesPerSubmit === 0 ? Infinity : Math.max(1, opts.batchesPerSubmit ?? 1);
  }

  static async open(opts: RigOptions): Promise<PoolRig> {
    const pool = opts.pool ?? new WorkerPool({ workers: opts.workers });
    const own = opts.pool === undefined;
    try {
      await pool.ready();
      const partitions = opts.partitions ?? pool.size;
      // Stream ids are the pool's own numbers: unique, so several rigs can share one pool.
      const sessions = Array.from(
        { length: partitions },
        () =>
          new ChainSession(pool, {
            steps: opts.steps,
            policy: 'skip',
            maxInFlight: opts.maxInFlight ?? COORDINATOR_DEFAULTS.maxInFlight,
            deadlineMs: opts.deadlineMs ?? 30_000,
          }),
      );
      const rig = new PoolRig(pool, own, sessions, opts);
      const t0 = performance.now();
      await Promise.all(sessions.map((s) => s.start()));
      rig.openMs = performance.now() - t0;
      return rig;
    } catch (err) {
      if (own) await pool.close();
      throw err;
    }
  }

  async round(source: BatchSource): Promise<RoundStats> {
    const stats: RoundStats = {
      elapsedMs: 0,
      recordsIn: 0,
      recordsOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      batches: 0,
      submissions: 0,
      latenciesMs: [],
      recordsPerSubmission: 0,
      moduleMs: 0,
      mainBusyMs: 0,
      readMs: 0,
      submitMs: 0,
      gcMs: 0,
      cpuMs: 0,
      mainCpuMs: 0,
      errors: 0,
      firstError: null,
      peakMemoryBytes: 0,
      recycles: 0,
    };
    const before = this.sessions.map((s) => s.moduleMetrics().reduce((n, m) => n + m.timeMs, 0));
    const elu0 = performance.eventLoopUtilization();
    const gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) stats.gcMs += e.duration;
    });
    gc.observe({ entryTypes: ['gc'] });
    const cpu0 = processCpuMs(),
      main0 = mainThreadCpuMs();
    const t0 = performance.now();
    try {
      await Promise.all(this.sessions.map((s, p) => this.pump(s, source(p), stats)));
    } finally {
      stats.elapsedMs = performance.now() - t0;
      stats.cpuMs = processCpuMs() - cpu0;
      stats.mainCpuMs = mainThreadCpuMs() - main0;
      // GC entries are delivered asynchronously: collect the ones still queued.
      for (const e of gc.takeRecords()) stats.gcMs += e.duration;
      gc.disconnect();
    }
    stats.mainBusyMs = performance.eventLoopUtilization(elu0).active;
    this.sessions.forEach((s, i) => {
      const m = s.moduleMetrics();
      stats.moduleMs += m.reduce((n, x) => n + x.timeMs, 0) - before[i]!;
      for (const x of m) {
        stats.peakMemoryBytes = Math.max(stats.peakMemoryBytes, x.memoryBytes);
        stats.recycles += x.recycles;
      }
    });
    stats.recordsPerSubmission = stats.submissions > 0 ? stats.recordsIn / stats.submissions : 0;
    return stats;
  }

  /**
   * One pass over a stored topic the way Eddy's consumers and derived sessions run: the main
   * thread plans offset ranges from batch keys, the workers read the batches from LMDB themselves.
   */
  async roundStorage(
    store: Storage,
    topic: string,
    batchesPerSubmission: number = COORDINATOR_DEFAULTS.batchesPerSubmission,
  ): Promise<RoundStats> {
    return this.round((p) => rangeSource(store, topic, p, batchesPerSubmission));
  }

  private async pump(
    stream: ChainSession,
    groups: Iterable<BatchInput[]> | AsyncIterable<BatchInput[]> | RangeSource,
    stats: RoundStats,
  ): Promise<void> {
    const queue: { ticket: Ticket; at: number }[] = [];
    const settle = async (q: { ticket: Ticket; at: number }): Promise<void> => {
      const r: SessionResult = await q.ticket.result;
      stats.latenciesMs.push(performance.now() - q.at);
      for (const b of r.batches) {
        stats.recordsOut += b.count;
        stats.bytesOut += b.raw.length;
        const failed = b.skipped.length + (b.error ? 1 : 0);
        if (failed > 0) {
          stats.errors += failed;
          stats.firstError ??= (b.error ?? b.skipped[0])!.message;
        }
      }
      r.release(); // as a consumer done with the bytes would: the worker writes its next frame here
    };
    let pending: BatchInput[] = [];
    if (isRangeSource(groups)) {
      for (;;) {
        const t = performance.now();
        const range = groups.next();
        stats.readMs += performance.now() - t;
        if (!range) break;
        while (queue.length >= this.maxInFlight) await settle(queue.shift()!);
        const at = performance.now();
        const p = stream.submitRange(range);
        stats.submitMs += performance.now() - at;
        stats.submissions++;
        stats.recordsIn += range.end - range.from;
        stats.batches += range.keys.length;
        queue.push({ ticket: await p, at });
      }
      while (queue.length > 0) await settle(queue.shift()!);
      return;
    }
    const send = async (): Promise<void> => {
      const group = pending;
      pending = [];
      // Wait for the oldest result ourselves, so that submit never waits and its time is packing + posting.
      while (queue.length >= this.maxInFlight) await settle(queue.shift()!);
      const at = performance.now();
      const p = stream.submit(group);
      stats.submitMs += performance.now() - at;
      stats.submissions++;
      queue.push({ ticket: await p, at });
    };
    const take = async (batches: BatchInput[]): Promise<void> => {
      for (const b of batches) {
        stats.batches++;
        stats.recordsIn += recordListCount(b.raw);
        stats.bytesIn += b.raw.length;
        pending.push(b);
        if (pending.length >= this.perSubmit) await send();
      }
      if (this.perSubmit === Infinity && pending.length > 0) await send();
    };
    if (Symbol.iterator in groups) {
      const it = groups[Symbol.iterator]();
      for (;;) {
        const t = performance.now();
        const n = it.next();
        stats.readMs += performance.now() - t;
        if (n.done) break;
        await take(n.value);
      }
    } else {
      const it = groups[Symbol.asyncIterator]();
      for (;;) {
        const t = performance.now();
        const n = await it.next();
        stats.readMs += performance.now() - t;
        if (n.done) break;
        await take(n.value);
      }
    }
    if (pending.length > 0) await send();
    while (queue.length > 0) await settle(queue.shift()!);
  }

  async close(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.close()));
    if (this.ownPool) await this.pool.close();
  }
}

/**
 * The chain on the main thread alone (no pool, no frames): instance.process over `batches`
 * cyclically for about `ms`. Returns input records per second. Outputs are borrowed, as the
 * workers do, so both sides do the same engine work.
 */
export function engineRate(
  chain: Chain,
  batches: readonly BatchInput[],
  ms: number,
): { recordsPerSec: number; records: number; elapsedMs: number; cpuMs: number; threadCpuNs: number } {
  let records = 0;
  const cpu0 = processCpuMs();
  const thread0 = threadCpuNs();
  const counts = batches.map((b) => recordListCount(b.raw));
  const t0 = performance.now();
  let elapsed = 0;
  let i = 0;
  while (elapsed < ms) {
    for (let k = 0; k < 4; k++) {
      const b = batches[i]!;
      chain.processWith(b, 'skip');
      records += counts[i]!;
      i = (i + 1) % batches.length;
    }
    elapsed = performance.now() - t0;
  }
  chain.release();
  return {
    recordsPerSec: (records * 1000) / elapsed,
    records,
    elapsedMs: elapsed,
    cpuMs: processCpuMs() - cpu0,
    threadCpuNs: threadCpuNs() - thread0,
  };
}

/** A chain for main-thread measurements, as a worker builds it (borrowed outputs). */
export function mainThreadChain(steps: readonly SessionStep[]): Chain {
  return Chain.create(
    steps.map((s) => ({ module: s.module, params: s.params ?? {}, lookback: s.lookback ?? null })),
    { borrowOutput: true },
  );
}
