import { DecodeError } from '../errors.js';
import { readVarint, type VarintResult } from '../protocol/varint.js';
import { InvalidArgumentError, RecordTooLargeError } from './errors.js';

/**
 * A batch a caller encoded itself, for `Producer.sendEncoded`: a Fluvio `Vec<Record>` (i32 count,
 * then each record with its varint length; the same bytes module outputs and stored batches carry)
 * with offset deltas 0..n−1 and timestamp deltas relative to `baseTimestamp`.
 */
export interface EncodedProduceBatch {
  raw: Uint8Array;
  /** Milliseconds since the epoch; a record's timestamp is this plus its timestamp delta. */
  baseTimestamp: number;
  /** Required when the topic has several partitions: a batch goes to one partition as it is. */
  partition?: number;
}

/** What the check learnt of a batch: enough to frame it without reading it again. */
export interface ScannedBatch {
  count: number;
  /** Largest timestamp delta (0 when every delta is ≤ 0). */
  maxTimestampDelta: number;
}

const vr: VarintResult = { value: 0, end: 0 };

/**
 * Checks an encoded batch strictly, in one pass over its bytes and without allocating, before
 * anything is stored. Fluvio's own decoder forgives some sloppiness (a value longer than the
 * buffer is cut, a record's length prefix may disagree with its fields, bytes may follow the
 * list); stored batches are read back by that decoder, so each of those is refused here, naming
 * the record and the byte.
 */
export function scanEncodedBatch(batch: EncodedProduceBatch, where: string, maxRecordBytes: number): ScannedBatch {
  const refuse = (problem: string) => new InvalidArgumentError(`encoded batch for ${where}: ${problem}`);
  if (batch === null || typeof batch !== 'object' || !(batch.raw instanceof Uint8Array)) {
    throw refuse('raw must be a Uint8Array');
  }
  if (!Number.isSafeInteger(batch.baseTimestamp) || batch.baseTimestamp < 0) {
    throw refuse(`baseTimestamp ${batch.baseTimestamp} is not a non-negative integer (ms)`);
  }
  const raw = batch.raw;
  const n = raw.length;
  if (n < 4) throw refuse('missing i32 record count (byte 0)');
  const count = (raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]! | 0;
  if (count < 0) throw refuse(`negative record count ${count} (byte 0)`);
  let maxTs = 0;
  let p = 4;
  let i = 0;
  let at = p;
  try {
    for (; i < count; i++) {
      at = p;
      if (p >= n) throw refuse(`record ${i} at byte ${p} is missing; the count says ${count}`);
      readVarint(raw, p, vr);
      const len = vr.value;
      const body = vr.end;
      const end = body + len;
      if (len < 6 || end > n) {
        throw refuse(`record ${i} at byte ${p}: length ${len} but ${n - body} bytes remain`);
      }
      if (end - p > maxRecordBytes) throw new RecordTooLargeError(end - p, maxRecordBytes, i, where);
      let q = body + 1; // attributes
      readVarint(raw, q, vr);
      if (vr.value > maxTs) maxTs = vr.value;
      readVarint(raw, vr.end, vr);
      if (vr.value !== i) throw refuse(`record ${i} at byte ${p} has offset delta ${vr.value}; deltas must run 0..n−1`);
      q = vr.end;
      const keyFlag = raw[q++];
      if (keyFlag === 1) {
        readVarint(raw, q, vr);
        if (vr.value < 0) throw refuse(`record ${i} at byte ${p}: negative key length`);
        q = vr.end + vr.value;
      } else if (keyFlag !== 0) {
        throw refuse(`record ${i} at byte ${p}: key option byte must be 0 or 1, got ${keyFlag}`);
      }
      readVarint(raw, q, vr);
      if (vr.value < 0) throw refuse(`record ${i} at byte ${p}: negative value length`);
      q = vr.end + vr.value;
      readVarint(raw, q, vr);
      if (vr.value !== 0 && vr.end === end) {
        throw refuse(`record ${i} at byte ${p} declares ${vr.value} record headers; Fluvio records carry none`);
      }
      q = vr.end;
      if (q !== end) throw refuse(`record ${i} at byte ${p} declares ${len} bytes but its fields take ${q - body}`);
      p = end;
    }
  } catch (err) {
    if (err instanceof DecodeError) throw refuse(`record ${i} at byte ${at}: ${err.message}`);
    throw err;
  }
  if (p !== n) throw refuse(`${n - p} bytes follow the last record (byte ${p})`);
  return { count, maxTimestampDelta: maxTs };
}
