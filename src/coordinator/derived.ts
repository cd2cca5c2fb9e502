import { EventEmitter } from 'eventemitter3';
import { EddyError } from '../errors.js';
import type { ErrorPolicy } from '../smartmodule/chain.js';
import type { TransformStep } from '../smartmodule/transforms.js';
import type { Storage } from '../storage/storage.js';
import { readLookback } from './lookback.js';
import type { WorkerPool } from './pool.js';
import type { ModuleResolver } from './resolve.js';
import { StreamStoppedError } from './errors.js';
import { ModuleStream, type StreamMetrics, type StreamResult, type StreamState } from './stream.js';
import { planRange } from './range-plan.js';

/**
 * A derived stream: topic → chain → topic, exactly once. Each source partition runs as its own
 * ModuleStream; each result is committed in ONE LMDB transaction together with the source offset
 * it reaches and the chain's accumulators. After a crash the stream resumes from that commit, so
 * the output topic equals an uninterrupted run: nothing lost, nothing duplicated.
 * Source partition p writes to target partition p mod (target partitions), keeping order.
 */

export interface DeriveConfig {
  name: string;
  source: string;
  target: string;
  transforms: TransformStep[];
  /** What a module error does (default stop: the partition's stream stops at the failing record). */
  policy?: ErrorPolicy;
  /** Per-batch deadline (ms), default 5000. */
  deadlineMs?: number;
  /** Submissions in flight per partition, default 4. */
  maxInFlight?: number;
}

/** Committed progress of one source partition. */
export interface DeriveCheckpoint {
  /** Next source offset to process. */
  offset: number;
  /** Chain accumulators after the last committed batch. */
  accumulators: (Uint8Array | null)[] | null;
  /** Output records written so far. */
  written: number;
  updatedAt: number;
}

export interface DerivedEvents {
  state: [state: StreamState, partition: number];
  batch: [info: { partition: number; sourceOffset: number; recordsOut: number; targetPartition: number }];
  lag: [info: { partition: number; lag: number }];
  error: [error: EddyError, partition: number];
}

export const deriveDefKey = (name: string) => ['derive', name];
export const deriveStateKey = (name: string, partition: number) => ['derive-state', name, partition];

export class DerivedStream extends EventEmitter<DerivedEvents> {
  private readonly controller = new AbortController();
  private readonly streams = new Map<number, ModuleStream>();
  private readonly runs: Promise<void>[] = [];
  readonly errors = new Map<number, EddyError>();

  constructor(
    readonly config: DeriveConfig,
    private readonly storage: Storage,
    private readonly pool: WorkerPool,
    private readonly resolver: ModuleResolver,
  ) {
    super();
  }

  /** Starts one stream per source partition; resolves once all are running (or failed to start). */
  async start(): Promise<void> {
    const source = this.storage.describeTopic(this.config.source);
    this.storage.describeTopic(this.config.target); // fails early, with how to create it
    const modules = await Promise.all(this.config.transforms.map((t) => this.resolver.resolve(t.uses)));
    const started: Promise<void>[] = [];
    for (let p = 0; p < source.partitions; p++) {
      let ready!: () => void;
      started.push(new Promise<void>((r) => { ready = r; }));
      this.runs.push(this.runPartition(p, modules, ready));
    }
    await Promise.all(started);
  }

  checkpoint(partition: number): DeriveCheckpoint | undefined {
    return this.storage.streams.get(deriveStateKey(this.config.name, partition)) as DeriveCheckpoint | undefined;
  }

  metrics(): Map<number, StreamMetrics> {
    return new Map([...this.streams].map(([p, s]) => [p, s.snapshotMetrics()]));
  }

  /** Resolves when every partition's stream has ended (stopped, failed, or the source ended). */
  async done(): Promise<void> {
    await Promise.all(this.runs);
  }

  /**
   * Stops every partition. Submissions in flight get one deadline to be delivered and committed;
   * those still undelivered then are dropped (the next run redoes them from the checkpoint), so a
   * module looping batch after batch does not hold the stop up for a deadline per batch.
   */
  async stop(): Promise<void> {
    this.controller.abort();
    const ended = Promise.all(this.runs);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((r) => { timer = setTimeout(r, this.config.deadlineMs ?? 5000); });
    await Promise.race([ended, late]);
    clearTimeout(timer);
    await Promise.all([...this.streams.values()].map((s) => s.close()));
    await ended;
  }

  private async runPartition(p: number, modules: Awaited<ReturnType<ModuleResolver['resolve']>>[], ready: () => void): Promise<void> {
    const { name, source, target } = this.config;
    // Ends this partition's reading on stop() or when its stream fails (even while waiting for data).
    const partitionStop = new AbortController();
    const signal = AbortSignal.any([this.controller.signal, partitionStop.signal]);
    const targetPartitions = this.storage.describeTopic(target).partitions;
    const tp = p % targetPartitions;
    const targetLog = this.storage.partition(target, tp);
    const sourceLog = this.storage.partition(source, p);
    const saved = this.checkpoint(p);
    let written = saved?.written ?? 0;
    const stream = new ModuleStream(this.pool, {
      id: `${name}/${p}`,
      steps: this.config.transforms.map((t, i) => ({ module: modules[i]!, params: t.params, lookback: t.lookback })),
      policy: this.config.policy ?? 'stop',
      deadlineMs: this.config.deadlineMs ?? 5000,
      maxInFlight: this.config.maxInFlight ?? 4,
      accumulators: saved?.accumulators ?? undefined,
      history: (_i, lb) => readLookback(this.storage, source, p, lb),
    });
    this.streams.set(p, stream);
    stream.on('state', (s) => this.emit('state', s, p));
    const fail = (err: unknown) => {
      const e = err instanceof EddyError ? err : new EddyError('EDDY_DERIVE', `derived stream ${name}, partition ${p}: ${(err as Error)?.message ?? err}`, { cause: err });
      if (!this.errors.has(p)) { this.errors.set(p, e); this.emit('error', e, p); }
    };
    // A module error (policy stop), a timeout or a trap fails the partition's stream: report it.
    stream.on('error', (err) => { fail(err); partitionStop.abort(); });
    try {
      await stream.start();
    } catch (err) {
      fail(err);
      ready();
      return;
    }
    ready();

    let commits: Promise<void> = Promise.resolve();
    let pendingCommits = 0;
    /**
     * Commits a delivered result: each output batch is appended together with the checkpoint it
     * reaches (source offset, accumulators) in the same LMDB transaction. The appends are issued
     * back to back so the storage groups them into one commit.
     */
    const commit = async (r: StreamResult): Promise<void> => {
      const appends = r.batches.map((b) => {
        let offset = b.lastOffset + 1;
        // Policy stop: the outputs before the failing record are kept and the stream resumes at that record.
        const at = (b.error as { offset?: unknown } | null)?.offset;
        if (typeof at === 'number' && at >= b.baseOffset && at < offset) offset = at;
        const count = b.count;
        const checkpoint = (): DeriveCheckpoint => ({ offset, accumulators: r.accumulators, written: (written += count), updatedAt: Date.now() });
        return targetLog.appendRaw({ raw: b.raw, baseTimestamp: b.baseTimestamp }, {
          alsoWrite: () => { void this.storage.streams.put(deriveStateKey(name, p), checkpoint()); },
        }).then(() => ({ offset, count }));
      });
      const done = await Promise.all(appends);
      r.release(); // committed: the output bytes are in LMDB now
      for (const { offset, count } of done) {
        this.emit('batch', { partition: p, sourceOffset: offset, recordsOut: count, targetPartition: tp });
        this.emit('lag', { partition: p, lag: Math.max(0, sourceLog.nextOffset - offset) });
      }
    };

    const sourceRange = this.storage.partitionSource(this.config.source, p);
    let pos = saved?.offset ?? sourceLog.startOffset;
    const maxInFlight = this.config.maxInFlight ?? 4;
    try {
      while (!signal.aborted && stream.state !== 'failed') {
        sourceLog.refresh();
        if (pos < sourceLog.startOffset) pos = sourceLog.startOffset; // retention removed unprocessed records
        const range = planRange(sourceLog, pos, 16);
        if (!range) {
          await sourceLog.waitFor(pos, signal);
          continue;
        }
        // The workers read the batches themselves; only offsets cross the main thread.
        const ticket = await stream.submitRange({ source: sourceRange, ...range });
        pos = range.end;
        pendingCommits++;
        commits = commits.then(async () => commit(await ticket.result)).finally(() => { pendingCommits--; });
        commits.catch(() => {});
        // Commits run in order behind the results; keep their backlog bounded too.
        if (pendingCommits > maxInFlight * 2) await commits;
      }
    } catch (err) {
      if (!signal.aborted) fail(err);
    } finally {
      // Whatever stopped the reading, the results already delivered are still committed.
      await commits.catch((err) => { if (!(this.controller.signal.aborted && err instanceof StreamStoppedError)) fail(err); });
      await stream.close();
    }
  }
}
