import { indexRecords } from '../protocol/record.js';
import type { PartitionLog } from './partition.js';
import { lastRecordsBatches } from './tail.js';

/** A topic's deduplication window (see TopicConfig.dedup): the last `count` keys, for `ageMs`. */
export interface Dedup {
  count: number;
  ageMs: number;
}

/**
 * A topic's deduplication window for one partition, as Fluvio's `--dedup` topics drop records:
 * a keyed record whose key is among the partition's last `count` keyed records, no older than
 * `ageMs`, is a duplicate. Records without a key are always kept. A window starts from what the
 * partition already stores (its last `count` records), so a produce run again drops what the
 * previous run stored; producers writing at the same moment from other processes do not see each
 * other's keys until they are stored and a window is opened again.
 */
export class KeyWindow {
  /** Key (as latin1 text: one char per byte) → when it was seen; insertion order is age order. */
  private readonly seen = new Map<string, number>();

  constructor(private readonly bounds: Dedup) {}

  /** A window holding the keys of the partition's newest stored records. */
  static fromLog(bounds: Dedup, log: PartitionLog, now: number): KeyWindow {
    const w = new KeyWindow(bounds);
    const { batches, from } = lastRecordsBatches(log, bounds.count);
    for (const b of batches) {
      const idx = indexRecords(b.raw);
      for (let i = 0; i < idx.count; i++) {
        if (b.baseOffset + idx.offsetDelta(i) < from) continue;
        const key = idx.key(i);
        const at = b.baseTimestamp + idx.timestampDelta(i);
        if (key && now - at <= bounds.ageMs) w.remember(key, at);
      }
    }
    return w;
  }

  /** Whether the key is a duplicate now; a new key is remembered. */
  isDuplicate(key: Uint8Array, now: number): boolean {
    this.expire(now);
    const k = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
    if (this.seen.has(k)) return true;
    this.remember(key, now, k);
    return false;
  }

  private remember(
    key: Uint8Array,
    at: number,
    k = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1'),
  ): void {
    this.seen.delete(k);
    this.seen.set(k, at);
    if (this.seen.size > this.bounds.count) this.seen.delete(this.seen.keys().next().value!);
  }

  private expire(now: number): void {
    for (const [k, at] of this.seen) {
      if (now - at <= this.bounds.ageMs) break;
      this.seen.delete(k);
    }
  }
}
