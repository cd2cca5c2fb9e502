import { type SmartModuleKindName, SmartModuleKindTag } from '../protocol/messages.js';
import { Chain, type ChainStep } from '../smartmodule/chain.js';
import {
  SmartModuleInitError,
  SmartModuleLookbackError,
  SmartModuleMemoryLimitError,
  SmartModuleStatusError,
} from '../smartmodule/errors.js';
import { loadModule } from '../smartmodule/module.js';
import type {
  FluvioBatch,
  FluvioBatchReply,
  FluvioFailure,
  FluvioRun,
  FluvioStep,
  HarnessOptions,
} from './fluvio-engine.js';

/**
 * The same request as the Fluvio harness takes, run through Eddy's engine (Chain, one thread), with
 * the answer in the harness's shape so the two compare field by field. Eddy's own differences
 * (it frees output buffers, its memory cap is per module) are Eddy's defaults here, not hidden.
 */
export async function runEddyChain(
  steps: readonly FluvioStep[],
  batches: readonly FluvioBatch[],
  options: EddySideOptions = {},
): Promise<FluvioRun> {
  let chain: Chain;
  try {
    chain = await createChain(steps, options);
  } catch (err) {
    return { setupFailure: asFailure(err), batches: [] };
  }
  const replies: FluvioBatchReply[] = [];
  try {
    for (const b of batches) {
      let out: ReturnType<typeof chain.process>;
      try {
        out = chain.process(b);
      } catch (err) {
        replies.push({ kind: 'failed', failure: asFailure(err) });
        break;
      }
      if (!out.error) replies.push({ kind: 'ok', raw: out.raw });
      else {
        const e = out.error;
        const kindTag = SmartModuleKindTag[e.kind as SmartModuleKindName] ?? -1;
        replies.push({
          kind: 'runtime-error',
          raw: out.raw,
          error: { hint: e.hint, offset: e.offset, kindTag, key: e.key, value: e.value },
        });
      }
    }
  } finally {
    chain.dispose();
  }
  return { setupFailure: null, batches: replies };
}

/** The harness's options, plus Eddy's own switches: output freeing (Fluvio never frees) and instance recycling. */
export interface EddySideOptions extends HarnessOptions {
  freeOutput?: boolean;
  recycleAfter?: number | false;
}

/** Loads the steps' modules and builds the chain: init of each module, then the look-back pass. */
export async function createChain(steps: readonly FluvioStep[], options: EddySideOptions = {}): Promise<Chain> {
  const chainSteps: ChainStep[] = [];
  for (const s of steps) {
    const module = await loadModule(s.wasm, {
      name: s.name,
      ...(options.memoryLimit ? { memoryLimit: options.memoryLimit } : {}),
      ...(options.recycleAfter !== undefined ? { recycleAfter: options.recycleAfter } : {}),
    });
    chainSteps.push({ module, params: s.params ?? {}, lookback: s.lookback ?? null });
  }
  const version = steps.find((s) => s.version !== undefined)?.version;
  const chain = Chain.create(chainSteps, {
    ...(version !== undefined ? { version } : {}),
    ...(options.freeOutput !== undefined ? { freeOutput: options.freeOutput } : {}),
    accumulators: steps.map((s) => s.accumulator ?? null),
  });
  try {
    chain.lookBack((_, i) => steps[i]!.history ?? EMPTY_LIST);
  } catch (err) {
    chain.dispose();
    throw err;
  }
  return chain;
}

const EMPTY_LIST = new Uint8Array(4);

/** Eddy's error classes sorted into the harness's failure kinds. */
export function asFailure(err: unknown): FluvioFailure {
  const message = (err as Error).message ?? String(err);
  if (err instanceof SmartModuleInitError) return { kind: 'init', hint: err.hint, message };
  if (err instanceof SmartModuleLookbackError)
    return { kind: 'lookback', hint: err.hint, offset: err.offset, key: err.key, value: err.value, message };
  if (err instanceof SmartModuleStatusError) {
    const kind = err.fn === 'init' ? 'init-status' : err.fn === 'look_back' ? 'lookback-status' : 'transform-status';
    return { kind, status: err.status, message };
  }
  if (err instanceof SmartModuleMemoryLimitError) return { kind: 'memory', message };
  // Load refusals, traps and the rest: Fluvio's engine reports these as plain errors too.
  return { kind: 'other', message };
}
