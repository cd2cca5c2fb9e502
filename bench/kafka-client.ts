import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { open } from '../src/eddy.js';
import { withAdmin } from '../src/kafka/client.js';
import { wasmPath } from '../src/sdk-build/fixtures.js';
import { table, writeResult } from './lib/harness.js';
import { type KafkaCluster, startKafka } from './lib/kafka-cluster.js';

/**
 * bench/kafka-client: the Kafka client's own consume+produce rate on this machine, against a real
 * broker (scripts/kafka.sh, one KRaft node on 127.0.0.1; or EDDY_KAFKA_BOOTSTRAP=host:port):
 *
 *   - produce: N records of 100 bytes into the source topic (acks all);
 *   - consume+produce: read the source in a consumer group, write every record to a target (no transactions);
 *   - consume+produce+tx: the same, one transaction per fetched batch with the group's offsets
 *     (sendOffsets) and a transactional producer per partition — the exactly-once loop;
 *   - consume→filter→produce+tx: that loop with a JS filter (keep values containing 'a');
 *   - eddy derive: Eddy's Kafka derived stream with the filter example on the worker pool.
 *
 * Rates are source records per second, wall time from the first fetched batch until the last one
 * was handled (for the transactional loops: committed). One run, in sequence; the broker shares the
 * machine's cores with the client, so these are this machine's numbers, not the client's ceiling.
 *
 * The same loops run again with the librdkafka-based @confluentinc/kafka-javascript (through its
 * KafkaJS-shaped API) when EDDY_BENCH_CONFLUENT names its installed package directory: it is not a
 * dependency of Eddy (see bench/README.md for why and how it was installed here).
 *
 *   node dist/bench/kafka-client.js [records] [eddy]   → table on stdout, JSON in bench/results/kafka-client.json
 */

const N = Number(process.argv[2] ?? 100_000);
/** `eddy`: only Eddy's derived stream (after producing the source). */
const ONLY = process.argv[3];
const PARTITIONS = 4;
const VALUE = 100;

let cluster: KafkaCluster | null = null;
// Interrupted: the broker this bench started goes too.
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    void (cluster?.stop() ?? Promise.resolve()).then(() => process.exit(130));
  });
const bootstrap = process.env['EDDY_KAFKA_BOOTSTRAP'] ?? (cluster = await startKafka(1)).bootstrap;
const kafka = new Kafka({ brokers: bootstrap.split(','), clientId: 'eddy-bench', logLevel: logLevel.NOTHING });

const admin = <T>(f: (a: Admin) => Promise<T>): Promise<T> => withAdmin(kafka, bootstrap.split(','), f);

const run = `${process.pid}`;
const topic = (what: string) => `bench-${what}-${run}`;

/** 100-byte values of one letter b–y; every second one has an 'a' somewhere, so the filter keeps half. */
function value(i: number): Buffer {
  const b = Buffer.alloc(VALUE, 98 + (i % 24)); // b..y
  if (i % 2 === 0) b[i % VALUE] = 97; // half the records contain an 'a'
  return b;
}

async function produceSource(name: string): Promise<number> {
  await admin((a) => a.createTopics({ waitForLeaders: true, topics: [{ topic: name, numPartitions: PARTITIONS }] }));
  const p = kafka.producer();
  await p.connect();
  const t0 = performance.now();
  const CHUNK = 2000;
  for (let i = 0; i < N; i += CHUNK) {
    const messages = Array.from({ length: Math.min(CHUNK, N - i) }, (_, k) => ({
      value: value(i + k),
      partition: (i + k) % PARTITIONS,
    }));
    await p.send({ topic: name, messages, acks: -1 });
  }
  const ms = performance.now() - t0;
  await p.disconnect();
  return (N * 1000) / ms;
}

async function makeTarget(): Promise<string> {
  const name = topic(`out-${Math.floor(Math.random() * 1e9)}`);
  await admin((a) => a.createTopics({ waitForLeaders: true, topics: [{ topic: name, numPartitions: PARTITIONS }] }));
  return name;
}

/** What a loop needs from a client: a producer (transactional or not) and a consumer group reading `source`. */
interface Client {
  name: string;
  version: string;
  producer(transactionalId?: string): Promise<Sender>;
  /** Reads `source` from the start in a new group (read_committed), calling `handle` per fetched batch, until N records. */
  consume(
    source: string,
    group: string,
    handle: (partition: number, values: Buffer[], next: string, consumer: unknown) => Promise<void>,
  ): Promise<number>;
}
interface Sender {
  send(topic: string, partition: number, values: Buffer[]): Promise<void>;
  /** One transaction: the values (if any) and the group's next offset of the source partition. */
  transact(
    topic: string,
    partition: number,
    values: Buffer[],
    offsets: { consumer: unknown; group: string; source: string; next: string },
  ): Promise<void>;
  close(): Promise<void>;
}

/** Runs a consumer until N records were handled; rate from its first batch. */
async function timed(
  run: (begin: () => void, handled: (n: number) => void) => Promise<() => Promise<void>>,
): Promise<number> {
  let seen = 0;
  let t0 = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => {
    finish = r;
  });
  const stop = await run(
    () => {
      if (t0 === 0) t0 = performance.now();
    },
    (n) => {
      seen += n;
      if (seen >= N) finish();
    },
  );
  await done;
  const ms = performance.now() - t0;
  await stop();
  return (N * 1000) / ms;
}

const kafkajsClient: Client = {
  name: 'kafkajs',
  version: (
    JSON.parse(readFileSync(createRequire(import.meta.url).resolve('kafkajs/package.json'), 'utf8')) as {
      version: string;
    }
  ).version,
  async producer(transactionalId) {
    const p = kafka.producer(transactionalId ? { transactionalId, idempotent: true, maxInFlightRequests: 1 } : {});
    await p.connect();
    return {
      send: async (topic, partition, values) => {
        await p.send({ topic, messages: values.map((value) => ({ value, partition })), acks: -1 });
      },
      transact: async (topic, partition, values, o) => {
        const tx = await p.transaction();
        if (values.length > 0)
          await tx.send({ topic, messages: values.map((value) => ({ value, partition })), acks: -1 });
        await tx.sendOffsets({
          consumerGroupId: o.group,
          topics: [{ topic: o.source, partitions: [{ partition, offset: o.next }] }],
        });
        await tx.commit();
      },
      close: () => p.disconnect(),
    };
  },
  consume: (source, group, handle) =>
    timed(async (begin, counted) => {
      const consumer = kafka.consumer({ groupId: group, readUncommitted: false, maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topic: source, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: PARTITIONS,
        eachBatch: async ({ batch }) => {
          begin();
          await handle(
            batch.partition,
            batch.messages.map((m) => m.value!),
            String(Number(batch.lastOffset()) + 1),
            consumer,
          );
          counted(batch.messages.length);
        },
      });
      return () => consumer.disconnect();
    }),
};

/* eslint-disable @typescript-eslint/no-explicit-any -- the optional client is loaded untyped */
/** @confluentinc/kafka-javascript from the directory EDDY_BENCH_CONFLUENT names, or null. */
function confluentClient(): Client | null {
  const dir = process.env['EDDY_BENCH_CONFLUENT'];
  if (!dir) return null;
  // biome-ignore lint/suspicious/noExplicitAny: the client under test is loaded by path, untyped
  const lib = createRequire(join(dir, 'package.json'))(dir) as any;
  const ck = new lib.KafkaJS.Kafka({
    kafkaJS: { brokers: bootstrap.split(','), clientId: 'eddy-bench', logLevel: lib.KafkaJS.logLevel.NOTHING },
  });
  return {
    name: '@confluentinc/kafka-javascript',
    version: (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version,
    async producer(transactionalId) {
      const p = ck.producer(
        transactionalId
          ? { kafkaJS: { transactionalId, idempotent: true, maxInFlightRequests: 1, acks: -1 } }
          : { kafkaJS: { acks: -1 } },
      );
      await p.connect();
      return {
        send: async (topic, partition, values) => {
          await p.send({ topic, messages: values.map((value) => ({ value, partition })) });
        },
        transact: async (topic, partition, values, o) => {
          const tx = await p.transaction();
          if (values.length > 0) await tx.send({ topic, messages: values.map((value) => ({ value, partition })) });
          // This client takes the consumer itself (its group and generation), not a group id.
          await tx.sendOffsets({
            consumer: o.consumer,
            topics: [{ topic: o.source, partitions: [{ partition, offset: o.next }] }],
          });
          await tx.commit();
        },
        close: () => p.disconnect(),
      };
    },
    consume: (source, group, handle) =>
      timed(async (begin, counted) => {
        // Batches are cut client-side (32 records by default); 2000 keeps one transaction per
        // batch comparable to kafkajs, whose batches are what one fetch returned.
        const consumer = ck.consumer({
          kafkaJS: { groupId: group, fromBeginning: true, autoCommit: false },
          'isolation.level': 'read_committed',
          'js.consumer.max.batch.size': 2000,
        });
        await consumer.connect();
        await consumer.subscribe({ topics: [source] });
        await consumer.run({
          partitionsConsumedConcurrently: PARTITIONS,
          // biome-ignore lint/suspicious/noExplicitAny: both clients' batch payloads, kafkajs-shaped
          eachBatch: async ({ batch }: any) => {
            begin();
            await handle(
              batch.partition,
              batch.messages.map((m: { value: Buffer }) => m.value),
              String(Number(batch.lastOffset()) + 1),
              consumer,
            );
            counted(batch.messages.length);
          },
        });
        return () => consumer.disconnect();
      }),
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

async function plainCopy(c: Client, source: string): Promise<number> {
  const target = await makeTarget();
  const p = await c.producer();
  const r = await c.consume(source, `g-${Math.random()}`, (partition, values) => p.send(target, partition, values));
  await p.close();
  return r;
}

async function transactional(c: Client, source: string, filter: boolean): Promise<number> {
  const target = await makeTarget();
  const group = `tx-${Math.random()}`;
  const producers: Sender[] = [];
  for (let p = 0; p < PARTITIONS; p++) producers.push(await c.producer(`${group}-${p}`));
  const r = await c.consume(source, group, (partition, values, next, consumer) =>
    producers[partition]!.transact(target, partition, filter ? values.filter((v) => v.includes(97)) : values, {
      consumer,
      group,
      source,
      next,
    }),
  );
  await Promise.all(producers.map((p) => p.close()));
  return r;
}

/** Eddy's Kafka derived stream with the filter example; done when the group committed every source offset. */
async function eddyDerive(source: string): Promise<number> {
  const target = await makeTarget();
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-kafka-'));
  const eddy = await open(dir);
  const name = `bench-derive-${Math.floor(Math.random() * 1e9)}`;
  const url = (t: string) => `kafka://${bootstrap}/${t}`;
  await eddy.createDerived({
    name,
    source: url(source),
    target: url(target),
    transforms: [{ uses: wasmPath('filter'), params: {}, lookback: null }],
  });
  // Timed from when the stream joined its group (startDerived resolves then), as the loops above from their first fetched batch.
  let t0 = 0;
  let finish!: () => void;
  let failed!: (e: Error) => void;
  const done = new Promise<void>((r, j) => {
    finish = r;
    failed = j;
  });
  eddy.on('error', ({ stream, error }) => failed(new Error(`${stream}: ${error.message}`)));
  const next = new Map<string, number>();
  eddy.on('batch', (b) => {
    next.set(b.stream, b.baseOffset);
    if ([...next.values()].reduce((s, x) => s + x, 0) >= N) finish();
  });
  await eddy.startDerived(name);
  t0 = performance.now();
  await done;
  const ms = performance.now() - t0;
  await eddy.close();
  rmSync(dir, { recursive: true, force: true });
  return (N * 1000) / ms;
}

try {
  const source = topic('src');
  const rows: [string, string, number][] = [];
  const measure = async (client: string, what: string, f: () => Promise<number>) => {
    const r = await f();
    console.error(`${client}: ${what}: ${Math.round(r)} records/s`);
    rows.push([client, what, r]);
  };
  await measure('kafkajs', 'produce (acks all)', () => produceSource(source));
  const clients = ONLY === 'eddy' ? [] : [kafkajsClient, confluentClient()].filter((c): c is Client => c !== null);
  for (const c of clients) {
    await measure(c.name, 'consume+produce', () => plainCopy(c, source));
    await measure(c.name, 'consume+produce+tx (sendOffsets per batch)', () => transactional(c, source, false));
    await measure(c.name, 'consume→JS filter→produce+tx', () => transactional(c, source, true));
  }
  await measure('eddy (kafkajs)', 'derive, filter example on the pool, kafka→kafka', () => eddyDerive(source));
  console.log(
    `${clients.map((c) => `${c.name} ${c.version}`).join(', ')}; ${N} records of ${VALUE} B, ${PARTITIONS} partitions, broker ${cluster ? 'scripts/kafka.sh (Kafka 3.9.1, 1 node)' : bootstrap}`,
  );
  console.log(table([['client', 'loop', 'records/s'], ...rows.map(([c, w, r]) => [c, w, Math.round(r)])]));
  writeResult('kafka-client', {
    clients: Object.fromEntries(clients.map((c) => [c.name, c.version])),
    records: N,
    partitions: PARTITIONS,
    value_bytes: VALUE,
    rates: rows.map(([client, loop, rate]) => ({ client, loop, rate })),
  });
} finally {
  await cluster?.stop();
}
