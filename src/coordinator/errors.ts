import { EddyError } from '../errors.js';

/**
 * A batch did not return within the chain session's deadline; its worker was terminated. `step` is
 * the index of the chain step that was running then and `module` its name (null when the worker
 * was between module calls, e.g. reading the batch).
 */
export class SessionTimeoutError extends EddyError {
  readonly module: string | null;

  constructor(
    readonly session: string,
    readonly modules: string[],
    readonly firstOffset: number,
    readonly deadlineMs: number,
    readonly step: number | null = null,
  ) {
    const module = step !== null ? (modules[step] ?? null) : null;
    const where = module === null ? modules.join(' → ') : module;
    const inChain = module !== null && modules.length > 1 ? ` (step ${step! + 1} of ${modules.join(' → ')})` : '';
    super(
      'EDDY_SESSION_TIMEOUT',
      `chain session ${session}: ${where} did not finish the batch at offset ${firstOffset} within ${deadlineMs} ms${inChain}; ` +
        'its worker was terminated and replaced. If the module is just slow, raise the deadline with the deadlineMs option (CLI: --timeout).',
    );
    this.module = module;
  }
}

/** The chain session stopped earlier and accepts no more batches. */
export class SessionStoppedError extends EddyError {
  constructor(
    readonly session: string,
    why: string,
    options?: { cause?: unknown },
  ) {
    super('EDDY_SESSION_STOPPED', `chain session ${session} is stopped: ${why}`, options);
  }
}

/** The pool was closed. */
export class PoolClosedError extends EddyError {
  constructor() {
    super('EDDY_POOL_CLOSED', 'the worker pool is closed');
  }
}

/** A task was sent to a worker that has exited (its streams are re-opened elsewhere). */
export class WorkerGoneError extends EddyError {
  constructor(readonly workerId: number) {
    super(
      'EDDY_WORKER_GONE',
      `worker ${workerId} of the pool has exited and takes no more tasks; ` +
        'streams placed on it are re-opened on another worker, so send the task to the worker the stream names now',
    );
  }
}

/** A derived stream's name is not one Fluvio would accept for a resource. */
export class DeriveNameError extends EddyError {
  constructor(
    readonly streamName: string,
    why: string,
  ) {
    super('EDDY_DERIVE_NAME', `invalid derived stream name ${JSON.stringify(streamName)}: ${why}`);
  }
}

/** A derived stream would read, directly or through other derived streams, what it writes. */
export class DeriveCycleError extends EddyError {
  constructor(
    readonly stream: string,
    readonly cycle: string[],
  ) {
    super(
      'EDDY_DERIVE_CYCLE',
      `derived stream ${stream} would feed its own source: ${cycle.join(' → ')} is a cycle, so its records would go round forever; ` +
        'give it another target (or dead-letter topic), or delete the derived stream that closes the loop (`eddy derive list` shows them)',
    );
  }
}

/**
 * A submission's outputs (or dead-letter records) could not be stored: none of them, and not its
 * checkpoint, was committed, so the partition stopped at `resumeAt` (its last committed offset),
 * and a run after the cause is fixed processes those records again.
 */
export class DeriveCommitError extends EddyError {
  constructor(
    readonly stream: string,
    readonly partition: number,
    readonly fromOffset: number,
    readonly toOffset: number,
    readonly resumeAt: number,
    cause: EddyError,
  ) {
    super(
      'EDDY_DERIVE_COMMIT',
      `derived stream ${stream}, partition ${partition}: the output of source offsets ${fromOffset}..${toOffset} could not be stored: ` +
        `${cause.message.replace(/; nothing was stored$/, '')}. Nothing of it was stored; the stream stopped at source offset ${resumeAt} ` +
        'and resumes there when started again (e.g. `eddy run` with the limit raised).',
      { cause },
    );
  }
}
