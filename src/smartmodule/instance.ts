import { EddyError } from '../errors.js';
import {
  DEFAULT_VERSION,
  decodeInitOutput,
  decodeLookbackOutput,
  decodeOutput,
  encodeInitInput,
  INPUT_PREFIX_SIZE,
  inputSuffixSize,
  writeInputInto,
} from '../protocol/messages.js';
import { recordListCount } from '../protocol/record.js';
import { INIT_STATUS, LOOKBACK_STATUS, normalizeStatus, TRANSFORM_STATUS } from '../protocol/status.js';
import {
  SmartModuleInitError,
  SmartModuleInstanceGoneError,
  SmartModuleLookbackError,
  SmartModuleMemoryLimitError,
  SmartModuleOutputError,
  SmartModuleRuntimeError,
  SmartModuleStatusError,
  SmartModuleTrapError,
} from './errors.js';
import type { SmartModule } from './module.js';
import { createWasi, defaultLogger, type WasiBinding } from './sandbox.js';
import type { BatchInput, BatchOutput, InstanceOptions, Lookback } from './types.js';

type GuestFn = (ptr: number, len: number, version: number) => number;
const EMPTY = new Uint8Array(0);

/**
 * One live instance of a SmartModule: its own memory and guest state, the aggregate accumulator,
 * and the call sequence of spec §2. Not thread-safe; one per stream.
 */
export class SmartModuleInstance {
  readonly module: SmartModule;
  /** The aggregate accumulator (host-held, spec §6.5); carried across batches. */
  accumulator: Uint8Array;
  readonly lookback: Lookback | null;
  /** Calls made, for metrics. */
  calls = 0;

  private readonly memory: WebAssembly.Memory;
  private readonly alloc: (len: number) => number;
  private readonly dealloc: ((ptr: number, len: number) => void) | null;
  private readonly transform: GuestFn;
  private readonly initFn: GuestFn | null;
  private readonly lookBackFn: GuestFn | null;
  private readonly version: number;
  private readonly wasi: WasiBinding | null;
  private readonly aggregate: boolean;
  private readonly suffix: number;
  private buffer: ArrayBuffer;
  private bytes: Uint8Array;
  private view: DataView;
  private outPtr = 0;
  private outLen = 0;
  private announced = false;
  private gone: string | null = null;
  private readonly borrowDefault: boolean;
  /** A borrowed output still to be freed: [ptr, len]. */
  private lent: [number, number] | null = null;

  constructor(module: SmartModule, options: InstanceOptions) {
    this.module = module;
    const d = module.descriptor;
    this.version = options.version ?? DEFAULT_VERSION;
    this.lookback = options.lookback ?? null;
    this.accumulator = options.initialAccumulator ?? EMPTY;
    this.aggregate = d.kind === 'aggregate';
    this.suffix = inputSuffixSize(this.version);
    this.borrowDefault = options.borrowOutput === true;

    const copyRecords = (ptr: number, len: number) => {
      this.outPtr = ptr >>> 0;
      this.outLen = len >>> 0;
      this.announced = true;
    };
    this.wasi = d.usesWasi ? createWasi(d.name, options.sandbox ?? {}, options.logger ?? defaultLogger) : null;
    // copy_records is found by field name under any module name (spec §1.2).
    const imports: WebAssembly.Imports = {};
    for (const imp of WebAssembly.Module.imports(module.compiled)) {
      if (imp.name === 'copy_records') (imports[imp.module] ??= {})[imp.name] = copyRecords;
    }
    if (this.wasi)
      imports['wasi_snapshot_preview1'] = {
        ...(imports['wasi_snapshot_preview1'] ?? {}),
        ...this.wasi.imports,
      } as Record<string, WebAssembly.ImportValue>;

    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(module.compiled, imports);
    } catch (err) {
      throw new SmartModuleTrapError(d.name, 'instantiation', undefined, (err as Error).message, err);
    }
    const ex = instance.exports;
    this.memory = ex['memory'] as WebAssembly.Memory;
    this.alloc = ex['alloc'] as (len: number) => number;
    this.dealloc =
      d.hasDealloc && (options.freeOutput ?? d.deallocAnySize)
        ? (ex['dealloc'] as (p: number, l: number) => void)
        : null;
    this.transform = ex[d.kind] as GuestFn;
    this.initFn = d.hasInit ? (ex['init'] as GuestFn) : null;
    this.lookBackFn = d.hasLookBack ? (ex['look_back'] as GuestFn) : null;
    this.buffer = this.memory.buffer;
    this.bytes = new Uint8Array(this.buffer);
    this.view = new DataView(this.buffer);
    this.wasi?.bind(this.memory);

    if (this.initFn) {
      const lookback = options.lookbackInInitParams === false ? null : this.lookback;
      this.runInit(encodeInitInput({ params: options.params ?? {}, lookback }, this.version));
    }
  }

  get name(): string {
    return this.module.name;
  }

  /** Bytes of linear memory the instance holds now. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Whether outputs stay in guest memory after they are read (no size-blind `dealloc`, as Fluvio runs every module). */
  get keepsOutputs(): boolean {
    return this.dealloc === null;
  }

  get disposed(): boolean {
    return this.gone !== null;
  }

  /**
   * Feeds history records to `look_back` (spec §6.7): base offset and timestamp 0, records keep
   * their deltas. Skipped when no lookback is configured, the module has no `look_back`, or the
   * source is empty (Fluvio's call on an empty list is observably a no-op).
   */
  lookBack(records: Uint8Array): void {
    if (!this.lookBackFn || !this.lookback || recordListCount(records) === 0) return;
    const rc = this.call('look_back', this.lookBackFn, 0, records, 0, undefined);
    if (rc >= 0) return;
    if (rc === -99 && this.announced) {
      const e = this.readAnnounced('look_back', decodeLookbackOutput);
      throw new SmartModuleLookbackError(this.name, e.hint, e.offset, e.key, e.value);
    }
    const s = normalizeStatus(LOOKBACK_STATUS, rc);
    throw new SmartModuleStatusError(this.name, 'look_back', s.code, s.description);
  }

  /**
   * Runs one batch through the transform. `raw` is a `Vec<Record>` encoding; the output is an owned
   * `Vec<Record>` encoding that can go straight into the next module. A runtime error keeps the
   * successes before it (spec §6.8); statuses, traps and the memory cap throw.
   */
  process(batch: BatchInput, borrow = this.borrowDefault): BatchOutput {
    const rc = this.call(
      this.module.kind,
      this.transform,
      batch.baseOffset,
      batch.raw,
      batch.baseTimestamp,
      this.aggregate ? this.accumulator : undefined,
    );
    if (rc < 0) {
      this.releaseOutput();
      const s = normalizeStatus(TRANSFORM_STATUS, rc);
      throw new SmartModuleStatusError(this.name, this.module.kind, s.code, s.description, batch.baseOffset);
    }
    const out = this.readAnnounced(this.module.kind, (bytes) => decodeOutput(bytes, this.aggregate), borrow);
    // The accumulator outlives the call: keep a copy when it is a view into guest memory.
    if (out.accumulator) this.accumulator = borrow ? out.accumulator.slice() : out.accumulator;
    const error = out.error
      ? new SmartModuleRuntimeError(
          this.name,
          out.error.hint,
          out.error.offset,
          out.error.kind,
          out.error.key?.slice() ?? null,
          out.error.value.slice(),
        )
      : null;
    return { raw: out.successes, count: out.count, error };
  }

  /** Frees a borrowed output now (otherwise freed at the next call). */
  release(): void {
    if (!this.lent) return;
    const [ptr, len] = this.lent;
    this.lent = null;
    if (this.dealloc && !this.gone) this.freeGuest(ptr, len);
  }

  /** Releases the instance (its memory goes with it). */
  dispose(): void {
    if (this.gone) return;
    this.wasi?.flush();
    this.gone = 'was disposed';
  }

  private runInit(input: Uint8Array): void {
    const rc = this.callBytes('init', this.initFn!, input);
    if (rc >= 0) return;
    if (rc === -2 && this.announced) {
      const { hint } = this.readAnnounced('init', decodeInitOutput);
      this.gone = 'failed to initialise';
      throw new SmartModuleInitError(this.name, hint);
    }
    const s = normalizeStatus(INIT_STATUS, rc);
    this.gone = 'failed to initialise';
    throw new SmartModuleStatusError(this.name, 'init', s.code, s.description);
  }

  /** alloc + write a SmartModuleInput (header around `raw`, plus the accumulator) + call. */
  private call(
    fn: string,
    f: GuestFn,
    baseOffset: number,
    raw: Uint8Array,
    baseTimestamp: number,
    accumulator: Uint8Array | undefined,
  ): number {
    const body = INPUT_PREFIX_SIZE + raw.length + this.suffix;
    const n = accumulator ? body + 4 + accumulator.length : body;
    return this.guard(fn, baseOffset, n, () => {
      const ptr = this.alloc(n);
      this.refresh();
      writeInputInto(this.bytes, this.view, ptr, baseOffset, raw, baseTimestamp, this.version);
      if (accumulator) {
        this.view.setInt32(ptr + body, accumulator.length);
        this.bytes.set(accumulator, ptr + body + 4);
      }
      return f(ptr, n, this.version);
    });
  }

  private callBytes(fn: string, f: GuestFn, input: Uint8Array): number {
    return this.guard(fn, undefined, input.length, () => {
      const ptr = this.alloc(input.length);
      this.refresh();
      this.bytes.set(input, ptr);
      return f(ptr, input.length, this.version);
    });
  }

  /** Runs a guest call; turns traps into typed errors and discards the instance after one. */
  private guard(fn: string, firstOffset: number | undefined, inputSize: number, body: () => number): number {
    if (this.gone) throw new SmartModuleInstanceGoneError(this.name, this.gone);
    this.release();
    this.announced = false;
    this.calls++;
    try {
      return body();
    } catch (err) {
      this.gone = 'was discarded after a trap';
      this.wasi?.flush();
      const current = this.memory.buffer.byteLength;
      const limit = this.module.descriptor.memoryLimit;
      // Growth past the declared maximum makes memory.grow return -1 inside the guest, whose
      // allocator then aborts (a trap). Node gives no hook on memory.grow, so we attribute a trap
      // to the cap when the memory is within allocator-growth distance of it, or when our own
      // input could not fit. Other traps still report how much memory was in use.
      const headroom = limit - current;
      const inputTooBig = fn !== 'init' && current + inputSize > limit;
      if (isTrap(err) && (headroom < Math.max(2 * 1024 * 1024, limit / 16) || inputTooBig)) {
        throw new SmartModuleMemoryLimitError(
          this.name,
          fn,
          limit,
          current,
          inputTooBig ? inputSize : undefined,
          firstOffset,
          this.keepsOutputs,
        );
      }
      if (isTrap(err))
        throw new SmartModuleTrapError(
          this.name,
          fn,
          firstOffset,
          `${trapMessage(err)} (memory in use: ${current} of ${limit} bytes)`,
          err,
        );
      throw err;
    }
  }

  private refresh(): void {
    if (this.memory.buffer !== this.buffer) {
      this.buffer = this.memory.buffer;
      this.bytes = new Uint8Array(this.buffer);
      this.view = new DataView(this.buffer);
    }
  }

  /**
   * Decodes the announced output: copied out of guest memory and freed there, or (borrow) decoded
   * in place and freed at the next call.
   */
  private readAnnounced<T>(fn: string, decode: (bytes: Uint8Array) => T, borrow = false): T {
    if (!this.announced)
      throw new SmartModuleOutputError(
        this.name,
        fn,
        'it returned success but announced no output through copy_records',
      );
    this.refresh();
    const end = this.outPtr + this.outLen;
    // Fluvio takes an announced range outside memory as empty output (spec §2 step 5).
    let bytes: Uint8Array = EMPTY;
    if (end <= this.bytes.length && this.outLen > 0) {
      if (borrow) {
        bytes = this.bytes.subarray(this.outPtr, end);
      } else {
        // allocUnsafeSlow: an ArrayBuffer of its own (transferable), not zero-filled (slice() zero-fills first).
        bytes = new Uint8Array(Buffer.allocUnsafeSlow(this.outLen).buffer, 0, this.outLen);
        bytes.set(this.bytes.subarray(this.outPtr, end));
      }
    }
    if (borrow && this.dealloc && this.outLen > 0) {
      this.lent = [this.outPtr, this.outLen];
      this.announced = false;
    } else {
      this.releaseOutput();
    }
    try {
      return decode(bytes);
    } catch (err) {
      throw new SmartModuleOutputError(this.name, fn, (err as Error).message, err);
    }
  }

  /** Frees the guest's output buffer, which Fluvio leaks (spec §2.1). */
  private releaseOutput(): void {
    if (this.announced && this.dealloc && this.outLen > 0) this.freeGuest(this.outPtr, this.outLen);
    this.announced = false;
  }

  private freeGuest(ptr: number, len: number): void {
    try {
      this.dealloc!(ptr, len);
    } catch (err) {
      this.gone = 'was discarded after a trap';
      throw new SmartModuleTrapError(this.name, 'dealloc', undefined, trapMessage(err), err);
    }
  }
}

/** Anything a guest call throws that is not one of our own errors ends the instance (traps, stack overflow, WASI proc_exit). */
function isTrap(err: unknown): boolean {
  return !(err instanceof EddyError);
}

function trapMessage(err: unknown): string {
  const msg = (err as Error).message ?? String(err);
  if (err instanceof RangeError) return `stack overflow (${msg})`;
  return msg === 'unreachable' ? 'unreachable executed (a panic or abort in the module)' : msg;
}
