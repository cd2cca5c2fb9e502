import type { Admin, Kafka } from 'kafkajs';
import { encodeRecords } from '../protocol/index.js';
import type { Lookback } from '../smartmodule/types.js';
import { readRange } from './read-range.js';

/**
 * A look-back step's records read from a Kafka source partition, as Eddy reads them from its own
 * log (coordinator/lookback.ts): `last = N` → the last N committed records; `age = A` with
 * `last = N > 0` → of those, the ones not older than A; `age` alone → every record not older than
 * A (found with the broker's offset-by-timestamp lookup). They go out as one `Vec<Record>` with
 * base offset and timestamp 0, deltas counted from the first of them.
 */
export async function readKafkaLookback(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  partition: number,
  lookback: Lookback,
  groupPrefix: string,
  now = Date.now(),
): Promise<Uint8Array> {
  const ends = (await admin.fetchTopicOffsets(topic)).find((o) => o.partition === partition);
  if (!ends) return encodeRecords([]);
  const low = Number(ends.low);
  const high = Number(ends.high);
  const cutoff = lookback.ageMs != null ? now - lookback.ageMs : -Infinity;
  let from: number;
  if (lookback.last > 0) from = Math.max(low, high - lookback.last);
  else if (lookback.ageMs != null) {
    const at = (await admin.fetchTopicOffsetsByTimestamp(topic, cutoff)).find((o) => o.partition === partition);
    from = Math.max(low, Number(at?.offset ?? high));
  } else return encodeRecords([]);
  const records = (await readRange(kafka, topic, partition, from, high, groupPrefix)).filter(
    (m) => Number(m.timestamp) >= cutoff,
  );
  if (records.length === 0) return encodeRecords([]);
  const baseOffset = Number(records[0]!.offset);
  const baseTimestamp = Number(records[0]!.timestamp);
  return encodeRecords(
    records.map((m) => ({
      key: m.key ?? null,
      value: m.value ?? new Uint8Array(0),
      offsetDelta: Number(m.offset) - baseOffset,
      timestampDelta: Number(m.timestamp) - baseTimestamp,
    })),
  );
}
