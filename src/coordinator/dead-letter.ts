import type { EddyError } from '../errors.js';
import { indexRecords } from '../protocol/record.js';
import type { ProduceRecord } from '../storage/batch-format.js';
import type { PartitionLog } from '../storage/partition.js';
import type { SessionBatchResult } from './chain-session.js';
import { COORDINATOR_DEFAULTS } from './defaults.js';

/**
 * Dead letters of derived streams under policy skip: every source record a module rejected, or
 * that was in a batch dropped after a trap, the memory cap or the deadline, becomes one record of
 * the dead-letter topic, committed with the stream's outputs and checkpoint.
 *
 * A dead-letter record's key is `<source partition>/<source offset>` and its value one JSON
 * object: `{ stream, topic, partition, offset, timestamp, error: { code, message }, encoding,
 * key, value }`, where `key` (or null) and `value` are the source record's bytes as UTF-8 text
 * (`encoding: "utf8"`) or, when either is not valid UTF-8, base64 (`encoding: "base64"`).
 */

/** One skipped source record and why. */
export interface SkippedRecord {
  offset: number;
  error: EddyError;
}

/** The source offsets a result skipped: a rejected record by its offset, a dropped batch by its whole range. */
export function skippedRecords(batches: readonly SessionBatchResult[], from: number): SkippedRecord[] {
  const out: SkippedRecord[] = [];
  for (const b of batches) {
    for (const error of b.skipped) {
      const at = (error as { offset?: unknown }).offset;
      if (error.code === 'EDDY_SM_RUNTIME' && typeof at === 'number') {
        out.push({ offset: at, error });
        continue;
      }
      for (let o = Math.max(b.baseOffset, from); o <= b.lastOffset; o++) out.push({ offset: o, error });
    }
  }
  return out.sort((a, b) => a.offset - b.offset);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(b: Uint8Array | null): string | null {
  if (b === null) return null;
  try {
    return utf8.decode(b);
  } catch {
    return null;
  }
}

/** One source record as read for its dead letter. */
export interface SourceRecord {
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array;
}

/** The dead-letter records of `skipped` (sorted by offset), read from the source partition. */
export function deadLetters(stream: string, source: PartitionLog, skipped: readonly SkippedRecord[]): ProduceRecord[] {
  if (skipped.length === 0) return [];
  const found = new Map<number, SourceRecord>();
  const wanted = new Set(skipped.map((s) => s.offset));
  const last = skipped[skipped.length - 1]!.offset;
  let at = Math.max(skipped[0]!.offset, source.startOffset);
  while (at <= last && at < source.nextOffset) {
    const batches = source.readBatches(at, { endOffset: last, maxBytes: COORDINATOR_DEFAULTS.deadLetterReadBytes });
    if (batches.length === 0) break;
    for (const b of batches) {
      const idx = indexRecords(b.raw);
      for (let i = 0; i < idx.count; i++) {
        const offset = b.baseOffset + idx.offsetDelta(i);
        if (wanted.has(offset))
          found.set(offset, {
            timestamp: b.baseTimestamp + idx.timestampDelta(i),
            key: idx.key(i),
            value: idx.value(i),
          });
      }
    }
    at = batches[batches.length - 1]!.lastOffset + 1;
  }
  // A record missing from `found` was removed by retention before it could be kept.
  return skipped.map((s) => deadLetter(stream, source.topic, source.partition, s, found.get(s.offset) ?? null));
}

/**
 * One dead letter: the envelope described above, for source record `record` (null when it is
 * gone), keyed `<source partition>/<source offset>`. Shared by Eddy-log and Kafka streams.
 */
export function deadLetter(
  stream: string,
  topic: string,
  partition: number,
  { offset, error }: SkippedRecord,
  record: SourceRecord | null,
): { key: string; value: string } {
  const r = record;
  const key = text(r?.key ?? null);
  const value = r ? text(r.value) : null;
  const asText = r !== null && value !== null && (r.key === null || key !== null);
  const envelope = {
    stream,
    topic,
    partition,
    offset,
    timestamp: r?.timestamp ?? null,
    error: { code: error.code, message: error.message },
    encoding: asText ? 'utf8' : 'base64',
    key: r?.key == null ? null : asText ? key : Buffer.from(r.key).toString('base64'),
    value: r === null ? null : asText ? value : Buffer.from(r.value).toString('base64'),
  };
  return { key: `${partition}/${offset}`, value: JSON.stringify(envelope) };
}
