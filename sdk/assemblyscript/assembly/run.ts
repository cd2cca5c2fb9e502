// The generated-glue equivalents: one `runX` per SmartModule kind. Each takes the export's three
// arguments and the user function, decodes the input at the given version, calls the user function
// per record, writes SmartModuleOutput into one growing buffer, announces it with copy_records,
// frees the input buffer (the guest owns it, spec §2.1) and returns the count of successes or a
// negative status (spec §2.2, §5.10).

import {
  Status, Kind, announce, writerInit, ensure, putVarint, varintSize, writeU8, writeI32, writeI64,
  writeRecordData, writeString, patchI32, wbuf, wpos, setWpos, writtenLength, writeBytes,
} from "./abi";
import {
  Record, Params, decodeBaseInput, decodeRecords, decodeInitInput, isLegacy, recordCount, rawLen,
  accPtr, accLen, baseOffset, rowPtr, rowKeyPtr, rowKeyLen, rowValPtr, rowValLen, rowTs, rowOff,
  rowHeaders, rowAttr,
} from "./record";
import { Bytes } from "./bytes";
import { JsonWriter } from "./jsonwrite";
import { recycleJsonViews } from "./ondemand";
import { pendingError, clearError, takeError } from "./error";

// @ts-ignore: decorator
@lazy const record = new Record();

// ---------------------------------------------------------------------------------------------
// Output record encoding (spec §4.1).

/**
 * Writes one record. Key: `keyLen < 0` means no key. All sources must be outside the output
 * buffer (or the caller must not grow it in between).
 */
function writeRecord(
  attr: i32, ts: i64, off: i64, keyPtr: usize, keyLen: i32, valPtr: usize, valLen: i32, headers: i64,
): void {
  let body: usize = 1 + varintSize(ts) + varintSize(off)
    + (keyLen < 0 ? 1 : 1 + varintSize(<i64>keyLen) + <usize>keyLen)
    + varintSize(<i64>valLen) + <usize>valLen + varintSize(headers);
  ensure(body + 5);
  putVarint(<i64>body);
  let p = wpos;
  store<u8>(p, <u8>attr);
  setWpos(p + 1);
  putVarint(ts);
  putVarint(off);
  if (keyLen < 0) {
    store<u8>(wpos, 0);
    setWpos(wpos + 1);
  } else {
    store<u8>(wpos, 1);
    setWpos(wpos + 1);
    putVarint(<i64>keyLen);
    memory.copy(wpos, keyPtr, <usize>keyLen);
    setWpos(wpos + <usize>keyLen);
  }
  putVarint(<i64>valLen);
  memory.copy(wpos, valPtr, <usize>valLen);
  setWpos(wpos + <usize>valLen);
  putVarint(headers);
}

/** Writes scratch row `i` unchanged (filter). */
// @ts-ignore: decorator
@inline function writeRow(i: i32): void {
  let row = rowPtr(i);
  writeRecord(rowAttr(row), rowTs(row), rowOff(row), rowKeyPtr(row), rowKeyLen(row), rowValPtr(row), rowValLen(row), rowHeaders(row));
}

/** `Option<SmartModuleTransformRuntimeError>` = Some (spec §5.8) for scratch row `i`. */
function writeRuntimeError(hint: string, i: i32, kind: u8): void {
  let row = rowPtr(i);
  writeU8(1);
  writeString(hint);
  writeI64(baseOffset + rowOff(row));
  writeU8(kind);
  let kl = rowKeyLen(row);
  if (kl < 0) {
    writeU8(0);
  } else {
    writeU8(1);
    writeRecordData(rowKeyPtr(row), kl);
  }
  writeRecordData(rowValPtr(row), rowValLen(row));
}

function badInputStatus(aggregate: bool, recordsStage: bool): i32 {
  if (!recordsStage) return Status.DECODING_BASE_INPUT;
  // Current glue: -11 for undecodable records except aggregate (-22); pre-July-2023 glue: -22.
  return aggregate || isLegacy() ? Status.DECODING_RECORDS : Status.DECODING_BASE_INPUT;
}

/** Decodes the input; returns the record count or a negative status. */
function begin(ptr: i32, len: i32, version: i32, aggregate: bool): i32 {
  clearError();
  if (!decodeBaseInput(<usize>ptr, <usize>len, <u32>version, aggregate)) return badInputStatus(aggregate, false);
  if (!decodeRecords()) return badInputStatus(aggregate, true);
  return recordCount;
}

/** Finishes a transform call: patches the count, announces, frees the input. */
function finish(ptr: i32, count: i32): i32 {
  patchI32(0, count);
  announce(wbuf, writtenLength());
  heap.free(<usize>ptr);
  return count;
}

function abandon(ptr: i32, status: i32): i32 {
  heap.free(<usize>ptr);
  clearError();
  return status;
}

// ---------------------------------------------------------------------------------------------
// Output builder for map / filter_map / array_map / aggregate.

// @ts-ignore: decorator
@inline const SRC_UNSET: i32 = 0;
// @ts-ignore: decorator
@inline const SRC_BYTES: i32 = 1;
// @ts-ignore: decorator
@inline const SRC_STRING: i32 = 2;
// @ts-ignore: decorator
@inline const SRC_NONE: i32 = 3;

/**
 * What a user function produces for one record: a key and a value, each from a string (written as
 * UTF-8), a `Bytes` view, a `Uint8Array` or an `ArrayBuffer`. Unset parts keep the input record's.
 */
export class Out {
  kKind: i32 = SRC_UNSET;
  kPtr: usize = 0;
  kLen: i32 = 0;
  kRef: Object | null = null;
  vKind: i32 = SRC_UNSET;
  vPtr: usize = 0;
  vLen: i32 = 0;
  vRef: Object | null = null;

  reset(): void {
    this.kKind = SRC_UNSET;
    this.kRef = null;
    this.vKind = SRC_UNSET;
    this.vRef = null;
  }

  /** Sets the output value (string → UTF-8; Bytes / Uint8Array / ArrayBuffer → bytes). */
  value<T>(v: T): Out {
    if (isString<T>()) {
      this.vKind = SRC_STRING;
      this.vRef = changetype<Object>(v);
    } else if (v instanceof Bytes) {
      this.vKind = SRC_BYTES;
      this.vPtr = v.ptr;
      this.vLen = v.length;
      this.vRef = null;
    } else if (v instanceof JsonWriter) {
      this.vKind = SRC_BYTES;
      this.vPtr = v.ptr;
      this.vLen = v.length;
      this.vRef = changetype<Object>(v);
    } else if (v instanceof Uint8Array) {
      this.vKind = SRC_BYTES;
      this.vPtr = v.dataStart;
      this.vLen = v.byteLength;
      this.vRef = changetype<Object>(v);
    } else if (v instanceof ArrayBuffer) {
      this.vKind = SRC_BYTES;
      this.vPtr = changetype<usize>(v);
      this.vLen = v.byteLength;
      this.vRef = changetype<Object>(v);
    } else {
      ERROR("Out.value accepts string, Bytes, JsonWriter, Uint8Array or ArrayBuffer");
    }
    return this;
  }

  /** Sets the output key; `null` removes it (as returning `None` for the key in Rust). */
  key<T>(k: T): Out {
    if (isNullable<T>()) {
      if (changetype<usize>(k) == 0) { this.kKind = SRC_NONE; this.kRef = null; return this; }
    }
    if (isString<T>()) {
      this.kKind = SRC_STRING;
      this.kRef = changetype<Object>(k);
    } else if (k instanceof Bytes) {
      this.kKind = SRC_BYTES;
      this.kPtr = k.ptr;
      this.kLen = k.length;
      this.kRef = null;
    } else if (k instanceof Uint8Array) {
      this.kKind = SRC_BYTES;
      this.kPtr = k.dataStart;
      this.kLen = k.byteLength;
      this.kRef = changetype<Object>(k);
    } else if (k instanceof ArrayBuffer) {
      this.kKind = SRC_BYTES;
      this.kPtr = changetype<usize>(k);
      this.kLen = k.byteLength;
      this.kRef = changetype<Object>(k);
    } else {
      ERROR("Out.key accepts string, Bytes, Uint8Array, ArrayBuffer or null");
    }
    return this;
  }

  /** Removes the key. */
  noKey(): Out {
    this.kKind = SRC_NONE;
    this.kRef = null;
    return this;
  }

  /** Keeps the input record's key (the default). */
  keepKey(): Out {
    this.kKind = SRC_UNSET;
    this.kRef = null;
    return this;
  }

  /** Resolves the key to (ptr, len) given the input's; len -1 = no key. Strings become a temp buffer. */
  resolveKey(inPtr: usize, inLen: i32): void {
    if (this.kKind == SRC_UNSET) { this.kPtr = inPtr; this.kLen = inLen; }
    else if (this.kKind == SRC_NONE) { this.kPtr = 0; this.kLen = -1; }
    else if (this.kKind == SRC_STRING) {
      let buf = String.UTF8.encode(changetype<string>(this.kRef), false, String.UTF8.ErrorMode.REPLACE);
      this.kRef = buf;
      this.kPtr = changetype<usize>(buf);
      this.kLen = buf.byteLength;
    }
  }

  resolveValue(inPtr: usize, inLen: i32): void {
    if (this.vKind == SRC_UNSET || this.vKind == SRC_NONE) { this.vPtr = inPtr; this.vLen = inLen; }
    else if (this.vKind == SRC_STRING) {
      let buf = String.UTF8.encode(changetype<string>(this.vRef), false, String.UTF8.ErrorMode.REPLACE);
      this.vRef = buf;
      this.vPtr = changetype<usize>(buf);
      this.vLen = buf.byteLength;
    }
  }
}

// @ts-ignore: decorator
@lazy const out = new Out();

/** Writes scratch row `i` with key/value from `out` (map, filter_map, aggregate). */
function writeRowWith(i: i32, o: Out): void {
  let row = rowPtr(i);
  o.resolveKey(rowKeyPtr(row), rowKeyLen(row));
  o.resolveValue(rowValPtr(row), rowValLen(row));
  writeRecord(rowAttr(row), rowTs(row), rowOff(row), o.kPtr, o.kLen, o.vPtr, o.vLen, rowHeaders(row));
  o.kRef = null;
  o.vRef = null;
}

// ---------------------------------------------------------------------------------------------
// The kinds.

/**
 * filter: keep the records for which `fn` returns true (spec §6.1).
 *
 *     export function filter(ptr: i32, len: i32, version: i32): i32 {
 *       return runFilter(ptr, len, version, (r: Record): bool => r.value.includes("a"));
 *     }
 */
export function runFilter(ptr: i32, len: i32, version: i32, fn: (r: Record) => bool): i32 {
  let n = begin(ptr, len, version, false);
  if (n < 0) return abandon(ptr, n);
  writerInit(<usize>rawLen + 16);
  setWpos(wpos + 4); // count, patched in finish()
  let r = record;
  let kept = 0;
  for (let i = 0; i < n; i++) {
    r.load(i);
    recycleJsonViews();
    let keep = fn(r);
    if (pendingError !== null) {
      writeRuntimeError(takeError(), i, Kind.FILTER);
      return finish(ptr, kept);
    }
    if (keep) { writeRow(i); kept++; }
  }
  writeU8(0);
  return finish(ptr, kept);
}

/**
 * map: `fn` sets the output value (and optionally the key; `out.key(null)` removes it) for each
 * record; unset parts keep the input's; deltas are kept (spec §6.2).
 */
export function runMap(ptr: i32, len: i32, version: i32, fn: (r: Record, out: Out) => void): i32 {
  let n = begin(ptr, len, version, false);
  if (n < 0) return abandon(ptr, n);
  writerInit(<usize>rawLen + 16);
  setWpos(wpos + 4);
  let r = record;
  let o = out;
  let count = 0;
  for (let i = 0; i < n; i++) {
    r.load(i);
    o.reset();
    recycleJsonViews();
    fn(r, o);
    if (pendingError !== null) {
      o.reset();
      writeRuntimeError(takeError(), i, Kind.MAP);
      return finish(ptr, count);
    }
    writeRowWith(i, o);
    count++;
  }
  writeU8(0);
  return finish(ptr, count);
}

/** filter_map: like map, but `fn` returns false to drop the record (spec §6.3). */
export function runFilterMap(ptr: i32, len: i32, version: i32, fn: (r: Record, out: Out) => bool): i32 {
  let n = begin(ptr, len, version, false);
  if (n < 0) return abandon(ptr, n);
  writerInit(<usize>rawLen + 16);
  setWpos(wpos + 4);
  let r = record;
  let o = out;
  let count = 0;
  for (let i = 0; i < n; i++) {
    r.load(i);
    o.reset();
    recycleJsonViews();
    let keep = fn(r, o);
    if (pendingError !== null) {
      o.reset();
      writeRuntimeError(takeError(), i, Kind.FILTER_MAP);
      return finish(ptr, count);
    }
    if (keep) { writeRowWith(i, o); count++; }
    else o.reset();
  }
  writeU8(0);
  return finish(ptr, count);
}

/** The output list of array_map: each `push` adds a NEW record (attributes 0, deltas 0, spec §6.4). */
export class ArrayOut {
  count: i32 = 0;

  /** Adds a record with this value and no key. */
  push<V>(value: V): void {
    let o = out;
    o.reset();
    o.value<V>(value);
    o.noKey();
    this.emit(o);
  }

  /** Adds a record with this key (null for none) and value. */
  pushWithKey<K, V>(key: K, value: V): void {
    let o = out;
    o.reset();
    o.key<K>(key);
    o.value<V>(value);
    this.emit(o);
  }

  private emit(o: Out): void {
    o.resolveKey(0, -1);
    o.resolveValue(0, 0);
    writeRecord(0, 0, 0, o.kPtr, o.kLen, o.vPtr, o.vLen, 0);
    o.reset();
    this.count++;
  }
}

// @ts-ignore: decorator
@lazy const arrayOut = new ArrayOut();

/** array_map: `fn` pushes any number of new records per input record (spec §6.4). */
export function runArrayMap(ptr: i32, len: i32, version: i32, fn: (r: Record, out: ArrayOut) => void): i32 {
  let n = begin(ptr, len, version, false);
  if (n < 0) return abandon(ptr, n);
  writerInit(<usize>rawLen + 16);
  setWpos(wpos + 4);
  let r = record;
  let a = arrayOut;
  a.count = 0;
  for (let i = 0; i < n; i++) {
    r.load(i);
    let mark = writtenLength();
    let before = a.count;
    recycleJsonViews();
    fn(r, a);
    if (pendingError !== null) {
      // The failing record's outputs are not part of the successes (Rust returns Err instead of the Vec).
      setWpos(wbuf + mark);
      a.count = before;
      writeRuntimeError(takeError(), i, Kind.ARRAY_MAP);
      return finish(ptr, a.count);
    }
  }
  writeU8(0);
  return finish(ptr, a.count);
}

// Aggregate accumulator storage: its own buffer so that a view of it stays valid while the output
// buffer grows.
let accBuf: usize = 0;
let accCap: usize = 0;
let accSize: i32 = 0;
// @ts-ignore: decorator
@lazy const accView = new Bytes();

function setAcc(ptr: usize, len: i32): void {
  if (<usize>len > accCap) {
    let cap = max<usize>(<usize>len, accCap << 1);
    if (cap < 64) cap = 64;
    let nb = heap.alloc(cap);
    if (accBuf != 0) heap.free(accBuf);
    accBuf = nb;
    accCap = cap;
  }
  memory.copy(accBuf, ptr, <usize>len);
  accSize = len;
}

/**
 * aggregate: `fn(acc, record, out)` sets `out.value(newAccumulator)`; each input record yields an
 * output record with value = new accumulator (key and deltas kept); the final accumulator is
 * returned to the host (spec §6.5). Leaving the value unset keeps the accumulator unchanged.
 */
export function runAggregate(ptr: i32, len: i32, version: i32, fn: (acc: Bytes, r: Record, out: Out) => void): i32 {
  let n = begin(ptr, len, version, true);
  if (n < 0) return abandon(ptr, n);
  setAcc(accPtr, accLen);
  writerInit(<usize>rawLen + 16 + (<usize>accLen << 1));
  setWpos(wpos + 4);
  let r = record;
  let o = out;
  let acc = accView;
  let count = 0;
  let failedAt = -1;
  let hint = "";
  for (let i = 0; i < n; i++) {
    r.load(i);
    acc.ptr = accBuf;
    acc.length = accSize;
    o.reset();
    o.kKind = SRC_UNSET;
    recycleJsonViews();
    fn(acc, r, o);
    if (pendingError !== null) {
      o.reset();
      failedAt = i;
      hint = takeError();
      break;
    }
    o.kKind = SRC_UNSET; // the key of an aggregate output is the input's
    let row = rowPtr(i);
    o.resolveKey(rowKeyPtr(row), rowKeyLen(row));
    o.resolveValue(accBuf, accSize);
    let vLen = o.vLen;
    writeRecord(rowAttr(row), rowTs(row), rowOff(row), o.kPtr, o.kLen, o.vPtr, vLen, rowHeaders(row));
    // The value just written (the new accumulator) sits right before the trailing headers varint.
    let valueAt = wpos - varintSize(rowHeaders(row)) - <usize>vLen;
    setAcc(valueAt, vLen);
    o.kRef = null;
    o.vRef = null;
    count++;
  }
  if (failedAt >= 0) writeRuntimeError(hint, failedAt, Kind.AGGREGATE);
  else writeU8(0);
  if (<u32>version >= 16) {
    writeI32(accSize);
    writeBytes(accBuf, <usize>accSize);
  }
  return finish(ptr, count);
}

// ---------------------------------------------------------------------------------------------
// init and look_back.

/**
 * init: `fn` reads the parameters (spec §6.6). A reported error (e.g. `params.require("key")`)
 * returns -2 with a SmartModuleInitOutput hint.
 */
export function runInit(ptr: i32, len: i32, version: i32, fn: (params: Params) => void): i32 {
  clearError();
  let p = decodeInitInput(<usize>ptr, <usize>len, <u32>version);
  heap.free(<usize>ptr);
  if (p === null) return Status.INIT_DECODING_INPUT;
  fn(p);
  if (pendingError !== null) {
    writerInit(64);
    writeString(takeError());
    announce(wbuf, writtenLength());
    return Status.INIT_ERROR;
  }
  return 0;
}

/**
 * look_back: `fn` sees the history records, oldest first (spec §6.7). A reported error returns -99
 * with a SmartModuleLookbackOutput.
 */
export function runLookBack(ptr: i32, len: i32, version: i32, fn: (r: Record) => void): i32 {
  clearError();
  if (!decodeBaseInput(<usize>ptr, <usize>len, <u32>version, false) || !decodeRecords()) {
    heap.free(<usize>ptr);
    return Status.LOOKBACK_DECODING_BASE_INPUT;
  }
  let n = recordCount;
  let r = record;
  for (let i = 0; i < n; i++) {
    r.load(i);
    recycleJsonViews();
    fn(r);
    if (pendingError !== null) {
      let row = rowPtr(i);
      writerInit(64 + <usize>rowValLen(row));
      writeString(takeError());
      writeI64(baseOffset + rowOff(row));
      let kl = rowKeyLen(row);
      if (kl < 0) writeU8(0);
      else { writeU8(1); writeRecordData(rowKeyPtr(row), kl); }
      writeRecordData(rowValPtr(row), rowValLen(row));
      announce(wbuf, writtenLength());
      heap.free(<usize>ptr);
      return Status.LOOKBACK_ERROR;
    }
  }
  heap.free(<usize>ptr);
  return 0;
}
