import { EventEmitter } from 'eventemitter3';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { PoolClosedError } from './errors.js';
import type { WorkerTask } from './frames.js';
import type { ModuleStream } from './stream.js';

/**
 * The Piscina pool that runs streams. Each stream is pinned to one worker (affinity through a
 * custom load balancer reading the task's queue options) and moves only when its worker is gone.
 * A watchdog enforces per-batch deadlines: each worker publishes, in a shared slot, when its
 * current batch must end; past that the worker is terminated and Piscina starts a replacement.
 *
 * A batch that overruns blocks every stream on its worker until the kill, and a stream that
 * overran once (a looping module under policy skip) will likely do it again. So such a stream is
 * a suspect: with two workers or more, the pool keeps one worker, the quarantine, for suspects
 * alone — the replacement of the worker killed for a deadline — and healthy streams are placed
 * elsewhere. Healthy streams then never wait behind another stream's deadline kill.
 */

export interface PoolOptions {
  /** Worker threads. Default: the machine's cores. */
  workers?: number;
  /** How often the watchdog looks at the deadline slots (ms). Default 50. */
  watchdogIntervalMs?: number;
  /** Worker entry; default the compiled workers/stream-worker.js. */
  filename?: string;
}

export interface PoolEvents {
  /** A worker exited; `timedOutStream` is the stream number whose batch overran, if that was why. */
  workerLost: [workerId: number, timedOutStream: number | null];
  workerReady: [workerId: number];
}

interface WorkerSlot {
  id: number;
  watch: SharedArrayBuffer;
  view: Float64Array;
  flags: Int32Array;
  /** Healthy streams pinned here. */
  streams: number;
  /** Suspect streams pinned here (see the class comment). */
  suspects: number;
  /** Reserved for suspects while any is open. */
  quarantine: boolean;
}

const QUEUE_OPTIONS = Piscina.queueOptionsSymbol;

/**
 * A worker's watchdog slot: Float64 [deadline of its current batch (ms since epoch, 0 = idle),
 * the stream it belongs to], then Int32 [in-native flag, stop flag]. Terminating a thread during a
 * native (N-API) call aborts the whole process, so the pool raises `stop` and waits for `inNative`
 * to clear; a worker raises `inNative` before each lmdb-js call and, seeing `stop`, lowers it and
 * spins in JavaScript instead, where termination is safe.
 */
export const WATCH_DEADLINE = 0, WATCH_STREAM = 1;
export const WATCH_IN_NATIVE = 4, WATCH_STOP = 5; // Int32 indexes, after the two Float64 fields
const WATCH_SLOT_BYTES = 24;

/** Worker side of the handshake: runs a native call unless the pool is about to terminate us. */
export function duringNativeCall<T>(flags: Int32Array | null, f: () => T): T {
  if (!flags) return f();
  Atomics.store(flags, WATCH_IN_NATIVE, 1);
  if (Atomics.load(flags, WATCH_STOP) === 1) {
    Atomics.store(flags, WATCH_IN_NATIVE, 0);
    for (;;); // wait here, in JavaScript, for the termination
  }
  try {
    return f();
  } finally {
    Atomics.store(flags, WATCH_IN_NATIVE, 0);
  }
}

export class WorkerPool extends EventEmitter<PoolEvents> {
  readonly size: number;
  private readonly piscina: Piscina;
  private readonly slots = new Map<number, WorkerSlot>();
  private readonly timedOut = new Map<number, number>();
  private readonly watchdog: NodeJS.Timeout;
  private closed = false;
  private waiters: (() => void)[] = [];
  private nextStreamNumber = 1;
  /** Replacements still to come that are to be the quarantine worker. */
  private quarantineDue = 0;
  /** Streams currently open on this pool, for metrics. */
  readonly streams = new Set<ModuleStream>();

  constructor(options: PoolOptions = {}) {
    super();
    this.size = Math.max(1, options.workers ?? availableParallelism());
    const filename = options.filename ?? new URL('../../workers/stream-worker.js', import.meta.url).href;
    this.piscina = new Piscina({
      filename,
      minThreads: this.size,
      maxThreads: this.size,
      idleTimeout: Number.POSITIVE_INFINITY,
      // Many streams share a worker; it runs their batches one at a time, in arrival order.
      concurrentTasksPerWorker: 1024,
      // Piscina's Atomics loop starts every queued task before the first response is posted, so a
      // batch that never returns would also hold back the finished results queued before it.
      // Message events keep each response posted before the next task begins.
      atomics: 'disabled',
      maxQueue: Number.POSITIVE_INFINITY,
      loadBalancer: (task, workers) => {
        const want = ((task as unknown as Record<symbol, { worker?: number } | null>)[QUEUE_OPTIONS])?.worker;
        return workers.find((w) => w.id === want) ?? null;
      },
    });
    this.piscina.on('workerCreate', (w: { id: number }) => {
      const watch = new SharedArrayBuffer(WATCH_SLOT_BYTES);
      const quarantine = this.quarantineDue > 0;
      if (quarantine) this.quarantineDue--;
      this.slots.set(w.id, { id: w.id, watch, view: new Float64Array(watch, 0, 2), flags: new Int32Array(watch), streams: 0, suspects: 0, quarantine });
      this.emit('workerReady', w.id);
      for (const wake of this.waiters.splice(0)) wake();
    });
    // A dead worker's threadId already reads -1 here, so find the lost slots by what is still alive.
    this.piscina.on('workerDestroy', () => {
      const alive = new Set(this.piscina.threads.map((t) => t.threadId).filter((id) => id >= 0));
      for (const id of [...this.slots.keys()]) {
        if (alive.has(id)) continue;
        this.slots.delete(id);
        const timedOut = this.timedOut.get(id) ?? null;
        this.timedOut.delete(id);
        if (!this.closed) this.emit('workerLost', id, timedOut);
      }
    });
    // Errors of a worker surface through its tasks and workerDestroy; do not crash the process here.
    this.piscina.on('error', () => {});
    this.watchdog = setInterval(() => this.checkDeadlines(), options.watchdogIntervalMs ?? 50);
    this.watchdog.unref();
  }

  /** Ids of the live workers. */
  get workerIds(): number[] {
    return [...this.slots.keys()];
  }

  /** Streams pinned to each worker (for tests and metrics). */
  get assignment(): Map<number, number> {
    return new Map([...this.slots.values()].map((s) => [s.id, s.streams]));
  }

  /** Resolves when at least `n` workers are up (default: all). */
  async ready(n = this.size): Promise<void> {
    while (!this.closed && this.slots.size < n) await new Promise<void>((r) => this.waiters.push(r));
    if (this.closed) throw new PoolClosedError();
  }

  newStreamNumber(): number {
    return this.nextStreamNumber++;
  }

  /**
   * Picks a live worker for a stream: the one with the fewest streams among those of its kind
   * (quarantine for a suspect, the others for a healthy stream). Waits while none is live or a
   * replacement of the right kind is still starting; shares a worker only when there is no other.
   */
  async assign(exclude: number[] = [], suspect = false): Promise<number> {
    for (;;) {
      if (this.closed) throw new PoolClosedError();
      const candidates = [...this.slots.values()].filter((s) => !exclude.includes(s.id));
      const pool = candidates.length > 0 ? candidates : [...this.slots.values()];
      const reserved = this.hasSuspects();
      const fitting = pool.filter((s) => (suspect ? s.quarantine : !s.quarantine || !reserved));
      const starting = this.slots.size < this.size;
      const choice = fitting.length > 0 ? fitting : starting ? [] : pool;
      if (choice.length > 0) {
        const best = choice.reduce((a, b) => (b.streams + b.suspects < a.streams + a.suspects ? b : a));
        if (suspect) best.suspects++;
        else best.streams++;
        return best.id;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  release(workerId: number, suspect = false): void {
    const s = this.slots.get(workerId);
    if (!s) return;
    if (suspect && s.suspects > 0) s.suspects--;
    else if (!suspect && s.streams > 0) s.streams--;
  }

  /** Whether an open stream is a suspect (then the quarantine worker is kept for suspects). */
  private hasSuspects(): boolean {
    for (const s of this.streams) if (s.suspect && s.state !== 'closed' && s.state !== 'failed') return true;
    return false;
  }

  watchBuffer(workerId: number): SharedArrayBuffer {
    const s = this.slots.get(workerId);
    if (!s) throw new PoolClosedError();
    return s.watch;
  }

  isLive(workerId: number): boolean {
    return this.slots.has(workerId);
  }

  /** Runs a task on a given worker. */
  run<R>(workerId: number, task: WorkerTask, transferList?: ArrayBuffer[]): Promise<R> {
    if (this.closed) return Promise.reject(new PoolClosedError());
    const t = task as WorkerTask & { [QUEUE_OPTIONS]?: { worker: number } };
    t[QUEUE_OPTIONS] = { worker: workerId };
    return this.piscina.run(t, transferList ? { transferList } : {}) as Promise<R>;
  }

  /** Terminates a worker as if it crashed (tests, and the watchdog), never inside a native call. */
  async terminate(workerId: number): Promise<void> {
    await this.outOfNative([workerId]);
    const w = this.piscina.threads.find((t) => t.threadId === workerId);
    if (w) await w.terminate();
  }

  private checkDeadlines(): void {
    const now = Date.now();
    for (const s of this.slots.values()) {
      const deadline = s.view[WATCH_DEADLINE]!;
      if (deadline > 0 && now > deadline && !this.timedOut.has(s.id)) {
        this.timedOut.set(s.id, s.view[WATCH_STREAM]!);
        this.reserveQuarantine(s);
        void this.terminate(s.id);
      }
    }
  }

  /**
   * A worker is being killed for a deadline: its replacement starts empty, so it becomes the
   * quarantine unless one is already there (or coming). A quarantine that healthy streams took
   * while no suspect was open is one no longer. One pool worker is never reserved.
   */
  private reserveQuarantine(killed: WorkerSlot): void {
    if (this.size < 2) return;
    for (const s of this.slots.values()) if (s.quarantine && s.streams > 0) s.quarantine = false;
    const kept = [...this.slots.values()].some((s) => s.quarantine && s !== killed);
    if (killed.quarantine || (!kept && this.quarantineDue === 0)) this.quarantineDue++;
  }

  /** Asks these workers to stop before their next native call and waits until none is inside one. */
  private async outOfNative(ids: number[], limitMs = 2000): Promise<void> {
    const slots = ids.map((id) => this.slots.get(id)).filter((s): s is WorkerSlot => !!s);
    for (const s of slots) Atomics.store(s.flags, WATCH_STOP, 1);
    const until = Date.now() + limitMs;
    while (slots.some((s) => Atomics.load(s.flags, WATCH_IN_NATIVE) === 1) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /**
   * Lets running batches finish (up to `graceMs`), then ends the workers — out of native calls, so
   * a worker reading LMDB is never cut off mid-call. A batch of a stream already closed has nobody
   * waiting for it: when only such batches run, the workers end at once (a module looping until
   * its deadline would otherwise hold the close up for the whole grace).
   */
  async close(graceMs = 2000): Promise<void> {
    if (this.closed) return;
    await Promise.race([this.allLoaded(), new Promise((r) => setTimeout(r, graceMs).unref())]);
    const open = new Set([...this.streams].map((s) => s.number));
    const busy = [...this.slots.values()].filter((s) => s.view[WATCH_DEADLINE]! > 0);
    const awaited = busy.some((s) => open.has(s.view[WATCH_STREAM]!));
    this.closed = true;
    clearInterval(this.watchdog);
    for (const wake of this.waiters.splice(0)) wake();
    let timer: NodeJS.Timeout | undefined;
    const graceful = busy.length === 0 || awaited ? this.piscina.close().then(() => true, () => false) : Promise.resolve(false);
    const finished = await Promise.race([graceful, new Promise<boolean>((r) => { timer = setTimeout(() => r(false), graceMs); })]);
    clearTimeout(timer);
    if (!finished) {
      await this.outOfNative([...this.slots.keys()]);
      await this.piscina.destroy();
    }
  }

  /**
   * Node aborts the process when a worker is terminated while still loading its modules, and
   * Piscina counts workers as ready before that: waits for replacements still starting, then a
   * no-op round trip proves each idle worker loaded (a worker inside a batch has).
   */
  private async allLoaded(): Promise<void> {
    while (!this.closed && this.piscina.threads.length > this.slots.size) await new Promise<void>((r) => this.waiters.push(r));
    const idle = [...this.slots.values()].filter((s) => s.view[WATCH_DEADLINE] === 0).map((s) => s.id);
    await Promise.allSettled(idle.map((id) => this.run(id, { op: 'ping' })));
  }
}
