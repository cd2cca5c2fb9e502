import { DecodeError, EncodeError } from '../errors.js';
import { readVarint, type VarintResult, writeVarint } from './varint.js';

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const TWO_32 = 0x1_0000_0000;

/** Big-endian writer over a growable buffer (Fluvio's fixed-width integers are big-endian). */
export class ByteWriter {
  buf: Uint8Array;
  pos = 0;
  private view: DataView;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
  }

  ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }
  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }
  u16(v: number): this {
    this.ensure(2);
    this.view.setUint16(this.pos, v);
    this.pos += 2;
    return this;
  }
  i32(v: number): this {
    this.ensure(4);
    this.view.setInt32(this.pos, v);
    this.pos += 4;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
    return this;
  }

  /** i64/u64 from a JS number (exact up to 2^53). */
  i64(v: number): this {
    if (!Number.isSafeInteger(v)) throw new EncodeError(`64-bit value ${v} is not a safe integer`);
    this.ensure(8);
    writeI64(this.view, this.pos, v);
    this.pos += 8;
    return this;
  }

  varint(v: number): this {
    this.ensure(5);
    this.pos = writeVarint(this.buf, this.pos, v);
    return this;
  }
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** Fluvio `String`: u16 length + UTF-8. Decoders read the length as i16, so > 32767 bytes cannot round-trip. */
  string(s: string): this {
    const bytes = utf8.encode(s);
    if (bytes.length > 0x7fff)
      throw new EncodeError(`string of ${bytes.length} bytes exceeds Fluvio's 32767-byte limit`);
    return this.u16(bytes.length).raw(bytes);
  }

  /** Fluvio `Vec<u8>`: i32 count + bytes. */
  bytesVec(bytes: Uint8Array): this {
    return this.i32(bytes.length).raw(bytes);
  }

  /** The written bytes (a view; copy if the writer is reused). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

export function writeI64(view: DataView, pos: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  view.setInt32(pos, hi);
  view.setUint32(pos + 4, v - hi * TWO_32);
}

export function readI64(view: DataView, pos: number): number {
  return view.getInt32(pos) * TWO_32 + view.getUint32(pos + 4);
}

/** Big-endian reader with Fluvio's decoder leniencies (spec §3). */
export class ByteReader {
  readonly buf: Uint8Array;
  readonly view: DataView;
  pos: number;
  private readonly vr: VarintResult = { value: 0, end: 0 };

  constructor(buf: Uint8Array, pos = 0) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) {
      throw new DecodeError(`${what}: needs ${n} bytes, ${this.remaining} remain`, this.pos);
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }
  bool(what = 'bool'): boolean {
    const b = this.u8(what);
    if (b > 1) throw new DecodeError(`${what}: bool byte must be 0 or 1, got ${b}`, this.pos - 1);
    return b === 1;
  }
  i16(what = 'i16'): number {
    this.need(2, what);
    const v = this.view.getInt16(this.pos);
    this.pos += 2;
    return v;
  }
  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  i32(what = 'i32'): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }
  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  i64(what = 'i64'): number {
    this.need(8, what);
    const v = readI64(this.view, this.pos);
    this.pos += 8;
    return v;
  }

  varint(): number {
    readVarint(this.buf, this.pos, this.vr);
    this.pos = this.vr.end;
    return this.vr.value;
  }

  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Length read as i16; ≤ 0 means empty (Fluvio's leniency). Invalid UTF-8 is an error. */
  string(what = 'string'): string {
    const len = this.i16(what);
    if (len <= 0) return '';
    const start = this.pos;
    const bytes = this.take(len, what);
    try {
      return utf8Strict.decode(bytes);
    } catch {
      throw new DecodeError(`${what}: invalid UTF-8`, start);
    }
  }

  /** `Vec<u8>`: count read as i32; < 1 means empty. */
  bytesVec(what = 'bytes'): Uint8Array {
    const len = this.i32(what);
    if (len < 1) return new Uint8Array(0);
    return this.take(len, what);
  }
}
