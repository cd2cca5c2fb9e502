/**
 * `eddy/internals`: the building blocks under the façade — storage (partition logs, batch layout,
 * SipHash partitioning, the lock file), the worker pool and chain sessions, result frames. For
 * tools and tests; unlike the package root, these may change in any release.
 */

export {
  ChainSession,
  type LinesInput,
  type SessionMetrics,
  type SessionModuleMetrics,
  type SessionOptions,
  type SessionResult,
  type SessionState,
  type SessionStep,
  type Ticket,
} from './coordinator/chain-session.js';
export { type DeadlineKill, type PoolEvents, type PoolOptions, WorkerPool } from './coordinator/pool.js';
export { ModuleResolver } from './coordinator/resolve.js';
// Shadows storage's own openStorage: the package's validates modules with the engine.
export { openStorage } from './open-storage.js';
export { defaultLogger } from './smartmodule/sandbox.js';
export type { ModuleLogger, SandboxGrants } from './smartmodule/types.js';
export * from './storage/index.js';
export { type ResultFrame, ResultFrameWriter, readResultFrame } from './wire/result-frame.js';
