import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { open } from '../src/eddy.js';
import { wasmPath } from '../test/helpers/wasm.js';
import { startKafka, type KafkaCluster } from '../test/helpers/kafka.js';
import { table, writeResult } from './lib/harness.js';

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
 * Rates are source records per second, wall time from start until the last offset was consumed
 * (and, for the transactional loops, committed). One run, in sequence; the broker shares the
 * machine's cores with the client, so these are this machine's numbers, not the client's ceiling.
 *
 *   node dist/bench/kafka-client.js [records]   → table on stdout, JSON in bench/results/kafka-client.json
 */

const N = Number(process.argv[2] ?? 100_000);
const PARTITIONS = 4;
const VALUE = 100;

let cluster: KafkaCluster | null = null;
// Interrupted: the broker this bench started goes too.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { void (cluster?.stop() ?? Promise.resolve()).then(() => process.exit(130)); });
const bootstrap = process.env['EDDY_KAFKA_BOOTSTRAP'] ?? (cluster = await startKafka(1)).bootstrap;
const kafka = new Kafka({ brokers: bootstrap.split(','), clientId: 'eddy-bench', logLevel: logLevel.NOTHING });

async function admin<T>(f: (a: Admin) => Promise<T>): Promise<T> {
  const a = kafka.admin();
  await a.connect();
  try { return await f(a); } finally { await a.disconnect(); }
}

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
    const messages = Array.from({ length: Math.min(CHUNK, N - i) }, (_, k) => ({ value: value(i + k), partition: (i + k) % PARTITIONS }));
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

/** Consumes `source` in a new group until N records were handled; `handle` runs per fetched batch. */
async function loop(source: string, handle: (partition: number, values: Buffer[], next: string) => Promise<void>): Promise<number> {
  const consumer: Consumer = kafka.consumer({ groupId: `g-${Math.random()}`, readUncommitted: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: source, fromBeginning: true });
  let seen = 0;
  let t0 = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => { finish = r; });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch }) => {
      if (t0 === 0) t0 = performance.now();
      await handle(batch.partition, batch.messages.map((m) => m.value!), String(Number(batch.lastOffset()) + 1));
      seen += batch.messages.length;
      if (seen >= N) finish();
    },
  });
  await done;
  const ms = performance.now() - t0;
  await consumer.disconnect();
  return (N * 1000) / ms;
}

async function plainCopy(source: string): Promise<number> {
  const target = await makeTarget();
  const p = kafka.producer();
  await p.connect();
  const r = await loop(source, async (partition, values) => { await p.send({ topic: target, messages: values.map((value) => ({ value, partition })), acks: -1 }); });
  await p.disconnect();
  return r;
}

async function transactional(source: string, filter: boolean): Promise<number> {
  const target = await makeTarget();
  const group = `tx-${Math.random()}`;
  const producers: Producer[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const pr = kafka.producer({ transactionalId: `${group}-${p}`, idempotent: true, maxInFlightRequests: 1 });
    await pr.connect();
    producers.push(pr);
  }
  const r = await loop(source, async (partition, values, next) => {
    const kept = filter ? values.filter((v) => v.includes(97)) : values;
    const tx = await producers[partition]!.transaction();
    if (kept.length > 0) await tx.send({ topic: target, messages: kept.map((value) => ({ value, partition })), acks: -1 });
    await tx.sendOffsets({ consumerGroupId: group, topics: [{ topic: source, partitions: [{ partition, offset: next }] }] });
    await tx.commit();
  });
  await Promise.all(producers.map((p) => p.disconnect()));
  return r;
}

/** Eddy's Kafka derived stream with the filter example; done when the group committed every source offset. */
async function eddyDerive(source: string): Promise<number> {
  const target = await makeTarget();
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-kafka-'));
  const eddy = await open(dir);
  const name = `bench-derive-${Math.floor(Math.random() * 1e9)}`;
  const url = (t: string) => `kafka://${bootstrap}/${t}`;
  await eddy.createDerived({ name, source: url(source), target: url(target), transforms: [{ uses: wasmPath('filter'), params: {}, lookback: null }] });
  // Timed from the first committed batch (as the loops above, from their first fetched batch), so joining the group is not counted.
  let t0 = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => { finish = r; });
  const next = new Map<string, number>();
  eddy.on('batch', (b) => {
    if (t0 === 0) t0 = performance.now();
    next.set(b.stream, b.baseOffset);
    if ([...next.values()].reduce((s, x) => s + x, 0) >= N) finish();
  });
  await eddy.startDerived(name);
  await done;
  const ms = performance.now() - t0;
  await eddy.close();
  rmSync(dir, { recursive: true, force: true });
  return (N * 1000) / ms;
}

try {
  const source = topic('src');
  const rows: [string, number][] = [];
  const measure = async (what: string, f: () => Promise<number>) => {
    const r = await f();
    console.error(`${what}: ${Math.round(r)} records/s`);
    rows.push([what, r]);
  };
  await measure('produce (acks all)', () => produceSource(source));
  await measure('consume+produce', () => plainCopy(source));
  await measure('consume+produce+tx (sendOffsets per batch)', () => transactional(source, false));
  await measure('consume→JS filter→produce+tx', () => transactional(source, true));
  await measure('eddy derive (filter example, kafka→kafka)', () => eddyDerive(source));
  console.log(`kafkajs ${(await import('kafkajs/package.json', { with: { type: 'json' } })).default.version}, ${N} records of ${VALUE} B, ${PARTITIONS} partitions, broker ${cluster ? 'scripts/kafka.sh (Kafka 3.9.1, 1 node)' : bootstrap}`);
  console.log(table([['loop', 'records/s'], ...rows.map(([w, r]) => [w, Math.round(r)])]));
  writeResult('kafka-client', { client: 'kafkajs', records: N, partitions: PARTITIONS, value_bytes: VALUE, rates: Object.fromEntries(rows) });
} finally {
  await cluster?.stop();
}
