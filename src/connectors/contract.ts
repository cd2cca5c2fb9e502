import type { Eddy } from '../eddy.js';
import { EddyError } from '../errors.js';
import type { TransformStep } from '../smartmodule/transforms.js';
import type { ConnectorConfig, Params } from './config.js';

/**
 * What the runner and a connector implementation agree on: the context an implementation runs
 * with, its shape, its stats and its error. Implementations import this file, never the runner,
 * so the runner can list them without a loop.
 */

export interface ConnectorStats {
  /** Records produced (sources) or delivered (sinks). */
  records: number;
  /** Bytes of those records' values (as produced, before a producer-side transform) and keys. */
  bytes: number;
  /** Errors reported (failed requests, refused records); a fatal one also ends the connector. */
  errors: number;
  lastError: string | null;
  startedAt: number;
}

/** What a connector implementation gets. */
export interface ConnectorContext {
  eddy: Eddy;
  config: ConnectorConfig;
  params: Params;
  /** The transforms, with `uses` paths anchored at the config file. */
  transforms: TransformStep[];
  signal: AbortSignal;
  stats: ConnectorStats;
  log(line: string): void;
  /** Reports a non-fatal error (counted, logged). */
  error(err: EddyError): void;
  fetch: typeof fetch;
}

/** A connector implementation: checks its parameters when created, runs until the signal aborts. */
export interface ConnectorImpl {
  /** One line saying what it does, for the start-up log. */
  summary: string;
  run(ctx: ConnectorContext): Promise<void>;
}

export class ConnectorError extends EddyError {
  constructor(
    readonly connector: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('EDDY_CONNECTOR', `connector ${connector}: ${message}`, options);
  }
}

/** Waits `ms`, or less when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
