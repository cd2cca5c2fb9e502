const defaults = {
  retentionMs: 7 * 24 * 3600 * 1000,
  maxPartitionBytes: 100 * 1000 ** 3,
  maxRecordBytes: 1 << 20,
  maxBatchBytes: 1 << 20,
  maxPartitions: 10_000,
  /** How often time-based retention runs (ms). */
  retentionCheckMs: 60_000,
  /** Bytes one `readBatches` call (and a consumer's read) returns at most. */
  readMaxBytes: 1 << 20,
  /** Bytes read at once while collecting a look-back's last records. */
  tailReadBytes: 4 << 20,
  /** LZ4 topics: values smaller than this are stored uncompressed. */
  lz4ThresholdBytes: 256,
  /** A named consumer's auto-commit: at least this often (ms) and every this many records. */
  commitIntervalMs: 1000,
  commitRecords: 1000,
  /** Producer: batch size (bytes) and linger (ms). */
  producerBatchBytes: 16 * 1024,
  producerLingerMs: 100,
};
/**
 * Storage's defaults, in one place: options and topic settings that are not given take these.
 * Fluvio's topic defaults: retention time 7 days, max partition size 100 GB.
 */
export const STORAGE_DEFAULTS: Readonly<typeof defaults> = Object.freeze(defaults);
