import { indexRecords, recordListCount } from '../protocol/record.js';
import type { SmartModuleRuntimeError } from './errors.js';
import type { SmartModuleInstance } from './instance.js';
import type { SmartModule } from './module.js';
import type { BatchInput, BatchOutput, InstanceOptions, Lookback } from './types.js';

/** One step of a chain: a loaded module with its parameters and look-back. */
export interface ChainStep {
  module: SmartModule;
  params?: Record<string, string> | ReadonlyMap<string, string>;
  lookback?: Lookback | null;
}

/** Options shared by every instance of the chain (params and lookback come from the step). */
export type ChainOptions = Omit<InstanceOptions, 'params' | 'lookback'> & {
  /** Per-step initial accumulators (restoring a checkpoint); overrides `initialAccumulator`. */
  accumulators?: readonly (Uint8Array | null)[];
};

/** What a runtime error does to the rest of a batch: Fluvio stops; `skip` drops the record and goes on. */
export type ErrorPolicy = 'stop' | 'skip';

/** Counters per module, for metrics. Times are milliseconds spent inside the module's calls. */
export interface ModuleMetrics {
  module: string;
  invocations: number;
  recordsIn: number;
  recordsOut: number;
  bytesIn: number;
  bytesOut: number;
  errors: number;
  timeMs: number;
  accumulatorBytes: number;
  /** Largest linear memory of the module's instances so far. */
  memoryBytes: number;
  /** Instances replaced by fresh ones after their kept outputs grew past the module's `recycleAfter`. */
  recycles: number;
}

/** A chain's output; with the `skip` policy `skipped` lists the runtime errors that were stepped over. */
export interface ChainOutput extends BatchOutput {
  skipped: SmartModuleRuntimeError[];
}

/**
 * Several modules run as one transform, as Fluvio's chain does (spec §6.10): each module gets the
 * previous module's output records (still encoded bytes, never decoded) with the original batch's
 * base offset and timestamp; the first runtime error ends the chain with that module's output.
 */
export class Chain {
  readonly metrics: ModuleMetrics[];
  /** Where the index of the step being called is stored (a watchdog slot's cell; see reportStepTo). */
  private stepCell: Int32Array = new Int32Array(1);
  /** Each instance's memory once init and look-back are done (0: not taken yet); growth is measured from it. */
  private readonly baselines: number[];

  private constructor(
    readonly steps: readonly ChainStep[],
    readonly instances: SmartModuleInstance[],
    private readonly stepOptions: readonly InstanceOptions[],
    private readonly borrowFinal: boolean,
  ) {
    this.baselines = instances.map(() => 0);
    this.metrics = instances.map((i) => ({
      module: i.name,
      invocations: 0,
      recordsIn: 0,
      recordsOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      errors: 0,
      timeMs: 0,
      accumulatorBytes: i.accumulator.length,
      memoryBytes: i.memoryBytes,
      recycles: 0,
    }));
  }

  /** Instantiates each module and runs its init, in order (spec §2.3). */
  static create(steps: readonly ChainStep[], options: ChainOptions = {}): Chain {
    const { accumulators, ...shared } = options;
    const instances: SmartModuleInstance[] = [];
    const stepOptions = steps.map((step) => {
      const o: InstanceOptions = { ...shared, borrowOutput: false, lookback: step.lookback ?? null };
      if (step.params) o.params = step.params;
      return o;
    });
    try {
      steps.forEach((step, i) => {
        const acc = accumulators?.[i];
        instances.push(step.module.instantiate(acc ? { ...stepOptions[i], initialAccumulator: acc } : stepOptions[i]));
      });
    } catch (err) {
      for (const i of instances) i.dispose();
      throw err;
    }
    return new Chain(steps, instances, stepOptions, options.borrowOutput === true);
  }

  /**
   * The look-back pass, after every init and before the first batch (spec §6.7): for each module
   * that exports `look_back` and has a lookback, `history` gives that step's records (read from the
   * source, not through earlier modules) as a `Vec<Record>` encoding.
   */
  lookBack(history: (step: ChainStep, index: number) => Uint8Array): void {
    for (const { step, index } of this.lookBackSteps) this.instances[index]!.lookBack(history(step, index));
  }

  /** Steps whose look_back will be called. */
  get lookBackSteps(): { step: ChainStep; index: number }[] {
    return this.steps.flatMap((step, index) => (step.lookback && step.module.hasLookBack ? [{ step, index }] : []));
  }

  /**
   * Stores the index of each step into `cell[0]` as the chain calls it, so that whoever watches the
   * deadline (the pool, through shared memory) knows which module was running when it overran.
   */
  reportStepTo(cell: Int32Array): void {
    this.stepCell = cell;
  }

  /** Runs one batch through every module (Fluvio semantics: stop at the first runtime error). */
  process(batch: BatchInput): BatchOutput {
    this.recycleGrown();
    return this.run(batch, 0, 'stop');
  }

  /** As `process`, with a choice of what a runtime error does. */
  processWith(batch: BatchInput, policy: ErrorPolicy): ChainOutput {
    this.recycleGrown();
    return this.run(batch, 0, policy);
  }

  /**
   * Replaces each instance that keeps its outputs (Fluvio's glue leaks every one, spec §2.1) and has
   * grown past its module's `recycleAfter` by a fresh instance: init runs again with the same
   * params, the aggregate accumulator (host-held) carries over. Without it such a stream grows until
   * the memory cap stops it, and V8 collects ever more often as the memory grows. A module that
   * exports `look_back` is never replaced: it keeps state in its statics (what history told it).
   * Other statics do restart with the instance; `recycleAfter: false` keeps instances for good.
   * Runs before a batch, when no borrowed output of the last one is still being read.
   */
  private recycleGrown(): void {
    for (let i = 0; i < this.instances.length; i++) {
      const inst = this.instances[i]!;
      const limit = inst.module.descriptor.recycleAfter;
      if (limit === 0 || !inst.keepsOutputs || inst.disposed || inst.module.hasLookBack) continue;
      const used = inst.memoryBytes;
      if (this.baselines[i] === 0) this.baselines[i] = used;
      if (used - this.baselines[i]! <= limit) continue;
      this.stepCell[0] = i;
      const fresh = inst.module.instantiate({ ...this.stepOptions[i], initialAccumulator: inst.accumulator });
      inst.dispose();
      this.instances[i] = fresh;
      this.baselines[i] = fresh.memoryBytes;
      this.metrics[i]!.recycles++;
    }
  }

  private run(batch: BatchInput, from: number, policy: ErrorPolicy): ChainOutput {
    let raw = batch.raw;
    let count = recordListCount(raw);
    const skipped: SmartModuleRuntimeError[] = [];
    for (let i = from; i < this.instances.length; i++) {
      const input = { baseOffset: batch.baseOffset, baseTimestamp: batch.baseTimestamp, raw };
      const out = this.call(i, input, count);
      const rest = out.error && policy === 'skip' ? recordsAfter(raw, batch.baseOffset, out.error) : undefined;
      if (out.error && rest !== undefined) {
        // Drop the failing record and run the records after it through this module (and the rest).
        skipped.push(out.error);
        // The successes go through the later modules first: stateful modules see records in order.
        const head =
          i + 1 < this.instances.length
            ? this.run({ ...batch, raw: out.raw }, i + 1, policy)
            : { raw: out.raw, count: out.count, error: null, skipped: [] };
        // The tail calls these modules again, which frees borrowed outputs: own the head first.
        if (this.borrowFinal || i + 1 < this.instances.length) head.raw = head.raw.slice();
        const tail: ChainOutput = rest
          ? this.run({ ...batch, raw: rest }, i, policy)
          : { raw: EMPTY_LIST, count: 0, error: null, skipped: [] };
        return {
          raw: concatLists(head.raw, head.count, tail.raw, tail.count),
          count: head.count + tail.count,
          error: head.error ?? tail.error,
          skipped: [...skipped, ...head.skipped, ...tail.skipped],
        };
      }
      // An intermediate module's borrowed output becomes the chain's: own it unless borrowing is asked.
      if (out.error)
        return { ...out, raw: i < this.instances.length - 1 && !this.borrowFinal ? out.raw.slice() : out.raw, skipped };
      raw = out.raw;
      count = out.count;
    }
    return { raw, count, error: null, skipped };
  }

  private call(i: number, input: BatchInput, count: number): BatchOutput {
    const m = this.metrics[i]!;
    const inst = this.instances[i]!;
    this.stepCell[0] = i;
    const t0 = performance.now();
    let out: BatchOutput;
    try {
      // Intermediate outputs are borrowed: the next module copies them into its own memory at once.
      out = inst.process(input, i < this.instances.length - 1 || this.borrowFinal);
    } catch (err) {
      m.errors++;
      throw err;
    } finally {
      m.timeMs += performance.now() - t0;
      m.invocations++;
    }
    m.recordsIn += count;
    m.bytesIn += input.raw.length;
    m.recordsOut += out.count;
    m.bytesOut += out.raw.length;
    m.accumulatorBytes = inst.accumulator.length;
    if (inst.memoryBytes > m.memoryBytes) m.memoryBytes = inst.memoryBytes;
    if (out.error) m.errors++;
    return out;
  }

  /** Accumulators of the chain's aggregate modules, by step index (for checkpoints). */
  get accumulators(): (Uint8Array | null)[] {
    return this.instances.map((i) => (i.module.kind === 'aggregate' ? i.accumulator : null));
  }

  /** Frees a borrowed final output (with `borrowOutput`); otherwise it is freed at the next batch. */
  release(): void {
    this.instances[this.instances.length - 1]?.release();
  }

  dispose(): void {
    for (const i of this.instances) i.dispose();
  }
}

const EMPTY_LIST = new Uint8Array(4);

/**
 * The records of `raw` after the one a runtime error names (matched by absolute offset and value,
 * first match), as a new list; null when it was the last; undefined when no record matches (then
 * there is no safe place to resume and the error stops the batch as in Fluvio).
 */
function recordsAfter(
  raw: Uint8Array,
  baseOffset: number,
  error: SmartModuleRuntimeError,
): Uint8Array | null | undefined {
  const idx = indexRecords(raw);
  let at = -1;
  for (let i = 0; i < idx.count; i++) {
    if (baseOffset + idx.offsetDelta(i) === error.offset && Buffer.compare(idx.value(i), error.value) === 0) {
      at = i;
      break;
    }
  }
  if (at < 0) return undefined;
  if (at === idx.count - 1) return null;
  const start = idx.encoded(at + 1).byteOffset - raw.byteOffset;
  const body = raw.subarray(start, idx.end);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setInt32(0, idx.count - at - 1);
  out.set(body, 4);
  return out;
}

/** Joins two `Vec<Record>` encodings. */
function concatLists(a: Uint8Array, na: number, b: Uint8Array, nb: number): Uint8Array {
  if (nb === 0) return a;
  if (na === 0) return b;
  const out = new Uint8Array(a.length + b.length - 4);
  new DataView(out.buffer).setInt32(0, na + nb);
  out.set(a.subarray(4), 4);
  out.set(b.subarray(4), a.length);
  return out;
}
