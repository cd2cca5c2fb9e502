import { putVarint, varintSizeUnchecked } from './varint.js';

/**
 * Text lines as records, for a worker that is handed a piece of a file instead of encoded batches
 * (`eddy transform`): the coordinator only cuts its input at line ends, and the splitting and
 * encoding — work per line — run on the workers, in parallel. A line ends at `\n`, a `\r` before it
 * is dropped, an empty line is no record, and a last line without `\n` is one. Records have no
 * key, timestamp delta 0 and offset deltas 0..n-1 (the same records `lineBatches` encodes).
 */

/** Line `[from, to)` of `text` without its `\r`, or -1 when the line is empty (no record). */
export function lineEnd(text: Uint8Array, from: number, to: number): number {
  if (to > from && text[to - 1] === 0x0d) to--;
  return to > from ? to : -1;
}

/**
 * Where the text is copied to in the encoder's buffer. The text is in shared memory, and V8 copies
 * out of shared memory a word at a time only when source and target are aligned alike (a piece
 * starts its buffer): at 8 it copies at ~14–19 GB/s here, at 4 (where the records start) at 2.7.
 */
const TEXT_AT = 8;

export class LineEncoder {
  private buf: Buffer = Buffer.alloc(1 << 20);
  /** Per record: where its line starts in `buf` (a copy of the text at TEXT_AT), its length, where the record goes. */
  private starts = new Int32Array(16 * 1024);
  private lens = new Int32Array(16 * 1024);
  private outs = new Int32Array(16 * 1024);

  /**
   * The records of every line of `text` as one `Vec<Record>`, in a buffer reused by the next call
   * (the caller is done with it by then: a chain copies its outputs out).
   *
   * The text is copied in once, whole (at TEXT_AT), then each line is moved to its place, last line
   * first (`copyWithin`: no view object and no copy out of shared memory per line, about twice as
   * fast as copying each line in). A record is at least 7 bytes longer than its line and its
   * newline is 1–2, so from the second line on a record never reaches back over the lines before
   * it (the first record starts before the text, over nothing) — but where empty lines (input
   * without a record) come first it could: then lines are copied one by one.
   */
  encode(text: Uint8Array): { raw: Uint8Array; count: number } {
    const n = text.length;
    // Room for the records too (lines of ~100 bytes take ~10 % more as records), or grown below.
    if (this.buf.length < TEXT_AT + n) this.buf = Buffer.alloc(Math.max(TEXT_AT + n + (n >> 3), this.buf.length * 2));
    let buf = this.buf;
    buf.set(text, TEXT_AT);
    // Where the lines are, and where their records go.
    const end = TEXT_AT + n;
    let start = TEXT_AT;
    let count = 0;
    let out = 4;
    let fits = true;
    /** The end of the last line so far (a record must not start before it: that line is moved later). */
    let prevEnd = 0;
    while (start < end) {
      let nl = buf.indexOf(0x0a, start);
      if (nl < 0 || nl >= end) nl = end;
      const e = lineEnd(buf, start, nl);
      if (e >= 0) {
        if (count === this.starts.length) this.grow();
        const len = e - start;
        if (out < prevEnd) fits = false;
        this.starts[count] = start;
        this.lens[count] = len;
        this.outs[count] = out;
        out += recordSize(count, len);
        prevEnd = e;
        count++;
      }
      start = nl + 1;
    }
    if (!fits) return this.encodeByLine(text, count, out);
    if (out > buf.length) {
      const bigger = Buffer.alloc(out + (out >> 3));
      bigger.set(buf.subarray(0, end));
      this.buf = buf = bigger;
    }
    for (let i = count - 1; i >= 0; i--) {
      const len = this.lens[i]!;
      const at = this.outs[i]!;
      const value = at + recordSize(i, len) - 1 - len;
      buf.copyWithin(value, this.starts[i]!, this.starts[i]! + len);
      writeHeader(buf, at, i, len);
      buf[value + len] = 0; // no headers
    }
    writeCount(buf, count);
    return { raw: buf.subarray(0, out), count };
  }

  /** Line by line, from `text` (when moving in place could overwrite a line not yet moved). */
  private encodeByLine(text: Uint8Array, count: number, size: number): { raw: Uint8Array; count: number } {
    if (this.buf.length < size) this.buf = Buffer.alloc(size);
    const buf = this.buf;
    for (let i = 0; i < count; i++) {
      const at = this.outs[i]!;
      const len = this.lens[i]!;
      const from = this.starts[i]! - TEXT_AT;
      const value = writeHeader(buf, at, i, len);
      buf.set(text.subarray(from, from + len), value);
      buf[value + len] = 0;
    }
    writeCount(buf, count);
    return { raw: buf.subarray(0, size), count };
  }

  private grow(): void {
    const size = this.starts.length * 2;
    for (const k of ['starts', 'lens', 'outs'] as const) {
      const next = new Int32Array(size);
      next.set(this[k]);
      this[k] = next;
    }
  }
}

/** A record's body: attributes, timestamp delta, offset delta, no key, value length, value, no headers. */
function bodySize(index: number, len: number): number {
  return 4 + varintSizeUnchecked(index) + varintSizeUnchecked(len) + len;
}

function recordSize(index: number, len: number): number {
  const body = bodySize(index, len);
  return varintSizeUnchecked(body) + body;
}

/** Writes record `index`'s fields before its value at `at`; returns where the value goes. */
function writeHeader(buf: Uint8Array, at: number, index: number, len: number): number {
  let pos = putVarint(buf, at, bodySize(index, len));
  buf[pos++] = 0; // attributes
  buf[pos++] = 0; // timestamp delta 0
  pos = putVarint(buf, pos, index);
  buf[pos++] = 0; // no key
  return putVarint(buf, pos, len);
}

function writeCount(buf: Uint8Array, count: number): void {
  buf[0] = count >>> 24;
  buf[1] = (count >>> 16) & 0xff;
  buf[2] = (count >>> 8) & 0xff;
  buf[3] = count & 0xff;
}
