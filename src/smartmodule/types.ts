import type { Lookback, SmartModuleKind } from '../protocol/messages.js';

export type { Lookback, SmartModuleKind };

/** Where a module's WASI stdout/stderr lines go (the sandbox gives it no real file descriptors). */
export type ModuleLogger = (stream: 'stdout' | 'stderr', line: string, module: string) => void;

/**
 * What a module may touch. By default nothing: no preopened directories, no environment, no
 * arguments; stdin reads end-of-file; stdout/stderr go to the logger. Grants are explicit.
 */
export interface SandboxGrants {
  /** Guest path → host directory, exposed through WASI preopens. */
  preopens?: Record<string, string>;
  env?: Record<string, string>;
  args?: string[];
}

export interface InstanceOptions {
  /** Parameters passed to `init` (`-e key=value`, or a transforms.yaml step's `with`). */
  params?: Record<string, string> | ReadonlyMap<string, string>;
  /** Look-back settings; `look_back` is called only when this is set and the module exports it. */
  lookback?: Lookback | null;
  /**
   * Whether `init` sees the lookback in its params (Fluvio's cluster path does, `smdk test` does
   * not). Default true.
   */
  lookbackInInitParams?: boolean;
  /** Initial aggregate accumulator (`--aggregate-initial`). Default empty. */
  initialAccumulator?: Uint8Array;
  /**
   * Call `dealloc` on each output buffer after reading it (Fluvio never does: the guest heap grows
   * by every output). Default: only for modules that declare a `dealloc` that frees any length
   * (Eddy's SDK builds); `true` forces it, which traps in modules built with Rust's current std.
   */
  freeOutput?: boolean | null;
  /**
   * Return outputs as views into the module's memory instead of copies. A borrowed output is valid
   * until the next call on the instance (or `release()`); it is freed then. Saves a copy where the
   * output is consumed at once (the next module of a chain, a frame to another thread).
   */
  borrowOutput?: boolean;
  /** Protocol version sent to the module. Default 22 (spec §5.11). */
  version?: number;
  logger?: ModuleLogger;
  sandbox?: SandboxGrants;
}

/** One batch in: raw `Vec<Record>` bytes with the batch's base offset and timestamp (ms). */
export interface BatchInput {
  baseOffset: number;
  baseTimestamp: number;
  /** `Vec<Record>` encoding: i32 count then records, as stored in a batch. */
  raw: Uint8Array;
}

/** One batch out: the output records as raw `Vec<Record>` bytes (owned copy), ready for the next module. */
export interface BatchOutput {
  raw: Uint8Array;
  count: number;
  /** Set when a module's user function failed on a record; `raw` holds the successes before it. */
  error: import('./errors.js').SmartModuleRuntimeError | null;
}
