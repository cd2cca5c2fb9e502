import test from 'ava';
import { type Admin, Kafka, logLevel, type Producer } from 'kafkajs';
import { type KafkaCluster, kafkaUnavailable, startKafka } from '../../bench/lib/kafka-cluster.js';
import { type EddyProcess, until } from './eddy-process.js';

/**
 * One test file's real brokers: started (scripts/kafka.sh, with `options`) before its tests and
 * stopped after them. Where no broker can run, the tests are skipped saying why; in CI a missing
 * broker is a failure, not a skip. Starting a JVM broker on a busy machine can take minutes, so
 * the start has its own long timeout. `cluster()` is the running cluster, inside a test.
 */
export function kafkaSuite(nodes: 1 | 3 = 1, options: Parameters<typeof startKafka>[1] = {}) {
  const missing = process.env['CI'] ? null : kafkaUnavailable();
  if (missing) console.log(`kafka tests skipped: ${missing}`);
  let running: KafkaCluster | null = null;
  test.before(async (t) => {
    t.timeout(600_000);
    if (!missing) running = await startKafka(nodes, options);
  });
  test.after.always(async () => {
    await running?.stop();
  });
  return { kafkaTest: missing ? test.skip : test.serial, cluster: () => running! };
}

/**
 * Producer settings for a test's own writes to a source topic: idempotent, one request in flight.
 * A plain producer that retries a send whose first attempt the broker had written (a timeout on
 * a busy machine) stores those records twice, and the test's reference would then differ from
 * the source.
 */
export const sendOnce = { idempotent: true, maxInFlightRequests: 1 } as const;

/** A name no earlier test run used (topics, streams and groups outlive a test on a shared broker). */
export const unique = (prefix: string) => `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e9)}`;

/** The partitions a process says it owns, from its latest "owns partitions" line. */
export function owned(p: EddyProcess): number[] | null {
  const all = [...p.err().matchAll(/owns partitions \[([\d,]*)\]/g)];
  const last = all.at(-1);
  if (!last) return null;
  return last[1] === '' ? [] : last[1]!.split(',').map(Number);
}

/** A test's own Kafka client for a cluster: admin calls and read_committed reads of whole topics. */
export function kafkaTestClient(bootstrap: () => string) {
  const client = () =>
    new Kafka({ brokers: bootstrap().split(','), clientId: 'eddy-test', logLevel: logLevel.NOTHING });

  async function withAdmin<T>(f: (a: Admin) => Promise<T>): Promise<T> {
    const admin = client().admin();
    await admin.connect();
    try {
      return await f(admin);
    } finally {
      await admin.disconnect();
    }
  }

  /** Creates `topics`, each with `partitions` partitions, and waits for their leaders. */
  async function createTopics(partitions: number, ...topics: string[]): Promise<void> {
    await withAdmin(async (a) => {
      await a.createTopics({
        waitForLeaders: false,
        topics: topics.map((topic) => ({ topic, numPartitions: partitions })),
      });
      // Every broker of a cluster learns of new topics a moment later: until then one may not know them.
      const ready = (m: Awaited<ReturnType<Admin['fetchTopicMetadata']>> | null) =>
        !!m && m.topics.every((x) => x.partitions.length === partitions && x.partitions.every((p) => p.leader >= 0));
      const deadline = Date.now() + 60_000;
      while (!ready(await a.fetchTopicMetadata({ topics }).catch(() => null))) {
        if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leaders after 60 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    });
  }

  /** Every committed record of `topic`, per partition in offset order, once `count` of them arrived (read_committed). */
  async function readCommitted(
    topic: string,
    partitions: number,
    count: number,
  ): Promise<{ values: string[][]; lastOffset: number[] }> {
    const consumer = client().consumer({ groupId: unique('reader'), readUncommitted: false });
    const values: string[][] = Array.from({ length: partitions }, () => []);
    const lastOffset = Array.from({ length: partitions }, () => -1);
    let seen = 0;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        values[partition]!.push(message.value!.toString());
        lastOffset[partition] = Number(message.offset);
        seen++;
      },
    });
    try {
      await until(() => seen >= count, 120_000);
    } finally {
      await consumer.disconnect();
    }
    return { values, lastOffset };
  }

  /** Every committed record of `topic` per partition, read_committed, up to the end offsets it has now. */
  async function readToEnd(topic: string, partitions: number): Promise<string[][]> {
    const ends = await withAdmin((a) => a.fetchTopicOffsets(topic));
    const values: string[][] = Array.from({ length: partitions }, () => []);
    // Consumed up to (batches of only commit/abort markers count: they never reach eachMessage).
    const reached = Array.from({ length: partitions }, () => -1);
    const consumer = client().consumer({ groupId: unique('reader'), readUncommitted: false });
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      reached[e.payload.partition] = Math.max(reached[e.payload.partition]!, Number(e.payload.lastOffset));
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        values[partition]!.push(message.value!.toString());
      },
    });
    try {
      await until(() => ends.every((e) => reached[e.partition]! >= Number(e.high) - 1), 120_000);
    } finally {
      await consumer.disconnect();
    }
    return values;
  }

  /**
   * Waits until the group's committed offsets of `topic` reach `end` on every one of its
   * `partitions` (exactly `end`, or with `atLeast`, `end` or more).
   */
  async function committedReach(
    group: string,
    topic: string,
    partitions: number,
    end: number,
    ms: number,
    atLeast = false,
  ) {
    const deadline = Date.now() + ms;
    for (;;) {
      const committed = await withAdmin((x) => x.fetchOffsets({ groupId: group, topics: [topic] }));
      const at = committed[0]!.partitions.map((x) => Number(x.offset));
      if (at.length === partitions && at.every((o) => o === end || (atLeast && o > end))) return;
      if (Date.now() > deadline)
        throw new Error(`committed source offsets ${JSON.stringify(at)}; expected ${end} each`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Waits until the group's committed offsets of `topic` reach the topic's end offsets (read now) on every partition. */
  async function committedAtEnd(group: string, topic: string, ms: number) {
    const ends = await withAdmin((x) => x.fetchTopicOffsets(topic));
    const deadline = Date.now() + ms;
    for (;;) {
      const committed = await withAdmin((x) => x.fetchOffsets({ groupId: group, topics: [topic] }));
      const at = new Map(committed[0]!.partitions.map((x) => [x.partition, Number(x.offset)]));
      if (ends.every((e) => at.get(e.partition) === Number(e.high))) return;
      if (Date.now() > deadline)
        throw new Error(
          `committed source offsets ${JSON.stringify([...at])}; expected the end offsets ${JSON.stringify(ends.map((e) => [e.partition, Number(e.high)]))}`,
        );
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  return { client, withAdmin, createTopics, readCommitted, readToEnd, committedReach, committedAtEnd };
}

/** `eddy derive create` of a stream from `source` to `target` (endpoints) through a transforms file. */
export const deriveCreate = (name: string, source: string, target: string, transforms: string): string[] => [
  'derive',
  'create',
  name,
  '--source',
  source,
  '--target',
  target,
  '--transforms-file',
  transforms,
];

/**
 * Rounds of numbers into every partition of `topic`: each call sends `perRound` values to each
 * partition (seeded by partition and position, 0–999 as text); `sent[p]` is what partition p got.
 */
export function numberRounds(producer: Producer, topic: string, partitions: number, perRound: number) {
  const sent: string[][] = Array.from({ length: partitions }, () => []);
  const produceRound = async () => {
    const messages = [];
    for (let p = 0; p < partitions; p++) {
      for (let i = 0; i < perRound; i++) {
        const v = String((p * 7919 + sent[p]!.length * 13) % 1000);
        sent[p]!.push(v);
        messages.push({ partition: p, value: v });
      }
    }
    await producer.send({ topic, messages });
  };
  return { sent, produceRound };
}
