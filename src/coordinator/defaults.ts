const defaults = {
  /** Per-batch deadline (ms); past it the worker running the batch is terminated. */
  deadlineMs: 5000,
  /** Submissions a stream has outstanding at most. */
  maxInFlight: 4,
  /** Stored batches per submission to a worker: fewer, larger messages. */
  batchesPerSubmission: 16,
  /**
   * The same for a fanned-out consume: its submissions are independent, so larger ones cost no
   * ordering, and a quarter of the round trips saved ~10 % of the CPU of a 1M-record consume
   * with a cheap filter (a busy machine also wakes an idle main thread late for each one).
   */
  fanOutBatchesPerSubmission: 64,
  /** Bytes of stored batches read at once to find skipped records' values (dead letters). */
  deadLetterReadBytes: 4 << 20,
  /** How often the `metrics` event fires while it has listeners (ms). */
  metricsIntervalMs: 1000,
};
/** The coordinator's defaults, in one place: streams, consumes with transforms and derived streams read these. */
export const COORDINATOR_DEFAULTS: Readonly<typeof defaults> = Object.freeze(defaults);
