/**
 * lmdb-js opens one write batch of its own per event turn (event-turn batching, which lets the
 * appends of several partitions issued in one tick share a transaction) and drops that batch's
 * promise. When the commit fails (a full disk), every write of it is rejected — Eddy's own writes
 * report the failure as EDDY_STORAGE_FULL — and so is the dropped promise, with nobody to handle
 * it: Node would end the process. While a writer is open, this listener ignores exactly those
 * rejections (lmdb-js's "Commit failed" errors, which carry `commitError`); any other unhandled
 * rejection is rethrown as Node does without a listener, unless the program listens itself.
 */

let writers = 0;

function onUnhandled(reason: unknown): void {
  const commitError = (reason as { commitError?: Promise<unknown> } | null)?.commitError;
  if (reason instanceof Error && commitError && typeof commitError.catch === 'function') {
    commitError.catch(() => {});
    return;
  }
  if (process.listenerCount('unhandledRejection') === 1) throw reason;
}

/** A writable storage opened (+1) or closed (−1). */
export function guardCommitRejections(delta: 1 | -1): void {
  writers += delta;
  if (delta === 1 && writers === 1) process.on('unhandledRejection', onUnhandled);
  if (writers === 0) process.off('unhandledRejection', onUnhandled);
}
