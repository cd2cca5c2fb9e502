import type { KafkaMessage, Message } from 'kafkajs';
import { decodeRecords, encodeRecords } from '../protocol/index.js';
import type { BatchInput } from '../smartmodule/types.js';

/**
 * Kafka records ↔ the `Vec<Record>` bytes SmartModules read and write. Offsets and timestamps
 * become deltas against the batch's first record, as in a Fluvio batch (gaps in Kafka offsets,
 * left by transaction markers or compaction, stay gaps).
 */
export function batchInput(messages: readonly KafkaMessage[]): BatchInput {
  const baseOffset = Number(messages[0]!.offset);
  const baseTimestamp = Number(messages[0]!.timestamp);
  const raw = encodeRecords(messages.map((m) => ({
    key: m.key ?? null,
    value: m.value ?? new Uint8Array(0),
    offsetDelta: Number(m.offset) - baseOffset,
    timestampDelta: Number(m.timestamp) - baseTimestamp,
  })));
  return { baseOffset, baseTimestamp, raw };
}

/** A module's output records as Kafka messages for one partition, timestamps made absolute again. */
export function outputMessages(raw: Uint8Array, baseTimestamp: number, partition: number): Message[] {
  return decodeRecords(raw).map((r) => ({
    key: r.key === null ? null : Buffer.from(r.key),
    value: Buffer.from(r.value),
    timestamp: String(baseTimestamp + r.timestampDelta),
    partition,
  }));
}
