import { indexRecords } from '../protocol/record.js';
import type { Lookback } from '../smartmodule/types.js';
import type { StoredBatch } from '../storage/batch-format.js';
import type { Storage } from '../storage/storage.js';
import { batchesSince, lastRecordsBatches } from '../storage/tail.js';

/**
 * The look-back records of one chain step, read from the source partition (spec §6.7):
 * `last = N` → the last N records; `age = A` with `last = N > 0` → of those, the ones not older
 * than A; `age` alone → every record not older than A (found walking batches back from the newest).
 * The records keep the deltas of their stored batches and go out as one list with base offset and
 * timestamp 0, exactly as Fluvio sends them.
 */
export function readLookback(
  storage: Storage,
  topic: string,
  partition: number,
  lookback: Lookback,
  now = Date.now(),
): Uint8Array {
  const log = storage.partition(topic, partition);
  log.refresh();
  const cutoff = lookback.ageMs != null ? now - lookback.ageMs : -Infinity;
  let batches: StoredBatch[];
  let from: number;
  if (lookback.last > 0) {
    ({ batches, from } = lastRecordsBatches(log, lookback.last));
  } else if (lookback.ageMs != null) {
    from = log.startOffset;
    batches = batchesSince(log, cutoff);
  } else {
    return new Uint8Array(4);
  }

  const parts: Uint8Array[] = [];
  let count = 0;
  let size = 4;
  for (const b of batches) {
    const idx = indexRecords(b.raw);
    for (let i = 0; i < idx.count; i++) {
      if (b.baseOffset + idx.offsetDelta(i) < from) continue;
      if (b.baseTimestamp + idx.timestampDelta(i) < cutoff) continue;
      const enc = idx.encoded(i);
      parts.push(enc);
      size += enc.length;
      count++;
    }
  }
  const out = new Uint8Array(size);
  new DataView(out.buffer).setInt32(0, count);
  let p = 4;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}
