import type { Admin, Kafka } from 'kafkajs';
import { pack, unpack } from 'msgpackr';
import { ensureTopic } from './client.js';
import { readRange } from './read-range.js';

/**
 * Aggregate state of a Kafka derived stream: one compacted changelog topic per stream,
 * `<stream>-eddy-state`, one record per commit keyed by source topic and partition. Its value
 * is the chain's accumulators and the source offset they reach; it is written in the same
 * transaction as the output and the group's offsets, so state, output and progress never
 * disagree. Compaction keeps the latest value per key. Source partition p's state lives in
 * changelog partition p mod (its partitions). The offset of each state record also goes into the
 * metadata of the group's offset commit (same transaction), so a restore reads that one record;
 * without it (nothing committed yet with state) the restore scans the changelog partition.
 */

export interface PartitionState {
  /** The next source offset to process. */
  offset: number;
  /** Per chain step (null for steps that are not aggregates). */
  accumulators: (Uint8Array | null)[];
}

export const changelogTopic = (stream: string): string => `${stream}-eddy-state`;
export const changelogKey = (sourceTopic: string, partition: number): string => `${sourceTopic}/${partition}`;

const METADATA = 'eddy-state@';

/** The offset commit's metadata naming the state record written with it. */
export const stateMetadata = (offset: number): string => `${METADATA}${offset}`;

/** The state record's offset from an offset commit's metadata, or null when it names none. */
export function stateOffset(metadata: string | null | undefined): number | null {
  if (!metadata?.startsWith(METADATA)) return null;
  const n = Number(metadata.slice(METADATA.length));
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

export function encodeState(s: PartitionState): Buffer {
  return pack({ offset: s.offset, accumulators: s.accumulators });
}

export function decodeState(bytes: Buffer): PartitionState {
  const v = unpack(bytes) as { offset: number; accumulators: (Uint8Array | null)[] };
  // Copied out of the record's buffer: they travel to a worker thread.
  return { offset: v.offset, accumulators: v.accumulators.map((a) => (a ? new Uint8Array(a) : null)) };
}

/** The changelog's partition count, creating the topic (compacted, one partition per source partition) when missing. */
export function ensureChangelog(admin: Admin, topic: string, partitions: number): Promise<number> {
  return ensureTopic(admin, {
    topic,
    numPartitions: partitions,
    // Compaction only cleans closed segments: smaller ones than the default 1 GiB let it run.
    configEntries: [
      { name: 'cleanup.policy', value: 'compact' },
      { name: 'segment.bytes', value: String(16 << 20) },
    ],
  });
}

/**
 * The newest committed state of one source partition, or null when none was written. Called after
 * the partition's producer fenced its previous owner, so every transaction of that owner has
 * ended and its records are below the end offset read here. `at` is the state record the group's
 * committed offset names. Brokers before Kafka 3.9 (KAFKA-17507) can answer an offset fetch right
 * after fencing with the commit before the newest, while this topic, read with read_committed,
 * already holds the newest transaction's record; so the records from the named one (from the
 * start without one) to the end are read, and the last one for `key` wins.
 */
export async function restoreState(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  partition: number,
  key: string,
  groupPrefix: string,
  at: number | null,
): Promise<PartitionState | null> {
  const offsets = (await admin.fetchTopicOffsets(topic)).find((o) => o.partition === partition);
  if (!offsets) return null;
  const low = Number(offsets.low);
  const high = Number(offsets.high);
  // Only an offset the partition still has (a changelog deleted and created again has not).
  const from = at !== null && at >= low && at < high ? at : low;
  const records = await readRange(kafka, topic, partition, from, high, groupPrefix);
  const last = records.findLast((m) => m.key?.toString() === key && m.value !== null);
  return last ? decodeState(last.value!) : null;
}
