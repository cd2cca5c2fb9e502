/**
 * Eddy's public API: open a data directory, manage topics and SmartModules, produce, consume
 * (optionally through SmartModule chains on the worker pool), and run derived streams. What a
 * program embedding Eddy needs and nothing more: the engine is `eddy/smartmodule`, the record
 * encoding `eddy/protocol`, and the building blocks below the façade `eddy/internals`.
 */

export type { DeriveCheckpoint, DeriveConfig, DeriveFailure } from './coordinator/derived.js';
export { DerivedStream } from './coordinator/derived.js';
export * from './coordinator/errors.js';
export type { ConsumedBatch, RecordStream } from './coordinator/record-stream.js';
export { anchorSteps, type ModuleRef, resolveUses, type UsesContext } from './coordinator/resolve.js';
export {
  type ConsumeWithTransforms,
  type DerivedInfo,
  Eddy,
  type EddyEvents,
  type OpenOptions,
  open,
  type RunningDerived,
  type SessionMetricsEntry,
} from './eddy.js';
export { type EddyErrorCode, ERROR_CODES } from './error-codes.js';
export { DecodeError, EddyError, EncodeError } from './errors.js';
export { on, once } from './events.js';
export type { KafkaDerivedStream } from './kafka/derived.js';
export { type LogFields, type Logger, type LogLevel, quietLogger, stderrLogger } from './logger.js';
export { HttpAddressError, HttpListenError } from './observe/errors.js';
export type { ObserveServer } from './observe/server.js';
export type {
  ConnectorStatus,
  LastError,
  ModuleStatus,
  PartitionStatus,
  ProcessStatus,
  Status,
  StreamStatus,
} from './observe/status.js';
export type { ErrorPolicy } from './smartmodule/chain.js';
export { parseDuration } from './smartmodule/duration.js';
export * from './smartmodule/errors.js';
export {
  type ParsedStep,
  parseTransformSteps,
  parseTransformsYaml,
  readTransformsFile,
  type StepConfig,
  stepConfig,
  type TransformStep,
} from './smartmodule/transforms.js';
export type { Lookback, SmartModuleKind } from './smartmodule/types.js';
export type { ConsumedRecord, ConsumeOptions, Consumer, StartPosition } from './storage/consumer.js';
export * from './storage/errors.js';
export type {
  EncodedProduceBatch,
  Partitioner,
  ProduceAck,
  Producer,
  ProducerOptions,
  ProducerRecord,
} from './storage/producer.js';
export type { ModuleInfo, ModuleRegistry } from './storage/registry.js';
export type {
  CommittedOffset,
  Compression,
  PartitionInfo,
  Storage,
  StorageOptions,
  TopicConfig,
  TopicDescription,
  TopicSummary,
} from './storage/storage.js';
