// A small JSON reader/writer whose output matches serde_json (what Rust SmartModules use):
// compact, object keys sorted (serde_json::Value's default BTreeMap), strings escaped as serde_json
// does, integers kept exact (u64/i64), other numbers as f64 printed as serde_json does. Errors are reported
// with serde_json's wording ("expected value at line 1 column 1", ...) through `fail`.
//
// It allocates a tree; it is meant for convenience, not for the hot path of plain filters.

import { Bytes } from "./bytes";
import { fail } from "./error";
import { utf8Valid } from "./abi";
import { shortestDigits, shortDigits, shortPoint } from "./shortest";

export enum JsonKind { Null, Bool, Int, Float, String, Array, Object }

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  bool: bool = false;
  /** Integers: sign and magnitude (serde_json keeps u64 and i64 exactly). */
  negative: bool = false;
  magnitude: u64 = 0;
  float: f64 = 0;
  str: string = "";
  items: JsonValue[] | null = null;
  /** Object entries in input order (duplicates kept; lookups take the last, as serde_json does). */
  keys: string[] | null = null;
  values: JsonValue[] | null = null;
  /** Parsed values: byte offset just after the value in the input (serde_json error positions). */
  end: i32 = 0;
  /** Parsed objects: byte offset just after each key string. */
  keyEnds: i32[] | null = null;

  static null(): JsonValue { return new JsonValue(); }
  static fromBool(b: bool): JsonValue { let v = new JsonValue(); v.kind = JsonKind.Bool; v.bool = b; return v; }
  static fromString(s: string): JsonValue { let v = new JsonValue(); v.kind = JsonKind.String; v.str = s; return v; }
  static fromF64(f: f64): JsonValue { let v = new JsonValue(); v.kind = JsonKind.Float; v.float = f; return v; }
  static fromI64(i: i64): JsonValue {
    let v = new JsonValue();
    v.kind = JsonKind.Int;
    v.negative = i < 0;
    v.magnitude = i < 0 ? <u64>(-i) : <u64>i;
    return v;
  }
  static fromU64(u: u64): JsonValue { let v = new JsonValue(); v.kind = JsonKind.Int; v.magnitude = u; return v; }
  static array(): JsonValue { let v = new JsonValue(); v.kind = JsonKind.Array; v.items = []; return v; }
  static object(): JsonValue { let v = new JsonValue(); v.kind = JsonKind.Object; v.keys = []; v.values = []; return v; }

  get isNull(): bool { return this.kind == JsonKind.Null; }
  get isString(): bool { return this.kind == JsonKind.String; }
  get isNumber(): bool { return this.kind == JsonKind.Int || this.kind == JsonKind.Float; }
  get isObject(): bool { return this.kind == JsonKind.Object; }
  get isArray(): bool { return this.kind == JsonKind.Array; }

  /** Object member (last occurrence), or null. */
  get(key: string): JsonValue | null {
    if (this.kind != JsonKind.Object) return null;
    let keys = this.keys!;
    for (let i = keys.length - 1; i >= 0; i--) if (keys[i] == key) return this.values![i];
    return null;
  }

  set(key: string, value: JsonValue): JsonValue {
    let keys = this.keys!;
    for (let i = keys.length - 1; i >= 0; i--) if (keys[i] == key) { this.values![i] = value; return this; }
    keys.push(key);
    this.values!.push(value);
    return this;
  }

  push(value: JsonValue): JsonValue {
    this.items!.push(value);
    return this;
  }

  get length(): i32 {
    if (this.kind == JsonKind.Array) return this.items!.length;
    if (this.kind == JsonKind.Object) return this.keys!.length;
    return 0;
  }

  at(i: i32): JsonValue { return this.items![i]; }

  /** As f64 (serde's `as_f64`): any number; 0 otherwise. */
  asF64(): f64 {
    if (this.kind == JsonKind.Float) return this.float;
    if (this.kind == JsonKind.Int) return this.negative ? -<f64>this.magnitude : <f64>this.magnitude;
    return 0;
  }

  asI64(): i64 { return this.negative ? -<i64>this.magnitude : <i64>this.magnitude; }

  /** True for an integer that fits i64. */
  get isI64(): bool {
    return this.kind == JsonKind.Int && (this.negative ? this.magnitude <= <u64>i64.MAX_VALUE + 1 : this.magnitude <= <u64>i64.MAX_VALUE);
  }

  /** serde_json's "unexpected" description used in type errors, e.g. "string \"x\"", "integer `5`". */
  describe(): string {
    switch (this.kind) {
      case JsonKind.Null: return "null";
      case JsonKind.Bool: return "boolean `" + (this.bool ? "true" : "false") + "`";
      case JsonKind.Int: return "integer `" + (this.negative ? "-" : "") + this.magnitude.toString() + "`";
      case JsonKind.Float: return "floating point `" + formatF64Json(this.float) + "`";
      case JsonKind.String: return "string \"" + this.str + "\"";
      case JsonKind.Array: return "sequence";
      default: return "map";
    }
  }

  /** Compact JSON text exactly as `serde_json::to_string(&value)` writes it. */
  stringify(): string {
    let parts = new Array<string>();
    writeValue(this, parts);
    return parts.join("");
  }
}

// ---------------------------------------------------------------------------------------------
// Writing.

const HEX = "0123456789abcdef";

/** A JSON string literal with serde_json's escaping. */
export function quoteJson(s: string): string {
  let needs = false;
  for (let i = 0, n = s.length; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x20 || c == 0x22 || c == 0x5c) { needs = true; break; }
  }
  if (!needs) return "\"" + s + "\"";
  let out = new Array<string>();
  out.push("\"");
  let start = 0;
  for (let i = 0, n = s.length; i < n; i++) {
    let c = s.charCodeAt(i);
    let esc: string | null = null;
    if (c == 0x22) esc = "\\\"";
    else if (c == 0x5c) esc = "\\\\";
    else if (c == 0x08) esc = "\\b";
    else if (c == 0x09) esc = "\\t";
    else if (c == 0x0a) esc = "\\n";
    else if (c == 0x0c) esc = "\\f";
    else if (c == 0x0d) esc = "\\r";
    else if (c < 0x20) esc = "\\u00" + HEX.charAt(c >> 4) + HEX.charAt(c & 15);
    if (esc !== null) {
      if (i > start) out.push(s.substring(start, i));
      out.push(esc);
      start = i + 1;
    }
  }
  if (start < s.length) out.push(s.substring(start));
  out.push("\"");
  return out.join("");
}

/** Code-point order (= UTF-8 byte order, BTreeMap<String, _>). */
function compareKeys(a: string, b: string): i32 {
  let n = min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = <i32>a.charCodeAt(i);
    let y = <i32>b.charCodeAt(i);
    if (x == y) continue;
    // Surrogates (D800–DFFF) encode code points above every BMP character.
    let xs = x >= 0xd800 && x <= 0xdfff;
    let ys = y >= 0xd800 && y <= 0xdfff;
    if (xs != ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function writeValue(v: JsonValue, out: string[]): void {
  switch (v.kind) {
    case JsonKind.Null: out.push("null"); break;
    case JsonKind.Bool: out.push(v.bool ? "true" : "false"); break;
    case JsonKind.Int: out.push((v.negative ? "-" : "") + v.magnitude.toString()); break;
    case JsonKind.Float: out.push(isFinite(v.float) ? formatF64Json(v.float) : "null"); break;
    case JsonKind.String: out.push(quoteJson(v.str)); break;
    case JsonKind.Array: {
      out.push("[");
      let items = v.items!;
      for (let i = 0; i < items.length; i++) {
        if (i > 0) out.push(",");
        writeValue(items[i], out);
      }
      out.push("]");
      break;
    }
    default: {
      // Last occurrence of each key, in key order.
      let keys = v.keys!;
      let vals = v.values!;
      let order = new Array<i32>();
      for (let i = 0; i < keys.length; i++) {
        let dup = false;
        for (let j = i + 1; j < keys.length; j++) if (keys[j] == keys[i]) { dup = true; break; }
        if (!dup) order.push(i);
      }
      // insertion sort (objects are small)
      for (let i = 1; i < order.length; i++) {
        let x = order[i];
        let j = i - 1;
        while (j >= 0 && compareKeys(keys[order[j]], keys[x]) > 0) { order[j + 1] = order[j]; j--; }
        order[j + 1] = x;
      }
      out.push("{");
      for (let i = 0; i < order.length; i++) {
        if (i > 0) out.push(",");
        out.push(quoteJson(keys[order[i]]));
        out.push(":");
        writeValue(vals[order[i]], out);
      }
      out.push("}");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Float formatting.

/** Shortest round-trip digits of a finite non-zero |x| into fdigits, with x = 0.<fdigits> × 10^fexp. */
let fdigits = "";
let fexp: i32 = 0;

function decompose(x: f64): void {
  shortestDigits(x);
  fdigits = shortDigits;
  fexp = shortPoint;
}

/** f64 as serde_json prints it: `1.0`, `0.1`, `1e+16`, `1.5e-7`, `-0.0`. Non-finite: "null". */
export function formatF64Json(x: f64): string {
  if (!isFinite(x)) return "null";
  let sign = (x < 0 || (x == 0 && 1 / x < 0)) ? "-" : "";
  if (x == 0) return sign + "0.0";
  decompose(Math.abs(x));
  let d = fdigits;
  let length = d.length;
  let kk = fexp; // position of the decimal point relative to the digits
  let k = kk - length;
  if (0 <= k && kk <= 16) return sign + d + "0".repeat(k) + ".0";
  if (0 < kk && kk <= 16) return sign + d.substring(0, kk) + "." + d.substring(kk);
  if (-5 < kk && kk <= 0) return sign + "0." + "0".repeat(-kk) + d;
  // serde_json writes a `+` on positive exponents (since it prints with zmij; ryu wrote `1e16`)
  let exp = kk > 1 ? "+" + (kk - 1).toString() : (kk - 1).toString();
  if (length == 1) return sign + d + "e" + exp;
  return sign + d.substring(0, 1) + "." + d.substring(1) + "e" + exp;
}

/** f64 as Rust's `Display` (`x.to_string()`) prints it: shortest digits, never an exponent, `1` not `1.0`. */
export function formatF64Display(x: f64): string {
  if (isNaN(x)) return "NaN";
  if (!isFinite(x)) return x < 0 ? "-inf" : "inf";
  let sign = (x < 0 || (x == 0 && 1 / x < 0)) ? "-" : "";
  if (x == 0) return sign + "0";
  decompose(Math.abs(x));
  let d = fdigits;
  let kk = fexp;
  if (kk <= 0) return sign + "0." + "0".repeat(-kk) + d;
  if (kk >= d.length) return sign + d + "0".repeat(kk - d.length);
  return sign + d.substring(0, kk) + "." + d.substring(kk);
}

// ---------------------------------------------------------------------------------------------
// Parsing (serde_json rules: RFC 8259, no trailing commas, depth limit 128, trailing whitespace only).

let p: usize = 0;
let start: usize = 0;
let end: usize = 0;
let err: string | null = null;
let depth: i32 = 0;

/** Error text of the last failed `parseJson`, with serde_json's " at line L column C" suffix. */
export let jsonError: string | null = null;

function position(at: usize): string {
  let line = 1;
  let col = 0;
  for (let q = start; q < at && q < end; q++) {
    if (load<u8>(q) == 0x0a) { line++; col = 0; } else col++;
  }
  return " at line " + line.toString() + " column " + col.toString();
}

function error(msg: string, at: usize): void {
  // serde_json reports the position of the last byte it consumed (column 1-based).
  if (err === null) err = msg + position(at + 1 <= end ? at + 1 : end);
}

function eofError(msg: string): void {
  if (err === null) err = msg + position(end);
}

function skipWs(): void {
  while (p < end) {
    let c = load<u8>(p);
    if (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) p++;
    else break;
  }
}

function parseValue(): JsonValue | null {
  let v = parseValueInner();
  if (v !== null) v.end = <i32>(p - start);
  return v;
}

function parseValueInner(): JsonValue | null {
  skipWs();
  if (p >= end) { eofError("EOF while parsing a value"); return null; }
  let c = load<u8>(p);
  if (c == 0x7b) return parseObject();
  if (c == 0x5b) return parseArray();
  if (c == 0x22) {
    let s = parseString();
    return s === null ? null : JsonValue.fromString(s);
  }
  if (c == 0x74) return literal("true", JsonValue.fromBool(true));
  if (c == 0x66) return literal("false", JsonValue.fromBool(false));
  if (c == 0x6e) return literal("null", JsonValue.null());
  if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return parseNumber();
  error("expected value", p);
  return null;
}

function literal(word: string, v: JsonValue): JsonValue | null {
  for (let i = 0; i < word.length; i++) {
    if (p >= end) { eofError("EOF while parsing a value"); return null; }
    if (<u32>load<u8>(p) != <u32>word.charCodeAt(i)) { error("expected ident", p); return null; }
    p++;
  }
  return v;
}

function isDigit(c: u32): bool { return c - 0x30 <= 9; }

function parseNumber(): JsonValue | null {
  let s = p;
  let negative = false;
  if (load<u8>(p) == 0x2d) { negative = true; p++; }
  if (p >= end) { eofError("EOF while parsing a value"); return null; }
  let c = <u32>load<u8>(p);
  if (!isDigit(c)) { error("invalid number", p); return null; }
  let isFloat = false;
  let mag: u64 = 0;
  let overflow = false;
  if (c == 0x30) {
    p++;
    if (p < end && isDigit(load<u8>(p))) { error("invalid number", p); return null; }
  } else {
    while (p < end && isDigit(load<u8>(p))) {
      let d = <u64>(load<u8>(p) - 0x30);
      if (mag > (u64.MAX_VALUE - d) / 10) overflow = true;
      else mag = mag * 10 + d;
      p++;
    }
  }
  if (p < end && load<u8>(p) == 0x2e) {
    isFloat = true;
    p++;
    if (p >= end) { eofError("EOF while parsing a value"); return null; }
    if (!isDigit(load<u8>(p))) { error("invalid number", p); return null; }
    while (p < end && isDigit(load<u8>(p))) p++;
  }
  if (p < end && (load<u8>(p) == 0x65 || load<u8>(p) == 0x45)) {
    isFloat = true;
    p++;
    if (p < end && (load<u8>(p) == 0x2b || load<u8>(p) == 0x2d)) p++;
    if (p >= end) { eofError("EOF while parsing a value"); return null; }
    if (!isDigit(load<u8>(p))) { error("invalid number", p); return null; }
    while (p < end && isDigit(load<u8>(p))) p++;
  }
  if (!isFloat && !overflow) {
    if (!negative) return JsonValue.fromU64(mag);
    // serde_json: "-0" and values below i64::MIN become floats
    if (mag == 0) return JsonValue.fromF64(-0.0);
    if (mag <= <u64>i64.MAX_VALUE + 1) {
      let v = new JsonValue();
      v.kind = JsonKind.Int;
      v.negative = true;
      v.magnitude = mag;
      return v;
    }
  }
  let f = parseFloat(String.UTF8.decodeUnsafe(s, p - s));
  if (!isFinite(f)) { error("number out of range", p - 1); return null; }
  return JsonValue.fromF64(f);
}

function hex4(): i32 {
  let v = 0;
  for (let i = 0; i < 4; i++) {
    if (p >= end) { eofError("EOF while parsing a string"); return -1; }
    let c = <i32>load<u8>(p);
    let d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0) { error("invalid escape", p); return -1; }
    v = (v << 4) | d;
    p++;
  }
  return v;
}

function parseString(): string | null {
  p++; // opening quote
  let badUtf8 = false;
  let parts: string[] | null = null;
  let runStart = p;
  while (true) {
    if (p >= end) { eofError("EOF while parsing a string"); return null; }
    let c = load<u8>(p);
    if (c == 0x22) {
      let tail = String.UTF8.decodeUnsafe(runStart, p - runStart);
      badUtf8 = badUtf8 || !utf8Valid(runStart, <i32>(p - runStart));
      p++;
      // serde_json checks a string's UTF-8 once it has read the closing quote
      if (badUtf8) { if (err === null) err = "invalid unicode code point" + position(p); return null; }
      if (parts === null) return tail;
      parts.push(tail);
      return parts.join("");
    }
    if (c < 0x20) { error("control character (\\u0000-\\u001F) found while parsing a string", p); return null; }
    if (c == 0x5c) {
      if (parts === null) parts = new Array<string>();
      badUtf8 = badUtf8 || !utf8Valid(runStart, <i32>(p - runStart));
      parts.push(String.UTF8.decodeUnsafe(runStart, p - runStart));
      p++;
      if (p >= end) { eofError("EOF while parsing a string"); return null; }
      let e = load<u8>(p);
      p++;
      if (e == 0x22) parts.push("\"");
      else if (e == 0x5c) parts.push("\\");
      else if (e == 0x2f) parts.push("/");
      else if (e == 0x62) parts.push("\b");
      else if (e == 0x66) parts.push("\f");
      else if (e == 0x6e) parts.push("\n");
      else if (e == 0x72) parts.push("\r");
      else if (e == 0x74) parts.push("\t");
      else if (e == 0x75) {
        let u = hex4();
        if (u < 0) return null;
        if (u >= 0xd800 && u <= 0xdbff) {
          if (p + 1 < end && load<u8>(p) == 0x5c && load<u8>(p + 1) == 0x75) {
            p += 2;
            let lo = hex4();
            if (lo < 0) return null;
            if (lo < 0xdc00 || lo > 0xdfff) { error("lone leading surrogate in hex escape", p - 1); return null; }
            parts.push(String.fromCharCode(u, lo));
          } else {
            if (p >= end) { eofError("EOF while parsing a string"); return null; }
            error("unexpected end of hex escape", p);
            return null;
          }
        } else if (u >= 0xdc00 && u <= 0xdfff) {
          error("lone leading surrogate in hex escape", p - 1);
          return null;
        } else {
          parts.push(String.fromCharCode(u));
        }
      } else { error("invalid escape", p - 1); return null; }
      runStart = p;
      continue;
    }
    p++;
  }
  return null;
}

function parseArray(): JsonValue | null {
  if (++depth > 128) { error("recursion limit exceeded", p); return null; }
  p++;
  let v = JsonValue.array();
  skipWs();
  if (p < end && load<u8>(p) == 0x5d) { p++; depth--; return v; }
  while (true) {
    let item = parseValue();
    if (item === null) return null;
    v.items!.push(item);
    skipWs();
    if (p >= end) { eofError("EOF while parsing a list"); return null; }
    let c = load<u8>(p);
    if (c == 0x2c) {
      p++;
      skipWs();
      if (p < end && load<u8>(p) == 0x5d) { error("trailing comma", p); return null; }
      continue;
    }
    if (c == 0x5d) { p++; depth--; return v; }
    error("expected `,` or `]`", p);
    return null;
  }
  return null;
}

function parseObject(): JsonValue | null {
  if (++depth > 128) { error("recursion limit exceeded", p); return null; }
  p++;
  let v = JsonValue.object();
  v.keyEnds = [];
  skipWs();
  if (p < end && load<u8>(p) == 0x7d) { p++; depth--; return v; }
  while (true) {
    skipWs();
    if (p >= end) { eofError("EOF while parsing an object"); return null; }
    if (load<u8>(p) != 0x22) {
      if (load<u8>(p) == 0x7d) error("trailing comma", p);
      else error("key must be a string", p);
      return null;
    }
    let key = parseString();
    if (key === null) return null;
    let keyEnd = <i32>(p - start);
    skipWs();
    if (p >= end) { eofError("EOF while parsing an object"); return null; }
    if (load<u8>(p) != 0x3a) { error("expected `:`", p); return null; }
    p++;
    let val = parseValue();
    if (val === null) return null;
    v.keys!.push(key);
    v.values!.push(val);
    v.keyEnds!.push(keyEnd);
    skipWs();
    if (p >= end) { eofError("EOF while parsing an object"); return null; }
    let c = load<u8>(p);
    if (c == 0x2c) { p++; continue; }
    if (c == 0x7d) { p++; depth--; return v; }
    error("expected `,` or `}`", p);
    return null;
  }
  return null;
}

/** Offset just after the value parsed by the last successful `parseJson` (for error positions). */
export let jsonEnd: i32 = 0;

/**
 * Parses JSON bytes like `serde_json::from_slice::<Value>`. On error reports serde_json's message
 * through `fail` (so `return` after it ends the record with a runtime error) and returns null.
 */
export function parseJsonBytes(ptr: usize, len: i32): JsonValue | null {
  jsonError = null;
  start = ptr;
  p = ptr;
  end = ptr + <usize>len;
  err = null;
  depth = 0;
  let v: JsonValue | null = parseValue();
  if (v !== null) {
    skipWs();
    if (p < end) { error("trailing characters", p); v = null; }
  }
  if (v === null) {
    jsonError = err === null ? "invalid JSON" : err;
    fail(jsonError!);
    return null;
  }
  jsonEnd = v.end;
  return v;
}

export function parseJson(b: Bytes): JsonValue | null {
  return parseJsonBytes(b.ptr, b.length);
}

export function parseJsonString(s: string): JsonValue | null {
  let buf = String.UTF8.encode(s);
  return parseJsonBytes(changetype<usize>(buf), buf.byteLength);
}

/** serde_json's position suffix for an error found at byte offset `at` of the last parsed input. */
export function jsonPosition(at: i32): string {
  return position(start + <usize>at);
}
