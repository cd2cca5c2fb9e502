/**
 * A worker's watchdog slot, shared between the worker and the pool: Float64 [deadline of its
 * current submission (ms since epoch, 0 = idle), the session it belongs to], then Int32 [in-native
 * flag, stop flag, chain step]. The worker writes the deadline when a submission starts and clears
 * it when it ends; the pool's watchdog terminates a worker whose deadline has passed. The chain
 * writes the index of the step it is calling into `step` (-1 outside a module call), so a kill
 * can name the module that overran.
 *
 * Terminating a thread during a native (N-API) call aborts the whole process, so the pool raises
 * `stop` and waits for `inNative` to clear; a worker raises `inNative` before each lmdb-js call
 * and, seeing `stop`, lowers it and spins in JavaScript instead, where termination is safe.
 */
const DEADLINE = 0,
  SESSION = 1; // Float64 indexes
const IN_NATIVE = 4,
  STOP = 5,
  STEP = 6; // Int32 indexes, after the two Float64 fields
const SLOT_BYTES = 32;

export class WatchSlot {
  private readonly times: Float64Array;
  private readonly flags: Int32Array;
  /** The chain step running now (-1: none); the chain stores into it, one store per module call. */
  readonly stepCell: Int32Array;

  /** A new slot (pool side), or a view of one received in an open message (worker side). */
  constructor(readonly buffer = new SharedArrayBuffer(SLOT_BYTES)) {
    this.times = new Float64Array(buffer, 0, 2);
    this.flags = new Int32Array(buffer);
    this.stepCell = new Int32Array(buffer, STEP * 4, 1);
  }

  /** Worker: a submission of session `session` starts and must end within `deadlineMs`. */
  begin(session: number, deadlineMs: number): void {
    this.times[SESSION] = session;
    this.stepCell[0] = -1;
    this.times[DEADLINE] = Date.now() + deadlineMs;
  }

  /** Worker: the submission ended. */
  end(): void {
    this.times[DEADLINE] = 0;
  }

  /** When the current submission must end (ms since epoch), 0 when idle. */
  get deadline(): number {
    return this.times[DEADLINE]!;
  }

  /** The session number of the current (or last) submission. */
  get session(): number {
    return this.times[SESSION]!;
  }

  /** Index of the chain step the current (or last) submission is in, -1 when between module calls. */
  get step(): number {
    return this.stepCell[0]!;
  }

  /** Worker: no module call is running (reading or packing between batches). */
  betweenSteps(): void {
    this.stepCell[0] = -1;
  }

  /** Pool: asks the worker to stop before its next native call. */
  requestStop(): void {
    Atomics.store(this.flags, STOP, 1);
  }

  /** Pool: whether the worker is inside a native call now. */
  get inNative(): boolean {
    return Atomics.load(this.flags, IN_NATIVE) === 1;
  }

  /** Worker side of the handshake: runs a native call unless the pool is about to terminate us. */
  duringNativeCall<T>(f: () => T): T {
    Atomics.store(this.flags, IN_NATIVE, 1);
    if (Atomics.load(this.flags, STOP) === 1) {
      Atomics.store(this.flags, IN_NATIVE, 0);
      for (;;); // wait here, in JavaScript, for the termination
    }
    try {
      return f();
    } finally {
      Atomics.store(this.flags, IN_NATIVE, 0);
    }
  }
}
