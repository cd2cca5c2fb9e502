import { DecodeError, EncodeError } from '../errors.js';

/**
 * Fluvio's zig-zag varint (spec §3). Fluvio's encoder shifts by 31 instead of 63, so values outside
 * the signed 32-bit range come out corrupted; we refuse them instead of writing wrong bytes.
 */
export const VARINT_MIN = -0x80000000;
export const VARINT_MAX = 0x7fffffff;

/** Bytes `writeVarint` writes for `n`. */
export function varintSize(n: number): number {
  return zigzagSize(zigzag(n));
}

function zigzag(n: number): number {
  if (!Number.isInteger(n) || n < VARINT_MIN || n > VARINT_MAX) {
    throw new EncodeError(`varint ${n} is outside the signed 32-bit range Fluvio encodes correctly`);
  }
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function zigzagSize(z: number): number {
  return z < 0x80 ? 1 : z < 0x4000 ? 2 : z < 0x200000 ? 3 : z < 0x10000000 ? 4 : 5;
}

/** Writes `n` at `pos`, returns the position after it. The caller guarantees room (≤ 5 bytes). */
export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  return putZigzag(buf, pos, zigzag(n));
}

/**
 * Unchecked twins of varintSize/writeVarint for hot loops whose values were validated to be
 * integers in the signed 32-bit range (their zig-zag form then fits an unsigned 32-bit shift).
 */
export function varintSizeUnchecked(n: number): number {
  return zigzagSize(n >= 0 ? n * 2 : -n * 2 - 1);
}

export function putVarint(buf: Uint8Array, pos: number, n: number): number {
  return putZigzag(buf, pos, n >= 0 ? n * 2 : -n * 2 - 1);
}

function putZigzag(buf: Uint8Array, pos: number, z: number): number {
  while (z >= 0x80) {
    buf[pos++] = (z & 0x7f) | 0x80;
    z >>>= 7;
  }
  buf[pos++] = z;
  return pos;
}

/**
 * Decoded value and end position are returned through `out` to keep the hot path allocation-free.
 * Values up to 2^53 decode exactly; that covers every length, delta and count Fluvio writes.
 */
export interface VarintResult {
  value: number;
  end: number;
}

export function readVarint(buf: Uint8Array, pos: number, out: VarintResult): void {
  const start = pos;
  let b = buf[pos++];
  if (b === undefined) throw new DecodeError('varint runs past the end of the buffer', start);
  if (b < 0x80) {
    out.value = b & 1 ? -((b + 1) >>> 1) : b >>> 1;
    out.end = pos;
    return;
  }
  // Two bytes (64–8191 in magnitude: a record's or a ~100-byte value's length) in integer arithmetic.
  const c = buf[pos];
  if (c !== undefined && c < 0x80) {
    const z = (b & 0x7f) | (c << 7);
    out.value = z & 1 ? -((z + 1) >>> 1) : z >>> 1;
    out.end = pos + 1;
    return;
  }
  let u = b & 0x7f;
  let scale = 128;
  for (;;) {
    b = buf[pos++];
    if (b === undefined) throw new DecodeError('varint runs past the end of the buffer', start);
    u += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
    if (pos - start >= 10) throw new DecodeError('varint longer than 10 bytes', start);
  }
  out.value = u % 2 === 1 ? -(u + 1) / 2 : u / 2;
  out.end = pos;
}
