import { parseCodec } from '../storage/codecs.js';
import type { Compression, TopicConfig } from '../storage/storage.js';
import { parseIntOption } from './common.js';
import { UsageError } from './format.js';
import { parseBytes, parseDurationOption, parseRetention } from './units.js';

/**
 * A `topic create` command line's options and the topic settings they ask for, shared by
 * `topic create` and the topic config file (`-c`), which is read into the same options.
 */

/** Why a segment size is refused, on the command line and in a config file. */
export const SEGMENT_SIZE_REASON =
  'Eddy keeps each partition in one LMDB database, not in segment files, and retention removes whole batches; leave the segment size out';

export interface TopicCreateOptions {
  partitions?: string;
  retentionTime?: string;
  maxPartitionSize?: string;
  compressionType?: string;
  replication?: string;
  segmentSize?: string;
  dedup?: boolean;
  dedupCount?: string;
  dedupAge?: string;
}

/** The topic settings a `topic create` command line asks for. */
export function topicConfig(o: TopicCreateOptions): TopicConfig {
  const config: TopicConfig = {};
  if (o.partitions !== undefined) config.partitions = parseIntOption(o.partitions, '-p/--partitions', { min: 1 });
  if (o.retentionTime !== undefined) config.retentionMs = parseRetention(o.retentionTime);
  if (o.maxPartitionSize !== undefined)
    config.maxPartitionBytes = parseBytes(o.maxPartitionSize, '--max-partition-size');
  if (o.compressionType !== undefined) {
    // Fluvio's `any` (the default: keep what the producer chose) is Eddy's `none`.
    const c = o.compressionType.toLowerCase() === 'any' ? 'none' : o.compressionType.toLowerCase();
    if (!['none', 'lz4', 'gzip', 'snappy', 'zstd'].includes(c)) {
      throw new UsageError(
        `--compression-type ${o.compressionType} is unknown: use any (or none), gzip, snappy, lz4 or zstd`,
      );
    }
    if (c === 'zstd') {
      try {
        parseCodec(c);
      } catch (err) {
        throw new UsageError(`--compression-type: ${(err as Error).message}`);
      }
    }
    config.compression = c as Compression;
  }
  if (o.segmentSize !== undefined) throw new UsageError(`--segment-size: ${SEGMENT_SIZE_REASON}`);
  if (!o.dedup && (o.dedupCount !== undefined || o.dedupAge !== undefined))
    throw new UsageError('--dedup-count and --dedup-age need --dedup');
  if (o.dedup) {
    // Fluvio's defaults: the last 5 keys, for 5 seconds.
    config.dedup = {
      count: parseIntOption(o.dedupCount ?? '5', '--dedup-count', { min: 1 }),
      ageMs: parseDurationOption(o.dedupAge ?? '5s', '--dedup-age'),
    };
  }
  if (o.replication !== undefined && parseIntOption(o.replication, '-r/--replication', { min: 1 }) !== 1) {
    throw new UsageError(
      '-r/--replication: Eddy keeps one copy of each partition in its data directory (no cluster to replicate to); leave it out or give 1',
    );
  }
  return config;
}
