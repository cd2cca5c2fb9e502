import type { ConsumedBatch } from './record-stream.js';

/** Where a consumer's committed offset may move once outputs are delivered (`eddy consume`). */

/**
 * The next source offset once all of `b` is delivered: its end covers inputs that had no output;
 * a runtime error stops at the failing record, which is not delivered.
 */
export function batchEnd(b: Pick<ConsumedBatch, 'baseOffset' | 'lastOffset' | 'error'>): number {
  const end = b.lastOffset + 1;
  if (!b.error) return end;
  const e = b.error as { offset?: unknown; firstOffset?: unknown };
  const at = typeof e.offset === 'number' ? e.offset : typeof e.firstOffset === 'number' ? e.firstOffset : b.baseOffset;
  return Math.max(b.baseOffset, Math.min(end, at));
}

/**
 * The next source offset once an output record at `offset` is delivered (`last`: the batch's last
 * output, `batchEnd` from batchEnd). Outputs keep their input's offset, so every input
 * before it is done; with at most one output per input (`oneToOne`), its own input is done too.
 */
export function recordEnd(batchEnd: number, offset: number, last: boolean, oneToOne: boolean): number {
  if (last) return batchEnd;
  return Math.min(batchEnd, oneToOne ? offset + 1 : offset);
}
