import type { DeriveFailure } from '../coordinator/derived.js';

/**
 * `/api/status`: the JSON the status page renders, documented in the README. `version` changes
 * only when a field changes meaning or goes away; new fields may appear.
 */
export interface Status {
  version: 1;
  /** When this snapshot was taken (ms since the epoch). */
  time: number;
  /** Every stream this process runs has opened all its partitions (as `/readyz`). */
  ready: boolean;
  /** Streams still opening. */
  waiting: string[];
  /** No stream or connector of this process stopped on an error (as `/healthz`). */
  healthy: boolean;
  errors: { stream: string; partition: number | null; code: string; message: string }[];
  streams: StreamStatus[];
  connectors: ConnectorStatus[];
  /** Every topic as `eddy topic describe` shows it (read from the same storage call). */
  topics: TopicStatus[];
  process: ProcessStatus;
}

export interface LastError {
  code: string;
  message: string;
  partition: number | null;
  /** Source offset of the record, when one record caused it. */
  offset: number | null;
  at: number;
}

/** A stream's or a partition's progress. */
export interface Progress {
  /** running, starting, failed (stopped on an error), or not running (saved, not run by this process). */
  state: string;
  /** Source records processed (committed source offsets; `derive list`'s PROCESSED). */
  recordsIn: number;
  /** Output records written (`derive list`'s WRITTEN). */
  recordsOut: number;
  skipped: number;
  lag: number;
  /** Counted by this process since it started the stream: */
  errors: number;
  commits: number;
}

export interface StreamStatus extends Progress {
  name: string;
  source: string;
  target: string;
  policy: 'stop' | 'skip';
  deadLetterTopic: string | null;
  lastError: LastError | null;
  partitions: PartitionStatus[];
  modules: ModuleStatus[];
  /** Once a second, up to 5 minutes back: [time ms, recordsIn, recordsOut]. */
  history: [number, number, number][];
}

export interface PartitionStatus extends Progress {
  partition: number;
  /** Counted by this process since it started the stream: */
  bytesIn: number;
  bytesOut: number;
  deadlineKills: number;
  restarts: number;
  failure: DeriveFailure | null;
  /** The deadline kills above by the chain step that overran, and the restarts that followed them. */
  modules: PartitionModuleStatus[];
}

export interface PartitionModuleStatus {
  step: number;
  module: string;
  deadlineKills: number;
  restarts: number;
}

export interface ModuleStatus {
  step: number;
  module: string;
  invocations: number;
  recordsIn: number;
  recordsOut: number;
  errors: number;
  timeSeconds: number;
  /** Time in the module per input record. */
  nsPerRecord: number;
  /** Largest linear memory any of its instances reached. */
  memoryBytes: number;
  /** Instances recycled after the outputs they keep grew past `recycleAfter` (see Chain). */
  recycles: number;
  /** Workers terminated while this module overran the deadline, over all partitions. */
  deadlineKills: number;
  /** Restarts of the stream that followed those kills (policy skip). */
  restarts: number;
}

export interface ConnectorStatus {
  name: string;
  direction: 'source' | 'sink';
  summary: string;
  state: string;
  records: number;
  /** Bytes of the records' values and keys. */
  bytes: number;
  errors: number;
  lastError: string | null;
  /** Once a second: [time ms, records, errors]. */
  history: [number, number, number][];
}

export interface TopicStatus {
  name: string;
  records: number;
  bytes: number;
  partitions: {
    partition: number;
    startOffset: number;
    nextOffset: number;
    records: number;
    bytes: number;
    batches: number;
  }[];
}

export interface ProcessStatus {
  pid: number;
  uptimeSeconds: number;
  workers: number;
  /** Share of the workers' time spent in modules over the last second (0–1). */
  workerUtilization: number;
  lmdb: { mapSizeBytes: number; usedBytes: number; fill: number };
  eventLoopDelay: { p50Seconds: number; p99Seconds: number; maxSeconds: number };
}
