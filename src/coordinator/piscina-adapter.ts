import { EventEmitter } from 'eventemitter3';
import { Piscina } from 'piscina';
import type { WorkerTask } from '../wire/messages.js';

/**
 * One worker thread, run by a Piscina of its own (one thread, replaced when it exits). The pool
 * pins each session to one worker; a Piscina of one thread pins every task it runs without a custom
 * load balancer, so the pool needs nothing of Piscina beyond its documented API. This file is the
 * only one that imports Piscina on the coordinator side; what it relies on:
 *
 * - the options `filename`, `minThreads`/`maxThreads` (1: Piscina replaces a worker that exits),
 *   `idleTimeout`, `concurrentTasksPerWorker`, `atomics`, `maxQueue`;
 * - `run(task, { transferList })`, `close()`, `destroy()`, the `error` event;
 * - `workerCreate` once a worker is ready, with the worker (`id`, unique per worker), and
 *   `workerDestroy` when it is gone, before its replacement's `workerCreate`;
 * - `threads`: the Node `Worker` of this Piscina, to terminate it (a deadline kill).
 *
 * test/piscina-adapter.test.ts checks each of these against the installed Piscina.
 */

export interface PinnedWorkerEvents {
  /** A worker is up and takes tasks; `id` is new for every worker, replacements included. */
  ready: [id: number];
  /** The worker `id` is gone (exited or terminated); a replacement is starting. */
  lost: [id: number];
}

export class PinnedWorker extends EventEmitter<PinnedWorkerEvents> {
  private readonly piscina: Piscina;
  /** The id of the worker taking tasks now, or null while none is ready. */
  private current: number | null = null;

  constructor(filename: string) {
    super();
    this.piscina = new Piscina({
      filename,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      // Many sessions share a worker; it runs their batches one at a time, in arrival order.
      concurrentTasksPerWorker: 1024,
      // Piscina's Atomics loop starts every queued task before the first response is posted, so a
      // batch that never returns would also hold back the finished results queued before it.
      // Message events keep each response posted before the next task begins.
      atomics: 'disabled',
      maxQueue: Number.POSITIVE_INFINITY,
    });
    this.piscina.on('workerCreate', (w: { id: number }) => {
      this.current = w.id;
      this.emit('ready', w.id);
    });
    // The argument's id already reads -1 here (its thread has exited): the one we kept is the one.
    this.piscina.on('workerDestroy', () => {
      const id = this.current;
      this.current = null;
      if (id !== null) this.emit('lost', id);
    });
    // Errors of a worker surface through its tasks and workerDestroy; do not crash the process here.
    this.piscina.on('error', () => {});
  }

  /** The id of the worker taking tasks now, or null while none is ready. */
  get id(): number | null {
    return this.current;
  }

  /** Whether a worker thread exists that is not ready yet (a replacement still loading). */
  get starting(): boolean {
    return this.piscina.threads.length > (this.current === null ? 0 : 1);
  }

  run<R>(task: WorkerTask, transferList?: ArrayBuffer[]): Promise<R> {
    return this.piscina.run(task, transferList ? { transferList } : {}) as Promise<R>;
  }

  /** Terminates the worker `id` as if it crashed; nothing when that worker is already gone. */
  async terminate(id: number): Promise<void> {
    if (this.current !== id) return;
    await this.piscina.threads[0]?.terminate();
  }

  close(): Promise<void> {
    return this.piscina.close();
  }

  destroy(): Promise<void> {
    return this.piscina.destroy();
  }
}
