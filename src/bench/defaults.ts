const defaults = {
  records: 100_000,
  recordSize: 100,
  /** Records per batch. */
  batchSize: 1000,
  /** Time budget per measured configuration (ms). */
  durationMs: 2000,
  /** Stop repeating once the last rounds' spread is at most this. */
  maxSpread: 0.05,
};
/** `eddy bench`'s defaults, in one place (the CLI's options and help read them). */
export const BENCH_DEFAULTS: Readonly<typeof defaults> = Object.freeze(defaults);
