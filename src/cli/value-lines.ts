import { readVarint, type VarintResult } from '../protocol/varint.js';
import { indexRecords } from '../protocol/record.js';

/**
 * The print path's fast lane: every value of a `Vec<Record>` (a result frame's bytes), each
 * followed by a newline, copied into one buffer straight from the frame — no object, string or
 * view per record. Each record takes at least 7 bytes of the list and at most its value plus a
 * newline of the output, so the output never outgrows the input.
 */

const vr: VarintResult = { value: 0, end: 0 };

/** Values as lines; `prefix` bytes (e.g. nothing) are not added: raw bytes out, one line per value. */
export function valueLines(raw: Uint8Array): Uint8Array {
  if (raw.length < 4) return new Uint8Array(0);
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
    const len = Math.min(vr.value, raw.length - at);
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
function slowValueLines(raw: Uint8Array): Uint8Array {
  const idx = indexRecords(raw);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < idx.count; i++) parts.push(idx.value(i), NEWLINE);
  return Buffer.concat(parts);
}

const NEWLINE = Buffer.from('\n');
