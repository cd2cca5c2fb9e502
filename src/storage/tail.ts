import { type StoredBatch, viewBatch } from './batch-format.js';
import { STORAGE_DEFAULTS } from './defaults.js';
import type { PartitionLog } from './partition.js';

/**
 * The newest part of a partition, for look-back: whole stored batches, oldest first, as views of
 * the stored values. The caller picks the records it wants out of them (the first batch may start
 * before the first wanted record).
 */

/** The batches holding the last `count` records; `from` is the first of those records' offsets. */
export function lastRecordsBatches(log: PartitionLog, count: number): { batches: StoredBatch[]; from: number } {
  const from = Math.max(log.nextOffset - count, log.startOffset);
  const batches: StoredBatch[] = [];
  for (let at = from; at < log.nextOffset; ) {
    const got = log.readBatches(at, { maxBytes: STORAGE_DEFAULTS.tailReadBytes });
    if (got.length === 0) break;
    batches.push(...got);
    at = got[got.length - 1]!.lastOffset + 1;
  }
  return { batches, from };
}

/** The batches that may hold a record with a timestamp ≥ `since` (ms): found walking back from the newest. */
export function batchesSince(log: PartitionLog, since: number): StoredBatch[] {
  const batches: StoredBatch[] = [];
  for (const { key, value } of log.db.getRange({ reverse: true })) {
    const b = viewBatch(key, value, log.where);
    if (b.maxTimestamp < since) break;
    batches.push(b);
  }
  return batches.reverse();
}
