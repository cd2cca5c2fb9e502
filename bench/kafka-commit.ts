import type { Admin } from 'kafkajs';
import { kafkaClient, withAdmin } from '../src/kafka/client.js';
import { table, writeResult } from './lib/harness.js';
import { type KafkaCluster, startKafka } from './lib/kafka-cluster.js';

/**
 * bench/kafka-commit: what a Kafka derived stream pays per transaction and per moved partition,
 * against a real broker (scripts/kafka.sh, one KRaft node on 127.0.0.1; or EDDY_KAFKA_BOOTSTRAP),
 * with the client configured as Eddy configures it:
 *
 *   - producer start: connect a transactional producer with a new id and get its producer id
 *     (InitProducerId), as a process does for each partition it takes on;
 *   - takeover: the same for an id whose previous producer has a transaction open, which the
 *     broker aborts first (what fencing a cut-off or crashed owner costs);
 *   - transaction: one as Eddy writes it per fetched batch, back to back on one partition: the
 *     batch's output (RECORDS records of 100 B), the group's next offset (sendOffsets), commit;
 *     and the time of each of those three steps.
 *
 * Latencies are wall times, p50 and p99 over the repetitions, on the machine's shared cores.
 *
 *   node dist/bench/kafka-commit.js [repetitions] [records]   → table on stdout, JSON in bench/results/kafka-commit.json
 */

const REPS = Number(process.argv[2] ?? 200);
const RECORDS = Number(process.argv[3] ?? 500);
const STARTS = Math.min(REPS, 30);

let cluster: KafkaCluster | null = null;
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    void (cluster?.stop() ?? Promise.resolve()).then(() => process.exit(130));
  });
const bootstrap = process.env['EDDY_KAFKA_BOOTSTRAP'] ?? (cluster = await startKafka(1)).bootstrap;
// The client as Eddy's derived streams configure it (its retry backoff shows in the commit latency).
const kafka = kafkaClient(bootstrap.split(','), 'eddy-bench');

const admin = <T>(f: (a: Admin) => Promise<T>): Promise<T> => withAdmin(kafka, bootstrap.split(','), f);

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

const newProducer = (id: string) =>
  kafka.producer({ transactionalId: id, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });

try {
  const run = `${process.pid}`;
  const topic = `bench-commit-${run}`;
  const group = `bench-commit-${run}`;
  await admin((a) => a.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] }));
  const value = Buffer.alloc(100, 'a');
  const messages = Array.from({ length: RECORDS }, () => ({ value, partition: 0 }));

  // Fresh ids: connect + InitProducerId.
  const starts: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const p = newProducer(`bench-start-${run}-${i}`);
    const t0 = performance.now();
    await p.connect();
    starts.push(performance.now() - t0);
    await p.disconnect();
  }

  // Ids whose previous producer left a transaction open: the new one's start aborts it.
  const takeovers: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const id = `bench-takeover-${run}-${i}`;
    const old = newProducer(id);
    await old.connect();
    const tx = await old.transaction();
    await tx.send({ topic, messages: messages.slice(0, 10), acks: -1 });
    const p = newProducer(id);
    const t0 = performance.now();
    await p.connect();
    takeovers.push(performance.now() - t0);
    await Promise.all([p.disconnect(), old.disconnect().catch(() => {})]);
  }

  // One transaction per batch, as Eddy commits: output, offsets, commit.
  const producer = newProducer(`bench-commit-${run}`);
  await producer.connect();
  // Warm-up: a new broker's group coordinator answers NOT_COORDINATOR until its offsets topic loaded.
  for (let i = 0; ; i++) {
    const tx = await producer.transaction();
    try {
      await tx.send({ topic, messages: messages.slice(0, 1), acks: -1 });
      await tx.sendOffsets({
        consumerGroupId: group,
        topics: [{ topic, partitions: [{ partition: 0, offset: '0' }] }],
      });
      await tx.commit();
      break;
    } catch (err) {
      await tx.abort().catch(() => {});
      if (i >= 30) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  const commits: number[] = [];
  const phases = { send: [] as number[], offsets: [] as number[], commit: [] as number[] };
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    const tx = await producer.transaction();
    await tx.send({ topic, messages, acks: -1 });
    const t1 = performance.now();
    await tx.sendOffsets({
      consumerGroupId: group,
      topics: [{ topic, partitions: [{ partition: 0, offset: String((i + 1) * RECORDS) }] }],
    });
    const t2 = performance.now();
    await tx.commit();
    const t3 = performance.now();
    commits.push(t3 - t0);
    phases.send.push(t1 - t0);
    phases.offsets.push(t2 - t1);
    phases.commit.push(t3 - t2);
  }
  await producer.disconnect();

  const rows: [string, number[]][] = [
    ['producer start (new transactional id)', starts],
    ['takeover (id with an open transaction)', takeovers],
    [`transaction (${RECORDS} records of 100 B + offsets)`, commits],
    ['  of which: first send (AddPartitionsToTxn + Produce)', phases.send],
    ['  of which: sendOffsets', phases.offsets],
    ['  of which: commit (EndTxn)', phases.commit],
  ];
  console.log(
    `kafkajs, broker ${cluster ? 'scripts/kafka.sh (Kafka 3.9.1, 1 node)' : bootstrap}; ${REPS} commits, ${STARTS} starts`,
  );
  console.log(
    table([
      ['what', 'p50 ms', 'p99 ms', 'mean ms'],
      ...rows.map(([w, xs]) => [w, quantile(xs, 0.5), quantile(xs, 0.99), xs.reduce((s, x) => s + x, 0) / xs.length]),
    ]),
  );
  writeResult('kafka-commit', {
    records_per_commit: RECORDS,
    value_bytes: 100,
    latencies_ms: Object.fromEntries(
      rows.map(([w, xs]) => [w, { p50: quantile(xs, 0.5), p99: quantile(xs, 0.99), n: xs.length }]),
    ),
  });
} finally {
  await cluster?.stop();
}
