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
  const raw = encodeRecords(
    messages.map((m) => ({
      key: m.key ?? null,
      value: m.value ?? new Uint8Array(0),
      offsetDelta: Number(m.offset) - baseOffset,
      timestampDelta: Number(m.timestamp) - baseTimestamp,
    })),
  );
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

/**
 * Splits messages into sends of at most `budget` bytes each (values, keys and a per-record
 * allowance for the record framing), so one transaction's output never becomes a record batch
 * larger than the broker accepts (1 MiB by default); a single larger record stays on its own.
 */
export function chunkMessages(messages: readonly Message[], budget = 512 * 1024): Message[][] {
  const chunks: Message[][] = [];
  let chunk: Message[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = 32 + (m.value ? (m.value as Buffer).length : 0) + (m.key ? (m.key as Buffer).length : 0);
    if (chunk.length > 0 && bytes + size > budget) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
