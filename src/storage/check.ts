import type { Database } from 'lmdb';
import { indexRecords } from '../protocol/record.js';
import { batchRecords, readBatchHeader, verifyBatch } from './batch-format.js';
import { CorruptBatchError } from './errors.js';

/**
 * Verification of one partition's stored batches (`eddy check`, Storage.check): every batch's
 * checksum and header, its records decoded, and the offsets and log positions contiguous from one
 * batch to the next. Reads every byte, so it finds damage that readers meet only when they get there.
 */

/** One damaged place. `offset` is the batch's base offset (−1 for the partition as a whole). */
export interface Damage {
  topic: string;
  partition: number;
  offset: number;
  detail: string;
}

export interface PartitionCheck {
  batches: number;
  records: number;
  bytes: number;
  damage: Damage[];
}

/** @internal Checks every batch of `db` (the partition `topic`/`partition`). Never throws for bad data. */
export function checkPartition(db: Database<Uint8Array, number>, topic: string, partition: number): PartitionCheck {
  const where = `${topic}/${partition}`;
  const out: PartitionCheck = { batches: 0, records: 0, bytes: 0, damage: [] };
  const damaged = (offset: number, detail: string) => out.damage.push({ topic, partition, offset, detail });
  let expectOffset = -1;
  let expectPosition = -1;
  for (const { key, value } of db.getRange({})) {
    out.batches++;
    out.bytes += value.length;
    if (!Number.isSafeInteger(key) || key < 0) {
      damaged(-1, `a batch is stored under key ${String(key)}, not an offset`);
      continue;
    }
    if (expectOffset >= 0 && key !== expectOffset) {
      damaged(
        key,
        key > expectOffset
          ? `offsets ${expectOffset}..${key - 1} are missing before it`
          : `it overlaps the previous batch, which ends at ${expectOffset - 1}`,
      );
    }
    try {
      verifyBatch(key, value, where);
      const h = readBatchHeader(value, where, key);
      const index = indexRecords(batchRecords(value, h, where, key));
      if (index.count !== h.count || h.lastOffsetDelta !== h.count - 1) {
        damaged(
          key,
          `its header says ${h.count} records (last offset delta ${h.lastOffsetDelta}) but it holds ${index.count}`,
        );
      }
      if (expectPosition >= 0 && h.logPosition !== expectPosition + value.length) {
        damaged(
          key,
          `its log position ${h.logPosition} does not follow the previous batch's ${expectPosition} (+${value.length} bytes)`,
        );
      }
      out.records += h.count;
      expectOffset = key + h.count;
      expectPosition = h.logPosition;
    } catch (err) {
      damaged(key, err instanceof CorruptBatchError ? err.detail : (err as Error).message);
      expectOffset = -1; // the next batch's offset cannot be known: do not report it as a gap
      expectPosition = -1;
    }
  }
  return out;
}
