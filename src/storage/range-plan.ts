import type { PartitionLog } from './partition.js';

/** Offsets [from, end) of a partition covered by the stored batches at `keys` (base offsets). */
export interface PlannedRange {
  keys: number[];
  from: number;
  /** Exclusive. */
  end: number;
}

/**
 * Plans the next submission of a partition from batch keys alone (no value is read here): the
 * batch holding `from` and the ones after it, up to `maxBatches`, cut at `endOffset` (inclusive).
 * Offsets are contiguous, so a batch ends where the next key starts. Null when nothing is stored
 * at or after `from` yet.
 */
export function planRange(
  log: PartitionLog,
  from: number,
  maxBatches: number,
  endOffset = Infinity,
): PlannedRange | null {
  if (from >= log.nextOffset || from > endOffset) return null;
  let first = -1;
  for (const k of log.db.getKeys({ start: from, reverse: true, limit: 1 })) first = k as number;
  if (first < 0) {
    // Retention may have removed the batch: start at the oldest one still stored.
    for (const k of log.db.getKeys({ limit: 1 })) first = k as number;
    if (first < 0) return null;
    from = Math.max(from, first);
  }
  const keys = [first];
  let end = log.nextOffset;
  for (const k of log.db.getKeys({ start: first + 1, limit: maxBatches })) {
    if (keys.length === maxBatches || (k as number) > endOffset) {
      end = k as number;
      break;
    }
    keys.push(k as number);
  }
  return { keys, from, end: Math.min(end, endOffset + 1) };
}
