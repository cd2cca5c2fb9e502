import type { Admin } from 'kafkajs';
import type { DerivedInfo } from '../coordinator/derived.js';
import { kafkaClient, withAdmin } from './client.js';
import { kafkaEnds } from './endpoint.js';

/** One source partition's progress in a consumer group, read from the cluster. */
export interface KafkaPartitionProgress {
  partition: number;
  /** The group's committed offset (the next record to process); the partition's start when none is committed. */
  offset: number;
  /** Records between that offset and the partition's high watermark. */
  lag: number;
}

/**
 * Per source partition, how far the stream's consumer group got and how far behind the topic's
 * end it is: what `eddy derive list` and the status endpoint show for a Kafka derived stream,
 * whichever processes run its partitions. (Transaction markers count as records in the lag, as
 * in Kafka's own tools.)
 */
export async function groupProgress(admin: Admin, group: string, topic: string): Promise<KafkaPartitionProgress[]> {
  const [ends, committed] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId: group, topics: [topic] }),
  ]);
  const at = new Map((committed[0]?.partitions ?? []).map((x) => [x.partition, Number(x.offset)]));
  return ends
    .map((e) => {
      const c = at.get(e.partition);
      const offset = c !== undefined && c >= 0 ? c : Number(e.low);
      return { partition: e.partition, offset, lag: Math.max(0, Number(e.high) - offset) };
    })
    .sort((a, b) => a.partition - b.partition);
}

/** A Kafka derived stream's progress as `listDerived()` shows it for a stream this process does not run. */
export async function readKafkaProgress(config: {
  name: string;
  source: string;
  target: string;
}): Promise<DerivedInfo['partitions']> {
  const { brokers, source, clientId, security } = kafkaEnds(config.source, config.target);
  const read = await withAdmin(kafkaClient(brokers, clientId ?? `eddy-${config.name}`, security), brokers, (a) =>
    groupProgress(a, config.name, source),
  );
  return read.map((p) => ({ ...p, written: 0, skipped: 0, failure: null }));
}
