import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { EddyError } from '../errors.js';
import type { Lookback } from '../protocol/messages.js';

/**
 * Client of the Fluvio engine harness (conformance/fluvio-engine): a Rust program that runs a
 * chain through Fluvio's own `fluvio-smartengine` as the SPU does. The request and reply formats
 * are described in conformance/fluvio-engine/README.md; this file is their one TypeScript copy.
 */

/** Where conformance/build-fluvio-engine.sh puts its builds (outside the clone, reused across runs). */
export function conformanceCacheDir(): string {
  return process.env['EDDY_CONFORMANCE_CACHE'] ?? join(homedir(), '.cache', 'eddy');
}

/** The harness binary: $EDDY_FLUVIO_ENGINE, else the build script's output. */
export function fluvioEnginePath(): string {
  return (
    process.env['EDDY_FLUVIO_ENGINE'] ??
    join(conformanceCacheDir(), 'fluvio-engine-target', 'release', 'fluvio-engine-harness')
  );
}

export const BUILD_HINT =
  "build it with `bash conformance/build-fluvio-engine.sh` in a clone of Eddy's repository (needs cargo and crates.io; the first build takes several minutes), or set EDDY_FLUVIO_ENGINE to a built harness";

/** The harness binary is not built (or not where EDDY_FLUVIO_ENGINE says). */
export class FluvioEngineMissingError extends EddyError {
  constructor(readonly path: string) {
    super(
      'EDDY_FLUVIO_ENGINE_MISSING',
      `Fluvio's engine harness is not built: no executable at ${path}; ${BUILD_HINT}`,
    );
  }
}

/** The harness itself failed (bad request, crash): not a module error, which comes back as a reply. */
export class FluvioEngineHarnessError extends EddyError {
  constructor(detail: string) {
    super('EDDY_FLUVIO_ENGINE_FAILED', `Fluvio's engine harness failed: ${detail}`);
  }
}

/** One module of a chain as the harness takes it. */
export interface FluvioStep {
  name: string;
  wasm: Uint8Array;
  /** Protocol version the engine sends the module; omitted: the engine's default. */
  version?: number;
  params?: Record<string, string>;
  lookback?: Lookback | null;
  /** Initial aggregate accumulator. */
  accumulator?: Uint8Array | null;
  /** `Vec<Record>` encoding handed to look_back (when the step has a lookback and the module exports it). */
  history?: Uint8Array;
}

export interface FluvioBatch {
  baseOffset: number;
  baseTimestamp: number;
  /** `Vec<Record>` encoding. */
  raw: Uint8Array;
}

export interface FluvioRuntimeError {
  hint: string;
  offset: number;
  kindTag: number;
  key: Uint8Array | null;
  value: Uint8Array;
}

export type FluvioFailureKind =
  | 'init'
  | 'init-status'
  | 'lookback'
  | 'lookback-status'
  | 'transform-status'
  | 'memory'
  | 'other';
const FAILURE_KINDS: readonly FluvioFailureKind[] = [
  'init',
  'init-status',
  'lookback',
  'lookback-status',
  'transform-status',
  'memory',
  'other',
];

/** A call that failed as a whole (init, look-back, a negative status, a trap). */
export interface FluvioFailure {
  kind: FluvioFailureKind;
  /** The module's own message (init and look-back errors). */
  hint?: string;
  status?: number;
  offset?: number;
  key?: Uint8Array | null;
  value?: Uint8Array;
  /** The engine's full error text. */
  message: string;
}

export type FluvioBatchReply =
  | { kind: 'ok'; raw: Uint8Array }
  | { kind: 'runtime-error'; raw: Uint8Array; error: FluvioRuntimeError }
  | { kind: 'failed'; failure: FluvioFailure };

export interface FluvioRun {
  /** Null when every init and look-back succeeded. */
  setupFailure: FluvioFailure | null;
  /** One reply per batch, up to and including the first failed one. */
  batches: FluvioBatchReply[];
}

export interface FluvioTiming {
  nanos: number;
  recordsOut: number;
}

export interface HarnessOptions {
  /** Store memory limit in bytes (0 or omitted: the engine's 1 GB default). */
  memoryLimit?: number;
}

/** Runs `batches` through a chain built from `steps`, in one harness process. */
export function runFluvioChain(
  steps: readonly FluvioStep[],
  batches: readonly FluvioBatch[],
  options: HarnessOptions = {},
): FluvioRun {
  return decodeRun(spawnHarness(encodeRequest(0, 0, steps, batches, options)));
}

/** Where served harnesses keep wasmtime's compiled modules (keyed by module bytes, config and wasmtime version). */
export function compileCacheDir(): string {
  return join(conformanceCacheDir(), 'wasmtime-cache');
}

/**
 * One harness process that answers many run requests (its serve mode), each with a new chain in
 * the same engine, as runFluvioChain would answer it. Modules are compiled once, through
 * wasmtime's compile cache, instead of once per request and process: what makes thousands of
 * property cases cheap. Requests are answered in the order sent.
 */
export class FluvioEngineServer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: { resolve: (run: FluvioRun) => void; reject: (err: Error) => void }[] = [];
  private pending: Buffer = Buffer.alloc(0);
  private stderr = '';
  private failure: Error | null = null;

  constructor() {
    const bin = fluvioEnginePath();
    if (!existsSync(bin)) throw new FluvioEngineMissingError(bin);
    this.child = spawn(bin, ['--serve', '--compile-cache', compileCacheDir()]);
    this.child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.child.on('error', (err) => this.fail(new FluvioEngineHarnessError(`${bin}: ${err.message}`)));
    // A harness built before serve mode answers one request and exits 0: say how to fix that.
    this.child.on('exit', (code, signal) =>
      this.fail(
        new FluvioEngineHarnessError(
          `${bin} exited with ${code ?? signal}: ${this.stderr.trim() || `no message; if it predates serve mode, rebuild it (${BUILD_HINT})`}`,
        ),
      ),
    );
    // A write after the process died is reported through 'exit'; without this handler it would throw.
    this.child.stdin.on('error', () => {});
  }

  run(steps: readonly FluvioStep[], batches: readonly FluvioBatch[], options: HarnessOptions = {}): Promise<FluvioRun> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.stdin.write(encodeRequest(0, 0, steps, batches, options));
    });
  }

  /** Ends the process once it has answered what was sent. */
  close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.stdin.end();
    });
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    // Each reply is one frame: u32 length, then the reply as a single run writes it.
    while (this.pending.length >= 4) {
      const n = this.pending.readUInt32BE(0);
      if (this.pending.length < 4 + n) break;
      const frame = this.pending.subarray(4, 4 + n);
      this.pending = this.pending.subarray(4 + n);
      const next = this.waiting.shift();
      if (!next) {
        this.fail(new FluvioEngineHarnessError('a reply came with no request waiting for it'));
        return;
      }
      try {
        next.resolve(decodeRun(frame));
      } catch (err) {
        next.reject(err as Error);
      }
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }
}

/** A run-mode reply: the setup reply, then one reply per batch (README.md, "Replies"). */
function decodeRun(out: Buffer): FluvioRun {
  const r = new Reader(out);
  const setup = r.u8();
  if (setup === REPLY_FAILED) return { setupFailure: readFailure(r), batches: [] };
  const replies: FluvioBatchReply[] = [];
  while (!r.done) {
    const tag = r.u8();
    if (tag === REPLY_OK) replies.push({ kind: 'ok', raw: r.bytes() });
    else if (tag === REPLY_RUNTIME_ERROR)
      replies.push({
        kind: 'runtime-error',
        raw: r.bytes(),
        error: { hint: r.text(), offset: r.i64(), kindTag: r.u8(), key: r.optBytes(), value: r.bytes() },
      });
    else if (tag === REPLY_FAILED) replies.push({ kind: 'failed', failure: readFailure(r) });
    else throw new FluvioEngineHarnessError(`unknown reply tag ${tag}`);
  }
  return { setupFailure: null, batches: replies };
}

/** Times `iterations` runs of each batch through one chain instance; the chain's state carries over. */
export function timeFluvioChain(
  steps: readonly FluvioStep[],
  batches: readonly FluvioBatch[],
  iterations: number,
  options: HarnessOptions = {},
): FluvioTiming[] {
  const out = spawnHarness(encodeRequest(1, iterations, steps, batches, options));
  const r = new Reader(out);
  if (r.u8() === REPLY_FAILED)
    throw new FluvioEngineHarnessError(`the chain failed to start: ${readFailure(r).message}`);
  const timings: FluvioTiming[] = [];
  while (!r.done) {
    const tag = r.u8();
    if (tag !== REPLY_TIMING) throw new FluvioEngineHarnessError(`unexpected reply tag ${tag} in timing mode`);
    timings.push({ nanos: r.u64(), recordsOut: r.u32() });
  }
  return timings;
}

const REPLY_OK = 0;
const REPLY_RUNTIME_ERROR = 1;
const REPLY_FAILED = 2;
const REPLY_TIMING = 3;

function readFailure(r: Reader): FluvioFailure {
  const tag = r.u8();
  const kind = FAILURE_KINDS[tag - 1];
  if (!kind) throw new FluvioEngineHarnessError(`unknown failure tag ${tag}`);
  const f: Partial<FluvioFailure> = { kind };
  if (kind === 'init') f.hint = r.text();
  else if (kind === 'lookback')
    Object.assign(f, { hint: r.text(), offset: r.i64(), key: r.optBytes(), value: r.bytes() });
  else if (kind.endsWith('-status')) f.status = r.i32();
  f.message = r.text();
  return f as FluvioFailure;
}

function spawnHarness(request: Buffer): Buffer {
  const bin = fluvioEnginePath();
  if (!existsSync(bin)) throw new FluvioEngineMissingError(bin);
  const res = spawnSync(bin, [], { input: request, maxBuffer: 1 << 30 });
  if (res.error) throw new FluvioEngineHarnessError(`${bin}: ${res.error.message}`);
  if (res.status !== 0)
    throw new FluvioEngineHarnessError(
      `${bin} exited with ${res.status ?? res.signal}: ${res.stderr.toString().trim()}`,
    );
  return res.stdout;
}

/** The request: header, the chain's steps, then the batches (README.md, "Request"). */
export function encodeRequest(
  mode: number,
  iterations: number,
  steps: readonly FluvioStep[],
  batches: readonly FluvioBatch[],
  options: HarnessOptions,
): Buffer {
  const w = new Writer();
  w.raw(Buffer.from('EFH1'));
  w.u8(mode);
  w.u32(iterations);
  w.u64(options.memoryLimit ?? 0);
  w.u32(steps.length);
  for (const s of steps) {
    w.bytes(Buffer.from(s.name));
    w.bytes(s.wasm);
    w.i16(s.version ?? -1);
    const params = Object.entries(s.params ?? {});
    w.u32(params.length);
    for (const [k, v] of params) {
      w.bytes(Buffer.from(k));
      w.bytes(Buffer.from(v));
    }
    const lb = s.lookback;
    if (!lb) w.u8(0);
    else if (lb.ageMs == null) {
      w.u8(1);
      w.u64(lb.last);
    } else {
      w.u8(2);
      w.u64(lb.last);
      w.u64(lb.ageMs);
    }
    if (s.accumulator) {
      w.u8(1);
      w.bytes(s.accumulator);
    } else w.u8(0);
    w.bytes(s.history ?? new Uint8Array(0));
  }
  for (const b of batches) {
    w.u8(1);
    w.i64(b.baseOffset);
    w.i64(b.baseTimestamp);
    w.bytes(b.raw);
  }
  w.u8(0);
  return w.done();
}

class Writer {
  private parts: Buffer[] = [];
  raw(b: Uint8Array): void {
    this.parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  private num(n: number, write: (buf: Buffer) => void): void {
    const b = Buffer.alloc(n);
    write(b);
    this.parts.push(b);
  }
  u8(v: number): void {
    this.num(1, (b) => b.writeUInt8(v));
  }
  i16(v: number): void {
    this.num(2, (b) => b.writeInt16BE(v));
  }
  u32(v: number): void {
    this.num(4, (b) => b.writeUInt32BE(v));
  }
  u64(v: number): void {
    this.num(8, (b) => b.writeBigUInt64BE(BigInt(v)));
  }
  i64(v: number): void {
    this.num(8, (b) => b.writeBigInt64BE(BigInt(v)));
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.raw(b);
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  get done(): boolean {
    return this.at >= this.buf.length;
  }
  private need(n: number): number {
    if (this.at + n > this.buf.length)
      throw new FluvioEngineHarnessError(`reply ended early (wanted ${n} bytes at ${this.at} of ${this.buf.length})`);
    const at = this.at;
    this.at += n;
    return at;
  }
  u8(): number {
    return this.buf.readUInt8(this.need(1));
  }
  i32(): number {
    return this.buf.readInt32BE(this.need(4));
  }
  u32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }
  u64(): number {
    return Number(this.buf.readBigUInt64BE(this.need(8)));
  }
  i64(): number {
    return Number(this.buf.readBigInt64BE(this.need(8)));
  }
  bytes(): Uint8Array {
    const n = this.u32();
    const at = this.need(n);
    return new Uint8Array(this.buf.subarray(at, at + n));
  }
  optBytes(): Uint8Array | null {
    return this.u8() === 1 ? this.bytes() : null;
  }
  text(): string {
    return Buffer.from(this.bytes()).toString('utf8');
  }
}
