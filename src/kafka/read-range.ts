import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

/**
 * Reads one partition's committed records in [from, end) once, for what a partition needs before
 * its first batch (aggregate state from the changelog, look-back history from the source). The
 * client (kafkajs) has no consumer without a group, so a throwaway group reads it: it subscribes,
 * seeks the one partition to `from` and pauses the others. It commits no offsets, so the broker
 * forgets the group once it is empty. Records of aborted transactions and transaction markers
 * are skipped (read_committed); the read ends when the position reaches `end`.
 */
export async function readRange(
  kafka: Kafka,
  topic: string,
  partition: number,
  from: number,
  end: number,
  groupPrefix: string,
): Promise<KafkaMessage[]> {
  if (end <= from) return [];
  const consumer = kafka.consumer({
    groupId: `${groupPrefix}-read-${randomUUID()}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 100,
  });
  const out: KafkaMessage[] = [];
  /** The next offset wanted: a fetch from before the seek may overlap the one after it. */
  let next = from;
  let reached!: () => void;
  const done = new Promise<void>((r) => {
    reached = r;
  });
  // Batches of transaction markers only never reach eachBatch; this event still says how far the read got.
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    if (e.payload.partition === partition && Number(e.payload.lastOffset) >= end - 1) reached();
  });
  let failed: (err: unknown) => void = () => {};
  const crashed = new Promise<never>((_, rej) => {
    failed = rej;
  });
  consumer.on(consumer.events.CRASH, (e) => failed(e.payload.error));
  // The group holds only this consumer, so it gets every partition: all but the one wanted pause.
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const others = (e.payload.memberAssignment[topic] ?? []).filter((p) => p !== partition);
    if (others.length > 0) consumer.pause([{ topic, partitions: others }]);
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (batch.partition !== partition) return;
        for (const m of batch.messages) {
          const at = Number(m.offset);
          if (at < next || at >= end) continue;
          out.push(m);
          next = at + 1;
        }
      },
    });
    consumer.seek({ topic, partition, offset: String(from) });
    await Promise.race([done, crashed]);
  } finally {
    await consumer.disconnect().catch(() => {});
  }
  return out;
}
