// Writing JSON bytes directly, compact and escaped exactly as serde_json writes them (strings:
// `"` `\` and control characters escaped, `\b \f \n \r \t` short forms, others `\u00XX`; `/` and
// non-ASCII kept as UTF-8; floats as serde_json prints them). With the members written in a Rust struct's field
// order, the output is byte-identical to `serde_json::to_vec(&value)`.
//
//     let w = jsonWriter();            // shared, reset for each use
//     w.beginObject().key("level").string(lv).key("ts").i64(ts).endObject();
//     out.value(w);                    // copied into the output, no intermediate copy

import { formatF64Json } from "./json";
import { Json, JsonType, jsonStringRaw, jsonStringEscaped } from "./ondemand";

const HEX = "0123456789abcdef";

export class JsonWriter {
  private buf: usize = heap.alloc(256);
  private cap: usize = 256;
  private pos: usize = 0;
  private comma: bool = false;

  /** Empties the writer (the previous `view()` is no longer valid). */
  reset(): JsonWriter { this.pos = 0; this.comma = false; return this; }

  get length(): i32 { return <i32>this.pos; }

  /** Address of the bytes written so far (valid until the next write or reset). */
  get ptr(): usize { return this.buf; }

  /** A copy of the bytes written so far (`out.value(w)` takes the writer itself, without a copy). */
  toUint8Array(): Uint8Array {
    let a = new Uint8Array(<i32>this.pos);
    memory.copy(a.dataStart, this.buf, this.pos);
    return a;
  }

  /** The bytes written so far as a string (for tests and logging). */
  toString(): string { return String.UTF8.decodeUnsafe(this.buf, this.pos); }

  beginObject(): JsonWriter { this.sep(); this.byte(0x7b); this.comma = false; return this; }
  endObject(): JsonWriter { this.byte(0x7d); this.comma = true; return this; }
  beginArray(): JsonWriter { this.sep(); this.byte(0x5b); this.comma = false; return this; }
  endArray(): JsonWriter { this.byte(0x5d); this.comma = true; return this; }

  /** An object member's key; the next write is its value. */
  key(k: string): JsonWriter { this.sep(); this.quoted(k); this.byte(0x3a); this.comma = false; return this; }

  string(s: string): JsonWriter { this.sep(); this.quoted(s); this.comma = true; return this; }
  null(): JsonWriter { this.sep(); this.ascii("null"); this.comma = true; return this; }
  bool(b: bool): JsonWriter { this.sep(); this.ascii(b ? "true" : "false"); this.comma = true; return this; }
  i64(x: i64): JsonWriter { this.sep(); this.ascii(x.toString()); this.comma = true; return this; }
  u64(x: u64): JsonWriter { this.sep(); this.ascii(x.toString()); this.comma = true; return this; }
  /** A float as serde_json writes an f64 (`1.0`, `1e+22`; NaN and infinities as `null`). */
  f64(x: f64): JsonWriter { this.sep(); this.ascii(formatF64Json(x)); this.comma = true; return this; }

  /**
   * A string value of the input written as serde_json would re-write it: copied as is when it has
   * no escapes (the usual case), else its escapes rewritten in serde's form, byte to byte (no
   * string is decoded or allocated either way).
   * Anything but a string is written as `null`.
   */
  stringOf(v: Json): JsonWriter {
    if (v.type != JsonType.String) return this.null();
    this.sep();
    let n = jsonStringRaw(v);
    if (!jsonStringEscaped) {
      this.bytes(v.ptr, <usize>n + 2);
    } else this.requoted(v.ptr, v.ptr + <usize>n + 2);
    this.comma = true;
    return this;
  }

  /**
   * A number of the input written as serde_json writes what it reads it as: an integer that fits
   * i64/u64 as it is, anything else as its f64 (like `f64(v.f64())`). The text is copied unchanged
   * when it already is that form, which saves the float formatting for the usual `12.5`.
   */
  numberOf(v: Json): JsonWriter {
    if (v.type != JsonType.Number) return this.null();
    if (v.isExactInteger || isShortestDecimal(v.ptr, v.ptr + <usize>v.byteLength)) return this.rawOf(v);
    return this.f64(v.f64());
  }

  /** The value's text exactly as in the input (for values already in the wanted form). */
  rawOf(v: Json): JsonWriter {
    if (!v.exists) return this.null();
    this.sep();
    this.bytes(v.ptr, <usize>v.byteLength);
    this.comma = true;
    return this;
  }

  private sep(): void { if (this.comma) this.byte(0x2c); }

  private grow(n: usize): void {
    if (this.pos + n <= this.cap) return;
    let cap = this.cap * 2;
    while (cap < this.pos + n) cap *= 2;
    this.buf = heap.realloc(this.buf, cap);
    this.cap = cap;
  }

  private byte(c: u32): void { this.grow(1); store<u8>(this.buf + this.pos, c); this.pos++; }

  private bytes(p: usize, n: usize): void { this.grow(n); memory.copy(this.buf + this.pos, p, n); this.pos += n; }

  private ascii(s: string): void {
    let n = s.length;
    this.grow(<usize>n);
    for (let i = 0; i < n; i++) store<u8>(this.buf + this.pos + <usize>i, s.charCodeAt(i));
    this.pos += <usize>n;
  }

  /** A string literal; lone surrogates (which serde_json cannot hold) as `\uXXXX`, like JSON.stringify. */
  private quoted(s: string): void {
    let n = s.length;
    this.grow(<usize>n * 3 + 2);
    this.byte(0x22);
    for (let i = 0; i < n; i++) {
      let c = <u32>s.charCodeAt(i);
      if (c >= 0x20 && c < 0x80 && c != 0x22 && c != 0x5c) { this.byte(c); continue; }
      if (c == 0x22 || c == 0x5c) { this.byte(0x5c); this.byte(c); continue; }
      if (c < 0x20) {
        this.byte(0x5c);
        if (c == 8) this.byte(0x62);
        else if (c == 9) this.byte(0x74);
        else if (c == 10) this.byte(0x6e);
        else if (c == 12) this.byte(0x66);
        else if (c == 13) this.byte(0x72);
        else this.escapeU(c, false);
        continue;
      }
      if (c < 0x800) { this.byte(0xc0 | (c >> 6)); this.byte(0x80 | (c & 0x3f)); continue; }
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        let lo = <u32>s.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          let cp = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          this.byte(0xf0 | (cp >> 18)); this.byte(0x80 | ((cp >> 12) & 0x3f));
          this.byte(0x80 | ((cp >> 6) & 0x3f)); this.byte(0x80 | (cp & 0x3f));
          i++;
          continue;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) { this.byte(0x5c); this.escapeU(c, true); continue; }
      this.byte(0xe0 | (c >> 12)); this.byte(0x80 | ((c >> 6) & 0x3f)); this.byte(0x80 | (c & 0x3f));
    }
    this.byte(0x22);
  }

  /**
   * The checked string literal [p, e) of the input (quotes included) with its escapes in serde's
   * form: `\/` and `\u` escapes of characters serde writes as they are become UTF-8 (a pair of
   * surrogate escapes one 4-byte character), the rest keep or take serde's escape. The output is
   * never longer than the input, so room is made once and runs between escapes are block copies.
   */
  private requoted(p: usize, e: usize): void {
    this.grow(e - p);
    let o = this.buf + this.pos;
    let q = p + 1;
    let to = e - 1;
    store<u8>(o++, 0x22);
    while (q < to) {
      let run = q;
      while (q < to && load<u8>(q) != 0x5c) q++;
      if (q > run) { memory.copy(o, run, q - run); o += q - run; }
      if (q >= to) break;
      let x = <u32>load<u8>(q + 1);
      q += 2;
      if (x != 0x75) {
        if (x != 0x2f) store<u8>(o++, 0x5c);
        store<u8>(o++, x);
        continue;
      }
      let c = hex4(q);
      q += 4;
      if (c >= 0xd800 && c <= 0xdbff && q + 6 <= to && load<u8>(q) == 0x5c && load<u8>(q + 1) == 0x75) {
        let lo = hex4(q + 2);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          let cp = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          store<u8>(o, 0xf0 | (cp >> 18)); store<u8>(o, 0x80 | ((cp >> 12) & 0x3f), 1);
          store<u8>(o, 0x80 | ((cp >> 6) & 0x3f), 2); store<u8>(o, 0x80 | (cp & 0x3f), 3);
          o += 4;
          q += 6;
          continue;
        }
      }
      if (c < 0x20 || c == 0x22 || c == 0x5c || (c >= 0xd800 && c <= 0xdfff)) {
        // what `quoted` writes for it: short forms, else \u with lowercase hex
        this.pos = o - this.buf;
        this.byte(0x5c);
        if (c == 0x22 || c == 0x5c) this.byte(c);
        else if (c == 8) this.byte(0x62);
        else if (c == 9) this.byte(0x74);
        else if (c == 10) this.byte(0x6e);
        else if (c == 12) this.byte(0x66);
        else if (c == 13) this.byte(0x72);
        else this.escapeU(c, c >= 0xd800);
        o = this.buf + this.pos;
      } else if (c < 0x80) {
        store<u8>(o++, c);
      } else if (c < 0x800) {
        store<u8>(o, 0xc0 | (c >> 6)); store<u8>(o, 0x80 | (c & 0x3f), 1);
        o += 2;
      } else {
        store<u8>(o, 0xe0 | (c >> 12)); store<u8>(o, 0x80 | ((c >> 6) & 0x3f), 1); store<u8>(o, 0x80 | (c & 0x3f), 2);
        o += 3;
      }
    }
    store<u8>(o++, 0x22);
    this.pos = o - this.buf;
  }

  private escapeU(c: u32, wide: bool): void {
    this.byte(0x75);
    this.byte(wide ? HEX.charCodeAt((c >> 12) & 15) : 0x30);
    this.byte(wide ? HEX.charCodeAt((c >> 8) & 15) : 0x30);
    this.byte(HEX.charCodeAt((c >> 4) & 15));
    this.byte(HEX.charCodeAt(c & 15));
  }
}

// @ts-ignore: decorator
@lazy const shared = new JsonWriter();

/** The value of four hex digits at p (already checked by the reader). */
function hex4(p: usize): u32 {
  let v: u32 = 0;
  for (let i: usize = 0; i < 4; i++) {
    let c = <u32>load<u8>(p + i);
    v = (v << 4) | ((c & 0xf) + (c >> 6) * 9);
  }
  return v;
}

/**
 * Whether the number text [p, e) is exactly what serde_json prints for the f64 it reads as:
 * plain decimal notation with a fraction, no trailing zero, at most 15 significant digits (no
 * other decimal of at most 15 digits reads as the same double, so none is shorter), and not below
 * 1e-5 (serde switches to an exponent there).
 */
function isShortestDecimal(p: usize, e: usize): bool {
  if (load<u8>(p) == 0x2d) p++;
  let intZero = load<u8>(p) == 0x30;
  let sig = 0;
  while (p < e && <u32>(load<u8>(p) - 0x30) < 10) { p++; sig++; }
  if (p >= e || load<u8>(p) != 0x2e) return false;
  if (intZero) sig = 0;
  p++;
  let leadingZeros = 0;
  let frac = 0;
  while (p < e && <u32>(load<u8>(p) - 0x30) < 10) {
    if (intZero && frac == leadingZeros && load<u8>(p) == 0x30) leadingZeros++;
    frac++;
    p++;
  }
  if (p != e || load<u8>(e - 1) == 0x30) return false; // an exponent, or a trailing zero
  if (leadingZeros > 4) return false;
  return sig + frac - leadingZeros <= 15;
}

/** The module's shared writer, emptied: use it for one output at a time. */
export function jsonWriter(): JsonWriter {
  return shared.reset();
}
