/**
 * The value Eddy stores for one record batch (one LMDB entry; the key is the batch's base offset).
 *
 * ```
 * byte  size  field (all fixed-width integers big-endian, as Fluvio encodes them)
 *  0     1    format version = 1
 *  1     1    flags: bit 0 = a header section follows the records; bit 1 = a checksum trailer
 *             ends the value; bits 2..4 = the codec of the Vec<Record> section (0 none, else
 *             Fluvio's numbers: 1 gzip, 2 snappy, 3 lz4, 4 zstd; see codecs.ts); bit 5 = the
 *             trailer is CRC-32 (IEEE), else CRC32C; other bits 0
 *  2     2    reserved, 0
 *  4     4    i32 record count
 *  8     4    i32 last offset delta (count − 1: Eddy numbers the records of a batch 0..count−1)
 * 12     4    u32 raw length: bytes of the Vec<Record> section below as stored (its i32 count
 *             included; compressed when bits 2..4 name a codec)
 * 16     8    i64 base timestamp (ms since epoch): timestamp of the batch's first record
 * 24     8    i64 max timestamp (ms): the newest record timestamp in the batch (time retention)
 * 32     8    i64 log position: bytes appended to this partition up to and including this
 *             batch (its whole stored length counted); partition size = last − first + first length
 * 40     …    Vec<Record>: i32 count then the records exactly as src/protocol encodes them
 *             (spec §4.1), offset_delta/timestamp_delta relative to the key and base timestamp
 * 40+raw …    optional header section (flag bit 0), see below
 * n−4    4    u32 checksum (flag bit 1) of u64 base offset (the LMDB key) ‖ value[0 .. n−4):
 *             CRC-32 when flag bit 5 is set, CRC32C otherwise
 * ```
 *
 * The checksum covers the key too, so a batch found under another offset fails as well. It is
 * written when the batch gets its place in the partition (after its offset and log position are
 * known) and checked on every read, by every worker that reads the batch; batches written before
 * checksums existed (bit 1 clear) are read unchecked. Batches are written with CRC-32 (bit 5):
 * the same strength as CRC32C (Kafka's and Fluvio's batch checksum, which batches written before
 * bit 5 carry and are still checked with), computed five times faster here (crc32.ts).
 *
 * The `Vec<Record>` section is byte-for-byte the `raw_bytes` a SmartModule reads (spec §4.2), so a
 * consumer hands `value.subarray(40, 40 + rawLength)` to the engine as `BatchInput.raw`, with the
 * key as `baseOffset` and the base timestamp: no re-encoding, no per-record objects.
 *
 * Record headers. Fluvio's record encoding carries only a header *count* (spec §4.1). Eddy writes
 * that count into each record and, when any record has headers, appends a section after the
 * records that modules never see:
 * ```
 * i32 entry count, then per record with headers:
 *   i32 offset delta | u16 header count | per header: String key (u16 length + UTF-8) | Vec<u8> value (i32 length + bytes)
 * ```
 * Entries are matched to records by offset delta.
 *
 * Timestamp deltas are varints that Fluvio only encodes correctly inside the signed 32-bit range
 * (~24.8 days in ms); the encoder starts a new batch when a record's timestamp is too far from the
 * batch's base timestamp.
 */
import { EncodeError } from '../errors.js';
import { readI64, writeI64 } from '../protocol/bytes.js';
import { indexRecords, type RecordIndex, recordBodySizeFields, writeRecordFields } from '../protocol/record.js';
import { VARINT_MAX, VARINT_MIN, varintSize, varintSizeUnchecked } from '../protocol/varint.js';
import {
  type BatchCodec,
  CODEC_MASK,
  CODEC_SHIFT,
  codecNumber,
  codecOfFlags,
  compressRaw,
  decompressRaw,
} from './codecs.js';
import { crc32, crc32Small } from './crc32.js';
import { crc32c, crc32cSmall } from './crc32c.js';
import { CorruptBatchError, InvalidArgumentError, RecordTooLargeError } from './errors.js';

export const BATCH_FORMAT_VERSION = 1;
export const BATCH_HEADER_SIZE = 40;
export const FLAG_HEADERS = 1;
export const FLAG_CRC = 2;
/** With FLAG_CRC: the trailer is CRC-32 (IEEE) rather than CRC32C. */
export const FLAG_CRC32 = 32;
/** The flags of a checksum trailer as batches are written now. */
const TRAILER_FLAGS = FLAG_CRC | FLAG_CRC32;
/** Bytes of the checksum trailer. */
export const CRC_SIZE = 4;

const O_VERSION = 0,
  O_FLAGS = 1,
  O_COUNT = 4,
  O_LAST_DELTA = 8,
  O_RAW_LEN = 12,
  O_BASE_TS = 16,
  O_MAX_TS = 24,
  O_POSITION = 32;

/** A record header: key and value bytes. */
export type RecordHeader = [key: string, value: Uint8Array];

/** What produce calls accept. Strings are encoded as UTF-8. `timestamp` defaults to now (ms). */
export interface ProduceRecord {
  key?: Uint8Array | string | null;
  value: Uint8Array | string;
  timestamp?: number;
  headers?: Iterable<readonly [string, Uint8Array | string]> | { readonly [key: string]: Uint8Array | string } | null;
}

export interface BatchHeader {
  version: number;
  flags: number;
  count: number;
  lastOffsetDelta: number;
  rawLength: number;
  baseTimestamp: number;
  maxTimestamp: number;
  logPosition: number;
}

/** One stored batch, read back. Satisfies the engine's `BatchInput` ({ baseOffset, baseTimestamp, raw }). */
export interface StoredBatch {
  baseOffset: number;
  /** Offset of the batch's last record (baseOffset + last offset delta). */
  lastOffset: number;
  count: number;
  baseTimestamp: number;
  maxTimestamp: number;
  /** `Vec<Record>` bytes: the SmartModule input, a view into `value`. */
  raw: Uint8Array;
  /** Header section (see the file comment), or null when no record has headers. */
  headerSection: Uint8Array | null;
  /** The whole stored value. Values returned by range reads own their ArrayBuffer (transferable). */
  value: Uint8Array;
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export function readBatchHeader(value: Uint8Array, where = '?', key = -1): BatchHeader {
  if (value.length < BATCH_HEADER_SIZE) throw new CorruptBatchError(where, key, `only ${value.length} bytes`);
  const v = dv(value);
  const version = value[O_VERSION]!;
  if (version !== BATCH_FORMAT_VERSION)
    throw new CorruptBatchError(where, key, `unknown batch format version ${version}`);
  const rawLength = v.getUint32(O_RAW_LEN);
  if (BATCH_HEADER_SIZE + rawLength + (value[O_FLAGS]! & FLAG_CRC ? CRC_SIZE : 0) > value.length) {
    throw new CorruptBatchError(where, key, `raw length ${rawLength} runs past the ${value.length}-byte value`);
  }
  return {
    version,
    flags: value[O_FLAGS]!,
    count: v.getInt32(O_COUNT),
    lastOffsetDelta: v.getInt32(O_LAST_DELTA),
    rawLength,
    baseTimestamp: readI64(v, O_BASE_TS),
    maxTimestamp: readI64(v, O_MAX_TS),
    logPosition: readI64(v, O_POSITION),
  };
}

/**
 * Builds the read view of a stored value; with `verify` (the default) its checksum is checked
 * first (CorruptBatchError naming topic, partition and offset).
 */
export function viewBatch(baseOffset: number, value: Uint8Array, where = '?', verify = true): StoredBatch {
  // The read hot path: fields read byte by byte (no DataView, no intermediate header object).
  if (value.length < BATCH_HEADER_SIZE || value[O_VERSION] !== BATCH_FORMAT_VERSION)
    readBatchHeader(value, where, baseOffset); // throws the precise error
  const flags = value[O_FLAGS]!;
  if (flags & FLAG_CRC && verify) verifyBatch(baseOffset, value, where);
  const n = flags & FLAG_CRC ? value.length - CRC_SIZE : value.length;
  const count = i32(value, O_COUNT);
  const rawEnd = BATCH_HEADER_SIZE + (i32(value, O_RAW_LEN) >>> 0);
  if (rawEnd > n) readBatchHeader(value, where, baseOffset);
  // Plain Uint8Array views: `subarray` on the Buffer lmdb-js returns would go through Buffer's
  // species constructor, several times slower under GC pressure.
  let raw = new Uint8Array(value.buffer, value.byteOffset + BATCH_HEADER_SIZE, rawEnd - BATCH_HEADER_SIZE);
  if (flags & CODEC_MASK) raw = decompressSection(flags, raw, where, baseOffset);
  return {
    baseOffset,
    lastOffset: baseOffset + i32(value, O_LAST_DELTA),
    count,
    baseTimestamp: i64(value, O_BASE_TS),
    maxTimestamp: i64(value, O_MAX_TS),
    raw,
    headerSection: flags & FLAG_HEADERS ? new Uint8Array(value.buffer, value.byteOffset + rawEnd, n - rawEnd) : null,
    value,
  };
}

/** A compressed `Vec<Record>` section, decompressed; a section that does not decompress is a corrupt batch. */
function decompressSection(flags: number, stored: Uint8Array, where: string, key: number): Uint8Array {
  let codec: BatchCodec;
  try {
    codec = codecOfFlags(flags);
  } catch (err) {
    throw new CorruptBatchError(where, key, (err as Error).message);
  }
  try {
    return decompressRaw(codec, stored);
  } catch (err) {
    throw new CorruptBatchError(where, key, `its ${codec} records do not decompress (${(err as Error).message})`);
  }
}

/** The records section of a stored value as the engine reads it (decompressed when it was stored compressed). */
export function batchRecords(value: Uint8Array, header: BatchHeader, where = '?', key = -1): Uint8Array {
  const stored = new Uint8Array(value.buffer, value.byteOffset + BATCH_HEADER_SIZE, header.rawLength);
  return header.flags & CODEC_MASK ? decompressSection(header.flags, stored, where, key) : stored;
}

/**
 * Compresses the records section of an encoded, not yet sealed batch value with `codec` and marks
 * the codec in its flags; the other sections and the trailer's room are kept. `none` returns it.
 */
export function compressBatch(value: Uint8Array, codec: BatchCodec): Uint8Array {
  if (codec === 'none') return value;
  const rawLength = i32(value, O_RAW_LEN) >>> 0;
  const rawEnd = BATCH_HEADER_SIZE + rawLength;
  const packed = compressRaw(codec, value.subarray(BATCH_HEADER_SIZE, rawEnd));
  const out = new Uint8Array(value.length - rawLength + packed.length);
  out.set(value.subarray(0, BATCH_HEADER_SIZE), 0);
  out.set(packed, BATCH_HEADER_SIZE);
  out.set(value.subarray(rawEnd), BATCH_HEADER_SIZE + packed.length);
  out[O_FLAGS] = (out[O_FLAGS]! & ~CODEC_MASK) | (codecNumber(codec) << CODEC_SHIFT);
  dv(out).setUint32(O_RAW_LEN, packed.length);
  return out;
}

function i32(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

function i64(b: Uint8Array, o: number): number {
  return i32(b, o) * 0x1_0000_0000 + (i32(b, o + 4) >>> 0);
}

const keyBytes = new Uint8Array(8);

/** The checksum of u64be(baseOffset) ‖ value[0 .. n−4) its flags name (CRC-32 or CRC32C): what the trailer holds. */
export function batchChecksum(baseOffset: number, value: Uint8Array): number {
  const hi = Math.floor(baseOffset / 0x1_0000_0000);
  const lo = baseOffset >>> 0;
  keyBytes[0] = hi >>> 24;
  keyBytes[1] = hi >>> 16;
  keyBytes[2] = hi >>> 8;
  keyBytes[3] = hi;
  keyBytes[4] = lo >>> 24;
  keyBytes[5] = lo >>> 16;
  keyBytes[6] = lo >>> 8;
  keyBytes[7] = lo;
  const body = new Uint8Array(value.buffer, value.byteOffset, value.length - CRC_SIZE);
  return value[O_FLAGS]! & FLAG_CRC32 ? crc32(body, crc32Small(keyBytes)) : crc32c(body, crc32cSmall(keyBytes));
}

/** Writes the checksum trailer, once the batch's offset and log position are final (no-op without FLAG_CRC). */
export function sealBatch(baseOffset: number, value: Uint8Array): void {
  if (!(value[O_FLAGS]! & FLAG_CRC)) return;
  const c = batchChecksum(baseOffset, value);
  const n = value.length;
  value[n - 4] = c >>> 24;
  value[n - 3] = c >>> 16;
  value[n - 2] = c >>> 8;
  value[n - 1] = c;
}

/** Throws CorruptBatchError when a batch with a checksum does not match it. */
export function verifyBatch(baseOffset: number, value: Uint8Array, where: string): void {
  if (!(value[O_FLAGS]! & FLAG_CRC)) return;
  if (value.length < BATCH_HEADER_SIZE + CRC_SIZE)
    throw new CorruptBatchError(where, baseOffset, `only ${value.length} bytes`);
  const stored = i32(value, value.length - CRC_SIZE) >>> 0;
  const actual = batchChecksum(baseOffset, value);
  if (stored !== actual) {
    throw new CorruptBatchError(
      where,
      baseOffset,
      `checksum mismatch (stored ${value[O_FLAGS]! & FLAG_CRC32 ? 'CRC-32' : 'CRC32C'} ${hex(stored)}, computed ${hex(actual)} over its ${value.length} bytes)`,
    );
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** Patches the log position (done when the batch is given its place in the partition). */
export function setLogPosition(value: Uint8Array, position: number): void {
  writeI64(dv(value), O_POSITION, position);
}

export function getLogPosition(value: Uint8Array): number {
  return readI64(dv(value), O_POSITION);
}

function writeHeader(
  value: Uint8Array,
  flags: number,
  count: number,
  rawLength: number,
  baseTs: number,
  maxTs: number,
): void {
  const v = dv(value);
  value[O_VERSION] = BATCH_FORMAT_VERSION;
  value[O_FLAGS] = flags;
  // Reserved bytes: values come from unzeroed buffers, and what is stored must not depend on them.
  value[2] = 0;
  value[3] = 0;
  v.setInt32(O_COUNT, count);
  v.setInt32(O_LAST_DELTA, count - 1);
  v.setUint32(O_RAW_LEN, rawLength);
  writeI64(v, O_BASE_TS, baseTs);
  writeI64(v, O_MAX_TS, maxTs);
  writeI64(v, O_POSITION, 0);
}

// ---------------------------------------------------------------------------------------------
// Encoding records into batches

const utf8 = new TextEncoder();

function toBytes(x: Uint8Array | string, what: string, index: number): Uint8Array {
  if (typeof x === 'string') return Buffer.from(x, 'utf8');
  if (x instanceof Uint8Array) return x;
  throw new InvalidArgumentError(`record ${index}: ${what} must be a Uint8Array or a string, got ${typeof x}`);
}

function normalizeHeaders(h: ProduceRecord['headers'], index: number): RecordHeader[] | null {
  if (h == null) return null;
  const out: RecordHeader[] = [];
  const entries: Iterable<readonly [string, Uint8Array | string]> =
    Symbol.iterator in (h as object) ? (h as Iterable<readonly [string, Uint8Array | string]>) : Object.entries(h);
  for (const [k, v] of entries) {
    if (typeof k !== 'string') throw new InvalidArgumentError(`record ${index}: header keys must be strings`);
    out.push([k, toBytes(v, `header "${k}"`, index)]);
  }
  return out.length ? out : null;
}

function headerEntrySize(h: readonly RecordHeader[]): number {
  let s = 4 + 2;
  for (const [k, v] of h) {
    const kb = Buffer.byteLength(k, 'utf8');
    if (kb > 0x7fff) throw new EncodeError(`header key of ${kb} bytes exceeds the 32767-byte string limit`);
    s += 2 + kb + 4 + v.length;
  }
  if (h.length > 0xffff) throw new EncodeError(`${h.length} headers on one record exceed the 65535 limit`);
  return s;
}

function writeHeaderEntry(
  buf: Uint8Array,
  v: DataView,
  pos: number,
  delta: number,
  h: readonly RecordHeader[],
): number {
  v.setInt32(pos, delta);
  v.setUint16(pos + 4, h.length);
  pos += 6;
  for (const [k, val] of h) {
    const kb = utf8.encode(k);
    v.setUint16(pos, kb.length);
    buf.set(kb, pos + 2);
    pos += 2 + kb.length;
    v.setInt32(pos, val.length);
    buf.set(val, pos + 4);
    pos += 4 + val.length;
  }
  return pos;
}

/** Decodes a header section into offset delta → headers. */
export function decodeHeaderSection(section: Uint8Array): Map<number, RecordHeader[]> {
  const out = new Map<number, RecordHeader[]>();
  const v = dv(section);
  const dec = new TextDecoder();
  let pos = 4;
  const n = v.getInt32(0);
  for (let e = 0; e < n; e++) {
    const delta = v.getInt32(pos);
    const count = v.getUint16(pos + 4);
    pos += 6;
    const list: RecordHeader[] = [];
    for (let i = 0; i < count; i++) {
      const kl = v.getUint16(pos);
      const k = dec.decode(section.subarray(pos + 2, pos + 2 + kl));
      pos += 2 + kl;
      const vl = v.getInt32(pos);
      list.push([k, section.subarray(pos + 4, pos + 4 + vl)]);
      pos += 4 + vl;
    }
    out.set(delta, list);
  }
  return out;
}

export interface EncodeLimits {
  /** Largest encoded record (length prefix included). */
  maxRecordBytes: number;
  /** A batch is closed before it would exceed this many bytes (a single record always fits). */
  maxBatchBytes: number;
  /** Give each batch a checksum trailer (FLAG_CRC, CRC-32). Default true. */
  checksums?: boolean;
}

/** Bytes of the trailer a batch gets under these limits. */
function trailerOf(limits: EncodeLimits): number {
  return limits.checksums === false ? 0 : CRC_SIZE;
}

/** One encoded batch, ready to store (log position still 0). */
export interface EncodedBatch {
  value: Uint8Array;
  count: number;
  /** Index of the batch's first record in the caller's input. */
  first: number;
}

/**
 * Encodes records into one or more stored-batch values. Every record is checked before anything
 * is returned, so a refused call stores nothing. A new batch starts when the next record would
 * take the batch over `maxBatchBytes` or its timestamp delta would leave the i32 range.
 */
export function encodeBatches(
  records: readonly ProduceRecord[],
  now: number,
  limits: EncodeLimits,
  where: string,
): EncodedBatch[] {
  const n = records.length;
  if (isSimple(records)) return encodeSimple(records, now, limits, where);
  const keys: (Uint8Array | null)[] = new Array(n);
  const values: Uint8Array[] = new Array(n);
  const ts: number[] = new Array(n);
  let headers: (RecordHeader[] | null)[] | null = null;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    if (r === null || typeof r !== 'object')
      throw new InvalidArgumentError(`record ${i} for ${where} must be an object with a value`);
    const k = r.key;
    keys[i] = k == null ? null : toBytes(k, 'key', i);
    values[i] = toBytes(r.value, 'value', i);
    const t = r.timestamp ?? now;
    if (!Number.isSafeInteger(t))
      throw new InvalidArgumentError(`record ${i} for ${where}: timestamp ${t} is not an integer (ms)`);
    ts[i] = t;
    if (r.headers != null) {
      const h = normalizeHeaders(r.headers, i);
      if (h) (headers ??= new Array(n).fill(null))[i] = h;
    }
  }

  const out: EncodedBatch[] = [];
  const bodies = new Int32Array(n);
  // Lengths are varints too: Fluvio cannot encode more than the i32 range.
  const maxField = VARINT_MAX - 64;
  const trailer = trailerOf(limits);
  const crcFlag = trailer ? TRAILER_FLAGS : 0;
  let start = 0;
  while (start < n) {
    const base = ts[start]!;
    let maxTs = base;
    let rawSize = 4;
    let hdrSize = 0;
    let end = start;
    for (; end < n; end++) {
      const t = ts[end]!;
      const d = t - base;
      if (d < VARINT_MIN || d > VARINT_MAX) break;
      const key = keys[end]!;
      const value = values[end]!;
      const hl = headers?.[end] ?? null;
      if (value.length > maxField || (key !== null && key.length > maxField)) {
        throw new RecordTooLargeError(
          value.length + (key?.length ?? 0),
          Math.min(limits.maxRecordBytes, maxField),
          end,
          where,
        );
      }
      const body = recordBodySizeFields(key, value, d, end - start, hl ? hl.length : 0);
      const size = varintSizeUnchecked(body) + body;
      if (size > limits.maxRecordBytes) throw new RecordTooLargeError(size, limits.maxRecordBytes, end, where);
      const hs = hl ? headerEntrySize(hl) : 0;
      if (
        end > start &&
        BATCH_HEADER_SIZE + rawSize + size + (hdrSize || hs ? 4 + hdrSize + hs : 0) + trailer > limits.maxBatchBytes
      )
        break;
      bodies[end] = body;
      rawSize += size;
      hdrSize += hs;
      if (t > maxTs) maxTs = t;
    }
    const count = end - start;
    const total = BATCH_HEADER_SIZE + rawSize + (hdrSize ? 4 + hdrSize : 0) + trailer;
    const value = allocValue(total);
    writeHeader(value, (hdrSize ? FLAG_HEADERS : 0) | crcFlag, count, rawSize, base, maxTs);
    const v = dv(value);
    v.setInt32(BATCH_HEADER_SIZE, count);
    let pos = BATCH_HEADER_SIZE + 4;
    for (let i = start; i < end; i++) {
      pos = writeRecordFields(
        value,
        pos,
        keys[i]!,
        values[i]!,
        ts[i]! - base,
        i - start,
        headers?.[i]?.length ?? 0,
        bodies[i]!,
      );
    }
    if (hdrSize) {
      let entries = 0;
      const countAt = pos;
      pos += 4;
      for (let i = start; i < end; i++) {
        const hl = headers![i];
        if (hl) {
          pos = writeHeaderEntry(value, v, pos, i - start, hl);
          entries++;
        }
      }
      v.setInt32(countAt, entries);
    }
    out.push({ value, count, first: start });
    start = end;
  }
  return out;
}

const SLAB_BYTES = 1 << 20;
let slab: Uint8Array | null = null;
let slabUsed = 0;

/**
 * Memory for a batch value about to be stored: carved from 1 MiB slabs (bump allocation), so
 * encoding thousands of small batches does not allocate thousands of ArrayBuffers (GC pressure;
 * lmdb-js also looks up each ArrayBuffer's address once). lmdb-js holds a reference to a value
 * until its transaction wrote it, so a slab lives as long as any of its values is pending.
 */
function allocValue(n: number): Uint8Array {
  if (n > SLAB_BYTES >> 3) return Buffer.allocUnsafeSlow(n);
  if (slab === null || slabUsed + n > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  const v = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += (n + 7) & ~7;
  return v;
}

/** True when every record is `{ value: Uint8Array, key?: Uint8Array | null }` with no timestamp or headers. */
function isSimple(records: readonly ProduceRecord[]): boolean {
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (
      r === null ||
      typeof r !== 'object' ||
      !(r.value instanceof Uint8Array) ||
      r.timestamp !== undefined ||
      r.headers != null
    )
      return false;
    const k = r.key;
    if (k != null && !(k instanceof Uint8Array)) return false;
  }
  return true;
}

/**
 * The common produce call (bytes in, no timestamps or headers): every record gets `now`, so all
 * timestamp deltas are 0 and no normalisation arrays are needed. Same output as the general path.
 */
function encodeSimple(
  records: readonly ProduceRecord[],
  now: number,
  limits: EncodeLimits,
  where: string,
): EncodedBatch[] {
  const n = records.length;
  const out: EncodedBatch[] = [];
  const bodies = new Int32Array(n);
  const maxField = VARINT_MAX - 64;
  const maxRecord = limits.maxRecordBytes;
  const trailer = trailerOf(limits);
  const room = limits.maxBatchBytes - BATCH_HEADER_SIZE - trailer;
  let start = 0;
  while (start < n) {
    let rawSize = 4;
    let end = start;
    for (; end < n; end++) {
      const r = records[end]!;
      const value = r.value as Uint8Array;
      const key = (r.key ?? null) as Uint8Array | null;
      const vl = value.length;
      if (vl > maxField || (key !== null && key.length > maxField)) {
        throw new RecordTooLargeError(vl + (key?.length ?? 0), Math.min(maxRecord, maxField), end, where);
      }
      const od = end - start;
      const body =
        2 +
        (od < 64 ? 1 : varintSizeUnchecked(od)) +
        (key ? 1 + varintSizeUnchecked(key.length) + key.length : 1) +
        (vl < 64 ? 1 : varintSizeUnchecked(vl)) +
        vl +
        1;
      const size = varintSizeUnchecked(body) + body;
      if (size > maxRecord) throw new RecordTooLargeError(size, maxRecord, end, where);
      if (end > start && rawSize + size > room) break;
      bodies[end] = body;
      rawSize += size;
    }
    const count = end - start;
    const value = allocValue(BATCH_HEADER_SIZE + rawSize + trailer);
    writeHeader(value, trailer ? TRAILER_FLAGS : 0, count, rawSize, now, now);
    value[BATCH_HEADER_SIZE] = count >>> 24;
    value[BATCH_HEADER_SIZE + 1] = (count >>> 16) & 0xff;
    value[BATCH_HEADER_SIZE + 2] = (count >>> 8) & 0xff;
    value[BATCH_HEADER_SIZE + 3] = count & 0xff;
    let pos = BATCH_HEADER_SIZE + 4;
    for (let i = start; i < end; i++) {
      const r = records[i]!;
      pos = writeRecordFields(
        value,
        pos,
        (r.key ?? null) as Uint8Array | null,
        r.value as Uint8Array,
        0,
        i - start,
        0,
        bodies[i]!,
      );
    }
    out.push({ value, count, first: start });
    start = end;
  }
  return out;
}

/**
 * Varint size / write for values the caller has already checked to be in the signed 32-bit range
 * (the hot path: src/protocol's versions re-validate every call). Same bytes as writeVarint.
 */
// ---------------------------------------------------------------------------------------------
// Storing a Vec<Record> that is already encoded (module output, derived streams)

export interface RawBatchInput {
  /** `Vec<Record>` bytes; timestamp deltas relative to `baseTimestamp`. */
  raw: Uint8Array;
  baseTimestamp: number;
  /** Optional headers by the input record's offset delta. */
  headers?: ReadonlyMap<number, readonly RecordHeader[]> | null;
}

/**
 * Wraps an encoded record list as a stored batch. Records keep their bytes when their offset
 * deltas already are 0..n−1 (the common case: one copy, after the header); otherwise (a filter
 * dropped records, an array_map gave every output delta 0) they are renumbered so the partition's
 * offsets stay contiguous — keys, values, timestamp deltas and attributes are kept. Headers given
 * by input offset delta follow their record when the output deltas are strictly increasing (the
 * filter/map family); with other outputs they cannot be matched and are dropped.
 * Returns null for an empty list.
 */
export function encodeRawBatch(
  input: RawBatchInput,
  limits: EncodeLimits,
  where: string,
): { value: Uint8Array; count: number; index: RecordIndex } | null {
  const index = indexRecords(input.raw);
  const count = index.count;
  if (count === 0) return null;
  if (!Number.isSafeInteger(input.baseTimestamp))
    throw new InvalidArgumentError(`base timestamp ${input.baseTimestamp} is not an integer (ms)`);
  let contiguous = true;
  let increasing = true;
  let maxDelta = -Infinity;
  for (let i = 0; i < count; i++) {
    const d = index.offsetDelta(i);
    if (d !== i) contiguous = false;
    if (i > 0 && d <= index.offsetDelta(i - 1)) increasing = false;
    const t = index.timestampDelta(i);
    if (t > maxDelta) maxDelta = t;
    const size = index.encodedLength(i);
    if (size > limits.maxRecordBytes) throw new RecordTooLargeError(size, limits.maxRecordBytes, i, where);
  }
  const maxTs = input.baseTimestamp + Math.max(0, maxDelta);
  // Headers re-keyed to the stored offset deltas.
  let hdr: { delta: number; list: readonly RecordHeader[] }[] | null = null;
  if (input.headers?.size && increasing) {
    for (let i = 0; i < count; i++) {
      const list = input.headers.get(index.offsetDelta(i));
      if (list?.length) (hdr ??= []).push({ delta: i, list });
    }
  }
  let hdrSize = 0;
  if (hdr) for (const e of hdr) hdrSize += headerEntrySize(e.list);
  const sectionSize = (hdr ? 4 + hdrSize : 0) + trailerOf(limits);

  let value: Uint8Array;
  let rawLength: number;
  if (contiguous) {
    const raw = input.raw.subarray(index.start, index.end);
    rawLength = raw.length;
    value = Buffer.allocUnsafe(BATCH_HEADER_SIZE + rawLength + sectionSize);
    value.set(raw, BATCH_HEADER_SIZE);
    // A count declared differently (Fluvio reads < 1 as empty) is normalised.
    dv(value).setInt32(BATCH_HEADER_SIZE, count);
  } else {
    // Renumbered: record i keeps its fields and gets offset delta i (a filter's output, mostly).
    rawLength = index.renumberedSize();
    value = Buffer.allocUnsafe(BATCH_HEADER_SIZE + rawLength + sectionSize);
    index.writeRenumbered(value, BATCH_HEADER_SIZE);
  }
  writeHeader(
    value,
    (hdr ? FLAG_HEADERS : 0) | (trailerOf(limits) ? TRAILER_FLAGS : 0),
    count,
    rawLength,
    input.baseTimestamp,
    maxTs,
  );
  if (hdr) {
    const v = dv(value);
    let pos = BATCH_HEADER_SIZE + rawLength;
    v.setInt32(pos, hdr.length);
    pos += 4;
    for (const e of hdr) pos = writeHeaderEntry(value, v, pos, e.delta, e.list);
  }
  return { value, count, index };
}

/**
 * Frames a `Vec<Record>` that scanEncodedBatch accepted (offset deltas 0..n−1, no headers) as a
 * stored batch: the header, the bytes as they are, room for the checksum.
 */
export function frameEncodedBatch(
  raw: Uint8Array,
  count: number,
  baseTimestamp: number,
  maxTimestampDelta: number,
  limits: EncodeLimits,
): Uint8Array {
  const trailer = trailerOf(limits);
  const value = Buffer.allocUnsafe(BATCH_HEADER_SIZE + raw.length + trailer) as Uint8Array;
  value.set(raw, BATCH_HEADER_SIZE);
  writeHeader(value, trailer ? TRAILER_FLAGS : 0, count, raw.length, baseTimestamp, baseTimestamp + maxTimestampDelta);
  return value;
}

/** Encodes a plain record list (offset deltas 0..n−1) as `Vec<Record>`: a producer transform's input. */
export function encodeRecordList(records: readonly ProduceRecord[], baseTimestamp: number, now: number): Uint8Array {
  const n = records.length;
  const keys: (Uint8Array | null)[] = new Array(n);
  const values: Uint8Array[] = new Array(n);
  const deltas = new Float64Array(n);
  const hcount = new Int32Array(n);
  const bodies = new Int32Array(n);
  let size = 4;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    keys[i] = r.key == null ? null : toBytes(r.key, 'key', i);
    values[i] = toBytes(r.value, 'value', i);
    deltas[i] = (r.timestamp ?? now) - baseTimestamp;
    hcount[i] = r.headers ? (normalizeHeaders(r.headers, i)?.length ?? 0) : 0;
    bodies[i] = recordBodySizeFields(keys[i]!, values[i]!, deltas[i]!, i, hcount[i]!);
    size += varintSize(bodies[i]!) + bodies[i]!;
  }
  const buf = Buffer.allocUnsafe(size) as Uint8Array;
  dv(buf).setInt32(0, n);
  let pos = 4;
  for (let i = 0; i < n; i++)
    pos = writeRecordFields(buf, pos, keys[i]!, values[i]!, deltas[i]!, i, hcount[i]!, bodies[i]!);
  return buf;
}

/** Headers of a record list by offset delta (index), for `encodeRawBatch`. */
export function headersByIndex(records: readonly ProduceRecord[]): Map<number, RecordHeader[]> | null {
  let out: Map<number, RecordHeader[]> | null = null;
  for (let i = 0; i < records.length; i++) {
    const h = records[i]!.headers;
    if (h == null) continue;
    const list = normalizeHeaders(h, i);
    if (list) (out ??= new Map()).set(i, list);
  }
  return out;
}

/**
 * Restricts a batch to the records with offsets in [from, to] (a consumer starting inside a batch,
 * or stopping at an end offset / limit). The base offset and timestamp stay, so the kept records'
 * deltas stay valid. Returns the batch itself when nothing is cut.
 */
export function sliceBatch(batch: StoredBatch, from: number, to: number): StoredBatch {
  if (from <= batch.baseOffset && to >= batch.lastOffset) return batch;
  const index = indexRecords(batch.raw);
  let first = -1,
    last = -1,
    size = 4,
    maxDelta = -Infinity;
  for (let i = 0; i < index.count; i++) {
    const off = batch.baseOffset + index.offsetDelta(i);
    if (off < from || off > to) continue;
    if (first < 0) first = i;
    last = i;
    size += index.encodedLength(i);
    const t = index.timestampDelta(i);
    if (t > maxDelta) maxDelta = t;
  }
  const raw = new Uint8Array(size);
  let count = 0;
  let pos = 4;
  if (first >= 0) {
    for (let i = first; i <= last; i++) {
      const off = batch.baseOffset + index.offsetDelta(i);
      if (off < from || off > to) continue;
      const e = index.encoded(i);
      raw.set(e, pos);
      pos += e.length;
      count++;
    }
  }
  dv(raw).setInt32(0, count);
  const lastOffset = last >= 0 ? batch.baseOffset + index.offsetDelta(last) : from - 1;
  return {
    baseOffset: batch.baseOffset,
    lastOffset,
    count,
    baseTimestamp: batch.baseTimestamp,
    maxTimestamp: count ? batch.baseTimestamp + maxDelta : batch.baseTimestamp,
    raw,
    headerSection: batch.headerSection,
    value: batch.value,
  };
}
