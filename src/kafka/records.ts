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

/**
 * A module's output records as Kafka messages for one partition, timestamps made absolute again.
 * Keys and values are views into `raw`, not copies: the caller keeps `raw` (does not release the
 * session's result) until the client has encoded them, i.e. until the sends resolved.
 */
export function outputMessages(raw: Uint8Array, baseTimestamp: number, partition: number): Message[] {
  const view = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return decodeRecords(raw).map((r) => ({
    key: r.key === null ? null : view(r.key),
    value: view(r.value),
    timestamp: String(baseTimestamp + r.timestampDelta),
    partition,
  }));
}

/**
 * Splits messages into sends of at most `budget` bytes each (values, keys and a per-record
 * allowance for the record framing), so one transaction's output never becomes a record batch
 * larger than the broker accepts (1 MiB by default); a single larger record stays on its own.
 * At most `count` messages go in one send as well: the client (kafkajs 2.2) groups a send's
 * messages by partition by copying the list once per message, so its cost grows with the square
 * of a send's length (a 4000-record send cost more CPU there than encoding it).
 */
export function chunkMessages(messages: readonly Message[], budget = 512 * 1024, count = 1000): Message[][] {
  const chunks: Message[][] = [];
  let chunk: Message[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = 32 + (m.value ? (m.value as Buffer).length : 0) + (m.key ? (m.key as Buffer).length : 0);
    if (chunk.length > 0 && (bytes + size > budget || chunk.length >= count)) {
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
