import { DecodeError } from '../errors.js';
import { putVarint, readVarint, type VarintResult, varintSize, varintSizeUnchecked } from './varint.js';

/**
 * One record as Fluvio encodes it inside a batch (spec §4.1). Offsets and timestamps are deltas
 * against the enclosing batch's base offset and base timestamp. `headers` is a count only: Fluvio's
 * record encoding has no header payload.
 */
export interface Record {
  key: Uint8Array | null;
  value: Uint8Array;
  offsetDelta: number;
  timestampDelta: number;
  attributes: number;
  headers: number;
}

/** What callers may give when encoding: deltas, attributes and headers default to 0. */
export interface RecordInput {
  key?: Uint8Array | null;
  value: Uint8Array;
  offsetDelta?: number;
  timestampDelta?: number;
  attributes?: number;
  headers?: number;
}

/** Size of the record body (everything after the length varint). */
export function recordBodySize(r: RecordInput): number {
  const key = r.key;
  return (
    1 +
    varintSize(r.timestampDelta ?? 0) +
    varintSize(r.offsetDelta ?? 0) +
    (key ? 1 + varintSize(key.length) + key.length : 1) +
    varintSize(r.value.length) +
    r.value.length +
    varintSize(r.headers ?? 0)
  );
}

/** Full encoded size of one record including its length prefix. */
export function recordSize(r: RecordInput): number {
  const body = recordBodySize(r);
  return varintSize(body) + body;
}

/** Writes one record at `pos` (the caller guarantees room), returns the end position. */
export function writeRecord(buf: Uint8Array, pos: number, r: RecordInput, body = recordBodySize(r)): number {
  return writeRecordFields(
    buf,
    pos,
    r.key ?? null,
    r.value,
    r.timestampDelta ?? 0,
    r.offsetDelta ?? 0,
    r.headers ?? 0,
    body,
    r.attributes ?? 0,
  );
}

/** Body size from fields already validated (integers in the i32 range): no checks, no object. */
export function recordBodySizeFields(
  key: Uint8Array | null,
  value: Uint8Array,
  tsDelta: number,
  offsetDelta: number,
  headers: number,
): number {
  return (
    1 +
    varintSizeUnchecked(tsDelta) +
    varintSizeUnchecked(offsetDelta) +
    (key ? 1 + varintSizeUnchecked(key.length) + key.length : 1) +
    varintSizeUnchecked(value.length) +
    value.length +
    varintSizeUnchecked(headers)
  );
}

/**
 * Writes one record from validated fields (the hot path of storage encoding): `body` is its
 * body size; the caller guarantees room. Returns the end position.
 */
export function writeRecordFields(
  buf: Uint8Array,
  pos: number,
  key: Uint8Array | null,
  value: Uint8Array,
  tsDelta: number,
  offsetDelta: number,
  headers: number,
  body: number,
  attributes = 0,
): number {
  pos = putVarint(buf, pos, body);
  buf[pos++] = attributes & 0xff;
  pos = putVarint(buf, pos, tsDelta);
  pos = putVarint(buf, pos, offsetDelta);
  if (key) {
    buf[pos++] = 1;
    pos = putVarint(buf, pos, key.length);
    buf.set(key, pos);
    pos += key.length;
  } else {
    buf[pos++] = 0;
  }
  pos = putVarint(buf, pos, value.length);
  // Short values: a byte loop beats TypedArray.set's call overhead.
  if (value.length < 64) {
    for (let i = 0; i < value.length; i++) buf[pos + i] = value[i]!;
  } else {
    buf.set(value, pos);
  }
  pos += value.length;
  return putVarint(buf, pos, headers);
}

/** Records a `Vec<Record>` encoding declares (its i32 prefix; < 1 means empty, as Fluvio reads it). */
export function recordListCount(raw: Uint8Array): number {
  if (raw.length < 4) return 0;
  const n = (raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!;
  return Math.max(n, 0);
}

/** Encodes records as a `Vec<Record>`: the `raw_bytes` a SmartModule reads (spec §4.2). */
export function encodeRecords(records: readonly RecordInput[]): Uint8Array {
  const bodies = records.map(recordBodySize);
  let size = 4;
  for (const b of bodies) size += varintSize(b) + b;
  const buf = new Uint8Array(size);
  new DataView(buf.buffer).setInt32(0, records.length);
  let pos = 4;
  for (let i = 0; i < records.length; i++) pos = writeRecord(buf, pos, records[i]!, bodies[i]);
  return buf;
}

// Per-record slots in RecordIndex.pos (Int32Array, stride 6) and .num (Float64Array, stride 3).
const P_START = 0,
  P_END = 1,
  P_KEY = 2,
  P_KEYLEN = 3,
  P_VALUE = 4,
  P_VALUELEN = 5,
  P_STRIDE = 6;
const N_TS = 0,
  N_OFF = 1,
  N_HEADERS = 2,
  N_STRIDE = 3;

/**
 * A decoded `Vec<Record>` that keeps the bytes and records only positions and deltas in two typed
 * arrays: decoding allocates nothing per record. `record(i)` builds an object (views, no copies)
 * for the edges that want one.
 */
export class RecordIndex {
  constructor(
    /** The buffer the positions refer to. */
    readonly bytes: Uint8Array,
    readonly count: number,
    /** Position of the i32 count; `end` is the position after the last record. */
    readonly start: number,
    readonly end: number,
    private readonly pos: Int32Array,
    private readonly num: Float64Array,
  ) {}

  offsetDelta(i: number): number {
    return this.num[i * N_STRIDE + N_OFF]!;
  }
  timestampDelta(i: number): number {
    return this.num[i * N_STRIDE + N_TS]!;
  }
  headers(i: number): number {
    return this.num[i * N_STRIDE + N_HEADERS]!;
  }
  attributes(i: number): number {
    return this.bytes[this.pos[i * P_STRIDE + P_START]! + this.lenPrefix(i)]!;
  }

  key(i: number): Uint8Array | null {
    const at = this.pos[i * P_STRIDE + P_KEY]!;
    return at < 0 ? null : this.bytes.subarray(at, at + this.pos[i * P_STRIDE + P_KEYLEN]!);
  }

  value(i: number): Uint8Array {
    const at = this.pos[i * P_STRIDE + P_VALUE]!;
    return this.bytes.subarray(at, at + this.pos[i * P_STRIDE + P_VALUELEN]!);
  }

  /** The encoded bytes of record i (length prefix included): re-usable as-is in another list. */
  encoded(i: number): Uint8Array {
    return this.bytes.subarray(this.pos[i * P_STRIDE + P_START]!, this.pos[i * P_STRIDE + P_END]!);
  }

  /** Bytes of this list with offset deltas 0..n−1 (count prefix included): what writeRenumbered writes. */
  renumberedSize(): number {
    let size = 4;
    for (let i = 0; i < this.count; i++) {
      const e = this.pos[i * P_STRIDE + P_END]!;
      const bodyAt = this.pos[i * P_STRIDE + P_START]! + this.lenPrefix(i);
      const { offAt, restAt } = this.deltaBounds(bodyAt);
      const body = 1 + (offAt - bodyAt - 1) + varintSizeUnchecked(i) + (e - restAt);
      size += varintSizeUnchecked(body) + body;
    }
    return size;
  }

  /**
   * Writes the list with offset deltas 0..n−1 at `at` (renumberedSize() bytes): each record's
   * fields are copied as they are but for its offset delta, under a length prefix that counts
   * them (a declared length that disagreed, which Fluvio's decoder forgives, is set right).
   * Returns the end. Cheaper than re-encoding each record from its fields (no object, no view).
   */
  writeRenumbered(out: Uint8Array, at: number): number {
    const b = this.bytes;
    out[at] = this.count >>> 24;
    out[at + 1] = (this.count >>> 16) & 0xff;
    out[at + 2] = (this.count >>> 8) & 0xff;
    out[at + 3] = this.count & 0xff;
    let w = at + 4;
    for (let i = 0; i < this.count; i++) {
      const s = this.pos[i * P_STRIDE + P_START]!;
      const e = this.pos[i * P_STRIDE + P_END]!;
      const bodyAt = s + this.lenPrefix(i);
      const { offAt, restAt } = this.deltaBounds(bodyAt);
      const body = 1 + (offAt - bodyAt - 1) + varintSizeUnchecked(i) + (e - restAt);
      w = putVarint(out, w, body);
      // The attributes byte and the timestamp delta: a few bytes, copied without a view.
      for (let k = bodyAt; k < offAt; k++) out[w++] = b[k]!;
      w = putVarint(out, w, i);
      out.set(b.subarray(restAt, e), w);
      w += e - restAt;
    }
    return w;
  }

  /** Where a record's offset delta starts and ends: after the attributes byte and the timestamp delta. */
  private deltaBounds(bodyAt: number): { offAt: number; restAt: number } {
    const b = this.bytes;
    let offAt = bodyAt + 1;
    while (b[offAt++]! >= 0x80);
    let restAt = offAt;
    while (b[restAt++]! >= 0x80);
    return { offAt, restAt };
  }

  /** Byte length of `encoded(i)` without creating a view. */
  encodedLength(i: number): number {
    return this.pos[i * P_STRIDE + P_END]! - this.pos[i * P_STRIDE + P_START]!;
  }

  /** Value byte length without creating a view. */
  valueLength(i: number): number {
    return this.pos[i * P_STRIDE + P_VALUELEN]!;
  }

  record(i: number): Record {
    return {
      key: this.key(i),
      value: this.value(i),
      offsetDelta: this.offsetDelta(i),
      timestampDelta: this.timestampDelta(i),
      attributes: this.attributes(i),
      headers: this.headers(i),
    };
  }

  toArray(): Record[] {
    const out: Record[] = new Array(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.record(i);
    return out;
  }

  *[Symbol.iterator](): IterableIterator<Record> {
    for (let i = 0; i < this.count; i++) yield this.record(i);
  }

  private lenPrefix(i: number): number {
    let p = this.pos[i * P_STRIDE + P_START]!;
    const s = p;
    while (this.bytes[p++]! >= 0x80);
    return p - s;
  }
}

const vr: VarintResult = { value: 0, end: 0 };

function readCount(bytes: Uint8Array, start: number): number {
  if (start + 4 > bytes.length) throw new DecodeError('record list: missing i32 count', start);
  const declared = (bytes[start]! << 24) | (bytes[start + 1]! << 16) | (bytes[start + 2]! << 8) | bytes[start + 3]!;
  const count = declared < 1 ? 0 : declared;
  // A record takes at least 7 bytes: a corrupt count must not make us allocate gigabytes.
  if (count > (bytes.length - start - 4) / 7 + 1) {
    throw new DecodeError(`record list: count ${count} cannot fit in ${bytes.length - start - 4} bytes`, start);
  }
  return count;
}

/**
 * Walks `count` records from `p` the way Fluvio's decoder does (spec §3, §4.1): check that `len`
 * bytes remain, then read the fields in order (the next record starts where the fields end); a
 * value longer than the buffer is truncated; a negative length is an error. When `pos`/`num` are
 * given, positions and deltas are stored in them. Returns the end position.
 */
function walkRecords(
  bytes: Uint8Array,
  p: number,
  count: number,
  pos: Int32Array | null,
  num: Float64Array | null,
): number {
  const n = bytes.length;
  for (let i = 0; i < count; i++) {
    const recStart = p;
    readVarint(bytes, p, vr);
    const len = vr.value;
    p = vr.end;
    if (len < 0 || p + len > n) throw new DecodeError(`record ${i}: length ${len} but ${n - p} bytes remain`, recStart);
    if (p >= n) throw new DecodeError(`record ${i}: missing attributes`, p);
    p++; // attributes (i8)
    readVarint(bytes, p, vr);
    const ts = vr.value;
    readVarint(bytes, vr.end, vr);
    const off = vr.value;
    p = vr.end;
    const keyFlag = bytes[p++];
    let keyAt = -1,
      keyLen = 0;
    if (keyFlag === 1) {
      readVarint(bytes, p, vr);
      keyAt = vr.end;
      keyLen = dataLength(bytes, vr.end, vr.value, i, 'key');
      p = keyAt + keyLen;
    } else if (keyFlag !== 0) {
      throw new DecodeError(`record ${i}: key option byte must be 0 or 1, got ${keyFlag}`, p - 1);
    }
    readVarint(bytes, p, vr);
    const valueAt = vr.end;
    const valueLen = dataLength(bytes, vr.end, vr.value, i, 'value');
    readVarint(bytes, valueAt + valueLen, vr);
    p = vr.end;
    if (pos !== null && num !== null) {
      const o = i * P_STRIDE;
      pos[o + P_START] = recStart;
      pos[o + P_END] = p;
      pos[o + P_KEY] = keyAt;
      pos[o + P_KEYLEN] = keyLen;
      pos[o + P_VALUE] = valueAt;
      pos[o + P_VALUELEN] = valueLen;
      const q = i * N_STRIDE;
      num[q + N_TS] = ts;
      num[q + N_OFF] = off;
      num[q + N_HEADERS] = vr.value;
    }
  }
  return p;
}

function dataLength(bytes: Uint8Array, at: number, len: number, i: number, what: string): number {
  if (len < 0) throw new DecodeError(`record ${i} ${what}: negative length ${len}`, at);
  return Math.min(len, bytes.length - at);
}

/** Indexes a `Vec<Record>` at `start` (count read as i32; < 1 means empty, as Fluvio does). */
export function indexRecords(bytes: Uint8Array, start = 0): RecordIndex {
  const count = readCount(bytes, start);
  const pos = new Int32Array(count * P_STRIDE);
  const num = new Float64Array(count * N_STRIDE);
  const end = walkRecords(bytes, start + 4, count, pos, num);
  return new RecordIndex(bytes, count, start, end, pos, num);
}

/** Decodes a `Vec<Record>` into objects (views into `bytes`). */
export function decodeRecords(bytes: Uint8Array, start = 0): Record[] {
  return indexRecords(bytes, start).toArray();
}

/**
 * Finds where a `Vec<Record>` ends by hopping over each record's length prefix: the cheapest way
 * to split a module's output into its record list and what follows (error, accumulator). Every
 * encoder (Fluvio's and Eddy's) writes exact lengths, so this lands where Fluvio's field-by-field
 * decoder does; `exact` walks the fields the way Fluvio does, for callers that suspect sloppy lengths.
 */
export function skipRecords(bytes: Uint8Array, start: number, exact = false): { count: number; end: number } {
  const count = readCount(bytes, start);
  if (exact) return { count, end: walkRecords(bytes, start + 4, count, null, null) };
  let p = start + 4;
  const n = bytes.length;
  for (let i = 0; i < count; i++) {
    let b = bytes[p++]!;
    let u = b & 0x7f;
    let scale = 128;
    while (b >= 0x80) {
      b = bytes[p++]!;
      u += (b & 0x7f) * scale;
      scale *= 128;
    }
    if (p > n || u % 2 === 1) throw new DecodeError(`record ${i}: bad length prefix`, p);
    p += u / 2;
    if (p > n) throw new DecodeError(`record ${i}: length ${u / 2} runs past the end`, p);
  }
  return { count, end: p };
}
