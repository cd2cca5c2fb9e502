/**
 * Durable topics: an embedded, LMDB-backed partitioned log (no server), producers and consumers,
 * committed consumer offsets, and the SmartModule registry.
 *
 * ```ts
 * const store = await openStorage('./data');
 * await store.createTopic('events', { partitions: 2 });
 * const producer = store.producer('events', { lingerMs: 10 });
 * await producer.send({ key: 'user-1', value: '{"clicks":1}' });
 * for await (const r of store.consume('events', 0, { from: 'beginning' })) console.log(r.offset, r.value);
 * await store.close();
 * ```
 */

export type { BatchHeader, ProduceRecord, RawBatchInput, RecordHeader, StoredBatch } from './batch-format.js';
export {
  BATCH_FORMAT_VERSION,
  BATCH_HEADER_SIZE,
  batchChecksum,
  decodeHeaderSection,
  encodeBatches,
  encodeRawBatch,
  readBatchHeader,
  sealBatch,
  sliceBatch,
  verifyBatch,
  viewBatch,
} from './batch-format.js';
export type { Damage, PartitionCheck } from './check.js';
export type { BatchCodec } from './codecs.js';
export type { ConsumedRecord, ConsumeOptions, StartPosition } from './consumer.js';
export { Consumer } from './consumer.js';
export { type DataFileInfo, inspectDataFile } from './data-file.js';
export { DerivedStateStore } from './derived-state.js';
export * from './errors.js';
export { LOCK_FILE } from './lock.js';
export type {
  AppendEvent,
  AppendOptions,
  AppendResult,
  PreparedAppend,
  ReadOptions,
  RetentionSettings,
} from './partition.js';
export { PartitionLog } from './partition.js';
export { PartitionReader, type PartitionSource } from './partition-reader.js';
export type {
  EncodedProduceBatch,
  Partitioner,
  ProduceAck,
  ProducerOptions,
  ProducerRecord,
  ProduceTransform,
} from './producer.js';
export { Producer, siphashRoundRobin } from './producer.js';
export type { ModuleInfo, ModuleValidation, ModuleValidator } from './registry.js';
export { formatModuleTable, ModuleRegistry } from './registry.js';
export { fluvioKeyHash, partitionForKey, sipHash24 } from './siphash.js';
export type {
  CheckReport,
  CommittedOffset,
  Compression,
  PartitionInfo,
  StorageEvents,
  StorageOptions,
  TopicConfig,
  TopicDescription,
  TopicMeta,
  TopicSummary,
} from './storage.js';
export {
  DEFAULT_MAX_BATCH_BYTES,
  DEFAULT_MAX_PARTITION_BYTES,
  DEFAULT_MAX_PARTITIONS,
  DEFAULT_MAX_RECORD_BYTES,
  DEFAULT_RETENTION_MS,
  openStorage,
  Storage,
} from './storage.js';
