import { EventEmitter } from 'eventemitter3';
import { EddyError } from '../errors.js';
import type { ErrorPolicy, ModuleMetrics } from '../smartmodule/chain.js';
import type { SmartModule } from '../smartmodule/module.js';
import type { BatchInput, Lookback } from '../smartmodule/types.js';
import type { PartitionSource } from '../storage/partition-reader.js';
import { FrameBufferPool } from '../wire/frame-buffers.js';
import type { ModuleLogLine, OpenReply, OpenTask, ValueLinesMode, WireModule } from '../wire/messages.js';
import { packFrame } from '../wire/request-frame.js';
import { readResultFrame } from '../wire/result-frame.js';
import { errorFromWire } from '../wire/wire-error.js';
import { COORDINATOR_DEFAULTS } from './defaults.js';
import { SessionStoppedError, SessionTimeoutError } from './errors.js';
import { isStatelessChain } from './fan-out.js';
import type { DeadlineKill, WorkerPool } from './pool.js';

/**
 * A chain session: one transform chain applied to an ordered sequence of batches (one partition). Its
 * module instances, accumulators and look-back state live on one worker — or, for a stateless
 * chain, on every worker, each batch going to the next one (fan-out); results come back in
 * submission order with at most `maxInFlight` submissions outstanding (backpressure). If the
 * worker dies or a batch overruns its deadline, the session is re-opened elsewhere from the state of
 * its last delivered result and the undelivered batches are sent again: nothing lost, nothing twice.
 */

export interface SessionStep {
  module: SmartModule;
  params?: Record<string, string>;
  lookback?: Lookback | null;
}

export interface SessionOptions {
  /** Name in errors and events. */
  id?: string;
  steps: SessionStep[];
  /** What a module error does: stop the session (default) or skip the record (or batch) and go on. */
  policy?: ErrorPolicy;
  /** Per-batch deadline in ms (default 5000); past it the worker is terminated. */
  deadlineMs?: number;
  /** Submissions outstanding at most (default 4). */
  maxInFlight?: number;
  /** Spread batches over every worker, reassembled in order. Only for stateless chains (see fan-out.ts). */
  stateless?: boolean;
  /** Free module output buffers (default: where the module allows it; see SmartModule's freeOutput). */
  freeOutput?: boolean;
  /** Accumulators to start from, per step (a checkpoint); else `initialAccumulator` for aggregates. */
  accumulators?: (Uint8Array | null)[];
  initialAccumulator?: Uint8Array;
  /** Look-back records for a step, as a `Vec<Record>` encoding (read from the source topic). */
  history?: (stepIndex: number, lookback: Lookback) => Uint8Array | Promise<Uint8Array>;
  /**
   * Hand what modules write to stdout/stderr back with the call that wrote it, instead of to the
   * pool's logger: each batch's in `SessionBatchResult.log`, init's in `initLog`, a failure's in
   * `moduleLogOf(error)`. Lets a caller print it in input order whatever worker ran the batch.
   */
  captureLog?: boolean;
}

const failureLogs = new WeakMap<object, ModuleLogLine[]>();

/** What the modules wrote during the call that ended in `err` (init, or a batch's trap), when the session captures output. */
export function moduleLogOf(err: unknown): ModuleLogLine[] {
  return (typeof err === 'object' && err !== null && failureLogs.get(err)) || [];
}

export interface SessionBatchResult {
  baseOffset: number;
  baseTimestamp: number;
  /** Last input offset this batch covered (−1 when the caller submitted bytes, not a range). */
  lastOffset: number;
  /** Output records as `Vec<Record>` bytes (with `lines`: the values, one per line). */
  raw: Uint8Array;
  /** `raw` holds the values one per line (asked for with `valueLines`). */
  lines?: boolean;
  count: number;
  /** Runtime error that stopped this batch (policy stop): `raw` holds the records before it. */
  error: EddyError | null;
  /** Errors stepped over (policy skip). */
  skipped: EddyError[];
  /** What the modules wrote while running this batch (only with `captureLog`). */
  log?: ModuleLogLine[];
}

export interface SessionResult {
  seq: number;
  batches: SessionBatchResult[];
  /** Accumulators after this submission (per step; null for non-aggregate steps). */
  accumulators: (Uint8Array | null)[];
  /**
   * Hands this result's memory back for the worker to write its next result into (saves page
   * faults and garbage collection on every thread). Call it once done with every `raw` of
   * `batches`: afterwards they read as empty. Optional; without it the memory is collected as usual.
   */
  release(): void;
}

/** A submission's place in the session; `result` resolves in submission order. (Not a promise itself, so awaiting `submit` does not wait for the result.) */
export interface Ticket {
  seq: number;
  result: Promise<SessionResult>;
}

export type SessionState = 'idle' | 'starting' | 'running' | 'restoring' | 'failed' | 'closed';

export interface SessionMetrics {
  submissions: number;
  batches: number;
  recordsOut: number;
  bytesIn: number;
  bytesOut: number;
  errors: number;
  skipped: number;
  timeouts: number;
  restarts: number;
  /** Per module, summed over the workers the session has used. */
  modules: SessionModuleMetrics[];
}

/** A module's counters from the workers, with the deadline kills the coordinator saw it cause. */
export interface SessionModuleMetrics extends ModuleMetrics {
  /** Workers terminated while this step's module overran the deadline. */
  deadlineKills: number;
  /** Restores of the session that followed those kills (policy skip; stop ends the session). */
  restarts: number;
}

export interface SessionEvents {
  state: [state: SessionState];
  result: [result: SessionResult];
  error: [error: EddyError];
  restored: [workerIds: number[], reason: string];
}

/** Stored batches a worker reads itself (see range-plan.ts): only offsets travel. */
export interface SourceRange {
  source: PartitionSource;
  keys: number[];
  from: number;
  /** Exclusive. */
  end: number;
  /** Outputs as value lines (see ValueLinesMode); a batch that is not all text with `text` stays records. */
  valueLines?: ValueLinesMode;
}

/** Text lines the worker splits into one batch of records itself (see protocol/line-records.ts). */
export interface LinesInput {
  /** Whole lines; in shared memory (a SharedArrayBuffer), so no copy crosses to the worker. */
  text: Uint8Array;
  baseOffset: number;
  baseTimestamp: number;
  /** The result's `raw` holds the output values one per line (each followed by `\n`), not a `Vec<Record>`. */
  valueLines?: boolean;
}

interface Entry {
  seq: number;
  batches: BatchInput[];
  range: SourceRange | null;
  lines: LinesInput | null;
  resolve: (r: SessionResult) => void;
  reject: (e: unknown) => void;
  worker: number;
  epoch: number;
  result: SessionResult | null;
  /** A failure that stops the session once the submissions before this one are delivered (policy stop). */
  fatal: EddyError | null;
}

export class ChainSession extends EventEmitter<SessionEvents> {
  readonly id: string;
  readonly number: number;
  state: SessionState = 'idle';
  readonly metrics: SessionMetrics;
  /**
   * Set once a batch of this session overran its deadline and the session went on (policy skip):
   * from then on the pool keeps it on its quarantine worker, away from healthy sessions.
   */
  suspect = false;
  /** What the modules wrote during init on the session's first worker (only with `captureLog`). */
  initLog: ModuleLogLine[] = [];

  private readonly pool: WorkerPool;
  private readonly opts: Required<Pick<SessionOptions, 'policy' | 'deadlineMs' | 'maxInFlight' | 'stateless'>> &
    SessionOptions;
  private readonly wireModules: WireModule[];
  private readonly stepModule: number[];
  private workers: number[] = [];
  /** Whether `workers` were assigned as a suspect (what to give back to the pool). */
  private placedAsSuspect = false;
  /** Whether `workers` is one worker the pool assigned (to give back), not a fan-out over several. */
  private assigned = false;
  private rr = 0;
  private epoch = 0;
  private nextSeq = 0;
  private nextDeliver = 0;
  private readonly pending = new Map<number, Entry>();
  private slotWaiters: (() => void)[] = [];
  private accumulators: (Uint8Array | null)[];
  private readonly workerMetrics = new Map<number, ModuleMetrics[]>();
  private readonly retiredMetrics: ModuleMetrics[][] = [];
  /** Per step: deadline kills while it ran, and the restores that followed them. */
  private readonly stepKills: number[];
  private readonly stepRestarts: number[];
  private failure: EddyError | null = null;
  private restoring: Promise<void> = Promise.resolve();
  private readonly onWorkerLost = (id: number, timedOut: DeadlineKill | null) => {
    this.workerLost(id, timedOut);
  };
  /** Released result buffers, sent back to the workers with the next tasks. */
  private readonly released: FrameBufferPool;

  constructor(pool: WorkerPool, options: SessionOptions) {
    super();
    this.pool = pool;
    this.number = pool.newSessionNumber();
    this.id = options.id ?? `session-${this.number}`;
    this.opts = {
      policy: 'stop',
      deadlineMs: COORDINATOR_DEFAULTS.deadlineMs,
      maxInFlight: COORDINATOR_DEFAULTS.maxInFlight,
      stateless: false,
      ...options,
    };
    if (this.opts.stateless && !isStatelessChain(options.steps)) {
      throw new EddyError(
        'EDDY_SESSION_CONFIG',
        `chain session ${this.id}: a stateless session cannot contain an aggregate or a look_back step (their state needs one instance)`,
      );
    }
    const unique: SmartModule[] = [];
    this.stepModule = options.steps.map((s) => {
      let i = unique.indexOf(s.module);
      if (i < 0) i = unique.push(s.module) - 1;
      return i;
    });
    this.wireModules = unique.map((m) => ({ descriptor: m.descriptor, compiled: m.compiled }));
    this.accumulators = options.steps.map(
      (s, i) =>
        options.accumulators?.[i] ??
        (s.module.kind === 'aggregate' ? (options.initialAccumulator ?? new Uint8Array(0)) : null),
    );
    this.released = new FrameBufferPool(this.opts.maxInFlight + 2);
    this.metrics = {
      submissions: 0,
      batches: 0,
      recordsOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      errors: 0,
      skipped: 0,
      timeouts: 0,
      restarts: 0,
      modules: [],
    };
    this.stepKills = options.steps.map(() => 0);
    this.stepRestarts = options.steps.map(() => 0);
  }

  /** Opens the session on its worker(s): instances, init, look_back. Throws init/look_back errors. */
  async start(): Promise<void> {
    if (this.state !== 'idle')
      throw new EddyError('EDDY_SESSION_STATE', `chain session ${this.id} was already started`);
    this.setState('starting');
    this.pool.on('workerLost', this.onWorkerLost);
    this.pool.sessions.add(this);
    try {
      await this.openOnWorkers();
    } catch (err) {
      this.fail(err as EddyError);
      throw err;
    }
    this.setState('running');
  }

  /** Accumulators as of the last delivered result (what a checkpoint stores). */
  get currentAccumulators(): (Uint8Array | null)[] {
    return this.accumulators;
  }

  get workerIds(): number[] {
    return [...this.workers];
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Submits batches (one frame). Waits while `maxInFlight` submissions are outstanding, then
   * returns the promise of this submission's result; results resolve in submission order.
   * The batches' bytes must not be modified afterwards (they are kept until delivered).
   */
  async submit(batches: BatchInput | BatchInput[]): Promise<Ticket> {
    return this.enqueue(Array.isArray(batches) ? batches : [batches], null);
  }

  /**
   * Submits stored batches by offsets: the worker reads them from LMDB itself, so record bytes
   * never cross the main thread, and a resend after a worker loss needs only the offsets.
   */
  async submitRange(range: SourceRange): Promise<Ticket> {
    return this.enqueue([], range);
  }

  /**
   * Submits text lines, split into records by the worker: the main thread's cost per line is only
   * what it took to find the piece's end. The text must be in shared memory and not be modified
   * until the result is delivered.
   */
  async submitLines(lines: LinesInput): Promise<Ticket> {
    if (!(lines.text.buffer instanceof SharedArrayBuffer))
      throw new EddyError('EDDY_SESSION_CONFIG', `chain session ${this.id}: submitLines needs text in shared memory`);
    return this.enqueue([], null, lines);
  }

  private async enqueue(
    list: BatchInput[],
    range: SourceRange | null,
    lines: LinesInput | null = null,
  ): Promise<Ticket> {
    while (this.pending.size >= this.opts.maxInFlight && !this.failure && this.state !== 'closed') {
      await new Promise<void>((r) => this.slotWaiters.push(r));
    }
    if (this.failure) throw new SessionStoppedError(this.id, this.failure.message, { cause: this.failure });
    if (this.state === 'closed' || this.state === 'idle')
      throw new SessionStoppedError(this.id, this.state === 'idle' ? 'not started' : 'closed');
    let entry!: Entry;
    const promise = new Promise<SessionResult>((resolve, reject) => {
      entry = {
        seq: this.nextSeq++,
        batches: list,
        range,
        lines,
        resolve,
        reject,
        worker: -1,
        epoch: -1,
        result: null,
        fatal: null,
      };
    });
    promise.catch(() => {}); // rejection is observed by whoever awaits it; do not crash on unhandled
    this.pending.set(entry.seq, entry);
    this.metrics.submissions++;
    if (this.state === 'running') this.dispatch(entry);
    return { seq: entry.seq, result: promise };
  }

  /** Submit and wait for the result. */
  async process(batches: BatchInput | BatchInput[]): Promise<SessionResult> {
    return (await this.submit(batches)).result;
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.setState('closed');
    this.pool.off('workerLost', this.onWorkerLost);
    this.pool.sessions.delete(this);
    for (const e of this.pending.values()) e.reject(new SessionStoppedError(this.id, 'closed'));
    this.pending.clear();
    this.wakeSlots();
    await this.closeOnWorkers();
  }

  /** `await using` closes the session when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Drops the session's instances on its workers and gives the workers back. Not waited for: the
   * close task queues behind the worker's running batch, which may run until its deadline.
   */
  private async closeOnWorkers(): Promise<void> {
    const workers = this.workers;
    this.workers = [];
    for (const w of workers) {
      if (this.assigned) this.pool.release(w, this.placedAsSuspect);
      if (this.pool.isLive(w)) this.pool.run(w, { op: 'close', session: this.id }).catch(() => {});
    }
  }

  private setState(s: SessionState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  private async openOnWorkers(exclude: number[] = []): Promise<void> {
    if (this.opts.stateless && !this.suspect) {
      // Every worker (waiting for those still starting), but the quarantine while a suspect runs there.
      await this.pool.ready();
      this.workers = this.pool.spreadWorkerIds();
      this.assigned = false;
    } else {
      // A fanned-out session that overran its deadline is a suspect: it goes on alone, on the
      // quarantine worker, so a looping module cannot hold up every worker.
      this.placedAsSuspect = this.suspect;
      this.workers = [await this.pool.assign(exclude, this.suspect)];
      this.assigned = true;
    }
    const history = await Promise.all(
      this.opts.steps.map(async (s, i) =>
        s.lookback && s.module.hasLookBack && this.opts.history ? await this.opts.history(i, s.lookback) : null,
      ),
    );
    await Promise.all(
      this.workers.map(async (w) => {
        const task: OpenTask = {
          op: 'open',
          session: this.id,
          modules: this.wireModules,
          steps: this.opts.steps.map((s, i) => ({
            module: this.stepModule[i]!,
            params: s.params ?? {},
            lookback: s.lookback ?? null,
          })),
          accumulators: this.accumulators,
          history,
          policy: this.opts.policy,
          freeOutput: this.opts.freeOutput ?? null,
          watch: this.pool.watchBuffer(w),
          sessionNumber: this.number,
          deadlineMs: this.opts.deadlineMs,
          logChannel: this.pool.moduleLogChannel,
          ...(this.opts.captureLog ? { captureLog: true } : {}),
        };
        const res = await this.pool.run<OpenReply>(w, task);
        if (!res.ok) {
          const err = errorFromWire(res.error);
          if (res.log) failureLogs.set(err, res.log);
          throw err;
        }
        return res.log ?? [];
      }),
    ).then((logs) => {
      // Every worker ran init; its output is the same on each, so the first one's stands for all.
      if (this.state === 'starting') this.initLog = logs[0] ?? [];
    });
  }

  private dispatch(entry: Entry): void {
    const worker = this.workers[this.rr++ % this.workers.length]!;
    entry.worker = worker;
    entry.epoch = this.epoch;
    const epoch = this.epoch;
    let task: Promise<Uint8Array>;
    // One buffer back per task keeps the worker's spares level with what it sends (two to catch up).
    const recycle = this.released.takeSome(2);
    if (entry.lines) {
      const { text, baseOffset, baseTimestamp, valueLines } = entry.lines;
      this.metrics.bytesIn += text.length;
      task = this.pool.run<Uint8Array>(
        worker,
        {
          op: 'lines',
          session: this.id,
          seq: entry.seq,
          text,
          baseOffset,
          baseTimestamp,
          valueLines: valueLines ?? false,
          recycle,
        },
        recycle,
      );
    } else if (entry.range) {
      const { source, keys, from, end, valueLines } = entry.range;
      task = this.pool.run<Uint8Array>(
        worker,
        {
          op: 'read',
          session: this.id,
          seq: entry.seq,
          source,
          keys,
          from,
          end,
          recycle,
          ...(valueLines ? { valueLines } : {}),
        },
        recycle,
      );
    } else {
      const frame = packFrame({
        seq: entry.seq,
        batches: entry.batches.map((b) => ({ baseOffset: b.baseOffset, baseTimestamp: b.baseTimestamp, raw: b.raw })),
      });
      for (const b of entry.batches) this.metrics.bytesIn += b.raw.length;
      task = this.pool.run<Uint8Array>(worker, { op: 'batch', session: this.id, frame, recycle }, [
        frame.buffer as ArrayBuffer,
        ...recycle,
      ]);
    }
    task.then(
      (bytes) => this.onFrame(entry, epoch, bytes),
      (err) => {
        // A worker that died is handled by workerLost (its tasks are re-sent); anything else fails
        // the session. Look after the pool has processed the exit.
        setImmediate(() => {
          if (epoch !== this.epoch || this.pending.get(entry.seq) !== entry || entry.result || entry.fatal) return;
          // A worker the watchdog is killing fails its tasks before its exit is reported: the same.
          if (!this.pool.isLive(worker) || this.pool.isTerminating(worker)) return;
          this.fail(
            err instanceof EddyError
              ? err
              : new EddyError(
                  'EDDY_WORKER',
                  `chain session ${this.id}: worker task failed: ${(err as Error)?.message ?? err}`,
                  { cause: err },
                ),
            entry,
          );
        });
      },
    );
  }

  private onFrame(entry: Entry, epoch: number, bytes: Uint8Array): void {
    if (epoch !== this.epoch || this.pending.get(entry.seq) !== entry || this.failure) return;
    const frame = readResultFrame(bytes);
    if (frame.metrics.length > 0) this.workerMetrics.set(entry.worker, frame.metrics);
    if (frame.fatal) {
      if (frame.fatal.code === 'EDDY_SESSION_NOT_OPEN') return; // sent before a restore re-opened it; re-sent by the restore
      const err = errorFromWire(frame.fatal);
      if (frame.fatalLog) failureLogs.set(err, frame.fatalLog);
      this.metrics.errors++;
      if (this.opts.policy === 'stop') {
        // The submissions before this one still deliver, in order; then the session stops.
        entry.fatal = err;
        this.deliver();
        return;
      }
      // skip: the batch is dropped and reported; the instance was discarded, so re-open the session.
      this.metrics.skipped++;
      entry.result = this.emptyResult(entry, err);
      this.deliver();
      this.scheduleRestore([], `instance discarded after: ${err.message}`);
      return;
    }
    const batches: SessionBatchResult[] = frame.results.map((r) => {
      const skipped = r.skipped.map(errorFromWire);
      this.metrics.skipped += skipped.length;
      this.metrics.errors += skipped.length + (r.error ? 1 : 0);
      return {
        baseOffset: r.baseOffset,
        baseTimestamp: r.baseTimestamp,
        lastOffset: r.lastOffset,
        raw: r.raw,
        ...(r.lines ? { lines: true } : {}),
        count: r.count,
        error: r.error ? errorFromWire(r.error) : null,
        skipped,
        ...(r.log ? { log: r.log } : {}),
      };
    });
    const last = frame.results[frame.results.length - 1];
    const buffer = bytes.buffer as ArrayBuffer;
    let released = false;
    entry.result = {
      seq: entry.seq,
      batches,
      accumulators: last ? last.accumulators.map((a) => (a ? new Uint8Array(a) : null)) : this.accumulators,
      release: () => {
        if (released) return;
        released = true;
        // Detached now, not when the buffer leaves with a later task: a view kept past release()
        // reads as empty at once, so a reader that releases too early loses output visibly
        // instead of printing bytes a worker may be overwriting.
        this.released.give([structuredClone(buffer, { transfer: [buffer] })]);
      },
    };
    this.deliver();
  }

  /** The result of a submission skipped as a whole (policy skip after a trap or a timeout). */
  private emptyResult(entry: Entry, err: EddyError): SessionResult {
    const asLines = Boolean(entry.lines?.valueLines || entry.range?.valueLines);
    const empty = (baseOffset: number, baseTimestamp: number, lastOffset: number): SessionBatchResult => ({
      baseOffset,
      baseTimestamp,
      lastOffset,
      // An empty `Vec<Record>`, or no lines.
      raw: new Uint8Array(asLines ? 0 : 4),
      ...(asLines ? { lines: true } : {}),
      count: 0,
      error: null,
      skipped: [err],
    });
    const batches = entry.range
      ? [empty(entry.range.from, 0, entry.range.end - 1)]
      : entry.lines
        ? [empty(entry.lines.baseOffset, entry.lines.baseTimestamp, -1)]
        : entry.batches.map((b) => empty(b.baseOffset, b.baseTimestamp, -1));
    return { seq: entry.seq, batches, accumulators: this.accumulators, release: () => {} };
  }

  /** Resolves, in order, every consecutive submission whose result is in. */
  private deliver(): void {
    for (;;) {
      const e = this.pending.get(this.nextDeliver);
      if (e?.fatal) {
        this.fail(e.fatal, e);
        return;
      }
      if (!e?.result) break;
      this.pending.delete(e.seq);
      this.nextDeliver++;
      const r = e.result;
      this.accumulators = r.accumulators;
      let stopError: EddyError | null = null;
      for (const b of r.batches) {
        this.metrics.batches++;
        this.metrics.recordsOut += b.count;
        this.metrics.bytesOut += b.raw.length;
        if (b.error) stopError = b.error;
      }
      this.emit('result', r);
      e.resolve(r);
      if (stopError) {
        // Fluvio semantics: the records before the error are delivered, then the session stops.
        this.fail(stopError);
        return;
      }
    }
    this.wakeSlots();
  }

  private workerLost(id: number, timedOut: DeadlineKill | null): void {
    if (!this.workers.includes(id) || this.failure || this.state === 'closed') return;
    const ours = timedOut?.session === this.number;
    // The step that was running when the worker was killed (null: between module calls).
    const step = ours && timedOut.step >= 0 && timedOut.step < this.opts.steps.length ? timedOut.step : null;
    if (ours) {
      if (this.opts.policy === 'skip') this.suspect = true;
      // The batch that overran is the oldest undelivered one sent to that worker.
      const running = [...this.pending.values()]
        .filter((e) => e.worker === id && !e.result && !e.fatal && e.epoch === this.epoch)
        .sort((a, b) => a.seq - b.seq)[0];
      if (running) {
        const err = new SessionTimeoutError(
          this.id,
          this.opts.steps.map((s) => s.module.name),
          running.range?.from ?? running.lines?.baseOffset ?? running.batches[0]?.baseOffset ?? -1,
          this.opts.deadlineMs,
          step,
        );
        this.metrics.timeouts++;
        this.metrics.errors++;
        if (step !== null) this.stepKills[step]!++;
        if (this.opts.policy === 'stop') {
          // As a trap does: the submissions before it (still running on other workers when the
          // session fans out) deliver in order, then the session fails with this one's error.
          // Nothing after it is delivered, so the session is not restored.
          running.fatal = err;
          this.deliver();
          return;
        }
        this.metrics.skipped++;
        running.result = this.emptyResult(running, err);
        this.deliver();
      }
    }
    this.scheduleRestore([id], ours ? 'deadline exceeded' : 'worker exited', step);
  }

  /** `step`: the chain step whose deadline overrun caused this restore, if one did. */
  private scheduleRestore(exclude: number[], reason: string, step: number | null = null): void {
    this.epoch++; // results of the old placement are ignored from now on
    this.setState('restoring');
    this.restoring = this.restoring.then(() => this.restore(exclude, reason, step));
  }

  private async restore(exclude: number[], reason: string, step: number | null): Promise<void> {
    if (this.failure || this.state === 'closed') return;
    this.metrics.restarts++;
    if (step !== null) this.stepRestarts[step]!++;
    for (const w of this.workers) {
      const m = this.workerMetrics.get(w);
      if (m && !this.pool.isLive(w)) {
        this.retiredMetrics.push(m);
        this.workerMetrics.delete(w);
      }
      if (this.assigned) this.pool.release(w, this.placedAsSuspect);
    }
    try {
      await this.openOnWorkers(exclude);
    } catch (err) {
      // A worker that died (or is being killed) while the session was reopened on it: reopen elsewhere.
      const gone = this.workers.filter((w) => !this.pool.isLive(w) || this.pool.isTerminating(w));
      if (gone.length > 0 && !this.failure && (this.state as SessionState) !== 'closed') {
        this.restoring = this.restoring.then(() =>
          this.restore(gone, 'worker exited while the session was reopened', null),
        );
        return;
      }
      return this.fail(
        err instanceof EddyError
          ? err
          : new EddyError('EDDY_WORKER', `chain session ${this.id}: ${(err as Error)?.message ?? err}`, { cause: err }),
      );
    }
    if (this.failure || (this.state as SessionState) === 'closed') return this.closeOnWorkers();
    this.epoch++;
    this.setState('running');
    this.emit('restored', [...this.workers], reason);
    for (const e of [...this.pending.values()].sort((a, b) => a.seq - b.seq))
      if (!e.result && !e.fatal) this.dispatch(e);
  }

  private fail(err: EddyError, entry?: Entry): void {
    if (this.failure) return;
    this.failure = err;
    this.setState('failed');
    this.emit('error', err);
    for (const e of this.pending.values())
      e.reject(e === entry ? err : new SessionStoppedError(this.id, err.message, { cause: err }));
    this.pending.clear();
    this.wakeSlots();
    this.pool.off('workerLost', this.onWorkerLost);
    void this.closeOnWorkers();
  }

  private wakeSlots(): void {
    for (const w of this.slotWaiters.splice(0)) w();
  }

  /** Per-module metrics summed over workers (current and retired), with the deadline kills per step. */
  moduleMetrics(): SessionModuleMetrics[] {
    const all = [...this.workerMetrics.values(), ...this.retiredMetrics];
    return this.opts.steps.map((s, i) => {
      const sum: SessionModuleMetrics = {
        module: s.module.name,
        invocations: 0,
        recordsIn: 0,
        recordsOut: 0,
        bytesIn: 0,
        bytesOut: 0,
        errors: 0,
        timeMs: 0,
        accumulatorBytes: this.accumulators[i]?.length ?? 0,
        memoryBytes: 0,
        recycles: 0,
        deadlineKills: this.stepKills[i]!,
        restarts: this.stepRestarts[i]!,
      };
      for (const list of all) {
        const m = list[i];
        if (!m) continue;
        sum.invocations += m.invocations;
        sum.recordsIn += m.recordsIn;
        sum.recordsOut += m.recordsOut;
        sum.bytesIn += m.bytesIn;
        sum.bytesOut += m.bytesOut;
        sum.errors += m.errors;
        sum.timeMs += m.timeMs;
        sum.memoryBytes = Math.max(sum.memoryBytes, m.memoryBytes);
        sum.recycles += m.recycles;
      }
      return sum;
    });
  }

  snapshotMetrics(): SessionMetrics {
    const modules = this.moduleMetrics();
    // Ranges are read by the workers: their input bytes are what the first module saw.
    return { ...this.metrics, bytesIn: Math.max(this.metrics.bytesIn, modules[0]?.bytesIn ?? 0), modules };
  }
}
