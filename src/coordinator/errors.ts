import { EddyError } from '../errors.js';

/** A batch did not return within the stream's deadline; its worker was terminated. */
export class StreamTimeoutError extends EddyError {
  constructor(readonly stream: string, readonly modules: string[], readonly firstOffset: number, readonly deadlineMs: number) {
    super('EDDY_STREAM_TIMEOUT',
      `stream ${stream}: ${modules.join(' → ')} did not finish the batch at offset ${firstOffset} within ${deadlineMs} ms; ` +
      'its worker was terminated and replaced. If the module is just slow, raise the deadline with the deadlineMs option (CLI: --timeout).');
  }
}

/** The stream stopped earlier and accepts no more batches. */
export class StreamStoppedError extends EddyError {
  constructor(readonly stream: string, why: string, options?: { cause?: unknown }) {
    super('EDDY_STREAM_STOPPED', `stream ${stream} is stopped: ${why}`, options);
  }
}

/** The pool was closed. */
export class PoolClosedError extends EddyError {
  constructor() {
    super('EDDY_POOL_CLOSED', 'the worker pool is closed');
  }
}
