// A read-only view of bytes in linear memory (a record's key or value, the aggregate accumulator).
// Views point straight into the input buffer: nothing is copied unless you ask for a string or an
// array. A view is only valid during the user call that received it.

import { utf8Valid, utf8ErrorMessage, utf8ErrorAt, utf8ErrorLen } from "./abi";
import { fail } from "./error";
import { Json, readJson } from "./ondemand";
import {
  parseError, quietly,
  parseI32Bytes, parseI64Bytes, parseU32Bytes, parseU64Bytes, parseF64Bytes, parseBoolBytes,
} from "./parse";

// Needle cache for includes()/indexOf()/equals(): the UTF-8 form of the last string searched for.
// The string is kept referenced, so comparing addresses is a safe identity test.
let needleStr: string | null = null;
let needleBuf: ArrayBuffer = new ArrayBuffer(0);

function needle(s: string): ArrayBuffer {
  if (changetype<usize>(s) != changetype<usize>(needleStr)) {
    needleBuf = String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE);
    needleStr = s;
  }
  return needleBuf;
}

const LO: u64 = 0x0101010101010101;
const HI: u64 = 0x8080808080808080;

/** First index of byte `c` in [ptr+from, ptr+len), or -1. Word-at-a-time scan. */
export function findByte(ptr: usize, len: i32, c: u8, from: i32 = 0): i32 {
  if (from < 0) from = 0;
  if (from >= len) return -1;
  let p = ptr + <usize>from;
  let end = ptr + <usize>len;
  let pat = LO * <u64>c;
  while (end - p >= 8) {
    let x = load<u64>(p) ^ pat;
    if (((x - LO) & ~x & HI) != 0) break;
    p += 8;
  }
  while (p < end) {
    if (load<u8>(p) == c) return <i32>(p - ptr);
    p++;
  }
  return -1;
}

/** First index of the bytes [nptr, nptr+nlen) in [ptr+from, ptr+len), or -1. */
export function findBytes(ptr: usize, len: i32, nptr: usize, nlen: i32, from: i32 = 0): i32 {
  if (from < 0) from = 0;
  if (nlen == 0) return from <= len ? from : -1;
  if (nlen == 1) return findByte(ptr, len, load<u8>(nptr), from);
  let first = load<u8>(nptr);
  let last = len - nlen;
  let i = from;
  while (i <= last) {
    let j = findByte(ptr, last + 1, first, i);
    if (j < 0) return -1;
    if (memory.compare(ptr + <usize>j, nptr, <usize>nlen) == 0) return j;
    i = j + 1;
  }
  return -1;
}

function isSpace(c: u32): bool {
  // ASCII whitespace as Rust's `u8::is_ascii_whitespace` (space, \t, \n, \f, \r).
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0c || c == 0x0d;
}

export class Bytes {
  constructor(public ptr: usize = 0, public length: i32 = 0) {}

  /** Byte at `i` (traps when out of range). */
  // @ts-ignore: decorator
  @operator("[]") at(i: i32): u8 {
    if (<u32>i >= <u32>this.length) unreachable();
    return load<u8>(this.ptr + <usize>i);
  }

  get isEmpty(): bool { return this.length == 0; }

  /** Does it contain `s` (UTF-8 encoded)? Searches in place, no allocation after the first call with `s`. */
  includes(s: string): bool {
    let n = needle(s);
    return findBytes(this.ptr, this.length, changetype<usize>(n), n.byteLength) >= 0;
  }

  indexOf(s: string, from: i32 = 0): i32 {
    let n = needle(s);
    return findBytes(this.ptr, this.length, changetype<usize>(n), n.byteLength, from);
  }

  includesByte(c: u8): bool {
    return findByte(this.ptr, this.length, c) >= 0;
  }

  /** Byte-wise equality with the UTF-8 form of `s`. */
  equals(s: string): bool {
    let n = needle(s);
    return n.byteLength == this.length && memory.compare(this.ptr, changetype<usize>(n), <usize>this.length) == 0;
  }

  equalsBytes(other: Bytes): bool {
    return other.length == this.length && memory.compare(this.ptr, other.ptr, <usize>this.length) == 0;
  }

  startsWith(s: string): bool {
    let n = needle(s);
    return n.byteLength <= this.length && memory.compare(this.ptr, changetype<usize>(n), <usize>n.byteLength) == 0;
  }

  endsWith(s: string): bool {
    let n = needle(s);
    let k = n.byteLength;
    return k <= this.length && memory.compare(this.ptr + <usize>(this.length - k), changetype<usize>(n), <usize>k) == 0;
  }

  /** A sub-view (no copy). */
  slice(start: i32, end: i32 = i32.MAX_VALUE): Bytes {
    let len = this.length;
    if (start < 0) start = max(len + start, 0);
    if (end < 0) end = max(len + end, 0);
    start = min(start, len);
    end = min(end, len);
    if (end < start) end = start;
    return new Bytes(this.ptr + <usize>start, end - start);
  }

  /** A view without leading/trailing ASCII whitespace (no copy). */
  trim(): Bytes {
    let s = 0;
    let e = this.length;
    while (s < e && isSpace(load<u8>(this.ptr + <usize>s))) s++;
    while (e > s && isSpace(load<u8>(this.ptr + <usize>(e - 1)))) e--;
    return new Bytes(this.ptr + <usize>s, e - s);
  }

  /**
   * The bytes as a JSON document, read on demand (see ondemand.ts): checked in one pass, then
   * only what you ask for is read. Invalid JSON reports `invalid JSON at byte N: ...` and gives a
   * missing value.
   */
  json(): Json {
    return readJson(this.ptr, this.length);
  }

  /** Is it valid UTF-8? */
  isUtf8(): bool {
    return utf8Valid(this.ptr, this.length);
  }

  /**
   * Like Rust's `std::str::from_utf8(bytes)?`: true when valid UTF-8; otherwise reports the user
   * error (e.g. "invalid utf-8 sequence of 1 bytes from index 0") and returns false.
   */
  requireUtf8(): bool {
    if (utf8Valid(this.ptr, this.length)) return true;
    fail(utf8ErrorMessage());
    return false;
  }

  /** Strict UTF-8 decode; on invalid UTF-8 reports the Rust error (see `requireUtf8`) and returns "". */
  toString(): string {
    if (!utf8Valid(this.ptr, this.length)) { fail(utf8ErrorMessage()); return ""; }
    return String.UTF8.decodeUnsafe(this.ptr, <usize>this.length);
  }

  /** Decode replacing invalid sequences with U+FFFD exactly as Rust's `String::from_utf8_lossy`. */
  toStringLossy(): string {
    let ptr = this.ptr;
    let len = this.length;
    if (utf8Valid(ptr, len)) return String.UTF8.decodeUnsafe(ptr, <usize>len);
    let out = "";
    while (true) {
      if (utf8Valid(ptr, len)) { out += String.UTF8.decodeUnsafe(ptr, <usize>len); break; }
      let at = utf8ErrorAt;
      let bad = utf8ErrorLen;
      out += String.UTF8.decodeUnsafe(ptr, <usize>at) + "\uFFFD";
      if (bad == 0) break;
      ptr += <usize>(at + bad);
      len -= at + bad;
    }
    return out;
  }

  /** A copy as a Uint8Array. */
  toUint8Array(): Uint8Array {
    let a = new Uint8Array(this.length);
    memory.copy(a.dataStart, this.ptr, <usize>this.length);
    return a;
  }

  /** A copy as an ArrayBuffer. */
  toArrayBuffer(): ArrayBuffer {
    let a = new ArrayBuffer(this.length);
    memory.copy(changetype<usize>(a), this.ptr, <usize>this.length);
    return a;
  }

  /** `str.parse::<i32>()` over the bytes (no trimming); reports the Rust error text on failure. */
  parseI32(): i32 { return parseI32Bytes(this.ptr, this.length); }
  parseI64(): i64 { return parseI64Bytes(this.ptr, this.length); }
  parseU32(): u32 { return parseU32Bytes(this.ptr, this.length); }
  parseU64(): u64 { return parseU64Bytes(this.ptr, this.length); }
  parseF64(): f64 { return parseF64Bytes(this.ptr, this.length); }
  parseBool(): bool { return parseBoolBytes(this.ptr, this.length); }

  /** `str.parse::<i32>().unwrap_or(fallback)`: never reports an error. */
  parseI32Or(fallback: i32): i32 {
    current = this;
    let v = quietly<i32>((): i32 => parseI32Bytes(current.ptr, current.length));
    return parseError === null ? v : fallback;
  }

  parseI64Or(fallback: i64): i64 {
    current = this;
    let v = quietly<i64>((): i64 => parseI64Bytes(current.ptr, current.length));
    return parseError === null ? v : fallback;
  }

  parseU64Or(fallback: u64): u64 {
    current = this;
    let v = quietly<u64>((): u64 => parseU64Bytes(current.ptr, current.length));
    return parseError === null ? v : fallback;
  }

  parseF64Or(fallback: f64): f64 {
    current = this;
    let v = quietly<f64>((): f64 => parseF64Bytes(current.ptr, current.length));
    return parseError === null ? v : fallback;
  }
}

// The view a `parse...Or` closure reads (AssemblyScript closures cannot capture locals).
let current: Bytes = new Bytes();
