import { Kafka, logLevel, type Message } from 'kafkajs';

/**
 * What a Node user writes instead of an Eddy derived stream over Kafka, run as a process of its
 * own (so it gets the machine's cores on the same terms as an `eddy run` process): kafkajs
 * consumes the source in a group, optionally keeps the values containing 'a' (the filter
 * example's rule, in JS), and writes each fetched batch's records and the group's next offset in
 * one transaction (sendOffsets), with one transactional producer per source partition and the
 * consumer settings Eddy's derived stream uses. Record timestamps are kept, as Eddy keeps them.
 *
 *   node dist/bench/lib/kafkajs-loop.js BOOTSTRAP SOURCE TARGET GROUP PARTITIONS raw|filter
 *
 * Prints `joined` once the consumer joined its group; SIGTERM disconnects and exits 0.
 */

const [bootstrap, source, target, group, partitionsArg, mode] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const partitions = Number(partitionsArg);
const filter = mode === 'filter';
const kafka = new Kafka({ brokers: bootstrap.split(','), clientId: 'eddy-bench-loop', logLevel: logLevel.NOTHING });

const producers = await Promise.all(
  Array.from({ length: partitions }, async (_, p) => {
    const pr = kafka.producer({ transactionalId: `${group}-${p}`, idempotent: true, maxInFlightRequests: 1 });
    await pr.connect();
    return pr;
  }),
);
const consumer = kafka.consumer({ groupId: group, readUncommitted: false, maxWaitTimeInMs: 200 });
consumer.on(consumer.events.GROUP_JOIN, () => process.stdout.write('joined\n'));
consumer.on(consumer.events.CRASH, (e) => {
  console.error(`kafkajs-loop: ${e.payload.error.message}`);
  if (!e.payload.restart) process.exit(1);
});
await consumer.connect();
await consumer.subscribe({ topic: source, fromBeginning: true });
await consumer.run({
  autoCommit: false,
  partitionsConsumedConcurrently: partitions,
  eachBatch: async ({ batch }) => {
    const p = batch.partition;
    const out: Message[] = [];
    for (const m of batch.messages)
      if (!filter || m.value!.includes(97)) out.push({ value: m.value, timestamp: m.timestamp, partition: p });
    const tx = await producers[p]!.transaction();
    try {
      if (out.length > 0) await tx.send({ topic: target, messages: out, acks: -1 });
      await tx.sendOffsets({
        consumerGroupId: group,
        topics: [{ topic: source, partitions: [{ partition: p, offset: String(Number(batch.lastOffset()) + 1) }] }],
      });
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => {});
      throw err;
    }
  },
});
process.once('SIGTERM', () => {
  void (async () => {
    await consumer.disconnect().catch(() => {});
    await Promise.all(producers.map((pr) => pr.disconnect().catch(() => {})));
    process.exit(0);
  })();
});
