const defaults = {
  /** Memory cap of each SmartModule instance (bytes), as Fluvio's. */
  memoryLimitBytes: 1_000_000_000,
  /**
   * Growth (bytes) past which an instance that keeps its outputs is replaced by a fresh one between
   * batches. Past ~64 MiB of leaked outputs V8's collector runs often enough to double a Rust
   * module's cost per record; 32 MiB keeps recycles rare (one per ~32 MB of output).
   */
  recycleAfterBytes: 32 * 1024 * 1024,
};
/** The engine's defaults, in one place. */
export const SMARTMODULE_DEFAULTS: Readonly<typeof defaults> = Object.freeze(defaults);
