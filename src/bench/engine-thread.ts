import { parentPort, Worker, workerData } from 'node:worker_threads';
import type { SessionStep } from '../coordinator/chain-session.js';
import { type ModuleDescriptor, SmartModule } from '../smartmodule/module.js';
import type { BatchInput } from '../smartmodule/types.js';
import { engineRate, mainThreadChain } from './runner.js';

/**
 * The engine alone on W plain worker threads at once (no pool, no frames, no main-thread work):
 * each thread runs the chain over its own copy of the batches. Its total rate is what the
 * hardware gives W threads (the ceiling of any pipeline); the pool's rate ÷ this one isolates the
 * pipeline's own overhead from the machine's scaling.
 */

interface ThreadData {
  modules: { descriptor: ModuleDescriptor; compiled: WebAssembly.Module; params: Record<string, string> }[];
  /** One or more sets of batches; each run goes over one set. */
  sets: { baseOffset: number; baseTimestamp: number; raw: Uint8Array }[][];
}

type Msg = { op: 'run'; ms: number; set?: number } | { op: 'exit' };

if (parentPort && workerData?.eddyEngineThread) {
  const data = workerData.eddyEngineThread as ThreadData;
  const port = parentPort;
  const steps: SessionStep[] = [];
  for (const m of data.modules)
    steps.push({ module: await SmartModule.fromCompiled(m.descriptor, m.compiled), params: m.params });
  const chain = mainThreadChain(steps);
  port.on('message', (msg: Msg) => {
    if (msg.op === 'exit') {
      port.close();
      return;
    }
    port.postMessage(engineRate(chain, data.sets[msg.set ?? 0]!, msg.ms));
  });
  port.postMessage({ ready: true });
}

/** W threads, each with the chain and its own copy of the batches. */
export class EngineThreads {
  private constructor(private readonly workers: Worker[]) {}

  static async open(
    count: number,
    steps: readonly SessionStep[],
    batches: readonly BatchInput[],
  ): Promise<EngineThreads> {
    return EngineThreads.openSets(count, steps, [batches]);
  }

  /** As `open`, with several sets of batches (e.g. one per record size); `rate` names the set to run. */
  static async openSets(
    count: number,
    steps: readonly SessionStep[],
    sets: readonly (readonly BatchInput[])[],
  ): Promise<EngineThreads> {
    const data: ThreadData = {
      modules: steps.map((s) => ({
        descriptor: s.module.descriptor,
        compiled: s.module.compiled,
        params: { ...(s.params ?? {}) },
      })),
      sets: sets.map((batches) =>
        batches.map((b) => ({ baseOffset: b.baseOffset, baseTimestamp: b.baseTimestamp, raw: b.raw })),
      ),
    };
    const workers = Array.from(
      { length: count },
      () => new Worker(new URL(import.meta.url), { workerData: { eddyEngineThread: data } }),
    );
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.once('message', () => resolve());
            w.once('error', reject);
          }),
      ),
    );
    return new EngineThreads(workers);
  }

  /** Runs every thread for about `ms` at once over batch set `set`; returns the summed records/s. */
  async rate(ms: number, set = 0): Promise<number> {
    return (await this.run(ms, set)).recordsPerSec;
  }

  /** As `rate`, with the CPU time per record over all the threads (their own CPU clocks; NaN off Linux). */
  async run(ms: number, set = 0): Promise<{ recordsPerSec: number; cpuNsPerRecord: number }> {
    const results = await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<ReturnType<typeof engineRate>>((resolve) => {
            w.once('message', resolve);
            w.postMessage({ op: 'run', ms, set } satisfies Msg);
          }),
      ),
    );
    const records = results.reduce((n, r) => n + r.records, 0);
    return {
      recordsPerSec: results.reduce((n, r) => n + r.recordsPerSec, 0),
      cpuNsPerRecord: results.reduce((n, r) => n + r.threadCpuNs, 0) / records,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
