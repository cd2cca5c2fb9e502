import { DecodeError } from '../errors.js';
import { indexRecords, type RecordIndex } from '../protocol/record.js';
import { readVarint, type VarintResult } from '../protocol/varint.js';
import { InvalidArgumentError } from './errors.js';

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

const vr: VarintResult = { value: 0, end: 0 };

/**
 * Checks an encoded batch strictly before anything is stored, and returns its index. Fluvio's own
 * decoder forgives some sloppiness (a value longer than the buffer is cut, a record's length
 * prefix may disagree with its fields, bytes may follow the list); stored batches are read back
 * by that decoder, so each of those is refused here, naming the record and the byte.
 */
export function checkEncodedBatch(batch: EncodedProduceBatch, where: string): RecordIndex {
  if (batch === null || typeof batch !== 'object' || !(batch.raw instanceof Uint8Array)) {
    throw new InvalidArgumentError(`encoded batch for ${where}: raw must be a Uint8Array`);
  }
  if (!Number.isSafeInteger(batch.baseTimestamp) || batch.baseTimestamp < 0) {
    throw new InvalidArgumentError(
      `encoded batch for ${where}: baseTimestamp ${batch.baseTimestamp} is not a non-negative integer (ms)`,
    );
  }
  const raw = batch.raw;
  if (raw.length >= 4 && (raw[0]! & 0x80) !== 0) {
    throw new InvalidArgumentError(`encoded batch for ${where}: negative record count at byte 0`);
  }
  let index: RecordIndex;
  try {
    index = indexRecords(raw);
  } catch (err) {
    if (err instanceof DecodeError) {
      throw new InvalidArgumentError(`encoded batch for ${where}: ${err.message}`);
    }
    throw err;
  }
  for (let i = 0; i < index.count; i++) {
    const rec = index.encoded(i);
    const at = rec.byteOffset - raw.byteOffset;
    readVarint(raw, at, vr);
    if (vr.end - at + vr.value !== rec.length) {
      throw new InvalidArgumentError(
        `encoded batch for ${where}: record ${i} at byte ${at} declares ${vr.value} bytes but its fields take ${rec.length - (vr.end - at)}`,
      );
    }
    if (index.offsetDelta(i) !== i) {
      throw new InvalidArgumentError(
        `encoded batch for ${where}: record ${i} at byte ${at} has offset delta ${index.offsetDelta(i)}; deltas must run 0..n−1`,
      );
    }
    if (index.headers(i) !== 0) {
      throw new InvalidArgumentError(
        `encoded batch for ${where}: record ${i} at byte ${at} declares ${index.headers(i)} record headers; Fluvio records carry none`,
      );
    }
  }
  if (index.end !== raw.length) {
    throw new InvalidArgumentError(
      `encoded batch for ${where}: ${raw.length - index.end} bytes follow the last record (byte ${index.end})`,
    );
  }
  return index;
}
