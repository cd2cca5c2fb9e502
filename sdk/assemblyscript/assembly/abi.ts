// Low-level guest side of the Fluvio SmartModule ABI (see docs/smartmodule-abi.md §1–§3):
// the host-facing exports (alloc/dealloc), the single import (env.copy_records), the abort
// replacement, a big-endian reader over the input buffer and a growing output writer.
// Everything here works on raw linear memory; nothing allocates per record.

// @ts-ignore: decorator
@external("env", "copy_records")
declare function copy_records(ptr: i32, len: i32): void;

/** Host asks for a buffer of `len` bytes (spec §2 step 3). */
export function alloc(len: i32): i32 {
  return <i32>heap.alloc(<usize>(len < 0 ? 0 : len));
}

/** Host gives back a buffer obtained from `alloc` or announced as output (spec §2.1). */
export function dealloc(ptr: i32, len: i32): void {
  if (ptr != 0) heap.free(<usize>ptr);
}

/**
 * Replaces AssemblyScript's `env.abort` import (compile with `--use abort=__eddy_abort`): a failed
 * assertion, a thrown error or an out-of-bounds access traps, as a Rust panic does with
 * `panic = "abort"`.
 */
// @ts-ignore: decorator
@global export function __eddy_abort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  unreachable();
}

/** Announces the output buffer to the host. */
export function announce(ptr: usize, len: usize): void {
  copy_records(<i32>ptr, <i32>len);
}

// ---------------------------------------------------------------------------------------------
// Status codes (spec §5.10) and runtime-error kind tags (§5.9).

export namespace Status {
  export const UNKNOWN: i32 = -1;
  export const DECODING_BASE_INPUT: i32 = -11;
  export const DECODING_RECORDS: i32 = -22;
  export const ENCODING_OUTPUT: i32 = -33;
  export const INIT_ERROR: i32 = -2;
  export const INIT_DECODING_INPUT: i32 = -10;
  export const LOOKBACK_DECODING_BASE_INPUT: i32 = -66;
  export const LOOKBACK_DECODING_RECORDS: i32 = -77;
  export const LOOKBACK_ERROR: i32 = -99;
}

export namespace Kind {
  export const FILTER: u8 = 0;
  export const MAP: u8 = 1;
  export const ARRAY_MAP: u8 = 2;
  export const AGGREGATE: u8 = 3;
  export const FILTER_MAP: u8 = 4;
}

// ---------------------------------------------------------------------------------------------
// Reader: module globals (wasm globals) rather than an object, so the hot loop stays in locals.
// A short buffer sets `rfail` and makes further reads return zeros.

export let rpos: usize = 0;
export let rend: usize = 0;
export let rfail: bool = false;

export function readerInit(ptr: usize, len: usize): void {
  rpos = ptr;
  rend = ptr + len;
  rfail = false;
}

// @ts-ignore: decorator
@inline export function remaining(): usize {
  return rend - rpos;
}

export function readU8(): u32 {
  if (rpos >= rend) { rfail = true; return 0; }
  let v = <u32>load<u8>(rpos);
  rpos += 1;
  return v;
}

export function readU16(): u32 {
  if (rend - rpos < 2) { rfail = true; rpos = rend; return 0; }
  let v = <u32>bswap<u16>(load<u16>(rpos));
  rpos += 2;
  return v;
}

export function readI32(): i32 {
  if (rend - rpos < 4) { rfail = true; rpos = rend; return 0; }
  let v = bswap<u32>(load<u32>(rpos));
  rpos += 4;
  return <i32>v;
}

export function readI64(): i64 {
  if (rend - rpos < 8) { rfail = true; rpos = rend; return 0; }
  let v = bswap<u64>(load<u64>(rpos));
  rpos += 8;
  return <i64>v;
}

/** `bool`: 00 or 01; anything else is a decode error. */
export function readBool(): bool {
  let b = readU8();
  if (b > 1) rfail = true;
  return b == 1;
}

/** Zigzag varint as fluvio-protocol decodes it (64-bit, shifts wrap as in release Rust). */
export function readVarint(): i64 {
  let p = rpos;
  let end = rend;
  let num: u64 = 0;
  let shift: u64 = 0;
  while (true) {
    if (p >= end) { rfail = true; rpos = end; return 0; }
    let b = <u64>load<u8>(p);
    p++;
    num |= (b & 0x7f) << shift;
    shift += 7;
    if ((b & 0x80) == 0) break;
  }
  rpos = p;
  return <i64>(num >> 1) ^ -(<i64>(num & 1));
}

/** Where the last `readVec`/`readString`/`readRecordData` found its bytes. */
export let vecPtr: usize = 0;
export let vecLen: i32 = 0;

/** `Vec<u8>`: signed i32 count (< 1 means empty) then bytes, which must all be present. */
export function readVec(): void {
  let n = readI32();
  vecPtr = rpos;
  vecLen = 0;
  if (rfail || n < 1) return;
  if (<usize>n > rend - rpos) { rfail = true; rpos = rend; return; }
  vecLen = n;
  rpos += <usize>n;
}

/** `String`: signed i16 length (<= 0 means empty), bytes must be present and valid UTF-8. */
export function readString(): void {
  let n = <i32><i16>readU16();
  vecPtr = rpos;
  vecLen = 0;
  if (rfail || n <= 0) return;
  if (<usize>n > rend - rpos) { rfail = true; rpos = rend; return; }
  if (!utf8Valid(rpos, n)) { rfail = true; return; }
  vecLen = n;
  rpos += <usize>n;
}

/**
 * `RecordData`: varint length then at most the bytes that remain (a short buffer silently
 * truncates). A negative length aborts the Rust decoder (it tries to reserve that many bytes): trap.
 */
export function readRecordData(): void {
  let n = readVarint();
  vecPtr = rpos;
  vecLen = 0;
  if (rfail) return;
  if (n < 0) unreachable();
  let avail = <i64>(rend - rpos);
  let take = n < avail ? n : avail;
  vecLen = <i32>take;
  rpos += <usize>take;
}

// ---------------------------------------------------------------------------------------------
// UTF-8 validation with Rust's `Utf8Error` semantics (valid_up_to + error_len), because user errors
// such as `std::str::from_utf8(..)?` end up in runtime-error hints.

/** Index of the first invalid byte found by the last failed `utf8Valid`. */
export let utf8ErrorAt: i32 = 0;
/** Length of the invalid sequence (1–3), or 0 when the input ended in the middle of a character. */
export let utf8ErrorLen: i32 = 0;

// @ts-ignore: decorator
@inline function cont(p: usize): bool {
  return (load<u8>(p) & 0xc0) == 0x80;
}

export function utf8Valid(ptr: usize, len: i32): bool {
  let i: i32 = 0;
  while (i < len) {
    if (len - i >= 8 && (load<u64>(ptr + <usize>i) & 0x8080808080808080) == 0) { i += 8; continue; }
    let first = <u32>load<u8>(ptr + <usize>i);
    if (first < 0x80) { i++; continue; }
    let p = ptr + <usize>i;
    let left = len - i;
    if (first >= 0xc2 && first <= 0xdf) {
      if (left < 2) return utf8Fail(i, 0);
      if (!cont(p + 1)) return utf8Fail(i, 1);
      i += 2;
    } else if (first >= 0xe0 && first <= 0xef) {
      if (left < 2) return utf8Fail(i, 0);
      let s = <u32>load<u8>(p + 1);
      let ok = first == 0xe0 ? (s >= 0xa0 && s <= 0xbf)
        : first == 0xed ? (s >= 0x80 && s <= 0x9f)
        : (s >= 0x80 && s <= 0xbf);
      if (!ok) return utf8Fail(i, 1);
      if (left < 3) return utf8Fail(i, 0);
      if (!cont(p + 2)) return utf8Fail(i, 2);
      i += 3;
    } else if (first >= 0xf0 && first <= 0xf4) {
      if (left < 2) return utf8Fail(i, 0);
      let s = <u32>load<u8>(p + 1);
      let ok = first == 0xf0 ? (s >= 0x90 && s <= 0xbf)
        : first == 0xf4 ? (s >= 0x80 && s <= 0x8f)
        : (s >= 0x80 && s <= 0xbf);
      if (!ok) return utf8Fail(i, 1);
      if (left < 3) return utf8Fail(i, 0);
      if (!cont(p + 2)) return utf8Fail(i, 2);
      if (left < 4) return utf8Fail(i, 0);
      if (!cont(p + 3)) return utf8Fail(i, 3);
      i += 4;
    } else {
      return utf8Fail(i, 1);
    }
  }
  return true;
}

function utf8Fail(at: i32, len: i32): bool {
  utf8ErrorAt = at;
  utf8ErrorLen = len;
  return false;
}

/** Rust's `Utf8Error` Display text for the last failed `utf8Valid`. */
export function utf8ErrorMessage(): string {
  if (utf8ErrorLen > 0) {
    return "invalid utf-8 sequence of " + utf8ErrorLen.toString() + " bytes from index " + utf8ErrorAt.toString();
  }
  return "incomplete utf-8 byte sequence from index " + utf8ErrorAt.toString();
}

// ---------------------------------------------------------------------------------------------
// Writer: one growing heap buffer per call, handed to the host (which may dealloc it).

export let wbuf: usize = 0;
export let wcap: usize = 0;
export let wpos: usize = 0;

export function writerInit(cap: usize): void {
  if (cap < 64) cap = 64;
  wbuf = heap.alloc(cap);
  wcap = cap;
  wpos = wbuf;
}

/** Moves the write position; other files call this because TypeScript forbids assigning an import. */
// @ts-ignore: decorator
@inline export function setWpos(p: usize): void {
  wpos = p;
}

// @ts-ignore: decorator
@inline export function ensure(n: usize): void {
  if (wbuf + wcap - wpos < n) grow(n);
}

function grow(n: usize): void {
  let used = wpos - wbuf;
  let cap = wcap << 1;
  if (cap < used + n + 64) cap = used + n + 64;
  wbuf = heap.realloc(wbuf, cap);
  wcap = cap;
  wpos = wbuf + used;
}

// @ts-ignore: decorator
@inline export function writtenLength(): usize {
  return wpos - wbuf;
}

export function writeU8(v: u32): void {
  ensure(1);
  store<u8>(wpos, <u8>v);
  wpos += 1;
}

export function writeU16(v: u32): void {
  ensure(2);
  store<u16>(wpos, bswap<u16>(<u16>v));
  wpos += 2;
}

export function writeI32(v: i32): void {
  ensure(4);
  store<u32>(wpos, bswap<u32>(<u32>v));
  wpos += 4;
}

export function writeI64(v: i64): void {
  ensure(8);
  store<u64>(wpos, bswap<u64>(<u64>v));
  wpos += 8;
}

/** Patches a big-endian i32 at `offset` bytes from the start of the output. */
export function patchI32(offset: usize, v: i32): void {
  store<u32>(wbuf + offset, bswap<u32>(<u32>v));
}

export function writeBytes(ptr: usize, len: usize): void {
  ensure(len);
  memory.copy(wpos, ptr, len);
  wpos += len;
}

/**
 * Size of a varint as fluvio-protocol encodes it: `z = (n << 1) ^ (n >> 31)`, 7-bit groups while
 * `z & 0xFFFFFF80 != 0` (bit-exact with Fluvio, including its behaviour outside the i32 range).
 */
// @ts-ignore: decorator
@inline export function varintSize(n: i64): usize {
  let z = (n << 1) ^ (n >> 31);
  let s: usize = 1;
  while ((z & <i64>0xffffff80) != 0) { s++; z >>= 7; }
  return s;
}

/** Writes a varint without a capacity check (the caller ensured room). */
// @ts-ignore: decorator
@inline export function putVarint(n: i64): void {
  let z = (n << 1) ^ (n >> 31);
  let p = wpos;
  while ((z & <i64>0xffffff80) != 0) {
    store<u8>(p, <u8>((z & 0x7f) | 0x80));
    p++;
    z >>= 7;
  }
  store<u8>(p, <u8>z);
  wpos = p + 1;
}

export function writeVarint(n: i64): void {
  ensure(10);
  putVarint(n);
}

/** `RecordData`: varint length + bytes. */
export function writeRecordData(ptr: usize, len: i32): void {
  ensure(5 + <usize>len);
  putVarint(<i64>len);
  memory.copy(wpos, ptr, <usize>len);
  wpos += <usize>len;
}

/** `String` from raw UTF-8 bytes: u16 length + bytes. */
export function writeStringBytes(ptr: usize, len: i32): void {
  writeU16(<u32>len);
  writeBytes(ptr, <usize>len);
}

/** `String` from an AssemblyScript string (lone surrogates become U+FFFD, as Rust strings cannot hold them). */
export function writeString(s: string): void {
  let n = String.UTF8.byteLength(s);
  writeU16(<u32>n);
  ensure(<usize>n);
  String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, wpos, false, String.UTF8.ErrorMode.REPLACE);
  wpos += <usize>n;
}
