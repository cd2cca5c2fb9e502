// Number parsing with Rust's `str::parse` rules and error texts, so that hints match what a Rust
// SmartModule doing `s.parse::<i32>()?` reports. On failure these call `fail(...)` and return 0.

import { fail } from "./error";

export const INT_EMPTY = "cannot parse integer from empty string";
export const INT_INVALID = "invalid digit found in string";
export const INT_POS_OVERFLOW = "number too large to fit in target type";
export const INT_NEG_OVERFLOW = "number too small to fit in target type";
export const FLOAT_EMPTY = "cannot parse float from empty string";
export const FLOAT_INVALID = "invalid float literal";

/** Error text of the last failed parse (also reported through `fail`). */
export let parseError: string | null = null;

/** While true, failed parses only set `parseError` (used by the `...Or(fallback)` helpers). */
let quiet = false;

function parseFailed(msg: string): void {
  parseError = msg;
  if (!quiet) fail(msg);
}

/** Runs `parseIntRaw` without reporting; `parseError` tells whether it failed. */
export function quietly<T>(f: () => T): T {
  quiet = true;
  let v = f();
  quiet = false;
  return v;
}

/**
 * Parses a decimal integer of a type with the given limits: `maxPos` is the largest positive
 * magnitude, `maxNeg` the largest negative magnitude (0 for unsigned types). Returns the value as
 * raw 64 bits (two's complement for negatives). Same digit/overflow order as Rust's
 * `from_str_radix`.
 */
export function parseIntRaw(ptr: usize, len: i32, maxPos: u64, maxNeg: u64): u64 {
  parseError = null;
  if (len <= 0) { parseFailed(INT_EMPTY); return 0; }
  let c0 = load<u8>(ptr);
  let negative = false;
  let i = 0;
  if (c0 == 0x2b || c0 == 0x2d) { // '+' or '-'
    if (len == 1) { parseFailed(INT_INVALID); return 0; }
    if (c0 == 0x2b) i = 1;
    else if (maxNeg != 0) { negative = true; i = 1; }
  }
  let limit = negative ? maxNeg : maxPos;
  let mag: u64 = 0;
  for (; i < len; i++) {
    let over = mag > limit / 10;
    let d = <u32>load<u8>(ptr + <usize>i) - 0x30;
    if (d > 9) { parseFailed(INT_INVALID); return 0; }
    if (over) { parseFailed(negative ? INT_NEG_OVERFLOW : INT_POS_OVERFLOW); return 0; }
    mag *= 10;
    if (mag > limit - <u64>d) { parseFailed(negative ? INT_NEG_OVERFLOW : INT_POS_OVERFLOW); return 0; }
    mag += <u64>d;
  }
  return negative ? <u64>(-<i64>mag) : mag;
}

export function parseI32Bytes(ptr: usize, len: i32): i32 {
  return <i32>parseIntRaw(ptr, len, <u64>i32.MAX_VALUE, <u64>i32.MAX_VALUE + 1);
}

export function parseI64Bytes(ptr: usize, len: i32): i64 {
  return <i64>parseIntRaw(ptr, len, <u64>i64.MAX_VALUE, <u64>i64.MAX_VALUE + 1);
}

export function parseU32Bytes(ptr: usize, len: i32): u32 {
  return <u32>parseIntRaw(ptr, len, <u64>u32.MAX_VALUE, 0);
}

export function parseU64Bytes(ptr: usize, len: i32): u64 {
  return parseIntRaw(ptr, len, u64.MAX_VALUE, 0);
}

function lowerEq(ptr: usize, len: i32, word: string): bool {
  if (len != word.length) return false;
  for (let i = 0; i < len; i++) {
    let c = <u32>load<u8>(ptr + <usize>i);
    if (c >= 0x41 && c <= 0x5a) c += 32;
    if (c != <u32>word.charCodeAt(i)) return false;
  }
  return true;
}

/** Rust's `f64::from_str` grammar: [+-] (inf | infinity | nan | digits[.digits][(e|E)[+-]digits]). */
export function parseF64Bytes(ptr: usize, len: i32): f64 {
  parseError = null;
  if (len <= 0) { parseFailed(FLOAT_EMPTY); return 0; }
  let i = 0;
  let negative = false;
  let c0 = load<u8>(ptr);
  if (c0 == 0x2b || c0 == 0x2d) { negative = c0 == 0x2d; i = 1; }
  let rest = ptr + <usize>i;
  let restLen = len - i;
  if (lowerEq(rest, restLen, "inf") || lowerEq(rest, restLen, "infinity")) return negative ? -Infinity : Infinity;
  if (lowerEq(rest, restLen, "nan")) return NaN;
  let digits = 0;
  let j = i;
  while (j < len && <u32>load<u8>(ptr + <usize>j) - 0x30 <= 9) { j++; digits++; }
  if (j < len && load<u8>(ptr + <usize>j) == 0x2e) {
    j++;
    while (j < len && <u32>load<u8>(ptr + <usize>j) - 0x30 <= 9) { j++; digits++; }
  }
  if (digits == 0) { parseFailed(FLOAT_INVALID); return 0; }
  if (j < len) {
    let e = load<u8>(ptr + <usize>j);
    if (e != 0x65 && e != 0x45) { parseFailed(FLOAT_INVALID); return 0; }
    j++;
    if (j < len && (load<u8>(ptr + <usize>j) == 0x2b || load<u8>(ptr + <usize>j) == 0x2d)) j++;
    let expDigits = 0;
    while (j < len && <u32>load<u8>(ptr + <usize>j) - 0x30 <= 9) { j++; expDigits++; }
    if (expDigits == 0 || j < len) { parseFailed(FLOAT_INVALID); return 0; }
  }
  // The text is plain ASCII now; hand it to the standard library's decimal conversion.
  let s = String.UTF8.decodeUnsafe(ptr, <usize>len);
  return parseFloat(s);
}

/** Rust's `bool::from_str`: exactly "true" or "false". */
export function parseBoolBytes(ptr: usize, len: i32): bool {
  parseError = null;
  if (len == 4 && load<u32>(ptr) == 0x65757274) return true; // "true"
  if (len == 5 && load<u32>(ptr) == 0x736c6166 && load<u8>(ptr + 4) == 0x65) return false; // "false"
  parseFailed("provided string was not `true` or `false`");
  return false;
}

function withUtf8<T>(s: string, f: (ptr: usize, len: i32) => T): T {
  let buf = String.UTF8.encode(s);
  return f(changetype<usize>(buf), buf.byteLength);
}

/** `s.parse::<i32>()` */
export function parseI32(s: string): i32 { return withUtf8<i32>(s, parseI32Bytes); }
/** `s.parse::<i64>()` */
export function parseI64(s: string): i64 { return withUtf8<i64>(s, parseI64Bytes); }
/** `s.parse::<u32>()` */
export function parseU32(s: string): u32 { return withUtf8<u32>(s, parseU32Bytes); }
/** `s.parse::<u64>()` */
export function parseU64(s: string): u64 { return withUtf8<u64>(s, parseU64Bytes); }
/** `s.parse::<f64>()` */
export function parseF64(s: string): f64 { return withUtf8<f64>(s, parseF64Bytes); }
/** `s.parse::<bool>()` */
export function parseBool(s: string): bool { return withUtf8<bool>(s, parseBoolBytes); }
