import '../smartmodule/wasm-globals.js'; // WebAssembly types for the published .d.ts
import type { ErrorPolicy } from '../smartmodule/chain.js';
import type { ModuleDescriptor } from '../smartmodule/module.js';
import type { Lookback } from '../smartmodule/types.js';
import type { PartitionSource } from '../storage/partition-reader.js';
import type { WireError } from './wire-error.js';

/**
 * The messages a worker receives from the coordinator, one per Piscina task. Control messages
 * (open/close) are structured-cloned because they carry compiled `WebAssembly.Module`s, which
 * share their code across threads; batches travel as frames (request-frame.ts) or, for stored
 * batches, as offsets the worker reads itself.
 */

export interface WireModule {
  descriptor: ModuleDescriptor;
  compiled: WebAssembly.Module;
}

export interface WireStep {
  module: number;
  params: Record<string, string>;
  lookback: Lookback | null;
}

export interface OpenTask {
  op: 'open';
  session: string;
  modules: WireModule[];
  steps: WireStep[];
  accumulators: (Uint8Array | null)[];
  /** Look-back records per step (`Vec<Record>` bytes) or null where the step has none. */
  history: (Uint8Array | null)[];
  policy: ErrorPolicy;
  /** null: free outputs where the module allows it (the engine's default). */
  freeOutput: boolean | null;
  /** The worker's watchdog slot (see watch-slot.ts), shared with the pool. */
  watch: SharedArrayBuffer;
  sessionNumber: number;
  /** How long one submission of this session may run (ms); the same for all of them, so sent once. */
  deadlineMs: number;
  /** BroadcastChannel name for the modules' stdout/stderr lines; null: the worker writes them to stderr. */
  logChannel: string | null;
  /**
   * Keep the modules' stdout/stderr lines with the call that wrote them instead (see
   * ModuleLogLine): init's in the open reply, each batch's in its result, so the coordinator can
   * print them in input order.
   */
  captureLog?: boolean;
}

/** One line a module wrote to stdout or stderr, posted from a worker to the pool's log channel. */
export interface ModuleLogLine {
  stream: 'stdout' | 'stderr';
  line: string;
  module: string;
}

/** The worker's answer to an open: init and look_back errors come back as data. */
export type OpenReply = { ok: true; log?: ModuleLogLine[] } | { ok: false; error: WireError; log?: ModuleLogLine[] };

export interface BatchTask {
  op: 'batch';
  session: string;
  frame: Uint8Array;
  /** Result-frame buffers handed back for reuse (transferred; see frame-buffers.ts). */
  recycle?: ArrayBuffer[];
}

/**
 * Text lines the worker splits into records itself (see protocol/line-records.ts): one batch of
 * `count` records from `baseOffset`. The text lives in shared memory, so it crosses no copy and a
 * resend after a worker loss has it still.
 */
export interface LinesTask {
  op: 'lines';
  session: string;
  seq: number;
  text: Uint8Array;
  baseOffset: number;
  baseTimestamp: number;
  /** Output as the values one per line (each followed by `\n`) instead of a `Vec<Record>`. */
  valueLines: boolean;
  /** Result-frame buffers handed back for reuse (transferred; see frame-buffers.ts). */
  recycle?: ArrayBuffer[];
}

/**
 * Outputs as the values one per line (each followed by `\n`) instead of a `Vec<Record>`: `raw`
 * always, `text` only for a batch whose every value prints as itself as text (see
 * protocol/value-lines.ts textLines); another batch comes back as records (WireResult.lines false).
 */
export type ValueLinesMode = 'raw' | 'text';

/** Batches the worker reads itself from LMDB: record bytes never cross the main thread. */
export interface ReadTask {
  op: 'read';
  session: string;
  seq: number;
  source: PartitionSource;
  keys: number[];
  from: number;
  /** Exclusive. */
  end: number;
  /** Outputs as lines (the print path of `eddy consume`); absent: as records. */
  valueLines?: ValueLinesMode;
  /** Result-frame buffers handed back for reuse (transferred; see frame-buffers.ts). */
  recycle?: ArrayBuffer[];
}

export interface CloseTask {
  op: 'close';
  session: string;
}

/** A no-op round trip: proves the worker has loaded. */
export interface PingTask {
  op: 'ping';
}

export type WorkerTask = OpenTask | BatchTask | LinesTask | ReadTask | CloseTask | PingTask;
