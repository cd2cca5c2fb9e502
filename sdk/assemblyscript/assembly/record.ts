// Input decoding (spec §4, §5.3, §5.4, §5.11) and the Record a user function sees.
//
// The record list is validated in one pass that stores each record's field positions in a scratch
// table (raw memory, reused across calls); the user function then runs over that table. So a
// malformed record anywhere in the batch yields the status code before any user code runs, as
// with Rust's glue (which decodes the whole Vec<Record> first), and record bytes are never copied.

import {
  readerInit, readI64, readI32, readU8, readU16, readBool, readVarint, readVec, readString,
  readRecordData, rfail, rpos, rend, vecPtr, vecLen, utf8Valid, utf8ErrorMessage,
} from "./abi";
import { Bytes } from "./bytes";
import { fail } from "./error";

// Scratch table layout, one row per record.
// @ts-ignore: decorator
@inline export const ROW: usize = 48;
// @ts-ignore: decorator
@inline const KEY_PTR: usize = 0;   // u32
// @ts-ignore: decorator
@inline const KEY_LEN: usize = 4;   // i32, -1 = no key
// @ts-ignore: decorator
@inline const VAL_PTR: usize = 8;   // u32
// @ts-ignore: decorator
@inline const VAL_LEN: usize = 12;  // i32
// @ts-ignore: decorator
@inline const TS: usize = 16;       // i64
// @ts-ignore: decorator
@inline const OFF: usize = 24;      // i64
// @ts-ignore: decorator
@inline const HEADERS: usize = 32;  // i64
// @ts-ignore: decorator
@inline const ATTR: usize = 40;     // i32

let scratch: usize = 0;
let scratchCap: usize = 0; // rows

function ensureRows(n: usize): void {
  if (n <= scratchCap) return;
  let cap = scratchCap < 64 ? <usize>64 : scratchCap;
  while (cap < n) cap <<= 1;
  scratch = scratch == 0 ? heap.alloc(cap * ROW) : heap.realloc(scratch, cap * ROW);
  scratchCap = cap;
}

/** Base offset of the batch being processed. */
export let baseOffset: i64 = 0;
/** Base timestamp (ms) of the batch being processed (0 below v22 and for look_back). */
export let baseTimestamp: i64 = 0;
/** Number of records in the batch. */
export let recordCount: i32 = 0;
/** raw_bytes of the input. */
export let rawPtr: usize = 0;
export let rawLen: i32 = 0;
/** Aggregate accumulator in the input. */
export let accPtr: usize = 0;
export let accLen: i32 = 0;

let legacy: bool = false;

/**
 * Makes this module decode its input exactly like a fluvio-smartmodule crate from before June
 * 2023 (spec §5.11): `base_offset | raw_bytes | params map | join_record (v >= 16)`, ignoring the
 * rest, and reporting undecodable records as -22. Only useful to reproduce old modules in tests.
 */
export function useLegacyInputDecoder(): void {
  legacy = true;
}

/** Skips `SmartModuleExtraParams` (map + lookback option by version). */
function skipExtraParams(version: u32, withLookback: bool): void {
  let n = readU16();
  for (let i: u32 = 0; i < n && !rfail; i++) { readString(); readString(); }
  if (withLookback && version >= 20 && !rfail) {
    if (readBool()) {
      readI64();
      if (version >= 21 && readBool()) { readI64(); readI32(); }
    }
  }
}

/**
 * Decodes `SmartModuleInput` (plus the accumulator when `aggregate`) at `version`. Returns false
 * when the base input is undecodable.
 */
export function decodeBaseInput(ptr: usize, len: usize, version: u32, aggregate: bool): bool {
  readerInit(ptr, len);
  baseOffset = readI64();
  readVec();
  rawPtr = vecPtr;
  rawLen = vecLen;
  if (legacy) {
    skipExtraParams(version, false);
    if (version >= 16) readVec();
    baseTimestamp = 0;
  } else {
    if (version <= 22) skipExtraParams(version, true);
    if (version >= 16 && version <= 22) readVec();
    baseTimestamp = version >= 22 ? readI64() : 0;
  }
  accPtr = 0;
  accLen = 0;
  if (aggregate) {
    readVec();
    accPtr = vecPtr;
    accLen = vecLen;
  }
  return !rfail;
}

/** True when the crate-era decoder in use reports bad records as -22 (legacy) rather than -11. */
export function isLegacy(): bool {
  return legacy;
}

/** Decodes raw_bytes as `Vec<Record>` into the scratch table. Returns false when undecodable. */
export function decodeRecords(): bool {
  readerInit(rawPtr, <usize>rawLen);
  let n = readI32();
  recordCount = 0;
  if (rfail) return false;
  if (n < 1) return true;
  for (let i = 0; i < n; i++) {
    ensureRows(<usize>i + 1);
    let row = scratch + <usize>i * ROW;
    let len = readVarint();
    if (rfail || len < 0 || <u64>len > <u64>(rend - rpos)) return false;
    store<i32>(row, <i32><i8>readU8(), ATTR);
    store<i64>(row, readVarint(), TS);
    store<i64>(row, readVarint(), OFF);
    let k = readU8();
    if (k == 1) {
      readRecordData();
      store<u32>(row, <u32>vecPtr, KEY_PTR);
      store<i32>(row, vecLen, KEY_LEN);
    } else if (k == 0) {
      store<u32>(row, 0, KEY_PTR);
      store<i32>(row, -1, KEY_LEN);
    } else {
      return false;
    }
    readRecordData();
    store<u32>(row, <u32>vecPtr, VAL_PTR);
    store<i32>(row, vecLen, VAL_LEN);
    store<i64>(row, readVarint(), HEADERS);
    if (rfail) return false;
  }
  recordCount = n;
  return true;
}

/**
 * One input record, like Rust's `SmartModuleRecord`. The SDK reuses one instance (and its views)
 * for the whole batch: read what you need during the call, do not keep it.
 */
export class Record {
  /** Position in the batch. */
  index: i32 = 0;
  /** The value bytes (a view into the input). */
  readonly value: Bytes = new Bytes();
  private readonly _key: Bytes = new Bytes();
  hasKey: bool = false;
  offsetDelta: i64 = 0;
  timestampDelta: i64 = 0;
  attributes: i8 = 0;
  headers: i64 = 0;

  /** The key bytes, or null when the record has no key. */
  get key(): Bytes | null {
    return this.hasKey ? this._key : null;
  }

  /** `base_offset + offset_delta` */
  get offset(): i64 {
    return baseOffset + this.offsetDelta;
  }

  /** `base_timestamp + timestamp_delta` (ms). */
  get timestamp(): i64 {
    return baseTimestamp + this.timestampDelta;
  }

  /** The value as a string, strict like `std::str::from_utf8(..)?`: invalid UTF-8 reports the Rust error. */
  valueString(): string {
    return this.value.toString();
  }

  /** The value as a string with U+FFFD for invalid sequences (`String::from_utf8_lossy`). */
  valueStringLossy(): string {
    return this.value.toStringLossy();
  }

  /** The key as a string (strict), or null without a key. */
  keyString(): string | null {
    return this.hasKey ? this._key.toString() : null;
  }

  /** Copies of the bytes, for code that wants arrays. */
  valueBytes(): Uint8Array {
    return this.value.toUint8Array();
  }

  keyBytes(): Uint8Array | null {
    return this.hasKey ? this._key.toUint8Array() : null;
  }

  /** Loads row `i` of the scratch table (internal). */
  load(i: i32): void {
    let row = scratch + <usize>i * ROW;
    this.index = i;
    let kl = load<i32>(row, KEY_LEN);
    this.hasKey = kl >= 0;
    this._key.ptr = <usize>load<u32>(row, KEY_PTR);
    this._key.length = kl < 0 ? 0 : kl;
    this.value.ptr = <usize>load<u32>(row, VAL_PTR);
    this.value.length = load<i32>(row, VAL_LEN);
    this.timestampDelta = load<i64>(row, TS);
    this.offsetDelta = load<i64>(row, OFF);
    this.headers = load<i64>(row, HEADERS);
    this.attributes = <i8>load<i32>(row, ATTR);
  }
}

// Row accessors for the output writer.
// @ts-ignore: decorator
@inline export function rowPtr(i: i32): usize { return scratch + <usize>i * ROW; }
// @ts-ignore: decorator
@inline export function rowKeyPtr(row: usize): usize { return <usize>load<u32>(row, KEY_PTR); }
// @ts-ignore: decorator
@inline export function rowKeyLen(row: usize): i32 { return load<i32>(row, KEY_LEN); }
// @ts-ignore: decorator
@inline export function rowValPtr(row: usize): usize { return <usize>load<u32>(row, VAL_PTR); }
// @ts-ignore: decorator
@inline export function rowValLen(row: usize): i32 { return load<i32>(row, VAL_LEN); }
// @ts-ignore: decorator
@inline export function rowTs(row: usize): i64 { return load<i64>(row, TS); }
// @ts-ignore: decorator
@inline export function rowOff(row: usize): i64 { return load<i64>(row, OFF); }
// @ts-ignore: decorator
@inline export function rowHeaders(row: usize): i64 { return load<i64>(row, HEADERS); }
// @ts-ignore: decorator
@inline export function rowAttr(row: usize): i32 { return load<i32>(row, ATTR); }

// ---------------------------------------------------------------------------------------------
// Parameters (SmartModuleExtraParams, spec §5.1) as `init` receives them.

/** Look-back settings the host passed to `init` (Fluvio's cluster path does; `smdk test` does not). */
export class Lookback {
  constructor(public last: u64, public hasAge: bool, public ageSeconds: u64, public ageNanos: u32) {}
  /** Age in milliseconds (0 when none). */
  get ageMs(): f64 {
    return this.hasAge ? <f64>this.ageSeconds * 1000 + <f64>this.ageNanos / 1e6 : 0;
  }
}

export class Params {
  keys: string[] = [];
  values: string[] = [];
  lookback: Lookback | null = null;

  get size(): i32 { return this.keys.length; }

  has(key: string): bool {
    return this.keys.indexOf(key) >= 0;
  }

  /** The value, or null when absent. */
  get(key: string): string | null {
    let i = this.keys.indexOf(key);
    return i < 0 ? null : this.values[i];
  }

  /** The value, or `fallback` when absent. */
  getString(key: string, fallback: string = ""): string {
    let v = this.get(key);
    return v === null ? fallback : v;
  }

  /**
   * The value, or reports the init error `Missing param <key>` (Fluvio's
   * `SmartModuleInitError::MissingParam`) and returns "".
   */
  require(key: string): string {
    let v = this.get(key);
    if (v === null) { fail("Missing param " + key); return ""; }
    return v;
  }

  /** Parsed as i64 (`str::parse`), or `fallback` when absent; a bad value reports the parse error. */
  getI64(key: string, fallback: i64 = 0): i64 {
    let v = this.get(key);
    if (v === null) return fallback;
    let b = String.UTF8.encode(v);
    return new Bytes(changetype<usize>(b), b.byteLength).parseI64();
  }

  getF64(key: string, fallback: f64 = 0): f64 {
    let v = this.get(key);
    if (v === null) return fallback;
    let b = String.UTF8.encode(v);
    return new Bytes(changetype<usize>(b), b.byteLength).parseF64();
  }

  /** "true" / "false" exactly (Rust's `bool::from_str`). */
  getBool(key: string, fallback: bool = false): bool {
    let v = this.get(key);
    if (v === null) return fallback;
    let b = String.UTF8.encode(v);
    return new Bytes(changetype<usize>(b), b.byteLength).parseBool();
  }
}

/** Decodes `SmartModuleInitInput` (spec §5.5). Returns null when undecodable. */
export function decodeInitInput(ptr: usize, len: usize, version: u32): Params | null {
  readerInit(ptr, len);
  let p = new Params();
  let n = readU16();
  for (let i: u32 = 0; i < n; i++) {
    readString();
    if (rfail) return null;
    let k = String.UTF8.decodeUnsafe(vecPtr, <usize>vecLen);
    readString();
    if (rfail) return null;
    let v = String.UTF8.decodeUnsafe(vecPtr, <usize>vecLen);
    // BTreeMap semantics: a repeated key keeps the last value.
    let at = p.keys.indexOf(k);
    if (at >= 0) p.values[at] = v;
    else { p.keys.push(k); p.values.push(v); }
  }
  if (!legacy && version >= 20) {
    if (readBool()) {
      let last = <u64>readI64();
      let hasAge = false;
      let secs: u64 = 0;
      let nanos: u32 = 0;
      if (version >= 21 && readBool()) { hasAge = true; secs = <u64>readI64(); nanos = <u32>readI32(); }
      p.lookback = new Lookback(last, hasAge, secs, nanos);
    }
  }
  if (rfail) return null;
  return p;
}

// Keep the UTF-8 helpers reachable for users importing from here.
export { utf8Valid, utf8ErrorMessage };
