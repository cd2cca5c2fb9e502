// On-demand JSON: read only what the module asks for, straight from the record's bytes.
//
//     let level = r.value.json().get("level");
//     return level.equals("error") || level.equals("warn");
//
// `json()` first checks the whole document in one pass that allocates nothing (grammar of RFC 8259,
// strict UTF-8 inside strings, any nesting depth: the pass is a loop with a byte stack, not a
// recursion). Accept/reject is the same as `JSON.parse` on the bytes decoded as strict UTF-8:
// duplicate keys, lone surrogate escapes, huge numbers (1e400 is Infinity) are accepted; a BOM,
// trailing commas, comments, invalid UTF-8 are rejected. A rejected document reports
// `invalid JSON at byte N: ...` through `fail` (a runtime-error record, like any SDK error) and
// gives a view that is missing. After the check, lookups jump over the parts not asked for without
// checking them again; nothing is materialised until `str()`, `f64()`, `key()` etc. are called.

import { fail } from "./error";
import { Big } from "./bignum";

export enum JsonType { Missing, Null, Bool, Number, String, Array, Object }

// ---------------------------------------------------------------------------------------------
// The check pass.

/** Offset (from the document start) and description of the last rejection. */
export let jsonErrorOffset: i32 = -1;
export let jsonErrorWhat: string = "";

let errAt: usize = 0;
// Set by checkString: whether the string had a backslash escape.
let sawEscape = false;
// The root object's members, recorded by the check pass so that `get` on the root needs no second
// walk: per member the key's first byte and end (bit 31: escaped) and the value's first byte.
let tab: usize = heap.alloc(64 * 12);
let tabCap: i32 = 64;
let tabCount: i32 = 0;
let tabRoot: usize = 0;
let tabEnd: usize = 0;

function record(keyStart: usize, keyEnd: usize, esc: bool, value: usize): void {
  if (tabCount == tabCap) {
    tab = heap.realloc(tab, <usize>tabCap * 24);
    tabCap *= 2;
  }
  let e = tab + <usize>tabCount * 12;
  store<u32>(e, <u32>keyStart);
  store<u32>(e, <u32>keyEnd | (esc ? 0x80000000 : 0), 4);
  store<u32>(e, <u32>value, 8);
  tabCount++;
}
let errWhat: string = "";
// Open containers, one byte each (1 object, 0 array); grows, so depth is unlimited.
let stack: usize = heap.alloc(256);
let stackCap: i32 = 256;

const LO: u64 = 0x0101010101010101;
const HI: u64 = 0x8080808080808080;

// @ts-ignore: decorator
@inline function isWs(c: u32): bool { return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09; }
// @ts-ignore: decorator
@inline function isDigit(c: u32): bool { return c - 0x30 <= 9; }

// @ts-ignore: decorator
@inline function skipWs(p: usize, end: usize): usize {
  while (p < end && isWs(load<u8>(p))) p++;
  return p;
}

/**
 * High bit set in each byte of the word that is `"`, `\`, a control character or non-ASCII (and
 * possibly in bytes above the first such one: borrows). The lowest set bit is the first one exactly.
 */
// @ts-ignore: decorator
@inline function specialMask(w: u64): u64 {
  let q = w ^ (LO * 0x22);
  let b = w ^ (LO * 0x5c);
  return (((q - LO) & ~q) | ((b - LO) & ~b) | (w - LO * 0x20) | w) & HI;
}

/** Like specialMask for `"` and `\` only. */
// @ts-ignore: decorator
@inline function quoteMask(w: u64): u64 {
  let q = w ^ (LO * 0x22);
  let b = w ^ (LO * 0x5c);
  return (((q - LO) & ~q) | ((b - LO) & ~b)) & HI;
}

/** Bad UTF-8 sequence at p (non-ASCII lead byte): its length if valid, else 0. */
function utf8Seq(p: usize, end: usize): i32 {
  let c = <u32>load<u8>(p);
  let n = 0;
  let lo: u32 = 0x80, hi: u32 = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) { n = 3; if (c == 0xe0) lo = 0xa0; else if (c == 0xed) hi = 0x9f; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; if (c == 0xf0) lo = 0x90; else if (c == 0xf4) hi = 0x8f; }
  else return 0;
  if (p + <usize>n > end) return 0;
  let c1 = <u32>load<u8>(p + 1);
  if (c1 < lo || c1 > hi) return 0;
  for (let i = 2; i < n; i++) {
    let ci = <u32>load<u8>(p + <usize>i);
    if (ci < 0x80 || ci > 0xbf) return 0;
  }
  return n;
}

// @ts-ignore: decorator
@inline function hexDigit(c: u32): bool { return isDigit(c) || ((c | 0x20) - 0x61 <= 5); }

/** Checks the string whose opening quote is at p; returns the offset after its closing quote, or 0. */
function checkString(p: usize, end: usize): usize {
  p++;
  sawEscape = false;
  while (true) {
    if (end - p >= 8) {
      let m = specialMask(load<u64>(p));
      if (m == 0) { p += 8; continue; }
      p += <usize>(ctz(m) >> 3);
    }
    if (p >= end) { errAt = p; errWhat = "unterminated string"; return 0; }
    let c = <u32>load<u8>(p);
    if (c == 0x22) return p + 1;
    if (c == 0x5c) {
      if (p + 1 >= end) { errAt = p + 1; errWhat = "unterminated string"; return 0; }
      let e = <u32>load<u8>(p + 1);
      sawEscape = true;
      if (e == 0x75) {
        for (let i: usize = 2; i < 6; i++) {
          if (p + i >= end) { errAt = p + i; errWhat = "unterminated string"; return 0; }
          if (!hexDigit(load<u8>(p + i))) { errAt = p + i; errWhat = "bad \\u escape"; return 0; }
        }
        p += 6;
      } else if (e == 0x22 || e == 0x5c || e == 0x2f || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74) {
        p += 2;
      } else { errAt = p + 1; errWhat = "bad escape"; return 0; }
    } else if (c < 0x20) {
      errAt = p; errWhat = "control character in string"; return 0;
    } else if (c >= 0x80) {
      let n = utf8Seq(p, end);
      if (n == 0) { errAt = p; errWhat = "invalid UTF-8"; return 0; }
      p += <usize>n;
    } else p++;
  }
  return 0;
}

/** Checks the number at p; returns the offset after it, or 0. */
function checkNumber(p: usize, end: usize): usize {
  if (load<u8>(p) == 0x2d) p++;
  if (p >= end || !isDigit(load<u8>(p))) { errAt = p; errWhat = "bad number"; return 0; }
  if (load<u8>(p) == 0x30) p++;
  else while (p < end && isDigit(load<u8>(p))) p++;
  if (p < end && load<u8>(p) == 0x2e) {
    p++;
    if (p >= end || !isDigit(load<u8>(p))) { errAt = p; errWhat = "bad number"; return 0; }
    while (p < end && isDigit(load<u8>(p))) p++;
  }
  if (p < end && (load<u8>(p) | 0x20) == 0x65) {
    p++;
    if (p < end && (load<u8>(p) == 0x2b || load<u8>(p) == 0x2d)) p++;
    if (p >= end || !isDigit(load<u8>(p))) { errAt = p; errWhat = "bad number"; return 0; }
    while (p < end && isDigit(load<u8>(p))) p++;
  }
  return p;
}

function checkWord(p: usize, end: usize, w: string): usize {
  let n = <usize>w.length;
  for (let i: usize = 0; i < n; i++) {
    if (p + i >= end || <u32>load<u8>(p + i) != <u32>w.charCodeAt(<i32>i)) { errAt = p + i; errWhat = "unexpected character"; return 0; }
  }
  return p + n;
}

function push(depth: i32, isObject: u8): void {
  if (depth >= stackCap) {
    stack = heap.realloc(stack, <usize>stackCap * 2);
    stackCap *= 2;
  }
  store<u8>(stack + <usize>depth, isObject);
}

// @ts-ignore: decorator
@inline const S_VALUE = 0;
// @ts-ignore: decorator
@inline const S_KEY = 1;
// @ts-ignore: decorator
@inline const S_AFTER = 2;

/** Whether [start, end) is one JSON document; if not, errAt/errWhat say where and why. */
function check(start: usize, end: usize): bool {
  let p = skipWs(start, end);
  let depth = 0;
  let state = S_VALUE;
  tabCount = 0;
  let rootObject = p < end && load<u8>(p) == 0x7b;
  while (true) {
    if (state == S_VALUE) {
      if (p >= end) { errAt = p; errWhat = "unexpected end of input"; return false; }
      let c = <u32>load<u8>(p);
      if (c == 0x22) { p = checkString(p, end); if (p == 0) return false; state = S_AFTER; }
      else if (c == 0x7b || c == 0x5b) {
        p = skipWs(p + 1, end);
        let close: u32 = c + 2;
        if (p < end && <u32>load<u8>(p) == close) { p++; state = S_AFTER; }
        else { push(depth++, c == 0x7b ? 1 : 0); state = c == 0x7b ? S_KEY : S_VALUE; }
      }
      else if (c == 0x2d || isDigit(c)) { p = checkNumber(p, end); if (p == 0) return false; state = S_AFTER; }
      else if (c == 0x74 && end - p >= 4 && load<u32>(p) == 0x65757274) { p += 4; state = S_AFTER; }      // true
      else if (c == 0x6e && end - p >= 4 && load<u32>(p) == 0x6c6c756e) { p += 4; state = S_AFTER; }      // null
      else if (c == 0x66 && end - p >= 5 && load<u32>(p, 1) == 0x65736c61) { p += 5; state = S_AFTER; }  // false
      else if (c == 0x74) { p = checkWord(p, end, "true"); if (p == 0) return false; state = S_AFTER; }
      else if (c == 0x66) { p = checkWord(p, end, "false"); if (p == 0) return false; state = S_AFTER; }
      else if (c == 0x6e) { p = checkWord(p, end, "null"); if (p == 0) return false; state = S_AFTER; }
      else { errAt = p; errWhat = "unexpected character"; return false; }
    } else if (state == S_KEY) {
      if (p >= end) { errAt = p; errWhat = "unexpected end of input"; return false; }
      if (load<u8>(p) != 0x22) { errAt = p; errWhat = "expected a string key"; return false; }
      let ks = p;
      p = checkString(p, end);
      if (p == 0) return false;
      let ke = p - 1;
      p = skipWs(p, end);
      if (p >= end) { errAt = p; errWhat = "unexpected end of input"; return false; }
      if (load<u8>(p) != 0x3a) { errAt = p; errWhat = "expected ':'"; return false; }
      p = skipWs(p + 1, end);
      if (depth == 1 && rootObject) record(ks + 1, ke, sawEscape, p);
      state = S_VALUE;
    } else {
      p = skipWs(p, end);
      if (depth == 0) {
        if (p < end) { errAt = p; errWhat = "unexpected data after the document"; return false; }
        return true;
      }
      if (p >= end) { errAt = p; errWhat = "unexpected end of input"; return false; }
      let c = <u32>load<u8>(p);
      let inObject = load<u8>(stack + <usize>(depth - 1)) == 1;
      if (c == 0x2c) { p = skipWs(p + 1, end); state = inObject ? S_KEY : S_VALUE; }
      else if (c == (inObject ? 0x7d : 0x5d)) { p++; depth--; }
      else { errAt = p; errWhat = inObject ? "expected ',' or '}'" : "expected ',' or ']'"; return false; }
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Walking a checked document (no checks needed: every helper assumes valid JSON).

/** Set by skipString: whether the string just skipped had a backslash escape. */
let escaped = false;

/** Offset after the closing quote of the string whose opening quote is at p. */
function skipString(p: usize, end: usize): usize {
  p++;
  escaped = false;
  while (true) {
    if (end - p >= 8) {
      let m = quoteMask(load<u64>(p));
      if (m == 0) { p += 8; continue; }
      p += <usize>(ctz(m) >> 3);
    }
    let c = load<u8>(p);
    if (c == 0x22) return p + 1;
    if (c == 0x5c) { escaped = true; p += 2; } else p++;
  }
  return p;
}

/** Offset after the value starting at p. */
function skipValue(p: usize, end: usize): usize {
  let c = <u32>load<u8>(p);
  if (c == 0x22) return skipString(p, end);
  if (c == 0x7b || c == 0x5b) {
    let depth = 0;
    while (true) {
      c = load<u8>(p);
      if (c == 0x22) { p = skipString(p, end); continue; }
      if (c == 0x7b || c == 0x5b) depth++;
      else if (c == 0x7d || c == 0x5d) { if (--depth == 0) return p + 1; }
      p++;
    }
  }
  // number or literal: up to the next delimiter
  p++;
  while (p < end) {
    c = load<u8>(p);
    if (c == 0x2c || c == 0x7d || c == 0x5d || isWs(c)) return p;
    p++;
  }
  return p;
}

// Key cache: the UTF-8 form of recently looked-up keys (kept referenced, so the address of the
// string is a safe identity).
const CACHE = 8;
let cacheStr = new StaticArray<string | null>(CACHE);
let cacheBuf = new StaticArray<ArrayBuffer | null>(CACHE);
let cacheNext = 0;

let cacheHit = 0;

function utf8Of(s: string): ArrayBuffer {
  if (changetype<usize>(unchecked(cacheStr[cacheHit])) == changetype<usize>(s)) return unchecked(cacheBuf[cacheHit])!;
  for (let i = 0; i < CACHE; i++) {
    if (changetype<usize>(unchecked(cacheStr[i])) == changetype<usize>(s)) { cacheHit = i; return unchecked(cacheBuf[i])!; }
  }
  let buf = String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE);
  unchecked(cacheStr[cacheNext] = s);
  unchecked(cacheBuf[cacheNext] = buf);
  cacheNext = (cacheNext + 1) % CACHE;
  return buf;
}

/** Whether the string literal at p (opening quote) equals s; returns its end through `strEnd`. */
let strEnd: usize = 0;
function stringEquals(p: usize, end: usize, s: string): bool {
  strEnd = skipString(p, end);
  let rawLen = strEnd - p - 2;
  if (!escaped) {
    let b = utf8Of(s);
    return <usize>b.byteLength == rawLen && memory.compare(p + 1, changetype<usize>(b), rawLen) == 0;
  }
  let e = strEnd;
  let eq = decodeString(p, e) == s;
  strEnd = e;
  return eq;
}

// ---------------------------------------------------------------------------------------------
// Materialising.

// @ts-ignore: decorator
@inline function hexVal(c: u32): u32 { return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57; }

/** The string literal [p, e) (quotes included) as a string: escapes and UTF-8 decoded. */
function decodeString(p: usize, e: usize): string {
  let from = p + 1;
  let to = e - 1;
  // @ts-ignore: a runtime builtin the editor types do not declare
  let buf = changetype<usize>(__new((to - from) << 1, idof<String>())); // UTF-16 units ≤ bytes
  let o = buf;
  let q = from;
  while (q < to) {
    let c = <u32>load<u8>(q);
    if (c == 0x5c) {
      let x = <u32>load<u8>(q + 1);
      q += 2;
      if (x == 0x75) {
        c = (hexVal(load<u8>(q)) << 12) | (hexVal(load<u8>(q + 1)) << 8) | (hexVal(load<u8>(q + 2)) << 4) | hexVal(load<u8>(q + 3));
        q += 4;
      } else c = x == 0x62 ? 8 : x == 0x66 ? 12 : x == 0x6e ? 10 : x == 0x72 ? 13 : x == 0x74 ? 9 : x;
      store<u16>(o, c); o += 2;
    } else if (c < 0x80) {
      store<u16>(o, c); o += 2; q++;
    } else if (c < 0xe0) {
      store<u16>(o, ((c & 0x1f) << 6) | (load<u8>(q + 1) & 0x3f)); o += 2; q += 2;
    } else if (c < 0xf0) {
      store<u16>(o, ((c & 0x0f) << 12) | ((load<u8>(q + 1) & 0x3f) << 6) | (load<u8>(q + 2) & 0x3f)); o += 2; q += 3;
    } else {
      let cp = ((c & 0x07) << 18) | ((load<u8>(q + 1) & 0x3f) << 12) | ((load<u8>(q + 2) & 0x3f) << 6) | (load<u8>(q + 3) & 0x3f);
      cp -= 0x10000;
      store<u16>(o, 0xd800 | (cp >> 10));
      store<u16>(o + 2, 0xdc00 | (cp & 0x3ff));
      o += 4; q += 4;
    }
  }
  let units = o - buf;
  if (units == (to - from) << 1) return changetype<string>(buf);
  // @ts-ignore: a runtime builtin the editor types do not declare
  return changetype<string>(__renew(buf, units));
}

// Powers of ten exactly representable as f64 (Clinger's fast path).
const POW10: StaticArray<f64> = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
  1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/** The number literal [p, e) as f64, correctly rounded (fast path exact; else the runtime's parser). */
function numberF64(p: usize, e: usize): f64 {
  let q = p;
  let neg = load<u8>(q) == 0x2d;
  if (neg) q++;
  let mant: u64 = 0;
  let digits = 0;
  let scale = 0;
  while (q < e && isDigit(load<u8>(q))) { mant = mant * 10 + <u64>(load<u8>(q) - 0x30); if (mant != 0) digits++; q++; }
  if (q < e && load<u8>(q) == 0x2e) {
    q++;
    while (q < e && isDigit(load<u8>(q))) { mant = mant * 10 + <u64>(load<u8>(q) - 0x30); if (mant != 0) digits++; scale--; q++; }
  }
  if (q < e) {
    // exponent
    q++;
    let eneg = load<u8>(q) == 0x2d;
    if (eneg || load<u8>(q) == 0x2b) q++;
    let x = 0;
    while (q < e && x < 10000) { x = x * 10 + <i32>(load<u8>(q) - 0x30); q++; }
    if (q < e) digits = 99; // absurd exponent: leave it to the slow path
    scale += eneg ? -x : x;
  }
  if (digits <= 15 && scale >= -22 && scale <= 22) {
    // both operands exact, one rounding: correctly rounded (Clinger)
    let v = scale < 0 ? <f64>mant / unchecked(POW10[-scale]) : <f64>mant * unchecked(POW10[scale]);
    return neg ? -v : v;
  }
  if (digits + scale - 22 <= 15 && scale > 22) {
    // 1e23, 12e30: the mantissa times 10^(scale-22) is still exact
    let v = <f64>(mant * <u64>unchecked(POW10[scale - 22])) * 1e22;
    return neg ? -v : v;
  }
  return slowF64(p, e, neg);
}

/**
 * Numbers off the fast path, correctly rounded: an estimate from the first 19 significant digits,
 * then moved by one ulp at a time while the exact decimal lies beyond the midpoint to a neighbour
 * (compared exactly with big integers, ties to even). Digits past the 800th only count as "more".
 * The runtime's parseFloat is not used: it is off by orders of magnitude on some inputs.
 */
function slowF64(p: usize, e: usize, neg: bool): f64 {
  // significant digits (leading zeros dropped) and the position of the decimal point
  let digits = new Array<i32>();
  let point = 0;
  let q = p;
  if (neg) q++;
  let seenDot = false;
  while (q < e) {
    let c = <u32>load<u8>(q);
    if (c == 0x2e) { seenDot = true; q++; continue; }
    if (!isDigit(c)) break;
    if (digits.length == 0 && c == 0x30) { if (seenDot) point--; q++; continue; }
    digits.push(<i32>(c - 0x30));
    if (!seenDot) point++;
    q++;
  }
  if (q < e) {
    q++;
    let eneg = load<u8>(q) == 0x2d;
    if (eneg || load<u8>(q) == 0x2b) q++;
    let x = 0;
    while (q < e) { if (x < 100000) x = x * 10 + <i32>(load<u8>(q) - 0x30); q++; }
    point += eneg ? -x : x;
  }
  let n = digits.length;
  while (n > 0 && digits[n - 1] == 0) n--;
  let r: f64 = 0;
  if (n == 0 || point < -330) r = 0;
  else if (point > 310) r = Infinity;
  else {
    let more = n > 800;
    if (more) n = 800;
    let m: u64 = 0;
    let k = n < 19 ? n : 19;
    for (let i = 0; i < k; i++) m = m * 10 + <u64>digits[i];
    let x = point - k;
    let est = x < -300 ? <f64>m * Math.pow(10, <f64>(x + 300)) * 1e-300 : <f64>m * Math.pow(10, <f64>x);
    if (!isFinite(est)) est = f64.MAX_VALUE;
    r = roundExact(digits, n, point, more, est);
  }
  return neg ? -r : r;
}

/** The f64 nearest to 0.d1…dn × 10^point (+ a little when `more`), starting from `est`. */
function roundExact(digits: i32[], n: i32, point: i32, more: bool, est: f64): f64 {
  let big = new Big();
  for (let i = 0; i < n; i++) big.mulAdd(10, <u32>digits[i]);
  let bits = reinterpret<u64>(est);
  for (let step = 0; step < 64; step++) {
    let up = compareMid(big, point - n, bits, more);
    if (up > 0 || (up == 0 && (bits & 1))) {
      if (bits == 0x7fefffffffffffff) return Infinity;
      bits++;
      continue;
    }
    if (bits == 0) return 0;
    let down = compareMid(big, point - n, bits - 1, more);
    if (down < 0 || (down == 0 && (bits & 1))) { bits--; continue; }
    break;
  }
  return reinterpret<f64>(bits);
}

/** Compares N × 10^a (N the digits; "+ a little" when `more`) with the midpoint above the double `bits`. */
function compareMid(digits: Big, a: i32, bits: u64, more: bool): i32 {
  let be = <i32>((bits >> 52) & 0x7ff);
  let mant = bits & 0xfffffffffffff;
  let e: i32;
  if (be == 0) e = -1074; else { mant |= <u64>1 << 52; e = be - 1075; }
  // midpoint = (2·mant + 1) × 2^(e-1)
  let lhs = new Big();
  lhs.limbs = digits.limbs.slice();
  let rhs = Big.of(mant * 2 + 1);
  let b2 = e - 1;
  // 10^a = 5^a × 2^a: put each factor on the side where its exponent is positive
  if (a >= 0) lhs.mulPow5(a); else rhs.mulPow5(-a);
  let twos = a - b2; // lhs × 2^twos vs rhs
  if (twos >= 0) lhs.shl(twos); else rhs.shl(-twos);
  let c = lhs.compare(rhs);
  return c == 0 && more ? 1 : c;
}

// ---------------------------------------------------------------------------------------------
// Views.

// Views handed out during one user call come from a pool that the runners recycle before each call
// (a view, like a Record, is only valid during the call that got it): lookups allocate nothing.
let pool = new Array<Json>();
let poolNext = 0;

/** Called by the runners before each user call: the views of the previous call are reused. */
export function recycleJsonViews(): void { poolNext = 0; }

function view(ptr: usize, end: usize): Json {
  if (poolNext == pool.length) pool.push(new Json());
  let v = unchecked(pool[poolNext++]);
  v.ptr = ptr;
  v.end = end;
  return v;
}

/**
 * A value inside a checked document: where it starts. A missing value (absent key, index out of
 * range, rejected document) answers every question with a default: `str()` "", `f64()` NaN,
 * `i64()` 0, `bool()` false.
 */
export class Json {
  /** `ptr`: the value's first byte (0: missing); `end`: the end of the document. */
  constructor(public ptr: usize = 0, public end: usize = 0) {}

  /** False for a missing value. */
  get exists(): bool { return this.ptr != 0; }

  get type(): JsonType {
    if (this.ptr == 0) return JsonType.Missing;
    let c = <u32>load<u8>(this.ptr);
    if (c == 0x22) return JsonType.String;
    if (c == 0x7b) return JsonType.Object;
    if (c == 0x5b) return JsonType.Array;
    if (c == 0x6e) return JsonType.Null;
    if (c == 0x74 || c == 0x66) return JsonType.Bool;
    return JsonType.Number;
  }

  get isString(): bool { return this.type == JsonType.String; }
  get isNumber(): bool { return this.type == JsonType.Number; }
  get isObject(): bool { return this.type == JsonType.Object; }
  get isArray(): bool { return this.type == JsonType.Array; }
  get isNull(): bool { return this.type == JsonType.Null; }
  get isBool(): bool { return this.type == JsonType.Bool; }

  /** Object member `key` (the last one if repeated, as JSON.parse and serde_json), or missing. */
  get(key: string): Json {
    return view(this.ptr != 0 && load<u8>(this.ptr) == 0x7b ? findKey(this.ptr, this.end, key) : 0, this.end);
  }

  /** Array element `i`, or missing. */
  at(i: i32): Json {
    let end = this.end;
    if (this.ptr == 0 || load<u8>(this.ptr) != 0x5b || i < 0) return view(0, end);
    let p = skipWs(this.ptr + 1, end);
    if (load<u8>(p) == 0x5d) return view(0, end);
    for (let k = 0; k < i; k++) {
      p = skipWs(skipValue(p, end), end);
      if (load<u8>(p) == 0x5d) return view(0, end);
      p = skipWs(p + 1, end);
    }
    return view(p, end);
  }

  /** Elements of an array or members of an object (counted by walking); 0 otherwise. */
  get length(): i32 {
    let it = this.type == JsonType.Object ? this.fields() : this.items();
    let n = 0;
    while (it.next()) n++;
    return n;
  }

  /** Iterates an array: `let it = v.items(); while (it.next()) use(it.value);`. */
  items(): JsonIter { return new JsonIter(this.type == JsonType.Array ? this.ptr : 0, this.end, false); }

  /** Iterates an object's members in input order (repeats included): `it.key()`, `it.keyIs(s)`, `it.value`. */
  fields(): JsonIter { return new JsonIter(this.type == JsonType.Object ? this.ptr : 0, this.end, true); }

  /** A string's text (escapes decoded); "" for anything else. */
  str(): string {
    if (this.type != JsonType.String) return "";
    let e = skipString(this.ptr, this.end);
    if (!escaped) return String.UTF8.decodeUnsafe(this.ptr + 1, e - this.ptr - 2);
    return decodeString(this.ptr, e);
  }

  /** Whether this is a string equal to s, compared in place (nothing is allocated unless it has escapes). */
  equals(s: string): bool {
    return this.type == JsonType.String && stringEquals(this.ptr, this.end, s);
  }

  /** A number as f64 (correctly rounded; beyond f64 range ±Infinity, like JSON.parse); NaN otherwise. */
  f64(): f64 {
    if (this.type != JsonType.Number) return NaN;
    return numberF64(this.ptr, skipValue(this.ptr, this.end));
  }

  /** A number as i64: exact for integers that fit, else the f64 value truncated; 0 otherwise. */
  i64(): i64 {
    if (this.type != JsonType.Number) return 0;
    let e = skipValue(this.ptr, this.end);
    let q = this.ptr;
    let neg = load<u8>(q) == 0x2d;
    if (neg) q++;
    let m: u64 = 0;
    while (q < e && isDigit(load<u8>(q))) {
      let d = <u64>(load<u8>(q) - 0x30);
      if (m > (<u64>i64.MAX_VALUE - d) / 10) break;
      m = m * 10 + d;
      q++;
    }
    if (q == e) return neg ? -<i64>m : <i64>m;
    let f = numberF64(this.ptr, e);
    return isFinite(f) ? <i64>f : 0;
  }

  /** A number written without fraction or exponent (`12`, `-3`; not `12.0`, `1e3`). */
  get isInteger(): bool {
    if (this.type != JsonType.Number) return false;
    let e = skipValue(this.ptr, this.end);
    for (let q = this.ptr; q < e; q++) {
      let c = load<u8>(q);
      if (c == 0x2e || (c | 0x20) == 0x65) return false;
    }
    return true;
  }

  /** An integer serde_json keeps exactly (fits i64 or u64; `-0` is a float there). */
  get isExactInteger(): bool {
    if (!this.isInteger) return false;
    let e = skipValue(this.ptr, this.end);
    let q = this.ptr;
    let neg = load<u8>(q) == 0x2d;
    if (neg) q++;
    let m: u64 = 0;
    for (; q < e; q++) {
      let d = <u64>(load<u8>(q) - 0x30);
      if (m > (u64.MAX_VALUE - d) / 10) return false;
      m = m * 10 + d;
    }
    return neg ? m != 0 && m <= <u64>i64.MAX_VALUE + 1 : true;
  }

  /** A non-negative integer as u64 (exact up to u64::MAX); 0 otherwise. */
  u64(): u64 {
    if (!this.isExactInteger || load<u8>(this.ptr) == 0x2d) return 0;
    let e = skipValue(this.ptr, this.end);
    let m: u64 = 0;
    for (let q = this.ptr; q < e; q++) m = m * 10 + <u64>(load<u8>(q) - 0x30);
    return m;
  }

  /** true for `true`; false otherwise. */
  bool(): bool { return this.ptr != 0 && load<u8>(this.ptr) == 0x74; }

  /** Byte length of the value's text in the input (0 when missing). */
  get byteLength(): i32 { return this.ptr == 0 ? 0 : <i32>(skipValue(this.ptr, this.end) - this.ptr); }
}

function findKey(obj: usize, end: usize, key: string): usize {
  if (obj == tabRoot && end == tabEnd) return findRootKey(key);
  let found: usize = 0;
  let p = skipWs(obj + 1, end);
  if (load<u8>(p) == 0x7d) return 0;
  while (true) {
    let hit = stringEquals(p, end, key);
    p = skipWs(skipWs(strEnd, end) + 1, end); // past ':'
    if (hit) found = p;
    p = skipWs(skipValue(p, end), end);
    if (load<u8>(p) == 0x7d) return found;
    p = skipWs(p + 1, end);
  }
  return found;
}

/** `findKey` on the root object from the members the check pass recorded (the last one wins). */
function findRootKey(key: string): usize {
  let b = utf8Of(key);
  let n = <u32>b.byteLength;
  for (let i = tabCount - 1; i >= 0; i--) {
    let e = tab + <usize>i * 12;
    let ks = load<u32>(e);
    let ke = load<u32>(e, 4);
    if (ke & 0x80000000) {
      ke &= 0x7fffffff;
      if (decodeString(<usize>ks - 1, <usize>ke + 1) == key) return <usize>load<u32>(e, 8);
    } else if (ke - ks == n && memory.compare(<usize>ks, changetype<usize>(b), <usize>n) == 0) {
      return <usize>load<u32>(e, 8);
    }
  }
  return 0;
}

/** A cursor over an array's elements or an object's members; `value` is reused by each step. */
export class JsonIter {
  value: Json;
  private keyAt: usize = 0;
  private p: usize;

  constructor(container: usize, private end: usize, private inObject: bool) {
    this.p = container; // 0: nothing to iterate
    this.value = view(0, end);
  }

  /** Moves to the next element; false at the end. */
  next(): bool {
    let p = this.p;
    let end = this.end;
    if (p == 0) return false;
    if (this.value.ptr == 0) p = skipWs(p + 1, end); // first step: past the bracket
    else {
      p = skipWs(skipValue(this.value.ptr, end), end);
      if (load<u8>(p) == 0x2c) p = skipWs(p + 1, end);
    }
    let c = load<u8>(p);
    if (c == 0x7d || c == 0x5d) { this.p = 0; this.value.ptr = 0; return false; }
    if (this.inObject) {
      this.keyAt = p;
      p = skipWs(skipWs(skipString(p, end), end) + 1, end);
    }
    this.p = p;
    this.value.ptr = p;
    return true;
  }

  /** The current member's key (objects). */
  key(): string {
    if (this.keyAt == 0) return "";
    let e = skipString(this.keyAt, this.end);
    return escaped ? decodeString(this.keyAt, e) : String.UTF8.decodeUnsafe(this.keyAt + 1, e - this.keyAt - 2);
  }

  /** Whether the current member's key is s, compared in place. */
  keyIs(s: string): bool { return this.keyAt != 0 && stringEquals(this.keyAt, this.end, s); }
}

/**
 * Checks [ptr, ptr+len) as a JSON document and returns its root. A rejected document reports
 * `invalid JSON at byte N: what` through `fail` and returns a missing view.
 */
export function readJson(ptr: usize, len: i32): Json {
  let end = ptr + <usize>len;
  tabRoot = 0;
  if (!check(ptr, end)) {
    jsonErrorOffset = <i32>(errAt - ptr);
    jsonErrorWhat = errWhat;
    fail("invalid JSON at byte " + jsonErrorOffset.toString() + ": " + errWhat);
    return view(0, end);
  }
  jsonErrorOffset = -1;
  tabRoot = skipWs(ptr, end);
  tabEnd = end;
  return view(tabRoot, end);
}

/** Like `readJson` but only answers whether the document is valid (no error reported). */
export function isJson(ptr: usize, len: i32): bool {
  let end = ptr + <usize>len;
  tabRoot = 0;
  let ok = check(ptr, end);
  if (ok) { tabRoot = skipWs(ptr, end); tabEnd = end; }
  jsonErrorOffset = ok ? -1 : <i32>(errAt - ptr);
  jsonErrorWhat = ok ? "" : errWhat;
  return ok;
}

/** Set by `jsonStringRaw`: whether the string has backslash escapes. */
export let jsonStringEscaped = false;

/** Byte length of a string value's text between its quotes, as in the input (escapes not decoded). */
export function jsonStringRaw(v: Json): i32 {
  let e = skipString(v.ptr, v.end);
  jsonStringEscaped = escaped;
  return <i32>(e - v.ptr - 2);
}
