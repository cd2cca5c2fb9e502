import { type Message, Partitioners } from 'kafkajs';
import type { EddyError } from '../errors.js';
import { topicPartitions, withAdmin } from '../kafka/client.js';
import { kafkaError, kafkaErrorType } from '../kafka/errors.js';
import { chunkMessages } from '../kafka/records.js';
import type { ConnectorConfig, Params } from './config.js';
import { type ConnectorContext, ConnectorError, type ConnectorImpl } from './contract.js';
import { checkKafkaPartition, kafkaSettings, ownCredentialsError, settingsClient } from './kafka-settings.js';
import { runSink } from './sink.js';

/**
 * `type: kafka-sink` (Fluvio's kafka-sink connector): writes the records of the Eddy topic
 * `meta.topic`, through the transforms, to a Kafka topic, keys and timestamps kept.
 *
 * ```yaml
 * kafka:
 *   url: localhost:9092
 *   topic: orders                  # the Kafka topic written
 *   partition: 0                   # default: Kafka's partitioner (murmur2 of the key; keyless spread)
 *   create-topic: true             # create it (1 partition) when missing; default false
 *   security: …, options: …        # see kafka-settings.ts (options also: acks, message.timeout.ms, enable.idempotence)
 * ```
 * Records are sent in batches; the connector's named consumer (meta.consumer) commits an offset
 * only after Kafka acknowledged every record before it, so a stopped or killed sink sends again
 * what was not acknowledged: at least once.
 */
export function kafkaSink(params: Params, config: ConnectorConfig): ConnectorImpl {
  const settings = kafkaSettings(params, config);
  const topic = params.string('topic');
  const partition = params.value('partition') === undefined ? undefined : params.integer('partition', 0);
  const createTopic = params.boolean('create_topic', false);
  const { brokers } = settings;
  const where = `connector ${config.name}: sending to Kafka topic ${topic}`;
  return {
    summary: `sending records of topic "${config.topic}" to Kafka topic ${topic}${partition !== undefined ? ` partition ${partition}` : ''} at ${brokers.join(',')}`,
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
    const [count] = await withAdmin(kafka, brokers, async (a) => {
      if (createTopic && !(await a.listTopics()).includes(topic)) {
        await a.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
        ctx.log(`connector ${config.name}: created Kafka topic ${topic}`);
      }
      return topicPartitions(a, brokers, [topic]);
    });
    checkKafkaPartition(config.name, topic, partition, count!);
    const { acks, timeoutMs, idempotent } = settings.producer;
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      ...(idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {}),
    });
    try {
      await producer.connect();
    } catch (err) {
      throw kafkaError(err, brokers, where);
    }

    // A failed send stops the reading side too (it may be waiting for records that never come).
    const failedSend = new AbortController();
    const signal = AbortSignal.any([ctx.signal, failedSend.signal]);
    let failure: EddyError | null = null;
    let pending: Message[] = [];
    let bytes = 0;
    let timer: NodeJS.Timeout | null = null;
    let sending: Promise<void> = Promise.resolve();
    const send = (): Promise<void> => {
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
      const batch = pending;
      pending = [];
      bytes = 0;
      sending = sending.then(async () => {
        if (failure) throw failure;
        for (const messages of chunkMessages(batch)) {
          try {
            await producer.send({
              topic,
              messages,
              ...(acks !== undefined ? { acks } : {}),
              ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}),
            });
          } catch (err) {
            failure = sendFailure(err);
            failedSend.abort();
            throw failure;
          }
        }
      });
      return sending;
    };
    const sendFailure = (err: unknown): EddyError =>
      kafkaErrorType(err) === 'MESSAGE_TOO_LARGE'
        ? new ConnectorError(
            config.name,
            `a record is larger than Kafka topic ${topic} accepts; raise the topic's max.message.bytes (and the broker's message.max.bytes) or make the records smaller; it was not delivered and will be sent again on the next run`,
            { cause: err },
          )
        : kafkaError(err, brokers, where);

    try {
      await runSink(
        { ...ctx, signal },
        {
          deliver: async (r) => {
            const m: Message = {
              key: r.key === null ? null : Buffer.from(r.key),
              value: Buffer.from(r.value),
              timestamp: String(r.timestamp),
              ...(partition !== undefined ? { partition } : {}),
            };
            pending.push(m);
            bytes += r.value.length + (r.key?.length ?? 0);
            if (pending.length >= 1000 || bytes >= 512 * 1024) await send();
            else
              timer ??= setTimeout(() => {
                send().catch(() => {}); // the failure is kept and stops the sink
              }, 20);
          },
          flush: send,
        },
      );
    } finally {
      if (timer) clearTimeout(timer);
      await producer.disconnect().catch(() => {});
    }
    if (failure) throw failure;
  }
}
