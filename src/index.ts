/**
 * Eddy's public API: open a data directory, manage topics and SmartModules, produce, consume
 * (optionally through SmartModule chains on the worker pool), and run derived streams.
 */

export {
  ChainSession,
  type SessionMetrics,
  type SessionModuleMetrics,
  type SessionOptions,
  type SessionResult,
  type SessionState,
  type Ticket,
} from './coordinator/chain-session.js';
export type { DeriveCheckpoint, DeriveConfig } from './coordinator/derived.js';
export { DerivedStream } from './coordinator/derived.js';
export { PoolClosedError, SessionStoppedError, SessionTimeoutError } from './coordinator/errors.js';
export { type PoolOptions, WorkerPool } from './coordinator/pool.js';
export {
  anchorSteps,
  type ModuleRef,
  resolveUses,
  UnknownModuleError,
  type UsesContext,
} from './coordinator/resolve.js';
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
// Shadows storage's own openStorage: the package's validates modules with the engine.
export { openStorage } from './open-storage.js';
export {
  decodeRecords,
  encodeRecords,
  indexRecords,
  type Record as WireRecord,
  RecordIndex,
  type RecordInput,
} from './protocol/index.js';
export { parseDuration } from './smartmodule/duration.js';
export * from './smartmodule/index.js';
export {
  type ParsedStep,
  parseTransformSteps,
  parseTransformsYaml,
  readTransformsFile,
  type StepConfig,
  stepConfig,
  type TransformStep,
} from './smartmodule/transforms.js';
export * from './storage/index.js';
