import { EventEmitter } from 'eventemitter3';
import { EddyError } from '../errors.js';
import type { ErrorPolicy } from '../smartmodule/chain.js';
import type { TransformStep } from '../smartmodule/transforms.js';
import type { DerivedStateStore } from '../storage/derived-state.js';
import { planRange } from '../storage/range-plan.js';
import type { Storage } from '../storage/storage.js';
import {
  ChainSession,
  type SessionMetrics,
  type SessionResult,
  type SessionState,
  type SessionStep,
} from './chain-session.js';
import { deadLetters, skippedRecords } from './dead-letter.js';
import { COORDINATOR_DEFAULTS } from './defaults.js';
import { deadLetterTopic } from './derive-checks.js';
import { DeriveCommitError, SessionStoppedError } from './errors.js';
import { fansOut } from './fan-out.js';
import { readLookback } from './lookback.js';
import type { WorkerPool } from './pool.js';
import type { ModuleResolver } from './resolve.js';

/**
 * A derived stream: topic → chain → topic, exactly once. Each source partition runs as its own
 * ChainSession; each submission's result — all its output batches, its dead letters (policy
 * skip) — is committed in ONE LMDB transaction together with the source offset it reaches and the
 * chain's accumulators, or not at all. After a crash the stream resumes from that commit, so the
 * output topic equals an uninterrupted run: nothing lost, nothing duplicated. If a result cannot
 * be stored (an output record over the size limit, storage full), the partition stops at its last
 * commit, and a later run processes those records again.
 * Source partition p writes to target partition p mod (target partitions), keeping order; the
 * dead letters of source partition p go to dead-letter partition p mod (its partitions).
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
  /** Policy skip: the topic that keeps the skipped records (default `<name>-dlq`, created when missing). */
  deadLetterTopic?: string;
  /**
   * Spread each source partition's batches over every worker (default true; stateless chains
   * only, see fan-out.ts). Commits stay in source order whatever order the workers finish in.
   */
  fanOut?: boolean;
}

/** Committed progress of one source partition. */
export interface DeriveCheckpoint {
  /** Next source offset to process. */
  offset: number;
  /** Chain accumulators after the last committed batch. */
  accumulators: (Uint8Array | null)[] | null;
  /** Output records written so far. */
  written: number;
  /** Source records skipped (policy skip) and kept in the dead-letter topic so far. */
  skipped?: number;
  updatedAt: number;
}

/** Why a partition of a derived stream stopped (kept until it is started again). */
export interface DeriveFailure {
  code: string;
  message: string;
  /** Source offset the partition stopped at (its last commit). */
  offset: number;
  at: number;
}

export interface DerivedEvents {
  state: [state: SessionState, partition: number];
  batch: [info: { partition: number; sourceOffset: number; recordsOut: number; targetPartition: number }];
  lag: [info: { partition: number; lag: number }];
  /** A source record skipped (policy skip), once it is committed to the dead-letter topic. */
  skip: [info: { partition: number; offset: number; error: EddyError; deadLetterTopic: string }];
  error: [error: EddyError, partition: number];
  /** A result committed: source records it covered, output records, and seconds from submission to commit (for metrics). */
  commit: [info: { partition: number; records: number; recordsOut: number; seconds: number }];
}

/** Storage's derived-stream state, with the coordinator's shapes. */
export function derivedState(storage: Storage): DerivedStateStore<DeriveConfig, DeriveCheckpoint, DeriveFailure> {
  return storage.derivedState as DerivedStateStore<DeriveConfig, DeriveCheckpoint, DeriveFailure>;
}

/** What `listDerived()` says of a derived stream (its state is read from storage; `running` from this process). */
export interface DerivedInfo {
  config: DeriveConfig;
  /** Running in this process: false once every partition stopped (or failed), or before it is started. */
  running: boolean;
  /** Policy skip: where skipped records are kept. */
  deadLetterTopic: string | null;
  /**
   * Per source partition: next offset to process, lag, output records written, source records
   * skipped (kept in the dead-letter topic), and why it stopped when it failed (until started again).
   */
  partitions: {
    partition: number;
    offset: number;
    lag: number;
    written: number;
    skipped: number;
    failure: DeriveFailure | null;
  }[];
}

export class DerivedStream extends EventEmitter<DerivedEvents> {
  private readonly controller = new AbortController();
  private readonly sessions = new Map<number, ChainSession>();
  private readonly runs: Promise<void>[] = [];
  private ended = 0;
  readonly errors = new Map<number, EddyError>();

  constructor(
    readonly config: DeriveConfig,
    private readonly storage: Storage,
    private readonly pool: WorkerPool,
    private readonly resolver: ModuleResolver,
    /** Fan-out when the config does not say (the Eddy's `fanOut` option). */
    private readonly fanOutDefault = true,
  ) {
    super();
  }

  /** Starts one stream per source partition; resolves once all are running (or failed to start). */
  async start(): Promise<void> {
    const source = this.storage.describeTopic(this.config.source);
    this.storage.describeTopic(this.config.target); // fails early, with how to create it
    await ensureDeadLetterTopic(this.storage, this.config);
    const steps = await this.resolver.steps(this.config.transforms);
    const started: Promise<void>[] = [];
    for (let p = 0; p < source.partitions; p++) {
      let ready!: () => void;
      started.push(
        new Promise<void>((r) => {
          ready = r;
        }),
      );
      this.runs.push(
        this.runPartition(p, steps, ready).finally(() => {
          this.ended++;
        }),
      );
    }
    await Promise.all(started);
  }

  /** True while at least one partition's stream runs (false once every one stopped, failed or was stopped). */
  get running(): boolean {
    return this.runs.length > 0 && this.ended < this.runs.length;
  }

  checkpoint(partition: number): DeriveCheckpoint | undefined {
    return derivedState(this.storage).checkpoint(this.config.name, partition);
  }

  /** State of each partition's chain session (for the status endpoint). */
  states(): Map<number, SessionState> {
    return new Map([...this.sessions].map(([p, s]) => [p, s.state]));
  }

  metrics(): Map<number, SessionMetrics> {
    return new Map([...this.sessions].map(([p, s]) => [p, s.snapshotMetrics()]));
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
    const late = new Promise<void>((r) => {
      timer = setTimeout(r, this.config.deadlineMs ?? COORDINATOR_DEFAULTS.deadlineMs);
    });
    await Promise.race([ended, late]);
    clearTimeout(timer);
    await Promise.all([...this.sessions.values()].map((s) => s.close()));
    await ended;
  }

  /** `await using` stops the stream when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private async runPartition(p: number, steps: SessionStep[], ready: () => void): Promise<void> {
    const { name, source, target } = this.config;
    // Ends this partition's reading on stop() or when its stream fails (even while waiting for data).
    const partitionStop = new AbortController();
    const signal = AbortSignal.any([this.controller.signal, partitionStop.signal]);
    const tp = p % this.storage.partitionCount(target);
    const targetLog = this.storage.partition(target, tp);
    const sourceLog = this.storage.partition(source, p);
    const dlqTopic = deadLetterTopic(this.config);
    const dlqLog =
      dlqTopic === null ? null : this.storage.partition(dlqTopic, p % this.storage.partitionCount(dlqTopic));
    const saved = this.checkpoint(p);
    let written = saved?.written ?? 0;
    let skipped = saved?.skipped ?? 0;
    let pos = saved?.offset ?? sourceLog.startOffset;
    /** Source offset of the last commit: where the partition resumes. */
    let committed = pos;
    // A new start clears the failure a previous run recorded.
    await derivedState(this.storage).clearFailure(name, p);
    const stream = new ChainSession(this.pool, {
      id: `${name}/${p}`,
      steps,
      policy: this.config.policy ?? 'stop',
      deadlineMs: this.config.deadlineMs ?? COORDINATOR_DEFAULTS.deadlineMs,
      maxInFlight: this.config.maxInFlight ?? COORDINATOR_DEFAULTS.maxInFlight,
      accumulators: saved?.accumulators ?? undefined,
      stateless: fansOut(steps, this.config.fanOut ?? this.fanOutDefault),
      history: (_i, lb) => readLookback(this.storage, source, p, lb),
    });
    this.sessions.set(p, stream);
    stream.on('state', (s) => this.emit('state', s, p));
    // Results dropped because stop() was called are not failures: the next run redoes them.
    const droppedByStop = (err: unknown) => this.controller.signal.aborted && err instanceof SessionStoppedError;
    const fail = (err: unknown) => {
      if (droppedByStop(err)) return;
      const e =
        err instanceof EddyError
          ? err
          : new EddyError('EDDY_DERIVE', `derived stream ${name}, partition ${p}: ${(err as Error)?.message ?? err}`, {
              cause: err,
            });
      if (!this.errors.has(p)) {
        this.errors.set(p, e);
        this.emit('error', e, p);
      }
    };
    // A module error (policy stop), a timeout or a trap fails the partition's stream: report it.
    stream.on('error', (err) => {
      fail(err);
      partitionStop.abort();
    });
    try {
      await stream.start();
    } catch (err) {
      fail(err);
      ready();
      await this.recordFailure(p, committed);
      return;
    }
    ready();

    let commits: Promise<void> = Promise.resolve();
    let pendingCommits = 0;
    /**
     * Commits a delivered result: every output batch and dead letter, with the checkpoint it
     * reaches (source offset, accumulators), in one LMDB transaction — or nothing of it.
     */
    const commit = async (r: SessionResult, submittedAt: number): Promise<void> => {
      const outputs: { raw: Uint8Array; baseTimestamp: number }[] = [];
      /** Per output batch: the source offset it reaches and its records (for the `batch` events). */
      const reached: { offset: number; count: number }[] = [];
      let offset = committed;
      let count = 0;
      for (const b of r.batches) {
        outputs.push({ raw: b.raw, baseTimestamp: b.baseTimestamp });
        count += b.count;
        offset = b.lastOffset + 1;
        // Policy stop: the outputs before the failing record are kept and the stream resumes at that record.
        const at = (b.error as { offset?: unknown } | null)?.offset;
        if (b.error && typeof at === 'number' && at >= b.baseOffset && at < offset) offset = at;
        reached.push({ offset, count: b.count });
        if (b.error) break;
      }
      const dead = dlqLog ? skippedRecords(r.batches, committed) : [];
      let issued: Promise<unknown>[];
      try {
        // Encoded (and checked against the limits) before anything is handed to storage.
        const letters = dlqLog && dead.length > 0 ? dlqLog.prepare(deadLetters(name, sourceLog, dead)) : null;
        const out = targetLog.prepare([], outputs);
        const checkpoint: DeriveCheckpoint = {
          offset,
          accumulators: r.accumulators,
          written: written + count,
          skipped: skipped + dead.length,
          updatedAt: Date.now(),
        };
        // Issued in the same tick: lmdb-js commits both partitions' writes in one transaction. The
        // dead letters go first: a refusal of theirs (thrown at once) leaves the outputs unissued.
        issued = [
          ...(letters ? [dlqLog!.appendPrepared(letters)] : []),
          targetLog.appendPrepared(out, {
            alsoWrite: () => {
              void derivedState(this.storage).saveCheckpoint(name, p, checkpoint);
            },
          }),
        ];
        await Promise.all(issued);
      } catch (err) {
        const first = r.batches[0]?.baseOffset ?? committed;
        throw err instanceof EddyError
          ? new DeriveCommitError(name, p, Math.max(first, committed), offset - 1, committed, err)
          : err;
      }
      r.release(); // committed: the output bytes are in LMDB now
      this.emit('commit', {
        partition: p,
        records: offset - committed,
        recordsOut: count,
        seconds: (performance.now() - submittedAt) / 1000,
      });
      written += count;
      skipped += dead.length;
      committed = offset;
      for (const d of dead)
        this.emit('skip', { partition: p, offset: d.offset, error: d.error, deadLetterTopic: dlqTopic! });
      for (const b of reached) {
        this.emit('batch', { partition: p, sourceOffset: b.offset, recordsOut: b.count, targetPartition: tp });
        this.emit('lag', { partition: p, lag: Math.max(0, sourceLog.nextOffset - b.offset) });
      }
    };

    const sourceRange = this.storage.partitionSource(this.config.source, p);
    const maxInFlight = this.config.maxInFlight ?? COORDINATOR_DEFAULTS.maxInFlight;
    try {
      while (!signal.aborted && stream.state !== 'failed') {
        sourceLog.refresh();
        if (pos < sourceLog.startOffset) pos = sourceLog.startOffset; // retention removed unprocessed records
        const range = planRange(sourceLog, pos, COORDINATOR_DEFAULTS.batchesPerSubmission);
        if (!range) {
          await sourceLog.waitFor(pos, signal);
          continue;
        }
        // The workers read the batches themselves; only offsets cross the main thread.
        const submittedAt = performance.now();
        const ticket = await stream.submitRange({ source: sourceRange, ...range });
        pos = range.end;
        pendingCommits++;
        commits = commits
          .then(async () => commit(await ticket.result, submittedAt))
          .finally(() => {
            pendingCommits--;
          });
        // A result that cannot be committed stops the partition there; later results are not committed.
        commits.catch((err: unknown) => {
          fail(err);
          partitionStop.abort();
        });
        // Commits run in order behind the results; keep their backlog bounded too.
        if (pendingCommits > maxInFlight * 2) await commits;
      }
    } catch (err) {
      if (!signal.aborted) fail(err);
    } finally {
      // Whatever stopped the reading, the results already delivered are still committed.
      await commits.catch(fail);
      await stream.close();
      await this.recordFailure(p, committed);
    }
  }

  /** Keeps why partition p stopped, for `listDerived()` / `eddy derive list` (any process). */
  private async recordFailure(p: number, offset: number): Promise<void> {
    const e = this.errors.get(p);
    if (!e || this.storage.isClosed) return;
    const failure: DeriveFailure = { code: e.code, message: e.message, offset, at: Date.now() };
    await derivedState(this.storage).saveFailure(this.config.name, p, failure);
  }
}

/** Creates a skipping stream's dead-letter topic when it does not exist yet (one partition). */
export async function ensureDeadLetterTopic(storage: Storage, config: DeriveConfig): Promise<void> {
  const dlq = deadLetterTopic(config);
  if (dlq !== null && !storage.topic(dlq)) await storage.createTopic(dlq, { partitions: 1 });
}
