import type { Admin, KafkaMessage, Message } from 'kafkajs';
import { deadLetter, type SkippedRecord } from '../coordinator/dead-letter.js';
import { ensureTopic } from './client.js';

/**
 * Dead letters of a Kafka derived stream under policy skip. They go to a Kafka topic on the
 * stream's cluster (`<name>-dlq` unless configured), written in the same transaction as the
 * batch's output and offsets, so a skipped record is kept exactly once, as over Eddy topics. The
 * records are the same envelopes (coordinator/dead-letter.ts); source partition p writes to
 * dead-letter partition p mod (its partitions).
 */

/** The dead-letter topic's partition count, creating it (one partition) when missing. */
export function ensureDeadLetterTopic(admin: Admin, topic: string): Promise<number> {
  return ensureTopic(admin, { topic, numPartitions: 1 });
}

/** The dead-letter messages of `skipped`, their source records found among the batch's `messages`. */
export function kafkaDeadLetters(
  stream: string,
  source: { topic: string; partition: number },
  skipped: readonly SkippedRecord[],
  messages: readonly KafkaMessage[],
  partition: number,
): Message[] {
  if (skipped.length === 0) return [];
  const byOffset = new Map(messages.map((m) => [Number(m.offset), m]));
  return skipped.map((s) => {
    const m = byOffset.get(s.offset);
    const record = m
      ? { timestamp: Number(m.timestamp), key: m.key ?? null, value: m.value ?? new Uint8Array(0) }
      : null;
    const { key, value } = deadLetter(stream, source.topic, source.partition, s, record);
    return { key, value, partition };
  });
}
