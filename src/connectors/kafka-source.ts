import { AssignerProtocol, type KafkaMessage, type PartitionAssigner } from 'kafkajs';
import { EddyError } from '../errors.js';
import { kafkaSession, topicPartitions, withAdmin } from '../kafka/client.js';
import { kafkaError } from '../kafka/errors.js';
import { encodeRecords } from '../protocol/index.js';
import type { ConnectorConfig, Params } from './config.js';
import { type ConnectorContext, ConnectorError, type ConnectorImpl } from './contract.js';
import { checkKafkaPartition, kafkaSettings, ownCredentialsError, settingsClient } from './kafka-settings.js';

/**
 * `type: kafka-source` (Fluvio's kafka-source connector): reads a Kafka topic into the Eddy topic
 * `meta.topic`, through the transforms first.
 *
 * ```yaml
 * kafka:
 *   url: localhost:9092
 *   topic: orders                  # the Kafka topic read
 *   partition: 0                   # default: every partition (Fluvio's connector reads partition 0 only)
 *   group: orders-to-eddy          # the Kafka consumer group; default the connector's name
 *   fetch-max-bytes-per-partition: 1 MiB
 *   security: …, options: …        # see kafka-settings.ts
 * ```
 * Kafka partition p goes to Eddy partition p mod (the Eddy topic's partitions), in order, keys and
 * timestamps kept (Kafka headers are not). A batch's Kafka offset is committed to the group only
 * once its records are durable in Eddy: a crash between the two re-reads that batch, so records
 * can be stored twice, never lost. Without transforms, each Kafka batch is stored as one encoded
 * batch (no record objects). A record Eddy refuses (too large, a transform's error) stops the
 * connector with the error, its offset not committed.
 */
export function kafkaSource(params: Params, config: ConnectorConfig): ConnectorImpl {
  const settings = kafkaSettings(params, config);
  const topic = params.string('topic');
  const group = params.string('group', config.name);
  const partition = params.value('partition') === undefined ? undefined : params.integer('partition', 0);
  const maxBytesPerPartition = params.bytes('fetch_max_bytes_per_partition', 1 << 20);
  if (maxBytesPerPartition < 1) throw params.error('fetch-max-bytes-per-partition', 'must be at least 1 byte');
  const { brokers } = settings;
  const where = `connector ${config.name}`;
  return {
    summary: `reading Kafka topic ${topic}${partition !== undefined ? ` partition ${partition}` : ''} at ${brokers.join(',')} (group ${group}) into topic "${config.topic}"`,
    async run(ctx) {
      try {
        await run(ctx);
      } catch (err) {
        throw ownCredentialsError(err, settings, config);
      }
    },
  };

  async function run(ctx: ConnectorContext): Promise<void> {
    const kafka = settingsClient(settings);
    const [count] = await withAdmin(kafka, brokers, (a) => topicPartitions(a, brokers, [topic]));
    checkKafkaPartition(config.name, topic, partition, count!);
    const meta = ctx.eddy.storage.topic(config.topic)!;
    const eddyPartitions = meta.partitions;
    // Encoded batches skip record objects; a transform or key deduplication needs the records.
    const encoded = ctx.transforms.length === 0 && !meta.dedup;
    const budget = Math.min(1 << 20, Math.floor(ctx.eddy.storage.limits.maxBatchBytes / 2));
    const { lingerMs = 0, batchSize, compression } = config.producer;
    const producer = await ctx.eddy.producer(config.topic, {
      lingerMs,
      // Kafka hands over whole fetches: stored (and transformed) as few batches, unless the config says otherwise.
      batchSize: batchSize ?? budget,
      ...(compression !== undefined ? { compression } : {}),
      ...(ctx.transforms.length ? { transforms: ctx.transforms } : {}),
    });

    const store = async (kafkaPartition: number, messages: KafkaMessage[]) => {
      const target = kafkaPartition % eddyPartitions;
      for (const chunk of chunks(messages, budget)) {
        if (encoded) {
          const stamps = chunk.map(timestampOf);
          const base = Math.min(...stamps);
          const raw = encodeRecords(
            chunk.map((m, i) => ({
              key: m.key ?? null,
              value: m.value ?? EMPTY,
              offsetDelta: i,
              timestampDelta: stamps[i]! - base,
            })),
          );
          await producer.sendEncoded({ raw, baseTimestamp: base, partition: target });
        } else {
          await producer.sendAll(
            chunk.map((m) => ({
              key: m.key ?? null,
              value: m.value ?? EMPTY,
              timestamp: timestampOf(m),
              partition: target,
            })),
          );
        }
        for (const m of chunk) ctx.stats.bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
        ctx.stats.records += chunk.length;
      }
    };

    let failure: EddyError | null = null;
    let failed!: () => void;
    const stopped = new Promise<void>((resolve) => {
      failed = resolve;
      if (ctx.signal.aborted) resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    const fail = (err: EddyError) => {
      failure ??= err;
      failed();
    };

    const consumer = kafka.consumer({
      groupId: group,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxBytesPerPartition,
      maxWaitTimeInMs: 500,
      // How long a connector that went silent keeps its partitions (as for kafka:// streams).
      ...kafkaSession(),
      ...(partition !== undefined ? { partitionAssigners: [onePartition(topic, partition)] } : {}),
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const mine = (e.payload.memberAssignment[topic] ?? []).slice().sort((a, b) => a - b);
      ctx.log(`joined Kafka consumer group ${group}: reading partitions [${mine.join(',')}] of ${topic}`);
    });
    consumer.on(consumer.events.CRASH, (e) => {
      const err = kafkaError(e.payload.error, brokers, where);
      // A restart rejoins the group and re-reads from the committed offsets: reported, not fatal.
      if (e.payload.restart) ctx.error(err);
      else fail(err);
    });
    try {
      try {
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: count!,
          eachBatch: async ({ batch, resolveOffset, heartbeat, pause }) => {
            if (failure || batch.messages.length === 0) return;
            if (partition !== undefined && batch.partition !== partition) return;
            try {
              await store(batch.partition, batch.messages);
            } catch (err) {
              pause();
              const why = err instanceof EddyError ? err.message : String((err as Error)?.message ?? err);
              fail(
                new ConnectorError(
                  config.name,
                  `Kafka topic ${topic} partition ${batch.partition} from offset ${batch.firstOffset()}: ${why}; not stored and not committed, so the next run reads it again`,
                  { cause: err },
                ),
              );
              return;
            }
            const last = batch.messages.at(-1)!.offset;
            // Committed only now that the records are durable in Eddy: at least once.
            await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(Number(last) + 1) }]);
            resolveOffset(last);
            await heartbeat();
          },
        });
      } catch (err) {
        throw kafkaError(err, brokers, where);
      }
      await stopped;
    } finally {
      // Waits for the batch in hand: its records are stored and its offset committed, or neither.
      await consumer.disconnect().catch(() => {});
      await producer.close();
    }
    if (failure) throw failure;
  }
}

const EMPTY = new Uint8Array(0);

/** A Kafka record's timestamp in ms (an old-format record without one gets the time it is read). */
function timestampOf(m: KafkaMessage): number {
  const t = Number(m.timestamp);
  return Number.isSafeInteger(t) && t >= 0 ? t : Date.now();
}

/** Splits messages into runs of at most `budget` bytes (a larger record alone), each stored as one batch. */
function chunks(messages: KafkaMessage[], budget: number): KafkaMessage[][] {
  const out: KafkaMessage[][] = [];
  let chunk: KafkaMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = 32 + (m.value?.length ?? 0) + (m.key?.length ?? 0);
    if (chunk.length > 0 && bytes + size > budget) {
      out.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += size;
  }
  if (chunk.length > 0) out.push(chunk);
  return out;
}

/**
 * A group assignment that gives the one configured partition to one member (the first by id) and
 * nothing to the rest: kafkajs subscribes to whole topics, and `kafka.partition` reads one.
 */
function onePartition(topic: string, partition: number): PartitionAssigner {
  return () => ({
    name: 'EddyOnePartition',
    version: 0,
    async assign({ members }) {
      const ids = members.map((m) => m.memberId).sort();
      return ids.map((memberId, i) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          assignment: i === 0 ? { [topic]: [partition] } : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name: 'EddyOnePartition',
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
      };
    },
  });
}
