import { join } from 'node:path';
import { EngineThreads } from '../../src/bench/engine-thread.js';
import { ModuleResolver } from '../../src/coordinator/resolve.js';
import { encodeRecords } from '../../src/protocol/index.js';
import { compileCached, eddyRoot } from '../../src/sdk-build/compile.js';
import { wasmCacheDir } from '../../src/sdk-build/fixtures.js';
import type { BatchInput } from '../../src/smartmodule/types.js';

/**
 * The module-bound case of bench/kafka-pipeline: a SmartModule that costs far more per record
 * than moving the record through Kafka, so `eddy run`'s rate is set by its workers, and the same
 * module alone on 1 and on W plain threads (no pool, no Kafka) to compare it with.
 *
 * The module is the tree-reader JSON filter (bench/modules/filter-json-tree.ts: it builds every
 * value of the document before it reads `level`), over nested JSON logs of about `bytes` bytes
 * (an array of span objects grown to size); one in five has level info and is kept, the others
 * are debug and dropped, so the output side stays small.
 */

/** Builds (cached) the tree-reader JSON filter and returns its path. */
export async function treeFilterWasm(): Promise<string> {
  const entry = join(eddyRoot(), 'bench', 'modules', 'filter-json-tree.ts');
  const out = join(wasmCacheDir(), 'bench-filter-json-tree.wasm');
  await compileCached(entry, out, [entry]);
  return out;
}

/** Distinct records in the cycle (a multiple of 5, so record i's level is the same function of i). */
const CYCLE = 50;

/** Record i of the module-bound load: a nested JSON log of at least `bytes` bytes. */
export function nestedLogs(bytes: number): (i: number) => Buffer {
  const values = Array.from({ length: CYCLE }, (_, i) => {
    for (let n = 1; ; n++) {
      const s = JSON.stringify({
        level: i % 5 === 0 ? 'info' : 'debug',
        ts: 1_700_000_000_000 + i,
        message: 'GET done',
        req: { method: 'GET', path: `/api/v1/items/${i}`, headers: { accept: 'application/json' } },
        spans: Array.from({ length: n }, (_, k) => ({
          id: k,
          name: 'db',
          attrs: { rows: k * 3, ok: true, note: null },
        })),
      });
      if (Buffer.byteLength(s) >= bytes) return Buffer.from(s);
    }
  });
  return (i) => values[i % CYCLE]!;
}

/** Whether the filter keeps record i of `nestedLogs`. */
export const nestedKept = (i: number) => i % 5 === 0;

export interface ModuleAlone {
  /** Records/s of the module on one plain thread. */
  one: number;
  /** Records/s of the module on W plain threads at once, summed. */
  w: number;
  /** CPU µs per record of the module on one thread (its thread's own clock). */
  cpuUs: number;
}

/**
 * The module alone over the same records, on one thread and on W threads (each thread its own
 * copy of the batches): `measure(ms)` runs both back to back, about `ms` each.
 */
export async function moduleAlone(
  wasm: string,
  value: (i: number) => Buffer,
  W: number,
): Promise<{ measure(ms: number): Promise<ModuleAlone>; close(): Promise<void> }> {
  const steps = await new ModuleResolver(null).steps([{ uses: wasm }]);
  const batches: BatchInput[] = [];
  for (let b = 0; b < 4; b++) {
    const raw = encodeRecords(
      Array.from({ length: CYCLE }, (_, k) => ({ value: new Uint8Array(value(k)), offsetDelta: k })),
    );
    batches.push({ baseOffset: b * CYCLE, baseTimestamp: 0, raw });
  }
  const one = await EngineThreads.open(1, steps, batches);
  const many = await EngineThreads.open(W, steps, batches);
  return {
    measure: async (ms) => {
      const r = await one.run(ms);
      return { one: r.recordsPerSec, w: await many.rate(ms), cpuUs: r.cpuNsPerRecord / 1000 };
    },
    close: async () => {
      await one.close();
      await many.close();
    },
  };
}
