import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { Producer } from 'kafkajs';
import { decodeRecords, encodeRecords } from '../../src/protocol/index.js';
import { Chain, loadModule } from '../../src/smartmodule/index.js';
import { type EddyProcess, eddyProcesses } from './eddy-process.js';
import { unique } from './kafka.js';
import { wasmPath } from './wasm.js';

/**
 * The setup the Kafka fault tests share: one source topic read by two derived streams, a
 * stateless chain (filter-map → map-double: the even numbers) and an aggregate chain
 * (filter-map → aggregate-sum: the running sum of the halves), run by `eddy run` processes on
 * several "hosts" (data directories); a producer feeding the source while faults happen; and
 * the chains applied once to what was sent, to compare the outputs with.
 */

export interface FaultStreams {
  source: string;
  /** Stream and target topic names: the stateless chain's and the aggregate's. */
  evens: { name: string; target: string };
  sums: { name: string; target: string };
}

export function faultStreams(): FaultStreams {
  return {
    source: unique('numbers'),
    evens: { name: unique('evens'), target: unique('evens-out') },
    sums: { name: unique('sums'), target: unique('sums-out') },
  };
}

/**
 * `count` hosts, each its own data directory holding both streams' definitions (so each
 * `eddy run` runs both). `env` is added to every process's environment.
 */
export async function faultHosts(
  t: ExecutionContext,
  count: number,
  s: FaultStreams,
  url: (topic: string) => string,
  env: Record<string, string> = {},
): Promise<{ run(): EddyProcess }[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const work = mkdtempSync(join(tmpdir(), 'eddy-kafka-test-'));
      for (const m of ['filter-map', 'map-double', 'aggregate-sum']) copyFileSync(wasmPath(m), join(work, `${m}.wasm`));
      const chains = { evens: 'map-double', sums: 'aggregate-sum' } as const;
      const host = eddyProcesses(t, work, {
        ...process.env,
        EDDY_DATA_DIR: join(work, 'data'),
        EDDY_WORKERS: '1',
        ...env,
      });
      for (const k of ['evens', 'sums'] as const) {
        const file = join(work, `${k}.yaml`);
        writeFileSync(file, `transforms:\n  - uses: filter-map.wasm\n  - uses: ${chains[k]}.wasm\n`);
        const { name, target } = s[k];
        await host.ok([
          'derive',
          'create',
          name,
          '--source',
          url(s.source),
          '--target',
          url(target),
          '--transforms-file',
          file,
        ]);
      }
      return { run: () => host.start(['run', '--status-interval', '500ms']) };
    }),
  );
}

/** The partitions process `p` said it owns of stream `name` last, or null before it said so. */
export function ownsOf(p: EddyProcess, name: string): number[] | null {
  const all = [...p.err().matchAll(new RegExp(`${name}: this process owns partitions \\[([\\d,]*)\\]`, 'g'))];
  const last = all.at(-1);
  if (!last) return null;
  return last[1] === '' ? [] : last[1]!.split(',').map(Number);
}

/**
 * Feeds every one of `partitions` partitions of `topic` the same number of records, a few every
 * 40 ms, until `stop()`; `sent` holds each partition's values in order.
 */
export function feed(producer: Producer, topic: string, partitions: number) {
  const sent: string[][] = Array.from({ length: partitions }, () => []);
  let on = true;
  const running = (async () => {
    while (on) {
      const messages = [];
      for (let p = 0; p < partitions; p++)
        for (let i = 0; i < 3; i++) {
          const v = String((p * 7919 + sent[p]!.length * 13) % 1000);
          sent[p]!.push(v);
          messages.push({ partition: p, value: v });
        }
      await producer.send({ topic, messages, acks: -1 });
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  return {
    sent,
    async stop(): Promise<void> {
      on = false;
      await running;
    },
  };
}

/** Both chains applied once to each partition's values, by the engine directly: [evens, running sums]. */
export async function expectedOutputs(sent: string[][]): Promise<{ evens: string[][]; sums: string[][] }> {
  const fm = await loadModule(wasmPath('filter-map'));
  const md = await loadModule(wasmPath('map-double'));
  const apply = (steps: { module: typeof fm }[], values: string[]) => {
    const out = Chain.create(steps).process({
      baseOffset: 0,
      baseTimestamp: 0,
      raw: encodeRecords(values.map((v) => ({ value: Buffer.from(v) }))),
    });
    return decodeRecords(out.raw).map((r) => Buffer.from(r.value).toString());
  };
  return {
    evens: sent.map((vs) => apply([{ module: fm }, { module: md }], vs)),
    // aggregate-sum's output is the running sum of its input, record by record.
    sums: sent.map((vs) => {
      let sum = 0;
      return apply([{ module: fm }], vs).map((v) => String((sum += Number(v))));
    }),
  };
}
