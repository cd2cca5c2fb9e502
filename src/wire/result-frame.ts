import { EddyError } from '../errors.js';
import { writeValueLines } from '../protocol/value-lines.js';
import type { ModuleMetrics } from '../smartmodule/chain.js';
import { FrameBufferPool } from './frame-buffers.js';
import type { ModuleLogLine } from './messages.js';
import { packr } from './packr.js';
import type { WireError } from './wire-error.js';

export interface WireResult {
  /** The input batch (as read, after cutting to the wanted offsets). */
  baseOffset: number;
  baseTimestamp: number;
  lastOffset: number;
  raw: Uint8Array;
  count: number;
  /** Accumulators of aggregate steps after this batch (null for other steps). */
  accumulators: (Uint8Array | null)[];
  error: WireError | null;
  skipped: WireError[];
  /** What the modules wrote while running this batch, when the session captures it (OpenTask.captureLog). */
  log?: ModuleLogLine[];
  /** `raw` holds the values one per line, not a `Vec<Record>` (the task asked for lines; see ValueLinesMode). */
  lines?: boolean;
}

export interface ResultFrame {
  seq: number;
  results: WireResult[];
  metrics: ModuleMetrics[];
  /** A failure that ended the whole frame (trap, status, memory); the instance is gone. */
  fatal: WireError | null;
  /** Captured module output of the batch that ended in `fatal`. */
  fatalLog?: ModuleLogLine[];
}

/**
 * Builds a result frame in which every output is copied exactly once, straight from module memory:
 * `[outputs…][header][u32 length of the header]`. The buffer is the frame's own, so it is
 * transferred to the coordinator, which reads the outputs as views.
 *
 * The header is fixed-layout binary (little-endian), written and read field by field: a frame is
 * packed on the worker and unpacked on the main thread for every submission, and msgpack of its
 * objects cost ~3 % of a worker and ~13 % of the main thread's share in the pipeline. Layout:
 *   u8 version, f64 seq, u32 results, u32 modules,
 *   per result: f64 baseOffset, f64 baseTimestamp, f64 lastOffset, u32 at, u32 length, u32 count,
 *               u16 steps, u8 flags (1: it has extras, 2: its output is value lines),
 *   per module: u16 name length, name (UTF-8), 10 × f64 counters (METRIC_FIELDS order),
 *   u32 length of the extras, extras: msgpack of { fatal, fatalLog?, byResult: { [i]: { accumulators,
 *   error, skipped, log } } } — only for what is rare (errors, a fatal failure, captured module
 *   output) or aggregate state.
 */
const HEADER_VERSION = 1;
const METRIC_FIELDS = [
  'invocations',
  'recordsIn',
  'recordsOut',
  'bytesIn',
  'bytesOut',
  'errors',
  'timeMs',
  'accumulatorBytes',
  'memoryBytes',
  'recycles',
] as const;
const RESULT_BYTES = 8 * 3 + 4 * 3 + 2 + 1;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

interface ResultExtras {
  accumulators?: (Uint8Array | null)[];
  error?: WireError;
  skipped?: WireError[];
  log?: ModuleLogLine[];
}

export class ResultFrameWriter {
  private buf: Uint8Array;
  private pos = 0;
  private readonly spans: number[] = [];

  /** `buffers`: where to take the frame's buffer from (and give back one outgrown). */
  constructor(
    capacity = 1 << 20,
    private readonly buffers: FrameBufferPool = new FrameBufferPool(0),
  ) {
    this.buf = new Uint8Array(buffers.take(capacity));
  }

  /** Copies an output in and returns the placeholder to store in its WireResult. */
  add(raw: Uint8Array): Uint8Array {
    this.ensure(raw.length);
    this.buf.set(raw, this.pos);
    this.spans.push(this.pos, raw.length);
    this.pos += raw.length;
    return EMPTY_OUTPUT;
  }

  /**
   * Copies an output's values in, one per line (see value-lines.ts), and returns the placeholder.
   * With `text`, only when every value prints as itself as text (value-lines.ts textLines): null,
   * with nothing added, when one does not, and the caller adds the records instead.
   */
  addLines(raw: Uint8Array, text: boolean): Uint8Array | null {
    // Never longer than the list itself (see writeValueLines).
    this.ensure(raw.length);
    const end = writeValueLines(raw, this.buf, this.pos, text);
    if (end < 0) return null;
    this.spans.push(this.pos, end - this.pos);
    this.pos = end;
    return EMPTY_OUTPUT;
  }

  finish(frame: ResultFrame): Uint8Array {
    let extras: Record<number, ResultExtras> | null = null;
    const results = frame.results;
    const names = frame.metrics.map((m) => utf8Encoder.encode(m.module));
    let size = 1 + 8 + 4 + 4 + results.length * RESULT_BYTES + 4;
    for (const n of names) size += 2 + n.length + 8 * METRIC_FIELDS.length;
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      const e: ResultExtras = {};
      let any = false;
      if (r.accumulators.some((a) => a !== null)) {
        e.accumulators = r.accumulators;
        any = true;
      }
      if (r.error) {
        e.error = r.error;
        any = true;
      }
      if (r.skipped.length) {
        e.skipped = r.skipped;
        any = true;
      }
      if (r.log?.length) {
        e.log = r.log;
        any = true;
      }
      if (any) (extras ??= {})[i] = e;
    }
    const fatalLog = frame.fatalLog?.length ? frame.fatalLog : undefined;
    const packed =
      extras !== null || frame.fatal !== null
        ? packr.pack({ fatal: frame.fatal, byResult: extras ?? {}, ...(fatalLog ? { fatalLog } : {}) })
        : null;
    if (packed) size += packed.length;
    this.ensure(size + 4);
    const start = this.pos;
    const v = new DataView(this.buf.buffer, this.buf.byteOffset);
    let p = start;
    v.setUint8(p, HEADER_VERSION);
    p += 1;
    v.setFloat64(p, frame.seq, true);
    p += 8;
    v.setUint32(p, results.length, true);
    p += 4;
    v.setUint32(p, names.length, true);
    p += 4;
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      v.setFloat64(p, r.baseOffset, true);
      v.setFloat64(p + 8, r.baseTimestamp, true);
      v.setFloat64(p + 16, r.lastOffset, true);
      v.setUint32(p + 24, this.spans[2 * i] ?? 0, true);
      v.setUint32(p + 28, this.spans[2 * i + 1] ?? 0, true);
      v.setUint32(p + 32, r.count, true);
      v.setUint16(p + 36, r.accumulators.length, true);
      v.setUint8(p + 38, (extras?.[i] ? 1 : 0) | (results[i]!.lines ? 2 : 0));
      p += RESULT_BYTES;
    }
    for (let m = 0; m < names.length; m++) {
      const name = names[m]!;
      v.setUint16(p, name.length, true);
      p += 2;
      this.buf.set(name, p);
      p += name.length;
      const metrics = frame.metrics[m]!;
      for (const f of METRIC_FIELDS) {
        v.setFloat64(p, metrics[f], true);
        p += 8;
      }
    }
    v.setUint32(p, packed ? packed.length : 0, true);
    p += 4;
    if (packed) {
      this.buf.set(packed, p);
      p += packed.length;
    }
    // The trailer stays big-endian u32, as before: the header's length, read from the end.
    v.setUint32(p, p - start);
    p += 4;
    this.pos = p;
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(this.buffers.take(size));
    next.set(this.buf.subarray(0, this.pos));
    this.buffers.give([this.buf.buffer as ArrayBuffer]);
    this.buf = next;
  }
}

const EMPTY_OUTPUT = new Uint8Array(0);

/** Reads a frame built by ResultFrameWriter; outputs are views into `bytes`. */
export function readResultFrame(bytes: Uint8Array): ResultFrame {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = v.getUint32(bytes.length - 4);
  let p = bytes.length - 4 - headerLength;
  if (p < 0 || v.getUint8(p) !== HEADER_VERSION)
    throw new EddyError('EDDY_FRAME', `result frame with an unknown header (${bytes.length} bytes)`);
  p += 1;
  const seq = v.getFloat64(p, true);
  p += 8;
  const nResults = v.getUint32(p, true);
  p += 4;
  const nModules = v.getUint32(p, true);
  p += 4;
  const results: WireResult[] = new Array(nResults);
  const withExtras: number[] = [];
  for (let i = 0; i < nResults; i++) {
    const at = v.getUint32(p + 24, true);
    const steps = v.getUint16(p + 36, true);
    const flags = v.getUint8(p + 38);
    if (flags & 1) withExtras.push(i);
    results[i] = {
      baseOffset: v.getFloat64(p, true),
      baseTimestamp: v.getFloat64(p + 8, true),
      lastOffset: v.getFloat64(p + 16, true),
      raw: bytes.subarray(at, at + v.getUint32(p + 28, true)),
      count: v.getUint32(p + 32, true),
      accumulators: new Array<Uint8Array | null>(steps).fill(null),
      error: null,
      skipped: [],
      ...(flags & 2 ? { lines: true } : {}),
    };
    p += RESULT_BYTES;
  }
  const metrics: ModuleMetrics[] = new Array(nModules);
  for (let m = 0; m < nModules; m++) {
    const len = v.getUint16(p, true);
    p += 2;
    const counters = { module: utf8Decoder.decode(bytes.subarray(p, p + len)) } as ModuleMetrics;
    p += len;
    for (const f of METRIC_FIELDS) {
      counters[f] = v.getFloat64(p, true);
      p += 8;
    }
    metrics[m] = counters;
  }
  const extrasLength = v.getUint32(p, true);
  p += 4;
  let fatal: WireError | null = null;
  let fatalLog: ModuleLogLine[] | undefined;
  if (extrasLength > 0) {
    const x = packr.unpack(bytes.subarray(p, p + extrasLength)) as {
      fatal: WireError | null;
      byResult: Record<string, ResultExtras>;
      fatalLog?: ModuleLogLine[];
    };
    fatal = x.fatal;
    fatalLog = x.fatalLog;
    for (const i of withExtras) {
      const e = x.byResult[i];
      const r = results[i]!;
      if (!e) continue;
      if (e.accumulators) r.accumulators = e.accumulators;
      if (e.error) r.error = e.error;
      if (e.skipped) r.skipped = e.skipped;
      if (e.log) r.log = e.log;
    }
  }
  return { seq, results, metrics, fatal, ...(fatalLog ? { fatalLog } : {}) };
}
