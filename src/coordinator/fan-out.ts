import { COORDINATOR_DEFAULTS } from './defaults.js';
/** What deciding fan-out needs of a step (a SessionStep has it). */
export interface StepShape {
  module: { kind: string; hasLookBack: boolean };
  lookback?: unknown;
}

/**
 * Whether a chain may fan out: with no aggregate and no look-back step, no record's output depends
 * on another record, so a partition's batches can run on every worker at once (a chain session
 * puts the results back in order). An aggregate's accumulator and a look-back's history live in
 * one instance, so such a chain keeps one worker per partition.
 */
export function isStatelessChain(steps: readonly StepShape[]): boolean {
  return steps.every((s) => s.module.kind !== 'aggregate' && !(s.lookback && s.module.hasLookBack));
}

/** Whether a session over these steps spreads over every worker: fan-out asked for (default on) and a stateless chain. */
export function fansOut(steps: readonly StepShape[], fanOut: boolean | undefined): boolean {
  return (fanOut ?? true) && isStatelessChain(steps);
}

/**
 * Submissions a fanned-out session keeps in flight over `workers` threads: about three per worker
 * (one running, one queued behind it, one result on its way back), never fewer than the default.
 */
export function fanOutInFlight(workers: number): number {
  return Math.max(COORDINATOR_DEFAULTS.maxInFlight, workers * 3);
}
