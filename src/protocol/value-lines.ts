import { isUtf8 } from 'node:buffer';
import { indexRecords } from './record.js';
import { readVarint, type VarintResult } from './varint.js';

/**
 * The print path's fast lane: every value of a `Vec<Record>` (a result frame's bytes), each
 * followed by a newline, copied into one buffer straight from the frame — no record object and
 * no string per record. Each record takes at least 7 bytes of the list and at most its value
 * plus a newline of the output, so the output never outgrows the input.
 */

const vr: VarintResult = { value: 0, end: 0 };
/** Where the varint read by `varint` ended. */
let vEnd = 0;

/**
 * A zigzag varint at `p`. One and two bytes are read inline: deltas take one, and lengths of
 * 64–8191 bytes (a line of text, its record) take two. Longer ones go through readVarint.
 */
function varint(raw: Uint8Array, p: number): number {
  const b = raw[p];
  if (b !== undefined && b < 0x80) {
    vEnd = p + 1;
    return b & 1 ? -((b + 1) >>> 1) : b >>> 1;
  }
  const c = raw[p + 1];
  if (b !== undefined && c !== undefined && c < 0x80) {
    const z = (b & 0x7f) | (c << 7);
    vEnd = p + 2;
    return z & 1 ? -((z + 1) >>> 1) : z >>> 1;
  }
  readVarint(raw, p, vr);
  vEnd = vr.end;
  return vr.value;
}

/** Values as lines: each value's bytes as stored, then a newline (`-O raw`, `eddy transform`). */
export function valueLines(raw: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(raw.length);
  return out.subarray(0, writeValueLines(raw, out, 0, false));
}

/**
 * Values as lines when every value prints as itself as text (`-O dynamic` and `-O text` off a
 * terminal): valid UTF-8 with no NUL (Fluvio's binary test looks for one in the first KiB), no
 * PDF header, no byte order mark (the text decoder drops it). null when one does not: the caller
 * renders that batch record by record.
 */
export function textLines(raw: Uint8Array): Uint8Array | null {
  const out = Buffer.allocUnsafe(raw.length);
  const end = writeValueLines(raw, out, 0, true);
  return end < 0 ? null : out.subarray(0, end);
}

/**
 * Writes the values of `raw` as lines into `out` from `at` (which must have `raw.length` bytes
 * free: a record takes at least 7 bytes of the list, its line at most its value and a newline)
 * and returns where they end. With `text`, −1 when a value does not print as itself (see
 * textLines); what was written past `at` is then garbage.
 */
export function writeValueLines(raw: Uint8Array, out: Uint8Array, at: number, text: boolean): number {
  if (raw.length < 4) return at;
  const declared = (raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!;
  const count = declared < 1 ? 0 : declared;
  // The whole list in one copy, then each value moved down over the record fields before it
  // (copyWithin: no view object per record, 2× faster than copying value by value from `raw`).
  // A line never starts after its value, so nothing is overwritten before it is moved.
  out.set(raw, at);
  let p = 4;
  let w = at;
  for (let i = 0; i < count; i++) {
    const length = varint(raw, p);
    const end = vEnd + length;
    if (length < 0 || end > raw.length) return slowInto(raw, out, at, text); // the exact decoder says what is wrong
    p = vEnd + 1; // attributes
    varint(raw, p); // timestamp delta
    varint(raw, vEnd); // offset delta
    p = vEnd;
    if (raw[p++] === 1) {
      const keyLength = varint(raw, p);
      p = vEnd + keyLength;
    }
    const valueLength = varint(raw, p);
    const v = vEnd;
    if (valueLength < 0) return slowInto(raw, out, at, text);
    const len = Math.min(valueLength, raw.length - v);
    if (
      text &&
      ((len >= 4 && raw[v] === 0x25 && raw[v + 1] === 0x50 && raw[v + 2] === 0x44 && raw[v + 3] === 0x46) ||
        (len >= 3 && raw[v] === 0xef && raw[v + 1] === 0xbb && raw[v + 2] === 0xbf))
    )
      return -1;
    out.copyWithin(w, at + v, at + v + len);
    w += len;
    out[w++] = 0x0a;
    p = end;
  }
  if (text && w > at) {
    // A Buffer view: its indexOf is memchr, a Uint8Array's scans element by element (~50× slower).
    const written = Buffer.from(out.buffer, out.byteOffset + at, w - at);
    if (written.indexOf(0) >= 0 || !isUtf8(written)) return -1;
  }
  return w;
}

function slowInto(raw: Uint8Array, out: Uint8Array, at: number, text: boolean): number {
  const lines = slowValueLines(raw);
  if (text && (lines.indexOf(0) >= 0 || !isUtf8(lines))) return -1;
  out.set(lines, at);
  return at + lines.length;
}

/** The same through the exact decoder (which throws the decoding error a bad list deserves). */
function slowValueLines(raw: Uint8Array): Buffer {
  const idx = indexRecords(raw);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < idx.count; i++) parts.push(idx.value(i), NEWLINE);
  return Buffer.concat(parts);
}

const NEWLINE = Buffer.from('\n');
