/**
 * Eddy's public API: open a data directory, manage topics and SmartModules, produce, consume
 * (optionally through SmartModule chains on the worker pool), and run derived streams.
 */
export { open, Eddy, type OpenOptions, type EddyEvents, type TransformInput, type ConsumeWithTransforms, type DerivedInfo, type StreamMetricsEntry } from './eddy.js';
export { EddyError, DecodeError, EncodeError } from './errors.js';
export type { DeriveConfig, DeriveCheckpoint } from './coordinator/derived.js';
export { DerivedStream } from './coordinator/derived.js';
export { WorkerPool, type PoolOptions } from './coordinator/pool.js';
export { ModuleStream, type StreamOptions, type StreamResult, type StreamMetrics, type StreamState, type Ticket } from './coordinator/stream.js';
export { StreamTimeoutError, StreamStoppedError, PoolClosedError } from './coordinator/errors.js';
export { UnknownModuleError } from './coordinator/resolve.js';
export * from './smartmodule/index.js';
export { parseTransformsYaml, readTransformsFile, parseTransformSteps, type TransformStep } from './smartmodule/transforms.js';
export { parseDuration } from './smartmodule/duration.js';
export * from './storage/index.js';
export { HttpAddressError, HttpListenError } from './observe/errors.js';
export type { ObserveServer } from './observe/server.js';
export type { Status, StreamStatus, PartitionStatus, ModuleStatus, ConnectorStatus, ProcessStatus, LastError } from './observe/status.js';
export { encodeRecords, decodeRecords, indexRecords, RecordIndex, type Record as WireRecord, type RecordInput } from './protocol/index.js';
