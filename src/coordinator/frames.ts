import { Packr } from 'msgpackr';
import { EddyError } from '../errors.js';
import { SmartModuleKindTag } from '../protocol/messages.js';
import {
  SmartModuleError, SmartModuleInitError, SmartModuleLookbackError, SmartModuleMemoryLimitError,
  SmartModuleRuntimeError, SmartModuleStatusError, SmartModuleTrapError,
} from '../smartmodule/errors.js';
import type { ModuleDescriptor } from '../smartmodule/module.js';
import type { ErrorPolicy, ModuleMetrics } from '../smartmodule/chain.js';
import type { Lookback } from '../smartmodule/types.js';
import type { PartitionSource } from '../storage/partition-reader.js';
import { FrameBufferPool } from './frame-buffers.js';

/**
 * What travels between the coordinator and a worker. Record batches go as msgpackr frames whose
 * record bytes are raw binary (never per-record objects) in a buffer whose ArrayBuffer is
 * transferred, not cloned. Control messages (open/close) are structured-cloned because they carry
 * compiled `WebAssembly.Module`s, which share their code across threads.
 */

// Plain maps, no record extension: frames are short-lived and read once.
const packr = new Packr({ useRecords: false, variableMapSize: true });

export interface WireModule {
  descriptor: ModuleDescriptor;
  compiled: WebAssembly.Module;
}

export interface WireStep {
  module: number;
  params: Record<string, string>;
  lookback: Lookback | null;
}

export interface OpenTask {
  op: 'open';
  stream: string;
  modules: WireModule[];
  steps: WireStep[];
  accumulators: (Uint8Array | null)[];
  /** Look-back records per step (`Vec<Record>` bytes) or null where the step has none. */
  history: (Uint8Array | null)[];
  policy: ErrorPolicy;
  freeOutput: boolean;
  /** Per-worker watchdog slot: [deadline (ms since epoch, 0 = idle), stream number]. */
  watch: SharedArrayBuffer;
  streamNumber: number;
}

export interface BatchTask {
  op: 'batch';
  stream: string;
  deadlineMs: number;
  frame: Uint8Array;
  /** Result-frame buffers handed back for reuse (transferred; see frame-buffers.ts). */
  recycle?: ArrayBuffer[];
}

/** Batches the worker reads itself from LMDB: record bytes never cross the main thread. */
export interface ReadTask {
  op: 'read';
  stream: string;
  deadlineMs: number;
  seq: number;
  source: PartitionSource;
  keys: number[];
  from: number;
  /** Exclusive. */
  end: number;
  /** Result-frame buffers handed back for reuse (transferred; see frame-buffers.ts). */
  recycle?: ArrayBuffer[];
}

export interface CloseTask {
  op: 'close';
  stream: string;
}

/** A no-op round trip: proves the worker has loaded. */
export interface PingTask {
  op: 'ping';
}

export type WorkerTask = OpenTask | BatchTask | ReadTask | CloseTask | PingTask;

export interface WireBatch {
  baseOffset: number;
  baseTimestamp: number;
  raw: Uint8Array;
}

export interface RequestFrame {
  seq: number;
  batches: WireBatch[];
}

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
}

export interface ResultFrame {
  seq: number;
  results: WireResult[];
  metrics: ModuleMetrics[];
  /** A failure that ended the whole frame (trap, status, memory); the instance is gone. */
  fatal: WireError | null;
}

/**
 * Packs a request frame into a buffer of its own, so its ArrayBuffer can be transferred. msgpackr packs into
 * a shared scratch buffer by default; `useBuffer` points it at a fresh one sized for the payload
 * (msgpackr wants 2 KiB of headroom) so the record bytes are copied once, into the frame.
 */
export function packFrame(frame: RequestFrame): Uint8Array {
  let payload = 0;
  for (const b of frame.batches) payload += b.raw.length + 64;
  const target = Buffer.allocUnsafeSlow(payload + 4096);
  packr.useBuffer(target);
  const out = packr.pack(frame);
  // If msgpackr had to grow past our estimate it used a buffer of its own: copy to own it.
  return out.buffer === target.buffer ? out : new Uint8Array(out);
}

export function unpackFrame(bytes: Uint8Array): RequestFrame {
  return packr.unpack(bytes) as RequestFrame;
}

/**
 * Builds a result frame in which every output is copied exactly once, straight from module memory:
 * `[outputs…][msgpack of the frame, raws as (at, length)][u32 length of that msgpack]`. The buffer
 * is the frame's own, so it is transferred to the coordinator, which reads the outputs as views.
 */
export class ResultFrameWriter {
  private buf: Uint8Array;
  private pos = 0;
  private readonly spans: [number, number][] = [];

  /** `buffers`: where to take the frame's buffer from (and give back one outgrown). */
  constructor(capacity = 1 << 20, private readonly buffers: FrameBufferPool = new FrameBufferPool(0)) {
    this.buf = new Uint8Array(buffers.take(capacity));
  }

  /** Copies an output in and returns the placeholder to store in its WireResult. */
  add(raw: Uint8Array): Uint8Array {
    this.ensure(raw.length);
    this.buf.set(raw, this.pos);
    this.spans.push([this.pos, raw.length]);
    this.pos += raw.length;
    return EMPTY_OUTPUT;
  }

  finish(frame: ResultFrame): Uint8Array {
    const wire = { ...frame, results: frame.results.map((r, i) => ({ ...r, raw: EMPTY_OUTPUT, span: this.spans[i] })) };
    const meta = packr.pack(wire);
    this.ensure(meta.length + 4);
    this.buf.set(meta, this.pos);
    this.pos += meta.length;
    new DataView(this.buf.buffer).setUint32(this.pos, meta.length);
    this.pos += 4;
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
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const metaLength = view.getUint32(bytes.length - 4);
  const meta = packr.unpack(bytes.subarray(bytes.length - 4 - metaLength, bytes.length - 4)) as ResultFrame & { results: (WireResult & { span?: [number, number] })[] };
  for (const r of meta.results) {
    if (r.span) r.raw = bytes.subarray(r.span[0], r.span[0] + r.span[1]);
    delete r.span;
  }
  return meta;
}

/** Errors cross threads as data, and are rebuilt as the same typed errors on the other side. */
export interface WireError {
  type: 'runtime' | 'trap' | 'status' | 'memory' | 'init' | 'lookback' | 'other';
  code: string;
  message: string;
  module?: string;
  hint?: string;
  offset?: number;
  kind?: string;
  key?: Uint8Array | null;
  value?: Uint8Array;
  fn?: string;
  status?: number;
  description?: string;
  firstOffset?: number;
  limit?: number;
  current?: number;
  requested?: number;
}

export function errorToWire(err: unknown): WireError {
  if (err instanceof SmartModuleRuntimeError) {
    return { type: 'runtime', code: err.code, message: err.message, module: err.module, hint: err.hint, offset: err.offset, kind: err.kind, key: err.key, value: err.value };
  }
  if (err instanceof SmartModuleTrapError) {
    return { type: 'trap', code: err.code, message: err.message, module: err.module, fn: err.fn, hint: err.trap, ...(err.firstOffset === undefined ? {} : { firstOffset: err.firstOffset }) };
  }
  if (err instanceof SmartModuleStatusError) {
    return { type: 'status', code: err.code, message: err.message, module: err.module, fn: err.fn, status: err.status, description: err.description, ...(err.firstOffset === undefined ? {} : { firstOffset: err.firstOffset }) };
  }
  if (err instanceof SmartModuleMemoryLimitError) {
    const w: WireError = { type: 'memory', code: err.code, message: err.message, module: err.module, fn: err.fn, limit: err.limit, current: err.current };
    if (err.requested !== undefined) w.requested = err.requested;
    if (err.firstOffset !== undefined) w.firstOffset = err.firstOffset;
    return w;
  }
  if (err instanceof SmartModuleInitError) return { type: 'init', code: err.code, message: err.message, module: err.module, hint: err.hint };
  if (err instanceof SmartModuleLookbackError) {
    return { type: 'lookback', code: err.code, message: err.message, module: err.module, hint: err.hint, offset: err.offset, key: err.key, value: err.value };
  }
  const e = err as Error;
  const w: WireError = { type: 'other', code: err instanceof EddyError ? err.code : 'EDDY_WORKER', message: e?.message ?? String(err) };
  if (err instanceof SmartModuleError) w.module = err.module;
  return w;
}

/** A wire error rebuilt on the coordinator side, keeping its code and message. */
export class WorkerSideError extends EddyError {}

export function errorFromWire(w: WireError): EddyError {
  const module = w.module ?? 'unknown';
  const bytes = (b: Uint8Array | null | undefined) => (b ? new Uint8Array(b) : null);
  switch (w.type) {
    case 'runtime':
      return new SmartModuleRuntimeError(module, w.hint!, w.offset!, SmartModuleKindTag[w.kind as keyof typeof SmartModuleKindTag] ?? 6, bytes(w.key), bytes(w.value) ?? new Uint8Array(0));
    case 'trap':
      return new SmartModuleTrapError(module, w.fn!, w.firstOffset, w.hint!, undefined);
    case 'memory':
      return new SmartModuleMemoryLimitError(module, w.fn!, w.limit!, w.current!, w.requested, w.firstOffset);
    case 'init':
      return new SmartModuleInitError(module, w.hint!);
    case 'lookback':
      return new SmartModuleLookbackError(module, w.hint!, w.offset!, bytes(w.key), bytes(w.value) ?? new Uint8Array(0));
    case 'status':
      return new SmartModuleStatusError(module, w.fn!, w.status!, w.description!, w.firstOffset);
    default:
      return new WorkerSideError(w.code, w.message);
  }
}
