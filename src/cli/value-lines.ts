import { isUtf8 } from 'node:buffer';
import { indexRecords } from '../protocol/record.js';
import { readVarint, type VarintResult } from '../protocol/varint.js';

/**
 * The print path's fast lane: every value of a `Vec<Record>` (a result frame's bytes), each
 * followed by a newline, copied into one buffer straight from the frame — no record object and
 * no string per record (a value over 64 bytes is copied through a view, the fastest copy). Each record takes at least 7 bytes of the list and at most its value plus a
 * newline of the output, so the output never outgrows the input.
 */

const vr: VarintResult = { value: 0, end: 0 };

/** Values as lines: each value's bytes as stored, then a newline (`-O raw`, `eddy transform`). */
export function valueLines(raw: Uint8Array): Uint8Array {
  return lines(raw, false)!;
}

/**
 * Values as lines when every value prints as itself as text (`-O dynamic` and `-O text` off a
 * terminal): valid UTF-8 with no NUL (Fluvio's binary test looks for one in the first KiB), no
 * PDF header, no byte order mark (the text decoder drops it). null when one does not: the caller
 * renders that batch record by record.
 */
export function textLines(raw: Uint8Array): Uint8Array | null {
  const out = lines(raw, true);
  if (out === null || out.indexOf(0) >= 0 || !isUtf8(out)) return null;
  return out;
}

function lines(raw: Uint8Array, text: boolean): Buffer | null {
  if (raw.length < 4) return Buffer.alloc(0);
  const declared = (raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!;
  const count = declared < 1 ? 0 : declared;
  const out = Buffer.allocUnsafe(raw.length);
  let p = 4;
  let w = 0;
  for (let i = 0; i < count; i++) {
    readVarint(raw, p, vr);
    const end = vr.end + vr.value;
    if (vr.value < 0 || end > raw.length) return slowValueLines(raw); // let the exact decoder say what is wrong
    p = vr.end + 1; // attributes
    readVarint(raw, p, vr); // timestamp delta
    readVarint(raw, vr.end, vr); // offset delta
    p = vr.end;
    if (raw[p++] === 1) {
      readVarint(raw, p, vr);
      p = vr.end + vr.value;
    }
    readVarint(raw, p, vr);
    const at = vr.end;
    if (vr.value < 0) return slowValueLines(raw);
    const len = Math.min(vr.value, raw.length - at);
    if (
      text &&
      ((len >= 4 && raw[at] === 0x25 && raw[at + 1] === 0x50 && raw[at + 2] === 0x44 && raw[at + 3] === 0x46) ||
        (len >= 3 && raw[at] === 0xef && raw[at + 1] === 0xbb && raw[at + 2] === 0xbf))
    )
      return null;
    if (len < 64) {
      for (let j = 0; j < len; j++) out[w + j] = raw[at + j]!;
    } else {
      out.set(raw.subarray(at, at + len), w);
    }
    w += len;
    out[w++] = 0x0a;
    p = end;
  }
  return out.subarray(0, w);
}

/** The same through the exact decoder (which throws the decoding error a bad list deserves). */
function slowValueLines(raw: Uint8Array): Buffer {
  const idx = indexRecords(raw);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < idx.count; i++) parts.push(idx.value(i), NEWLINE);
  return Buffer.concat(parts);
}

const NEWLINE = Buffer.from('\n');
