import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { lineEnd } from '../protocol/line-records.js';
import { recordBodySizeFields, writeRecordFields } from '../protocol/record.js';
import { putVarint, varintSizeUnchecked } from '../protocol/varint.js';
import { LineTooLongError } from './errors.js';
import { UsageError } from './format.js';
import { lineChunks } from './line-chunks.js';

/**
 * `eddy transform`'s input side: files (or stdin) read in order, split into records — one per
 * line, one per file (`--raw`), or one per JSON line `{"key": …, "value": …}` — and encoded
 * straight into `Vec<Record>` batches for the workers. Record offsets count the records from 0, so
 * an error's offset leads back to its line.
 */

export type InputFormat = 'lines' | 'raw' | 'json';

export interface InputBatch {
  /** Offset (record number from 0) of the batch's first record. */
  baseOffset: number;
  raw: Uint8Array;
  count: number;
  /** Per record: its 1-based line number (its file's number with `--raw`). */
  lineNos: Int32Array;
  /** Input bytes this batch completes (progress). */
  bytes: number;
}

interface Parsed {
  key: Uint8Array | null;
  value: Uint8Array;
}

/** Where to stop filling a batch: one message to a worker per this many bytes or records. */
const BATCH_BYTES = 256 * 1024;
const BATCH_RECORDS = 8192;

/** The input chunks: each file in order (`-` is stdin), or stdin when no file is given. */
export async function* inputChunks(files: readonly string[], stdin: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  if (files.length === 0) {
    for await (const c of stdin) yield typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    return;
  }
  for (const f of files) {
    const stream = f === '-' ? stdin : createReadStream(f, { highWaterMark: 1 << 20 });
    for await (const c of stream) yield typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
  }
}

/** One JSON line → key and value: a string value is its UTF-8 bytes, any other JSON its text. */
export function parseJsonRecord(line: Buffer, lineNo: number): Parsed {
  let v: unknown;
  try {
    v = JSON.parse(line.toString('utf8'));
  } catch (err) {
    throw new UsageError(
      `line ${lineNo}: not JSON (${(err as Error).message}); with --json-records each line is {"key": ..., "value": ...}`,
    );
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || !('value' in v)) {
    throw new UsageError(
      `line ${lineNo}: with --json-records each line is an object {"key": ..., "value": ...} with a value`,
    );
  }
  const { key, value } = v as { key?: unknown; value: unknown };
  const text = (x: unknown) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x), 'utf8');
  return { key: key === undefined || key === null ? null : text(key), value: text(value) };
}

/** Encodes records (offset deltas 0..n-1, timestamp delta 0) as one `Vec<Record>`. */
function encode(records: readonly Parsed[]): Uint8Array {
  const bodies = new Int32Array(records.length);
  let size = 4;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const body = recordBodySizeFields(r.key, r.value, 0, i, 0);
    bodies[i] = body;
    size += varintSizeUnchecked(body) + body;
  }
  const buf = new Uint8Array(size);
  new DataView(buf.buffer).setInt32(0, records.length);
  let pos = 4;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    pos = writeRecordFields(buf, pos, r.key, r.value, 0, i, 0, bodies[i]!);
  }
  return buf;
}

/**
 * JSON lines as batches, in order. Empty lines are not records (as in `eddy produce`); `maxLine`
 * bounds a line (a larger one is refused before it is all read).
 */
export async function* jsonBatches(chunks: AsyncIterable<Buffer>, maxLine: number): AsyncGenerator<InputBatch> {
  let next = 0;
  let records: Parsed[] = [];
  let lineNos: number[] = [];
  let bytes = 0;
  let pending = 0;
  const flush = (): InputBatch => {
    const b: InputBatch = {
      baseOffset: next,
      raw: encode(records),
      count: records.length,
      lineNos: Int32Array.from(lineNos),
      bytes: pending,
    };
    next += records.length;
    records = [];
    lineNos = [];
    bytes = 0;
    pending = 0;
    return b;
  };
  let lineNo = 0;
  for await (const { lines, bytes: read } of lineChunks(chunks, maxLine)) {
    pending += read;
    for (const line of lines) {
      lineNo++;
      if (line.length === 0) continue;
      const r = parseJsonRecord(line, lineNo);
      records.push(r);
      lineNos.push(lineNo);
      bytes += line.length;
      if (bytes >= BATCH_BYTES || records.length >= BATCH_RECORDS) yield flush();
    }
  }
  if (records.length > 0 || pending > 0) yield flush();
}

/** `--raw`: each file (or stdin) is one record, in one batch of its own. */
export async function* rawBatches(files: readonly string[], stdin: NodeJS.ReadableStream): AsyncGenerator<InputBatch> {
  const sources = files.length === 0 ? ['-'] : files;
  for (let i = 0; i < sources.length; i++) {
    const parts: Buffer[] = [];
    for await (const c of inputChunks([sources[i]!], stdin)) parts.push(c);
    const value = Buffer.concat(parts);
    yield {
      baseOffset: i,
      raw: encode([{ key: null, value }]),
      count: 1,
      lineNos: Int32Array.of(i + 1),
      bytes: value.length,
    };
  }
}

/**
 * Lines as batches, written straight from the input chunks into each batch's `Vec<Record>`: no
 * object per line. Lines end at `\n` (a `\r` before it is dropped); empty lines are not records
 * (as in `eddy produce`); a line over `maxLine` bytes is refused.
 */
export async function* lineBatches(chunks: AsyncIterable<Buffer>, maxLine: number): AsyncGenerator<InputBatch> {
  let buf = Buffer.allocUnsafe(BATCH_BYTES + 1024);
  let pos = 4;
  let count = 0;
  let lineNos = new Int32Array(4096);
  let next = 0;
  let pending = 0;
  let lineNo = 0;
  let carry: Buffer[] = [];
  let carryBytes = 0;
  const flush = (): InputBatch => {
    buf.writeInt32BE(count, 0);
    const b: InputBatch = {
      baseOffset: next,
      raw: buf.subarray(0, pos),
      count,
      lineNos: lineNos.slice(0, count),
      bytes: pending,
    };
    next += count;
    buf = Buffer.allocUnsafe(BATCH_BYTES + 1024);
    pos = 4;
    count = 0;
    pending = 0;
    return b;
  };
  /** Appends line `src[from, to)` as record `count`; true when the batch is full. */
  const add = (src: Uint8Array, from: number, to: number): boolean => {
    lineNo++;
    if (to > from && src[to - 1] === 0x0d) to--;
    const len = to - from;
    if (len === 0) return false;
    if (len > maxLine) throw new LineTooLongError(lineNo, maxLine);
    const body = 4 + varintSizeUnchecked(count) + varintSizeUnchecked(len) + len;
    const need = pos + 5 + body;
    if (need > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, buf.length * 2));
      buf.copy(bigger, 0, 0, pos);
      buf = bigger;
    }
    pos = putVarint(buf, pos, body);
    buf[pos++] = 0; // attributes
    buf[pos++] = 0; // timestamp delta 0
    pos = putVarint(buf, pos, count);
    buf[pos++] = 0; // no key
    pos = putVarint(buf, pos, len);
    if (len < 64) {
      for (let j = 0; j < len; j++) buf[pos + j] = src[from + j]!;
    } else {
      buf.set(src.subarray(from, to), pos);
    }
    pos += len;
    buf[pos++] = 0; // no headers
    if (count === lineNos.length) {
      const grown = new Int32Array(count * 2);
      grown.set(lineNos);
      lineNos = grown;
    }
    lineNos[count++] = lineNo;
    return pos >= BATCH_BYTES;
  };
  for await (const chunk of chunks) {
    pending += chunk.length;
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      let full: boolean;
      if (carryBytes > 0) {
        const line = Buffer.concat([...carry, chunk.subarray(start, nl)]);
        carry = [];
        carryBytes = 0;
        full = add(line, 0, line.length);
      } else {
        full = add(chunk, start, nl);
      }
      start = nl + 1;
      if (full) yield flush();
    }
    if (start < chunk.length) {
      carry.push(chunk.subarray(start));
      carryBytes += chunk.length - start;
      // One byte of slack for a `\r` the newline may still remove.
      if (carryBytes > maxLine + 1) throw new LineTooLongError(lineNo + 1, maxLine);
    }
  }
  if (carryBytes > 0) {
    const line = Buffer.concat(carry);
    add(line, 0, line.length);
  }
  if (count > 0 || pending > 0) yield flush();
}

/**
 * A piece of the input cut at a line end, for the workers to split and encode themselves (see
 * protocol/line-records.ts): the main thread only finds line ends, so its cost per line is one
 * search, and the pieces live in shared memory — sent to a worker without a copy and still
 * readable here when a record must be reported (its line, its bytes).
 */
export interface LinePiece {
  /** Offset (record number from 0) of the piece's first record. */
  baseOffset: number;
  /** Whole lines, the last one's `\n` included (but at the end of the input). */
  text: Buffer;
  /** Records: lines that are not empty. */
  count: number;
  /** 1-based line number of the piece's first line. */
  firstLine: number;
  /** Input bytes this piece completes (progress). */
  bytes: number;
  /**
   * Hands the piece's memory back for a later piece to be read into (saves the zeroing and page
   * faults of a fresh buffer per piece). Call it once its result is delivered and `text` is no
   * longer read; optional.
   */
  release(): void;
}

/**
 * Where to cut pieces: about this many bytes each (one submission to a worker; at 1 MiB its fixed
 * costs are a few ns per line). The first pieces are smaller (from 64 KiB, doubling), so every
 * worker has work soon after the start, and a small input still spreads over the workers.
 */
export const PIECE_BYTES = 1 << 20;
const FIRST_PIECE_BYTES = 64 * 1024;

export interface ReadInto {
  /** Fills `buf` from `at` with up to `buf.length - at` input bytes; 0 at the end of the input. */
  read(buf: Buffer, at: number): Promise<number>;
  /** Closes the file being read, if any (when the reader stops early). */
  close(): Promise<void>;
}

/**
 * The input as a `ReadInto`: files (`-` is stdin) are read straight into the caller's buffer (no
 * copy on the main thread: copying into shared memory is several times slower than memcpy);
 * stdin's chunks are copied in.
 */
export function inputReader(files: readonly string[], stdin: NodeJS.ReadableStream): ReadInto {
  const sources = files.length === 0 ? ['-'] : [...files];
  let i = 0;
  let handle: FileHandle | null = null;
  let chunks: AsyncIterator<Buffer> | null = null;
  let left: Buffer | null = null;
  const read = async (buf: Buffer, at: number): Promise<number> => {
    while (i < sources.length) {
      const source = sources[i]!;
      if (source === '-') {
        if (!left || left.length === 0) {
          chunks ??= inputChunks(['-'], stdin)[Symbol.asyncIterator]();
          const c = await chunks.next();
          if (c.done) {
            chunks = null;
            i++;
            continue;
          }
          left = c.value;
        }
        const n = left.copy(buf, at);
        left = left.subarray(n);
        return n;
      }
      handle ??= await open(source, 'r');
      const { bytesRead } = await handle.read(buf, at, buf.length - at, null);
      if (bytesRead > 0) return bytesRead;
      await handle.close();
      handle = null;
      i++;
    }
    return 0;
  };
  const close = async () => {
    await handle?.close();
    handle = null;
  };
  return { read, close };
}

/**
 * Lines in pieces, in order, read into shared memory. Counts each piece's records (empty lines are
 * not records, as in `eddy produce`) and refuses a line over `maxLine` bytes by its number (before
 * it is all read when it is longer than a piece).
 */
export async function* linePieces(
  input: ReadInto,
  maxLine: number,
  pieceBytes = PIECE_BYTES,
): AsyncGenerator<LinePiece> {
  try {
    yield* pieces(input, maxLine, pieceBytes);
  } finally {
    await input.close();
  }
}

async function* pieces(input: ReadInto, maxLine: number, pieceBytes: number): AsyncGenerator<LinePiece> {
  /** Piece buffers handed back; enough for the pieces a session keeps in flight, and a few more. */
  const spare: SharedArrayBuffer[] = [];
  const sharedBuffer = (size: number): Buffer => {
    const reused = size === pieceBytes ? spare.pop() : undefined;
    return Buffer.from(reused ?? new SharedArrayBuffer(size));
  };
  const releaser = (sab: SharedArrayBuffer) => {
    let done = false;
    return () => {
      if (done || sab.byteLength !== pieceBytes || spare.length >= 32) return;
      done = true;
      spare.push(sab);
    };
  };
  let next = 0;
  let lineNo = 1;
  let size = Math.min(pieceBytes, FIRST_PIECE_BYTES);
  let buf = sharedBuffer(size);
  let fill = 0;
  let bytes = 0;
  /** The piece `buf[0, end)` (whole lines); what follows it starts the next buffer. */
  const cut = (end: number): LinePiece => {
    const text = buf.subarray(0, end);
    const { records, lines } = countLines(text, maxLine, lineNo);
    const piece: LinePiece = {
      baseOffset: next,
      text,
      count: records,
      firstLine: lineNo,
      bytes,
      release: releaser(buf.buffer as SharedArrayBuffer),
    };
    next += records;
    lineNo += lines;
    bytes = 0;
    const rest = fill - end;
    size = Math.min(pieceBytes, size * 2);
    const nextBuf = sharedBuffer(Math.max(size, rest * 2));
    buf.copy(nextBuf, 0, end, fill);
    buf = nextBuf;
    fill = rest;
    return piece;
  };
  for (;;) {
    const n = await input.read(buf, fill);
    if (n === 0) break;
    fill += n;
    bytes += n;
    if (fill < buf.length) continue;
    const nl = buf.lastIndexOf(0x0a, fill - 1);
    if (nl >= 0) {
      yield cut(nl + 1);
      continue;
    }
    // One line fills the buffer: a longer one (one byte of slack for a `\r`) is refused now.
    if (fill > maxLine + 1) throw new LineTooLongError(lineNo, maxLine);
    const bigger = sharedBuffer(buf.length * 2);
    buf.copy(bigger, 0, 0, fill);
    buf = bigger;
  }
  if (fill > 0 || bytes > 0) yield cut(fill);
}

/** Records and lines of a piece (a last line without `\n` counts); throws for a line over `maxLine`. */
function countLines(text: Buffer, maxLine: number, firstLine: number): { records: number; lines: number } {
  let records = 0;
  let lines = 0;
  let start = 0;
  const n = text.length;
  while (start < n) {
    let nl = text.indexOf(0x0a, start);
    if (nl < 0) nl = n;
    const end = lineEnd(text, start, nl);
    if (end >= 0) {
      if (end - start > maxLine) throw new LineTooLongError(firstLine + lines, maxLine);
      records++;
    }
    lines++;
    start = nl + 1;
  }
  return { records, lines };
}

/**
 * A piece's records by index: their 1-based line numbers and bytes (for errors and the skipped
 * file). Reads on from the last record asked for, so asking for records in order (every record of
 * a skipped piece) is one pass over the piece.
 */
export function pieceRecords(piece: LinePiece): (index: number) => { line: number; value: Buffer } {
  const text = piece.text;
  /** The next record's index, and where its line (or an empty line before it) starts. */
  let k = 0;
  let line = piece.firstLine;
  let start = 0;
  return (index) => {
    if (index < k) {
      k = 0;
      line = piece.firstLine;
      start = 0;
    }
    while (start < text.length) {
      let nl = text.indexOf(0x0a, start);
      if (nl < 0) nl = text.length;
      const end = lineEnd(text, start, nl);
      const at = { line, start };
      line++;
      start = nl + 1;
      if (end >= 0 && k++ === index) return { line: at.line, value: text.subarray(at.start, end) };
    }
    throw new RangeError(`record ${index} is not in the piece (${piece.count} records)`);
  };
}
