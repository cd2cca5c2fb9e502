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
export type ChainOptions = Omit<InstanceOptions, 'params' | 'lookback'>;

/**
 * Several modules run as one transform, as Fluvio's chain does (spec §6.10): each module gets the
 * previous module's output records (still encoded bytes, never decoded) with the original batch's
 * base offset and timestamp; the first runtime error ends the chain with that module's output.
 */
export class Chain {
  private constructor(readonly steps: readonly ChainStep[], readonly instances: SmartModuleInstance[]) {}

  /** Instantiates each module and runs its init, in order (spec §2.3). */
  static create(steps: readonly ChainStep[], options: ChainOptions = {}): Chain {
    const instances: SmartModuleInstance[] = [];
    try {
      for (const step of steps) {
        const stepOptions: InstanceOptions = { ...options, lookback: step.lookback ?? null };
        if (step.params) stepOptions.params = step.params;
        instances.push(step.module.instantiate(stepOptions));
      }
    } catch (err) {
      for (const i of instances) i.dispose();
      throw err;
    }
    return new Chain(steps, instances);
  }

  /**
   * The look-back pass, after every init and before the first batch (spec §6.7): for each module
   * that exports `look_back` and has a lookback, `history` gives that step's records (read from the
   * source, not through earlier modules) as a `Vec<Record>` encoding.
   */
  lookBack(history: (step: ChainStep, index: number) => Uint8Array): void {
    this.instances.forEach((inst, i) => {
      const step = this.steps[i]!;
      if (step.lookback && step.module.hasLookBack) inst.lookBack(history(step, i));
    });
  }

  /** Steps whose look_back will be called. */
  get lookBackSteps(): { step: ChainStep; index: number }[] {
    return this.steps.flatMap((step, index) => (step.lookback && step.module.hasLookBack ? [{ step, index }] : []));
  }

  process(batch: BatchInput): BatchOutput {
    let raw = batch.raw;
    let count = -1;
    for (const inst of this.instances) {
      const out = inst.process({ baseOffset: batch.baseOffset, baseTimestamp: batch.baseTimestamp, raw });
      if (out.error) return out;
      raw = out.raw;
      count = out.count;
    }
    if (count < 0) count = raw.length < 4 ? 0 : Math.max(0, new DataView(raw.buffer, raw.byteOffset, 4).getInt32(0));
    return { raw, count, error: null };
  }

  /** Accumulators of the chain's aggregate modules, by step index (for checkpoints). */
  get accumulators(): (Uint8Array | null)[] {
    return this.instances.map((i) => (i.module.kind === 'aggregate' ? i.accumulator : null));
  }

  dispose(): void {
    for (const i of this.instances) i.dispose();
  }
}
