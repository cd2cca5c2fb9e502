/**
 * Eddy's public API: open a data directory, manage topics and SmartModules, produce, consume
 * (optionally through SmartModule chains on the worker pool), and run derived streams.
 */
export { open, Eddy, type OpenOptions, type EddyEvents, type ConsumeWithTransforms, type DerivedInfo, type SessionMetricsEntry, type RunningDerived } from './eddy.js';
export { EddyError, DecodeError, EncodeError } from './errors.js';
export { ERROR_CODES, type EddyErrorCode } from './error-codes.js';
export { once, on } from './events.js';
export type { DeriveConfig, DeriveCheckpoint } from './coordinator/derived.js';
export { DerivedStream } from './coordinator/derived.js';
export type { KafkaDerivedStream } from './kafka/derived.js';
export { WorkerPool, type PoolOptions } from './coordinator/pool.js';
export { ChainSession, type SessionOptions, type SessionResult, type SessionMetrics, type SessionModuleMetrics, type SessionState, type Ticket } from './coordinator/chain-session.js';
export { SessionTimeoutError, SessionStoppedError, PoolClosedError } from './coordinator/errors.js';
export { UnknownModuleError, resolveUses, anchorSteps, type ModuleRef, type UsesContext } from './coordinator/resolve.js';
export * from './smartmodule/index.js';
export { parseTransformsYaml, readTransformsFile, parseTransformSteps, stepConfig, type TransformStep, type ParsedStep, type StepConfig } from './smartmodule/transforms.js';
export { parseDuration } from './smartmodule/duration.js';
export * from './storage/index.js';
// Shadows storage's own openStorage: the package's validates modules with the engine.
export { openStorage } from './open-storage.js';
export { HttpAddressError, HttpListenError } from './observe/errors.js';
export type { ObserveServer } from './observe/server.js';
export type { Status, StreamStatus, PartitionStatus, ModuleStatus, ConnectorStatus, ProcessStatus, LastError } from './observe/status.js';
export { encodeRecords, decodeRecords, indexRecords, RecordIndex, type Record as WireRecord, type RecordInput } from './protocol/index.js';
