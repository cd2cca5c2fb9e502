import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { BroadcastChannel } from 'node:worker_threads';
import { EventEmitter } from 'eventemitter3';
import type { ModuleLogger } from '../smartmodule/types.js';
import type { ModuleLogLine, WorkerTask } from '../wire/messages.js';
import { WatchSlot } from '../wire/watch-slot.js';
import type { ChainSession } from './chain-session.js';
import { PoolClosedError, WorkerGoneError } from './errors.js';
import { PinnedWorker } from './piscina-adapter.js';

/**
 * The worker threads that run sessions. Each session is pinned to one worker (each worker is a
 * Piscina of one thread, see piscina-adapter.ts) and moves only when its worker is gone; a
 * fanned-out session (a stateless chain) spreads over every worker instead.
 * A watchdog enforces per-batch deadlines: each worker publishes, in a shared slot, when its
 * current batch must end; past that the worker is terminated and Piscina starts a replacement.
 *
 * A batch that overruns blocks every session on its worker until the kill, and a session that
 * overran once (a looping module under policy skip) will likely do it again. So such a session is
 * a suspect: with two workers or more, the pool keeps one worker, the quarantine, for suspects
 * alone — the replacement of the worker killed for a deadline — and healthy sessions are placed
 * elsewhere. Healthy sessions then never wait behind another session's deadline kill.
 */

export interface PoolOptions {
  /** Worker threads. Default: the machine's cores. */
  workers?: number;
  /** How often the watchdog looks at the deadline slots (ms). Default 50. */
  watchdogIntervalMs?: number;
  /** Worker entry; default the compiled workers/session-worker.js. */
  filename?: string;
  /**
   * Takes what modules write to stdout/stderr (WASI), sent over from the workers. Without it, each
   * worker writes those lines to stderr itself.
   */
  moduleLog?: ModuleLogger;
}

/** Which submission overran its deadline: the session's number and the chain step it was in (-1: none). */
export interface DeadlineKill {
  session: number;
  step: number;
}

export interface PoolEvents {
  /** A worker exited; `timedOut` names the session and chain step that overran, if that was why. */
  workerLost: [workerId: number, timedOut: DeadlineKill | null];
  workerReady: [workerId: number];
}

interface WorkerSlot {
  id: number;
  /** The Piscina this worker belongs to (it also runs the worker's replacement). */
  thread: PinnedWorker;
  watch: WatchSlot;
  /** Healthy sessions pinned here. */
  sessions: number;
  /** Suspect sessions pinned here (see the class comment). */
  suspects: number;
  /** Reserved for suspects while any is open. */
  quarantine: boolean;
}

export class WorkerPool extends EventEmitter<PoolEvents> {
  readonly size: number;
  private readonly threads: PinnedWorker[];
  private readonly slots = new Map<number, WorkerSlot>();
  private readonly timedOut = new Map<number, DeadlineKill>();
  private readonly watchdog: NodeJS.Timeout;
  private closed = false;
  private waiters: (() => void)[] = [];
  private nextSessionNumber = 1;
  /** Replacements still to come that are to be the quarantine worker. */
  private quarantineDue = 0;
  /** Sessions currently open on this pool, for metrics. */
  readonly sessions = new Set<ChainSession>();
  /** Where the workers post module output when the pool has a `moduleLog`. */
  private logChannel: BroadcastChannel | null = null;

  constructor(options: PoolOptions = {}) {
    super();
    if (options.moduleLog) this.setModuleLog(options.moduleLog);
    this.size = Math.max(1, options.workers ?? availableParallelism());
    const filename = options.filename ?? new URL('../../workers/session-worker.js', import.meta.url).href;
    this.threads = Array.from({ length: this.size }, () => {
      const thread = new PinnedWorker(filename);
      thread.on('ready', (id) => this.workerReady(thread, id));
      thread.on('lost', (id) => this.workerGone(id));
      return thread;
    });
    this.watchdog = setInterval(() => this.checkDeadlines(), options.watchdogIntervalMs ?? 50);
    this.watchdog.unref();
  }

  private workerReady(thread: PinnedWorker, id: number): void {
    const quarantine = this.quarantineDue > 0;
    if (quarantine) this.quarantineDue--;
    this.slots.set(id, { id, thread, watch: new WatchSlot(), sessions: 0, suspects: 0, quarantine });
    this.emit('workerReady', id);
    for (const wake of this.waiters.splice(0)) wake();
  }

  private workerGone(id: number): void {
    if (!this.slots.delete(id)) return;
    const timedOut = this.timedOut.get(id) ?? null;
    this.timedOut.delete(id);
    if (!this.closed) this.emit('workerLost', id, timedOut);
  }

  /**
   * Sends what modules write to `moduleLog` (see PoolOptions), for sessions opened from now on;
   * for an owner that takes over a pool started before it knew its logger.
   */
  setModuleLog(moduleLog: ModuleLogger): void {
    this.logChannel?.close();
    // A channel of this pool's own: other pools in the process (and their loggers) do not hear it.
    const channel = new BroadcastChannel(`eddy-module-log-${randomUUID()}`);
    channel.onmessage = (e) => {
      const { stream, line, module } = (e as { data: ModuleLogLine }).data;
      moduleLog(stream, line, module);
    };
    channel.unref();
    this.logChannel = channel;
  }

  /** The channel name session workers post module output to, or null: they write it to stderr. */
  get moduleLogChannel(): string | null {
    return this.logChannel?.name ?? null;
  }

  /** Ids of the live workers. */
  get workerIds(): number[] {
    return [...this.slots.keys()];
  }

  /**
   * The workers a fanned-out session spreads over: every live one, but the quarantine while a
   * suspect is open (a healthy session never waits behind a suspect's deadline kill).
   */
  spreadWorkerIds(): number[] {
    const reserved = this.hasSuspects();
    const ids = [...this.slots.values()].filter((s) => !(reserved && s.quarantine)).map((s) => s.id);
    return ids.length > 0 ? ids : this.workerIds;
  }

  /** Sessions pinned to each worker (for tests and metrics). */
  get assignment(): Map<number, number> {
    return new Map([...this.slots.values()].map((s) => [s.id, s.sessions]));
  }

  /** Resolves when at least `n` workers are up (default: all). */
  async ready(n = this.size): Promise<void> {
    while (!this.closed && this.slots.size < n) await new Promise<void>((r) => this.waiters.push(r));
    if (this.closed) throw new PoolClosedError();
  }

  newSessionNumber(): number {
    return this.nextSessionNumber++;
  }

  /**
   * Picks a live worker for a session: the one with the fewest sessions among those of its kind
   * (quarantine for a suspect, the others for a healthy session). Waits while none is live or a
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
        const best = choice.reduce((a, b) => (b.sessions + b.suspects < a.sessions + a.suspects ? b : a));
        if (suspect) best.suspects++;
        else best.sessions++;
        return best.id;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  release(workerId: number, suspect = false): void {
    const s = this.slots.get(workerId);
    if (!s) return;
    if (suspect && s.suspects > 0) s.suspects--;
    else if (!suspect && s.sessions > 0) s.sessions--;
  }

  /** Whether an open session is a suspect (then the quarantine worker is kept for suspects). */
  private hasSuspects(): boolean {
    for (const s of this.sessions) if (s.suspect && s.state !== 'closed' && s.state !== 'failed') return true;
    return false;
  }

  watchBuffer(workerId: number): SharedArrayBuffer {
    const s = this.slots.get(workerId);
    if (!s) throw new PoolClosedError();
    return s.watch.buffer;
  }

  isLive(workerId: number): boolean {
    return this.slots.has(workerId);
  }

  /** The watchdog is terminating this worker (a batch overran its deadline); workerLost follows. */
  isTerminating(workerId: number): boolean {
    return this.timedOut.has(workerId);
  }

  /**
   * Runs a task on a given worker. A worker that is gone takes no more tasks (its replacement
   * starts empty): the task fails, as the ones it was running did.
   */
  run<R>(workerId: number, task: WorkerTask, transferList?: ArrayBuffer[]): Promise<R> {
    if (this.closed) return Promise.reject(new PoolClosedError());
    const s = this.slots.get(workerId);
    if (!s) return Promise.reject(new WorkerGoneError(workerId));
    return s.thread.run<R>(task, transferList);
  }

  /** Terminates a worker as if it crashed (tests, and the watchdog), never inside a native call. */
  async terminate(workerId: number): Promise<void> {
    await this.outOfNative([workerId]);
    await this.slots.get(workerId)?.thread.terminate(workerId);
  }

  private checkDeadlines(): void {
    const now = Date.now();
    for (const s of this.slots.values()) {
      const deadline = s.watch.deadline;
      if (deadline > 0 && now > deadline && !this.timedOut.has(s.id)) {
        this.timedOut.set(s.id, { session: s.watch.session, step: s.watch.step });
        this.reserveQuarantine(s);
        void this.terminate(s.id);
      }
    }
  }

  /**
   * A worker is being killed for a deadline: its replacement starts empty, so it becomes the
   * quarantine unless one is already there (or coming). A quarantine that healthy sessions took
   * while no suspect was open is one no longer. One pool worker is never reserved.
   */
  private reserveQuarantine(killed: WorkerSlot): void {
    if (this.size < 2) return;
    for (const s of this.slots.values()) if (s.quarantine && s.sessions > 0) s.quarantine = false;
    const kept = [...this.slots.values()].some((s) => s.quarantine && s !== killed);
    if (killed.quarantine || (!kept && this.quarantineDue === 0)) this.quarantineDue++;
  }

  /** Asks these workers to stop before their next native call and waits until none is inside one. */
  private async outOfNative(ids: number[], limitMs = 2000): Promise<void> {
    const slots = ids.map((id) => this.slots.get(id)).filter((s): s is WorkerSlot => !!s);
    for (const s of slots) s.watch.requestStop();
    const until = Date.now() + limitMs;
    while (slots.some((s) => s.watch.inNative) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /**
   * Lets running batches finish (up to `graceMs`), then ends the workers — out of native calls, so
   * a worker reading LMDB is never cut off mid-call. A batch of a session already closed has nobody
   * waiting for it: when only such batches run, the workers end at once (a module looping until
   * its deadline would otherwise hold the close up for the whole grace).
   */
  async close(graceMs = 2000): Promise<void> {
    if (this.closed) return;
    await Promise.race([this.allLoaded(), new Promise((r) => setTimeout(r, graceMs).unref())]);
    const open = new Set([...this.sessions].map((s) => s.number));
    const busy = [...this.slots.values()].filter((s) => s.watch.deadline > 0);
    const awaited = busy.some((s) => open.has(s.watch.session));
    this.closed = true;
    clearInterval(this.watchdog);
    for (const wake of this.waiters.splice(0)) wake();
    let timer: NodeJS.Timeout | undefined;
    const graceful =
      busy.length === 0 || awaited
        ? Promise.all(this.threads.map((t) => t.close())).then(
            () => true,
            () => false,
          )
        : Promise.resolve(false);
    const finished = await Promise.race([
      graceful,
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (!finished) {
      await this.outOfNative([...this.slots.keys()]);
      await Promise.all(this.threads.map((t) => t.destroy()));
    }
    this.logChannel?.close();
  }

  /**
   * Node aborts the process when a worker is terminated while still loading its modules, and
   * Piscina counts workers as ready before that: waits for replacements still starting, then a
   * no-op round trip proves each idle worker loaded (a worker inside a batch has).
   */
  private async allLoaded(): Promise<void> {
    while (!this.closed && this.threads.some((t) => t.starting)) await new Promise<void>((r) => this.waiters.push(r));
    const idle = [...this.slots.values()].filter((s) => s.watch.deadline === 0).map((s) => s.id);
    await Promise.allSettled(idle.map((id) => this.run(id, { op: 'ping' })));
  }
}
